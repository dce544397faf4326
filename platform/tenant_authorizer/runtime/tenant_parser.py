"""The strict parser of tenant documents: a YAML file of ``tenant_configs/``, or the JSON
the runtime reads from SSM, into :mod:`.tenant`'s model, and nowhere else.

It rejects unknown fields and unsafe combinations; every error names the source, the
field path and the reason. ``tenant_configs/schema.json`` describes the same document
for editors and CI; a test keeps the two in agreement. Imported on the first document
an instance reads, never at cold start.
"""

from __future__ import annotations

import re
from datetime import datetime
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

from .tenant import (
    API_KEY_ID_RE,
    DPOP_ALGORITHMS,
    MAX_BARE_API_KEYS,
    ApiKey,
    Binding,
    CognitoRules,
    DpopSettings,
    Introspection,
    IssuerConfig,
    RouteRule,
    StaticToken,
    TenantConfig,
    TokenSource,
)
from .tenant_fields import (
    ACCOUNT_ID_RE,
    API_ID_RE,
    CLAIM_NAME_RE,
    HEADER_NAME_RE,
    HMAC_ALGORITHMS,
    HTTP_METHODS,
    PATH_RE,
    REGION_RE,
    RESERVED_CONTEXT_KEYS,
    SCOPE_RE,
    SHA256_HEX_RE,
    SSM_NAME_RE,
    STAGE_RE,
    SUPPORTED_ALGORITHMS,
    TENANT_ID_RE,
    Node,
    url,
)

# A key id as JWKS publish them (printable ASCII, no spaces), and an RFC 3339 instant
# with its offset (a revocation time without one would depend on the reader's zone).
_KID_RE: Final = re.compile(r"^[\x21-\x7e]{1,256}$")
_INSTANT_RE: Final = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)


def _parse_token_source(node: Node | None) -> TokenSource:
    if node is None:
        return TokenSource()
    kinds = [k for k in ("header", "query", "cookie") if node.has(k)]
    if len(kinds) > 1:
        raise node.error(kinds[1], "choose one of header, query or cookie")
    kind = kinds[0] if kinds else "header"
    name = node.string(kind, pattern=HEADER_NAME_RE, default="Authorization")
    for other in ("header", "query", "cookie"):
        node.raw(other)
    default_scheme = "Bearer" if kind == "header" and name.lower() == "authorization" else ""
    scheme_value = node.raw("scheme")
    if scheme_value is None:
        scheme: str | None = default_scheme or None
    elif scheme_value == "" or scheme_value is False:
        scheme = None
    elif isinstance(scheme_value, str) and re.fullmatch(
        r"[A-Za-z][A-Za-z0-9-]{0,31}", scheme_value
    ):
        scheme = scheme_value
    else:
        raise node.error("scheme", "must be a word such as Bearer, or empty for a bare token")
    max_length = node.integer("max_length", default=8192, low=256, high=16384)
    node.done()
    return TokenSource(
        kind=kind,  # type: ignore[arg-type]
        name=name.lower() if kind == "header" else name,
        scheme=scheme.lower() if scheme else None,
        max_length=max_length,
    )


