"""A bounded HTTP JSON fetcher for discovery metadata and JWKS documents.

An issuer's endpoints are configured by tenants and served by IdPs the platform does not
run, so every answer is treated as hostile (``docs/decisions/0015-fetcher.md``):

* https only (http only for local-development issuers), no redirects, no proxies,
  never the loopback, link-local or unspecified addresses a Lambda's own runtime API and
  metadata endpoints live on (except for local-development issuers), and private
  addresses only for URLs the tenant file names, not for ones an IdP points elsewhere;
* **one deadline** ends the whole fetch: name resolution, connect, the TLS handshake, the
  status line and headers, and the body. Every socket operation waits at most until the
  deadline, so a server that trickles bytes cannot stretch it; the caller passes the
  deadline of its decision, so that several fetches of one decision share one budget;
* ``Accept-Encoding: gzip`` is sent explicitly and gzip is decoded here, with the size cap
  applied to the decoded bytes (a small compressed body cannot expand past it); any other
  ``Content-Encoding`` is refused;
* errors are :class:`~tenant_authorizer.runtime.errors.FetchError` with a short summary; a
  response body never appears in a message.

The client is the standard library's ``http.client`` over the sockets
:mod:`.connection` makes: with it a cold fetch costs less than half of one with
``requests`` (whose import alone is 45-60 ms; ``make bench`` measures both), and every
socket operation carries the deadline.
:class:`Fetcher` is the seam tests use to drive the JWKS cache without sockets.
"""

from __future__ import annotations

# http.client and ssl are loaded anyway by PyJWT (its PyJWKClient imports
# urllib.request), so importing them here adds nothing to a cold start.
import http.client
import json
import re
import ssl
import sys
import threading
import time
import zlib
from typing import Any, Final, NamedTuple, Protocol
from urllib.parse import urlencode, urlsplit

from .connection import Deadline, default_tls_context, open_socket, tls_socket_class
from .errors import FetchError

_CHUNK: Final = 16 * 1024
_MAX_AGE_RE: Final = re.compile(r'^max-age\s*=\s*"?(\d{1,10})"?$')
# The longest any fetch may take, whatever the decision's budget (API Gateway's own JWT
# authorizer allows 1.5 s per fetch of discovery or keys).
DEFAULT_FETCH_TIMEOUT: Final = 1.5


class FetchResult(NamedTuple):
    """A parsed JSON object and the freshness lifetime the server gave it."""

    body: dict[str, Any]
    max_age: int | None  # None: no max-age; 0: no-store / no-cache


class BudgetSpent(FetchError):
    """Raised when a fetch is not even begun: its decision's network budget is spent."""


class FetchBudget:
    """The network time one decision may spend on key fetches, from its first fetch on.

    The clock starts at the first :meth:`deadline` call, so time spent elsewhere in the
    decision (an SSM read on a cold start) is never charged to the issuer.
    """

    __slots__ = ("_at", "seconds")

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._at: float | None = None

    def deadline(self) -> float | None:
        """The :func:`time.perf_counter` instant all fetches must end by (None: no budget)."""
        if self.seconds is None:
            return None
        if self._at is None:
            self._at = time.perf_counter() + self.seconds
        return self._at


class Fetcher(Protocol):
    """What the JWKS cache needs from HTTP: one JSON object per URL, within a deadline."""

    def get_json(
        self,
        url: str,
        *,
        local_development: bool = False,
        deadline: float | None = None,
        private_ok: bool = False,
    ) -> FetchResult:
        """GET ``url``; ``deadline`` is a :func:`time.perf_counter` instant; FetchError else."""
        ...


def parse_cache_control(value: str | None) -> int | None:
    """The max-age of a ``Cache-Control`` header: 0 for no-store/no-cache, None if absent.

    Several max-age directives (a broken proxy) give the smallest, the safe reading.
    """
    if not value:
        return None
    ages: list[int] = []
    for raw in value.split(","):
        directive = raw.strip().lower()
        if directive in ("no-store", "no-cache"):
            return 0
        match = _MAX_AGE_RE.match(directive)
        if match:
            ages.append(int(match.group(1)))
    return min(ages) if ages else None


