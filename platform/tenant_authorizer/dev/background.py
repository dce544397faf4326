"""Running a stdlib HTTP server on a background thread (development issuer, local gateway)."""

from __future__ import annotations

import threading
from socketserver import BaseServer


def serve_in_background(server: BaseServer, name: str, poll_interval: float) -> threading.Thread:
    """Start ``server.serve_forever`` on a daemon thread named ``name``; return the thread."""
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": poll_interval},
        name=name,
        daemon=True,
    )
    thread.start()
    return thread


def stop_background(server: BaseServer, thread: threading.Thread | None) -> None:
    """Stop serving, close the socket and wait (bounded) for the thread to end."""
    server.shutdown()
    server.server_close()
    if thread is not None:
        thread.join(timeout=5)
