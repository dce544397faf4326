"""Real-format API Gateway events from ``tests/events/``, aimed at any API and route."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parent.parent / "events"
EVENT_KINDS = ("rest_token", "rest_request", "http_v1", "http_v2", "websocket_connect")


def event(
    kind: str,
    token: str | None,
    *,
    account: str = "123456789012",
    api_id: str = "a1b2c3d4e5",
    stage: str = "prod",
    method: str = "GET",
    path: str = "/orders/42",
    partition: str = "aws",
    region: str = "us-east-1",
) -> dict[str, Any]:
    """A real-format event from ``tests/events/<kind>.json`` aimed at the given API route."""
    raw = (EVENTS / f"{kind}.json").read_text()
    data: dict[str, Any] = json.loads(raw)
    arn = f"arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/"
    arn += "$connect" if kind == "websocket_connect" else f"{method}{path}"
    data["routeArn" if kind == "http_v2" else "methodArn"] = arn
    context = data.get("requestContext")
    if isinstance(context, dict):
        context["accountId"] = account
        context["apiId"] = api_id
    text = json.dumps(data)
    if token is None:
        # Remove every place the token would be, as a client that sends none.
        data = json.loads(text)
        data.pop("authorizationToken", None)
        for key in ("headers", "multiValueHeaders", "queryStringParameters"):
            section = data.get(key) or {}
            for name in [n for n in section if n.lower() in ("authorization", "access_token")]:
                del section[name]
        return data
    result: dict[str, Any] = json.loads(text.replace("{{TOKEN}}", token))
    return result
