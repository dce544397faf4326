"""The change index: how a warm instance learns, in one read, which documents changed.

Written by Terraform (``docs/decisions/0019-change-index.md``, ``0020``):

* the **layout**, ``{prefix}/index/layout``, by the platform root: how accounts are
  sharded and grouped, ``{"groups":8,"shard_count":128,"version":1}``;
* per tenant group (a workspace of the tenants root, decision 0020), after the account
  documents it writes: one **shard marker** per non-empty shard of the group,
  ``{prefix}/index/shard-NNN``, the accounts whose id hashes to the shard
  (``sha256(account)[:8] % shard_count``) with the content hash of each document,
  ``{"accounts":{"111122223333":"ab12cd34ef56"},"version":1}``; then the group's **root**,
  ``{prefix}/index/root-GG``, the content hash of each of its markers,
  ``{"group":3,"groups":8,"shard_count":128,"shards":{"shard-011":"0f1e2d3c4b5a"},"version":1}``
  (a root built for another layout covers nothing). Shard ``n`` belongs
  to group ``n % groups``.

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

LAYOUT: Final = "index/layout"
DEFAULT_SHARD_COUNT: Final = 128
DEFAULT_GROUPS: Final = 8
MAX_SHARD_COUNT: Final = 256  # a group's root lists its shards' hashes within 8 KB
MAX_GROUPS: Final = 9  # the layout and every root in one GetParameters call (ten names)
_HASH_RE: Final = re.compile(r"^[0-9a-f]{12}$")
_SHARD_RE: Final = re.compile(r"^shard-[0-9]{3}$")
_ACCOUNT_RE: Final = re.compile(r"^[0-9]{12}$")


class InvalidIndex(ValueError):
    """A marker that does not parse (the message names the parameter and the reason)."""


class Layout(NamedTuple):
    """How accounts are sharded (``shard_count``) and shards grouped (``groups``)."""

    groups: int
    shard_count: int


DEFAULT_LAYOUT: Final = Layout(DEFAULT_GROUPS, DEFAULT_SHARD_COUNT)


def account_parameter(account_id: str) -> str:
    """The name, under the prefix, of an account's document."""
    return f"accounts/{account_id}"


def shard_of(account_id: str, shard_count: int) -> str:
    """The shard an account belongs to, as Terraform computes it (``shard-NNN``)."""
    number = int(hashlib.sha256(account_id.encode()).hexdigest()[:8], 16) % shard_count
    return f"shard-{number:03d}"


def group_of(shard: str, groups: int) -> int:
    """The tenant group (workspace) that writes a shard's marker."""
    return int(shard.removeprefix("shard-")) % groups


def shard_parameter(shard: str) -> str:
    """The name, under the prefix, of a shard marker."""
    return f"index/{shard}"


def root_parameter(group: int) -> str:
    """The name, under the prefix, of a group's root."""
    return f"index/root-{group:02d}"


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


def parse_layout(raw: str) -> Layout:
    """The layout; :class:`InvalidIndex` when it does not parse."""
    data = _object(raw, LAYOUT)
    groups, count = data.get("groups"), data.get("shard_count")
    if type(groups) is not int or not 1 <= groups <= MAX_GROUPS:
        raise InvalidIndex(f"{LAYOUT}: groups must be a whole number, 1 to {MAX_GROUPS}")
    if type(count) is not int or not groups <= count <= MAX_SHARD_COUNT:
        raise InvalidIndex(f"{LAYOUT}: shard_count must be a whole number, groups to 256")
    return Layout(groups, count)


def parse_root(raw: str, group: int, layout: Layout) -> Mapping[str, str] | None:
    """A group's root: shard name -> content hash of its marker.

    None when the root was built for another layout (a layout change not yet applied to
    this group): its shard names mean other accounts, so it covers nothing.
    """
    name = root_parameter(group)
    data = _object(raw, name)
    shards = data.get("shards")
    if data.get("group") != group:
        raise InvalidIndex(f"{name}: group must be {group}")
    if data.get("groups") != layout.groups or data.get("shard_count") != layout.shard_count:
        return None
    if not isinstance(shards, dict) or not all(
        isinstance(k, str) and _SHARD_RE.match(k) and isinstance(v, str) and _HASH_RE.match(v)
        for k, v in shards.items()
    ):
        raise InvalidIndex(f"{name}: shards must map shard-NNN names to 12-hex hashes")
    return shards


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
