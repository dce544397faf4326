"""The HTTP side of the development issuer: discovery, JWKS, token and rotate endpoints.

:class:`IssuerRequestHandler` routes a request to its :class:`~.issuer.DevIssuer`
(tests subclass it to inject faults: slow, compressed, oversized, redirecting answers);
the token endpoint implements OAuth 2.0 ``client_credentials`` (RFC 6749 section 4.4)
with ``client_secret_basic`` and ``client_secret_post``, and its errors follow section 5.2.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar, Final
from urllib.parse import parse_qs, unquote_plus, urlsplit

if TYPE_CHECKING:
    from .issuer import DevIssuer

_MAX_FORM_BYTES: Final = 64 * 1024


class _OAuthError(Exception):
    """Raised inside the token endpoint; becomes an RFC 6749 section 5.2 error response."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def _check_grant(form: Mapping[str, str]) -> None:
    grant_type = form.get("grant_type")
    if grant_type is None:
        raise _OAuthError(400, "invalid_request", "grant_type is required")
    if grant_type != "client_credentials":
        raise _OAuthError(400, "unsupported_grant_type", "only client_credentials")


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise _OAuthError(400, "invalid_request", f"{name} is required")
    return value


class IssuerRequestHandler(BaseHTTPRequestHandler):
    """Routes one request to its :class:`DevIssuer`; subclass it to inject faults.

    HTTP/1.0 on purpose: every response closes its connection, so a stopped issuer
    really refuses the next request instead of answering on a pooled keep-alive socket.
    """

    server_version = "tenant-authorizer-devissuer"
    dev_issuer: ClassVar[DevIssuer]  # set on the per-server subclass made by DevIssuer.start

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        self.dev_issuer._record(path)
        self.handle_request(method, path)

    def handle_request(self, method: str, path: str) -> None:
        """Answer ``method`` on ``path`` (query string removed); the override point."""
        issuer = self.dev_issuer
        base = issuer.path
        if method == "GET" and path in (
            f"{base}/.well-known/openid-configuration",
            f"/.well-known/oauth-authorization-server{base}",
        ):
            self.send_json(200, issuer.metadata(), {"Cache-Control": "max-age=3600"})
        elif method == "GET" and path == f"{base}/jwks.json":
            headers = (
                {"Cache-Control": issuer.jwks_cache_control} if issuer.jwks_cache_control else {}
            )
            self.send_json(200, issuer.jwks(), headers)
        elif method == "POST" and path == f"{base}/token":
            self._token()
        elif method == "POST" and path in (f"{base}/introspect", f"{base}/revoke"):
            self._introspect_or_revoke(path.endswith("/revoke"))
        elif method == "POST" and path == f"{base}/rotate" and issuer.allow_remote_rotate:
            self._rotate()
        else:
            self.send_json(404, {"error": "not_found"})

    def send_json(
        self, status: int, body: object, headers: Mapping[str, str] | None = None
    ) -> None:
        """Send ``body`` as JSON with ``status`` and extra ``headers``."""
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _token(self) -> None:
        no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        try:
            form = self._read_form()
            client_id = self._authenticate(form)
            _check_grant(form)
        except _OAuthError as exc:
            headers = dict(no_store)
            if exc.status == 401:
                headers["WWW-Authenticate"] = 'Basic realm="dev-issuer"'
            body = {"error": exc.error, "error_description": exc.description}
            self.send_json(exc.status, body, headers)
            return
        issuer = self.dev_issuer
        scope = form.get("scope") or None
        audience = form.get("audience") or issuer.audience
        token = issuer.mint(
            {"sub": client_id, "client_id": client_id},
            expires_in=issuer.token_lifetime,
            scope=scope,
            audience=audience,
        )
        response: dict[str, object] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": issuer.token_lifetime,
        }
        if scope:
            response["scope"] = scope
        self.send_json(200, response, no_store)

    def _introspect_or_revoke(self, revoke: bool) -> None:
        """RFC 7662 introspection, or RFC 7009 revocation, for an authenticated client."""
        no_store = {"Cache-Control": "no-store"}
        try:
            form = self._read_form()
            self._authenticate(form)
            token = _required(form, "token")
        except _OAuthError as exc:
            body = {"error": exc.error, "error_description": exc.description}
            self.send_json(exc.status, body, no_store)
            return
        if revoke:
            self.dev_issuer.revoke(token)
            self.send_json(200, {}, no_store)
        else:
            self.send_json(200, self.dev_issuer.introspect(token), no_store)

    def _read_form(self) -> dict[str, str]:
        if self.headers.get_content_type() != "application/x-www-form-urlencoded":
            raise _OAuthError(400, "invalid_request", "use application/x-www-form-urlencoded")
        length_header = self.headers.get("Content-Length", "0")
        if not length_header.isdigit() or int(length_header) > _MAX_FORM_BYTES:
            raise _OAuthError(400, "invalid_request", "bad or too large Content-Length")
        raw = self.rfile.read(int(length_header)).decode("utf-8", errors="replace")
        parsed = parse_qs(raw, keep_blank_values=True)
        repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
        if repeated:  # RFC 6749 section 3.2: parameters must not be repeated
            raise _OAuthError(400, "invalid_request", f"repeated parameter {repeated[0]}")
        return {name: values[0] for name, values in parsed.items()}

    def _authenticate(self, form: Mapping[str, str]) -> str:
        """The authenticated client id (client_secret_basic or client_secret_post)."""
        authorization = self.headers.get("Authorization")
        if authorization is not None:
            if "client_secret" in form:
                raise _OAuthError(400, "invalid_request", "use one client authentication method")
            scheme, _, encoded = authorization.partition(" ")
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise _OAuthError(401, "invalid_client", "malformed Basic credentials") from exc
            user, sep, password = decoded.partition(":")
            if scheme.lower() != "basic" or not sep:
                raise _OAuthError(401, "invalid_client", "malformed Basic credentials")
            # RFC 6749 section 2.3.1: both parts are form-urlencoded before Basic encoding.
            client_id, secret = unquote_plus(user), unquote_plus(password)
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id or not secret:
            raise _OAuthError(401, "invalid_client", "client authentication required")
        if not hmac.compare_digest(secret.encode(), self.dev_issuer.client_secret.encode()):
            raise _OAuthError(401, "invalid_client", "client authentication failed")
        return client_id

    def _rotate(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        alg = query.get("alg", ["RS256"])[0]
        keep_old = query.get("keep_old", ["true"])[0].lower() not in ("false", "0", "no")
        if alg not in self.dev_issuer.algorithms:
            self.send_json(400, {"error": "invalid_request", "error_description": "unknown alg"})
            return
        kid = self.dev_issuer.rotate(alg, keep_old=keep_old)
        self.send_json(200, {"kid": kid, "alg": alg})

    def log_message(self, format: str, *args: Any) -> None:
        if self.dev_issuer.verbose:
            super().log_message(format, *args)


class IssuerServer(ThreadingHTTPServer):
    """The threaded server of one issuer: quiet unless verbose, never waiting on handlers."""

    daemon_threads = True  # stopping never waits for a handler a test left sleeping
    verbose = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is the point of several tests, not news.
        if self.verbose:
            super().handle_error(request, client_address)
