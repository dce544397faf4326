"""Hostile input: whatever arrives, the answer is 401/403/500 or a legitimate Allow."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.events import EVENT_KINDS, event
from support.harness import Harness, issuer_entry, tenant_doc
from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.handler import AuthorizerFault

ACCOUNT = "123456789012"
_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer(port=0) as started:
        yield started


@pytest.fixture(scope="module")
def harness(issuer: DevIssuer) -> Harness:
    docs = [
        tenant_doc(
            "acme",
            ACCOUNT,
            [issuer_entry(issuer)],
            token={"query": "access_token"},
            api_ids=["a1b2c3d4e5"],
        ),
        tenant_doc("other", "210987654321", [issuer_entry(issuer, audiences=["other"])]),
    ]
    # "acme" reads ?access_token so that every event fixture carries its token somewhere it looks.
    return Harness(docs)


@pytest.fixture(scope="module")
def token(issuer: DevIssuer) -> str:
    return issuer.mint(expires_in=3600)


def _valid_event(kind: str, token: str) -> dict[str, Any]:
    ev = event(kind, token)
    ev.setdefault("queryStringParameters", {})["access_token"] = token
    return ev


def test_the_valid_events_are_allowed(harness: Harness, token: str) -> None:
    """The baseline the mutations start from: each valid event is allowed."""
    for kind in EVENT_KINDS:
        if kind != "rest_token":
            assert harness.evaluate(_valid_event(kind, token)).outcome == "allow"


@_SETTINGS
@given(kind=st.sampled_from(EVENT_KINDS), text=st.text(max_size=3000))
def test_any_string_as_token_is_never_allowed(harness: Harness, kind: str, text: str) -> None:
    """Any string presented as a token (lone surrogates too) is a 401: never Allow, never 500."""
    ev = event(kind, "x")
    ev["authorizationToken"] = text
    ev.setdefault("queryStringParameters", {})["access_token"] = text
    result = harness.evaluate(ev)
    assert result.outcome == "unauthorized", (result.reason, harness.last().get("detail"))


@_SETTINGS
@given(kind=st.sampled_from(EVENT_KINDS), path=st.text(max_size=20_000))
def test_any_request_path_is_the_clients_never_a_fault(
    harness: Harness, token: str, kind: str, path: str
) -> None:
    """Whatever path the client asks for (long, odd, undecodable), the answer is 200/401/403."""
    if kind == "websocket_connect":
        return  # $connect has no path
    ev = _valid_event(kind, token)
    key = "routeArn" if kind == "http_v2" else "methodArn"
    prefix = ev[key].split("/GET/", 1)[0]
    ev[key] = f"{prefix}/GET/{path}"
    result = harness.evaluate(ev)
    assert result.outcome in {"allow", "deny", "unauthorized"}, (result.reason, path[:40])


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@_SETTINGS
@given(
    kind=st.sampled_from([k for k in EVENT_KINDS if k != "rest_token"]),
    index=st.integers(min_value=0, max_value=1000),
    path=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=3),
    value=_JSON,
    delete=st.booleans(),
)
def test_any_mutation_of_a_valid_event_is_handled(
    harness: Harness, token: str, kind: str, index: int, path: list[str], value: Any, delete: bool
) -> None:
    """Any field of a valid event replaced or deleted: a clean answer; Allow only if irrelevant."""
    original = _valid_event(kind, token)
    mutated = copy.deepcopy(original)
    node: Any = mutated
    keys = list(mutated)
    path = [keys[index % len(keys)], *path[1:]]
    for key in path[:-1]:
        if isinstance(node, dict) and key in node and isinstance(node[key], dict):
            node = node[key]
    last = path[-1] if len(path) > 1 else path[0]
    if isinstance(node, dict):
        if delete:
            node.pop(last, None)
        else:
            node[last] = value
    result = harness.evaluate(mutated)
    assert result.outcome in {"allow", "deny", "unauthorized", "fault"}
    if result.outcome == "allow":
        arn_key = "routeArn" if kind == "http_v2" else "methodArn"
        assert mutated.get(arn_key) == original[arn_key]
        assert (mutated.get("queryStringParameters") or {}).get("access_token") == token


@_SETTINGS
@given(position=st.integers(min_value=0), replacement=st.sampled_from("AQgw_-xyz0."))
def test_any_corruption_of_a_valid_token_is_refused(
    harness: Harness, token: str, position: int, replacement: str
) -> None:
    """Changing any one character of a valid token is a 401: one token has one spelling."""
    index = position % len(token)
    if token[index] == replacement:
        return
    corrupted = token[:index] + replacement + token[index + 1 :]
    ev = _valid_event("rest_request", corrupted)
    assert harness.evaluate(ev).outcome == "unauthorized"


@_SETTINGS
@given(body=st.dictionaries(st.text(max_size=12), _JSON, max_size=6))
def test_arbitrary_json_events_through_the_handler(
    body: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Lambda handler answers arbitrary JSON only with Unauthorized or AuthorizerFault."""
    from tenant_authorizer import handler as handler_module

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: SSM is down
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    handler_module.reset()
    try:
        handler_module.handler(json.loads(json.dumps(body)), None)
    except AuthorizerFault:
        pass
    except Exception as exc:  # noqa: BLE001
        assert str(exc) == "Unauthorized"
    else:
        pytest.fail("an arbitrary event was answered with a policy")
    finally:
        handler_module.reset()
