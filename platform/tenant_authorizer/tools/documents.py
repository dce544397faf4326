"""Renders tenant documents into the SSM layout of ``docs/decisions/0001``.

One JSON document per tenant account, holding that account's bindings and the configs
of the tenants they name, rendered **byte for byte as Terraform renders it**
(``yamldecode`` then ``jsonencode`` in ``terraform/modules/tenant-registry``): keys sorted,
numbers in plain decimal notation, strings escaped like Go's ``encoding/json``. Validation
(the 8 KB size check), the local gateway's file source and the tests all use this one
renderer, so that each reads exactly what the runtime reads from SSM.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from ..runtime.index import (
    DEFAULT_LAYOUT,
    LAYOUT,
    Layout,
    account_parameter,
    content_hash,
    group_of,
    root_parameter,
    shard_of,
    shard_parameter,
)
from .aliases import assign

STANDARD_TIER_MAX_BYTES: Final = 4096
ADVANCED_TIER_MAX_BYTES: Final = 8192
NOT_EMBEDDED: Final = frozenset({"bindings", "description"})


def _number(value: Decimal) -> str:
    # Terraform prints numbers in plain decimal notation, no exponent, no trailing zeros.
    return format(value.normalize(), "f")


def _string(value: str) -> str:
    # jsonencode escapes like Go's encoding/json: HTML-sensitive characters and the JS
    # line terminators, and leaves other non-ASCII characters as UTF-8.
    text = json.dumps(value, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def render_json(value: Any) -> str:
    """Compact JSON exactly as Terraform's ``jsonencode`` prints the value of ``yamldecode``."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, int | float):
        return _number(Decimal(str(value)))
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        items = sorted(value.items())
        return "{" + ",".join(f"{_string(str(k))}:{render_json(v)}" for k, v in items) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(render_json(v) for v in value) + "]"
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def as_terraform_value(value: Any) -> Any:
    """The plain JSON value the runtime sees after Terraform's round trip."""
    return json.loads(render_json(value))


def embedded_tenant_json(doc: Mapping[str, Any]) -> str:
    """A tenant's JSON in an account document (as root main.tf: no bindings, description, nulls)."""
    return render_json({k: v for k, v in doc.items() if k not in NOT_EMBEDDED and v is not None})


def _binding_json(binding: Mapping[str, Any], tenant_id: str) -> str:
    response = binding.get("response")
    return render_json(
        {
            "api_ids": binding.get("api_ids"),
            "response": "iam" if response is None else response,
            "stages": binding.get("stages"),
            "tenant_id": tenant_id,
        }
    )


def render_account_documents(
    docs: Iterable[Mapping[str, Any]], aliases: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Account id -> the SSM value Terraform writes (terraform/modules/tenant-registry).

    ``aliases`` gives the alias that serves each account (``aliases.json``); by default
    the assignment :func:`aliases.assign` gives these accounts from nothing.
    """
    by_id = {str(doc["tenant_id"]): doc for doc in docs}
    bindings: dict[str, list[tuple[str, str]]] = {}
    for tenant_id in sorted(by_id):
        for binding in by_id[tenant_id].get("bindings") or []:
            account = str(binding["account_id"])
            bindings.setdefault(account, []).append((tenant_id, _binding_json(binding, tenant_id)))
    if aliases is None:
        aliases = assign({}, dict.fromkeys(bindings))
    documents: dict[str, str] = {}
    for account in sorted(bindings):
        tenant_ids = sorted({tenant_id for tenant_id, _ in bindings[account]})
        tenants = ",".join(f"{_string(t)}:{embedded_tenant_json(by_id[t])}" for t in tenant_ids)
        alias = aliases[account]
        documents[account] = (
            f'{{"account_id":{_string(account)},"alias":{_string(alias)},'
            f'"bindings":[{",".join(rendered for _, rendered in bindings[account])}],'
            f'"tenants":{{{tenants}}},"version":1}}'
        )
    return documents


def ssm_tier(document: str) -> str:
    """The tier SSM's Intelligent-Tiering picks: Standard up to 4,096 bytes, else Advanced."""
    return "Standard" if len(document.encode("utf-8")) <= STANDARD_TIER_MAX_BYTES else "Advanced"


def render_layout(layout: Layout = DEFAULT_LAYOUT) -> str:
    """The layout parameter the platform root writes (``{prefix}/index/layout``)."""
    return f'{{"groups":{layout.groups},"shard_count":{layout.shard_count},"version":1}}'


def group_accounts(
    accounts: Iterable[str], group: int, layout: Layout = DEFAULT_LAYOUT
) -> list[str]:
    """The accounts whose documents a tenant group (a workspace of terraform/tenants) writes."""
    return sorted(
        a for a in accounts if group_of(shard_of(a, layout.shard_count), layout.groups) == group
    )


def render_marker(accounts: Mapping[str, str]) -> str:
    """A shard marker: account id -> its document's content hash (as Terraform writes it)."""
    body = ",".join(f"{_string(a)}:{_string(h)}" for a, h in sorted(accounts.items()))
    return f'{{"accounts":{{{body}}},"version":1}}'


def render_root(group: int, shards: Mapping[str, str], layout: Layout = DEFAULT_LAYOUT) -> str:
    """A group's root: shard -> its marker's content hash, and the layout it was built for."""
    body = ",".join(f"{_string(s)}:{_string(h)}" for s, h in sorted(shards.items()))
    return (
        f'{{"group":{group},"groups":{layout.groups},"shard_count":{layout.shard_count},'
        f'"shards":{{{body}}},"version":1}}'
    )


def render_account_document(
    account_id: str, alias: str, bindings: Sequence[Any], tenants: Mapping[str, str]
) -> str:
    """An account document from its parts: bindings as values, tenants as rendered JSON."""
    parts = ",".join(f"{_string(t)}:{tenants[t]}" for t in sorted(tenants))
    return (
        f'{{"account_id":{_string(account_id)},"alias":{_string(alias)},'
        f'"bindings":{render_json(list(bindings))},"tenants":{{{parts}}},"version":1}}'
    )


def render_index(
    documents: Mapping[str, str], layout: Layout = DEFAULT_LAYOUT, group: int | None = None
) -> dict[str, str]:
    """The change index of ``documents`` (account id -> value), by name under the prefix.

    As Terraform writes it (decisions 0019, 0020): for each group (``group``, or every one
    and then the layout too), a marker per non-empty shard of the group listing its
    accounts' content hashes, and the group's root listing each marker's hash.
    """
    shards: dict[str, dict[str, str]] = {}
    for account, document in documents.items():
        shard = shard_of(account, layout.shard_count)
        shards.setdefault(shard, {})[account] = content_hash(document)
    markers = {shard: render_marker(accounts) for shard, accounts in sorted(shards.items())}
    out: dict[str, str] = {}
    for g in range(layout.groups) if group is None else [group]:
        mine = {s: m for s, m in markers.items() if group_of(s, layout.groups) == g}
        hashes = {s: content_hash(m) for s, m in mine.items()}
        out[root_parameter(g)] = render_root(g, hashes, layout)
        out.update({shard_parameter(s): m for s, m in mine.items()})
    if group is None:
        out[LAYOUT] = render_layout(layout)
    return out


def render_parameters(
    documents: Mapping[str, str], layout: Layout = DEFAULT_LAYOUT
) -> dict[str, str]:
    """Every parameter the platform and every tenant group write, by name under the prefix."""
    return {
        **{account_parameter(a): d for a, d in documents.items()},
        **render_index(documents, layout),
    }
