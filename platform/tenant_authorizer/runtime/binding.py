"""Sender-constrained tokens: mTLS-bound (RFC 8705) and DPoP-bound (RFC 9449).

A token that names its holder in ``cnf`` is only as good as the proof that the caller
holds it, so a bound token is refused without one, whether or not its issuer requires
binding (``sender_constraint``):

* ``cnf.x5t#S256`` -- the SHA-256 thumbprint of the client certificate API Gateway
  passes when the API has mutual TLS (``requestContext.identity.clientCert`` of REST
  events, ``requestContext.authentication.clientCert`` of HTTP API events) must equal it;
* ``cnf.jkt`` -- the ``DPoP`` header must hold exactly one proof (RFC 9449 4.3): a
  ``dpop+jwt`` signed with an allowed asymmetric ``alg`` by the public ``jwk`` in its
  header (no private members), whose RFC 7638 thumbprint is ``jkt``, with ``htm`` the
  request's method, ``htu`` its URL (rebuilt from the event, or the tenant's
  ``dpop.public_base_url``), ``iat`` within the window, ``ath`` the hash of the access
  token, and a ``jti`` this instance has not seen within the window.

TOKEN and WebSocket events carry neither a header API Gateway passes nor a certificate:
a bound token arriving through one is ``binding_unsupported``. The ``jti`` memory is per
warm instance: it stops a proof replayed to the same instance, not one replayed to
another (``docs/decisions/0028``). A Lambda authorizer cannot answer with a
``DPoP-Nonce``, so server-provided nonces are not used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import jwt

from .bounded import BoundedTable
from .claims import show
from .errors import Reason, TokenRejected
from .events import AuthRequest, EventKind
from .jws import SIGNATURE_CHECKS, b64decode, json_object

if TYPE_CHECKING:
    from .tenant import DpopSettings, TenantConfig

_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
_THUMBPRINT_MEMBERS: Final = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}
_PROOF_MAX: Final = 8192
_KEYS_BYTES: Final = 1024 * 1024
_SEEN_BYTES: Final = 16 * 1024 * 1024  # every tenant's jti memory together
_TENANT_SEEN_BYTES: Final = 1024 * 1024  # one tenant's
_SEEN_ENTRY: Final = 300  # a remembered jti beyond its two strings (dict slot, tuples)
_PEM_RE: Final = re.compile(
    r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", flags=re.DOTALL
)
# How far a proof's iat may lie ahead of this instance's clock (the client's drift).
_FUTURE_SKEW: Final = 10
# A SHA-256 thumbprint, base64url without padding (cnf.jkt, cnf.x5t#S256, a proof's ath).
_THUMBPRINT_RE: Final = re.compile(r"[A-Za-z0-9_-]{43}")
_JTI_RE: Final = re.compile(r"[\x21-\x7e]{1,256}")
# RFC 7518 3.4: each ES* algorithm is tied to one curve.
_EC_CURVES: Final = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


class Binding:
    """What a verified token is bound to, and what its issuer requires; held by the memo."""

    __slots__ = ("jkt", "required", "x5t")

    def __init__(self, x5t: str | None, jkt: str | None, required: str) -> None:
        self.x5t = x5t  # cnf.x5t#S256: the client certificate's SHA-256 thumbprint
        self.jkt = jkt  # cnf.jkt: the DPoP key's RFC 7638 thumbprint
        self.required = required  # the issuer's sender_constraint: none, mtls or dpop


def binding_of(cnf: object, required: str) -> Binding | None:
    """The binding of a token's (or an introspection answer's) ``cnf``; None: unbound.

    A ``cnf`` that binds the token by another method (``jwk``, ``jku``, ``kid``) cannot
    be checked here: the token is refused rather than used as a bearer token.
    """
    if cnf is None:
        return Binding(None, None, required) if required != "none" else None
    if not isinstance(cnf, Mapping):
        raise TokenRejected(Reason.TOKEN_MALFORMED, "cnf is not an object")
    x5t, jkt = cnf.get("x5t#S256"), cnf.get("jkt")
    for name, value in (("x5t#S256", x5t), ("jkt", jkt)):
        if value is not None and (
            not isinstance(value, str) or not _THUMBPRINT_RE.fullmatch(value)
        ):
            raise TokenRejected(Reason.TOKEN_MALFORMED, f"cnf.{name} is not a SHA-256 thumbprint")
    if x5t is None and jkt is None:
        if cnf:
            raise TokenRejected(
                Reason.BINDING_UNSUPPORTED,
                f"cnf binds the token by {', '.join(sorted(map(str, cnf)))[:80]}: only "
                "x5t#S256 (mTLS) and jkt (DPoP) are checked",
            )
        return Binding(None, None, required) if required != "none" else None
    return Binding(x5t, jkt, required)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, without whitespace."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or not all(isinstance(jwk.get(m), str) for m in members):
        raise TokenRejected(
            Reason.DPOP_PROOF_INVALID, "the proof's jwk is not an EC, RSA or OKP key"
        )
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def certificate_thumbprint(pem: str) -> str:
    """RFC 8705 3.1: base64url SHA-256 of the certificate's DER encoding."""
    match = _PEM_RE.search(pem)
    if match is None:
        raise TokenRejected(Reason.CERTIFICATE_MISSING, "the client certificate is not PEM")
    try:
        der = base64.b64decode("".join(match.group(1).split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TokenRejected(
            Reason.CERTIFICATE_MISSING, "the client certificate is not PEM"
        ) from exc
    return _b64url(hashlib.sha256(der).digest())


def _client_certificate(event: Mapping[str, Any]) -> str | None:
    context = event.get("requestContext")
    if not isinstance(context, Mapping):
        return None
    for holder in ("identity", "authentication"):  # REST and HTTP 1.0; HTTP API
        section = context.get(holder)
        cert = section.get("clientCert") if isinstance(section, Mapping) else None
        pem = cert.get("clientCertPem") if isinstance(cert, Mapping) else None
        if isinstance(pem, str) and pem:
            return pem
    return None


def request_url(request: AuthRequest, settings: DpopSettings) -> str:
    """The URL the client called, as a DPoP proof's ``htu`` names it (no query).

    With ``public_base_url`` (a CloudFront or other front the client calls): that URL
    and the path after the stage. Otherwise ``https://`` and the domain API Gateway
    received the request on, with the path the client sent: the stage included on an
    execute-api domain, the base path of a custom domain's mapping included on it.
    """
    caller = request.caller
    context = _context(request)
    if settings.public_base_url is not None:
        path = caller.path
        if not path:  # a route key ($default) names no path: the event's, after the stage
            http = context.get("http")
            raw = http.get("path") if isinstance(http, Mapping) else context.get("path")
            sent = raw if isinstance(raw, str) and raw.startswith("/") else "/"
            stage = f"/{caller.stage}"
            path = sent[len(stage) :] if sent == stage or sent.startswith(stage + "/") else sent
        return settings.public_base_url.rstrip("/") + path
    domain = context.get("domainName")  # written by API Gateway; Host is the client's
    if not isinstance(domain, str) or not domain:
        raise TokenRejected(
            Reason.DPOP_PROOF_INVALID,
            "the event names no domainName, so the request's URL cannot be rebuilt: "
            "set dpop.public_base_url",
        )
    http = context.get("http")
    given = http.get("path") if isinstance(http, Mapping) else context.get("path")
    request_path = (
        given
        if isinstance(given, str) and given.startswith("/")
        else f"/{caller.stage}{caller.path}"
    )
    return f"https://{domain.lower()}{request_path}"


def _context(request: AuthRequest) -> Mapping[str, Any]:
    context = (request.event or {}).get("requestContext")
    return context if isinstance(context, Mapping) else {}


def request_method(request: AuthRequest) -> str:
    """The HTTP method of the request (a $default route's ARN names no method)."""
    context = _context(request)
    http = context.get("http")
    method = http.get("method") if isinstance(http, Mapping) else context.get("httpMethod")
    if not isinstance(method, str):
        method = (request.event or {}).get("httpMethod")
    return method if isinstance(method, str) and method else request.caller.method


def _normal_url(url: str) -> tuple[str, str, str] | None:
    """Scheme, host[:port] and path of ``url`` for comparison (RFC 3986 6.2.2-6.2.3)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("https", "http") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if port is not None and port != (443 if parts.scheme.lower() == "https" else 80):
        host += f":{port}"
    return parts.scheme.lower(), host, parts.path or "/"


class _Memory:
    """One tenant's jti memory: (jkt, jti) -> end of its window, in arrival order."""

    __slots__ = ("bytes", "order", "seen")

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], float] = {}
        self.order: deque[tuple[float, tuple[str, str], int]] = deque()
        self.bytes = 0

    def sweep(self, now: float) -> int:
        """Forget the entries whose window has ended; the bytes freed."""
        freed = 0
        order = self.order
        while order and order[0][0] <= now:
            expired, old, old_size = order.popleft()
            freed += old_size
            if self.seen.get(old) == expired:  # not remembered again since
                del self.seen[old]
        self.bytes -= freed
        return freed


