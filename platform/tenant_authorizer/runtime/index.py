"""The change index: how a warm instance learns, in one read, which documents changed.

Terraform writes, in the same apply as the account documents and after them
(``docs/decisions/0019-change-index.md``):

* one **shard marker** per non-empty shard, ``{prefix}/index/shard-NNN``: the accounts
  whose id hashes to the shard (``sha256(account)[:8] % shard_count``), each with the
  content hash of its document, ``{"accounts":{"111122223333":"ab12cd34ef56"},"version":1}``;
* then the **root**, ``{prefix}/index/root``: the shard count and the content hash of each
  shard marker, ``{"shard_count":128,"shards":{"shard-017":"0f1e2d3c4b5a"},"version":1}``.

A content hash is the first 12 hex digits of the SHA-256 of the parameter's value, so
the runtime checks what it read against what the index says without trusting either
side's clock. The parsers here are strict: a marker that does not parse is a deploy
error, treated as an unreadable index (the instance keeps what it has, then fails closed).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Final, NamedTuple

ROOT: Final = "index/root"
DEFAULT_SHARD_COUNT: Final = 128
MAX_SHARD_COUNT: Final = 256  # the root lists every shard: 256 x ~28 bytes fits in 8 KB
_HASH_RE: Final = re.compile(r"^[0-9a-f]{12}$")
_SHARD_RE: Final = re.compile(r"^shard-[0-9]{3}$")
_ACCOUNT_RE: Final = re.compile(r"^[0-9]{12}$")


class InvalidIndex(ValueError):
    """A marker that does not parse (the message names the parameter and the reason)."""


class Root(NamedTuple):
    """The root marker: how accounts are sharded, and each non-empty shard's hash."""

    shard_count: int
    shards: Mapping[str, str]  # shard name -> content hash of its marker


def account_parameter(account_id: str) -> str:
    """The name, under the prefix, of an account's document."""
    return f"accounts/{account_id}"


def shard_of(account_id: str, shard_count: int) -> str:
    """The shard an account belongs to, as Terraform computes it (``shard-NNN``)."""
    number = int(hashlib.sha256(account_id.encode()).hexdigest()[:8], 16) % shard_count
    return f"shard-{number:03d}"


def shard_parameter(shard: str) -> str:
    """The name, under the prefix, of a shard marker."""
    return f"index/{shard}"


def content_hash(value: str) -> str:
    """The 12-hex content hash the index records for a parameter's value."""
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def _object(raw: str, name: str) -> Mapping[str, object]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InvalidIndex(f"{name}: not valid JSON") from exc
    if not isinstance(data, dict) or data.get("version") != 1:
        raise InvalidIndex(f"{name}: must be a JSON object with version 1")
    return data


def parse_root(raw: str) -> Root:
    """The root marker; :class:`InvalidIndex` when it does not parse."""
    data = _object(raw, ROOT)
    count = data.get("shard_count")
    if type(count) is not int or not 1 <= count <= MAX_SHARD_COUNT:
        raise InvalidIndex(f"{ROOT}: shard_count must be a whole number, 1 to {MAX_SHARD_COUNT}")
    shards = data.get("shards")
    if not isinstance(shards, dict) or not all(
        isinstance(k, str) and _SHARD_RE.match(k) and isinstance(v, str) and _HASH_RE.match(v)
        for k, v in shards.items()
    ):
        raise InvalidIndex(f"{ROOT}: shards must map shard-NNN names to 12-hex hashes")
    return Root(count, shards)


def parse_shard(raw: str, shard: str) -> Mapping[str, str]:
    """A shard marker: account id -> content hash of its document."""
    data = _object(raw, shard_parameter(shard))
    accounts = data.get("accounts")
    if not isinstance(accounts, dict) or not all(
        isinstance(k, str) and _ACCOUNT_RE.match(k) and isinstance(v, str) and _HASH_RE.match(v)
        for k, v in accounts.items()
    ):
        raise InvalidIndex(
            f"{shard_parameter(shard)}: accounts must map 12-digit ids to 12-hex hashes"
        )
    return accounts
