"""Answers in the shapes API Gateway expects: IAM policies, simple responses, context.

IAM policies are cache-safe (invariant 4): they name every resource of the calling
API/stage that the principal may call and every covered resource it may not, with the
caller's partition, never only the ``methodArn`` that was asked about, and never the
client's own path. API Gateway may reuse the policy for the same token on any route for
up to the authorizer's TTL. A policy depends only on the grant and the API/stage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from .decision import Decision
from .events import Caller

ContextValue = str | int | float | bool

_VERSION = "2012-10-17"
_ACTION = "execute-api:Invoke"


def iam_policy(
    principal_id: str, caller: Caller, decision: Decision, context: Mapping[str, ContextValue]
) -> dict[str, Any]:
    """The REST / HTTP-v1 (and HTTP-v2 IAM mode) answer for an allowed or denied request."""
    prefix = caller.api_prefix
    statements: list[dict[str, Any]] = []
    grant = decision.grant  # the whole grant: the policy does not depend on this request
    if grant.allow:
        statements.append(
            {"Action": _ACTION, "Effect": "Allow", "Resource": [prefix + r for r in grant.allow]}
        )
    # A route no rule covers under a deny default is refused by omission (no Allow names
    # it): the client's path, which may hold "*" or "?", never enters a policy that API
    # Gateway caches and evaluates as a pattern for every later request of the token.
    if grant.deny:
        statements.append(
            {"Action": _ACTION, "Effect": "Deny", "Resource": [prefix + r for r in grant.deny]}
        )
    return {
        "principalId": principal_id,
        "policyDocument": {"Version": _VERSION, "Statement": statements},
        "context": dict(context),
    }


def simple_response(decision: Decision, context: Mapping[str, ContextValue]) -> dict[str, Any]:
    """The HTTP API payload 2.0 simple response."""
    return {"isAuthorized": decision.allowed, "context": dict(context)}


# The first character of any text Python's (lenient) json.loads accepts, whitespace aside.
_JSON_FIRST: Final = frozenset('[{"-0123456789tfnNI')


def flatten(value: Any) -> ContextValue:
    """A forwarded claim as a context value, in the one encoding a backend decodes blindly.

    Numbers and booleans stay themselves; lists, objects and null become compact JSON; a
    string stays verbatim unless it would itself parse as JSON (``'["admin"]'``, ``"42"``,
    ``"true"``), then it is JSON-encoded (quoted). So the backend's rule is: *if the
    value parses as JSON, that is the claim; otherwise the value is the string*
    (``docs/tenant-guide.md``), and a list claim is never confused with a string that
    looks like one, in REST APIs too (which hand every context value over as text).
    """
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return json.dumps(value) if _parses_as_json(value) else value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _parses_as_json(text: str) -> bool:
    stripped = text.lstrip(" \t\n\r")
    if not stripped or stripped[0] not in _JSON_FIRST:
        return False
    try:
        json.loads(text)  # lenient on purpose: NaN and Infinity count, as in Python backends
    except (ValueError, RecursionError):
        return False
    return True
