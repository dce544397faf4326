"""SSM beside the tenant files: the drift between them, and one tenant's part written by hand.

``tenant-authz ssm diff`` renders what Terraform would write from the tenant directory
(documents and change index, as ``validate`` does) and compares it with what SSM holds:
the drift an emergency write leaves stays visible until the file is committed and
applied. ``tenant-authz ssm push --tenant T`` and ``tenant-authz keys revoke`` write one
tenant's part of each of its account documents, leaving every other tenant's part as SSM
has it, then the shard markers and group roots the warm instances watch (decision 0019),
in Terraform's order: documents, markers, roots. The bytes are Terraform's, so once the
file says the same, the next apply has nothing to change.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..runtime.index import (
    LAYOUT,
    InvalidIndex,
    Layout,
    account_parameter,
    content_hash,
    group_of,
    parse_layout,
    root_parameter,
    shard_of,
    shard_parameter,
)
from .documents import (
    embedded_tenant_json,
    render_account_document,
    render_index,
    render_json,
    render_marker,
    render_root,
)


class SyncError(Exception):
    """Something the command cannot do; the message is one sentence with the fix."""


@dataclass(frozen=True)
class Difference:
    """One parameter that is not what the tenant files say."""

    name: str  # under the prefix: accounts/111122223333, index/root-00, ...
    kind: str  # "missing" (not in SSM), "extra" (only in SSM), "changed"
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        head = {
            "missing": "not in SSM (apply terraform/tenants)",
            "extra": "in SSM, not in the tenant files",
            "changed": "differs",
        }[self.kind]
        return f"{self.name}: {head}" + "".join(f"\n  {d}" for d in self.details)


def _loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


class Parameters:
    """The platform's parameters in SSM, read and written through one boto3 client."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix.rstrip("/")

    def under(self, path: str) -> dict[str, str]:
        """Every parameter under ``prefix/path``, by name under the prefix."""
        found: dict[str, str] = {}
        paginator = self.client.get_paginator("get_parameters_by_path")
        for page in paginator.paginate(Path=f"{self.prefix}/{path}", Recursive=True):
            for parameter in page["Parameters"]:
                found[parameter["Name"].removeprefix(self.prefix + "/")] = parameter["Value"]
        return found

    def get(self, name: str) -> str | None:
        """One parameter's value, None when it does not exist."""
        try:
            value: str = self.client.get_parameter(Name=f"{self.prefix}/{name}")["Parameter"][
                "Value"
            ]
        except self.client.exceptions.ParameterNotFound:
            return None
        return value

    def put(self, name: str, value: str) -> None:
        """Overwrite one parameter (it exists: Terraform created it), as Terraform tiers it."""
        self.client.put_parameter(
            Name=f"{self.prefix}/{name}",
            Value=value,
            Type="String",
            Overwrite=True,
            Tier="Intelligent-Tiering",
        )

    def layout(self) -> Layout | None:
        """The index layout terraform/platform wrote; None without an index."""
        raw = self.get(LAYOUT)
        if raw is None:
            return None
        try:
            return parse_layout(raw)
        except InvalidIndex as exc:
            raise SyncError(
                f"{self.prefix}/{LAYOUT} is not a layout ({exc}): apply terraform/platform"
            ) from exc


# ---------------------------------------------------------------------- diff


def diff(documents: Mapping[str, str], ssm: Parameters) -> list[Difference]:
    """Every difference between the rendered ``documents`` (account -> value) and SSM.

    The change index is compared with what SSM's own documents imply, so a marker that
    does not name the hash of the document beside it shows up too.
    """
    held = ssm.under("accounts")
    out: list[Difference] = []
    wanted = {account_parameter(a): d for a, d in documents.items()}
    for name in sorted(wanted.keys() | held.keys()):
        if name not in held:
            out.append(Difference(name, "missing"))
        elif name not in wanted:
            out.append(Difference(name, "extra"))
        elif held[name] != wanted[name]:
            out.append(
                Difference(name, "changed", tuple(_document_details(held[name], wanted[name])))
            )
    layout = ssm.layout()
    if layout is not None:
        index = ssm.under("index")
        implied = render_index({n.removeprefix("accounts/"): v for n, v in held.items()}, layout)
        for name in sorted(implied.keys() | index.keys()):
            if name not in index and _empty_root(implied[name]):
                continue  # a group with no accounts that was never applied: no root
            if index.get(name) != implied.get(name):
                why = "does not name the content hashes of the documents in SSM"
                out.append(Difference(name, "changed", (why,)))
    return out


