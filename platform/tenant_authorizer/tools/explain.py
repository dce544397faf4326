"""``tenant-authz token explain``: the real decision, step by step, for one token and route.

The decision is the handler's own: an :class:`Authorizer` over the tenant files (or SSM)
evaluates a REST REQUEST event carrying the token where the tenant's ``token`` section
says, and its trace hook hands over each step's object. What the trace cannot show (why a
check refused, which rule covered the route) is re-read with the same functions the
verifier and the rules use. Nothing prints the token's signature or a secret: the header
and the claims are shown, the token itself only as the 12-hex hash the log lines carry.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..runtime.authorizer import Authorizer, Evaluation
from ..runtime.caller import parse_arn
from ..runtime.claims import (
    check_audience,
    check_cognito,
    check_issued_before,
    check_required,
    check_times,
)
from ..runtime.errors import AuthorizerError
from ..runtime.fetch import HttpFetcher
from ..runtime.jwks import JwksCache
from ..runtime.jws import peek
from ..runtime.registry import Resolution, TenantRegistry
from ..runtime.rules import Decision
from ..runtime.sources import ConfigSource
from ..runtime.telemetry import Telemetry
from ..runtime.tenant import IssuerConfig, TokenSource


@dataclass
class Step:
    """One step of the decision and its verdict (ok, refused, info)."""

    name: str
    verdict: str
    detail: str

    def line(self) -> str:
        """The step as printed."""
        return f"{self.name:<10} {self.verdict:<8} {self.detail}"


@dataclass
class Explanation:
    """Every step, the outcome, and the response API Gateway would receive."""

    steps: list[Step] = field(default_factory=list)
    outcome: str = ""
    status: int = 0
    reason: str = ""
    response: dict[str, Any] | None = None
    log: dict[str, Any] | None = None

    def add(self, name: str, verdict: str, detail: str) -> None:
        """Record a step."""
        self.steps.append(Step(name, verdict, detail))

    def as_json(self) -> dict[str, Any]:
        """What --json prints."""
        return {
            "steps": [s.__dict__ for s in self.steps],
            "outcome": self.outcome,
            "status": self.status,
            "reason": self.reason,
            "response": self.response,
            "log_line": self.log,
        }


def request_event(arn: str, token: str, source: TokenSource) -> dict[str, Any]:
    """A REST REQUEST event for ``arn`` carrying ``token`` as the tenant expects it."""
    value = token if source.scheme is None else f"{source.scheme.capitalize()} {token}"
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    if source.kind == "header":
        headers[source.name] = value
    elif source.kind == "query":
        query[source.name] = value
    else:
        headers["cookie"] = f"{source.name}={value}"
    caller = parse_arn(arn)
    return {
        "type": "REQUEST",
        "methodArn": arn,
        "resource": "/{proxy+}",
        "path": caller.path or "/",
        "httpMethod": caller.method,
        "headers": headers,
        "queryStringParameters": query or None,
        "requestContext": {
            "accountId": caller.account_id,
            "apiId": caller.api_id,
            "stage": caller.stage,
            "httpMethod": caller.method,
        },
    }


def http_v2_event(
    arn: str, token: str, source: TokenSource, route_key: str = "$default"
) -> dict[str, Any]:
    """An HTTP API payload 2.0 event for ``arn`` (``routeArn``) carrying ``token``."""
    event = request_event(arn, token, source)
    caller = parse_arn(arn)
    cookie = event["headers"].pop("cookie", None)
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": arn,
        "routeKey": route_key,
        "rawPath": caller.path or "/",
        "headers": event["headers"],
        "queryStringParameters": event["queryStringParameters"],
        "cookies": [cookie] if cookie else None,
        "requestContext": {
            "accountId": caller.account_id,
            "apiId": caller.api_id,
            "stage": caller.stage,
            "http": {"method": caller.method, "path": caller.path or "/"},
        },
    }


def explain(
    source: ConfigSource,
    arn: str,
    token: str,
    *,
    route_key: str = "$default",
    alias: str | None = None,
) -> Explanation:
    """Decide for ``token`` on ``arn`` as the handler would, and say why at each step.

    A binding with ``response: simple`` is decided as API Gateway asks for it, with an
    HTTP API 2.0 event for ``route_key``; any other with a REST REQUEST event. ``alias``
    is the alias the call comes through (None: unqualified, no alias check).
    """
    out = Explanation()
    lines: list[str] = []
    registry = TenantRegistry(source, ttl=60)
    jwks = JwksCache(HttpFetcher())
    authorizer = Authorizer(registry, jwks, Telemetry(write=lines.append))
    seen: dict[str, Any] = {}
    authorizer.trace = seen.__setitem__
    try:
        caller = parse_arn(arn)
    except AuthorizerError as exc:
        out.add("caller", "refused", f"{exc.reason.value}: {exc.detail}")
        return _finish(out, authorizer.evaluate({"type": "TOKEN", "methodArn": arn}), lines)
    out.add(
        "caller",
        "ok",
        f"account {caller.account_id}, API {caller.api_id}, stage {caller.stage}, {caller.route}",
    )
    try:
        resolution = registry.lookup(caller, alias)
    except AuthorizerError as exc:
        out.add("binding", "refused", f"{exc.reason.value}: {exc.detail}")
        fallback = request_event(arn, token, TokenSource())
        return _finish(out, authorizer.evaluate(fallback, alias), lines)
    tenant = resolution.tenant.config
    binding = resolution.binding
    out.add(
        "binding",
        "ok",
        f"tenant {tenant.tenant_id} (APIs {', '.join(binding.api_ids or ('every API',))}; "
        f"stages {', '.join(binding.stages or ('every stage',))}; response {binding.response})",
    )
    simple = binding.response == "simple"
    if simple:
        event = http_v2_event(arn, token, tenant.token, route_key)
    else:
        event = request_event(arn, token, tenant.token)
    where = tenant.token
    out.add(
        "token",
        "info",
        f"sent in {where.kind} {where.name}"
        + (f" with the {where.scheme} scheme" if where.scheme else " (bare)"),
    )
    if simple:
        out.add("event", "info", f"HTTP API 2.0 event, route key {route_key} (simple response)")
    evaluation = authorizer.evaluate(event, alias)
    _token_steps(out, token, resolution, seen)
    decision = seen.get("decision")
    if isinstance(decision, Decision):
        resource = "$default" if simple and route_key == "$default" else caller.resource
        _rule_steps(out, resolution, decision, resource)
    return _finish(out, evaluation, lines)


def _token_steps(
    out: Explanation, token: str, resolution: Resolution, seen: Mapping[str, Any]
) -> None:
    tenant = resolution.tenant.config
    parts = token.split(".")
    if len(parts) != 3:
        out.add(
            "format",
            "info",
            "not a compact JWS: matched against the tenant's API keys and static tokens, "
            "then introspected if an issuer takes it",
        )
        return
    header, claims = peek(parts[0]), peek(parts[1])
    shown = {k: header[k] for k in ("alg", "kid", "typ") if k in header}
    out.add("header", "info", json.dumps(shown, sort_keys=True))
    out.add("claims", "info", json.dumps(claims, sort_keys=True, default=str)[:2000])
    iss = claims.get("iss")
    issuer = tenant.issuer_for(iss) if isinstance(iss, str) else None
    if issuer is None:
        allowed = ", ".join(i.issuer for i in tenant.issuers) or "none"
        out.add("issuer", "refused", f"iss {iss!r} is not one of {allowed}")
        return
    out.add("issuer", "ok", f"{issuer.issuer} (algorithms {', '.join(issuer.algorithms)})")
    verified = seen.get("verified")
    kid = header.get("kid")
    if verified is not None:
        where = issuer.jwks_uri or ("shared secret" if issuer.is_hmac else "discovery")
        out.add("key", "ok", f"kid {kid} ({header.get('alg')}) from {where}; signature verifies")
    elif kid in issuer.revoked_kids:
        out.add("key", "refused", f"kid {kid} is revoked for this tenant (revocation.kids)")
    for name, check in _claim_checks(claims, issuer):
        try:
            check()
        except AuthorizerError as exc:
            out.add(name, "refused", f"{exc.reason.value}: {exc.detail}")
        else:
            out.add(name, "ok", "")


def _claim_checks(claims: Mapping[str, Any], issuer: IssuerConfig) -> list[tuple[str, Any]]:
    import time  # noqa: PLC0415

    now = time.time()
    checks: list[tuple[str, Any]] = [("times", lambda: check_times(claims, issuer, now))]
    if issuer.audiences:
        checks.append(("audience", lambda: check_audience(claims, issuer)))
    if issuer.cognito is not None:
        cognito = issuer.cognito
        checks.append(("cognito", lambda: check_cognito(claims, cognito, issuer.issuer)))
    if issuer.required_claims:
        checks.append(("required", lambda: check_required(claims, issuer)))
    if issuer.issued_before is not None:
        checks.append(("revocation", lambda: check_issued_before(claims, issuer)))
    return checks


def _rule_steps(
    out: Explanation, resolution: Resolution, decision: Decision, resource: str
) -> None:
    rules = resolution.tenant.rules
    if not rules.rules:
        default = "allow" if rules.default_allow else "deny"
        out.add("rules", "info", f"the tenant has no route rules: every route is {default}")
        return
    covering = [
        (compiled, satisfied)
        for compiled, satisfied in zip(rules.rules, decision.grant.satisfied, strict=True)
        if compiled.blocks(resource) or compiled.covers(resource)
    ]
    if not covering:
        default = "allowed" if rules.default_allow else "denied (default: deny)"
        out.add("rules", "info", f"no rule covers {resource}: {default}")
    for compiled, satisfied in covering:
        rule = compiled.rule
        methods = ",".join(rule.methods)
        out.add(
            "rule",
            "ok" if satisfied else "refused",
            f"{methods} {rule.path} covers {resource}: "
            + ("satisfied" if satisfied else "not satisfied by the token's scopes or claims")
            + (
                f" (needs one of the scopes {', '.join(rule.scopes_any)})"
                if rule.scopes_any
                else ""
            ),
        )


def _finish(out: Explanation, evaluation: Evaluation, lines: list[str]) -> Explanation:
    out.outcome, out.status = evaluation.outcome, evaluation.status
    out.reason = evaluation.reason.value
    out.response = evaluation.response
    out.log = json.loads(lines[-1]) if lines else None
    detail = (out.log or {}).get("detail")
    out.add(
        "decision",
        "ok" if evaluation.outcome == "allow" else "refused",
        f"{evaluation.outcome} ({evaluation.status}, {out.reason})"
        + (f": {detail}" if detail else ""),
    )
    return out


def default_region() -> str:
    """The region ARNs are built in when only account, API and stage are given."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
