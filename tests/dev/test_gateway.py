"""The local API Gateway: real HTTP requests through the real authorizer, as in AWS."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from support.events import EVENTS
from support.issuers import FakeClock
from tenant_authorizer.dev.gateway import (
    AccessRecord,
    ApiKind,
    ApiSpec,
    Gateway,
    GatewayServer,
    IdentitySource,
    ProxyUpstream,
    Request,
    Upstream,
    build_event,
)
from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.dev.tenant_files import TenantFiles
from tenant_authorizer.runtime.authorizer import Authorizer
from tenant_authorizer.runtime.events import EventKind, parse_event
from tenant_authorizer.runtime.settings import Settings
from tenant_authorizer.runtime.telemetry import Telemetry

ACCOUNT = "123456789012"
AUDIENCE = "https://api.example.test"


def tenant_file(
    directory: Path,
    issuer: DevIssuer,
    *,
    tenant_id: str = "shop",
    token: dict[str, Any] | None = None,
    **binding: Any,
) -> Path:
    """Write a tenant file trusting ``issuer``, with an ``/admin/*`` rule needing ``admin``."""
    doc = {
        "tenant_id": tenant_id,
        "issuers": [
            {
                "issuer": issuer.issuer,
                "jwks_uri": issuer.jwks_uri,
                "local_development": True,
                "algorithms": ["RS256", "ES256"],
                "audiences": [AUDIENCE],
            }
        ],
        "routes": {"default": "allow", "rules": [{"path": "/admin/*", "scopes_any": ["admin"]}]},
        "bindings": [{"account_id": ACCOUNT, **binding}],
    }
    if token is not None:
        doc["token"] = token
    path = directory / f"{tenant_id}.yaml"
    path.write_text(json.dumps(doc, indent=2))  # JSON is YAML
    return path


@dataclass
class Running:
    """A gateway served on an ephemeral port, with its access records and decision lines."""

    gateway: Gateway
    server: GatewayServer
    records: list[AccessRecord] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The gateway's base URL."""
        return self.server.url

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        """GET ``path`` with the token as a Bearer header."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.get(self.url + path, headers=headers, timeout=5, **kwargs)


Start = Callable[..., Running]


@pytest.fixture
def start(tmp_path: Path, dev_issuer: DevIssuer) -> Iterator[Start]:
    """Start gateways over a tenant file trusting the test issuer; stop them all after."""
    running: list[Running] = []

    def _start(
        *,
        kind: ApiKind = "rest-token",
        ttl: float = 300,
        response: str = "iam",
        account: str = ACCOUNT,
        identity_validation: str | None = None,
        upstream: Upstream | None = None,
        clock: Callable[[], float] | None = None,
        identity_source: str = "header.Authorization",
        token: dict[str, Any] | None = None,
    ) -> Running:
        tenant_file(tmp_path, dev_issuer, response=response, token=token)
        loaded = TenantFiles(tmp_path).load()
        decisions: list[str] = []
        authorizer = Authorizer.from_settings(
            Settings(kid_cooldown=0),
            source=loaded.source,
            telemetry=Telemetry(write=decisions.append),
        )
        prefix = "method.request" if kind.startswith("rest") else "$request"
        api = ApiSpec(
            kind=kind,
            account_id=account,
            identity_sources=(IdentitySource.parse(f"{prefix}.{identity_source}"),),
            ttl=ttl,
            simple_responses=response == "simple",
            identity_validation=identity_validation,
        )
        records: list[AccessRecord] = []
        extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
        gateway = Gateway(api, authorizer, upstream=upstream, on_access=records.append, **extra)
        server = GatewayServer(gateway).start()
        run = Running(gateway, server, records, decisions)
        running.append(run)
        return run

    yield _start
    for run in running:
        run.server.stop()


def test_a_valid_token_passes_and_the_echo_shows_the_context(
    start: Start, dev_issuer: DevIssuer
) -> None:
    """An allowed request reaches the echo, which shows the method, path and context."""
    run = start()
    token = dev_issuer.mint({"sub": "ada"}, scope="orders:read")
    response = run.get("/orders/42?expand=items", token)
    assert response.status_code == 200
    echo = response.json()
    assert (echo["method"], echo["path"], echo["query"]) == (
        "GET",
        "/orders/42",
        {"expand": "items"},
    )
    assert echo["principalId"] == "ada"
    assert echo["authorizer"]["tenant_id"] == "shop"
    assert echo["authorizer"]["principal_id"] == "ada"
    assert echo["authorizer"]["scopes"] == "orders:read"
    assert echo["methodArn"].endswith(f"{ACCOUNT}:local00001/local/GET/orders/42")


def test_no_token_is_401_without_calling_the_authorizer(start: Start) -> None:
    """A missing identity source answers 401 before the authorizer is invoked."""
    run = start()
    response = run.get("/orders")
    assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})
    assert response.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert run.gateway.authorizer_calls == 0
    assert run.decisions == []
    assert run.records[-1].reason == "identity_source_missing"


def test_a_forged_token_is_401_with_its_reason_in_the_access_log(
    start: Start, dev_issuer: DevIssuer
) -> None:
    """A token with a broken signature is refused; the access line names why, not the token."""
    run = start()
    token = dev_issuer.mint()
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    response = run.get("/orders", forged)
    assert response.status_code == 401
    record = run.records[-1]
    assert (record.outcome, record.reason) == ("unauthorized", "signature_invalid")
    assert signature not in record.line() and payload not in record.line()


def test_a_missing_scope_is_403_with_its_reason(start: Start, dev_issuer: DevIssuer) -> None:
    """A valid token without the rule's scope gets the explicit-deny 403 and scope_insufficient."""
    run = start()
    response = run.get("/admin/users", dev_issuer.mint(scope="orders:read"))
    assert response.status_code == 403
    assert response.json() == {
        "Message": "User is not authorized to access this resource with an explicit deny"
    }
    assert response.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert (run.records[-1].outcome, run.records[-1].reason) == ("deny", "scope_insufficient")


def test_one_cached_policy_allows_one_path_and_denies_another(
    start: Start, dev_issuer: DevIssuer
) -> None:
    """The policy cached for /orders is re-evaluated for /admin/x: 403, with one authorizer call."""
    run = start()
    token = dev_issuer.mint()
    assert run.get("/orders", token).status_code == 200
    assert run.get("/admin/x", token).status_code == 403
    assert run.get("/orders/7", token).status_code == 200
    assert run.gateway.authorizer_calls == 1
    assert [r.cache for r in run.records] == ["miss", "hit", "hit"]
    assert run.records[1].reason == "explicit_deny"


@pytest.mark.parametrize(
    ("kind", "forbidden"),
    [
        ("rest-token", "User is not authorized to access this resource with an explicit deny"),
        ("rest-request", "User is not authorized to access this resource with an explicit deny"),
        ("http-v1", "Forbidden"),
        ("http-v2", "Forbidden"),
    ],
)
def test_every_api_kind_allows_and_refuses_as_its_api_does(
    start: Start, dev_issuer: DevIssuer, kind: ApiKind, forbidden: str
) -> None:
    """Each event kind reaches the real authorizer; a 403 has its API family's body."""
    run = start(kind=kind)
    token = dev_issuer.mint()
    assert run.get("/orders", token).status_code == 200
    refused = run.get("/admin/x", token)
    assert refused.status_code == 403
    assert forbidden in refused.json().values()


def test_a_query_string_identity_source_carries_the_token(
    start: Start, dev_issuer: DevIssuer
) -> None:
    """A REQUEST authorizer keyed on ?access_token= reads the token there, and 401s without it."""
    run = start(
        kind="rest-request",
        identity_source="querystring.access_token",
        token={"query": "access_token"},
    )
    token = dev_issuer.mint()
    assert run.get("/orders", params={"access_token": token}).status_code == 200
    assert run.get("/orders", token).status_code == 401  # a header is not the identity source
    assert run.gateway.authorizer_calls == 1


def test_a_cached_decision_is_reused_within_the_ttl_and_refreshed_after(
    start: Start, dev_issuer: DevIssuer
) -> None:
    """Within the TTL the authorizer is not called again; after it, it is."""
    clock = FakeClock()
    run = start(ttl=60, clock=clock)
    token = dev_issuer.mint()
    run.get("/orders", token)
    clock.advance(59)
    run.get("/orders", token)
    assert run.gateway.authorizer_calls == 1
    clock.advance(2)
    run.get("/orders", token)
    assert run.gateway.authorizer_calls == 2
    assert [r.cache for r in run.records] == ["miss", "hit", "miss"]


def test_a_ttl_of_zero_calls_the_authorizer_every_time(start: Start, dev_issuer: DevIssuer) -> None:
    """With caching off, every request is a fresh authorizer call."""
    run = start(ttl=0)
    token = dev_issuer.mint()
    for _ in range(3):
        assert run.get("/orders", token).status_code == 200
    assert run.gateway.authorizer_calls == 3
    assert {r.cache for r in run.records} == {"off"}


def test_http_v2_simple_responses_answer_forbidden(start: Start, dev_issuer: DevIssuer) -> None:
    """A simple response with isAuthorized false is HTTP API's 403 Forbidden."""
    run = start(kind="http-v2", response="simple", ttl=0)
    refused = run.get("/admin/x", dev_issuer.mint())
    assert (refused.status_code, refused.json()) == (403, {"message": "Forbidden"})
    allowed = run.get("/admin/x", dev_issuer.mint(scope="admin"))
    assert allowed.status_code == 200
    assert allowed.json()["authorizer"]["scopes"] == "admin"
    assert allowed.json()["principalId"] is None


def test_a_cached_simple_response_applies_to_every_route(
    start: Start, dev_issuer: DevIssuer
) -> None:
    """As in AWS, a cached isAuthorized is route-blind: /admin/x rides on /orders' answer."""
    run = start(kind="http-v2", response="simple", ttl=300)
    token = dev_issuer.mint()
    assert run.get("/orders", token).status_code == 200
    assert run.get("/admin/x", token).status_code == 200
    assert run.gateway.authorizer_calls == 1


def test_an_identity_validation_expression_refuses_without_calling(
    start: Start, dev_issuer: DevIssuer
) -> None:
    """A REST TOKEN value that does not match the expression is 401 with no authorizer call."""
    run = start(identity_validation=r"Bearer [A-Za-z0-9_.-]+")
    response = run.get("/orders", headers={"Authorization": f"Basic {dev_issuer.mint()}"})
    assert response.status_code == 401
    assert run.gateway.authorizer_calls == 0
    assert run.records[-1].reason == "identity_validation_failed"


def test_a_fault_is_500_with_authorizer_configuration_exception(
    start: Start, dev_issuer: DevIssuer
) -> None:
    """An API bound to no tenant is a platform fault: REST answers 500 {"message": null}."""
    run = start(account="999999999999")
    response = run.get("/orders", dev_issuer.mint())
    assert (response.status_code, response.json()) == (500, {"message": None})
    assert response.headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"
    assert (run.records[-1].outcome, run.records[-1].reason) == ("fault", "tenant_not_bound")


def test_key_rotation_takes_effect_while_running(start: Start, dev_issuer: DevIssuer) -> None:
    """After a revoking rotation the new token passes and the old one fails on refetch."""
    run = start(ttl=0)
    old = dev_issuer.mint()
    assert run.get("/orders", old).status_code == 200
    dev_issuer.rotate("RS256", keep_old=False)
    new = dev_issuer.mint()
    assert run.get("/orders", new).status_code == 200  # unknown kid: the JWKS is refetched
    assert run.get("/orders", old).status_code == 401
    assert run.records[-1].reason == "kid_unknown"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_an_unreachable_upstream_is_a_502_with_a_clear_message(
    start: Start, dev_issuer: DevIssuer
) -> None:
    """An allowed request whose upstream refuses the connection is a 502 naming the upstream."""
    upstream = f"http://127.0.0.1:{_free_port()}"
    run = start(upstream=ProxyUpstream(upstream, connect_timeout=1))
    response = run.get("/orders", dev_issuer.mint())
    assert response.status_code == 502
    assert upstream in response.json()["message"]
    assert "unreachable" in response.json()["message"]
    assert run.records[-1].reason == "upstream_unreachable"


class _Capture(BaseHTTPRequestHandler):
    seen: dict[str, Any]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.seen.update(
            path=self.path, headers=dict(self.headers.items()), body=self.rfile.read(length)
        )
        self.send_response(201)
        self.send_header("Content-Length", "2")
        self.send_header("X-Upstream", "yes")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def capture_upstream() -> Iterator[tuple[str, dict[str, Any]]]:
    """An upstream HTTP server that records the request it receives."""
    seen: dict[str, Any] = {}
    handler = type("Capture", (_Capture,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_the_proxy_forwards_the_request_with_the_authorizer_context(
    start: Start, dev_issuer: DevIssuer, capture_upstream: tuple[str, dict[str, Any]]
) -> None:
    """--upstream gets method, path, query, body and x-authorizer-* headers; the answer returns."""
    url, seen = capture_upstream
    run = start(upstream=ProxyUpstream(url))
    response = requests.post(
        run.url + "/orders?x=1",
        data=b"payload",
        headers={"Authorization": f"Bearer {dev_issuer.mint({'sub': 'ada'})}"},
        timeout=5,
    )
    assert (response.status_code, response.content) == (201, b"ok")
    assert response.headers["X-Upstream"] == "yes"
    assert (seen["path"], seen["body"]) == ("/orders?x=1", b"payload")
    headers: Mapping[str, str] = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["x-authorizer-tenant-id"] == "shop"
    assert headers["x-authorizer-principal-id"] == "ada"
    assert json.loads(headers["x-authorizer-context"])["tenant_id"] == "shop"


def test_a_client_cannot_forge_authorizer_headers(
    start: Start, dev_issuer: DevIssuer, capture_upstream: tuple[str, dict[str, Any]]
) -> None:
    """x-authorizer-* headers sent by the client are dropped before the upstream sees them."""
    url, seen = capture_upstream
    run = start(upstream=ProxyUpstream(url))
    requests.post(
        run.url + "/orders",
        headers={
            "Authorization": f"Bearer {dev_issuer.mint()}",
            "X-Authorizer-Tenant-Id": "someone-else",
            "X-Authorizer-Admin": "true",
        },
        timeout=5,
    )
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["x-authorizer-tenant-id"] == "shop"
    assert "x-authorizer-admin" not in headers


def test_the_access_line_holds_no_token_and_no_query(start: Start, dev_issuer: DevIssuer) -> None:
    """The access line names method, path, status, outcome, reason, tenant, cache and latency."""
    run = start()
    token = dev_issuer.mint()
    run.get("/orders?access_token=secret-value", token)
    line = run.records[-1].line()
    assert " GET /orders -> 200 allow reason=ok tenant=shop cache=miss " in line
    assert line.endswith("ms")
    assert "secret-value" not in line and token not in line


_REFERENCE = {
    "rest_request": "rest_request.json",
    "http_v1": "http_v1.json",
    "http_v2": "http_v2.json",
}


@pytest.mark.parametrize(
    ("kind", "event_kind"),
    [
        ("rest-token", EventKind.REST_TOKEN),
        ("rest-request", EventKind.REST_REQUEST),
        ("http-v1", EventKind.HTTP_V1),
        ("http-v2", EventKind.HTTP_V2),
    ],
)
def test_events_have_the_shape_of_the_reference_fixtures(
    kind: ApiKind, event_kind: EventKind
) -> None:
    """Built events parse as their kind and carry every field of ``tests/events/`` fixtures."""
    prefix = "method.request" if kind.startswith("rest") else "$request"
    api = ApiSpec(
        kind=kind,
        account_id=ACCOUNT,
        api_id="a1b2c3d4e5",
        stage="prod",
        identity_sources=(IdentitySource.parse(f"{prefix}.header.Authorization"),),
    )
    request = Request(
        "GET",
        "/orders/42",
        "expand=items",
        (("Authorization", "Bearer t0k"), ("Cookie", "theme=dark"), ("User-Agent", "curl/8")),
    )
    event = build_event(api, request, ["Bearer t0k"], request_id="r-1", now=1_795_341_600)
    parsed = parse_event(event)
    assert parsed.kind is event_kind
    assert (
        parsed.caller.arn
        == f"arn:aws:execute-api:us-east-1:{ACCOUNT}:a1b2c3d4e5/prod/GET/orders/42"
    )
    reference_name = _REFERENCE.get(kind.replace("-", "_"))
    if reference_name is None:
        assert event == {
            "type": "TOKEN",
            "authorizationToken": "Bearer t0k",
            "methodArn": parsed.caller.arn,
        }
        return
    reference = json.loads((EVENTS / reference_name).read_text())
    assert set(reference) - {"stageVariables"} <= set(event)
    assert set(reference["requestContext"]) <= set(event["requestContext"])
