"""The tenant configuration model: immutable NamedTuples and their strict parser.

A tenant document (one YAML file in ``tenant_configs/``, or the JSON the runtime reads
from SSM) is parsed here and nowhere else. The parser rejects unknown fields and
unsafe combinations, and every error names the source, the field path and the reason,
so that ``tenant-authz validate`` and the runtime say the same thing.
``tenant_configs/schema.json`` describes the same document for editors and CI; a test
keeps the two in agreement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple

from . import names
from .errors import ConfigError

ResponseMode = Literal["iam", "simple"]
DiscoveryMode = Literal["oidc", "oauth", "none"]

# Shared with the warm path, which does not import this parser: defined in .names.
ASYMMETRIC_ALGORITHMS: Final = names.ASYMMETRIC_ALGORITHMS
HMAC_ALGORITHMS: Final = names.HMAC_ALGORITHMS
REQUEST_METHODS: Final = names.REQUEST_METHODS
SUPPORTED_ALGORITHMS: Final = ASYMMETRIC_ALGORITHMS | HMAC_ALGORITHMS
RESERVED_CONTEXT_KEYS: Final = frozenset(
    {"tenant_id", "principal_id", "scopes", "issuer", "client_id", "token_hash"}
)
HTTP_METHODS: Final = frozenset({*REQUEST_METHODS, "*", "$connect"})
TENANT_ID_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
ACCOUNT_ID_RE: Final = re.compile(names.ACCOUNT_ID_PATTERN)
API_ID_RE: Final = re.compile(r"^[a-z0-9]{10}$")
STAGE_RE: Final = re.compile(names.STAGE_PATTERN)
CLAIM_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_:.\-/]{1,128}$")
HEADER_NAME_RE: Final = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
SHA256_HEX_RE: Final = re.compile(r"^[0-9a-f]{64}$")
# A rule path: "/"-separated segments of path characters, each possibly a whole "{name}"
# or "{name+}" (read as "*"), or "*" alone. No "$": route keys are not paths.
PATH_RE: Final = re.compile(r"^(/([A-Za-z0-9._~!&'()+,;=:@*-]*|\{[A-Za-z0-9._-]+\+?\}))+$|^\*$")
SSM_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_.\-/]{1,512}$")
# RFC 6749 3.3 scope-token: printable ASCII without space, '"' and '\'.
SCOPE_RE: Final = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,256}$")

ClaimValue = str | int | float | bool

# What each pattern means, for error messages (the schema uses the same patterns).
PATTERN_MEANINGS: Final = {
    TENANT_ID_RE.pattern: "a lower-case id of 2-63 letters, digits and '-'",
    ACCOUNT_ID_RE.pattern: "a 12-digit AWS account id, quoted in YAML",
    API_ID_RE.pattern: "a 10-character API Gateway API id",
    STAGE_RE.pattern: "a stage name (letters, digits, '-', '_') or $default",
    CLAIM_NAME_RE.pattern: "a claim name (letters, digits and _:.-/)",
    HEADER_NAME_RE.pattern: "an HTTP header name",
    SHA256_HEX_RE.pattern: "64 lower-case hex digits (a SHA-256)",
    PATH_RE.pattern: "a path starting with '/' whose '{name}' parameters are whole segments "
    "(or '*')",
    SSM_NAME_RE.pattern: "an SSM parameter name",
    SCOPE_RE.pattern: "a scope (printable ASCII without spaces, quotes or backslashes)",
    "^https://": "an https:// URL (http:// only with local_development: true)",
    "^https?://": "an http:// or https:// URL",
}


def describe_mismatch(value: object, pattern: str) -> str:
    """The reason a value failed ``pattern``, in words when the pattern is a known one."""
    meaning = PATTERN_MEANINGS.get(pattern)
    if pattern == SHA256_HEX_RE.pattern:
        # What was pasted here may be the token itself: never repeat it.
        return f"is not {meaning} of the token (never the token itself)"
    if meaning is None:
        return f"{value!r} does not match {pattern}"
    return f"{value!r} is not {meaning}"


# NamedTuples rather than frozen dataclasses: ~0.2 ms instead of ~0.8 ms each at cold
# start. A NamedTuple default is shared by every instance, hence a read-only empty mapping.
_NO_CLAIMS: Final[Mapping[str, tuple[ClaimValue, ...]]] = MappingProxyType({})


class TokenSource(NamedTuple):
    """Where a tenant's clients put the token, and which scheme prefixes it."""

    kind: Literal["header", "query", "cookie"] = "header"
    name: str = "authorization"  # header names are stored lower-case
    scheme: str | None = "bearer"  # stored lower-case; None means a bare token
    max_length: int = 8192


