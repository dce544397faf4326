"""Route rules and IAM policies: the local decision always equals API Gateway's evaluation."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenant_authorizer.runtime.caller import parse_arn
from tenant_authorizer.runtime.errors import Reason
from tenant_authorizer.runtime.responses import iam_policy
from tenant_authorizer.runtime.rules import compile_rules, decide, grant_for
from tenant_authorizer.runtime.tenant_parser import parse_tenant

PREFIX = "arn:aws:execute-api:us-east-1:111122223333:a1b2c3d4e5/prod/"


def _tenant(default: str, rules: list[dict[str, Any]]) -> Any:
    return parse_tenant(
        {
            "tenant_id": "acme",
            "static_tokens": [{"id": "t", "sha256": "0" * 64, "principal_id": "p"}],
            "routes": {"default": default, "rules": rules},
        },
        "t.yaml",
        require_bindings=False,
    )


def _iam_allows(policy: dict[str, Any], arn: str) -> bool:
    """API Gateway's evaluation: an explicit Deny wins, else any Allow, else implicit deny."""

    def matches(pattern: str) -> bool:
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        return re.fullmatch(regex, arn, re.DOTALL) is not None

    allowed = False
    for statement in policy["policyDocument"]["Statement"]:
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        if any(matches(r) for r in resources):
            if statement["Effect"] == "Deny":
                return False
            allowed = True
    return allowed


ROUTE_KEY_RULES: list[dict[str, Any]] = [
    {"methods": ["$connect"], "path": "*", "scopes_any": ["orders:admin"]},
    {"path": "*", "claims": {"groups": ["users", "admins"]}},
]
RULES: list[dict[str, Any]] = [
    {"methods": ["GET"], "path": "/orders/*", "scopes_any": ["orders:read", "orders:admin"]},
    {"methods": ["POST", "DELETE"], "path": "/orders/{id}", "scopes_all": ["orders:write"]},
    {"path": "/admin/{proxy+}", "claims": {"groups": ["admins"]}},
]


@pytest.mark.parametrize(
    ("scopes", "claims", "method", "path", "allowed", "reason"),
    [
        ({"orders:read"}, {}, "GET", "/orders/1", True, Reason.OK),
        (set(), {}, "GET", "/orders/1", False, Reason.SCOPE_INSUFFICIENT),
        ({"orders:read"}, {}, "POST", "/orders/1", False, Reason.SCOPE_INSUFFICIENT),
        ({"orders:write"}, {}, "POST", "/orders/1", True, Reason.OK),
        (set(), {"groups": ["users"]}, "PUT", "/admin/x", False, Reason.CLAIM_INSUFFICIENT),
        (set(), {"groups": ["admins"]}, "PUT", "/admin/x", True, Reason.OK),
        (set(), {}, "GET", "/health", True, Reason.OK),
    ],
)
def test_rules_with_default_allow(
    scopes: set[str], claims: dict[str, Any], method: str, path: str, allowed: bool, reason: Reason
) -> None:
    """Every rule covering a route must be satisfied; uncovered routes follow the default."""
    rules = compile_rules(_tenant("allow", RULES))
    grant = grant_for(rules, frozenset(scopes), claims)
    decision = decide(rules, grant, parse_arn(f"{PREFIX}{method}{path}"))
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_default_deny_refuses_uncovered_routes_without_naming_them() -> None:
    """With default deny, an uncovered route is refused because no Allow names it."""
    rules = compile_rules(_tenant("deny", RULES))
    grant = grant_for(rules, frozenset({"orders:read"}), {})
    caller = parse_arn(f"{PREFIX}GET/health")
    decision = decide(rules, grant, caller)
    assert decision.reason is Reason.ROUTE_NOT_ALLOWED
    policy = iam_policy("p", caller, decision, {})
    assert "health" not in json.dumps(policy)
    assert not _iam_allows(policy, caller.arn)
    assert _iam_allows(policy, f"{PREFIX}GET/orders/7")


@pytest.mark.parametrize("path", ["/*", "/orders/*", "/orders/?", "/*/7", "/or*"])
def test_wildcards_in_the_client_path_never_reach_the_policy(path: str) -> None:
    """A '*' or '?' in a refused request's path cannot deny routes the principal may call."""
    rules = compile_rules(
        _tenant("deny", [{"methods": ["GET"], "path": "/orders/{id}", "scopes_any": ["r"]}])
    )
    grant = grant_for(rules, frozenset({"r"}), {})
    asked = parse_arn(f"{PREFIX}POST{path}")
    decision = decide(rules, grant, asked)
    assert decision.reason is Reason.ROUTE_NOT_ALLOWED
    policy = iam_policy("p", asked, decision, {})
    resources = [r for st_ in policy["policyDocument"]["Statement"] for r in st_["Resource"]]
    assert all(not r.startswith(f"{PREFIX}POST") for r in resources)
    assert not _iam_allows(policy, asked.arn)
    assert _iam_allows(policy, f"{PREFIX}GET/orders/7"), "the cached policy still allows"