class BindingCheck:
    """Checks the proof of possession a bound token needs; one per process, thread-safe.

    Each tenant has its own jti memory (``tenant_bytes``), all of them together at most
    ``seen_bytes``: one tenant's client flooding valid proofs fills its own tenant's
    memory, never another's.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        seen_bytes: int = _SEEN_BYTES,
        tenant_bytes: int = _TENANT_SEEN_BYTES,
    ) -> None:
        self._clock = clock
        self._keys: BoundedTable[str, tuple[Any, str]] = BoundedTable(_KEYS_BYTES)
        self._memories: dict[str, _Memory] = {}
        self._total = 0
        self._seen_max = seen_bytes
        self._tenant_max = tenant_bytes
        self._lock = threading.Lock()

    def check(
        self, binding: Binding, request: AuthRequest, tenant: TenantConfig, token: str
    ) -> None:
        """Nothing when the caller proves it holds what the token is bound to."""
        if request.kind in (EventKind.REST_TOKEN, EventKind.WEBSOCKET):
            raise TokenRejected(
                Reason.BINDING_UNSUPPORTED,
                f"a {'certificate' if binding.x5t else 'DPoP'}-bound token reached a "
                f"{request.kind.value} authorizer, whose event carries no proof: use a "
                "REQUEST authorizer",
            )
        if binding.required == "mtls" and binding.x5t is None:
            raise TokenRejected(Reason.BINDING_REQUIRED, "the issuer requires cnf.x5t#S256")
        if binding.required == "dpop" and binding.jkt is None:
            raise TokenRejected(Reason.BINDING_REQUIRED, "the issuer requires cnf.jkt (DPoP)")
        event = request.event or {}
        if binding.x5t is not None:
            pem = _client_certificate(event)
            if pem is None:
                raise TokenRejected(
                    Reason.CERTIFICATE_MISSING,
                    "the token is bound to a client certificate; the API has no mutual TLS "
                    "or the client sent none",
                )
            if not hmac.compare_digest(certificate_thumbprint(pem), binding.x5t):
                raise TokenRejected(
                    Reason.CERTIFICATE_MISMATCH, "cnf.x5t#S256 is another certificate's"
                )
        if binding.jkt is not None:
            if request.scheme(tenant.token) not in (None, "dpop"):
                raise TokenRejected(
                    Reason.DPOP_PROOF_INVALID, "a DPoP-bound token must come as 'DPoP <token>'"
                )
            self._dpop(binding.jkt, request, tenant, token, event)

    def _dpop(
        self,
        jkt: str,
        request: AuthRequest,
        tenant: TenantConfig,
        token: str,
        event: Mapping[str, Any],
    ) -> None:
        settings = tenant.dpop
        proof = _one_proof(request, event)
        segments = proof.split(".")
        if len(segments) != 3 or len(proof) > _PROOF_MAX:
            raise TokenRejected(Reason.DPOP_PROOF_INVALID, "the proof is not a compact JWS")
        header = _proof_json(segments[0], "header")
        if header.get("typ") != "dpop+jwt":
            raise TokenRejected(Reason.DPOP_PROOF_INVALID, "typ must be dpop+jwt")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in settings.algorithms:
            raise TokenRejected(
                Reason.DPOP_PROOF_INVALID,
                f"alg {show(alg, 16)}; allowed: {', '.join(settings.algorithms)}",
            )
        if "crit" in header:  # RFC 7515 4.1.11: no extension is understood here
            raise TokenRejected(Reason.DPOP_PROOF_INVALID, "crit extensions are not supported")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or _PRIVATE_MEMBERS.intersection(jwk):
            raise TokenRejected(
                Reason.DPOP_PROOF_INVALID, "the proof needs a public jwk and no private members"
            )
        curve = _EC_CURVES.get(alg)
        if curve is not None and jwk.get("crv") != curve:
            raise TokenRejected(Reason.DPOP_PROOF_INVALID, f"{alg} needs a {curve} key")
        thumbprint = jwk_thumbprint(jwk)
        if not hmac.compare_digest(thumbprint, jkt):
            raise TokenRejected(Reason.DPOP_KEY_MISMATCH, "the proof's key is not cnf.jkt")
        key = self._key(thumbprint, jwk, alg)
        try:
            signature = b64decode(segments[2])
            signing_input = f"{segments[0]}.{segments[1]}".encode("ascii")
            valid = SIGNATURE_CHECKS[alg](signing_input, key, signature)
        except (ValueError, TypeError) as exc:
            raise TokenRejected(Reason.DPOP_PROOF_INVALID, "the proof's signature") from exc
        if not valid:
            raise TokenRejected(Reason.DPOP_PROOF_INVALID, "the proof's signature does not verify")
        claims = _proof_json(segments[1], "payload")
        self._claims(claims, jkt, request, tenant, token)

    def _claims(
        self,
        claims: Mapping[str, Any],
        jkt: str,
        request: AuthRequest,
        tenant: TenantConfig,
        token: str,
    ) -> None:
        settings = tenant.dpop
        jti = claims.get("jti")
        if not isinstance(jti, str) or not _JTI_RE.fullmatch(jti):
            raise TokenRejected(Reason.DPOP_PROOF_INVALID, "jti: 1-256 printable ASCII characters")
        method = request_method(request)
        if claims.get("htm") != method:
            raise TokenRejected(
                Reason.DPOP_PROOF_INVALID,
                f"htm {show(claims.get('htm'), 16)}, the request is {method[:16]}",
            )
        htu = claims.get("htu")
        expected = request_url(request, settings)
        wanted = _normal_url(expected)
        if wanted is None or not isinstance(htu, str) or _normal_url(htu) != wanted:
            raise TokenRejected(
                Reason.DPOP_PROOF_INVALID, f"htu {show(htu, 120)}, the request is {expected[:200]}"
            )
        expected_ath = _b64url(hashlib.sha256(token.encode("ascii")).digest())
        ath = claims.get("ath")
        if (
            not isinstance(ath, str)
            or not _THUMBPRINT_RE.fullmatch(ath)
            or not hmac.compare_digest(ath, expected_ath)
        ):
            raise TokenRejected(Reason.DPOP_PROOF_INVALID, "ath is not the access token's hash")
        iat = claims.get("iat")
        now = self._clock()
        if (type(iat) is not int and type(iat) is not float) or not 0 <= iat < 1e11:
            raise TokenRejected(Reason.DPOP_PROOF_INVALID, "iat is required, a time")
        if iat > now + _FUTURE_SKEW or iat < now - settings.max_age_seconds:
            raise TokenRejected(
                Reason.DPOP_PROOF_STALE,
                f"iat is {now - iat:.0f}s ago; proofs are accepted for {settings.max_age_seconds}s",
            )
        until = iat + settings.max_age_seconds + _FUTURE_SKEW
        self._remember(tenant.tenant_id, jkt, jti, until, now)

    def _remember(self, tenant_id: str, jkt: str, jti: str, until: float, now: float) -> None:
        """Refuse a jti seen within its window; remember this one until it ends.

        Nothing is forgotten before its window ends: a flood of valid proofs would else
        push a captured proof's jti out and let it replay. When the tenant's memory (or
        all of them together) is full of live entries, new proofs are refused until some
        expire (fail closed).
        """
        key = (jkt, jti)
        size = _SEEN_ENTRY + len(jkt) + len(jti)
        with self._lock:
            memory = self._memories.get(tenant_id)
            if memory is None:
                memory = self._memories[tenant_id] = _Memory()
            held = memory.seen.get(key)
            if held is not None and now < held:
                raise TokenRejected(Reason.DPOP_PROOF_REPLAYED, "this proof's jti was used")
            self._total -= memory.sweep(now)
            if self._total + size > self._seen_max:  # sweep every tenant before refusing
                for other in list(self._memories.values()):
                    self._total -= other.sweep(now)
                for name in [n for n, m in self._memories.items() if not m.seen]:
                    del self._memories[name]
                memory = self._memories.setdefault(tenant_id, memory)
            if memory.bytes + size > self._tenant_max or self._total + size > self._seen_max:
                raise TokenRejected(
                    Reason.DPOP_PROOF_REPLAYED,
                    "this instance's proof memory for the tenant is full of live proofs: "
                    "refused until some expire (a flood of proofs)",
                )
            memory.seen[key] = until
            memory.order.append((until, key, size))
            memory.bytes += size
            self._total += size

    def _key(self, thumbprint: str, jwk: Mapping[str, Any], alg: str) -> Any:
        held = self._keys.get(thumbprint)
        if held is not None and held[1] == alg:
            return held[0]
        try:
            key = jwt.PyJWK(dict(jwk), algorithm=alg).key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
            raise TokenRejected(
                Reason.DPOP_PROOF_INVALID, f"the proof's jwk is no {alg} public key"
            ) from exc
        if hasattr(key, "private_bytes"):
            raise TokenRejected(Reason.DPOP_PROOF_INVALID, "the proof's jwk is a private key")
        if getattr(key, "key_size", 2048) < 2048 and str(jwk.get("kty")) == "RSA":
            raise TokenRejected(Reason.DPOP_PROOF_INVALID, "an RSA proof key needs 2048 bits")
        self._keys.put(thumbprint, (key, alg), 2048)
        return key


def _proof_json(segment: str, what: str) -> dict[str, Any]:
    try:
        return json_object(segment, f"DPoP proof {what}")
    except TokenRejected as exc:  # the proof is malformed, not the access token
        raise TokenRejected(Reason.DPOP_PROOF_INVALID, exc.detail) from exc


def _one_proof(request: AuthRequest, event: Mapping[str, Any]) -> str:
    """The request's one DPoP header (RFC 9449 4.3: exactly one)."""
    proof = request.headers.get("dpop")
    if not proof:
        raise TokenRejected(Reason.DPOP_PROOF_MISSING, "no DPoP header")
    multi = event.get("multiValueHeaders")
    if isinstance(multi, Mapping):
        values = [v for k, v in multi.items() if isinstance(k, str) and k.lower() == "dpop"]
        if sum(len(v) if isinstance(v, list) else 1 for v in values) > 1:
            raise TokenRejected(Reason.DPOP_PROOF_INVALID, "more than one DPoP header")
    if "," in proof:  # HTTP API events join repeated headers with commas
        raise TokenRejected(Reason.DPOP_PROOF_INVALID, "more than one DPoP header")
    return proof.strip()
