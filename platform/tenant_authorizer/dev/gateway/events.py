"""The authorizer events API Gateway sends, built from a request for each API kind.

REST TOKEN, REST REQUEST, HTTP API payload 1.0 and 2.0, as the AWS pages document them
(``tests/events/`` holds captured examples): header and query-string handling differs
by family (REST keeps names and the last value; HTTP APIs lower-case names and join
repeated values with commas).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Final

from .api import ApiSpec
from .messages import Request

# Event times use English month names whatever the locale (strftime's %b is localized).
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun")
_MONTHS_2: Final = ("Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _event_time(now: float) -> str:
    t = time.gmtime(now)
    return (
        f"{t.tm_mday:02d}/{(_MONTHS + _MONTHS_2)[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def single(items: Sequence[tuple[str, str]], *, lower: bool, join: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower() if lower else name
        out[key] = f"{out[key]},{value}" if join and key in out else value
    return out


def _multi(items: Sequence[tuple[str, str]], *, lower: bool) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in items:
        out.setdefault(name.lower() if lower else name, []).append(value)
    return out


def _headers_seen(api: ApiSpec, request: Request) -> dict[str, str]:
    """Headers as the event carries them: REST keeps names and the last value; HTTP APIs
    lower-case names and join repeated values with commas."""
    if api.family == "rest":
        return single(request.headers, lower=False, join=False)
    return single(request.headers, lower=True, join=True)


def identity_values(api: ApiSpec, request: Request) -> list[str | None]:
    """The value of each identity source, as the event will carry it (None when absent)."""
    headers = {k.lower(): v for k, v in _headers_seen(api, request).items()}
    query = single(request.query_items(), lower=False, join=api.family == "http")
    out: list[str | None] = []
    for source in api.identity_sources:
        if source.location == "header":
            out.append(headers.get(source.name.lower()))
        else:
            out.append(query.get(source.name))
    return out


def build_event(
    api: ApiSpec,
    request: Request,
    values: Sequence[str],
    *,
    request_id: str,
    now: float,
) -> dict[str, Any]:
    """The authorizer event API Gateway sends for ``request``, in the shape of ``api.kind``."""
    arn = api.method_arn(request.method, request.path)
    if api.kind == "rest-token":
        return {"type": "TOKEN", "authorizationToken": values[0], "methodArn": arn}
    query = request.query_items()
    user_agent = (request.header_values("user-agent") or [""])[-1]
    staged_path = request.path if api.stage == "$default" else f"/{api.stage}{request.path}"
    resource = "/" if request.path == "/" else "/{proxy+}"
    path_parameters = None if request.path == "/" else {"proxy": request.path[1:]}
    epoch_ms = int(now * 1000)
    if api.kind == "http-v2":
        cookies = [
            c.strip()
            for value in request.header_values("cookie")
            for c in value.split(";")
            if c.strip()
        ]
        headers = {
            k: v for k, v in _headers_seen(api, request).items() if k != "cookie"
        }  # payload 2.0 moves cookies out of the headers
        event: dict[str, Any] = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": arn,
            "identitySource": list(values) or None,
            "routeKey": f"ANY {resource}",
            "rawPath": staged_path,
            "rawQueryString": request.query,
            "headers": headers,
            "requestContext": {
                "accountId": api.account_id,
                "apiId": api.api_id,
                "domainName": api.domain_name,
                "domainPrefix": api.api_id,
                "http": {
                    "method": request.method,
                    "path": staged_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": request.source_ip,
                    "userAgent": user_agent,
                },
                "requestId": request_id,
                "routeKey": f"ANY {resource}",
                "stage": api.stage,
                "time": _event_time(now),
                "timeEpoch": epoch_ms,
            },
        }
        if cookies:
            event["cookies"] = cookies
        if query:
            event["queryStringParameters"] = single(query, lower=False, join=True)
        if path_parameters:
            event["pathParameters"] = path_parameters
        return event
    rest = api.kind == "rest-request"
    headers = _headers_seen(api, request)
    context: dict[str, Any] = {
        "accountId": api.account_id,
        "apiId": api.api_id,
        "domainName": api.domain_name,
        "domainPrefix": api.api_id,
        "extendedRequestId": request_id,
        "httpMethod": request.method,
        "identity": {"sourceIp": request.source_ip, "userAgent": user_agent},
        "path": staged_path,
        "protocol": "HTTP/1.1",
        "requestId": request_id,
        "requestTime": _event_time(now),
        "requestTimeEpoch": epoch_ms,
        "resourceId": "local1" if rest else f"ANY {resource}",
        "resourcePath": resource,
        "stage": api.stage,
    }
    if rest:
        context["identity"]["apiKey"] = ""
    event = {
        "type": "REQUEST",
        "methodArn": arn,
        "resource": resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": _multi(request.headers, lower=not rest),
        "queryStringParameters": single(query, lower=False, join=False) if query else None,
        "multiValueQueryStringParameters": _multi(query, lower=False) if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": context,
    }
    if not rest:
        joined = ",".join(values) if values else None
        event = {"version": "1.0", **event, "identitySource": joined, "authorizationToken": joined}
    return event
