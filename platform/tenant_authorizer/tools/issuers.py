"""An issuer seen from outside: its metadata and keys, as the runtime fetches them, judged.

``tenant-authz issuer check`` and ``tenant-authz onboard`` share this. Each fetch goes
through the runtime's own fetcher (https only, no redirects, the address rules, the size
cap, the per-fetch timeout), so "reachable" means reachable by the function; the same URL
is then read once more with ``requests`` for what the runtime does not keep (headers,
timing, encoding).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..runtime.discovery import metadata_url
from ..runtime.errors import FetchError
from ..runtime.fetch import DEFAULT_FETCH_TIMEOUT, HttpFetcher

ASYMMETRIC = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
MAX_BYTES = 256 * 1024  # the runtime's cap on a JWKS or metadata answer


@dataclass
class Finding:
    """One thing said about an issuer: ok, warn or fail."""

    level: str
    what: str
    detail: str

    def line(self) -> str:
        """As printed."""
        return f"{self.level:<5} {self.what:<12} {self.detail}"


@dataclass
class Fetched:
    """One answer: the parsed object (None on failure), and what the headers said."""

    url: str
    body: dict[str, Any] | None
    error: str | None = None
    seconds: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)
    size: int = 0


def metadata_urls(issuer: str) -> list[tuple[str, str]]:
    """Where an issuer publishes its metadata, as the runtime reads it: OIDC, then RFC 8414."""
    return [(mode, metadata_url(issuer, mode)) for mode in ("oidc", "oauth")]


def fetch(
    url: str,
    *,
    local_development: bool,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
    private_ok: bool = True,
) -> Fetched:
    """``url`` as the runtime fetches it, plus the headers of a second, plain read.

    ``private_ok`` as the runtime decides it: True for URLs a tenant file names (or the
    metadata derived from its issuer URL), False for a ``jwks_uri`` the metadata points
    to on another host.
    """
    started = time.perf_counter()
    try:
        result = HttpFetcher(timeout=timeout).get_json(
            url, local_development=local_development, private_ok=private_ok
        )
    except FetchError as exc:
        return Fetched(url, None, str(exc), time.perf_counter() - started)
    seconds = time.perf_counter() - started
    headers: dict[str, str] = {}
    size = 0
    try:
        import requests  # noqa: PLC0415 - tools only

        with requests.Session() as session:
            session.trust_env = False  # no proxy or netrc: the runtime uses neither
            plain = session.get(
                url,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
                headers={"Accept-Encoding": "gzip"},
            )
        headers = {k.lower(): v for k, v in plain.headers.items()}
        size = len(plain.raw.read(MAX_BYTES + 1, decode_content=False))
        plain.close()
    except Exception:  # noqa: BLE001, S110 - the headers are extra; the runtime's fetch decided
        pass
    return Fetched(url, result.body, None, seconds, headers, size)


def metadata(
    issuer: str, *, local_development: bool, mode: str | None = None
) -> tuple[str | None, Fetched | None, list[Fetched]]:
    """The first metadata document that answers: its kind, the answer, and every try.

    ``mode`` (oidc, oauth) reads only that document, as the runtime does for a tenant
    whose file names it; None tries both (onboarding).
    """
    tries = []
    for kind, url in metadata_urls(issuer):
        if mode is not None and kind != mode:
            continue
        got = fetch(url, local_development=local_development)
        tries.append(got)
        if got.body is not None:
            return kind, got, tries
    return None, None, tries


def _b64len(value: object) -> int:
    if not isinstance(value, str):
        return 0
    try:
        return len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except ValueError:
        return 0


def key_findings(keys: Sequence[Mapping[str, Any]], algorithms: Iterable[str]) -> list[Finding]:
    """Each key's kid, type, size, algorithm and use; weak, duplicate or missing kids."""
    out: list[Finding] = []
    allowed = set(algorithms)
    kids = [k.get("kid") for k in keys]
    for key in keys:
        kty, kid, alg, use = key.get("kty"), key.get("kid"), key.get("alg"), key.get("use")
        if kty == "RSA":
            bits = _b64len(key.get("n")) * 8
            size = f"RSA {bits} bits"
            weak = bits < 2048
        elif kty in ("EC", "OKP"):
            size, weak = (
                f"{kty} {key.get('crv')}",
                key.get("crv") not in ("P-256", "P-384", "P-521", "Ed25519", "Ed448"),
            )
        else:
            size, weak = f"{kty}", kty == "oct"
        detail = f"kid {kid!r}: {size}, alg {alg or '(none)'}, use {use or '(none)'}"
        level = "ok"
        notes: list[str] = []
        if weak:
            level, notes = "fail", [*notes, "weak or symmetric key: the runtime refuses it"]
        if kid is None:
            level = "fail" if len(keys) > 1 else "warn"
            notes.append("no kid: tokens cannot name it" if len(keys) > 1 else "no kid")
        elif kids.count(kid) > 1:
            level, notes = "fail", [*notes, "duplicate kid"]
        if use not in (None, "sig"):
            level, notes = (
                "warn" if level == "ok" else level,
                [*notes, f"use {use}: not a signing key"],
            )
        if alg is not None and allowed and alg not in allowed:
            notes.append("alg not in the tenant's algorithms")
            level = "warn" if level == "ok" else level
        out.append(Finding(level, "key", detail + (f" ({'; '.join(notes)})" if notes else "")))
    by_type: dict[str, int] = {}
    for key in keys:
        if key.get("use") in (None, "sig"):
            label = str(key.get("alg") or key.get("kty"))
            by_type[label] = by_type.get(label, 0) + 1
    for label, count in sorted(by_type.items()):
        if count > 1:
            out.append(
                Finding(
                    "ok",
                    "rotation",
                    f"{count} {label} keys published: a rotation is under way "
                    "(or keys kept for it)",
                )
            )
    if not keys:
        out.append(Finding("fail", "keys", "the JWKS holds no key"))
    return out


def answer_findings(what: str, got: Fetched, budget: float) -> list[Finding]:
    """Reachability within the budget, Cache-Control, encoding and size of one answer."""
    if got.body is None:
        return [Finding("fail", what, f"{got.url}: {got.error}")]
    out = [
        Finding(
            "ok" if got.seconds <= budget else "warn",
            what,
            f"{got.url} answered in {got.seconds * 1000:.0f} ms (budget {budget:g} s)",
        )
    ]
    cache = got.headers.get("cache-control")
    if got.headers and not cache:
        out.append(
            Finding("warn", what, "no Cache-Control: the runtime keeps it for its default max-age")
        )
    encoding = got.headers.get("content-encoding")
    if encoding:
        out.append(Finding("warn", what, f"compressed answer (Content-Encoding {encoding})"))
    if got.size > MAX_BYTES * 3 // 4:
        out.append(
            Finding("warn", what, f"{got.size} bytes: close to the runtime's {MAX_BYTES}-byte cap")
        )
    return out
