"""The banner of ``tenant-authz local``: the API it emulates and two curl lines that
behave as they say (one passes, one is refused), computed from the tenant's own rules."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from .options import DEFAULT_TENANTS_DIR, TOKEN_LIFETIME, Example, LocalOptions, title

if TYPE_CHECKING:
    from ...runtime.tenant import RouteRule
    from ..gateway import ApiSpec
    from ..issuer import DevIssuer
    from ..tenant_files import LocalTenant

_KIND_LABELS: Final = {
    "rest-token": "REST API, TOKEN authorizer",
    "rest-request": "REST API, REQUEST authorizer",
    "http-v1": "HTTP API, Lambda authorizer payload 1.0",
    "http-v2": "HTTP API, Lambda authorizer payload 2.0",
}


def _concrete(rule_path: str) -> str:
    """A request path a route rule covers: ``/admin/*`` -> ``/admin/x``."""
    if rule_path == "*":
        return "/x"
    path = []
    for segment in rule_path.split("/"):
        parameter = segment.startswith("{") and segment.endswith("}")
        path.append("1" if parameter else segment.replace("*", "x"))
    return "/".join(path)


def _rule_text(rule: RouteRule) -> str:
    needs = []
    if rule.scopes_any:
        needs.append(
            ("scope " if len(rule.scopes_any) == 1 else "one of the scopes ")
            + " ".join(rule.scopes_any)
        )
    if rule.scopes_all:
        needs.append("the scopes " + " ".join(rule.scopes_all))
    if rule.claims:
        names = sorted(rule.claims)
        needs.append(("the claim " if len(names) == 1 else "the claims ") + ", ".join(names))
    return f"{rule.path} needs " + " and ".join(needs)


def examples_for(
    tenant: LocalTenant,
    api: ApiSpec,
    issuer: DevIssuer | None,
    base_url: str,
    upstream_url: str | None = None,
    *,
    secrets: bool = True,
) -> list[Example]:
    """Two curl lines that behave as they say: one passes, one is refused.

    ``secrets``: whether HS* secrets can be read (from SSM); served from files, an HS-only
    tenant's tokens are answered 500 ``secret_unavailable``, and the banner says so.
    """
    from ...runtime.caller import parse_arn  # noqa: PLC0415
    from ...runtime.rules import compile_rules, decide, grant_for  # noqa: PLC0415

    config = tenant.config
    trusted = config.issuer_for(issuer.issuer) if issuer is not None else None
    rules = compile_rules(config)

    def method_of(rule: RouteRule) -> str:
        return next((m for m in rule.methods if m not in ("*", "$connect")), "GET")

    candidates = [("GET", "/orders")] + [
        (method_of(r.rule), _concrete(r.rule.path)) for r in rules.rules
    ]

    def passing(scopes: frozenset[str], claims: dict[str, Any]) -> tuple[str, str] | None:
        grant = grant_for(rules, scopes, claims)
        for method, path in candidates:
            if decide(rules, grant, parse_arn(api.method_arn(method, path))).allowed:
                return method, path
        return None

    scopes: frozenset[str] = frozenset()
    claims: dict[str, Any] = {}
    route = passing(scopes, claims)
    if route is None:  # every route needs something: mint a token that has it all
        scopes = frozenset(s for r in config.rules for s in (*r.scopes_any, *r.scopes_all))
        claims = {name: values[0] for r in config.rules for name, values in r.claims.items()}
        route = passing(scopes, claims)

    token = "$TOKEN"
    if issuer is not None and trusted is not None:
        claims.update({name: values[0] for name, values in trusted.required_claims.items()})
        alg = next((a for a in trusted.algorithms if a in issuer.algorithms), issuer.algorithms[0])
        token = issuer.mint(
            {"sub": "local-developer", "client_id": "local-dev-client", **claims},
            alg=alg,
            scope=" ".join(sorted(scopes)) or None,
            audience=trusted.audiences[0] if trusted.audiences else None,
            headers={"typ": trusted.token_type} if trusted.token_type else None,
            expires_in=TOKEN_LIFETIME,
        )
    examples = []
    if route is not None:
        says = (
            "passes: 200 and the echo of what the authorizer passed on"
            if upstream_url is None
            else f"passes the authorizer: {upstream_url} answers it"
        )
        status = 200
        if token == "$TOKEN":
            says = "passes: 200, given a token of the tenant's IdP in $TOKEN"
        hmac_only = bool(config.issuers) and all(i.is_hmac for i in config.issuers)
        if hmac_only and not secrets and not config.static_tokens:
            status = 500
            says = (
                "answers 500 secret_unavailable here: HS* secrets are read from SSM "
                "(run with --ssm against moto or AWS to get 200)"
            )
        examples.append(
            Example(
                _curl(api, tenant, base_url=base_url, method=route[0], path=route[1], token=token),
                status,
                says,
            )
        )
        grant = grant_for(rules, scopes, claims)
        # A 403 is promised only for a token minted here: a $TOKEN may carry any scope.
        for compiled in rules.rules if token != "$TOKEN" else ():
            method, path = method_of(compiled.rule), _concrete(compiled.rule.path)
            if not decide(rules, grant, parse_arn(api.method_arn(method, path))).allowed:
                how = "same token, its cached policy" if api.ttl > 0 else "same token"
                says = f"refused: 403, {_rule_text(compiled.rule)} ({how})"
                examples.append(
                    Example(
                        _curl(
                            api, tenant, base_url=base_url, method=method, path=path, token=token
                        ),
                        403,
                        says,
                    )
                )
                break
    if len(examples) < 2:
        examples.append(
            Example(
                _curl(api, tenant, base_url=base_url, method="GET", path="/orders", token=None),
                401,
                "refused: 401, no token",
            )
        )
    return examples


def _curl(
    api: ApiSpec, tenant: LocalTenant, *, base_url: str, method: str, path: str, token: str | None
) -> str:
    source = tenant.config.token
    headers: list[str] = []
    query: list[str] = []
    placed: tuple[str, str] | None = None  # (location, lower-case name) holding the token
    if token is not None:
        value = f"{title(source.scheme)} {token}" if source.scheme else token
        if api.kind == "rest-token":
            name = api.identity_sources[0].name
            headers.append(f"{name}: {value}")
            placed = ("header", name.lower())
        elif source.kind == "header":
            headers.append(f"{title(source.name)}: {value}")
            placed = ("header", source.name.lower())
        elif source.kind == "query":
            query.append(f"{quote(source.name)}={token}")
            placed = ("querystring", source.name.lower())
        else:
            headers.append(f"Cookie: {source.name}={token}")
            placed = ("header", "cookie")
    if token is not None:
        # Identity sources the token does not fill still have to be present.
        for identity in api.identity_sources:
            if (identity.location, identity.name.lower()) == placed:
                continue
            if identity.location == "header":
                headers.append(f"{identity.name}: local")
            else:
                query.append(f"{quote(identity.name)}=local")
    url = base_url + path + ("?" + "&".join(query) if query else "")
    parts = ["curl", "-i"]
    if method != "GET":
        parts += ["-X", method]
    for header in headers:
        parts += ["-H", header]
    parts.append(url)
    # Double quotes where $TOKEN must expand; the other parts are plain shell words.
    return " ".join(f'"{p}"' if "$TOKEN" in p else shlex.quote(p) for p in parts)


def _token_hint(
    options: LocalOptions,
    tenant: LocalTenant,
    issuer: DevIssuer | None,
    examples: Sequence[Example],
) -> str:
    """How long the printed token lasts and the command for another one."""
    if issuer is None or tenant.config.issuer_for(issuer.issuer) is None:
        return ""
    if options.ssm:
        where = f"--issuer-url {issuer.issuer}"
    else:
        where = f"--tenant {tenant.tenant_id}"
        if options.tenants_dir != DEFAULT_TENANTS_DIR:
            where += f" --tenants-dir {shlex.quote(str(options.tenants_dir))}"
    minted = any("$TOKEN" not in e.curl and e.status != 401 for e in examples)
    lifetime = f"token valid {TOKEN_LIFETIME // 60} min; " if minted else ""
    return f" ({lifetime}another: .venv/bin/tenant-authz local token {where} --scope S)"


def banner(
    options: LocalOptions,
    api: ApiSpec,
    *,
    tenant: LocalTenant,
    tenants: dict[str, LocalTenant],
    origin: str,
    issuer: DevIssuer | None,
    url: str,
    examples: Sequence[Example],
) -> str:
    binding = tenant.bindings[0]
    scope = "account-wide" if binding.api_ids is None else f"API {', '.join(binding.api_ids)}"
    responses = ""
    if api.kind == "http-v2":
        responses = ", simple responses" if api.simple_responses else ", IAM policies"
    cache = (
        f"results cached {api.ttl:g} s per "
        + ", ".join(s.expression(api.kind) for s in api.identity_sources)
        if api.ttl > 0
        else "result cache off (--ttl 0)"
    )
    if issuer is None:
        issuer_line = "none (--no-issuer)"
    else:
        issuer_line = (
            f"{issuer.issuer} (development issuer: discovery, /jwks.json, /token, /rotate)"
        )
        if tenant.config.issuer_for(issuer.issuer) is None:
            issuer_line += f"; tenant {tenant.tenant_id} does not trust it"
    decisions = (
        "printed (--verbose)"
        if options.verbose
        else f"in {options.decision_log}"
        if options.decision_log
        else "not shown (--verbose prints them, --decision-log FILE keeps them)"
    )
    lines = [
        f"tenant-authz local: API Gateway on {url} (Ctrl-C stops)",
        f"  API         {_KIND_LABELS[api.kind]}{responses}: account {api.account_id}, "
        f"api {api.api_id}, stage {api.stage}, {api.region}",
        f"  tenant      {tenant.tenant_id} (binding: {scope})",
        f"  tenants     {len(tenants)} from {origin}: {', '.join(sorted(tenants))}",
        f"  authorizer  in-process; {cache}",
        f"  issuer      {issuer_line}",
        f"  upstream    {options.upstream or 'built-in echo'}",
        f"  decisions   the authorizer's JSON lines are {decisions}",
        "",
        f"Try it{_token_hint(options, tenant, issuer, examples)}:",
    ]
    for example in examples:
        lines += [f"  # {example.says}", f"  {example.curl}"]
    lines += ["", "Access log: time method path -> status outcome reason tenant cache latency"]
    return "\n".join(lines)
