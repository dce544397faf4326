"""The local API Gateway: a request goes through the same steps as in AWS, in-process.

For each HTTP request, :class:`Gateway` does what API Gateway does for a method that
has a Lambda authorizer, in this order:

1. reads the identity sources; a missing or empty one answers 401 without calling the
   authorizer (for REST TOKEN, the ``identityValidationExpression`` applies too);
2. looks the identity-source values up in the authorizer result cache (per value,
   ``ttl`` seconds, 0 disables);
3. on a miss, builds the event of the API kind (REST TOKEN, REST REQUEST, HTTP API
   payload 1.0 or 2.0) with the request's method ARN and calls
   :meth:`Authorizer.evaluate` in-process; 401 and 500 answers are not cached;
4. enforces the answer: the IAM policy is evaluated against *this* request's method
   ARN (:mod:`tenant_authorizer.dev.iam`) -- also when it came from the cache, which is what
   makes a policy's cache-safety visible -- or, for HTTP API simple responses,
   ``isAuthorized``; a malformed answer is a 500;
5. passes an allowed request to the upstream: the built-in echo or an HTTP URL.

The emulated API is one API of one account (:class:`ApiSpec`); its paths are served
without the stage prefix, as behind a custom domain. :class:`GatewayServer` serves a
Gateway over HTTP on 127.0.0.1 (stdlib ``ThreadingHTTPServer``). Every request produces
one :class:`AccessRecord`; tokens appear in none.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, Self
from urllib.parse import parse_qsl, quote, urlsplit

from . import iam
from .servers import serve_in_background, stop_background

if TYPE_CHECKING:
    from ..runtime.authorizer import Authorizer, Evaluation

ApiKind = Literal["rest-token", "rest-request", "http-v1", "http-v2"]
API_KINDS: Final[tuple[ApiKind, ...]] = ("rest-token", "rest-request", "http-v1", "http-v2")
MAX_BODY_BYTES: Final = 10 * 1024 * 1024  # API Gateway's payload limit
MAX_TTL: Final = 3600
PLACEHOLDER_API_ID: Final = "local00001"
PLACEHOLDER_STAGE: Final = "local"
_CACHE_MAX: Final = 10_000
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
# Event times use English month names whatever the locale (strftime's %b is localized).
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun")
_MONTHS_2: Final = ("Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PATH_RE: Final = re.compile(r"^/[\x21-\x7e]*$")
_NAME_RE: Final = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
_SOURCE_RE: Final = re.compile(
    r"^(?:method\.request|\$request|route\.request)\.(header|querystring)\.(.+)$"
)


# --------------------------------------------------------------------------- the emulated API


@dataclass(frozen=True, slots=True)
class IdentitySource:
    """One identity source: a request header or query-string parameter."""

    location: Literal["header", "querystring"]
    name: str

    @classmethod
    def parse(cls, expression: str) -> IdentitySource:
        """Parse ``method.request.header.Authorization`` or ``$request.querystring.token``."""
        match = _SOURCE_RE.match(expression.strip())
        if match is None or not _NAME_RE.match(match.group(2)):
            raise ValueError(
                f"identity source {expression!r} is not a header or query string, e.g. "
                "method.request.header.Authorization or $request.querystring.token"
            )
        if match.group(1) == "header":
            return cls("header", match.group(2))
        return cls("querystring", match.group(2))

    def expression(self, kind: ApiKind) -> str:
        """The mapping expression as the API kind spells it."""
        prefix = "method.request" if kind.startswith("rest") else "$request"
        return f"{prefix}.{self.location}.{self.name}"


@dataclass(frozen=True, slots=True)
class ApiSpec:
    """The API being emulated: where it lives, its authorizer's settings."""

    kind: ApiKind
    account_id: str
    api_id: str = PLACEHOLDER_API_ID
    stage: str = PLACEHOLDER_STAGE
    identity_sources: tuple[IdentitySource, ...] = (IdentitySource("header", "Authorization"),)
    ttl: float = 300
    simple_responses: bool = False
    identity_validation: str | None = None  # REST TOKEN only: a regex the token must match
    region: str = "us-east-1"
    partition: str = "aws"

    def __post_init__(self) -> None:
        if self.kind not in API_KINDS:
            raise ValueError(f"unknown API kind {self.kind!r}; choose from {', '.join(API_KINDS)}")
        if not 0 <= self.ttl <= MAX_TTL:
            raise ValueError(f"the authorizer cache TTL must be between 0 and {MAX_TTL} seconds")
        if self.kind == "rest-token":
            sources = self.identity_sources
            if len(sources) != 1 or sources[0].location != "header":
                raise ValueError("a REST TOKEN authorizer reads exactly one header")
        elif self.identity_validation is not None:
            raise ValueError("an identity validation expression applies to REST TOKEN only")
        if not self.identity_sources and self.ttl > 0:
            raise ValueError("identity sources are the cache key: set some, or set the TTL to 0")
        if self.simple_responses and self.kind != "http-v2":
            raise ValueError("simple responses exist only for HTTP APIs with payload 2.0")
        if self.identity_validation is not None:
            try:
                re.compile(self.identity_validation)
            except re.error as exc:
                raise ValueError(
                    f"the identity validation expression is not a regex: {exc}"
                ) from exc

    @property
    def family(self) -> Literal["rest", "http"]:
        """REST APIs and HTTP APIs answer refusals with different bodies."""
        return "rest" if self.kind.startswith("rest") else "http"

    @property
    def arn_prefix(self) -> str:
        """``arn:aws:execute-api:region:account:api/stage/``."""
        return (
            f"arn:{self.partition}:execute-api:{self.region}:{self.account_id}:"
            f"{self.api_id}/{self.stage}/"
        )

    def method_arn(self, method: str, path: str) -> str:
        """A request's method ARN (``routeArn`` for payload 2.0), as API Gateway builds it."""
        return f"{self.arn_prefix}{method}{path}"

    @property
    def domain_name(self) -> str:
        """The execute-api host name the API would have in AWS."""
        return f"{self.api_id}.execute-api.{self.region}.amazonaws.com"


