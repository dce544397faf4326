"""IAM evaluation of authorizer policies, as API Gateway applies them to each method ARN."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenant_authorizer.dev.gateway.iam import PolicyInvalid, evaluate, matches
from tenant_authorizer.runtime.caller import parse_arn
from tenant_authorizer.runtime.responses import iam_policy
from tenant_authorizer.runtime.rules import compile_rules, decide, grant_for
from tenant_authorizer.runtime.tenant import RouteRule, TenantConfig

PREFIX = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(
    resource: str | list[str], action: str | list[str] = "execute-api:Invoke"
) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def _deny(resource: str | list[str]) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": resource}


@pytest.mark.parametrize(
    ("glob", "value", "expected"),
    [
        ("GET/orders/*", "GET/orders/1/items", True),  # "*" spans "/"
        ("GET/orders/*", "GET/orders/", True),  # and may be empty
        ("GET/orders/*", "GET/orders", False),
        ("GET/order?", "GET/orders", True),
        ("GET/order?", "GET/order", False),
        ("GET/a.b", "GET/axb", False),  # regex characters are literal
        ("GET/Orders", "GET/orders", False),  # resources are case-sensitive
    ],
)
def test_wildcards_follow_iam(glob: str, value: str, expected: bool) -> None:
    """``*`` matches any run (``/`` included), ``?`` one character, everything else itself."""
    assert matches(glob, value) is expected


def test_a_matching_allow_allows() -> None:
    """An Allow naming the method ARN lets the request through."""
    assert evaluate(_policy(_allow(PREFIX + "GET/orders")), PREFIX + "GET/orders") == "allow"


def test_an_explicit_deny_wins_over_an_allow() -> None:
    """A matching Deny beats any Allow, whatever the order."""
    policy = _policy(_allow(PREFIX + "*"), _deny(PREFIX + "*/admin/*"))
    assert evaluate(policy, PREFIX + "GET/admin/x") == "explicit_deny"
    assert evaluate(policy, PREFIX + "GET/orders") == "allow"


def test_no_matching_statement_is_an_implicit_deny() -> None:
    """A policy that does not name the ARN denies it implicitly."""
    assert evaluate(_policy(_allow(PREFIX + "GET/orders")), PREFIX + "POST/orders") == (
        "implicit_deny"
    )


def test_a_resource_list_matches_any_of_its_items() -> None:
    """``Resource`` may be a list; one matching item is enough."""
    policy = _policy(_allow([PREFIX + "GET/a", PREFIX + "GET/b"]))
    assert evaluate(policy, PREFIX + "GET/b") == "allow"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("execute-api:Invoke", "allow"),
        ("execute-api:invoke", "allow"),  # actions are case-insensitive
        ("execute-api:*", "allow"),
        ("*", "allow"),
        (["s3:GetObject", "execute-api:Invoke"], "allow"),
        ("execute-api:ManageConnections", "implicit_deny"),
        ("s3:*", "implicit_deny"),
    ],
)
def test_the_action_must_cover_invoke(action: str | list[str], expected: str) -> None:
    """Only statements whose Action covers ``execute-api:Invoke`` count."""
    assert evaluate(_policy(_allow(PREFIX + "*", action)), PREFIX + "GET/x") == expected


def test_not_resource_allows_everything_else() -> None:
    """``NotResource`` matches every resource except the ones it names."""
    policy = _policy(
        {"Effect": "Allow", "Action": "execute-api:Invoke", "NotResource": PREFIX + "*/admin/*"}
    )
    assert evaluate(policy, PREFIX + "GET/orders") == "allow"
    assert evaluate(policy, PREFIX + "GET/admin/x") == "implicit_deny"


def test_a_single_statement_object_is_accepted() -> None:
    """``Statement`` may be one object instead of a list."""
    policy = {"Version": "2012-10-17", "Statement": _allow(PREFIX + "*")}
    assert evaluate(policy, PREFIX + "GET/x") == "allow"


@pytest.mark.parametrize(
    ("effect", "expected"), [("Allow", "implicit_deny"), ("Deny", "explicit_deny")]
)
def test_a_condition_fails_closed(effect: str, expected: str) -> None:
    """A Condition cannot be evaluated here: it never allows and always denies."""
    statement = {
        "Effect": effect,
        "Action": "execute-api:Invoke",
        "Resource": PREFIX + "*",
        "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
    }
    assert evaluate(_policy(statement), PREFIX + "GET/x") == expected


@pytest.mark.parametrize(
    "policy",
    [
        None,
        "Allow",
        {"Version": "2012-10-17"},
        {"Version": "1999-01-01", "Statement": []},
        _policy({"Effect": "Permit", "Action": "*", "Resource": "*"}),
        _policy({"Effect": "Allow", "Resource": "*"}),
        _policy({"Effect": "Allow", "Action": "*"}),
        _policy({"Effect": "Allow", "Action": "*", "NotAction": "s3:*", "Resource": "*"}),
        _policy({"Effect": "Allow", "Action": [], "Resource": "*"}),
        _policy({"Effect": "Allow", "Action": "*", "Resource": ["*", 1]}),
        {"Version": "2012-10-17", "Statement": ["not a statement"]},
    ],
)
def test_a_malformed_policy_is_invalid(policy: object) -> None:
    """Anything that is not an IAM policy raises PolicyInvalid (API Gateway answers 500)."""
    with pytest.raises(PolicyInvalid):
        evaluate(policy, PREFIX + "GET/x")


_TENANT = TenantConfig(
    tenant_id="shop",
    rules=(
        RouteRule(path="/admin/*", scopes_any=("admin",)),
        RouteRule(path="/orders/{id}", methods=("DELETE",), scopes_all=("orders:write",)),
        RouteRule(path="/reports", methods=("GET", "POST"), scopes_any=("reports",)),
    ),
)
_SEGMENT = st.text(alphabet="abcdemnorst0123456789-._~", min_size=0, max_size=6)
_PATHS = st.one_of(
    st.lists(_SEGMENT, min_size=0, max_size=4).map(lambda parts: "/" + "/".join(parts)),
    st.sampled_from(["/admin", "/admin/", "/admin/x", "/orders/1", "/reports", "/reports/x"]),
)
_METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
_SCOPES = st.frozensets(st.sampled_from(["admin", "orders:write", "reports", "other"]))


@settings(max_examples=300, deadline=None)
@given(
    default=st.sampled_from(["allow", "deny"]),
    scopes=_SCOPES,
    first=st.tuples(_METHODS, _PATHS),
    second=st.tuples(_METHODS, _PATHS),
)
def test_a_cached_policy_answers_every_route_as_the_authorizer_would(
    default: str, scopes: frozenset[str], first: tuple[str, str], second: tuple[str, str]
) -> None:
    """The policy made for one route, evaluated on another, agrees with a fresh decision."""
    tenant = TenantConfig(
        tenant_id=_TENANT.tenant_id,
        rules=_TENANT.rules,
        default_route_access=default,  # type: ignore[arg-type]  # sampled from the Literal
    )
    rules = compile_rules(tenant)
    grant = grant_for(rules, scopes, {})
    asked = parse_arn(PREFIX + first[0] + first[1])
    later = parse_arn(PREFIX + second[0] + second[1])
    policy = iam_policy("p", asked, decide(rules, grant, asked), {})["policyDocument"]
    fresh = decide(rules, grant, later).allowed
    assert (evaluate(policy, later.arn) == "allow") is fresh
