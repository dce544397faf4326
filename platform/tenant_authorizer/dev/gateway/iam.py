"""IAM policy evaluation as API Gateway applies it to a Lambda authorizer's policy.

API Gateway evaluates the ``policyDocument`` an authorizer returns against the
request's method ARN (``arn:aws:execute-api:region:account:api/stage/VERB/path``) and
the action ``execute-api:Invoke``:

* a matching ``Deny`` statement wins (403, explicit deny);
* otherwise a matching ``Allow`` statement lets the request through;
* otherwise the request is denied implicitly (403).

Patterns use IAM wildcards: ``*`` matches any run of characters (``/`` included) and
``?`` exactly one. Resources match case-sensitively, actions case-insensitively, as in
IAM. ``Action``/``NotAction`` and ``Resource``/``NotResource`` may be a string or a
list. A statement with a ``Condition`` cannot be evaluated here: it never allows and
always denies (fail closed). A document that is not a policy at all raises
:class:`PolicyInvalid`, which API Gateway answers with a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from ...runtime import wildcards

Verdict = Literal["allow", "explicit_deny", "implicit_deny"]

INVOKE: Final = "execute-api:Invoke"
_VERSIONS: Final = frozenset({"2012-10-17", "2008-10-17"})


class PolicyInvalid(ValueError):
    """Raised when an authorizer's policy document is not a usable IAM policy (500)."""


def matches(glob: str, value: str, *, ignore_case: bool = False) -> bool:
    """Whether ``value`` matches the IAM wildcard pattern ``glob`` (``*`` and ``?``).

    Linear-time (see :mod:`wildcards`): the path in a method ARN is the client's.
    """
    if ignore_case:
        return wildcards.match(glob.lower(), value.lower())
    return wildcards.match(glob, value)


def _strings(statement: Mapping[str, object], key: str, index: int) -> tuple[str, ...]:
    value = statement[key]
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise PolicyInvalid(f"Statement[{index}].{key} must be a string or a list of strings")
    out = tuple(i for i in items if isinstance(i, str))
    if len(out) != len(items):
        raise PolicyInvalid(f"Statement[{index}].{key} must hold only strings")
    return out


def _element(
    statement: Mapping[str, object], positive: str, negative: str, index: int
) -> tuple[bool, tuple[str, ...]]:
    """``(negated, patterns)`` of Action/NotAction or Resource/NotResource."""
    if (positive in statement) == (negative in statement):
        raise PolicyInvalid(f"Statement[{index}] needs exactly one of {positive} or {negative}")
    if positive in statement:
        return False, _strings(statement, positive, index)
    return True, _strings(statement, negative, index)


def _applies(statement: Mapping[str, object], index: int, resource: str, action: str) -> bool:
    negated, actions = _element(statement, "Action", "NotAction", index)
    if any(matches(a, action, ignore_case=True) for a in actions) == negated:
        return False
    negated, resources = _element(statement, "Resource", "NotResource", index)
    return any(matches(r, resource) for r in resources) != negated


def statements(policy: object) -> list[Mapping[str, object]]:
    """The statements of a policy document; :class:`PolicyInvalid` if it is not one."""
    if not isinstance(policy, Mapping):
        raise PolicyInvalid("policyDocument must be an object")
    version = policy.get("Version")
    if version is not None and version not in _VERSIONS:
        raise PolicyInvalid(f"unknown policy Version {str(version)[:32]!r}")
    raw = policy.get("Statement")
    items = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(items, list):
        raise PolicyInvalid("policyDocument.Statement must be an object or a list")
    out: list[Mapping[str, object]] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise PolicyInvalid(f"Statement[{index}] must be an object")
        if item.get("Effect") not in ("Allow", "Deny"):
            raise PolicyInvalid(f"Statement[{index}].Effect must be Allow or Deny")
        out.append(item)
    return out


def evaluate(policy: object, resource: str, action: str = INVOKE) -> Verdict:
    """Evaluate ``policy`` for ``action`` on ``resource``: explicit Deny, Allow, else deny."""
    allowed = False
    for index, statement in enumerate(statements(policy)):
        applies = _applies(statement, index, resource, action)
        if statement["Effect"] == "Deny":
            # A Deny's Condition is taken as met and an Allow's as unmet: fail closed.
            if applies:
                return "explicit_deny"
        elif applies and "Condition" not in statement:
            allowed = True
    return "allow" if allowed else "implicit_deny"
