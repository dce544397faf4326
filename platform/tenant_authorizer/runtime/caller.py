"""Who is asking: the calling API, read from the ``methodArn`` / ``routeArn`` of an event.

The caller (partition, region, account, API, stage, method, path) comes from the ARN,
the value API Gateway writes into the invocation, never from the token. The part API
Gateway writes (partition to method) must be well-formed, or the event is
:class:`~tenant_authorizer.runtime.errors.EventInvalid`; the path is the client's, so
only control characters or an absurd length refuse it (``path_invalid``, 401).
"""

from __future__ import annotations

import re
from json.encoder import encode_basestring_ascii
from typing import Final, NamedTuple

from .bounded import BoundedTable, text_size
from .errors import EventInvalid, Reason, RequestRejected
from .identifiers import ACCOUNT_ID_PATTERN, REQUEST_METHODS, STAGE_PATTERN

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
# The longest route a decision line carries (the path is the client's).
LOG_ROUTE_MAX: Final = 512


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
    # ``arn:...:execute-api:region:account:api/stage/``: the prefix of every resource.
    # Made once per ARN (parsed ARNs are cached), not once per decision.
    api_prefix: str
    # The caller's fields of a decision line (telemetry.DecisionRecord), JSON-escaped once.
    log_fields: str

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
    held = text_size(arn, caller.path, caller.binding_key, caller.api_prefix, caller.log_fields)
    _caller_cache.put(arn, caller, held + 400)
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
        partition,
        region,
        account,
        api_id,
        stage,
        method,
        path,
        arn,
        f"{account}/{api_id}/{stage}",
        f"arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/",
        _log_fields(account, api_id, stage, f"{method} {path}" if path else method),
    )


def _log_fields(account: str, api_id: str, stage: str, route: str) -> str:
    """``"account_id":...,"api_id":...,"stage":...,"route":...``; a long route cut short."""
    if len(route) > LOG_ROUTE_MAX:  # the path is the client's: a line stays small
        route = route[: LOG_ROUTE_MAX - 3] + "..."
    return (
        f'"account_id":"{account}","api_id":{encode_basestring_ascii(api_id)},'
        f'"stage":{encode_basestring_ascii(stage)},"route":{encode_basestring_ascii(route)}'
    )


def _safe_head(head: str) -> str:
    """The start of an over-long ARN for a message: printable ASCII only, short."""
    return "".join(c if " " < c < "\x7f" else "?" for c in head[:160])
