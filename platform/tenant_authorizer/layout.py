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


def render_account_documents(docs: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Account id -> the SSM value Terraform writes (terraform/modules/tenant-registry)."""
    by_id = {str(doc["tenant_id"]): doc for doc in docs}
    bindings: dict[str, list[tuple[str, str]]] = {}
    for tenant_id in sorted(by_id):
        for binding in by_id[tenant_id].get("bindings") or []:
            account = str(binding["account_id"])
            bindings.setdefault(account, []).append((tenant_id, _binding_json(binding, tenant_id)))
    documents: dict[str, str] = {}
    for account in sorted(bindings):
        tenant_ids = sorted({tenant_id for tenant_id, _ in bindings[account]})
        tenants = ",".join(f"{_string(t)}:{embedded_tenant_json(by_id[t])}" for t in tenant_ids)
        documents[account] = (
            f'{{"account_id":{_string(account)},'
            f'"bindings":[{",".join(rendered for _, rendered in bindings[account])}],'
            f'"tenants":{{{tenants}}},"version":1}}'
        )
    return documents


def ssm_tier(document: str) -> str:
    """The tier SSM's Intelligent-Tiering picks: Standard up to 4,096 bytes, else Advanced."""
    return "Standard" if len(document.encode("utf-8")) <= STANDARD_TIER_MAX_BYTES else "Advanced"