def _user_agent() -> str:
    # Resolved once, on the first fetch: importlib.metadata costs ~40 ms to import, which
    # no cold start should pay up front.
    version = getattr(sys.modules.get("tenant_authorizer"), "__version__", None)
    if not isinstance(version, str):
        from importlib import metadata  # noqa: PLC0415  see above

        try:
            version = metadata.version("tenant-authorizer")
        except metadata.PackageNotFoundError:  # the Lambda zip carries no dist-info
            version = "unknown"
    return f"tenant-authorizer/{version}"


def safe_url(url: str) -> str:
    """The URL for messages and logs: no user-info, query or fragment (they can hold secrets)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class HttpFetcher:
    """Fetches JSON objects with ``http.client``, one connection per fetch; thread-safe."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_FETCH_TIMEOUT,
        max_bytes: int = 256 * 1024,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if timeout <= 0 or max_bytes <= 0:
            raise ValueError("timeout and max_bytes must be positive")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._tls_context = tls_context
        self._user_agent: str | None = None
        self._lock = threading.Lock()

    def _tls(self) -> ssl.SSLContext:
        with self._lock:
            context = self._tls_context
            if context is None:
                # Loading the trust store costs a few ms: once per instance, on first use.
                context = self._tls_context = default_tls_context()
            # The documented hook for the class wrap_socket returns: ours keeps the deadline.
            context.sslsocket_class = tls_socket_class()
            return context

    def get_json(
        self,
        url: str,
        *,
        local_development: bool = False,
        deadline: float | None = None,
        private_ok: bool = False,
    ) -> FetchResult:
        """GET ``url`` and return its JSON object; raise FetchError on any failure.

        ``local_development`` admits http:// and loopback addresses (development issuers
        on this machine). ``private_ok`` admits private addresses (10/8, 172.16/12,
        192.168/16, fc00::/7: an in-house IdP in a VPC), for URLs a tenant file names,
        never for ones an IdP's metadata points to elsewhere. The fetch ends by
        ``deadline`` (:func:`time.perf_counter`) or after :attr:`timeout`, whichever is
        first.
        """
        return self._exchange(
            "GET",
            url,
            None,
            {},
            local_development=local_development,
            deadline=deadline,
            private_ok=private_ok,
        )

    def post_form(
        self,
        url: str,
        fields: dict[str, str],
        *,
        headers: dict[str, str] | None = None,
        local_development: bool = False,
        deadline: float | None = None,
        private_ok: bool = False,
    ) -> FetchResult:
        """POST ``fields`` form-encoded (RFC 7662 introspection) and return the JSON object.

        The same rules as :meth:`get_json`: one deadline, the size cap, no redirect, and
        no message that quotes the request (it carries a token and a client secret).
        """
        body = urlencode(fields).encode("ascii")
        extra = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self._exchange(
            "POST",
            url,
            body,
            extra,
            local_development=local_development,
            deadline=deadline,
            private_ok=private_ok,
        )

    def _exchange(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        *,
        local_development: bool,
        deadline: float | None,
        private_ok: bool,
    ) -> FetchResult:
        schemes = ("https", "http") if local_development else ("https",)
        parts = urlsplit(url)
        if parts.scheme not in schemes or not parts.hostname:
            allowed = " or ".join(f"{s}://" for s in schemes)
            raise FetchError(f"refused {safe_url(url)!r}: only {allowed} URLs are fetched")
        safe = safe_url(url)
        now = time.perf_counter()
        end = now + self.timeout if deadline is None else min(deadline, now + self.timeout)
        if end <= now:
            raise BudgetSpent(f"{method} {safe}: no time left in this decision's network budget")
        tls = parts.scheme == "https"
        port: int = parts.port or (443 if tls else 80)
        try:
            sock = open_socket(
                parts.scheme,
                parts.hostname,
                port,
                Deadline(end),
                self._tls,
                local_development=local_development,
                private_ok=private_ok,
            )
            # The connection is made (and its TLS checked): http.client only frames the
            # request and parses the response over it.
            connection = http.client.HTTPConnection(parts.hostname, port)
            connection.sock = sock
            try:
                response = self._request(connection, parts, method, body, headers)
                with response:
                    max_age, received = self._read(response, f"{method} {safe}")
            finally:
                connection.close()
        except FetchError:
            raise
        except TimeoutError as exc:  # socket.timeout is TimeoutError since Python 3.10
            elapsed = time.perf_counter() - now
            raise FetchError(f"{method} {safe}: timed out after {elapsed:.2f}s") from exc
        except (OSError, http.client.HTTPException, ValueError, zlib.error) as exc:
            # ValueError covers UnicodeError (a host that is no valid IDN name).
            raise FetchError(f"{method} {safe} failed: {type(exc).__name__}") from exc
        try:
            document = json.loads(received)
        except (ValueError, RecursionError) as exc:  # RecursionError: hostile nesting
            raise FetchError(f"{method} {safe}: response is not valid JSON") from exc
        if not isinstance(document, dict):
            raise FetchError(f"{method} {safe}: JSON is a {type(document).__name__}, not an object")
        return FetchResult(body=document, max_age=max_age)

    def _request(
        self,
        connection: http.client.HTTPConnection,
        parts: Any,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> http.client.HTTPResponse:
        if self._user_agent is None:
            self._user_agent = _user_agent()
        target = parts.path or "/"
        if parts.query:
            target += f"?{parts.query}"
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        if parts.port and parts.port != (443 if parts.scheme == "https" else 80):
            host += f":{parts.port}"
        connection.request(
            method,
            target,
            body=body,
            headers={
                "Host": host,  # never the URL's user-info
                "Accept": "application/json",
                # Explicit, so that no library can widen what this code must decode.
                "Accept-Encoding": "gzip",
                "User-Agent": self._user_agent,
                "Connection": "close",
                **(headers or {}),
            },
        )
        return connection.getresponse()

    def _read(self, response: http.client.HTTPResponse, safe: str) -> tuple[int | None, bytes]:
        status = response.status
        if 300 <= status < 400:
            raise FetchError(f"{safe}: redirect refused (HTTP {status})")
        if not 200 <= status < 300:
            raise FetchError(f"{safe}: HTTP {status}")
        declared = response.getheader("Content-Length", "") or ""
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"{safe}: response too large ({declared} bytes declared)")
        encoding = (response.getheader("Content-Encoding", "") or "").strip().lower()
        if encoding in ("", "identity"):
            body = self._read_plain(response, safe)
        elif encoding in ("gzip", "x-gzip"):
            body = self._read_gzip(response, safe)
        else:
            raise FetchError(f"{safe}: Content-Encoding {encoding[:32]!r} was not offered")
        return parse_cache_control(response.getheader("Cache-Control")), body

    def _too_large(self, safe: str) -> FetchError:
        return FetchError(f"{safe}: response too large (over {self.max_bytes} bytes)")

    def _read_plain(self, response: http.client.HTTPResponse, safe: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read1(_CHUNK):
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_large(safe)
            chunks.append(chunk)
        return b"".join(chunks)

    def _read_gzip(self, response: http.client.HTTPResponse, safe: str) -> bytes:
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out: list[bytes] = []
        size = received = 0
        while chunk := response.read1(_CHUNK):
            received += len(chunk)
            if received > self.max_bytes:
                raise self._too_large(safe)
            while chunk:
                # max_length caps what one call may expand to: a bomb stops at the cap.
                piece = decoder.decompress(chunk, self.max_bytes + 1 - size)
                size += len(piece)
                if size > self.max_bytes:
                    raise self._too_large(safe)
                out.append(piece)
                if decoder.unconsumed_tail:
                    chunk = decoder.unconsumed_tail
                elif decoder.eof and decoder.unused_data:
                    chunk = decoder.unused_data  # another gzip member (RFC 1952 2.2)
                    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
                else:
                    chunk = b""
        if not decoder.eof:
            raise FetchError(f"{safe}: gzip body ends early")
        return b"".join(out)
