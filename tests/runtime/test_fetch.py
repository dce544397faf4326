"""The bounded fetcher: https only, no redirects, a size cap, a total deadline, JSON objects."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from support.issuers import FaultyIssuer, Mode
from support.tls import https_server, self_signed, stalled_server, trusting
from tenant_authorizer.runtime.errors import FetchError
from tenant_authorizer.runtime.fetch import HttpFetcher, parse_cache_control


def _fetcher() -> HttpFetcher:
    return HttpFetcher(timeout=1.0)


def test_fetches_a_json_object(dev_issuer: FaultyIssuer) -> None:
    """A 200 JSON object comes back parsed, with its max-age."""
    result = _fetcher().get_json(dev_issuer.jwks_uri, local_development=True)
    assert {key["kid"] for key in result.body["keys"]} >= {dev_issuer.current_kid("RS256")}
    assert result.max_age == 300


def test_sends_accept_and_user_agent(dev_issuer: FaultyIssuer) -> None:
    """Requests ask for JSON and name the product and its version."""
    _fetcher().get_json(dev_issuer.jwks_uri, local_development=True)
    assert dev_issuer.last_headers["Accept"] == "application/json"
    assert dev_issuer.last_headers["User-Agent"] == "tenant-authorizer/0.1.0"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/jwks.json",
        "file:///etc/passwd",
        "//127.0.0.1/jwks.json",
        "https:///no-host",
        "jwks.json",
    ],
)
def test_refuses_non_https_urls(url: str) -> None:
    """Only https:// URLs with a host are fetched, whatever allow_http says."""
    with pytest.raises(FetchError, match="only"):
        _fetcher().get_json(url, local_development=True)


def test_refuses_http_unless_allowed(dev_issuer: FaultyIssuer) -> None:
    """An http:// URL is refused without a request unless allow_http is set."""
    with pytest.raises(FetchError, match=r"only https://"):
        _fetcher().get_json(dev_issuer.jwks_uri)
    assert dev_issuer.request_count() == 0


def test_refuses_redirects(dev_issuer: FaultyIssuer) -> None:
    """A 3xx is a failure and is not followed."""
    dev_issuer.set_mode("redirect")
    with pytest.raises(FetchError, match="redirect refused"):
        _fetcher().get_json(dev_issuer.jwks_uri, local_development=True)
    assert dev_issuer.request_count() == 1


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_refuses_bodies_over_max_bytes(dev_issuer: FaultyIssuer, declared: bool) -> None:
    """A body over max_bytes fails, whether its length is declared or only streamed."""
    dev_issuer.set_mode("huge")
    dev_issuer.huge_declared = declared
    dev_issuer.huge_bytes = 100_000
    fetcher = HttpFetcher(max_bytes=64 * 1024, timeout=2.0)
    with pytest.raises(FetchError, match="too large"):
        fetcher.get_json(dev_issuer.jwks_uri, local_development=True)


@pytest.mark.parametrize(("slack", "fits"), [(0, True), (-1, False)], ids=["at", "over"])
def test_max_bytes_is_inclusive(dev_issuer: FaultyIssuer, slack: int, fits: bool) -> None:
    """A body of exactly max_bytes is accepted; one byte more is not."""
    dev_issuer.jwks_cache_control = None
    size = len(requests.get(dev_issuer.jwks_uri, timeout=1).content)
    fetcher = HttpFetcher(max_bytes=size + slack)
    if fits:
        assert fetcher.get_json(dev_issuer.jwks_uri, local_development=True).body["keys"]
    else:
        with pytest.raises(FetchError, match="too large"):
            fetcher.get_json(dev_issuer.jwks_uri, local_development=True)


