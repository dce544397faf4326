"""The one place that decides: a verified principal, a tenant's route rules, a caller.

Semantics (``docs/decisions/0004-route-rules.md``): a rule *adds requirements* to the
routes it covers. A request is allowed when every rule covering it is satisfied; a
request no rule covers follows the tenant's ``default_route_access``. Paths use IAM glob
semantics (``*`` matches anything, ``/`` included), so the decision taken here and the
IAM policy API Gateway caches for the token always agree: the policy lists every
resource the principal may call (Allow) and every covered resource it may not (Deny).

Route keys carry no path. ``$connect`` (WebSocket) is covered by rules that list it and
by catch-all rules (every method, every path). ``$default`` stands for *any* request an
HTTP API's catch-all route serves, so a rule for any HTTP method can only deny there: an
unsatisfied rule denies ``$default``, and only a satisfied catch-all rule allows it
(``docs/decisions/0014-route-keys.md``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .caller import Caller
from .errors import Reason
from .identifiers import REQUEST_METHODS
from .wildcards import match_parts, split_glob

if TYPE_CHECKING:
    from .tenant import ClaimValue, RouteRule, TenantConfig

# "*" as a method is expanded, because in IAM a leading "*" also swallows the path.
EXPANDED_METHODS: Final = REQUEST_METHODS
CONNECT: Final = "$connect"  # the WebSocket route key an authorizer sees
DEFAULT_ROUTE: Final = "$default"  # an HTTP API's catch-all route key
_PARAM_RE: Final = re.compile(r"\{[^/{}]*\}")


# NamedTuples rather than frozen dataclasses: ~0.2 ms instead of ~0.8 ms at cold start.
class CompiledRule(NamedTuple):
    """A route rule with its IAM resource suffixes and the matchers equivalent to them."""

    rule: RouteRule
    resources: tuple[str, ...]  # after "arn:...:api/stage/", e.g. "GET/orders/*": allowed if met
    globs: tuple[tuple[str, ...], ...]  # the resources split at "*" (wildcards.match_parts)
    denies: tuple[str, ...]  # denied if not met: the resources, "$default" for any HTTP rule

    def covers(self, resource: str) -> bool:
        """Whether the rule, satisfied, allows ``resource`` (``GET/orders/1``) as IAM would."""
        return any(match_parts(parts, resource) for parts in self.globs)

    def blocks(self, resource: str) -> bool:
        """Whether the rule, not satisfied, denies ``resource``."""
        if resource == DEFAULT_ROUTE:
            return DEFAULT_ROUTE in self.denies
        return self.covers(resource)


class RuleSet(NamedTuple):
    """A tenant's compiled rules and the default for routes no rule covers."""

    rules: tuple[CompiledRule, ...]
    default_allow: bool
    # With no rules every principal has the same grant and every route the same answer.
    constant: Decision | None = None


class Grant(NamedTuple):
    """What one principal may call on one API: the cache-safe part of a decision."""

    satisfied: tuple[bool, ...]  # per rule, in order
    failure: tuple[Reason, ...]  # per rule: why it is not satisfied (OK when it is)
    allow: tuple[str, ...]  # resource suffixes to Allow
    deny: tuple[str, ...]  # resource suffixes to Deny explicitly


class Decision(NamedTuple):
    """The answer for the current request, plus the full grant the policy carries."""

    allowed: bool
    reason: Reason
    grant: Grant


def _path_glob(path: str) -> str:
    glob_path = "*" if path == "*" else _PARAM_RE.sub("*", path).lstrip("/")
    # "{proxy+}" became "*"; collapse runs so the glob stays minimal.
    return re.sub(r"\*+", "*", glob_path)


