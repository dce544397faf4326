"""Token verification: JWS compact tokens against a tenant's issuers, and static tokens.

PyJWT's algorithm implementations check the signatures; the rest of ``jwt.decode``
(per-character base64url validation, generic option handling) is replaced by a strict
parse that costs a fraction of it (``docs/decisions/0005-verification-fast-path.md``):
each segment is decoded by ``binascii`` in strict mode (the alphabet, padding and length
are checked in C, ``+``, ``/`` and ``=`` are refused), headers are parsed once per distinct
header segment, and every check is explicit: an allowlist of algorithms per issuer (never
``none``), ``iss`` exact match among *this tenant's* issuers, ``aud``, ``exp`` required,
``nbf``, ``iat``, ``typ``, unknown ``crit`` refused, key-carrying headers (``jku``,
``x5u``, ``jwk``, ``x5c``) refused, ``kid`` required when the JWKS has several keys.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from jwt.algorithms import get_default_algorithms

from .decision import claim_matches
from .errors import Reason, TokenRejected
from .jwks import JwksCache

if TYPE_CHECKING:
    from .config import IssuerConfig, TenantConfig

_FORBIDDEN_HEADERS: Final = frozenset({"jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256"})
_ALGORITHMS: Final = get_default_algorithms()
_HEADER_CACHE_MAX: Final = 512
_HEADER_CACHE_SEGMENT_MAX: Final = 512
_CLIENT_ID_CLAIMS: Final = ("client_id", "azp", "cid", "appid")
# RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN_RE: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


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
    jwks_uri: str | None  # with key_generation: lets a cached result notice key removal
    key_generation: int
    stale_key: bool


# base64url (RFC 4648 section 5, unpadded as JWS requires) mapped onto the standard
# alphabet; "+", "/" and "=" become "!", which strict decoding refuses.
_URLSAFE: Final = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING: Final = (b"", b"===", b"==", b"=")


def _b64decode(segment: str) -> bytes:
    """Decode one unpadded base64url segment; ValueError for anything else.

    ``binascii`` in strict mode checks every character in C (no per-character Python
    loop, no regex); non-ASCII input fails the ``encode`` with a ValueError too.
    """
    data = segment.encode("ascii").translate(_URLSAFE)
    return binascii.a2b_base64(data + _PADDING[len(data) % 4], strict_mode=True)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# NaN/Infinity are not JSON (RFC 8259): a time claim must never be non-finite. One decoder
# for the process: json.loads(..., parse_constant=...) would build a new one per call.
_DECODER: Final = json.JSONDecoder(parse_constant=_refuse_constant)


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        value = _DECODER.decode(_b64decode(segment).decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # binascii.Error is a ValueError
        raise TokenRejected(Reason.TOKEN_MALFORMED, f"{what} is not base64url JSON") from exc
    if not isinstance(value, dict):
        raise TokenRejected(Reason.TOKEN_MALFORMED, f"{what} is not a JSON object")
    return value


# Times beyond the year 5000 are nonsense, and would overflow float arithmetic if huge.
_MAX_TIME: Final = 100_000_000_000


def _is_number(value: object) -> bool:
    return (type(value) is int or type(value) is float) and -_MAX_TIME < value < _MAX_TIME


def token_digest(token: str) -> str:
    """SHA-256 of a token, hex: logs carry a prefix of it, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenVerifier:
    """Verifies tokens for a tenant; keys from a :class:`JwksCache`, secrets from a callback."""

    def __init__(
        self,
        jwks: JwksCache,
        secret: Callable[[str, str], bytes],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._jwks = jwks
        self._secret = secret  # (parameter name, tenant id) -> secret bytes
        self._clock = clock
        self._headers: dict[str, dict[str, Any]] = {}

    def verify(self, token: str, tenant: TenantConfig, digest: str) -> VerifiedToken:
        """Verify ``token`` for ``tenant``; raise TokenRejected (401) or PlatformFault (500)."""
        if len(token) > tenant.token.max_length:
            raise TokenRejected(Reason.TOKEN_TOO_LARGE, f"{len(token)} characters")
        if not tenant.issuers or "." not in token:
            return self._verify_static(tenant, digest)
        segments = token.split(".")
        if len(segments) != 3 or not all(segments):
            raise TokenRejected(Reason.TOKEN_MALFORMED, "not a compact JWS")
        header_segment, payload_segment, signature_segment = segments
        # Every segment is decoded strictly below: the header (or a cached parse of exactly
        # this segment), the payload, and the signature before any key is looked up.
        header = self._header(header_segment)
        claims = _json_object(payload_segment, "payload")

        iss = claims.get("iss")
        issuer = tenant.issuer_for(iss) if isinstance(iss, str) else None
        kid = header.get("kid")
        if issuer is None:
            raise TokenRejected(
                Reason.ISSUER_NOT_ALLOWED,
                "iss is not one of this tenant's issuers",
                tenant_id=tenant.tenant_id,
                kid=kid,
            )
        alg = header["alg"]
        if alg not in issuer.algorithms:
            raise TokenRejected(Reason.ALGORITHM_NOT_ALLOWED, f"alg {alg}", issuer=issuer.issuer)
        if issuer.token_type is not None:
            typ = str(header.get("typ", "")).lower().removeprefix("application/")
            if typ != issuer.token_type.lower().removeprefix("application/"):
                raise TokenRejected(Reason.TYPE_MISMATCH, "typ header", issuer=issuer.issuer)

        signing_input = token[: len(header_segment) + 1 + len(payload_segment)].encode()
        try:
            signature = _b64decode(signature_segment)
        except ValueError as exc:
            raise TokenRejected(Reason.TOKEN_MALFORMED, "signature is not base64url") from exc
        algorithm = _ALGORITHMS[alg]
        if issuer.hmac_secret_parameter is not None:
            key: Any = algorithm.prepare_key(
                self._secret(issuer.hmac_secret_parameter, tenant.tenant_id)
            )
            jwks_uri, generation, stale = None, 0, False
        else:
            resolved = self._jwks.get_key(issuer, kid, alg, tenant_id=tenant.tenant_id)
            key = resolved.key
            jwks_uri, generation = resolved.jwks_uri, resolved.generation
            stale = resolved.stale
        try:
            valid = algorithm.verify(signing_input, key, signature)
        except Exception as exc:
            raise TokenRejected(Reason.SIGNATURE_INVALID, type(exc).__name__, kid=kid) from exc
        if not valid:
            raise TokenRejected(Reason.SIGNATURE_INVALID, "", kid=kid, issuer=issuer.issuer)

        expires_at = self._check_claims(claims, issuer)
        principal = claims.get(issuer.principal_claim)
        if not isinstance(principal, str) or not principal:
            raise TokenRejected(
                Reason.CLAIM_MISSING, f"principal claim {issuer.principal_claim}", kid=kid
            )
        return VerifiedToken(  # positional: one call per decision, keywords cost more
            issuer.issuer,
            principal,
            _scopes(claims.get(issuer.scope_claim), issuer.scope_claim),
            claims,
            _client_id(claims),
            kid,
            expires_at,
            issuer,
            jwks_uri,
            generation,
            stale,
        )

    def _header(self, segment: str) -> dict[str, Any]:
        cached = self._headers.get(segment)
        if cached is not None:
            return cached
        header = _json_object(segment, "header")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in _ALGORITHMS or alg == "none":
            raise TokenRejected(Reason.ALGORITHM_NOT_ALLOWED, f"alg {str(alg)[:16]!r}")
        forbidden = _FORBIDDEN_HEADERS.intersection(header)
        if forbidden:
            raise TokenRejected(Reason.HEADER_NOT_ALLOWED, f"header {sorted(forbidden)[0]}")
        if "crit" in header or header.get("b64", True) is not True:
            raise TokenRejected(Reason.HEADER_NOT_ALLOWED, "crit/b64 extensions are not supported")
        kid = header.get("kid")
        if kid is not None and (not isinstance(kid, str) or len(kid) > 256):
            raise TokenRejected(Reason.TOKEN_MALFORMED, "kid must be a short string")
        # Only short headers are remembered: they are cached before the signature is
        # checked, so a forged header must not be able to pin much memory.
        if len(segment) <= _HEADER_CACHE_SEGMENT_MAX:
            if len(self._headers) >= _HEADER_CACHE_MAX:
                self._headers.clear()
            self._headers[segment] = header
        return header

    def _check_claims(self, claims: Mapping[str, Any], issuer: IssuerConfig) -> float:
        now = self._clock()
        skew = issuer.clock_skew_seconds
        exp = claims.get("exp")
        if not _is_number(exp) or not isinstance(exp, int | float):
            raise TokenRejected(Reason.CLAIM_MISSING, "exp is required and must be a number")
        if now > exp + skew:
            raise TokenRejected(Reason.TOKEN_EXPIRED, "", issuer=issuer.issuer)
        nbf = claims.get("nbf")
        if nbf is not None:
            if not _is_number(nbf):
                raise TokenRejected(Reason.TOKEN_MALFORMED, "nbf must be a number")
            if now + skew < nbf:
                raise TokenRejected(Reason.TOKEN_NOT_YET_VALID, "", issuer=issuer.issuer)
        iat = claims.get("iat")
        if iat is not None:
            if not _is_number(iat):
                raise TokenRejected(Reason.TOKEN_MALFORMED, "iat must be a number")
            if now + skew < iat:
                raise TokenRejected(Reason.ISSUED_IN_FUTURE, "", issuer=issuer.issuer)
        if issuer.max_token_age_seconds is not None:
            if iat is None:
                raise TokenRejected(Reason.CLAIM_MISSING, "iat is required (max_token_age)")
            if now - iat > issuer.max_token_age_seconds + skew:
                raise TokenRejected(Reason.TOKEN_EXPIRED, "older than max_token_age_seconds")
            # The token stops being acceptable at whichever comes first (repeat cache too).
            exp = min(exp, iat + issuer.max_token_age_seconds)

        if issuer.audiences:
            aud = claims.get("aud")
            auds = aud if isinstance(aud, list) else [aud]
            if not any(isinstance(a, str) and a in issuer.audiences for a in auds):
                raise TokenRejected(Reason.AUDIENCE_MISMATCH, "", issuer=issuer.issuer)
        cognito = issuer.cognito
        if cognito is not None:
            if claims.get("token_use") != cognito.token_use:
                raise TokenRejected(Reason.CLAIM_MISMATCH, "token_use", issuer=issuer.issuer)
            client = claims.get("client_id" if cognito.token_use == "access" else "aud")
            if client not in cognito.client_ids:
                raise TokenRejected(Reason.AUDIENCE_MISMATCH, "client_id", issuer=issuer.issuer)
        for name, expected in issuer.required_claims.items():
            if name not in claims:
                raise TokenRejected(Reason.CLAIM_MISSING, name, issuer=issuer.issuer)
            if not claim_matches(claims[name], expected):
                raise TokenRejected(Reason.CLAIM_MISMATCH, name, issuer=issuer.issuer)
        return float(exp)

    def _verify_static(self, tenant: TenantConfig, digest: str) -> VerifiedToken:
        if not tenant.static_tokens:
            raise TokenRejected(Reason.TOKEN_MALFORMED, "not a JWT", tenant_id=tenant.tenant_id)
        match = None
        for candidate in tenant.static_tokens:
            # Compare every entry in constant time: timing reveals neither which nor how close.
            if hmac.compare_digest(candidate.sha256, digest):
                match = candidate
        if match is None:
            raise TokenRejected(Reason.STATIC_TOKEN_UNKNOWN, "", tenant_id=tenant.tenant_id)
        return VerifiedToken(
            issuer=f"static:{match.id}",
            principal_id=match.principal_id,
            scopes=frozenset(match.scopes),
            claims={},
            client_id=match.id,
            kid=None,
            expires_at=None,
            issuer_config=None,
            jwks_uri=None,
            key_generation=0,
            stale_key=False,
        )


def _scopes(value: object, claim: str) -> frozenset[str]:
    """The scopes of a token: a space-delimited string (RFC 6749 3.3) or a list (``scp``).

    Every scope must be an RFC 6749 scope-token (printable ASCII, no space, quote or
    backslash): the context carries the scopes space-delimited, so a scope holding a space
    would read as two to the backend. Anything else is refused, never silently dropped.
    """
    if value is None:
        return frozenset()
    if isinstance(value, str):
        items: list[object] = [item for item in value.split(" ") if item]
    elif isinstance(value, list):
        items = value
    else:
        raise TokenRejected(Reason.SCOPE_MALFORMED, f"{claim} is neither a string nor a list")
    scopes: list[str] = []
    for item in items:
        if not isinstance(item, str) or not _SCOPE_TOKEN_RE.fullmatch(item):
            raise TokenRejected(
                Reason.SCOPE_MALFORMED, f"{claim} holds a value that is not a scope-token"
            )
        scopes.append(item)
    return frozenset(scopes)


def _client_id(claims: Mapping[str, Any]) -> str | None:
    for name in _CLIENT_ID_CLAIMS:
        value = claims.get(name)
        if isinstance(value, str):
            return value
    return None
