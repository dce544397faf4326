"""API Gateway authorizer events: what kind of event arrived, who called, where the token is.

Covers every event API Gateway sends to a Lambda authorizer: REST ``TOKEN`` and
``REQUEST``, HTTP API payload 1.0 and 2.0, and WebSocket ``$connect``. The caller
(partition, region, account, API, stage, method, path) is read from ``methodArn`` /
``routeArn`` -- the value API Gateway itself signs into the invocation -- and never
from the token. Anything that does not parse is :class:`EventInvalid`, never trusted.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .bounded import BoundedTable, text_size
from .errors import EventInvalid, Reason, RequestRejected, TokenRejected
from .identifiers import ACCOUNT_ID_PATTERN, REQUEST_METHODS, STAGE_PATTERN

if TYPE_CHECKING:
    from .tenant import TokenSource

PARTITIONS: Final = frozenset({"aws", "aws-cn", "aws-us-gov"})
_REGION_RE: Final = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$")
# Account ids and stages follow the same rules as in tenant files; API ids here are any
# short lower-case id, so that an unusual id is refused by the binding, not the parser.
_ACCOUNT_ID_RE: Final = re.compile(ACCOUNT_ID_PATTERN)
_API_ID_RE: Final = re.compile(r"^[a-z0-9]{1,32}$")
_STAGE_RE: Final = re.compile(STAGE_PATTERN)
# The methods API Gateway puts in a methodArn, and the route keys an authorizer can see;
# anything else is refused rather than left for route rules to (not) cover.
_METHODS: Final = frozenset(REQUEST_METHODS)
_ROUTE_KEYS: Final = frozenset({"$connect", "$default"})
# The path is the client's: any text but control characters (a decoded %0A), so that a
# path API Gateway passes is decided, never a platform fault. It never enters a policy.
_PATH_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")
# Longer than any URL API Gateway accepts: refused as the client's, not a fault.
MAX_ARN_LENGTH: Final = 16_384
_PREFIX_MAX: Final = 512  # partition, region, account, API, stage, method: never longer
_CALLER_CACHE_BYTES: Final = 4 * 1024 * 1024


class EventKind(enum.StrEnum):
    """The shape of the event, which also decides the shape of the answer."""

    REST_TOKEN = "rest_token"
    REST_REQUEST = "rest_request"
    HTTP_V1 = "http_v1"
    HTTP_V2 = "http_v2"
    WEBSOCKET = "websocket"


class Caller(NamedTuple):
    """The API that is asking, as API Gateway named it in ``methodArn`` / ``routeArn``."""

    partition: str
    region: str
    account_id: str
    api_id: str
    stage: str
    method: str  # HTTP method, or a route key such as "$connect"
    path: str  # resource path with leading "/" ("" for WebSocket routes)
    arn: str
    binding_key: str  # "account/api/stage": what selects the tenant, without the path

    @property
    def api_prefix(self) -> str:
        """``arn:...:execute-api:region:account:api/stage/``: the prefix of every resource."""
        return (
            f"arn:{self.partition}:execute-api:{self.region}:{self.account_id}:"
            f"{self.api_id}/{self.stage}/"
        )

    @property
    def resource(self) -> str:
        """The part of the ARN after the stage: ``GET/orders/1`` or ``$connect``."""
        return f"{self.method}{self.path}" if self.path else self.method

    @property
    def route(self) -> str:
        """A human label for logs: ``GET /orders/1``."""
        return f"{self.method} {self.path}" if self.path else self.method


# Keyed by the ARN, whose path is the client's: bounded in bytes, not in entries.
_caller_cache: BoundedTable[str, Caller] = BoundedTable(_CALLER_CACHE_BYTES)


def parse_arn(arn: object) -> Caller:
    """Parse a ``methodArn``/``routeArn``.

    :class:`EventInvalid` (500) when the part API Gateway writes is malformed;
    :class:`RequestRejected` (401) when the client's path cannot be judged.
    """
    if not isinstance(arn, str):
        raise EventInvalid(Reason.EVENT_INVALID, "methodArn/routeArn missing or not a string")
    cached = _caller_cache.get(arn)
    if cached is not None:
        return cached
    caller = _parse_arn_uncached(arn)
    _caller_cache.put(arn, caller, text_size(arn, caller.path, caller.binding_key) + 400)
    return caller


def _parse_arn_uncached(arn: str) -> Caller:
    if len(arn) > MAX_ARN_LENGTH:
        head = arn[:_PREFIX_MAX].split("/", 2)[0] if ":" in arn else ""
        raise RequestRejected(
            Reason.PATH_INVALID,
            f"ARN of {len(arn)} characters (limit {MAX_ARN_LENGTH}) for {_safe_head(head)}",
        )
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "execute-api":
        raise EventInvalid(Reason.EVENT_INVALID, "not an execute-api ARN")
    _, partition, _, region, account, resource = parts
    if partition not in PARTITIONS:
        raise EventInvalid(Reason.EVENT_INVALID, f"unknown partition {partition[:32]!r}")
    if not _REGION_RE.fullmatch(region):
        raise EventInvalid(Reason.EVENT_INVALID, "malformed region")
    if not _ACCOUNT_ID_RE.fullmatch(account):
        raise EventInvalid(Reason.EVENT_INVALID, "malformed account id")
    segments = resource.split("/", 3)
    if len(segments) < 3:
        raise EventInvalid(Reason.EVENT_INVALID, "ARN has no api/stage/method")
    api_id, stage, method = segments[0], segments[1], segments[2]
    path = "/" + segments[3] if len(segments) == 4 else ""
    if not _API_ID_RE.fullmatch(api_id) or not _STAGE_RE.fullmatch(stage):
        raise EventInvalid(Reason.EVENT_INVALID, "malformed api id or stage")
    if method.startswith("$"):
        # A route key: WebSocket $connect, or an HTTP API's $default catch-all.
        if method not in _ROUTE_KEYS or path:
            raise EventInvalid(Reason.EVENT_INVALID, "malformed route key")
    elif method not in _METHODS:
        raise EventInvalid(Reason.EVENT_INVALID, "malformed method")
    elif not path:
        path = "/"
    if _PATH_CONTROL_RE.search(path):
        raise RequestRejected(
            Reason.PATH_INVALID, f"path of {account}/{api_id}/{stage} holds control characters"
        )
    return Caller(
        partition, region, account, api_id, stage, method, path, arn, f"{account}/{api_id}/{stage}"
    )


def _safe_head(head: str) -> str:
    """The start of an over-long ARN for a message: printable ASCII only, short."""
    return "".join(c if " " < c < "\x7f" else "?" for c in head[:160])


class AuthRequest(NamedTuple):
    """One authorizer invocation, reduced to what a decision needs.

    A NamedTuple, like the other per-invocation values: built on every warm call,
    it costs a third of a frozen dataclass.
    """

    kind: EventKind
    caller: Caller
    token: str | None  # the TOKEN event's authorizationToken, as sent
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    cookies: tuple[str, ...]  # "name=value" items
    route_key: str | None = None  # HTTP API payload 2.0: the route that serves the request

    def credential(self, source: TokenSource) -> str:
        """The token as the tenant's :class:`TokenSource` says; :class:`TokenRejected` if absent."""
        if self.kind is EventKind.REST_TOKEN:
            raw = self.token
        elif source.kind == "header":
            raw = self.headers.get(source.name)
        elif source.kind == "query":
            raw = self.query.get(source.name)
        else:
            raw = _cookie(self.cookies, self.headers.get("cookie"), source.name)
        if not raw:
            raise TokenRejected(Reason.TOKEN_MISSING, f"no token in {source.kind} {source.name}")
        if source.scheme is None:
            token = raw.strip()
        else:
            scheme, _, rest = raw.strip().partition(" ")
            if scheme.lower() != source.scheme:
                raise TokenRejected(Reason.TOKEN_MALFORMED, f"expected the {source.scheme} scheme")
            token = rest.strip()
        if not token:
            raise TokenRejected(Reason.TOKEN_MISSING, "empty token")
        if not token.isascii():
            # JWTs and static tokens are ASCII; this also keeps lone surrogates (valid in
            # a JSON event, not encodable) away from hashing and logging.
            raise TokenRejected(Reason.TOKEN_MALFORMED, "token holds non-ASCII characters")
        return token


