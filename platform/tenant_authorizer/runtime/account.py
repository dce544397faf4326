"""One tenant account's SSM document: its bindings, its tenants and the alias serving it.

The layout is ``docs/decisions/0001-ssm-parameter-layout.md``. :func:`parse_account_document`
checks the envelope and hands each tenant to the tenant parser (imported on the first
document, not at cold start); :meth:`AccountDocument.resolve` picks the binding of an API
and stage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .errors import ConfigError
from .rules import RuleSet, compile_rules

if TYPE_CHECKING:
    from .tenant import Binding, TenantConfig

# A Lambda alias name: letters, digits, "-" and "_", not all digits (that is a version).
_ALIAS_RE: Final = re.compile(r"^(?![0-9]+$)[A-Za-z0-9_-]{1,128}$")


# NamedTuples and plain classes with __slots__ rather than dataclasses: a dataclass costs
# ~0.8 ms at cold start, a NamedTuple ~0.2 ms.
class TenantRuntime(NamedTuple):
    """A parsed tenant and what the warm path precomputes from it (compiled route rules)."""

    config: TenantConfig
    rules: RuleSet


class AccountDocument(NamedTuple):
    """All bindings of one account, the tenants they name, and the alias that serves it."""

    account_id: str
    alias: str  # the function alias whose policy grants this account (Terraform writes it)
    bindings: tuple[Binding, ...]
    tenants: Mapping[str, TenantRuntime]
    # Each tenant's part as read: a new document reuses the TenantRuntime of a part that
    # did not change, so one tenant's edit (a revocation) keeps the others' warm answers.
    sources: Mapping[str, str]

    def resolve(self, api_id: str, stage: str) -> tuple[Binding, TenantRuntime] | None:
        """The binding for ``api_id``/``stage``, or None when no binding covers it.

        An API that any binding names (``api_ids``) is decided by those bindings alone:
        a stage they do not list is unbound, never handed to an account-wide binding,
        which could belong to another tenant (``docs/security.md``). Only APIs no binding
        names fall back to the account-wide binding whose stages match.
        """
        pinned = False
        fallback: Binding | None = None
        for binding in self.bindings:
            stage_ok = binding.stages is None or stage in binding.stages
            if binding.api_ids is None:
                if stage_ok and fallback is None:
                    fallback = binding
            elif api_id in binding.api_ids:
                if stage_ok:
                    return binding, self.tenants[binding.tenant_id]
                pinned = True
        if fallback is not None and not pinned:
            return fallback, self.tenants[fallback.tenant_id]
        return None

    def unbound_detail(self, api_id: str, stage: str) -> str:
        """Why ``api_id``/``stage`` of this account has no binding, for the decision line."""
        stages = sorted(
            {s for b in self.bindings if b.api_ids and api_id in b.api_ids for s in b.stages or ()}
        )
        where = f"{self.account_id}/{api_id}/{stage}"
        if stages:
            return f"no tenant bound to {where}: the API is bound for stages {', '.join(stages)}"
        return f"no tenant bound to {where}"


def parse_account_document(
    raw: str, source: str, account_id: str, previous: AccountDocument | None = None
) -> AccountDocument:
    """Parse an account document; raise :class:`ConfigError` naming the field and reason.

    ``previous`` is the account's document this one replaces: a tenant whose part is
    unchanged keeps its parsed :class:`TenantRuntime` (the object the memo's entries and
    the JWKS bookkeeping are bound to).
    """
    # The parser is needed on the first read of an account only: not at every cold start.
    from .tenant_parser import parse_tenant  # noqa: PLC0415

    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(source, "(document)", f"not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(source, "(document)", "must be a JSON object")
    if data.get("version") != 1:
        raise ConfigError(source, "version", "must be 1")
    if data.get("account_id") != account_id:
        raise ConfigError(source, "account_id", f"must be {account_id}")
    alias = data.get("alias")
    if not isinstance(alias, str) or not _ALIAS_RE.fullmatch(alias):
        raise ConfigError(source, "alias", "must name the function alias that serves the account")
    tenants_raw = data.get("tenants")
    if not isinstance(tenants_raw, Mapping) or not tenants_raw:
        raise ConfigError(source, "tenants", "must be a non-empty object")
    tenants: dict[str, TenantRuntime] = {}
    sources: dict[str, str] = {}
    for tenant_id, doc in tenants_raw.items():
        # Compared as canonical JSON: Python's == takes true for 1, the rules do not.
        canonical = json.dumps(doc, sort_keys=True)
        sources[tenant_id] = canonical
        if previous is not None and previous.sources.get(tenant_id) == canonical:
            tenants[tenant_id] = previous.tenants[tenant_id]
            continue
        config = parse_tenant(doc, f"{source}#tenants.{tenant_id}", require_bindings=False)
        if config.tenant_id != tenant_id:
            raise ConfigError(source, f"tenants.{tenant_id}.tenant_id", "must equal its key")
        tenants[tenant_id] = TenantRuntime(config, compile_rules(config))
    bindings_raw = data.get("bindings")
    if not isinstance(bindings_raw, list) or not bindings_raw:
        raise ConfigError(source, "bindings", "must be a non-empty list")
    bindings = tuple(
        _parse_binding(item, source, f"bindings[{i}]", account_id, tenants)
        for i, item in enumerate(bindings_raw)
    )
    return AccountDocument(account_id, alias, bindings, tenants, sources)


def _parse_binding(
    item: object, source: str, where: str, account_id: str, tenants: Mapping[str, Any]
) -> Binding:
    if not isinstance(item, Mapping):
        raise ConfigError(source, where, "must be an object")
    tenant_id = item.get("tenant_id")
    if not isinstance(tenant_id, str) or tenant_id not in tenants:
        raise ConfigError(source, f"{where}.tenant_id", f"{tenant_id!r} is not in tenants")
    doc = {k: v for k, v in item.items() if k != "tenant_id"}
    doc["account_id"] = account_id
    from .tenant_parser import parse_binding  # noqa: PLC0415  (lazy, see parse_account_document)

    return parse_binding(doc, source, where, tenant_id)
