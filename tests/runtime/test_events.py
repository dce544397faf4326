"""Event classification, caller parsing from methodArn/routeArn, and token extraction."""

from __future__ import annotations

import pytest

from support.events import EVENT_KINDS, event
from tenant_authorizer.runtime.caller import MAX_ARN_LENGTH, parse_arn
from tenant_authorizer.runtime.errors import EventInvalid, Reason, RequestRejected, TokenRejected
from tenant_authorizer.runtime.events import AuthRequest, EventKind, parse_event, token_request
from tenant_authorizer.runtime.tenant import TokenSource

EXPECTED_KINDS = {
    "rest_token": EventKind.REST_TOKEN,
    "rest_request": EventKind.REST_REQUEST,
    "http_v1": EventKind.HTTP_V1,
    "http_v2": EventKind.HTTP_V2,
    "websocket_connect": EventKind.WEBSOCKET,
}


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_each_real_event_is_classified(kind: str) -> None:
    """Every event fixture API Gateway sends is recognised as its own kind."""
    request = parse_event(event(kind, "abc"))
    assert request.kind is EXPECTED_KINDS[kind]
    assert request.caller.account_id == "123456789012"
    assert request.caller.api_id == "a1b2c3d4e5"
    assert request.caller.stage == "prod"


@pytest.mark.parametrize(
    ("arn", "partition", "method", "path"),
    [
        (
            "arn:aws:execute-api:us-east-1:111122223333:abcdef1234/prod/GET/orders/1",
            "aws",
            "GET",
            "/orders/1",
        ),
        (
            "arn:aws-cn:execute-api:cn-north-1:111122223333:abcdef1234/v1/POST/",
            "aws-cn",
            "POST",
            "/",
        ),
        (
            "arn:aws-us-gov:execute-api:us-gov-west-1:111122223333:abcdef1234/v1/PUT",
            "aws-us-gov",
            "PUT",
            "/",
        ),
        (
            "arn:aws:execute-api:eu-west-1:111122223333:abcdef1234/prod/$connect",
            "aws",
            "$connect",
            "",
        ),
        (
            "arn:aws:execute-api:eu-west-1:111122223333:abcdef1234/$default/$default",
            "aws",
            "$default",
            "",
        ),
    ],
)
def test_arn_parts(arn: str, partition: str, method: str, path: str) -> None:
    """methodArn/routeArn give partition, method and path, whatever the partition."""
    caller = parse_arn(arn)
    assert (caller.partition, caller.method, caller.path) == (partition, method, path)
    assert caller.api_prefix.startswith(f"arn:{partition}:execute-api:")


@pytest.mark.parametrize(
    "arn",
    [
        None,
        "",
        "arn:aws:lambda:us-east-1:111122223333:function:x",
        "arn:aws-xx:execute-api:us-east-1:111122223333:abcdef1234/prod/GET/",
        "arn:aws:execute-api:us-east-1:11112222333:abcdef1234/prod/GET/",
        "arn:aws:execute-api:us-east-1:111122223333:ABC/prod/GET/",
        "arn:aws:execute-api:US-EAST-1:111122223333:abcdef1234/prod/GET/",
        "arn:aws:execute-api:us-east-1:111122223333:abcdef1234/prod",
        "arn:aws:execute-api:us-east-1:111122223333:abcdef1234/prod/get/x",
        "arn:aws:execute-api:us-east-1:111122223333:abcdef1234/prod/$connect/x",
        "arn:aws:execute-api:us-east-1:111122223333:abcdef1234/pr:od/GET/",
    ],
)
def test_malformed_arn_is_refused(arn: object) -> None:
    """A malformed ARN is an invalid event, never trusted."""
    with pytest.raises(EventInvalid) as info:
        parse_arn(arn)
    assert info.value.reason is Reason.EVENT_INVALID


def test_request_context_must_agree_with_arn() -> None:
    """A requestContext naming another account than the ARN is refused."""
    data = event("rest_request", "abc")
    data["requestContext"]["accountId"] = "999999999999"
    with pytest.raises(EventInvalid):
        parse_event(data)