def _empty_root(value: str) -> bool:
    try:
        data = json.loads(value)
    except ValueError:
        return False
    return isinstance(data, dict) and "group" in data and not data.get("shards")


def _document_details(held: str, wanted: str) -> Iterable[str]:
    try:
        ssm_doc, file_doc = _loads(held), _loads(wanted)
    except ValueError:
        yield "not JSON in SSM"
        return
    for key in ("alias", "bindings"):
        if ssm_doc.get(key) != file_doc.get(key):
            held_json, file_json = render_json(ssm_doc.get(key)), render_json(file_doc.get(key))
            yield f"{key}: SSM {held_json}, files {file_json}"
    ssm_tenants, file_tenants = ssm_doc.get("tenants") or {}, file_doc.get("tenants") or {}
    for tenant in sorted(ssm_tenants.keys() | file_tenants.keys()):
        mine, theirs = ssm_tenants.get(tenant), file_tenants.get(tenant)
        if mine == theirs:
            continue
        if mine is None or theirs is None:
            yield f"tenant {tenant}: only in {'the files' if mine is None else 'SSM'}"
            continue
        for path, a, b in _leaf_differences(mine, theirs, ""):
            yield f"tenant {tenant}: {path or '(part)'}: SSM {a}, files {b}"


def _leaf_differences(a: Any, b: Any, path: str) -> Iterable[tuple[str, str, str]]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            sub = f"{path}.{key}" if path else key
            if key not in a:
                yield sub, "(none)", render_json(b[key])
            elif key not in b:
                yield sub, render_json(a[key]), "(none)"
            elif a[key] != b[key]:
                yield from _leaf_differences(a[key], b[key], sub)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                yield from _leaf_differences(x, y, f"{path}[{i}]")
    else:
        yield path, render_json(a), render_json(b)


# ---------------------------------------------------------------------- push


Part = Callable[[str, Any], str]  # (account, SSM's current part, parsed) -> the new part JSON


def push_tenant(
    tenant_doc: Mapping[str, Any],
    accounts: Sequence[str],
    ssm: Parameters,
    *,
    echo: Callable[[str], None] = lambda _: None,
) -> list[str]:
    """Write ``tenant_doc``'s part (from its file) into each of ``accounts``' documents."""
    part = embedded_tenant_json(tenant_doc)
    return rewrite_part(str(tenant_doc["tenant_id"]), accounts, ssm, lambda _a, _p: part, echo)