def _parse_issuer(node: Node) -> IssuerConfig:
    local = node.boolean("local_development", default=False)
    issuer = url(node, "issuer", local_development=local)
    algorithms = node.strings("algorithms") or ("RS256",)
    for index, alg in enumerate(algorithms):
        if alg.lower() == "none":
            raise node.error(f"algorithms[{index}]", "'none' is never allowed")
        if alg not in SUPPORTED_ALGORITHMS:
            raise node.error(
                f"algorithms[{index}]",
                f"{alg!r} is not supported; choose from {', '.join(sorted(SUPPORTED_ALGORITHMS))}",
            )
    hmac = [a for a in algorithms if a in HMAC_ALGORITHMS]
    if hmac and len(hmac) != len(algorithms):
        raise node.error("algorithms", "must not mix HS* with RS/PS/ES/EdDSA (key confusion)")
    secret = node.optional_string("hmac_secret_parameter", pattern=SSM_NAME_RE)
    if hmac and secret is None:
        raise node.error("hmac_secret_parameter", "is required for HS* algorithms")
    if secret is not None and not hmac:
        raise node.error("hmac_secret_parameter", "is only used with HS* algorithms")
    previous = node.optional_string("hmac_previous_secret_parameter", pattern=SSM_NAME_RE)
    if previous is not None and secret is None:
        raise node.error(
            "hmac_previous_secret_parameter", "is only used next to hmac_secret_parameter"
        )
    if previous is not None and previous == secret:
        raise node.error(
            "hmac_previous_secret_parameter",
            "names the current secret again: give the secret tokens were signed with before",
        )

    jwks_uri = url(node, "jwks_uri", local_development=local) if node.has("jwks_uri") else None
    node.seen.add("jwks_uri")
    introspection_node = node.node("introspection")
    introspection = (
        _parse_introspection(introspection_node, local) if introspection_node is not None else None
    )
    if introspection is not None and hmac:
        raise node.error("introspection", "is for opaque tokens, not for HS* issuers")
    default_discovery = "none" if (jwks_uri or hmac) else "oidc"
    discovery = node.choice("discovery", ("oidc", "oauth", "none"), default=default_discovery)
    opaque_only = introspection is not None and introspection.endpoint is not None
    if introspection is not None and introspection.endpoint is None and discovery == "none":
        raise node.error(
            "introspection.endpoint",
            "is required when discovery is none (with jwks_uri it is): give the endpoint, "
            "or discovery: oidc / oauth to read it from the issuer's metadata",
        )
    if discovery == "none" and jwks_uri is None and not hmac and not opaque_only:
        raise node.error(
            "jwks_uri",
            "is required when discovery is none"
            + (" (or give introspection.endpoint)" if introspection is not None else ""),
        )
    if hmac and (jwks_uri is not None or discovery != "none"):
        raise node.error("jwks_uri", "HS* issuers use hmac_secret_parameter, not a JWKS")

    cognito_node = node.node("cognito")
    cognito = None
    if cognito_node is not None:
        token_use = cognito_node.choice("token_use", ("access", "id"), default="access")
        client_ids = cognito_node.strings("client_ids")
        if not client_ids:
            raise cognito_node.error("client_ids", "is required")
        cognito_node.done()
        cognito = CognitoRules(token_use=token_use, client_ids=client_ids)  # type: ignore[arg-type]

    audiences = node.strings("audiences", allow_empty=True)
    if audiences is not None and not audiences:
        raise node.error("audiences", "must not be empty: a token for any audience would pass")
    if audiences is None and not (cognito and cognito.token_use == "access"):
        raise node.error("audiences", "is required (except for Cognito access tokens)")

    revoked_kids, issued_before = _parse_revocation(node)
    forward = node.strings("forward_claims", pattern=CLAIM_NAME_RE) or ()
    for index, name in enumerate(forward):
        if name in RESERVED_CONTEXT_KEYS:
            raise node.error(f"forward_claims[{index}]", f"{name!r} is a reserved context key")
    config = IssuerConfig(
        issuer=issuer,
        algorithms=algorithms,
        audiences=audiences or (),
        jwks_uri=jwks_uri,
        discovery=discovery,  # type: ignore[arg-type]
        hmac_secret_parameter=secret,
        hmac_previous_secret_parameter=previous,
        required_claims=node.claim_map("required_claims"),
        token_type=node.optional_string("token_type", pattern=re.compile(r"^[A-Za-z0-9+./-]+$")),
        clock_skew_seconds=node.integer("clock_skew_seconds", default=60, low=0, high=300),
        max_token_age_seconds=node.optional_integer(
            "max_token_age_seconds", low=60, high=31_536_000
        ),
        scope_claim=node.string("scope_claim", pattern=CLAIM_NAME_RE, default="scope"),
        principal_claim=node.string("principal_claim", pattern=CLAIM_NAME_RE, default="sub"),
        forward_claims=forward,
        cognito=cognito,
        local_development=local,
        revoked_kids=revoked_kids,
        issued_before=issued_before,
        introspection=introspection,
        sender_constraint=node.choice(  # type: ignore[arg-type]
            "sender_constraint", ("none", "mtls", "dpop"), default="none"
        ),
    )
    if hmac and config.sender_constraint != "none":
        raise node.error("sender_constraint", "binds asymmetric tokens, not HS* ones")
    node.done()
    return config


