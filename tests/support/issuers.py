"""Issuers that misbehave on purpose, a fake clock, and IssuerConfig helpers for tests.

:class:`FaultyIssuer` is a :class:`~tenant_authorizer.dev.issuer.DevIssuer` whose
request handler injects faults, so the production issuer carries no test hooks:

====================  ==========================================================
mode                  what a GET of an affected path gets
====================  ==========================================================
``ok``                the normal answer
``down``              503 with a JSON error
``refuse``            nothing: the listening socket is closed (connection refused)
``slow``              the normal answer after ``slow_seconds`` (beyond any timeout)
``garbage``           200 with an HTML body (not JSON)
``not_jwks``          200 with a JSON object that is neither JWKS nor metadata
``json_array``        200 with a JSON array
``huge``              200 with a JSON body of ``huge_bytes`` (declared or not)
``trickle``           200, then the body one byte every ``trickle_interval``
``redirect``          302 to the same path on the same server
``gzip``              the normal answer gzip-compressed, when the client offers gzip
``gzip_bomb``         200, gzip: a few KB that expand to ``huge_bytes`` of JSON
``brotli``            200 with ``Content-Encoding: br`` (never offered)
``trickle_headers``   the status line and headers one byte every ``trickle_interval``
``gzip_lie``          200 with ``Content-Encoding: gzip`` on a plain JSON body
``gzip_trailer``      200, gzip, with bytes that are no gzip after the member
====================  ==========================================================

POSTs (token, rotate) are never faulted; ``fault_paths`` narrows the faulted GETs.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.dev.issuer_http import IssuerRequestHandler
from tenant_authorizer.runtime.tenant import DiscoveryMode, IssuerConfig

Mode = Literal[
    "ok",
    "down",
    "refuse",
    "slow",
    "garbage",
    "not_jwks",
    "json_array",
    "huge",
    "trickle",
    "redirect",
    "gzip",
    "gzip_bomb",
    "brotli",
    "trickle_headers",
    "gzip_lie",
    "gzip_trailer",
]
FAILURE_MODES: tuple[Mode, ...] = ("down", "refuse", "slow", "garbage", "not_jwks", "huge")


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        """A ``time.sleep`` that moves this clock instead of waiting."""
        self.now += seconds


class FaultyHandler(IssuerRequestHandler):
    """Answers like the DevIssuer handler, except where its issuer's mode says otherwise."""

    dev_issuer: ClassVar[FaultyIssuer]

    def handle_request(self, method: str, path: str) -> None:
        issuer = self.dev_issuer
        issuer.last_headers = dict(self.headers.items())
        mode = issuer.mode
        affected = issuer.fault_paths is None or path in issuer.fault_paths
        if mode in ("ok", "gzip") or method != "GET" or not affected:
            super().handle_request(method, path)
        elif mode == "down":
            self.send_json(503, {"error": "temporarily_unavailable"})
        elif mode == "slow":
            if not issuer.stopping.wait(issuer.slow_seconds):
                super().handle_request(method, path)
        elif mode == "garbage":
            self._send_raw(b"<html><body>Service Unavailable</body></html>", "text/html")
        elif mode == "not_jwks":
            self.send_json(200, {"hello": "world"})
        elif mode == "json_array":
            self.send_json(200, [{"keys": []}])
        elif mode == "huge":
            filler = "x" * issuer.huge_bytes
            body = json.dumps({"keys": [], "filler": filler}).encode()
            self._send_raw(body, "application/json", declare_length=issuer.huge_declared)
        elif mode == "trickle":
            self._trickle(json.dumps({"keys": [], "filler": "x" * 4096}).encode())
        elif mode == "gzip_bomb":
            bomb = gzip.compress(b'{"keys":[],"filler":"' + b"x" * issuer.huge_bytes + b'"}')
            self._send_raw(bomb, "application/json", encoding="gzip")
        elif mode == "gzip_lie":
            self._send_raw(json.dumps({"keys": []}).encode(), "application/json", encoding="gzip")
        elif mode == "gzip_trailer":
            body = gzip.compress(json.dumps({"keys": []}).encode()) + b"not gzip at all"
            self._send_raw(body, "application/json", encoding="gzip")
        elif mode == "brotli":
            self._send_raw(b"\x0b\x02\x80{}\x03", "application/json", encoding="br")
        elif mode == "trickle_headers":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            for offset in range(len(head)):
                if issuer.stopping.wait(issuer.trickle_interval):
                    return
                self.wfile.write(head[offset : offset + 1])
                self.wfile.flush()
        elif mode == "redirect":
            self.send_response(302)
            self.send_header("Location", f"{issuer.base_url}{path}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:  # "refuse" never reaches a handler: the socket is closed
            self.send_json(500, {"error": f"unexpected mode {mode}"})

    def send_json(
        self, status: int, body: object, headers: Mapping[str, str] | None = None
    ) -> None:
        """As DevIssuer's, but gzip-compressed in mode ``gzip`` when the client offers it."""
        offered = "gzip" in self.headers.get("Accept-Encoding", "")
        if self.dev_issuer.mode != "gzip" or not offered:
            super().send_json(status, body, headers)
            return
        payload = gzip.compress(json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_raw(
        self,
        body: bytes,
        content_type: str,
        *,
        declare_length: bool = True,
        encoding: str | None = None,
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if encoding is not None:
            self.send_header("Content-Encoding", encoding)
        if declare_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        issuer = self.dev_issuer
        for offset in range(len(body)):
            if issuer.stopping.wait(issuer.trickle_interval):
                return
            self.wfile.write(body[offset : offset + 1])
            self.wfile.flush()


class FaultyIssuer(DevIssuer):
    """A DevIssuer whose GET answers follow :attr:`mode` (see the module docstring)."""

    handler_class = FaultyHandler

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._mode: Mode = "ok"
        self.fault_paths: frozenset[str] | None = None
        self.slow_seconds = 5.0
        self.trickle_interval = 0.05
        self.huge_bytes = 300 * 1024
        self.huge_declared = True
        self.last_headers: dict[str, str] = {}  # request headers of the last request

    @property
    def mode(self) -> Mode:
        """The current fault mode."""
        return self._mode

    def set_mode(self, mode: Mode, *, paths: Iterable[str] | None = None) -> None:
        """Switch fault mode, for every GET or only for ``paths``; "refuse" closes the socket."""
        self.fault_paths = frozenset(paths) if paths is not None else None
        self._mode = mode
        if mode == "refuse":
            self.stop()
        elif not self.running:
            self.start()  # rebinds the same port


def issuer_config(
    issuer: DevIssuer,
    /,
    *,
    discovery: DiscoveryMode = "none",
    algorithms: tuple[str, ...] = ("RS256", "ES256"),
    **overrides: Any,
) -> IssuerConfig:
    """An IssuerConfig trusting ``issuer``: its jwks_uri directly, unless ``discovery``."""
    fields: dict[str, Any] = {
        "issuer": issuer.issuer,
        "algorithms": algorithms,
        "audiences": (issuer.audience,),
        "jwks_uri": issuer.jwks_uri if discovery == "none" else None,
        "discovery": discovery,
        "local_development": True,
    }
    fields.update(overrides)
    return IssuerConfig(**fields)


def wait_until(condition: Any, timeout: float = 2.0) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` passes (for server threads)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())
