"""A bounded HTTP JSON fetcher for discovery metadata and JWKS documents.

An issuer's endpoints are configured by tenants, so every response is treated as
hostile: https only (http only for local-development issuers), no redirects, a size
cap checked while streaming, and a total deadline across connect and read, so that a
server that trickles bytes cannot hold an invocation much beyond ``total_timeout``.
Errors are :class:`~tenant_authorizer.errors.FetchError` with a short summary; a
response body never appears in a message.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Final, NamedTuple
from urllib.parse import urlsplit

from .errors import FetchError

if TYPE_CHECKING:
    import requests

_CHUNK: Final = 16 * 1024
_MAX_AGE_RE: Final = re.compile(r'^max-age\s*=\s*"?(\d{1,10})"?$')


class FetchResult(NamedTuple):
    """A parsed JSON object and the freshness lifetime the server gave it."""

    body: dict[str, Any]
    max_age: int | None  # None: no max-age; 0: no-store / no-cache


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
    # Resolved once, when the first fetch creates the session: importlib.metadata
    # costs ~40 ms to import, which no cold start should pay up front.
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
    """Fetches JSON objects over one pooled ``requests.Session``; thread-safe.

    ``requests`` is imported on the first fetch, not at import time: a warm
    instance never fetches, and tenants with static tokens or HS* never do.
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 1.0,
        read_timeout: float = 2.0,
        total_timeout: float = 3.0,
        max_bytes: int = 256 * 1024,
        session: requests.Session | None = None,
    ) -> None:
        if min(connect_timeout, read_timeout, total_timeout) <= 0 or max_bytes <= 0:
            raise ValueError("timeouts and max_bytes must be positive")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.max_bytes = max_bytes
        self._session = session
        self._session_lock = threading.Lock()

    def _get_session(self) -> requests.Session:
        session = self._session
        if session is not None:
            return session
        with self._session_lock:
            if self._session is None:
                # Imported here, like http.client below: ~100 ms together, and a warm
                # instance (or a cold one whose keys are cached) never fetches.
                import http.cookiejar  # noqa: PLC0415

                import requests  # noqa: PLC0415

                new = requests.Session()
                new.headers["User-Agent"] = _user_agent()
                # Cookies have no place in key fetching; a shared jar is also the one
                # part of a Session that is not safe across threads.
                new.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
                self._session = new
            return self._session

    def get_json(self, url: str, *, allow_http: bool = False) -> FetchResult:
        """GET ``url`` and return its JSON object; raise FetchError on any failure."""
        schemes = ("https", "http") if allow_http else ("https",)
        parts = urlsplit(url)
        if parts.scheme not in schemes or not parts.hostname:
            allowed = " or ".join(f"{s}://" for s in schemes)
            raise FetchError(f"refused {safe_url(url)!r}: only {allowed} URLs are fetched")

        import http.client  # noqa: PLC0415  see _get_session

        import requests  # noqa: PLC0415  see _get_session
        from urllib3.exceptions import HTTPError as Urllib3Error  # noqa: PLC0415  same

        session = self._get_session()
        safe = safe_url(url)
        deadline = time.monotonic() + self.total_timeout
        # Connect and the wait for the headers are capped by their own timeouts (each
        # at most the total); the body is then read against the overall deadline.
        timeout = (
            min(self.connect_timeout, self.total_timeout),
            min(self.read_timeout, self.total_timeout),
        )
        try:
            response = session.get(
                url,
                headers={"Accept": "application/json"},
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.RequestException as exc:
            raise FetchError(f"GET {safe} failed: {type(exc).__name__}") from exc
        with response:
            status = response.status_code
            if 300 <= status < 400:
                raise FetchError(f"GET {safe}: redirect refused (HTTP {status})")
            if not 200 <= status < 300:
                raise FetchError(f"GET {safe}: HTTP {status}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise FetchError(f"GET {safe}: response too large ({declared} bytes declared)")
            try:
                body = self._read_body(response, deadline, safe)
            except (Urllib3Error, http.client.HTTPException, OSError) as exc:
                raise FetchError(f"GET {safe}: reading failed: {type(exc).__name__}") from exc
            max_age = parse_cache_control(response.headers.get("Cache-Control"))
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:  # RecursionError: hostile nesting
            raise FetchError(f"GET {safe}: response is not valid JSON") from exc
        if not isinstance(document, dict):
            raise FetchError(f"GET {safe}: JSON is a {type(document).__name__}, not an object")
        return FetchResult(body=document, max_age=max_age)

    def _read_body(self, response: requests.Response, deadline: float, safe: str) -> bytes:
        raw = response.raw
        connection = raw.connection
        sock = getattr(connection, "sock", None) if connection is not None else None
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(f"GET {safe}: total timeout of {self.total_timeout}s exceeded")
            if sock is not None:
                # Each read waits at most until the deadline, so a trickling server
                # overshoots the total by one scheduler tick, not by a read timeout.
                sock.settimeout(min(self.read_timeout, remaining))
            # read1 returns whatever one read delivers; read(n) would wait for n bytes.
            chunk = raw.read1(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"GET {safe}: response too large (over {self.max_bytes} bytes)")
            chunks.append(chunk)
