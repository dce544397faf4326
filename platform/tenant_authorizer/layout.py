"""Renders tenant documents into the SSM layout of ``docs/decisions/0001``.

One JSON document per tenant account, holding that account's bindings and the configs
of the tenants they name. Terraform renders the same documents in HCL for deployment;
this renderer serves validation (the 8 KB size check), the local gateway's file source
and tests, so that all of them read exactly what the runtime reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

STANDARD_TIER_MAX: Final = 4096
ADVANCED_TIER_MAX: Final = 8192
_NOT_EMBEDDED: Final = frozenset({"bindings", "description"})


def embedded_tenant(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The tenant document as stored inside an account document (no bindings/description)."""
    return {k: v for k, v in doc.items() if k not in _NOT_EMBEDDED and v is not None}


def account_documents(docs: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Account id -> compact JSON document, for every account any tenant document binds."""
    bindings: dict[str, list[dict[str, Any]]] = {}
    tenants: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in docs:
        tenant_id = doc["tenant_id"]
        for binding in doc.get("bindings") or []:
            account = str(binding["account_id"])
            bindings.setdefault(account, []).append(
                {
                    "tenant_id": tenant_id,
                    "api_ids": binding.get("api_ids"),
                    "stages": binding.get("stages"),
                    "response": binding.get("response", "iam"),
                }
            )
            tenants.setdefault(account, {})[tenant_id] = embedded_tenant(doc)
    return {
        account: json.dumps(
            {
                "version": 1,
                "account_id": account,
                "bindings": bindings[account],
                "tenants": tenants[account],
            },
            separators=(",", ":"),
            sort_keys=True,
        )
        for account in sorted(bindings)
    }