# --------------------------------------------------------------------------- requests, answers


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


# --------------------------------------------------------------------------- events


def _event_time(now: float) -> str:
    t = time.gmtime(now)
    return (
        f"{t.tm_mday:02d}/{(_MONTHS + _MONTHS_2)[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def _single(items: Sequence[tuple[str, str]], *, lower: bool, join: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower() if lower else name
        out[key] = f"{out[key]},{value}" if join and key in out else value
    return out


def _multi(items: Sequence[tuple[str, str]], *, lower: bool) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in items:
        out.setdefault(name.lower() if lower else name, []).append(value)
    return out


def _headers_seen(api: ApiSpec, request: Request) -> dict[str, str]:
    """Headers as the event carries them: REST keeps names and the last value; HTTP APIs
    lower-case names and join repeated values with commas."""
    if api.family == "rest":
        return _single(request.headers, lower=False, join=False)
    return _single(request.headers, lower=True, join=True)


def identity_values(api: ApiSpec, request: Request) -> list[str | None]:
    """The value of each identity source, as the event will carry it (None when absent)."""
    headers = {k.lower(): v for k, v in _headers_seen(api, request).items()}
    query = _single(request.query_items(), lower=False, join=api.family == "http")
    out: list[str | None] = []
    for source in api.identity_sources:
        if source.location == "header":
            out.append(headers.get(source.name.lower()))
        else:
            out.append(query.get(source.name))
    return out


def build_event(
    api: ApiSpec,
    request: Request,
    values: Sequence[str],
    *,
    request_id: str,
    now: float,
) -> dict[str, Any]:
    """The authorizer event API Gateway sends for ``request``, in the shape of ``api.kind``."""
    arn = api.method_arn(request.method, request.path)
    if api.kind == "rest-token":
        return {"type": "TOKEN", "authorizationToken": values[0], "methodArn": arn}
    query = request.query_items()
    user_agent = (request.header_values("user-agent") or [""])[-1]
    staged_path = request.path if api.stage == "$default" else f"/{api.stage}{request.path}"
    resource = "/" if request.path == "/" else "/{proxy+}"
    path_parameters = None if request.path == "/" else {"proxy": request.path[1:]}
    epoch_ms = int(now * 1000)
    if api.kind == "http-v2":
        cookies = [
            c.strip()
            for value in request.header_values("cookie")
            for c in value.split(";")
            if c.strip()
        ]
        headers = {
            k: v for k, v in _headers_seen(api, request).items() if k != "cookie"
        }  # payload 2.0 moves cookies out of the headers
        event: dict[str, Any] = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": arn,
            "identitySource": list(values) or None,
            "routeKey": f"ANY {resource}",
            "rawPath": staged_path,
            "rawQueryString": request.query,
            "headers": headers,
            "requestContext": {
                "accountId": api.account_id,
                "apiId": api.api_id,
                "domainName": api.domain_name,
                "domainPrefix": api.api_id,
                "http": {
                    "method": request.method,
                    "path": staged_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": request.source_ip,
                    "userAgent": user_agent,
                },
                "requestId": request_id,
                "routeKey": f"ANY {resource}",
                "stage": api.stage,
                "time": _event_time(now),
                "timeEpoch": epoch_ms,
            },
        }
        if cookies:
            event["cookies"] = cookies
        if query:
            event["queryStringParameters"] = _single(query, lower=False, join=True)
        if path_parameters:
            event["pathParameters"] = path_parameters
        return event
    rest = api.kind == "rest-request"
    headers = _headers_seen(api, request)
    context: dict[str, Any] = {
        "accountId": api.account_id,
        "apiId": api.api_id,
        "domainName": api.domain_name,
        "domainPrefix": api.api_id,
        "extendedRequestId": request_id,
        "httpMethod": request.method,
        "identity": {"sourceIp": request.source_ip, "userAgent": user_agent},
        "path": staged_path,
        "protocol": "HTTP/1.1",
        "requestId": request_id,
        "requestTime": _event_time(now),
        "requestTimeEpoch": epoch_ms,
        "resourceId": "local1" if rest else f"ANY {resource}",
        "resourcePath": resource,
        "stage": api.stage,
    }
    if rest:
        context["identity"]["apiKey"] = ""
    event = {
        "type": "REQUEST",
        "methodArn": arn,
        "resource": resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": _multi(request.headers, lower=not rest),
        "queryStringParameters": _single(query, lower=False, join=False) if query else None,
        "multiValueQueryStringParameters": _multi(query, lower=False) if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": context,
    }
    if not rest:
        joined = ",".join(values) if values else None
        event = {"version": "1.0", **event, "identitySource": joined, "authorizationToken": joined}
    return event