class CognitoRules(NamedTuple):
    """Cognito access tokens carry no ``aud``: check ``token_use`` and ``client_id``."""

    token_use: Literal["access", "id"]
    client_ids: tuple[str, ...]


class IssuerConfig(NamedTuple):
    """One issuer a tenant trusts, and every rule its tokens must satisfy."""

    issuer: str
    algorithms: tuple[str, ...] = ("RS256",)
    audiences: tuple[str, ...] = ()
    jwks_uri: str | None = None
    discovery: DiscoveryMode = "oidc"
    hmac_secret_parameter: str | None = None
    required_claims: Mapping[str, tuple[ClaimValue, ...]] = _NO_CLAIMS
    token_type: str | None = None
    clock_skew_seconds: int = 60
    max_token_age_seconds: int | None = None
    scope_claim: str = "scope"
    principal_claim: str = "sub"
    forward_claims: tuple[str, ...] = ()
    cognito: CognitoRules | None = None
    local_development: bool = False

    @property
    def is_hmac(self) -> bool:
        """True when tokens are verified with a shared secret instead of a JWKS."""
        return self.hmac_secret_parameter is not None


class StaticToken(NamedTuple):
    """An opaque API token, stored only as its SHA-256 (e.g. a custom ``authtoken`` header)."""

    id: str
    sha256: str
    principal_id: str
    scopes: tuple[str, ...] = ()


class RouteRule(NamedTuple):
    """Requirements on the routes that ``methods`` and ``path`` cover.

    ``path`` uses IAM glob semantics (``*`` matches any characters, ``/`` included;
    ``{name}`` and ``{proxy+}`` are read as ``*``) so that the decision taken here and
    the IAM policy API Gateway caches always agree.
    """

    path: str
    methods: tuple[str, ...] = ("*",)
    scopes_any: tuple[str, ...] = ()
    scopes_all: tuple[str, ...] = ()
    claims: Mapping[str, tuple[ClaimValue, ...]] = _NO_CLAIMS


class Binding(NamedTuple):
    """Which APIs (and stages) of an account belong to a tenant, and how to answer them."""

    account_id: str
    tenant_id: str
    api_ids: tuple[str, ...] | None = None  # None: every API of the account
    stages: tuple[str, ...] | None = None  # None: every stage
    response: ResponseMode = "iam"


class TenantConfig(NamedTuple):
    """Everything the runtime needs to decide for one tenant."""

    tenant_id: str
    issuers: tuple[IssuerConfig, ...] = ()
    static_tokens: tuple[StaticToken, ...] = ()
    token: TokenSource = TokenSource()
    rules: tuple[RouteRule, ...] = ()
    default_route_access: Literal["allow", "deny"] = "allow"
    bindings: tuple[Binding, ...] = ()

    def issuer_for(self, iss: str) -> IssuerConfig | None:
        """The issuer config whose ``issuer`` equals ``iss`` exactly, if this tenant has one."""
        for issuer in self.issuers:
            if issuer.issuer == iss:
                return issuer
        return None


# --------------------------------------------------------------------------- parsing


