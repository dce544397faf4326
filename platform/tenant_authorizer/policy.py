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
from typing import Any

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


def flatten(value: Any) -> ContextValue:
    """A claim value as API Gateway context accepts it: string, number or boolean."""
    if isinstance(value, str | bool | int | float):
        return value
    # Lists and objects travel as compact JSON: unambiguous for the backend to parse.
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