def test_total_timeout_bounds_a_trickling_server(dev_issuer: FaultyIssuer) -> None:
    """A server sending a byte at a time (each within the read timeout) is cut at the total."""
    dev_issuer.set_mode("trickle")
    dev_issuer.trickle_interval = 0.02
    fetcher = HttpFetcher(timeout=0.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        fetcher.get_json(dev_issuer.jwks_uri, local_development=True)
    assert time.monotonic() - started < 0.8


def test_read_timeout_bounds_a_silent_server(dev_issuer: FaultyIssuer) -> None:
    """A server that accepts but does not answer fails after the read timeout."""
    dev_issuer.set_mode("slow")
    fetcher = HttpFetcher(timeout=0.2)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        fetcher.get_json(dev_issuer.jwks_uri, local_development=True)
    assert time.monotonic() - started < 0.5


def test_connection_refused_is_a_fetch_error(dev_issuer: FaultyIssuer) -> None:
    """A closed port fails at once with a FetchError, not a requests exception."""
    dev_issuer.set_mode("refuse")
    with pytest.raises(FetchError, match="ConnectionRefused"):
        _fetcher().get_json(dev_issuer.jwks_uri, local_development=True)


@pytest.mark.parametrize(
    ("mode", "path", "status"),
    [("down", "/jwks.json", 503), ("ok", "/missing.json", 404)],
    ids=["503", "404"],
)
def test_non_2xx_fails_without_the_body(
    dev_issuer: FaultyIssuer, mode: Mode, path: str, status: int
) -> None:
    """A non-2xx status is a failure whose message names the status, not the body."""
    dev_issuer.set_mode(mode)
    with pytest.raises(FetchError, match=f"HTTP {status}") as caught:
        _fetcher().get_json(f"{dev_issuer.issuer}{path}", local_development=True)
    assert "error" not in str(caught.value)


@pytest.mark.parametrize(
    ("mode", "message"),
    [("garbage", "not valid JSON"), ("json_array", "not an object")],
)
def test_non_object_bodies_fail(dev_issuer: FaultyIssuer, mode: Mode, message: str) -> None:
    """A body that is not JSON, or JSON but not an object, is a failure; no body is quoted."""
    dev_issuer.set_mode(mode)
    with pytest.raises(FetchError, match=message) as caught:
        _fetcher().get_json(dev_issuer.jwks_uri, local_development=True)
    assert "html" not in str(caught.value).lower()
    assert "keys" not in str(caught.value)


def test_messages_leave_out_the_query(dev_issuer: FaultyIssuer) -> None:
    """A URL's query string (which could carry a secret) is not repeated in errors."""
    dev_issuer.set_mode("down")
    with pytest.raises(FetchError) as caught:
        _fetcher().get_json(f"{dev_issuer.jwks_uri}?sig=s3cr3t", local_development=True)
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("public", None),
        ("max-age=300", 300),
        ("public, max-age=600, must-revalidate", 600),
        ("MAX-AGE=60", 60),
        ('max-age="120"', 120),
        ("max-age = 30", 30),
        ("max-age=300, max-age=10", 10),
        ("max-age=-5", None),
        ("max-age=abc", None),
        ("s-maxage=900", None),
        ("no-store", 0),
        ("no-cache", 0),
        ("max-age=300, no-cache", 0),
    ],
)
def test_cache_control_parsing(header: str | None, expected: int | None) -> None:
    """max-age is read; no-store/no-cache mean 0; anything unreadable means absent."""
    assert parse_cache_control(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"), [(None, None), ("no-store", 0), ("max-age=42", 42)]
)
def test_max_age_comes_from_the_response(
    dev_issuer: FaultyIssuer, header: str | None, expected: int | None
) -> None:
    """FetchResult.max_age reflects the Cache-Control header the server sent."""
    dev_issuer.jwks_cache_control = header
    assert _fetcher().get_json(dev_issuer.jwks_uri, local_development=True).max_age == expected