def _parse_dpop(node: Node | None) -> DpopSettings:
    """``dpop:`` of a tenant: where its clients' proofs point, and for how long they count."""
    if node is None:
        return DpopSettings()
    base = (
        url(node, "public_base_url", local_development=False)
        if node.has("public_base_url")
        else None
    )
    node.seen.add("public_base_url")
    if base is not None:
        parts = urlsplit(base)
        try:
            port_ok = parts.port is None or 0 < parts.port < 65536
        except ValueError:
            port_ok = False
        if not parts.hostname or not port_ok or "@" in parts.netloc or " " in base:
            raise node.error("public_base_url", "must be https://HOST[:PORT][/PATH]")
        if parts.query or parts.fragment or "?" in base or "#" in base:
            raise node.error("public_base_url", "is a base URL: no query or fragment")
    algorithms = node.strings("algorithms") or DPOP_ALGORITHMS
    for index, alg in enumerate(algorithms):
        if alg not in DPOP_ALGORITHMS:
            raise node.error(
                f"algorithms[{index}]",
                f"{alg!r} is not an asymmetric algorithm; choose from {', '.join(DPOP_ALGORITHMS)}",
            )
    settings = DpopSettings(
        public_base_url=base,
        max_age_seconds=node.integer("max_age_seconds", default=60, low=5, high=600),
        algorithms=algorithms,
    )
    node.done()
    return settings


# An opaque token's routing prefix: printable ASCII, no space, short.
_TOKEN_PREFIX_RE: Final = re.compile(r"^[\x21-\x7e]{1,32}$")
_FIELD_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_:.\-/]{1,128}$")


def _parse_introspection(node: Node, local: bool) -> Introspection:
    """``introspection:`` of an issuer (RFC 7662), every limit named."""
    endpoint = url(node, "endpoint", local_development=local) if node.has("endpoint") else None
    node.seen.add("endpoint")
    config = Introspection(
        client_id=node.string("client_id"),
        client_secret_parameter=node.string("client_secret_parameter", pattern=SSM_NAME_RE),
        endpoint=endpoint,
        auth_method=node.choice(  # type: ignore[arg-type]
            "auth_method",
            ("client_secret_basic", "client_secret_post"),
            default="client_secret_basic",
        ),
        token_prefix=node.optional_string("token_prefix", pattern=_TOKEN_PREFIX_RE),
        cache_seconds=node.integer("cache_seconds", default=300, low=0, high=3600),
        inactive_cache_seconds=node.integer("inactive_cache_seconds", default=10, low=0, high=300),
        max_calls_per_second=node.integer("max_calls_per_second", default=25, low=1, high=1000),
        principal_field=node.string("principal_field", pattern=_FIELD_NAME_RE, default="sub"),
        scope_field=node.string("scope_field", pattern=_FIELD_NAME_RE, default="scope"),
        audience_field=node.string("audience_field", pattern=_FIELD_NAME_RE, default="aud"),
    )
    if config.token_prefix is not None and "." in config.token_prefix:
        raise node.error("token_prefix", "must not hold '.': tokens with dots are read as JWTs")
    node.done()
    return config


def _check_introspection_routes(node: Node, issuers: tuple[IssuerConfig, ...]) -> None:
    """Each opaque token reaches at most one introspection issuer: one may go without a
    ``token_prefix``, the others need distinct ones."""
    seen: dict[str | None, int] = {}
    for index, issuer in enumerate(issuers):
        if issuer.introspection is None:
            continue
        prefix = issuer.introspection.token_prefix
        if prefix in seen:
            what = "a token_prefix" if prefix is None else f"token_prefix {prefix!r}"
            raise node.error(
                f"issuers[{index}].introspection.token_prefix",
                f"issuers[{seen[prefix]}] introspects tokens without {what} already: give "
                "each introspection issuer its own token_prefix"
                if prefix is None
                else f"issuers[{seen[prefix]}] has {what} already",
            )
        seen[prefix] = index


