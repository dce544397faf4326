"""Token verification: JWS compact tokens against a tenant's issuers, and static tokens.

PyJWT's algorithm implementations check the signatures (RS* and ES* through
``cryptography`` directly, :data:`.jws.SIGNATURE_CHECKS`, with the same answers); the rest
of ``jwt.decode`` is replaced by a strict parse that costs a fraction of it
(``docs/decisions/0005-verification-fast-path.md``): :mod:`.jws` reads the segments and
the header, :mod:`.claims` the claims, and this module ties them to the tenant: ``iss``
exact match among *this tenant's* issuers, the issuer's algorithm allowlist (never
``none``), ``typ``, the key (a JWKS, or an HS* secret checked against RFC 7518), the
signature, the principal. Static tokens are compared by SHA-256 in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .claims import check_claims, check_issued_before, client_id, scopes, show
from .errors import AuthorizerError, PlatformFault, Reason, TokenRejected
from .identifiers import API_KEY_PREFIX
from .jwks import JwksCache
from .jws import SIGNATURE_CHECKS, HeaderCheck, b64decode, json_object, peek

if TYPE_CHECKING:
    from .binding import Binding
    from .introspection import Introspector
    from .tenant import IssuerConfig, TenantConfig


class VerifiedToken(NamedTuple):
    """A token that passed every check, and what decisions and context need from it."""

    issuer: str
    principal_id: str
    scopes: frozenset[str]
    claims: Mapping[str, Any]
    client_id: str | None
    kid: str | None
    expires_at: float | None  # epoch seconds; None for static tokens
    issuer_config: IssuerConfig | None  # None for static tokens
    jwks_uri: str | None  # with key_generation and alg: lets a cached result see key removal
    key_generation: int
    stale_key: bool
    alg: str | None  # the header's alg (None for static tokens)
    # When set, the instant a memory of this token must end (an introspection's answer).
    memo_until: float | None = None
    binding: Binding | None = None  # cnf (RFC 8705 / RFC 9449), or what the issuer requires


_new_tuple: Final = tuple.__new__
# RFC 7518 3.2: an HMAC key at least as long as the hash output.
_HMAC_MIN_BYTES: Final = {"HS256": 32, "HS384": 48, "HS512": 64}
_PUBLIC_KEY_MARKERS: Final = (b"-----BEGIN", b"ssh-rsa ", b"ssh-ed25519 ", b"ecdsa-sha2-")


def hmac_secret_problem(secret: bytes, alg: str) -> str | None:
    """Why ``secret`` cannot sign ``alg`` tokens, or None when it can.

    Shared by the runtime (``secret_invalid``) and ``tenant-authz validate
    --check-secrets``: empty, a pasted public key or certificate (key confusion), or
    shorter than the hash.
    """
    if not secret.strip():
        return "the secret is empty"
    if any(marker in secret[:64] for marker in _PUBLIC_KEY_MARKERS):
        return "the secret looks like a PEM or SSH key, not an HMAC secret"
    needed = _HMAC_MIN_BYTES.get(alg, 64)
    if len(secret) < needed:
        return f"the secret is {len(secret)} bytes; {alg} needs at least {needed} (RFC 7518 3.2)"
    return None


def _name_the_token(exc: AuthorizerError, segments: list[str]) -> None:
    """Put the refused token's ``kid`` and ``iss`` (unverified, shortened) on ``exc``."""
    if exc.kid is None:
        kid = peek(segments[0]).get("kid")
        if isinstance(kid, str):
            exc.kid = kid[:256]
    if exc.issuer is None:
        iss = peek(segments[1]).get("iss")
        if isinstance(iss, str):
            exc.issuer = iss[:256]