@pytest.mark.parametrize("kwargs", [{"timeout": 0}, {"timeout": -1}, {"max_bytes": 0}])
def test_rejects_nonsense_limits(kwargs: dict[str, Any]) -> None:
    """Zero or negative limits are a programming error."""
    with pytest.raises(ValueError, match="positive"):
        HttpFetcher(**kwargs)


def test_gzip_answers_are_decoded(dev_issuer: FaultyIssuer) -> None:
    """gzip is offered explicitly and decoded: IdPs and CDNs that compress stay usable."""
    dev_issuer.set_mode("gzip")
    result = _fetcher().get_json(dev_issuer.jwks_uri, local_development=True)
    assert dev_issuer.last_headers["Accept-Encoding"] == "gzip"
    assert {key["kid"] for key in result.body["keys"]} >= {dev_issuer.current_kid("RS256")}


def test_the_size_cap_applies_to_decoded_bytes(dev_issuer: FaultyIssuer) -> None:
    """A few KB of gzip that expand past max_bytes are refused before they expand further."""
    dev_issuer.set_mode("gzip_bomb")
    dev_issuer.huge_bytes = 50 * 1024 * 1024
    fetcher = HttpFetcher(max_bytes=256 * 1024, timeout=5.0)
    started = time.monotonic()
    with pytest.raises(FetchError, match="too large"):
        fetcher.get_json(dev_issuer.jwks_uri, local_development=True)
    assert time.monotonic() - started < 2.0


def test_an_encoding_not_offered_is_refused(dev_issuer: FaultyIssuer) -> None:
    """A Content-Encoding the fetcher did not offer is a failure, never parsed as JSON."""
    dev_issuer.set_mode("brotli")
    with pytest.raises(FetchError, match="was not offered"):
        _fetcher().get_json(dev_issuer.jwks_uri, local_development=True)


def test_trickled_headers_end_at_the_deadline(dev_issuer: FaultyIssuer) -> None:
    """A status line and headers sent a byte at a time cannot stretch the fetch."""
    dev_issuer.set_mode("trickle_headers")
    dev_issuer.trickle_interval = 0.05
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        HttpFetcher(timeout=0.4).get_json(dev_issuer.jwks_uri, local_development=True)
    assert time.monotonic() - started < 0.6


def test_the_callers_deadline_wins_over_the_fetch_timeout(dev_issuer: FaultyIssuer) -> None:
    """A decision's deadline shorter than the fetch timeout ends the fetch at the deadline."""
    dev_issuer.set_mode("slow")
    started = time.perf_counter()
    with pytest.raises(FetchError, match="timed out"):
        HttpFetcher(timeout=5.0).get_json(
            dev_issuer.jwks_uri, local_development=True, deadline=started + 0.3
        )
    assert time.perf_counter() - started < 0.5


def test_a_spent_budget_makes_no_request(dev_issuer: FaultyIssuer) -> None:
    """With no time left in the decision's budget, nothing is sent at all."""
    with pytest.raises(FetchError, match="no time left"):
        _fetcher().get_json(
            dev_issuer.jwks_uri, local_development=True, deadline=time.perf_counter() - 1
        )
    assert dev_issuer.request_count() == 0


def test_name_resolution_ends_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolver that never answers (a hostile IdP's DNS) cannot hold the fetch."""
    import socket

    release = threading.Event()

    def slow_getaddrinfo(*_: Any, **__: Any) -> Any:
        release.wait(5)
        raise OSError("never")

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    started = time.monotonic()
    try:
        with pytest.raises(FetchError, match="timed out"):
            HttpFetcher(timeout=0.3).get_json("https://idp.example.test/jwks.json")
    finally:
        release.set()
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost:{port}/jwks.json",
        "https://127.0.0.1:{port}/jwks.json",
        "https://[::1]:{port}/jwks.json",
        "https://169.254.169.254/latest/meta-data",
        "https://0.0.0.0:{port}/jwks.json",
    ],
)
def test_addresses_no_remote_idp_uses_are_refused(dev_issuer: FaultyIssuer, url: str) -> None:
    """Loopback, link-local (metadata) and unspecified addresses are refused unless local."""
    with pytest.raises(FetchError, match="no remote IdP uses"):
        _fetcher().get_json(url.format(port=dev_issuer.port))
    assert dev_issuer.request_count() == 0


