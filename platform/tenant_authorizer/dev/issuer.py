"""A small, real OAuth 2.0 / OpenID Connect issuer for development and tests.

It serves, on 127.0.0.1 from a background thread (:mod:`.issuer_http`):

* ``GET  {path}/.well-known/openid-configuration``          OpenID Connect discovery
* ``GET  /.well-known/oauth-authorization-server{path}``    RFC 8414 metadata
* ``GET  {path}/jwks.json``                                 the public keys (max-age 300)
* ``POST {path}/token``    OAuth 2.0 ``client_credentials`` (RFC 6749 section 4.4)
* ``POST {path}/rotate``   rotate a key (``?alg=RS256&keep_old=false``), for ``make run``

Keys are generated in memory when the server starts (unless given) and never written
to disk. Any client id is accepted; the client secret must equal ``client_secret``.
This is a development tool: it has no authorization endpoint and no users, and it must
never be reachable from outside the machine.
"""

from __future__ import annotations

import enum
import secrets
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar, Final, Self

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

from .background import serve_in_background, stop_background
from .issuer_http import IssuerRequestHandler, IssuerServer

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

_EC_CURVES: Final[Mapping[str, ec.EllipticCurve]] = {
    "ES256": ec.SECP256R1(),
    "ES384": ec.SECP384R1(),
    "ES512": ec.SECP521R1(),
}
SUPPORTED: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class _Default(enum.Enum):
    """Sentinel for "argument not given" where None is a meaningful value."""

    VALUE = enum.auto()


DEFAULT: Final = _Default.VALUE


def generate_key(alg: str) -> PrivateKey:
    """A fresh private key for ``alg`` (RSA 2048, the curve of ES*, Ed25519 for EdDSA)."""
    if alg.startswith(("RS", "PS")):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg in _EC_CURVES:
        return ec.generate_private_key(_EC_CURVES[alg])
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported algorithm {alg!r}")


class _SigningKey:
    __slots__ = ("alg", "jwk", "kid", "private_key")

    def __init__(self, alg: str, private_key: PrivateKey) -> None:
        self.alg = alg
        self.kid = f"{alg.lower()}-{secrets.token_hex(6)}"
        self.private_key = private_key
        public = get_default_algorithms()[alg].to_jwk(private_key.public_key(), as_dict=True)
        self.jwk: dict[str, Any] = {**public, "kid": self.kid, "alg": alg, "use": "sig"}