def test_default_deny_without_rules_denies_the_whole_api_by_name() -> None:
    """No rules and a deny default: the policy denies the API/stage, not the asked path."""
    rules = compile_rules(_tenant("deny", []))
    caller = parse_arn(f"{PREFIX}GET/a*b")
    decision = decide(rules, grant_for(rules, frozenset(), {}), caller)
    statements = iam_policy("p", caller, decision, {})["policyDocument"]["Statement"]
    assert statements == [
        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [f"{PREFIX}*"]}
    ]


def test_policy_uses_caller_partition() -> None:
    """The policy's resources carry the partition, region, account and stage of the caller."""
    caller = parse_arn("arn:aws-cn:execute-api:cn-north-1:111122223333:a1b2c3d4e5/v1/GET/x")
    rules = compile_rules(_tenant("allow", []))
    decision = decide(rules, grant_for(rules, frozenset(), {}), caller)
    policy = iam_policy("p", caller, decision, {"tenant_id": "acme"})
    resources = policy["policyDocument"]["Statement"][0]["Resource"]
    assert resources == ["arn:aws-cn:execute-api:cn-north-1:111122223333:a1b2c3d4e5/v1/*"]


_SEGMENT = st.sampled_from(["orders", "admin", "health", "1", "x", "orders-1", "admin2"])
_PATH = st.lists(_SEGMENT, min_size=0, max_size=4).map(lambda s: "/" + "/".join(s))
# A request ARN's resource: a method and a path, or a route key (which has none).
_RESOURCE = st.one_of(
    st.tuples(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]), _PATH),
    st.sampled_from([("$connect", ""), ("$default", "")]),
)
_METHOD = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
_SCOPES = st.frozensets(st.sampled_from(["orders:read", "orders:write", "orders:admin"]))
_GROUPS = st.lists(st.sampled_from(["admins", "users"]), max_size=2)


@settings(max_examples=300, deadline=None)
@given(
    default=st.sampled_from(["allow", "deny"]),
    scopes=_SCOPES,
    groups=_GROUPS,
    asked=_RESOURCE,
    other=_RESOURCE,
    rules=st.sampled_from([RULES, [*RULES, *ROUTE_KEY_RULES]]),
)
def test_cached_policy_agrees_with_decision_on_every_route(
    default: str,
    scopes: frozenset[str],
    groups: list[str],
    asked: tuple[str, str],
    other: tuple[str, str],
    rules: list[dict[str, Any]],
) -> None:
    """The policy made for one route, reused from API Gateway's cache, decides every route alike."""
    compiled = compile_rules(_tenant(default, rules))
    grant = grant_for(compiled, scopes, {"groups": groups})
    first = parse_arn(f"{PREFIX}{asked[0]}{asked[1]}")
    policy = iam_policy("p", first, decide(compiled, grant, first), {})
    for method, path in (asked, other):
        caller = parse_arn(f"{PREFIX}{method}{path}")
        assert _iam_allows(policy, caller.arn) == decide(compiled, grant, caller).allowed


def test_glob_semantics_match_fnmatch_star() -> None:
    """'*' in a rule path spans slashes, exactly as IAM's wildcard does."""
    rules = compile_rules(
        _tenant("deny", [{"methods": ["GET"], "path": "/a/*", "scopes_any": ["s"]}])
    )
    grant = grant_for(rules, frozenset({"s"}), {})
    assert decide(rules, grant, parse_arn(f"{PREFIX}GET/a/b/c")).allowed
    assert fnmatch.fnmatchcase("GET/a/b/c", "GET/a/*")


CONNECT_ARN = f"{PREFIX}$connect"
DEFAULT_ARN = f"{PREFIX}$default"