def _parse_revocation(node: Node) -> tuple[frozenset[str], float | None]:
    """``revocation: {kids: [...], issued_before: RFC 3339}`` of an issuer."""
    revocation = node.node("revocation")
    if revocation is None:
        return frozenset(), None
    kids = revocation.strings("kids", pattern=_KID_RE) or ()
    stamp = revocation.optional_string("issued_before", pattern=_INSTANT_RE)
    issued_before = None
    if stamp is not None:
        try:
            issued_before = datetime.fromisoformat(stamp).timestamp()
        except ValueError as exc:
            raise revocation.error("issued_before", f"is not a date and time: {exc}") from exc
    revocation.done()
    return frozenset(kids), issued_before


def _parse_static_token(node: Node) -> StaticToken:
    token = StaticToken(
        id=node.string("id", pattern=re.compile(r"^[A-Za-z0-9_.-]{1,64}$")),
        sha256=node.string("sha256", pattern=SHA256_HEX_RE),
        principal_id=node.string("principal_id"),
        scopes=node.strings("scopes", pattern=SCOPE_RE) or (),
    )
    node.done()
    return token


# An API key's stored hash (its id's pattern is tenant.API_KEY_ID_RE).
API_KEY_HASH_RE: Final = re.compile(r"^sha256\$[0-9a-f]{32}\$[0-9a-f]{64}$")


def _parse_api_key(node: Node) -> ApiKey:
    key_id = node.string("id", pattern=API_KEY_ID_RE)
    _, salt, digest = node.string("hash", pattern=API_KEY_HASH_RE).split("$")
    key = ApiKey(
        id=key_id,
        salt=bytes.fromhex(salt),
        digest=bytes.fromhex(digest),
        principal_id=node.string("principal_id"),
        scopes=node.strings("scopes", pattern=SCOPE_RE) or (),
        bare=node.boolean("bare", default=False),
    )
    node.done()
    return key


# How to write rules for the route keys, for messages about rules that could never match.
ROUTE_KEY_HELP: Final = (
    "for WebSocket $connect write methods: [$connect] with path: '*' (a catch-all rule, "
    "methods '*' and path '*', covers it too); $default needs no rule of its own: every "
    "rule for an HTTP method also guards the requests an HTTP API's $default route serves"
)


def _parse_rule(node: Node) -> RouteRule:
    methods = node.strings("methods") or ("*",)
    for index, method in enumerate(methods):
        if method.lower() == "$default":
            raise node.error(f"methods[{index}]", f"$default is not a method: {ROUTE_KEY_HELP}")
        if method.upper() not in HTTP_METHODS and method != "$connect":
            raise node.error(f"methods[{index}]", f"{method!r} is not an HTTP method or '*'")
    path = node.data.get("path")
    if isinstance(path, str) and "$" in path:
        raise node.error(
            "path", f"{path!r} can never match: route keys are not paths; {ROUTE_KEY_HELP}"
        )
    if "$connect" in methods and isinstance(path, str) and path != "*":
        raise node.error(
            "path", f"$connect has no path, so {path!r} can never match it: {ROUTE_KEY_HELP}"
        )
    rule = RouteRule(
        path=node.string("path", pattern=PATH_RE),
        methods=tuple(m if m == "$connect" else m.upper() for m in methods),
        scopes_any=node.strings("scopes_any", pattern=SCOPE_RE) or (),
        scopes_all=node.strings("scopes_all", pattern=SCOPE_RE) or (),
        claims=node.claim_map("claims"),
    )
    if not (rule.scopes_any or rule.scopes_all or rule.claims):
        raise node.error("scopes_any", "a rule needs scopes_any, scopes_all or claims")
    node.done()
    return rule