class TokenVerifier:
    """Verifies tokens for a tenant; keys from a :class:`JwksCache`, secrets from a callback."""

    def __init__(
        self,
        jwks: JwksCache,
        secret: Callable[[str, str], bytes],
        *,
        clock: Callable[[], float] = time.time,
        introspector: Callable[[], Introspector] | None = None,
    ) -> None:
        self._jwks = jwks
        self._secret = secret  # (parameter name, tenant id) -> secret bytes
        self._clock = clock
        self._header = HeaderCheck()
        self._known_header = self._header.known
        self._introspector = introspector  # made on the first opaque token

    def verify(
        self, token: str, tenant: TenantConfig, digest: str, budget: float | None = None
    ) -> VerifiedToken:
        """Verify ``token`` for ``tenant``; raise TokenRejected (401) or PlatformFault (500).

        ``budget`` is the seconds all key fetches this takes may spend together. A refusal
        carries the token's ``kid`` and (unverified, shortened) ``iss`` whenever they
        parse, so that its decision line says what was refused.
        """
        if len(token) > tenant.token.max_length:
            raise TokenRejected(Reason.TOKEN_TOO_LARGE, f"{len(token)} characters")
        if (
            not tenant.issuers
            or "." not in token
            or (tenant.introspects and token.count(".") not in (2, 4))  # not JWS, not JWE
        ):
            return self._verify_local(tenant, token, digest, budget)
        segments = token.split(".")
        if len(segments) != 3 or "" in segments:
            raise TokenRejected(Reason.TOKEN_MALFORMED, "not a compact JWS")
        try:
            # Every segment is decoded strictly: the header (or a cached parse of exactly
            # this segment), the payload, and the signature before any key is looked up.
            header = self._known_header(segments[0]) or self._header(segments[0])
            claims = json_object(segments[1], "payload")
            return self._verify_jws(token, segments, header, claims, tenant, budget)
        except AuthorizerError as exc:
            _name_the_token(exc, segments)
            raise

    def _verify_jws(  # noqa: PLR0917  (one call site; keywords cost each new token)
        self,
        token: str,
        segments: list[str],
        header: Mapping[str, Any],
        claims: Mapping[str, Any],
        tenant: TenantConfig,
        budget: float | None,
    ) -> VerifiedToken:
        iss = claims.get("iss")
        issuer = tenant.issuer_for(iss) if isinstance(iss, str) else None
        kid = header.get("kid")
        if issuer is None:
            raise TokenRejected(
                Reason.ISSUER_NOT_ALLOWED,
                "iss is not one of this tenant's issuers: "
                + ", ".join(i.issuer for i in tenant.issuers),
                tenant_id=tenant.tenant_id,
            )
        if (
            issuer.introspection is not None
            and issuer.jwks_uri is None
            and (issuer.discovery == "none")
        ):
            raise TokenRejected(
                Reason.TOKEN_MALFORMED,
                "this issuer's tokens are opaque (introspected); it publishes no keys for JWTs",
                issuer=issuer.issuer,
            )
        alg = header["alg"]
        if alg not in issuer.algorithms:
            raise TokenRejected(
                Reason.ALGORITHM_NOT_ALLOWED,
                f"alg {alg}; the issuer allows {', '.join(issuer.algorithms)}",
                issuer=issuer.issuer,
            )
        if issuer.token_type is not None:
            typ = str(header.get("typ", "")).lower().removeprefix("application/")
            if typ != issuer.token_type.lower().removeprefix("application/"):
                raise TokenRejected(
                    Reason.TYPE_MISMATCH,
                    f"typ {show(header.get('typ'), 40)}, expected {issuer.token_type}",
                    issuer=issuer.issuer,
                )

        if kid in issuer.revoked_kids:
            raise TokenRejected(
                Reason.KEY_REVOKED,
                f"kid {show(kid, 80)} is revoked for this tenant (revocation.kids)",
                issuer=issuer.issuer,
            )
        header_segment, payload_segment, signature_segment = segments
        signing_input = token[: len(header_segment) + 1 + len(payload_segment)].encode()
        try:
            signature = b64decode(signature_segment)
        except ValueError as exc:
            raise TokenRejected(Reason.TOKEN_MALFORMED, "signature is not base64url") from exc
        check_signature = SIGNATURE_CHECKS[alg]
        if issuer.hmac_secret_parameter is not None:
            key: Any = self._hmac_key(issuer, alg, tenant.tenant_id)
            jwks_uri, generation, stale = None, 0, False
        else:
            resolved = self._jwks.get_key(issuer, kid, alg, tenant.tenant_id, budget)
            if resolved.kid is not None and resolved.kid in issuer.revoked_kids:
                # A token without kid still resolves to the JWKS's only key for its alg.
                raise TokenRejected(
                    Reason.KEY_REVOKED,
                    f"the key (kid {show(resolved.kid, 80)}) is revoked for this tenant",
                    issuer=issuer.issuer,
                )
            key = resolved.key
            jwks_uri, generation = resolved.jwks_uri, resolved.generation
            stale = resolved.stale
        try:
            valid = check_signature(signing_input, key, signature)
            previous = issuer.hmac_previous_secret_parameter
            if not valid and previous is not None:
                # A rotation's overlap: tokens signed with the secret before still verify.
                # Read only when the current secret failed: a warm token costs one HMAC.
                old_key = self._hmac_key(issuer, alg, tenant.tenant_id, previous)
                valid = check_signature(signing_input, old_key, signature)
        except AuthorizerError:
            raise
        except Exception as exc:
            raise TokenRejected(Reason.SIGNATURE_INVALID, type(exc).__name__) from exc
        if not valid:
            raise TokenRejected(
                Reason.SIGNATURE_INVALID, f"{alg} signature does not verify", issuer=issuer.issuer
            )

        expires_at = check_claims(claims, issuer, self._clock())
        if issuer.issued_before is not None:
            check_issued_before(claims, issuer)
        principal = claims.get(issuer.principal_claim)
        if not isinstance(principal, str) or not principal:
            raise TokenRejected(Reason.CLAIM_MISSING, f"principal claim {issuer.principal_claim}")
        cnf = claims.get("cnf")
        bound = None
        if cnf is not None or issuer.sender_constraint != "none":
            from .binding import binding_of  # noqa: PLC0415  (bound tokens only)

            bound = binding_of(cnf, issuer.sender_constraint)
        # tuple.__new__ with every field, in order: a NamedTuple's own __new__ is a Python
        # function, and this is one call per new token (0.1 us less).
        return _new_tuple(
            VerifiedToken,
            (
                issuer.issuer,
                principal,
                scopes(claims.get(issuer.scope_claim), issuer.scope_claim),
                claims,
                client_id(claims),
                kid,
                expires_at,
                issuer,
                jwks_uri,
                generation,
                stale,
                alg,
                None,
                bound,
            ),
        )

    def _hmac_key(
        self, issuer: IssuerConfig, alg: str, tenant_id: str, name: str | None = None
    ) -> bytes:
        """The tenant's HS* secret (``name``: another of its secrets than the current one),
        refused (``secret_invalid``) if it cannot sign ``alg``."""
        name = name or issuer.hmac_secret_parameter or ""
        secret = self._secret(name, tenant_id)
        problem = hmac_secret_problem(secret, alg)
        if problem is not None:
            raise PlatformFault(Reason.SECRET_INVALID, f"{name}: {problem}", tenant_id=tenant_id)
        return secret  # PyJWT's HMAC verify takes the raw bytes; prepare_key re-checks

    def _verify_local(
        self, tenant: TenantConfig, token: str, digest: str, budget: float | None = None
    ) -> VerifiedToken:
        """A token that is no JWS: one of the tenant's own API keys or static tokens.

        Matched here, on this instance, and never sent anywhere. A key that carries its id
        (``tak_<id>_<secret>``) is one salted hash; anything else is compared with every
        static token (by the SHA-256 the decision computed already) and hashed for every
        bare API key: at most 16 (``MAX_BARE_API_KEYS``), so a flood of wrong keys costs
        each decision at most 16 hashes (``make bench``).
        """
        if token.startswith(API_KEY_PREFIX) and tenant.api_keys:
            return self._verify_api_key(tenant, token)
        opaque = tenant.introspection_issuer(token) if tenant.introspects else None
        if not tenant.static_tokens and not tenant.bare_api_keys:
            if opaque is not None:
                return self._introspect(token, digest, opaque, tenant, budget)
            detail = "not a JWT" + (
                ", and no issuer's introspection.token_prefix starts it"
                if tenant.introspects
                else ""
            )
            raise TokenRejected(Reason.TOKEN_MALFORMED, detail, tenant_id=tenant.tenant_id)
        match = None
        for candidate in tenant.static_tokens:
            # Compare every entry in constant time: timing reveals neither which nor how close.
            if hmac.compare_digest(candidate.sha256, digest):
                match = candidate
        if match is not None:
            return _local_token(f"static:{match.id}", match.principal_id, match.scopes, match.id)
        sent = token.encode()
        key = None
        for candidate_key in tenant.bare_api_keys:
            if hmac.compare_digest(_salted(candidate_key.salt, sent), candidate_key.digest):
                key = candidate_key
        if key is not None:
            return _local_token(f"api_key:{key.id}", key.principal_id, key.scopes, key.id)
        if opaque is not None:  # the tenant's own keys first: they never leave the instance
            return self._introspect(token, digest, opaque, tenant, budget)
        raise TokenRejected(Reason.STATIC_TOKEN_UNKNOWN, "", tenant_id=tenant.tenant_id)

    def _introspect(
        self,
        token: str,
        digest: str,
        issuer: IssuerConfig,
        tenant: TenantConfig,
        budget: float | None,
    ) -> VerifiedToken:
        """An opaque token, as the issuer's introspection endpoint answers for it."""
        if self._introspector is None:
            raise PlatformFault(
                Reason.INTROSPECTION_UNAVAILABLE,
                "this authorizer was built without introspection",
                tenant_id=tenant.tenant_id,
            )
        rule_claims = frozenset(name for rule in tenant.rules for name in rule.claims)
        answer = self._introspector().introspect(
            token, digest, issuer, tenant.tenant_id, budget, rule_claims
        )
        return VerifiedToken(
            issuer.issuer,
            answer.principal,
            answer.scopes,
            answer.claims,
            answer.client_id,
            None,
            answer.expires_at,
            issuer,
            None,
            0,
            False,
            None,
            answer.until,
            answer.binding,
        )

    def _verify_api_key(self, tenant: TenantConfig, token: str) -> VerifiedToken:
        """``tak_<id>_<secret>``: the entry of that id, and one salted hash compared."""
        key_id, _, secret = token[len(API_KEY_PREFIX) :].partition("_")
        key = tenant.api_keys.get(key_id)
        if key is None or not secret:
            # The tenant's ids are not secret (logged once matched); what stands where an
            # unknown id should may be the secret itself (a key sent without its id), so it
            # is never quoted: the line's token_hash tells such attempts apart.
            detail = "no API key with that id" if key is None else f"API key {key.id}: no secret"
            raise TokenRejected(Reason.API_KEY_UNKNOWN, detail, tenant_id=tenant.tenant_id)
        if not hmac.compare_digest(_salted(key.salt, token.encode()), key.digest):
            raise TokenRejected(
                Reason.API_KEY_UNKNOWN,
                f"API key {key.id}: the secret does not match",
                tenant_id=tenant.tenant_id,
            )
        return _local_token(f"api_key:{key.id}", key.principal_id, key.scopes, key.id)


def _salted(salt: bytes, key: bytes) -> bytes:
    """The stored form of an API key: SHA-256 of its salt and the key as sent."""
    return hashlib.sha256(salt + key).digest()


def _local_token(
    issuer: str, principal: str, granted: tuple[str, ...], client: str
) -> VerifiedToken:
    return VerifiedToken(
        issuer=issuer,
        principal_id=principal,
        scopes=frozenset(granted),
        claims={},
        client_id=client,
        kid=None,
        expires_at=None,
        issuer_config=None,
        jwks_uri=None,
        key_generation=0,
        stale_key=False,
        alg=None,
    )
