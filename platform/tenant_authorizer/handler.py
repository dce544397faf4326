"""The Lambda entry point: ``tenant_authorizer.handler.handler``.

Adapts an :class:`~tenant_authorizer.runtime.authorizer.Evaluation` to API Gateway's contract:
Allow and Deny return the policy (or simple response); a rejected token raises
``Exception("Unauthorized")``, which API Gateway turns into 401; a platform fault raises
:class:`AuthorizerFault`, which API Gateway turns into 500. The authorizer object is
built on the first invocation and kept for the life of the warm instance.
"""

from __future__ import annotations

import threading
from typing import Any

from .runtime.authorizer import Authorizer
from .runtime.settings import Settings


class AuthorizerFault(Exception):
    """Raised to make API Gateway answer 500: no decision could be made (see the reason)."""


_authorizer: Authorizer | None = None
_lock = threading.Lock()


def _instance() -> Authorizer:
    global _authorizer  # noqa: PLW0603  (the warm-instance singleton is the point)
    if _authorizer is None:
        with _lock:
            if _authorizer is None:
                _authorizer = Authorizer.from_settings(Settings.from_env())
    return _authorizer


_qualifiers: dict[str, str | None] = {}


def qualifier_of(invoked_function_arn: object) -> str | None:
    """The alias (or version) in ``context.invoked_function_arn``; None when unqualified.

    ``arn:aws:lambda:REGION:ACCOUNT:function:NAME:ALIAS`` has eight parts; without the
    qualifier, seven. An instance sees one or a few ARNs, so each is split once.
    """
    if not isinstance(invoked_function_arn, str):
        return None
    if invoked_function_arn in _qualifiers:
        return _qualifiers[invoked_function_arn]
    parts = invoked_function_arn.split(":")
    qualifier = parts[7] if len(parts) == 8 and parts[7] else None
    if len(_qualifiers) < 64:
        _qualifiers[invoked_function_arn] = qualifier
    return qualifier


def handler(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    """API Gateway Lambda authorizer handler for REST, HTTP (1.0/2.0) and WebSocket APIs."""
    try:
        authorizer = _instance()
    except ValueError as exc:
        # A bad environment variable: every invocation fails closed, loudly, with the fix.
        raise AuthorizerFault(f"configuration: {exc}") from exc
    qualifier = qualifier_of(getattr(context, "invoked_function_arn", None))
    evaluation = authorizer.evaluate(event, qualifier)
    if evaluation.outcome == "unauthorized":
        raise Exception("Unauthorized")  # noqa: TRY002  (API Gateway's literal 401 contract)
    if evaluation.outcome == "fault" or evaluation.response is None:
        raise AuthorizerFault(evaluation.reason.value)
    return evaluation.response


def reset() -> None:
    """Forget the warm instance, as a new Lambda instance would start (tests)."""
    global _authorizer  # noqa: PLW0603
    with _lock:
        _authorizer = None