def _parse_binding(node: Node, tenant_id: str) -> Binding:
    binding = Binding(
        account_id=node.string("account_id", pattern=ACCOUNT_ID_RE),
        tenant_id=tenant_id,
        api_ids=node.strings("api_ids", pattern=API_ID_RE),
        stages=node.strings("stages", pattern=STAGE_RE),
        response=node.choice("response", ("iam", "simple"), default="iam"),  # type: ignore[arg-type]
        region=node.optional_string("region", pattern=REGION_RE),
    )
    node.done()
    return binding


def parse_binding(data: object, source: str, path: str, tenant_id: str) -> Binding:
    """Parse one binding (as stored in an account document); raise :class:`ConfigError`."""
    return _parse_binding(Node(source, path, data), tenant_id)


def parse_tenant(data: object, source: str, *, require_bindings: bool = True) -> TenantConfig:
    """Parse one tenant document; raise :class:`ConfigError` naming source, field and reason."""
    node = Node(source, "", data)
    tenant_id = node.string("tenant_id", pattern=TENANT_ID_RE)
    node.optional_string("description")
    token = _parse_token_source(node.node("token"))
    dpop = _parse_dpop(node.node("dpop"))
    issuers = tuple(_parse_issuer(n) for n in node.nodes("issuers"))
    seen_iss: set[str] = set()
    for index, issuer in enumerate(issuers):
        if issuer.issuer in seen_iss:
            raise node.error(f"issuers[{index}].issuer", f"{issuer.issuer!r} is listed twice")
        seen_iss.add(issuer.issuer)
    _check_introspection_routes(node, issuers)
    for index, issuer in enumerate(issuers):
        secret_fields = {
            f"issuers[{index}].{field}": getattr(issuer, field)
            for field in ("hmac_secret_parameter", "hmac_previous_secret_parameter")
        }
        if issuer.introspection is not None:
            secret_fields[f"issuers[{index}].introspection.client_secret_parameter"] = (
                issuer.introspection.client_secret_parameter
            )
        for field, secret in secret_fields.items():
            if secret is not None and f"/secrets/{tenant_id}/" not in secret:
                # Ties a secret to its tenant: no tenant can use another's secret.
                raise node.error(
                    field, f"must be under {{prefix}}/secrets/{tenant_id}/, got {secret!r}"
                )
    static_tokens = tuple(_parse_static_token(n) for n in node.nodes("static_tokens"))
    api_keys = tuple(_parse_api_key(n) for n in node.nodes("api_keys"))
    if not issuers and not static_tokens and not api_keys:
        raise node.error("issuers", "a tenant needs at least one issuer, static token or API key")
    if len({t.id for t in static_tokens}) != len(static_tokens):
        raise node.error("static_tokens", "token ids must be unique")
    if len({k.id for k in api_keys}) != len(api_keys):
        raise node.error("api_keys", "key ids must be unique")
    bare = tuple(k for k in api_keys if k.bare)
    if len(bare) > MAX_BARE_API_KEYS:
        raise node.error(
            "api_keys",
            f"{len(bare)} bare keys; at most {MAX_BARE_API_KEYS} (each one is hashed for every "
            "bare key sent): issue keys with their id (tenant-authz api-key new)",
        )

    rules: tuple[RouteRule, ...] = ()
    default_access = "allow"
    routes = node.node("routes")
    if routes is not None:
        default_access = routes.choice("default", ("allow", "deny"), default="allow")
        rules = tuple(_parse_rule(n) for n in routes.nodes("rules"))
        routes.done()

    bindings = tuple(_parse_binding(n, tenant_id) for n in node.nodes("bindings"))
    if require_bindings and not bindings:
        raise node.error("bindings", "is required: list the accounts whose APIs use this tenant")
    node.done()
    return TenantConfig(
        tenant_id=tenant_id,
        issuers=issuers,
        static_tokens=static_tokens,
        token=token,
        api_keys=MappingProxyType({k.id: k for k in api_keys if not k.bare}),
        bare_api_keys=bare,
        introspects=any(i.introspection is not None for i in issuers),
        dpop=dpop,
        rules=rules,
        default_route_access=default_access,  # type: ignore[arg-type]
        bindings=bindings,
    )
