"""Serving a :class:`~.gateway.Gateway` over HTTP/1.1 on 127.0.0.1 from a background thread."""

from __future__ import annotations

import json
import re
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self
from urllib.parse import urlsplit

from ..background import serve_in_background, stop_background
from .messages import Request, Response

if TYPE_CHECKING:
    from .gateway import Gateway

MAX_BODY_BYTES: Final = 10 * 1024 * 1024  # API Gateway's payload limit
_PATH_RE: Final = re.compile(r"^/[\x21-\x7e]*$")


class _BadRequest(Exception):
    """Raised while reading a request that cannot be served (400/413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into :class:`Request` objects for the server's Gateway."""

    protocol_version = "HTTP/1.1"
    server_version = "tenant-authz-local"
    gateway: ClassVar[Gateway]
    stopping: ClassVar[threading.Event]

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _serve(self) -> None:
        try:
            request = self._request()
        except _BadRequest as exc:
            self.close_connection = True
            body = json.dumps({"message": exc.message}).encode()
            self._send(Response(exc.status, (("Content-Type", "application/json"),), body))
            return
        try:
            response = self.gateway.handle(request)
        except Exception as exc:  # noqa: BLE001  (a gateway bug must answer, not drop the connection)
            traceback.print_exc(file=sys.stderr)
            body = json.dumps({"message": f"local gateway error: {type(exc).__name__}"}).encode()
            response = Response(500, (("Content-Type", "application/json"),), body)
        self._send(response)

    def _request(self) -> Request:
        target = self.path
        if target.startswith(("http://", "https://")):  # absolute-form request target
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        path, _, query = target.partition("?")
        if not _PATH_RE.match(path):
            raise _BadRequest(400, "the path must start with / and hold printable ASCII only")
        return Request(
            method=self.command,
            path=path,
            query=query,
            headers=tuple(self.headers.items()),
            body=self._body(),
            source_ip=self.client_address[0],
        )

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._chunked()
        length = self.headers.get("Content-Length", "0").strip() or "0"
        if not length.isdigit():
            raise _BadRequest(400, "bad Content-Length")
        if int(length) > MAX_BODY_BYTES:
            raise _BadRequest(413, "Request Too Long")
        return self.rfile.read(int(length))

    def _chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise _BadRequest(400, "bad chunked encoding") from exc
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers, then the blank line
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY_BYTES:
                raise _BadRequest(413, "Request Too Long")
            body += self.rfile.read(size)
            self.rfile.readline(3)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.stopping.is_set():
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the gateway writes its own access line, without query strings."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-request is not news; anything else is a bug to show."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class GatewayServer:
    """Serves a :class:`Gateway` over HTTP from a background thread."""

    def __init__(self, gateway: Gateway, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.gateway = gateway
        self.host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> Self:
        """Bind and serve; ``OSError`` (e.g. ``EADDRINUSE``) when the port cannot be had."""
        if self._server is not None:
            return self
        handler = type(
            "GatewayHandler", (_Handler,), {"gateway": self.gateway, "stopping": self._stopping}
        )
        server = _Server((self.host, self._port), handler)
        self._port = server.server_address[1]
        self._server = server
        self._thread = serve_in_background(server, f"local-gateway-{self._port}", 0.1)
        return self

    def stop(self) -> None:
        """Stop accepting, close the socket; open keep-alive connections close after their reply."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        self._stopping.set()
        stop_background(server, thread)

    @property
    def port(self) -> int:
        """The bound port."""
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self._port}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
