"""Answers in the shapes API Gateway expects: IAM policies, simple responses, context.

IAM policies are cache-safe (invariant 4): they name every resource of the calling
API/stage that the principal may call and every covered resource it may not, with the
caller's partition, never only the ``methodArn`` that was asked about. API Gateway may
reuse the policy for the same token on any route for up to the authorizer's TTL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .decision import Decision
from .errors import Reason
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
    grant = decision.grant
    if grant.allow:
        statements.append(
            {"Action": _ACTION, "Effect": "Allow", "Resource": [prefix + r for r in grant.allow]}
        )
    deny = [prefix + r for r in grant.deny]
    if decision.reason is Reason.ROUTE_NOT_ALLOWED:
        # Not covered by any rule and the default is deny: an explicit Deny of exactly
        # this resource is cache-safe (no Allow covers it) and answers 403 as promised.
        deny.append(caller.arn)
    if deny:
        statements.append({"Action": _ACTION, "Effect": "Deny", "Resource": deny})
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
