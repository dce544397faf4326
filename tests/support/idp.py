"""An IdP in-process: a development issuer's documents served through the Fetcher seam.

:class:`InProcessIdp` is a :class:`~tenant_authorizer.dev.issuer.DevIssuer` that never
opens a socket: the JWKS cache under test is given the IdP itself as its fetcher
(:class:`~tenant_authorizer.runtime.fetch.Fetcher`), and each ``get_json`` answers what
the issuer's HTTP endpoints would (discovery with ``max-age=3600``, the JWKS with the
issuer's ``Cache-Control``), or fails as a fetch fails. It is for the cache's own logic
(rotation, the kid cooldown, max-age, stale serving, the breaker), where a socket proves
nothing; what real HTTP does (timeouts, gzip, redirects, oversized or trickling
answers) is tested on :class:`~support.issuers.FaultyIssuer` over 127.0.0.1.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.runtime.errors import FetchError
from tenant_authorizer.runtime.fetch import FetchResult, parse_cache_control

# How a fetch from the IdP goes: "down" as an HTTP 503 does, "refuse" as a refused
# connection does (the fetcher's FetchError either way).
Mode = Literal["ok", "down", "refuse"]

_names = itertools.count(1)


class InProcessIdp(DevIssuer):
    """A development issuer at ``https://idpN.example.test``, reached without a socket."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._base = f"https://idp{next(_names)}.example.test"
        self._mode: Mode = "ok"
        self._failing: frozenset[str] | None = None  # None: every path
        self.calls: list[str] = []
        self._ensure_keys()

    # ------------------------------------------------------------------ no server

    def start(self) -> Self:
        """Nothing to start: the keys exist from construction."""
        return self

    def stop(self) -> None:
        """Nothing to stop."""

    @property
    def port(self) -> int:
        """The port https implies."""
        return 443

    @property
    def base_url(self) -> str:
        """``https://idpN.example.test``, unique per instance."""
        return self._base

    # ------------------------------------------------------------------ faults

    def set_mode(self, mode: Mode, paths: Iterable[str] | None = None) -> None:
        """Make fetches of ``paths`` (default: every path) go as ``mode`` says."""
        self._mode = mode
        self._failing = frozenset(paths) if paths is not None else None

    # ------------------------------------------------------------------ the Fetcher seam

    def get_json(
        self,
        url: str,
        *,
        local_development: bool = False,
        deadline: float | None = None,
        private_ok: bool = False,
    ) -> FetchResult:
        """What a GET of ``url`` on this issuer's endpoints returns to the fetcher."""
        parts = urlsplit(url)
        if parts.scheme != "https" or f"{parts.scheme}://{parts.netloc}" != self._base:
            raise FetchError(f"GET {url}: no such host in this test")
        path = parts.path
        self.calls.append(url)
        self._record(path)
        if self._mode != "ok" and (self._failing is None or path in self._failing):
            if self._mode == "down":
                raise FetchError(f"GET {url}: HTTP 503")
            raise FetchError(f"GET {url}: ConnectionRefusedError")
        if path in (self.oidc_metadata_path, self.oauth_metadata_path):
            return FetchResult(body=self.metadata(), max_age=3600)
        if path == self.jwks_path:
            body: dict[str, Any] = self.jwks()
            return FetchResult(body=body, max_age=parse_cache_control(self.jwks_cache_control))
        raise FetchError(f"GET {url}: HTTP 404")
