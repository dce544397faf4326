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
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from jwt.algorithms import get_default_algorithms

from .decision import claim_matches
from .errors import AuthorizerError, PlatformFault, Reason, TokenRejected
from .jwks import JwksCache

if TYPE_CHECKING:
    from .tenant import IssuerConfig, TenantConfig

_FORBIDDEN_HEADERS: Final = frozenset({"jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256"})
_ALGORITHMS: Final = get_default_algorithms()
_HEADER_CACHE_MAX: Final = 512
_HEADER_CACHE_SEGMENT_MAX: Final = 512
_CLIENT_ID_CLAIMS: Final = ("client_id", "azp", "cid", "appid")
# RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN_RE: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_SCOPE_STRING_RE: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e ]*")
_EMPTY: Final = frozenset({""})


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


# base64url (RFC 4648 section 5, unpadded as JWS requires) mapped onto the standard
# alphabet; "+", "/" and "=" become "!", which strict decoding refuses.
_URLSAFE: Final = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING: Final = (b"", b"===", b"==", b"=")


_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# The last character of a segment of length 4n+2 carries 4 bits that decode to nothing,
# of length 4n+3 two: only the spelling with those bits zero is canonical (RFC 4648 3.5).
_LOOSE_LAST: Final[tuple[frozenset[str], ...]] = (
    frozenset(),
    frozenset(),
    frozenset(c for i, c in enumerate(_ALPHABET) if i & 0x0F),
    frozenset(c for i, c in enumerate(_ALPHABET) if i & 0x03),
)


def _b64decode(segment: str) -> bytes:
    """Decode one unpadded, canonical base64url segment; ValueError for anything else.

    ``binascii`` in strict mode checks every character in C (no per-character Python
    loop, no regex); non-ASCII input fails the ``encode`` with a ValueError too. A last
    character with non-zero unused bits is refused, so that one signature has one
    spelling (else 16 spellings of an RS256 signature verify, each its own token).
    """
    if segment and segment[-1] in _LOOSE_LAST[len(segment) % 4]:
        raise ValueError("base64url segment is not in canonical form")
    data = segment.encode("ascii").translate(_URLSAFE)
    return binascii.a2b_base64(data + _PADDING[len(data) % 4], strict_mode=True)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: valid JSON, but no claim can be infinite
        raise ValueError(f"{text[:16]} is not a finite number")
    return value


# NaN/Infinity are not JSON (RFC 8259), and a number that overflows to infinity is no
# claim either: nothing non-finite reaches a check or a context. One decoder for the
# process: json.loads(..., parse_constant=...) would build a new one per call.
_DECODER: Final = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


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


def _peek(segment: str) -> dict[str, Any]:
    """A segment's JSON object, or nothing: for naming a refused token, never for trust."""
    try:
        return _json_object(segment, "segment")
    except TokenRejected:
        return {}


def _name_the_token(exc: AuthorizerError, segments: list[str]) -> None:
    """Put the refused token's ``kid`` and ``iss`` (unverified, shortened) on ``exc``."""
    if exc.kid is None:
        kid = _peek(segments[0]).get("kid")
        if isinstance(kid, str):
            exc.kid = kid[:256]
    if exc.issuer is None:
        iss = _peek(segments[1]).get("iss")
        if isinstance(iss, str):
            exc.issuer = iss[:256]