@pytest.mark.parametrize("bad", [None, [], "x", {"type": "OTHER"}, {"type": "TOKEN"}])
def test_non_events_are_invalid(bad: object) -> None:
    """Anything that is not an authorizer event is an invalid event."""
    with pytest.raises(EventInvalid):
        parse_event(bad)


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer abc", "abc"), ("BEARER   abc ", "abc")],
)
def test_bearer_scheme_is_case_insensitive(header: str, token: str) -> None:
    """The Bearer scheme is matched case-insensitively and stripped."""
    data = event("rest_request", "x")
    data["headers"]["Authorization"] = header
    assert parse_event(data).credential(TokenSource()) == token


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Basic abc", Reason.TOKEN_MALFORMED),
        ("Bearer ", Reason.TOKEN_MISSING),
        ("", Reason.TOKEN_MISSING),
    ],
)
def test_wrong_or_empty_scheme_is_rejected(value: str, reason: Reason) -> None:
    """Another scheme or an empty value is a 401 with its own reason."""
    data = event("rest_token", "x")
    data["authorizationToken"] = value
    with pytest.raises(TokenRejected) as info:
        parse_event(data).credential(TokenSource())
    assert info.value.reason is reason


def test_bare_token_in_custom_header() -> None:
    """A tenant may read a bare token from a header of its own (seed 004)."""
    data = event("rest_request", "x")
    data["headers"]["authtoken"] = "supersecretvalue"
    source = TokenSource(kind="header", name="authtoken", scheme=None)
    assert parse_event(data).credential(source) == "supersecretvalue"


def test_token_from_query_parameter() -> None:
    """WebSocket clients cannot set headers: the token may come from a query parameter."""
    data = event("websocket_connect", "tok123")
    source = TokenSource(kind="query", name="access_token", scheme=None)
    assert parse_event(data).credential(source) == "tok123"


@pytest.mark.parametrize("kind", ["http_v2", "rest_request"])
def test_token_from_cookie(kind: str) -> None:
    """The token may come from a cookie: the v2 cookies list or the Cookie header."""
    data = event(kind, "x")
    if kind == "http_v2":
        data["cookies"] = ["theme=dark", "session=tok456"]
    else:
        data["headers"]["Cookie"] = "theme=dark; session=tok456"
    source = TokenSource(kind="cookie", name="session", scheme=None)
    assert parse_event(data).credential(source) == "tok456"


def test_trailing_newline_in_an_arn_part_is_refused() -> None:
    """A newline smuggled at the end of an ARN part is refused, not trimmed."""
    with pytest.raises(EventInvalid):
        parse_arn("arn:aws:execute-api:us-east-1:111122223333\n:abcdef1234/prod/GET/")


@pytest.mark.parametrize("path", ["/orders\n", "/a\x00b", "/x\x7f", "/" + "p" * MAX_ARN_LENGTH])
def test_a_path_that_cannot_be_judged_is_the_clients_not_a_fault(path: str) -> None:
    """Control characters or an absurd length in the path are a 401 reason, never a 500."""
    with pytest.raises(RequestRejected) as info:
        parse_arn(f"arn:aws:execute-api:us-east-1:111122223333:abcdef1234/prod/GET{path}")
    assert (info.value.reason, info.value.status) == (Reason.PATH_INVALID, 401)
    assert "\n" not in info.value.detail and len(info.value.detail) < 300


@pytest.mark.parametrize("path", ["/a b", "/caf\u00e9", "/x/\ud800", "/q?x=*", "/" + "p" * 8000])
def test_any_printable_path_is_parsed_for_the_rules_to_judge(path: str) -> None:
    """Spaces, non-ASCII text and long paths are the client's to send: they are decided."""
    caller = parse_arn(f"arn:aws:execute-api:us-east-1:111122223333:abcdef1234/prod/GET{path}")
    assert caller.path == path


def test_a_token_request_built_without_its_namedtuple_new_has_every_field() -> None:
    """token_request builds its AuthRequest with tuple.__new__ (hot path): every field is
    there, in order, equal to what parse_event makes of the same TOKEN event."""
    arn = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/orders"
    fast = token_request("Bearer abc", arn)
    parsed = parse_event({"type": "TOKEN", "authorizationToken": "Bearer abc", "methodArn": arn})
    assert len(fast) == len(AuthRequest._fields)
    assert fast == parsed
    assert fast._asdict() == parsed._asdict()
