"""API Gateway authorizer events: what kind of event arrived, and where the token is.

Covers every event API Gateway sends to a Lambda authorizer: REST ``TOKEN`` and
``REQUEST``, HTTP API payload 1.0 and 2.0, and WebSocket ``$connect``. The caller comes
from the event's ARN (:mod:`.caller`); anything that does not parse is
:class:`~tenant_authorizer.runtime.errors.EventInvalid`, never trusted.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .caller import Caller, parse_arn
from .errors import EventInvalid, Reason, TokenRejected

if TYPE_CHECKING:
    from .tenant import TokenSource


class EventKind(enum.StrEnum):
    """The shape of the event, which also decides the shape of the answer."""

    REST_TOKEN = "rest_token"
    REST_REQUEST = "rest_request"
    HTTP_V1 = "http_v1"
    HTTP_V2 = "http_v2"
    WEBSOCKET = "websocket"


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
    # The event itself, for the rare checks that read more of it (a DPoP proof's request,
    # a client certificate: runtime/binding.py); None for TOKEN events.
    event: Mapping[str, Any] | None = None

    def scheme(self, source: TokenSource) -> str | None:
        """The scheme word the token came with, lower-case (None: a bare token)."""
        if self.kind is EventKind.REST_TOKEN:
            raw = self.token
        elif source.kind == "header":
            raw = self.headers.get(source.name)
        else:
            return None
        if source.scheme is None or not raw:
            return None
        return raw.strip().partition(" ")[0].lower()

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
            lowered = scheme.lower()
            # RFC 9449 7.1: a DPoP-bound token comes as "DPoP <token>" where Bearer would.
            if lowered != source.scheme and not (lowered == "dpop" and source.scheme == "bearer"):
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


_NO_HEADERS: Final[Mapping[str, str]] = MappingProxyType({})
_new_tuple: Final = tuple.__new__


def token_request(token: str, method_arn: str) -> AuthRequest:
    """A REST TOKEN event whose two strings were already read (TokenMemo.token_event_key)."""
    # tuple.__new__ with every field (a NamedTuple's __new__ is a Python function).
    return _new_tuple(
        AuthRequest,
        (
            EventKind.REST_TOKEN,
            parse_arn(method_arn),
            token,
            _NO_HEADERS,
            _NO_HEADERS,
            (),
            None,
            None,
        ),
    )


def parse_event(event: object) -> AuthRequest:
    """Classify and parse an authorizer event; raise :class:`EventInvalid` if it is not one."""
    if type(event) is not dict and not isinstance(event, Mapping):  # dict: no ABC check
        raise EventInvalid(Reason.EVENT_INVALID, "event is not an object")
    event_type = event.get("type")
    version = event.get("version")
    if event_type == "TOKEN":
        token = event.get("authorizationToken")
        if token is not None and not isinstance(token, str):
            raise EventInvalid(Reason.EVENT_INVALID, "authorizationToken is not a string")
        return AuthRequest(
            EventKind.REST_TOKEN,
            parse_arn(event.get("methodArn")),
            token,
            _NO_HEADERS,
            _NO_HEADERS,
            (),
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
        event,
    )


def _check_context(context: Mapping[str, Any], caller: Caller) -> None:
    """The request context must not contradict the ARN API Gateway put in the event."""
    account = context.get("accountId")
    api_id = context.get("apiId")
    if account is not None and account != caller.account_id:
        raise EventInvalid(Reason.EVENT_INVALID, "requestContext.accountId contradicts the ARN")
    if api_id is not None and api_id != caller.api_id:
        raise EventInvalid(Reason.EVENT_INVALID, "requestContext.apiId contradicts the ARN")