def _compile_rule(rule: RouteRule) -> CompiledRule:
    path = _path_glob(rule.path)
    every_method = "*" in rule.methods
    methods = EXPANDED_METHODS if every_method else tuple(m for m in rule.methods if m != CONNECT)
    resources = [f"{m}/{path}" for m in methods]
    # $connect has no path: it is covered when listed, or by a catch-all rule.
    if CONNECT in rule.methods or (every_method and path == "*"):
        resources.append(CONNECT)
    denies = list(resources)
    if methods:
        # $default may serve any method and path: a rule for an HTTP method denies it when
        # not met, and allows it when met only if it covers every method and path.
        if path == "*" and set(methods) == set(EXPANDED_METHODS):
            resources.append(DEFAULT_ROUTE)
        denies.append(DEFAULT_ROUTE)
    allowed = tuple(dict.fromkeys(resources))
    return CompiledRule(
        rule, allowed, tuple(split_glob(r) for r in allowed), tuple(dict.fromkeys(denies))
    )


def compile_rules(tenant: TenantConfig) -> RuleSet:
    """Compile a tenant's route rules once, when its config is loaded."""
    compiled = tuple(_compile_rule(rule) for rule in tenant.rules)
    default_allow = tenant.default_route_access == "allow"
    constant = None
    if not compiled:
        # Without rules every route has the same answer; a deny names the whole API, so
        # that the policy never has to name the client's path (docs/security.md).
        if default_allow:
            constant = Decision(True, Reason.OK, Grant((), (), ("*",), ()))
        else:
            constant = Decision(False, Reason.ROUTE_NOT_ALLOWED, Grant((), (), (), ("*",)))
    return RuleSet(compiled, default_allow, constant)


def claim_matches(actual: Any, expected: tuple[ClaimValue, ...]) -> bool:
    """True when ``actual`` (or any item of a list claim) equals one of ``expected``.

    Types are compared too: the boolean ``true`` never equals the number ``1``.
    """
    values = actual if isinstance(actual, list) else (actual,)
    return any(type(v) is type(e) and v == e for v in values for e in expected)


def _rule_failure(rule: RouteRule, scopes: frozenset[str], claims: Mapping[str, Any]) -> Reason:
    if rule.scopes_all and not scopes.issuperset(rule.scopes_all):
        return Reason.SCOPE_INSUFFICIENT
    if rule.scopes_any and scopes.isdisjoint(rule.scopes_any):
        return Reason.SCOPE_INSUFFICIENT
    for name, expected in rule.claims.items():
        if name not in claims or not claim_matches(claims[name], expected):
            return Reason.CLAIM_INSUFFICIENT
    return Reason.OK


def grant_for(rules: RuleSet, scopes: frozenset[str], claims: Mapping[str, Any]) -> Grant:
    """Everything a principal may and may not call: computed once per verified token."""
    if rules.constant is not None:
        return rules.constant.grant
    failures = tuple(_rule_failure(c.rule, scopes, claims) for c in rules.rules)
    satisfied = tuple(f is Reason.OK for f in failures)
    deny = tuple(
        dict.fromkeys(
            r for c, ok in zip(rules.rules, satisfied, strict=True) if not ok for r in c.denies
        )
    )
    if rules.default_allow:
        allow: tuple[str, ...] = ("*",)
    else:
        allow = tuple(
            dict.fromkeys(
                r for c, ok in zip(rules.rules, satisfied, strict=True) if ok for r in c.resources
            )
        )
    return Grant(satisfied, failures, allow, deny)


def decide(rules: RuleSet, grant: Grant, caller: Caller, resource: str | None = None) -> Decision:
    """Allow or deny the current request under ``grant``.

    ``resource`` is what is decided, by default the caller's (``GET/orders/1``,
    ``$connect``); :data:`DEFAULT_ROUTE` decides for every request a catch-all route
    serves, as a cached simple response is replayed for all of them.
    """
    if rules.constant is not None:
        return rules.constant
    if resource is None:
        resource = caller.resource
    covered = False
    for compiled, failure in zip(rules.rules, grant.failure, strict=True):
        if failure is not Reason.OK:
            if compiled.blocks(resource):
                return Decision(False, failure, grant)
        elif not covered and compiled.covers(resource):
            covered = True
    if covered or rules.default_allow:
        return Decision(True, Reason.OK, grant)
    return Decision(False, Reason.ROUTE_NOT_ALLOWED, grant)