def rewrite_part(
    tenant_id: str,
    accounts: Sequence[str],
    ssm: Parameters,
    new_part: Part,
    echo: Callable[[str], None] = lambda _: None,
) -> list[str]:
    """Replace the tenant's part of each account document by ``new_part``; then the index.

    Every document is read and checked before the first write (a missing document or
    tenant writes nothing); other tenants' parts, the bindings and the alias stay as SSM
    has them. The shard markers and group roots of every one of the accounts are then
    brought in line with the documents SSM holds, so a run cut short by a failure is
    completed by the next. Returns the accounts whose document changed.
    """
    current: dict[str, tuple[str, Any]] = {}
    for account in accounts:
        name = account_parameter(account)
        raw = ssm.get(name)
        if raw is None:
            raise SyncError(
                f"account {account} has no document in SSM ({ssm.prefix}/{name}): onboarding "
                "is an apply of terraform/tenants, not a push"
            )
        try:
            data = _loads(raw)
            tenants = data["tenants"]
            str(data["alias"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SyncError(
                f"{ssm.prefix}/{name} is not an account document ({exc}): apply its group"
            ) from exc
        if tenant_id not in tenants:
            raise SyncError(
                f"the document of account {account} has no tenant {tenant_id}: a new binding "
                "is an apply of terraform/tenants, not a push"
            )
        current[account] = (raw, data)
    written: list[str] = []
    held: dict[str, str] = {}
    for account, (raw, data) in current.items():
        tenants = data["tenants"]
        parts = {t: render_json(v) for t, v in tenants.items()}
        parts[tenant_id] = new_part(account, tenants[tenant_id])
        document = render_account_document(
            account, str(data["alias"]), data.get("bindings") or [], parts
        )
        held[account] = document
        if document != raw:
            ssm.put(account_parameter(account), document)
            written.append(account)
            echo(f"wrote {ssm.prefix}/{account_parameter(account)}")
    _update_index(held, ssm, echo)
    return sorted(written)


def _update_index(held: Mapping[str, str], ssm: Parameters, echo: Callable[[str], None]) -> None:
    layout = ssm.layout()
    if layout is None:
        return  # no index: instances re-read each document by its TTL
    shards: dict[str, dict[str, str]] = {}
    roots: dict[int, dict[str, str] | None] = {}
    for account in held:
        shard = shard_of(account, layout.shard_count)
        group = group_of(shard, layout.groups)
        if group not in roots:
            roots[group] = _root_of(ssm, group, layout)
        if roots[group] is None or shard in shards:
            continue
        marker = ssm.get(shard_parameter(shard))
        shards[shard] = {k: str(v) for k, v in _loads(marker)["accounts"].items()} if marker else {}
    changed_roots: set[int] = set()
    for shard, hashes in sorted(shards.items()):
        before = render_marker(hashes)
        for account, document in held.items():
            if shard_of(account, layout.shard_count) == shard:
                hashes[account] = content_hash(document)
        marker = render_marker(hashes)
        group = group_of(shard, layout.groups)
        root = roots[group]
        if root is None:
            continue
        if marker != before or root.get(shard) != content_hash(marker):
            if marker != before:
                ssm.put(shard_parameter(shard), marker)
                echo(f"wrote {ssm.prefix}/{shard_parameter(shard)}")
            root[shard] = content_hash(marker)
            changed_roots.add(group)
    for group in sorted(changed_roots):
        ssm.put(root_parameter(group), render_root(group, roots[group] or {}, layout))
        echo(f"wrote {ssm.prefix}/{root_parameter(group)}")


def _root_of(ssm: Parameters, group: int, layout: Layout) -> dict[str, str] | None:
    """A group's root shards, or None when there is none of this layout: then the group's
    accounts are read by TTL, and writing a root would make it cover shards it never saw."""
    raw = ssm.get(root_parameter(group))
    if raw is None:
        return None
    try:
        data = _loads(raw)
    except ValueError:
        return None
    if data.get("groups") != layout.groups or data.get("shard_count") != layout.shard_count:
        return None
    return {k: str(v) for k, v in (data.get("shards") or {}).items()}


def revoke_part(
    part: Any, issuers: Sequence[str] | None, kids: Sequence[str], issued_before: str | None
) -> tuple[str, dict[str, Any]]:
    """SSM's part of a tenant with the revocation added to ``issuers`` (None: every one).

    Kids are added to what is revoked already; an instant replaces the one in force only
    when later. Returns the new part's JSON and the revocation per issuer (for the lines
    to commit).
    """
    revoked: dict[str, Any] = {}
    for entry in part.get("issuers") or []:
        name = str(entry.get("issuer"))
        if issuers is not None and name not in issuers:
            continue
        if entry.get("hmac_secret_parameter") is not None and not issued_before:
            continue  # a kid means nothing to an HS issuer
        revocation = dict(entry.get("revocation") or {})
        if kids and entry.get("hmac_secret_parameter") is None:
            revocation["kids"] = list(dict.fromkeys([*(revocation.get("kids") or []), *kids]))
        if issued_before is not None:
            held = revocation.get("issued_before")
            if held is None or _instant(issued_before) > _instant(str(held)):
                revocation["issued_before"] = issued_before
        entry["revocation"] = revocation
        revoked[name] = revocation
    return render_json(part), revoked


def remove_api_keys(part: Any, ids: Sequence[str]) -> list[str]:
    """Drop the API keys with ``ids`` from SSM's part of a tenant; the ids it held."""
    held = part.get("api_keys") or []
    removed = [str(k.get("id")) for k in held if k.get("id") in ids]
    remaining = [k for k in held if k.get("id") not in ids]
    if remaining:
        part["api_keys"] = remaining
    else:
        part.pop("api_keys", None)
    return removed


def _instant(text: str) -> float:
    from datetime import datetime  # noqa: PLC0415

    return datetime.fromisoformat(text).timestamp()
