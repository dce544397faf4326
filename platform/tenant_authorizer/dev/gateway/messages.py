"""What passes through the gateway: requests, responses, refusals and access records."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from .api import ApiKind, ApiSpec


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request as the gateway received it."""

    method: str
    path: str  # as sent, percent-encoding kept, without the query string
    query: str = ""  # raw query string
    headers: tuple[tuple[str, str], ...] = ()  # in order, names as sent
    body: bytes = b""
    source_ip: str = "127.0.0.1"

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive), in order."""
        lower = name.lower()
        return [v for k, v in self.headers if k.lower() == lower]

    def query_items(self) -> list[tuple[str, str]]:
        """Decoded query parameters, in order, blanks kept."""
        return parse_qsl(self.query, keep_blank_values=True)


@dataclass(frozen=True, slots=True)
class Response:
    """One HTTP response."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON (tests and tools)."""
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class Authorized:
    """What an allowed request carries to the upstream, as API Gateway passes it on."""

    principal_id: str | None
    context: Mapping[str, Any]
    tenant_id: str | None
    method_arn: str
    request_id: str
    kind: ApiKind


class UpstreamFailed(Exception):
    """Raised by an upstream that could not answer; becomes ``status`` with ``message``."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


Upstream = Callable[[Request, Authorized], Response]


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One access-log entry: what happened to one request. Never holds a token."""

    method: str
    path: str
    status: int
    outcome: str  # allow, deny, unauthorized, fault
    reason: str  # the authorizer's reason code, or the gateway's own
    tenant_id: str | None
    cache: str  # hit, miss, off (TTL 0), "-" (authorizer not consulted)
    latency_ms: float
    note: str | None = None
    at: float = field(default_factory=time.time)

    def line(self) -> str:
        """``12:00:01 GET /orders -> 200 allow reason=ok tenant=t cache=miss 3.1ms``."""
        stamp = time.strftime("%H:%M:%S", time.localtime(self.at))
        path = _printable(self.path)
        text = (
            f"{stamp} {self.method} {path} -> {self.status} {self.outcome} reason={self.reason} "
            f"tenant={self.tenant_id or '-'} cache={self.cache} {self.latency_ms:.1f}ms"
        )
        return f"{text} note={self.note!r}" if self.note else text


def _printable(text: str, limit: int = 200) -> str:
    clean = "".join(ch if 0x21 <= ord(ch) <= 0x7E else "?" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


# --------------------------------------------------------------------------- refusals


def _error(api: ApiSpec, status: int, request_id: str, body: object, error_type: str) -> Response:
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers: list[tuple[str, str]] = [("Content-Type", "application/json")]
    if api.family == "rest":
        headers += [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", error_type)]
    else:
        headers.append(("apigw-requestid", request_id))
    return Response(status, tuple(headers), payload)


def unauthorized(api: ApiSpec, request_id: str) -> Response:
    """401, as API Gateway answers a missing identity source or an ``Unauthorized`` error."""
    return _error(api, 401, request_id, {"message": "Unauthorized"}, "UnauthorizedException")


def forbidden(api: ApiSpec, request_id: str, verdict: str) -> Response:
    """403: REST APIs name explicit and implicit denies; HTTP APIs say Forbidden."""
    if api.family == "http":
        return _error(api, 403, request_id, {"message": "Forbidden"}, "AccessDeniedException")
    message = "User is not authorized to access this resource"
    if verdict == "explicit_deny":
        message += " with an explicit deny"
    return _error(api, 403, request_id, {"Message": message}, "AccessDeniedException")


def authorizer_error(api: ApiSpec, request_id: str) -> Response:
    """500: the authorizer failed or answered something that is not an answer."""
    body: dict[str, str | None] = (
        {"message": None} if api.family == "rest" else {"message": "Internal Server Error"}
    )
    return _error(api, 500, request_id, body, "AuthorizerConfigurationException")