class _Node:
    """A mapping being parsed, with the path used in error messages."""

    def __init__(self, source: str, path: str, value: object) -> None:
        if not isinstance(value, Mapping):
            raise ConfigError(source, path or "(document)", "must be a mapping")
        self.source = source
        self.path = path
        self.data: Mapping[str, Any] = value
        self.seen: set[str] = set()

    def _field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, reason: str) -> ConfigError:
        return ConfigError(self.source, self._field(key), reason)

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def raw(self, key: str) -> object:
        self.seen.add(key)
        return self.data.get(key)

    def string(
        self, key: str, *, pattern: re.Pattern[str] | None = None, default: str | None = None
    ) -> str:
        value = self.raw(key)
        if value is None:
            if default is not None:
                return default
            raise self.error(key, "is required")
        if not isinstance(value, str) or not value:
            raise self.error(key, "must be a non-empty string")
        if pattern is not None and not pattern.fullmatch(value):
            raise self.error(key, describe_mismatch(value, pattern.pattern))
        return value

    def optional_string(self, key: str, *, pattern: re.Pattern[str] | None = None) -> str | None:
        if not self.has(key):
            self.seen.add(key)
            return None
        return self.string(key, pattern=pattern)

    def optional_integer(self, key: str, *, low: int, high: int) -> int | None:
        if not self.has(key):
            self.seen.add(key)
            return None
        return self.integer(key, default=low, low=low, high=high)

    def integer(self, key: str, *, default: int, low: int, high: int) -> int:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, "must be an integer")
        if not low <= value <= high:
            raise self.error(key, f"must be between {low} and {high}, got {value}")
        return value

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, "must be true or false")
        return value

    def choice(self, key: str, choices: Sequence[str], *, default: str) -> str:
        value = self.raw(key)
        if value is None:
            return default
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return str(value)

    def strings(
        self,
        key: str,
        *,
        pattern: re.Pattern[str] | None = None,
        allow_empty: bool = False,
    ) -> tuple[str, ...] | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self.error(key, "must be a list of strings")
        if not value and not allow_empty:
            raise self.error(key, "must not be empty (omit it instead)")
        out: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise self.error(f"{key}[{index}]", "must be a non-empty string")
            if pattern is not None and not pattern.fullmatch(item):
                raise self.error(f"{key}[{index}]", describe_mismatch(item, pattern.pattern))
            if item in out:
                raise self.error(f"{key}[{index}]", f"{item!r} is listed twice")
            out.append(item)
        return tuple(out)

    def nodes(self, key: str) -> list[_Node]:
        value = self.raw(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, "must be a list")
        return [
            _Node(self.source, f"{self._field(key)}[{i}]", item) for i, item in enumerate(value)
        ]

    def node(self, key: str) -> _Node | None:
        value = self.raw(key)
        if value is None:
            return None
        return _Node(self.source, self._field(key), value)

    def claim_map(self, key: str) -> dict[str, tuple[ClaimValue, ...]]:
        value = self.raw(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping) or not value:
            raise self.error(key, "must be a non-empty mapping of claim name to value(s)")
        out: dict[str, tuple[ClaimValue, ...]] = {}
        for name, expected in value.items():
            if not isinstance(name, str) or not CLAIM_NAME_RE.fullmatch(name):
                raise self.error(key, f"claim name {name!r} is not valid")
            values = expected if isinstance(expected, list) else [expected]
            if not values or not all(isinstance(v, str | int | float | bool) for v in values):
                raise self.error(f"{key}.{name}", "must be a string, number, boolean or a list")
            out[name] = tuple(values)
        return out

    def done(self) -> None:
        """Reject fields the model does not know: a typo must not silently weaken a rule."""
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise self.error(unknown[0], "is not a known field")


def _url(node: _Node, key: str, *, local_development: bool) -> str:
    value = node.string(key)
    if value.startswith("https://"):
        return value
    if value.startswith("http://") and local_development:
        return value
    raise node.error(key, "must be an https:// URL (http:// only with local_development: true)")


