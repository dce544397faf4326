"""Where an allowed request goes: the built-in echo, or an HTTP upstream (a proxy)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Final
from urllib.parse import quote, urlsplit

from .events import single
from .messages import Authorized, Request, Response, UpstreamFailed

_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)


class EchoUpstream:
    """The built-in integration: answers with what it received, authorizer context included."""

    def __call__(self, request: Request, authorized: Authorized) -> Response:
        """A JSON echo of the request and of what the authorizer passed on."""
        body = {
            "method": request.method,
            "path": request.path,
            "query": single(request.query_items(), lower=False, join=False),
            "principalId": authorized.principal_id,
            "authorizer": dict(authorized.context),
            "methodArn": authorized.method_arn,
            "apiKind": authorized.kind,
            "requestId": authorized.request_id,
            "bodyBytes": len(request.body),
        }
        payload = json.dumps(body, indent=2, sort_keys=True).encode() + b"\n"
        return Response(200, (("Content-Type", "application/json"),), payload)


def _header_value(value: object) -> str:
    text = json.dumps(value) if isinstance(value, bool | int | float) else str(value)
    if all(0x20 <= ord(ch) <= 0x7E for ch in text):
        return text
    return quote(text, safe="")  # non-ASCII or control characters: percent-encoded UTF-8


def authorizer_headers(authorized: Authorized) -> list[tuple[str, str]]:
    """The ``x-authorizer-*`` headers an upstream receives.

    One header per context key (``tenant_id`` -> ``x-authorizer-tenant-id``; characters
    other than letters and digits become ``-``), ``x-authorizer-principal-id``, and the
    whole context, exact and unambiguous, as ASCII JSON in ``x-authorizer-context``.
    """
    out: list[tuple[str, str]] = []
    if authorized.principal_id is not None:
        out.append(("x-authorizer-principal-id", _header_value(authorized.principal_id)))
    for key, value in authorized.context.items():
        name = re.sub(r"[^A-Za-z0-9]", "-", key).lower()
        if name != "principal-id":
            out.append((f"x-authorizer-{name}", _header_value(value)))
    context = json.dumps(dict(authorized.context), separators=(",", ":"), sort_keys=True)
    out.append(("x-authorizer-context", context))
    return out


class ProxyUpstream:
    """An HTTP integration: forwards the request to ``base_url`` + path, like an HTTP proxy
    integration, with the authorizer's answer added as ``x-authorizer-*`` headers."""

    def __init__(
        self, base_url: str, *, connect_timeout: float = 2.0, timeout: float = 29.0
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"--upstream must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.timeout = timeout  # API Gateway's integration timeout is 29 s

    def __call__(self, request: Request, authorized: Authorized) -> Response:
        """Forward ``request``; :class:`UpstreamFailed` when the upstream does not answer."""
        import requests  # noqa: PLC0415  (only a proxied gateway needs it)

        headers = [
            (k, v)
            for k, v in request.headers
            if k.lower() not in _HOP_BY_HOP
            and k.lower() not in ("host", "content-length", "x-forwarded-for")
            # A client must not be able to pose as the authorizer.
            and not k.lower().startswith("x-authorizer-")
        ]
        forwarded = ", ".join([*request.header_values("x-forwarded-for"), request.source_ip])
        headers += [("X-Forwarded-For", forwarded), *authorizer_headers(authorized)]
        url = self.base_url + request.path + (f"?{request.query}" if request.query else "")
        try:
            upstream = requests.request(
                request.method,
                url,
                headers=_forward_headers(headers),
                data=request.body or None,
                allow_redirects=False,
                stream=True,
                timeout=(self.connect_timeout, self.timeout),
            )
        except requests.Timeout as exc:
            raise UpstreamFailed(
                504, "upstream_timeout", f"upstream {self.base_url} did not answer in time"
            ) from exc
        except requests.RequestException as exc:
            raise UpstreamFailed(
                502,
                "upstream_unreachable",
                f"upstream {self.base_url} is unreachable ({type(exc).__name__}): "
                "start it or fix --upstream",
            ) from exc
        try:
            body = upstream.raw.read(decode_content=False)
        finally:
            upstream.close()
        out = tuple(
            (k, v)
            for k, v in upstream.raw.headers.items()
            if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length"
        )
        return Response(upstream.status_code, out, body)


def _forward_headers(items: Sequence[tuple[str, str]]) -> dict[str, str | None]:
    """Headers for ``requests``: repeats joined by commas, and none of its own defaults.

    ``None`` removes a default ``requests`` would add: the upstream must see the
    client's request, and an ``Accept-Encoding`` the client did not send would let the
    upstream compress a body that is relayed as-is.
    """
    out: dict[str, str | None] = {}
    names: dict[str, str] = {}
    for key, value in items:
        existing = names.get(key.lower())
        if existing is None:
            names[key.lower()] = key
            out[key] = value
        else:
            out[existing] = f"{out[existing]}, {value}"
    for default in ("User-Agent", "Accept-Encoding", "Accept", "Connection"):
        if default.lower() not in names:
            out[default] = None
    return out