class DevIssuer:
    """A running development issuer; use as a context manager or start()/stop()."""

    handler_class: ClassVar[type[IssuerRequestHandler]] = IssuerRequestHandler

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        algorithms: Sequence[str] = ("RS256", "ES256"),
        audience: str = "https://api.example.test",
        path: str = "",
        client_secret: str = "dev-secret",  # noqa: S107  a development default, by design
        allow_remote_rotate: bool = True,
        verbose: bool = False,
        keys: Mapping[str, PrivateKey] | None = None,
        jwks_cache_control: str | None = "max-age=300",
        token_lifetime: int = 300,
    ) -> None:
        unknown = [alg for alg in algorithms if alg not in SUPPORTED]
        if unknown or not algorithms:
            raise ValueError(f"unsupported algorithms {unknown}; choose from {sorted(SUPPORTED)}")
        if path and (not path.startswith("/") or path.endswith("/")):
            raise ValueError("path must be empty or start with '/' and not end with '/'")
        self.host = host
        self.algorithms = tuple(algorithms)
        self.audience = audience
        self.path = path
        self.client_secret = client_secret
        self.allow_remote_rotate = allow_remote_rotate
        self.verbose = verbose
        self.jwks_cache_control = jwks_cache_control
        self.token_lifetime = token_lifetime
        self._port = port
        self._initial_keys = dict(keys or {})
        self._keys: dict[str, list[_SigningKey]] = {}
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        # Opaque tokens it issued (RFC 7662 introspection answers for them), by token.
        self._opaque: dict[str, dict[str, Any]] = {}
        self._server: IssuerServer | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()  # set by stop(); handlers that wait should watch it

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Bind (the same port again after a stop), generate missing keys, serve."""
        if self._server is not None:
            return self
        self._ensure_keys()
        handler = type(f"{type(self).__name__}Handler", (self.handler_class,), {"dev_issuer": self})
        server = IssuerServer((self.host, self._port), handler)
        server.verbose = self.verbose
        self._port = server.server_address[1]
        self.stopping.clear()
        self._server = server
        self._thread = serve_in_background(server, f"dev-issuer-{self._port}", 0.05)
        return self

    def _ensure_keys(self) -> None:
        """A signing key for every algorithm: the one given, else a fresh one."""
        with self._lock:
            for alg in self.algorithms:
                if alg not in self._keys:
                    key = self._initial_keys.get(alg) or generate_key(alg)
                    self._keys[alg] = [_SigningKey(alg, key)]

    def stop(self) -> None:
        """Stop serving and close the socket; connections are refused until start()."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        self.stopping.set()
        stop_background(server, thread)

    @property
    def running(self) -> bool:
        """Whether the server is accepting connections."""
        return self._server is not None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        if not self._port:
            raise RuntimeError("the issuer has no port until it is started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port`` without the issuer path."""
        return f"http://{self.host}:{self.port}"

    @property
    def issuer(self) -> str:
        """The issuer identifier, ``http://127.0.0.1:<port><path>``."""
        return f"{self.base_url}{self.path}"

    @property
    def jwks_uri(self) -> str:
        """Where the JWKS is served."""
        return f"{self.issuer}/jwks.json"

    @property
    def token_endpoint(self) -> str:
        """Where client_credentials tokens are issued."""
        return f"{self.issuer}/token"

    @property
    def introspection_endpoint(self) -> str:
        """Where opaque tokens are introspected (RFC 7662)."""
        return f"{self.issuer}/introspect"

    @property
    def introspection_path(self) -> str:
        """The request path of the introspection endpoint."""
        return f"{self.path}/introspect"

    @property
    def revocation_endpoint(self) -> str:
        """Where tokens are revoked (RFC 7009)."""
        return f"{self.issuer}/revoke"

    @property
    def oidc_metadata_path(self) -> str:
        """The request path of the OpenID Connect discovery document."""
        return f"{self.path}/.well-known/openid-configuration"

    @property
    def oauth_metadata_path(self) -> str:
        """The request path of the RFC 8414 metadata document."""
        return f"/.well-known/oauth-authorization-server{self.path}"

    @property
    def jwks_path(self) -> str:
        """The request path of the JWKS."""
        return f"{self.path}/jwks.json"

    # ------------------------------------------------------------------ documents

    def metadata(self) -> dict[str, object]:
        """The discovery document (the same for OIDC and RFC 8414)."""
        return {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_uri,
            "token_endpoint": self.token_endpoint,
            "introspection_endpoint": self.introspection_endpoint,
            "revocation_endpoint": self.revocation_endpoint,
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(self.algorithms),
        }

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JWKS: every published public key, current ones last."""
        with self._lock:
            return {"keys": [k.jwk for keys in self._keys.values() for k in keys]}

    def current_kid(self, alg: str = "RS256") -> str:
        """The kid new tokens of ``alg`` are signed with."""
        return self._current(alg).kid

    def _current(self, alg: str) -> _SigningKey:
        with self._lock:
            keys = self._keys.get(alg)
            if not keys:
                raise ValueError(f"this issuer has no {alg} key (algorithms: {self.algorithms})")
            return keys[-1]

    # ------------------------------------------------------------------ tokens and keys

    def mint(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        alg: str = "RS256",
        kid: str | _Default | None = DEFAULT,
        headers: Mapping[str, Any] | None = None,
        expires_in: int = 300,
        scope: str | None = None,
        audience: str | list[str] | _Default | None = DEFAULT,
    ) -> str:
        """A signed JWT from this issuer; ``claims`` override the defaults.

        Defaults: iss, sub="dev-user", aud (the issuer's audience), iat, nbf, exp, jti.
        ``kid=None`` omits the kid header; ``audience=None`` omits ``aud``. The token is
        signed with the current ``alg`` key even when ``kid`` names another.
        """
        signing = self._current(alg)
        now = int(time.time())  # JWT times are wall-clock by definition
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "dev-user",
            "iat": now,
            "nbf": now,
            "exp": now + expires_in,
            "jti": secrets.token_urlsafe(12),
        }
        aud = self.audience if isinstance(audience, _Default) else audience
        if aud is not None:
            payload["aud"] = aud
        if scope is not None:
            payload["scope"] = scope
        payload.update(claims or {})
        header: dict[str, Any] = {}
        key_id = signing.kid if isinstance(kid, _Default) else kid
        if key_id is not None:
            header["kid"] = key_id
        header.update(headers or {})
        return jwt.encode(payload, signing.private_key, algorithm=alg, headers=header)

    def mint_opaque(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        expires_in: int = 300,
        scope: str | None = None,
        audience: str | list[str] | _Default | None = DEFAULT,
        prefix: str = "",
    ) -> str:
        """An opaque access token only this issuer can read (by introspection).

        Its introspection answer holds what :meth:`mint` would sign, ``active: true`` and
        ``token_type: Bearer``, until it expires or is revoked.
        """
        now = int(time.time())
        answer: dict[str, Any] = {
            "active": True,
            "iss": self.issuer,
            "sub": "dev-user",
            "client_id": "dev-client",
            "token_type": "Bearer",
            "iat": now,
            "nbf": now,
            "exp": now + expires_in,
        }
        aud = self.audience if isinstance(audience, _Default) else audience
        if aud is not None:
            answer["aud"] = aud
        if scope is not None:
            answer["scope"] = scope
        answer.update(claims or {})
        token = prefix + secrets.token_urlsafe(32)
        with self._lock:
            self._opaque[token] = answer
        return token

    def introspect(self, token: str) -> dict[str, Any]:
        """The RFC 7662 answer for ``token``: ``{"active": false}`` unless it is live."""
        with self._lock:
            answer = self._opaque.get(token)
        if answer is None or answer["exp"] <= time.time():
            return {"active": False}
        return dict(answer)

    def revoke(self, token: str) -> None:
        """Revoke an opaque token (RFC 7009): introspection says inactive from now on."""
        with self._lock:
            self._opaque.pop(token, None)

    def rotate(
        self, alg: str = "RS256", *, keep_old: bool = True, key: PrivateKey | None = None
    ) -> str:
        """Publish a new ``alg`` key that signs from now on; return its kid.

        ``keep_old=False`` unpublishes the previous keys of ``alg`` (emergency revocation).
        """
        if alg not in self.algorithms:
            raise ValueError(f"this issuer does not use {alg}")
        new = _SigningKey(alg, key or generate_key(alg))
        with self._lock:
            self._keys[alg] = [*self._keys.get(alg, []), new] if keep_old else [new]
        return new.kid

    # ------------------------------------------------------------------ request counts

    def _record(self, path: str) -> None:
        with self._lock:
            self._counts[path] += 1

    def request_count(self, path: str | None = None) -> int:
        """Requests served for ``path`` (e.g. ``issuer.jwks_path``), or in all."""
        with self._lock:
            return self._counts[path] if path is not None else sum(self._counts.values())

    def reset_counts(self) -> None:
        """Forget the request counts."""
        with self._lock:
            self._counts.clear()