def _show(value: object, limit: int = 64) -> str:
    """A claim value for a refusal's detail: its repr, cut short (it is the client's)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        if not tenant.issuers or "." not in token:
            return self._verify_static(tenant, digest)
        segments = token.split(".")
        if len(segments) != 3 or not all(segments):
            raise TokenRejected(Reason.TOKEN_MALFORMED, "not a compact JWS")
        try:
            # Every segment is decoded strictly: the header (or a cached parse of exactly
            # this segment), the payload, and the signature before any key is looked up.
            header = self._header(segments[0])
            claims = _json_object(segments[1], "payload")
            return self._verify_jws(token, segments, header, claims, tenant, budget=budget)
        except AuthorizerError as exc:
            _name_the_token(exc, segments)
            raise

    def _verify_jws(
        self,
        token: str,
        segments: list[str],
        header: Mapping[str, Any],
        claims: Mapping[str, Any],
        tenant: TenantConfig,
        *,
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
                    f"typ {_show(header.get('typ'), 40)}, expected {issuer.token_type}",
                    issuer=issuer.issuer,
                )

        header_segment, payload_segment, signature_segment = segments
        signing_input = token[: len(header_segment) + 1 + len(payload_segment)].encode()
        try:
            signature = _b64decode(signature_segment)
        except ValueError as exc:
            raise TokenRejected(Reason.TOKEN_MALFORMED, "signature is not base64url") from exc
        algorithm = _ALGORITHMS[alg]
        if issuer.hmac_secret_parameter is not None:
            key: Any = self._hmac_key(issuer, alg, tenant.tenant_id)
            jwks_uri, generation, stale = None, 0, False
        else:
            resolved = self._jwks.get_key(
                issuer, kid, alg, tenant_id=tenant.tenant_id, budget=budget
            )
            key = resolved.key
            jwks_uri, generation = resolved.jwks_uri, resolved.generation
            stale = resolved.stale
        try:
            valid = algorithm.verify(signing_input, key, signature)
        except Exception as exc:
            raise TokenRejected(Reason.SIGNATURE_INVALID, type(exc).__name__) from exc
        if not valid:
            raise TokenRejected(
                Reason.SIGNATURE_INVALID, f"{alg} signature does not verify", issuer=issuer.issuer
            )

        expires_at = self._check_claims(claims, issuer)
        principal = claims.get(issuer.principal_claim)
        if not isinstance(principal, str) or not principal:
            raise TokenRejected(Reason.CLAIM_MISSING, f"principal claim {issuer.principal_claim}")
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
            alg,
        )

    def _hmac_key(self, issuer: IssuerConfig, alg: str, tenant_id: str) -> bytes:
        """The tenant's HS* secret, refused (``secret_invalid``) if it cannot sign ``alg``."""
        name = issuer.hmac_secret_parameter or ""
        secret = self._secret(name, tenant_id)
        problem = hmac_secret_problem(secret, alg)
        if problem is not None:
            raise PlatformFault(Reason.SECRET_INVALID, f"{name}: {problem}", tenant_id=tenant_id)
        return secret  # PyJWT's HMAC verify takes the raw bytes; prepare_key re-checks

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
        """Every claim rule of ``issuer``; the instant the token stops being acceptable."""
        now = self._clock()
        skew = issuer.clock_skew_seconds
        exp = claims.get("exp")
        if not _is_number(exp) or not isinstance(exp, int | float):
            raise TokenRejected(Reason.CLAIM_MISSING, "exp is required and must be a number")
        if now > exp + skew:
            raise TokenRejected(
                Reason.TOKEN_EXPIRED,
                f"exp {exp} passed {now - exp:.0f}s ago (clock skew {skew}s)",
                issuer=issuer.issuer,
            )
        nbf = claims.get("nbf")
        if nbf is not None:
            if not _is_number(nbf):
                raise TokenRejected(Reason.TOKEN_MALFORMED, "nbf must be a number")
            if now + skew < nbf:
                raise TokenRejected(
                    Reason.TOKEN_NOT_YET_VALID,
                    f"nbf {nbf} is {nbf - now:.0f}s ahead (clock skew {skew}s)",
                    issuer=issuer.issuer,
                )
        iat = claims.get("iat")
        if iat is not None:
            if not _is_number(iat):
                raise TokenRejected(Reason.TOKEN_MALFORMED, "iat must be a number")
            if now + skew < iat:
                raise TokenRejected(
                    Reason.ISSUED_IN_FUTURE,
                    f"iat {iat} is {iat - now:.0f}s ahead (clock skew {skew}s)",
                    issuer=issuer.issuer,
                )
        if issuer.max_token_age_seconds is not None:
            if iat is None:
                raise TokenRejected(Reason.CLAIM_MISSING, "iat is required (max_token_age)")
            if now - iat > issuer.max_token_age_seconds + skew:
                raise TokenRejected(
                    Reason.TOKEN_EXPIRED,
                    f"issued {now - iat:.0f}s ago, over max_token_age_seconds "
                    f"{issuer.max_token_age_seconds}",
                    issuer=issuer.issuer,
                )
            # The token stops being acceptable at whichever comes first (repeat cache too).
            exp = min(exp, iat + issuer.max_token_age_seconds)

        if issuer.audiences:
            aud = claims.get("aud")
            auds = aud if isinstance(aud, list) else [aud]
            if not any(isinstance(a, str) and a in issuer.audiences for a in auds):
                raise TokenRejected(
                    Reason.AUDIENCE_MISMATCH,
                    f"aud {_show(aud)}, expected one of {', '.join(issuer.audiences)}",
                    issuer=issuer.issuer,
                )
        cognito = issuer.cognito
        if cognito is not None:
            if claims.get("token_use") != cognito.token_use:
                raise TokenRejected(
                    Reason.CLAIM_MISMATCH,
                    f"token_use {_show(claims.get('token_use'), 16)}, expected {cognito.token_use}",
                    issuer=issuer.issuer,
                )
            field = "client_id" if cognito.token_use == "access" else "aud"
            client = claims.get(field)
            if client not in cognito.client_ids:
                raise TokenRejected(
                    Reason.AUDIENCE_MISMATCH,
                    f"{field} {_show(client)}, expected one of {', '.join(cognito.client_ids)}",
                    issuer=issuer.issuer,
                )
        for name, expected in issuer.required_claims.items():
            if name not in claims:
                raise TokenRejected(Reason.CLAIM_MISSING, name, issuer=issuer.issuer)
            if not claim_matches(claims[name], expected):
                # The expected values only: the token's value may be personal data.
                raise TokenRejected(
                    Reason.CLAIM_MISMATCH,
                    f"{name} is none of {', '.join(map(str, expected))}",
                    issuer=issuer.issuer,
                )
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
            alg=None,
        )


def _scopes(value: object, claim: str) -> frozenset[str]:
    """The scopes of a token: a space-delimited string (RFC 6749 3.3) or a list (``scp``).

    Every scope must be an RFC 6749 scope-token (printable ASCII, no space, quote or
    backslash): the context carries the scopes space-delimited, so a scope holding a space
    would read as two to the backend. Anything else is refused, never silently dropped.
    """
    if value is None:
        return frozenset()
    if type(value) is str:
        # One pass in C over the whole string: scope-tokens and the spaces between them.
        if _SCOPE_STRING_RE.fullmatch(value):
            return frozenset(value.split(" ")) - _EMPTY
    elif isinstance(value, list):
        if all(type(item) is str and _SCOPE_TOKEN_RE.fullmatch(item) for item in value):
            return frozenset(value)
    else:
        raise TokenRejected(Reason.SCOPE_MALFORMED, f"{claim} is neither a string nor a list")
    raise TokenRejected(Reason.SCOPE_MALFORMED, f"{claim} holds a value that is not a scope-token")


def _client_id(claims: Mapping[str, Any]) -> str | None:
    for name in _CLIENT_ID_CLAIMS:
        value = claims.get(name)
        if isinstance(value, str):
            return value
    return None