def _parse_token_source(node: _Node | None) -> TokenSource:
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


def _parse_issuer(node: _Node) -> IssuerConfig:
    local = node.boolean("local_development", default=False)
    issuer = _url(node, "issuer", local_development=local)
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

    jwks_uri = _url(node, "jwks_uri", local_development=local) if node.has("jwks_uri") else None
    node.seen.add("jwks_uri")
    default_discovery = "none" if (jwks_uri or hmac) else "oidc"
    discovery = node.choice("discovery", ("oidc", "oauth", "none"), default=default_discovery)
    if discovery == "none" and jwks_uri is None and not hmac:
        raise node.error("jwks_uri", "is required when discovery is none")
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
    )
    node.done()
    return config


def _parse_static_token(node: _Node) -> StaticToken:
    token = StaticToken(
        id=node.string("id", pattern=re.compile(r"^[A-Za-z0-9_.-]{1,64}$")),
        sha256=node.string("sha256", pattern=SHA256_HEX_RE),
        principal_id=node.string("principal_id"),
        scopes=node.strings("scopes", pattern=SCOPE_RE) or (),
    )
    node.done()
    return token


# How to write rules for the route keys, for messages about rules that could never match.
ROUTE_KEY_HELP: Final = (
    "for WebSocket $connect write methods: [$connect] with path: '*' (a catch-all rule, "
    "methods '*' and path '*', covers it too); $default needs no rule of its own: every "
    "rule for an HTTP method also guards the requests an HTTP API's $default route serves"
)


def _parse_rule(node: _Node) -> RouteRule:
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


def _parse_binding(node: _Node, tenant_id: str) -> Binding:
    binding = Binding(
        account_id=node.string("account_id", pattern=ACCOUNT_ID_RE),
        tenant_id=tenant_id,
        api_ids=node.strings("api_ids", pattern=API_ID_RE),
        stages=node.strings("stages", pattern=STAGE_RE),
        response=node.choice("response", ("iam", "simple"), default="iam"),  # type: ignore[arg-type]
    )
    node.done()
    return binding


def parse_binding(data: object, source: str, path: str, tenant_id: str) -> Binding:
    """Parse one binding (as stored in an account document); raise :class:`ConfigError`."""
    return _parse_binding(_Node(source, path, data), tenant_id)


def parse_tenant(data: object, source: str, *, require_bindings: bool = True) -> TenantConfig:
    """Parse one tenant document; raise :class:`ConfigError` naming source, field and reason."""
    node = _Node(source, "", data)
    tenant_id = node.string("tenant_id", pattern=TENANT_ID_RE)
    node.optional_string("description")
    token = _parse_token_source(node.node("token"))
    issuers = tuple(_parse_issuer(n) for n in node.nodes("issuers"))
    seen_iss: set[str] = set()
    for index, issuer in enumerate(issuers):
        if issuer.issuer in seen_iss:
            raise node.error(f"issuers[{index}].issuer", f"{issuer.issuer!r} is listed twice")
        seen_iss.add(issuer.issuer)
    for index, issuer in enumerate(issuers):
        secret = issuer.hmac_secret_parameter
        if secret is not None and f"/secrets/{tenant_id}/" not in secret:
            # Ties a secret to its tenant: no tenant can verify with another's HS* secret.
            raise node.error(
                f"issuers[{index}].hmac_secret_parameter",
                f"must be under {{prefix}}/secrets/{tenant_id}/, got {secret!r}",
            )
    static_tokens = tuple(_parse_static_token(n) for n in node.nodes("static_tokens"))
    if not issuers and not static_tokens:
        raise node.error("issuers", "a tenant needs at least one issuer or static token")
    if len({t.id for t in static_tokens}) != len(static_tokens):
        raise node.error("static_tokens", "token ids must be unique")

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
        rules=rules,
        default_route_access=default_access,  # type: ignore[arg-type]
        bindings=bindings,
    )