# --------------------------------------------------------------------------- answers


class AnswerInvalid(ValueError):
    """Raised when the authorizer's answer is not one API Gateway accepts (500)."""


@dataclass(frozen=True, slots=True)
class _Answer:
    """An authorizer answer, checked once, kept in the cache, re-applied per request."""

    policy: Mapping[str, Any] | None  # IAM mode
    is_authorized: bool | None  # simple mode
    principal_id: str | None
    context: Mapping[str, Any]
    tenant_id: str | None

    def verdict(self, arn: str) -> str:
        """``allow``, ``explicit_deny``, ``implicit_deny`` or (simple) ``not_authorized``."""
        if self.policy is None:
            return "allow" if self.is_authorized else "not_authorized"
        return iam.evaluate(self.policy, arn)


def _answer(api: ApiSpec, response: Mapping[str, Any], tenant_id: str | None) -> _Answer:
    context = response.get("context") or {}
    if not isinstance(context, Mapping):
        raise AnswerInvalid("context is not an object")
    if api.kind != "http-v2":
        # REST and payload 1.0 accept only flat values: a nested one is a 500 in AWS.
        for key, value in context.items():
            if value is None or not isinstance(value, str | int | float | bool):
                raise AnswerInvalid(f"context value {key!r} is not a string, number or boolean")
    if api.simple_responses:
        authorized = response.get("isAuthorized")
        if not isinstance(authorized, bool):
            raise AnswerInvalid("isAuthorized is missing or not a boolean")
        return _Answer(None, authorized, None, dict(context), tenant_id)
    principal = response.get("principalId")
    if not isinstance(principal, str) or not principal:
        raise AnswerInvalid("principalId is missing or not a string")
    try:
        iam.statements(response.get("policyDocument"))
    except iam.PolicyInvalid as exc:
        raise AnswerInvalid(str(exc)) from exc
    return _Answer(response["policyDocument"], None, principal, dict(context), tenant_id)


# --------------------------------------------------------------------------- the gateway


@dataclass(slots=True)
class _Cached:
    answer: _Answer
    expires_at: float