def test_https_is_verified_and_fetched(tmp_path: Path) -> None:
    """Over TLS the certificate is checked against the trust store, then JSON is read."""
    cert, key = self_signed(tmp_path)
    with https_server(cert, key, {"keys": [], "ok": True}) as base:
        fetcher = HttpFetcher(timeout=2.0, tls_context=trusting(cert))
        assert fetcher.get_json(f"{base}/jwks.json", local_development=True).body["ok"] is True
        with pytest.raises(FetchError, match=r"SSLCertVerificationError"):
            HttpFetcher(timeout=2.0).get_json(f"{base}/jwks.json", local_development=True)


def test_a_stalled_tls_handshake_ends_at_the_deadline(tmp_path: Path) -> None:
    """A server that accepts TCP but never answers the TLS hello cannot hold the fetch."""
    cert, _ = self_signed(tmp_path)
    with stalled_server() as base:
        started = time.monotonic()
        with pytest.raises(FetchError, match="timed out"):
            HttpFetcher(timeout=0.3, tls_context=trusting(cert)).get_json(
                f"{base}/jwks.json", local_development=True
            )
        assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("mode", ["gzip_lie", "gzip_trailer"])
def test_broken_gzip_is_a_fetch_error(dev_issuer: FaultyIssuer, mode: Mode) -> None:
    """A body that is not the gzip it claims (or has junk after it) fails as a FetchError."""
    dev_issuer.set_mode(mode)
    with pytest.raises(FetchError, match="failed: error"):
        _fetcher().get_json(dev_issuer.jwks_uri, local_development=True)


def test_a_host_that_is_no_valid_name_is_a_fetch_error() -> None:
    """An IdP-supplied host with an invalid IDN label fails cleanly, no thread traceback."""
    with pytest.raises(FetchError, match="UnicodeError"):
        _fetcher().get_json("https://a..b\u00e9.example/jwks.json")


def test_every_resolved_address_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name resolving to a public and a forbidden address never reaches the forbidden one."""
    import socket

    tried: list[Any] = []

    def answers(*_: Any, **__: Any) -> list[Any]:
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:169.254.169.254", 443, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 443)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", answers)
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: tried.append(address))
    with pytest.raises(FetchError, match="no remote IdP uses"):
        _fetcher().get_json("https://idp.example.test/jwks.json")
    assert tried == []


@pytest.mark.parametrize(("private_ok", "reached"), [(True, True), (False, False)])
def test_private_addresses_need_the_tenant_files_word(
    monkeypatch: pytest.MonkeyPatch, private_ok: bool, reached: bool
) -> None:
    """10.0.0.5 is fetched for a URL the tenant file names, never for one an IdP points to."""
    import socket

    tried: list[Any] = []

    def answers(*_: Any, **__: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 443))]

    def connect(_: Any, address: Any) -> None:
        tried.append(address)
        raise ConnectionRefusedError

    monkeypatch.setattr(socket, "getaddrinfo", answers)
    monkeypatch.setattr(socket.socket, "connect", connect)
    with pytest.raises(FetchError):
        _fetcher().get_json("https://idp.internal.example/keys", private_ok=private_ok)
    assert bool(tried) is reached


def test_the_default_tls_context_verifies_with_the_systems_trust_store() -> None:
    """With certifi gone, TLS trusts the runtime's store: it must hold CAs and check names."""
    import ssl

    from tenant_authorizer.runtime.connection import default_tls_context

    context = default_tls_context()
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert context.cert_store_stats()["x509_ca"] > 0, "no CA in the default trust store"
