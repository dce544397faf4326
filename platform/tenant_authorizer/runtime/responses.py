"""Answers in the shapes API Gateway expects: IAM policies, simple responses, context.

IAM policies are cache-safe (invariant 4): they name every resource of the calling
API/stage that the principal may call and every covered resource it may not, with the
caller's partition, never only the ``methodArn`` that was asked about, and never the
client's own path. API Gateway may reuse the policy for the same token on any route for
up to the authorizer's TTL. A policy depends only on the grant and the API/stage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from sys import getsizeof
from typing import TYPE_CHECKING, Any, Final

from .caller import Caller
from .claims import scope_text
from .rules import Decision

if TYPE_CHECKING:
    from .tenant import TenantConfig
    from .verification import VerifiedToken

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


def decision_context(
    tenant: TenantConfig, token: VerifiedToken
) -> tuple[dict[str, ContextValue], int]:
    """The context API Gateway hands the backend, and the text it holds (for the memo).

    ``tenant_id``, ``principal_id``, ``scopes`` (space-separated, sorted), ``issuer``,
    ``client_id`` when the token names one, and the claims the issuer forwards (flat).
    """
    scopes = scope_text(token.scopes)
    context: dict[str, ContextValue] = {
        "tenant_id": tenant.tenant_id,
        "principal_id": token.principal_id,
        "scopes": scopes,
        "issuer": token.issuer,
    }
    # getsizeof, not len: a string with one astral character holds four bytes a character.
    size = getsizeof(token.principal_id) + getsizeof(scopes)
    if token.client_id is not None:
        context["client_id"] = token.client_id
        size += getsizeof(token.client_id)
    forward: tuple[str, ...] = token.issuer_config.forward_claims if token.issuer_config else ()
    claims: Mapping[str, Any] = token.claims
    for name in forward:
        if name in claims:
            value = context[name] = flatten(claims[name])
            size += 120 + getsizeof(value)
    return context, size


def simple_response(decision: Decision, context: Mapping[str, ContextValue]) -> dict[str, Any]:
    """The HTTP API payload 2.0 simple response."""
    return {"isAuthorized": decision.allowed, "context": dict(context)}


# A string a JSON decoder (Python's lenient one included) could read as something else:
# anything opening like an array, object or string, a JSON number, or a bare literal.
_JSON_OPENERS: Final = frozenset('[{"')
_JSON_NUMBER_RE: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_JSON_LITERALS: Final = frozenset({"true", "false", "null", "NaN", "Infinity", "-Infinity"})
_JSON_SPACE: Final = " \t\n\r"


def flatten(value: Any) -> ContextValue:
    """A forwarded claim as a context value, in the one encoding a backend decodes blindly.

    Numbers and booleans stay themselves; lists, objects and null become compact JSON; a
    string stays verbatim unless a JSON decoder could read it as something else (it opens
    with ``[``, ``{`` or ``"``, or is a JSON number or literal such as ``"42"`` or
    ``"true"``), then it is JSON-encoded (quoted). So the backend's rule is: *if the
    value parses as JSON, that is the claim; otherwise the value is the string*
    (``docs/tenant-guide.md``), in REST APIs too (which hand every value over as text),
    and whatever the backend's language: no decoder's limits (nesting, digits) matter.
    """
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return json.dumps(value) if _reads_as_json(value) else value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _reads_as_json(text: str) -> bool:
    stripped = text.strip(_JSON_SPACE)
    if not stripped:
        return False
    return (
        stripped[0] in _JSON_OPENERS
        or stripped in _JSON_LITERALS
        or _JSON_NUMBER_RE.fullmatch(stripped) is not None
    )