class Gateway:
    """API Gateway's request path for one API, around an in-process :class:`Authorizer`."""

    def __init__(
        self,
        api: ApiSpec,
        authorizer: Authorizer,
        *,
        upstream: Upstream | None = None,
        on_access: Callable[[AccessRecord], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        cache_max: int = _CACHE_MAX,
        tenant_label: str | None = None,
    ) -> None:
        self.api = api
        self.tenant_label = tenant_label  # logged when the authorizer is not consulted
        self.upstream: Upstream = upstream or EchoUpstream()
        self.on_access = on_access
        self._authorizer = authorizer
        self._clock = clock
        self._cache: dict[tuple[str, ...], _Cached] = {}
        self._cache_max = cache_max
        self._lock = threading.Lock()
        self._validation = (
            re.compile(api.identity_validation) if api.identity_validation is not None else None
        )
        self.authorizer_calls = 0

    @property
    def authorizer(self) -> Authorizer:
        """The authorizer currently answering."""
        return self._authorizer

    def replace_authorizer(self, authorizer: Authorizer) -> None:
        """Answer with ``authorizer`` from now on (tenant files reloaded); flush the cache."""
        with self._lock:
            self._authorizer = authorizer
            self._cache.clear()

    def flush(self) -> None:
        """Forget every cached authorizer result (API Gateway's "flush authorizer cache")."""
        with self._lock:
            self._cache.clear()

    def handle(self, request: Request) -> Response:
        """Serve one request; report one :class:`AccessRecord`."""
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        record: dict[str, Any] = {
            "outcome": "fault",
            "reason": "internal_error",
            "cache": "-",
            "tenant_id": self.tenant_label,
        }
        response = self._handle(request, request_id, record)
        if self.on_access is not None:
            self.on_access(
                AccessRecord(
                    method=request.method,
                    path=request.path,
                    status=response.status,
                    outcome=record["outcome"],
                    reason=record["reason"],
                    tenant_id=record.get("tenant_id"),
                    cache=record["cache"],
                    latency_ms=(time.perf_counter() - started) * 1000,
                    note=record.get("note"),
                )
            )
        return response

    def _handle(self, request: Request, request_id: str, record: dict[str, Any]) -> Response:
        api = self.api
        values = identity_values(api, request)
        present = [v for v in values if v]
        if len(present) != len(values):
            record.update(outcome="unauthorized", reason="identity_source_missing")
            return unauthorized(api, request_id)
        if self._validation is not None and not self._validation.fullmatch(present[0]):
            record.update(outcome="unauthorized", reason="identity_validation_failed")
            return unauthorized(api, request_id)

        key = tuple(present)
        now = self._clock()
        answer: _Answer | None = None
        evaluation: Evaluation | None = None
        if api.ttl > 0:
            with self._lock:
                cached = self._cache.get(key)
                if cached is not None and now >= cached.expires_at:
                    del self._cache[key]
                    cached = None
            if cached is not None:
                answer = cached.answer
                record["cache"] = "hit"
        if answer is None:
            record["cache"] = "miss" if api.ttl > 0 else "off"
            event = build_event(api, request, present, request_id=request_id, now=time.time())
            with self._lock:
                self.authorizer_calls += 1
                authorizer = self._authorizer
            evaluation = authorizer.evaluate(event)
            record.update(
                tenant_id=evaluation.tenant_id,
                reason=evaluation.reason.value,
                outcome=evaluation.outcome,
            )
            if evaluation.outcome == "unauthorized":
                return unauthorized(api, request_id)
            if evaluation.outcome == "fault" or evaluation.response is None:
                record["outcome"] = "fault"
                return authorizer_error(api, request_id)
            try:
                answer = _answer(api, evaluation.response, evaluation.tenant_id)
            except AnswerInvalid as exc:
                record.update(outcome="fault", reason="authorizer_answer_invalid", note=str(exc))
                return authorizer_error(api, request_id)
            if api.ttl > 0:
                self._remember(key, _Cached(answer, now + api.ttl))
        record["tenant_id"] = answer.tenant_id

        arn = api.method_arn(request.method, request.path)
        verdict = answer.verdict(arn)
        if evaluation is None:  # a cached answer: this route was never put to the authorizer
            record.update(outcome="allow" if verdict == "allow" else "deny", reason=verdict)
            if verdict == "allow":
                record["reason"] = "ok"
        elif (verdict == "allow") != (evaluation.outcome == "allow"):
            # The policy and the decision disagree for the very ARN that was asked:
            # API Gateway enforces the policy, so does this gateway; say it loudly.
            record.update(
                outcome="allow" if verdict == "allow" else "deny",
                reason=verdict if verdict != "allow" else "ok",
                note=f"the authorizer decided {evaluation.outcome} but its policy says {verdict}",
            )
        if verdict != "allow":
            return forbidden(api, request_id, verdict)

        authorized = Authorized(
            principal_id=answer.principal_id,
            context=answer.context,
            tenant_id=answer.tenant_id,
            method_arn=arn,
            request_id=request_id,
            kind=api.kind,
        )
        try:
            return self.upstream(request, authorized)
        except UpstreamFailed as exc:
            record.update(reason=exc.reason, note=exc.message)
            body = json.dumps({"message": exc.message}).encode()
            return Response(exc.status, (("Content-Type", "application/json"),), body)

    def _remember(self, key: tuple[str, ...], entry: _Cached) -> None:
        with self._lock:
            if len(self._cache) >= self._cache_max:
                del self._cache[next(iter(self._cache))]
            self._cache[key] = entry


# --------------------------------------------------------------------------- upstreams


class EchoUpstream:
    """The built-in integration: answers with what it received, authorizer context included."""

    def __call__(self, request: Request, authorized: Authorized) -> Response:
        """A JSON echo of the request and of what the authorizer passed on."""
        body = {
            "method": request.method,
            "path": request.path,
            "query": _single(request.query_items(), lower=False, join=False),
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


# --------------------------------------------------------------------------- HTTP server


class _BadRequest(Exception):
    """Raised while reading a request that cannot be served (400/413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into :class:`Request` objects for the server's Gateway."""

    protocol_version = "HTTP/1.1"
    server_version = "tenant-authz-local"
    gateway: ClassVar[Gateway]
    stopping: ClassVar[threading.Event]

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _serve(self) -> None:
        try:
            request = self._request()
        except _BadRequest as exc:
            self.close_connection = True
            body = json.dumps({"message": exc.message}).encode()
            self._send(Response(exc.status, (("Content-Type", "application/json"),), body))
            return
        try:
            response = self.gateway.handle(request)
        except Exception as exc:  # noqa: BLE001  (a gateway bug must answer, not drop the connection)
            traceback.print_exc(file=sys.stderr)
            body = json.dumps({"message": f"local gateway error: {type(exc).__name__}"}).encode()
            response = Response(500, (("Content-Type", "application/json"),), body)
        self._send(response)

    def _request(self) -> Request:
        target = self.path
        if target.startswith(("http://", "https://")):  # absolute-form request target
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        path, _, query = target.partition("?")
        if not _PATH_RE.match(path):
            raise _BadRequest(400, "the path must start with / and hold printable ASCII only")
        return Request(
            method=self.command,
            path=path,
            query=query,
            headers=tuple(self.headers.items()),
            body=self._body(),
            source_ip=self.client_address[0],
        )

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._chunked()
        length = self.headers.get("Content-Length", "0").strip() or "0"
        if not length.isdigit():
            raise _BadRequest(400, "bad Content-Length")
        if int(length) > MAX_BODY_BYTES:
            raise _BadRequest(413, "Request Too Long")
        return self.rfile.read(int(length))

    def _chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise _BadRequest(400, "bad chunked encoding") from exc
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers, then the blank line
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY_BYTES:
                raise _BadRequest(413, "Request Too Long")
            body += self.rfile.read(size)
            self.rfile.readline(3)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.stopping.is_set():
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the gateway writes its own access line, without query strings."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-request is not news; anything else is a bug to show."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class GatewayServer:
    """Serves a :class:`Gateway` over HTTP from a background thread."""

    def __init__(self, gateway: Gateway, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.gateway = gateway
        self.host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> Self:
        """Bind and serve; ``OSError`` (e.g. ``EADDRINUSE``) when the port cannot be had."""
        if self._server is not None:
            return self
        handler = type(
            "GatewayHandler", (_Handler,), {"gateway": self.gateway, "stopping": self._stopping}
        )
        server = _Server((self.host, self._port), handler)
        self._port = server.server_address[1]
        self._server = server
        self._thread = serve_in_background(server, f"local-gateway-{self._port}", 0.1)
        return self

    def stop(self) -> None:
        """Stop accepting, close the socket; open keep-alive connections close after their reply."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        self._stopping.set()
        stop_background(server, thread)

    @property
    def port(self) -> int:
        """The bound port."""
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self._port}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
