"""An AWS endpoint on 127.0.0.1 that records what a client sends, for the APIs moto lacks.

moto implements neither API Gateway's authorizer-cache flushes nor SSM's service
settings, which the runbooks call. Pointing one service's endpoint at a recorder
(``AWS_ENDPOINT_URL_<SERVICE>``) lets a test run the runbook's ``aws`` command as pasted
and check the request the CLI made: operation, path and parameters, as AWS would get them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    """One request as the recorder received it."""

    method: str
    path: str
    target: str | None
    body: dict[str, Any]


@dataclass
class Recorder:
    """The endpoint's URL and what it received; ``answers`` maps an X-Amz-Target to a body."""

    url: str
    requests: list[Request] = field(default_factory=list)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)


@contextmanager
def recorder() -> Iterator[Recorder]:
    """Serve a recorder until the block ends: JSON protocol calls get ``answers`` or {},
    REST calls an empty 202."""
    record = Recorder(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            target = self.headers.get("X-Amz-Target")
            body = json.loads(raw) if raw.strip() else {}
            record.requests.append(Request(self.command, self.path, target, body))
            if target is None:
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            out = json.dumps(record.answers.get(target, {})).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_DELETE = do_PUT = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    record.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()