@pytest.mark.parametrize(
    "rule",
    [
        {"path": "*", "scopes_any": ["chat"]},
        {"methods": ["*"], "path": "/*", "scopes_any": ["chat"]},
        {"methods": ["$connect"], "path": "*", "scopes_any": ["chat"]},
    ],
)
def test_catch_all_and_connect_rules_cover_websocket_connect(rule: dict[str, Any]) -> None:
    """A catch-all rule (or one listing $connect) guards $connect, which has no path."""
    rules = compile_rules(_tenant("allow", [rule]))
    caller = parse_arn(CONNECT_ARN)
    for scopes, allowed in ((frozenset(), False), (frozenset({"chat"}), True)):
        grant = grant_for(rules, scopes, {})
        decision = decide(rules, grant, caller)
        assert decision.allowed is allowed
        assert _iam_allows(iam_policy("p", caller, decision, {}), CONNECT_ARN) is allowed


def test_path_specific_rules_do_not_guard_connect() -> None:
    """A rule on /admin/* says nothing about $connect, which carries no path."""
    rules = compile_rules(_tenant("allow", [{"path": "/admin/*", "scopes_any": ["admin"]}]))
    assert decide(rules, grant_for(rules, frozenset(), {}), parse_arn(CONNECT_ARN)).allowed


@pytest.mark.parametrize(
    "methods", [["GET"], ["*"], ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]]
)
def test_under_default_route_any_http_rule_can_only_deny(methods: list[str]) -> None:
    """$default may serve any path: an unmet rule denies it, a met path rule cannot allow it."""
    rule = {"methods": methods, "path": "/admin/*", "scopes_any": ["admin"]}
    caller = parse_arn(DEFAULT_ARN)
    allow_default = compile_rules(_tenant("allow", [rule]))
    for scopes, allowed, reason in (
        (frozenset(), False, Reason.SCOPE_INSUFFICIENT),
        (frozenset({"admin"}), True, Reason.OK),
    ):
        grant = grant_for(allow_default, scopes, {})
        decision = decide(allow_default, grant, caller)
        assert (decision.allowed, decision.reason) == (allowed, reason), methods
        assert _iam_allows(iam_policy("p", caller, decision, {}), DEFAULT_ARN) is allowed
    deny_default = compile_rules(_tenant("deny", [rule]))
    grant = grant_for(deny_default, frozenset({"admin"}), {})
    decision = decide(deny_default, grant, caller)
    assert decision.reason is Reason.ROUTE_NOT_ALLOWED, "a met /admin/* rule cannot open $default"
    assert not _iam_allows(iam_policy("p", caller, decision, {}), DEFAULT_ARN)


@pytest.mark.parametrize(
    "methods", [["*"], ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]]
)
def test_a_met_catch_all_rule_opens_the_default_route(methods: list[str]) -> None:
    """Under a deny default, a satisfied rule for every method and path allows $default."""
    rules = compile_rules(_tenant("deny", [{"methods": methods, "path": "*", "scopes_any": ["s"]}]))
    caller = parse_arn(DEFAULT_ARN)
    decision = decide(rules, grant_for(rules, frozenset({"s"}), {}), caller)
    assert decision.allowed
    assert _iam_allows(iam_policy("p", caller, decision, {}), DEFAULT_ARN)


def test_a_path_is_decided_as_the_default_route_when_asked() -> None:
    """decide(..., resource="$default") decides for every path the catch-all route serves."""
    rules = compile_rules(_tenant("allow", [{"path": "/admin/*", "scopes_any": ["admin"]}]))
    grant = grant_for(rules, frozenset(), {})
    caller = parse_arn(f"{PREFIX}GET/public")
    assert decide(rules, grant, caller).allowed
    assert not decide(rules, grant, caller, "$default").allowed


def test_catch_all_rule_covers_the_default_route_key() -> None:
    """A rule for every method and path also guards $default, which carries no path."""
    rules = compile_rules(_tenant("allow", [{"path": "*", "scopes_any": ["admin"]}]))
    grant = grant_for(rules, frozenset(), {})
    caller = parse_arn("arn:aws:execute-api:us-east-1:111122223333:a1b2c3d4e5/$default/$default")
    decision = decide(rules, grant, caller)
    assert (decision.allowed, decision.reason) == (False, Reason.SCOPE_INSUFFICIENT)
    assert not _iam_allows(iam_policy("p", caller, decision, {}), caller.arn)


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "FOO", "$disconnect"])
def test_methods_api_gateway_never_sends_are_refused(method: str) -> None:
    """Only real HTTP methods and the $connect/$default route keys are accepted in an ARN."""
    from tenant_authorizer.runtime.errors import EventInvalid

    with pytest.raises(EventInvalid):
        parse_arn(f"arn:aws:execute-api:us-east-1:111122223333:a1b2c3d4e5/p/{method}")
