"""Connections that end by one deadline: resolution, connect, TLS and every read and write.

A fetch from a tenant's IdP gets a :class:`Deadline`; every socket operation of it, the
TLS handshake included, waits at most until then, so a server that trickles bytes
cannot stretch it. Name resolution runs in a helper thread, since ``getaddrinfo`` has no
timeout. Addresses where no remote IdP lives (loopback, link-local, unspecified,
multicast) are refused, and private ones unless the caller says the URL is the tenant
file's own (``docs/decisions/0015-fetcher.md``).
"""

from __future__ import annotations

# socket, ssl and ipaddress are loaded anyway by PyJWT (its PyJWKClient imports
# urllib.request), so importing them here adds nothing to a cold start.
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from .errors import FetchError


class Deadline:
    """Sets each socket operation's timeout to what is left until one instant."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at

    def left(self) -> float:
        left = self.at - time.perf_counter()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left


class DeadlineSocket(socket.socket):
    """A TCP socket whose reads and writes all end by :attr:`deadline` (plain http)."""

    deadline: Deadline

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self.settimeout(self.deadline.left())
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: Any, flags: int = 0) -> None:
        self.settimeout(self.deadline.left())
        super().sendall(data, flags)


_tls_socket: list[type[ssl.SSLSocket]] = []  # built once, on the first https fetch


def tls_socket_class() -> type[ssl.SSLSocket]:
    if _tls_socket:
        return _tls_socket[0]

    class DeadlineSSLSocket(ssl.SSLSocket):
        """A TLS socket whose handshake, reads and writes all end by one deadline."""

        deadline: Deadline

        def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
            self.settimeout(self.deadline.left())
            return super().recv_into(buffer, nbytes, flags)

        def sendall(self, data: Any, flags: int = 0) -> None:
            self.settimeout(self.deadline.left())
            super().sendall(data, flags)

        def do_handshake(self, block: bool = False) -> None:
            # CPython bounds one handshake call by the timeout as a whole.
            self.settimeout(self.deadline.left())
            super().do_handshake(block)

    _tls_socket.append(DeadlineSSLSocket)
    return DeadlineSSLSocket


def default_tls_context() -> ssl.SSLContext:
    """The platform's TLS settings: the system trust store, TLS 1.2 or newer, SNI."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _refusal(address: str, private_ok: bool) -> str | None:
    """Why ``address`` is not fetched from, or None when it may be.

    Loopback, link-local, unspecified and multicast addresses are where no remote IdP
    lives and a Lambda's own endpoints do (the runtime API, 169.254.169.254); private
    ones only when the URL came from the tenant file itself.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast:
        return "an address no remote IdP uses (loopback, link-local or unspecified)"
    if ip.is_private and not private_ok:
        return "a private address, which only a URL of the tenant file may name"
    return None


def _resolve(host: str, port: int, deadline: Deadline) -> list[Any]:
    """``getaddrinfo`` ended by the deadline: resolution has no timeout of its own."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:  # a literal address needs no resolver
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    outcome: list[Any] = []
    done = threading.Event()

    def work() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except Exception as exc:  # noqa: BLE001  (handed to the caller, who decides)
            outcome.append(exc)  # an invalid IDN label is a UnicodeError, not an OSError
        finally:
            done.set()

    threading.Thread(target=work, name="tenant-authz-resolve", daemon=True).start()
    if not done.wait(deadline.left()):
        raise TimeoutError("name resolution did not finish")
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    found: list[Any] = outcome[0]
    return found


def open_socket(
    scheme: str,
    host: str,
    port: int,
    deadline: Deadline,
    tls_context: Callable[[], ssl.SSLContext],
    *,
    local_development: bool,
    private_ok: bool,
) -> socket.socket:
    """A connected socket to ``host`` (TLS-verified for https), all of it by ``deadline``.

    Each resolved address is checked before it is tried; the first that connects wins.
    """
    last: Exception | None = None
    for family, socktype, proto, _, address in _resolve(host, port, deadline):
        refused = None if local_development else _refusal(address[0], private_ok)
        if refused is not None:
            last = FetchError(f"GET {scheme}://{host}: resolves to {address[0]}, {refused}")
            continue
        sock = DeadlineSocket(family, socktype, proto)
        sock.deadline = deadline
        try:
            sock.settimeout(deadline.left())
            sock.connect(address)
            connected: socket.socket = sock
            if scheme == "https":
                wrapped = tls_context().wrap_socket(
                    sock, server_hostname=host, do_handshake_on_connect=False
                )
                wrapped.deadline = deadline  # type: ignore[attr-defined]
                wrapped.do_handshake()
                connected = wrapped
        except TimeoutError:
            sock.close()
            raise  # the deadline is spent: no other address gets a try
        except (OSError, ValueError) as exc:
            sock.close()
            last = exc
            continue
        return connected
    if isinstance(last, FetchError):
        raise last
    raise last if last is not None else OSError("no address")