def _cookie(items: tuple[str, ...], header: str | None, name: str) -> str | None:
    candidates = list(items)
    if header:
        candidates.extend(header.split(";"))
    for item in candidates:
        key, sep, value = item.strip().partition("=")
        if sep and key == name:
            return value
    return None


def _string_map(value: object, *, lower: bool) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise EventInvalid(Reason.EVENT_INVALID, "headers/query must be an object")
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(key, str) and isinstance(item, str):
            out[key.lower() if lower else key] = item
    return out


def parse_event(event: object) -> AuthRequest:
    """Classify and parse an authorizer event; raise :class:`EventInvalid` if it is not one."""
    if not isinstance(event, Mapping):
        raise EventInvalid(Reason.EVENT_INVALID, "event is not an object")
    event_type = event.get("type")
    version = event.get("version")
    if event_type == "TOKEN":
        token = event.get("authorizationToken")
        if token is not None and not isinstance(token, str):
            raise EventInvalid(Reason.EVENT_INVALID, "authorizationToken is not a string")
        return AuthRequest(
            EventKind.REST_TOKEN, parse_arn(event.get("methodArn")), token, {}, {}, ()
        )
    if event_type != "REQUEST":
        raise EventInvalid(Reason.EVENT_INVALID, "type is neither TOKEN nor REQUEST")
    context = event.get("requestContext")
    context = context if isinstance(context, Mapping) else {}
    route_key = None
    if version == "2.0":
        kind = EventKind.HTTP_V2
        caller = parse_arn(event.get("routeArn"))
        cookies_raw = event.get("cookies")
        cookies = (
            tuple(c for c in cookies_raw if isinstance(c, str))
            if isinstance(cookies_raw, list)
            else ()
        )
        raw_key = event.get("routeKey")
        route_key = raw_key if isinstance(raw_key, str) else None
    else:
        caller = parse_arn(event.get("methodArn"))
        if version == "1.0":
            kind = EventKind.HTTP_V1
        elif context.get("eventType") == "CONNECT" or caller.method == "$connect":
            kind = EventKind.WEBSOCKET
        else:
            kind = EventKind.REST_REQUEST
        cookies = ()
    _check_context(context, caller)
    return AuthRequest(
        kind,
        caller,
        None,
        _string_map(event.get("headers"), lower=True),
        _string_map(event.get("queryStringParameters"), lower=False),
        cookies,
        route_key,
    )


def _check_context(context: Mapping[str, Any], caller: Caller) -> None:
    """The request context must not contradict the ARN API Gateway put in the event."""
    account = context.get("accountId")
    api_id = context.get("apiId")
    if account is not None and account != caller.account_id:
        raise EventInvalid(Reason.EVENT_INVALID, "requestContext.accountId contradicts the ARN")
    if api_id is not None and api_id != caller.api_id:
        raise EventInvalid(Reason.EVENT_INVALID, "requestContext.apiId contradicts the ARN")
