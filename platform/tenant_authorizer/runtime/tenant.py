"""The tenant configuration model: immutable NamedTuples, what the runtime decides with.

A tenant document is parsed into these by :mod:`.tenant_parser` (imported only when a
document is read, not at cold start); the warm path only reads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, NamedTuple

from .identifiers import API_KEY_ID_PATTERN

ResponseMode = Literal["iam", "simple"]
DiscoveryMode = Literal["oidc", "oauth", "none"]
ClaimValue = str | int | float | bool

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


class Introspection(NamedTuple):
    """How an issuer's opaque tokens are checked: RFC 7662 token introspection."""

    client_id: str
    client_secret_parameter: str  # SecureString under {prefix}/secrets/<tenant_id>/
    endpoint: str | None = None  # None: the metadata's introspection_endpoint (RFC 8414)
    auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    token_prefix: str | None = None  # routes opaque tokens when a tenant has several
    cache_seconds: int = 300  # an active answer is held at most this long (and to exp)
    inactive_cache_seconds: int = 10  # an inactive one: a repeated bad token asks once
    max_calls_per_second: int = 25  # per warm instance: a flood of new tokens is bounded
    principal_field: str = "sub"
    scope_field: str = "scope"
    audience_field: str = "aud"


SenderConstraint = Literal["none", "mtls", "dpop"]
# Asymmetric algorithms a DPoP proof may use (RFC 9449 never allows none or HS*).
DPOP_ALGORITHMS: Final = ("ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA")


class DpopSettings(NamedTuple):
    """How a tenant's APIs check DPoP proofs (RFC 9449)."""

    public_base_url: str | None = None  # the URL clients call, when it is not API Gateway's
    max_age_seconds: int = 60  # a proof's iat is accepted this long
    algorithms: tuple[str, ...] = DPOP_ALGORITHMS


class IssuerConfig(NamedTuple):
    """One issuer a tenant trusts, and every rule its tokens must satisfy."""

    issuer: str
    algorithms: tuple[str, ...] = ("RS256",)
    audiences: tuple[str, ...] = ()
    jwks_uri: str | None = None
    discovery: DiscoveryMode = "oidc"
    hmac_secret_parameter: str | None = None
    # During a rotation: the secret tokens signed before it are still accepted with.
    hmac_previous_secret_parameter: str | None = None
    required_claims: Mapping[str, tuple[ClaimValue, ...]] = _NO_CLAIMS
    token_type: str | None = None
    clock_skew_seconds: int = 60
    max_token_age_seconds: int | None = None
    scope_claim: str = "scope"
    principal_claim: str = "sub"
    forward_claims: tuple[str, ...] = ()
    cognito: CognitoRules | None = None
    local_development: bool = False
    # Revocation (docs/runbooks/emergency-key-revocation.md): keys of this issuer refused
    # for this tenant by kid, and the instant before which its tokens were issued refused.
    revoked_kids: frozenset[str] = frozenset()
    issued_before: float | None = None
    introspection: Introspection | None = None  # opaque tokens of this issuer
    # What the issuer requires of its tokens' binding; a bound token is checked always.
    sender_constraint: SenderConstraint = "none"

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


class ApiKey(NamedTuple):
    """A machine client's key, stored only as a salted SHA-256 (``docs/decisions/0027``).

    A key made by ``tenant-authz api-key new`` reads ``tak_<id>_<secret>`` and is found by
    its id; a ``bare`` key (one chosen elsewhere, without the id) is checked against every
    bare entry of its tenant, at most :data:`MAX_BARE_API_KEYS` of them.
    """

    id: str
    salt: bytes
    digest: bytes  # SHA-256 of salt || the key as sent
    principal_id: str
    scopes: tuple[str, ...] = ()
    bare: bool = False


# An API key's id: part of the key, so no "_" (which separates it from the secret).
API_KEY_ID_RE: Final = re.compile(API_KEY_ID_PATTERN)
MAX_BARE_API_KEYS: Final = 16
_NO_API_KEYS: Final[Mapping[str, ApiKey]] = MappingProxyType({})


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
    # The region of the APIs (Terraform's invoke permission and hand-off; None: the
    # platform's source_region). Not in account documents: the permission enforces it.
    region: str | None = None


class TenantConfig(NamedTuple):
    """Everything the runtime needs to decide for one tenant."""

    tenant_id: str
    issuers: tuple[IssuerConfig, ...] = ()
    static_tokens: tuple[StaticToken, ...] = ()
    token: TokenSource = TokenSource()
    api_keys: Mapping[str, ApiKey] = _NO_API_KEYS  # by id: the keys that carry it
    bare_api_keys: tuple[ApiKey, ...] = ()
    introspects: bool = False  # an issuer has introspection: opaque tokens may hold dots
    dpop: DpopSettings = DpopSettings()
    rules: tuple[RouteRule, ...] = ()
    default_route_access: Literal["allow", "deny"] = "allow"
    bindings: tuple[Binding, ...] = ()

    def introspection_issuer(self, token: str) -> IssuerConfig | None:
        """The issuer whose introspection endpoint an opaque ``token`` goes to, if any:
        the one whose ``token_prefix`` it starts with (the longest), else the one without."""
        fallback = None
        best = None
        for issuer in self.issuers:
            config = issuer.introspection
            if config is None:
                continue
            prefix = config.token_prefix
            if prefix is None:
                fallback = issuer
            elif token.startswith(prefix) and (
                best is None or len(prefix) > len(best.introspection.token_prefix or "")  # type: ignore[union-attr]
            ):
                best = issuer
        return best or fallback

    def issuer_for(self, iss: str) -> IssuerConfig | None:
        """The issuer config whose ``issuer`` equals ``iss`` exactly, if this tenant has one."""
        for issuer in self.issuers:
            if issuer.issuer == iss:
                return issuer
        return None
