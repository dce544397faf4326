"""Opaque tokens by RFC 7662 introspection, against a development issuer on 127.0.0.1.

The issuer counts its requests, so each test proves what the cache, the flood limit and
the routing promise: an active answer is asked once and used until the token's ``exp``
or ``cache_seconds``; an inactive one is asked once per ``inactive_cache_seconds``; a
revoked token is refused once its entry ends; a tenant's own keys and JWT-shaped tokens
never reach the endpoint; an endpoint that fails is a fault, never Allow.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from support.events import EVENT_KINDS, event
from support.harness import Harness, tenant_doc
from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.runtime.errors import ConfigError, Reason
from tenant_authorizer.runtime.tenant_parser import parse_tenant
from tenant_authorizer.tools.api_keys import new_key, stored_hash

ACCOUNT, OTHER_ACCOUNT = "121212121212", "343434343434"
SECRET_NAME = "/tenant-authorizer/secrets/opaque/introspection"
OTHER_SECRET = "/tenant-authorizer/secrets/other/introspection"


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIssuer]:
    with DevIssuer(port=0, client_secret="introspection-secret-0123456789") as issuer:
        yield issuer


@pytest.fixture(scope="module")
def other_idp() -> Iterator[DevIssuer]:
    with DevIssuer(port=0, client_secret="other-secret-0123456789abcdef") as issuer:
        yield issuer


class Clock:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _issuer(idp: DevIssuer, secret: str = SECRET_NAME, **introspection: Any) -> dict[str, Any]:
    return {
        "issuer": idp.issuer,
        "jwks_uri": idp.jwks_uri,
        "audiences": [idp.audience],
        "local_development": True,
        "forward_claims": ["email"],
        "introspection": {
            "endpoint": idp.introspection_endpoint,
            "client_id": "authorizer",
            "client_secret_parameter": secret,
            **introspection,
        },
    }


def _harness(
    idp: DevIssuer,
    other_idp: DevIssuer | None = None,
    *,
    clock: Clock | None = None,
    kind: str = "rest_token",
    **introspection: Any,
) -> Harness:
    token: dict[str, Any] = (
        {"token": {"query": "access_token"}} if kind == "websocket_connect" else {}
    )
    docs = [tenant_doc("opaque", ACCOUNT, [_issuer(idp, **introspection)], **token)]
    secrets = {SECRET_NAME: idp.client_secret.encode()}
    if other_idp is not None:
        docs.append(tenant_doc("other", OTHER_ACCOUNT, [_issuer(other_idp, OTHER_SECRET)], **token))
        secrets[OTHER_SECRET] = other_idp.client_secret.encode()
    if clock is None:
        return Harness(docs, secrets=secrets)
    return Harness(docs, secrets=secrets, clock=clock)


def _decide(harness: Harness, token: str, kind: str = "rest_token", account: str = ACCOUNT) -> Any:
    return harness.evaluate(event(kind, token, account=account))


def _calls(idp: DevIssuer) -> int:
    return idp.request_count(idp.introspection_path)


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_each_event_kind_allows_an_active_token_and_refuses_an_inactive_one(
    idp: DevIssuer, other_idp: DevIssuer, kind: str
) -> None:
    harness = _harness(idp, other_idp, kind=kind)
    token = idp.mint_opaque({"email": "ada@example.test"}, scope="orders:read")
    result = _decide(harness, token, kind)
    assert (result.outcome, result.reason) == ("allow", Reason.OK)
    context = result.response["context"]
    assert (context["principal_id"], context["scopes"], context["issuer"]) == (
        "dev-user",
        "orders:read",
        idp.issuer,
    )
    assert (context["client_id"], context["email"]) == ("dev-client", "ada@example.test")

    unknown = "x" * 43  # never issued: the endpoint says active false
    assert (_decide(harness, unknown, kind).outcome, harness.last()["reason"]) == (
        "unauthorized",
        "token_inactive",
    )
    # Cross-tenant: tenant A's token on tenant B's API goes to B's endpoint only, which
    # never issued it; and B's token on A's API likewise.
    before = _calls(idp)
    assert _decide(harness, token, kind, OTHER_ACCOUNT).reason is Reason.TOKEN_INACTIVE
    assert _calls(idp) == before, "tenant B's decision never asks tenant A's issuer"
    theirs = other_idp.mint_opaque()
    assert _decide(harness, theirs, kind).reason is Reason.TOKEN_INACTIVE
    assert _decide(harness, theirs, kind, OTHER_ACCOUNT).outcome == "allow"
    text = "\n".join(harness.lines)
    for secret in (token, unknown, theirs, idp.client_secret, other_idp.client_secret):
        assert secret not in text


def test_an_active_answer_is_cached_until_cache_seconds_and_a_revoked_token_then_refused(
    idp: DevIssuer,
) -> None:
    clock = Clock()
    harness = _harness(idp, clock=clock, cache_seconds=60)
    token = idp.mint_opaque(expires_in=3600)
    before = _calls(idp)
    for path in ("/a", "/b", "/c"):  # new ARNs: no held answer, the introspection cache
        assert (
            harness.evaluate(event("rest_request", token, path=path, account=ACCOUNT)).outcome
            == "allow"
        )
    assert _calls(idp) == before + 1

    idp.revoke(token)
    clock.now += 30
    assert _decide(harness, token).outcome == "allow", "within cache_seconds: still held"
    assert _calls(idp) == before + 1
    clock.now += 31
    result = _decide(harness, token)
    assert (result.outcome, result.reason) == ("unauthorized", Reason.TOKEN_INACTIVE)
    assert _calls(idp) == before + 2


def test_an_answer_never_outlives_the_tokens_exp(idp: DevIssuer) -> None:
    clock = Clock()
    harness = _harness(idp, clock=clock, cache_seconds=3600)
    token = idp.mint_opaque(expires_in=20)
    assert _decide(harness, token).outcome == "allow"
    clock.now += 20 + 60 + 1  # exp plus the issuer's clock skew
    result = _decide(harness, token)
    assert result.outcome == "unauthorized"
    assert result.reason in (Reason.TOKEN_EXPIRED, Reason.TOKEN_INACTIVE)


def test_a_flood_of_bad_tokens_is_bounded(idp: DevIssuer) -> None:
    """A repeated bad token asks once; distinct ones at most the per-instance rate."""
    from tenant_authorizer.runtime.fetch import HttpFetcher
    from tenant_authorizer.runtime.introspection import Introspector

    clock = Clock()
    harness = _harness(idp, clock=clock, inactive_cache_seconds=30, max_calls_per_second=5)
    # The bucket's clock stands still: the bound holds however slow the machine is.
    authorizer = harness.authorizer
    authorizer._introspector = Introspector(
        HttpFetcher(), authorizer._secret, harness.jwks, clock=clock, monotonic=lambda: 1000.0
    )
    before = _calls(idp)
    for _ in range(50):
        assert _decide(harness, "bad" * 15).reason is Reason.TOKEN_INACTIVE
    assert _calls(idp) == before + 1

    answers = [_decide(harness, f"flood{n:040d}").reason for n in range(40)]
    assert _calls(idp) <= before + 1 + 10, "a burst of twice the rate, then no calls"
    assert answers.count(Reason.INTROSPECTION_UNAVAILABLE) >= 29
    assert set(answers) <= {Reason.TOKEN_INACTIVE, Reason.INTROSPECTION_UNAVAILABLE}
    assert all(r["outcome"] != "allow" for r in harness.records())


def test_the_tenants_own_keys_and_jwts_never_reach_the_endpoint(idp: DevIssuer) -> None:
    key = new_key("ci")
    doc = tenant_doc(
        "opaque",
        ACCOUNT,
        [_issuer(idp)],
        api_keys=[{"id": "ci", "hash": stored_hash(key), "principal_id": "ci-bot"}],
    )
    harness = Harness([doc], secrets={SECRET_NAME: idp.client_secret.encode()})
    before = _calls(idp)
    assert _decide(harness, key).outcome == "allow"
    assert _decide(harness, new_key("ci")).reason is Reason.API_KEY_UNKNOWN
    jwt_token = idp.mint()  # a JWT of the same issuer: verified by its keys
    assert _decide(harness, jwt_token).outcome == "allow"
    forged = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    assert _decide(harness, forged).outcome == "unauthorized"
    assert _calls(idp) == before


def _faulty_issuer(answer: Any, status: int = 200) -> DevIssuer:
    from tenant_authorizer.dev.issuer_http import IssuerRequestHandler

    class Handler(IssuerRequestHandler):
        def handle_request(self, method: str, path: str) -> None:
            if path.endswith("/introspect"):
                # Read the request first: closing on unread bytes resets the connection.
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_json(status, answer)
            else:
                super().handle_request(method, path)

    class Faulty(DevIssuer):
        handler_class = Handler

    return Faulty(port=0, client_secret="introspection-secret-0123456789")


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ({"error": "invalid_client"}, 401),  # our credentials are wrong
        ({"error": "server_error"}, 503),
        ({"active": "true"}, 200),  # not a boolean
        ({"sub": "x"}, 200),  # no active at all
        (["active", True], 200),  # not an object
    ],
)
def test_a_failing_endpoint_is_a_fault_never_allow(answer: Any, status: int) -> None:
    with _faulty_issuer(answer, status) as idp:
        harness = _harness(idp)
        result = _decide(harness, "opaque" * 8)
    assert (result.outcome, result.status, result.reason) == (
        "fault",
        500,
        Reason.INTROSPECTION_UNAVAILABLE,
    )


def test_an_unreachable_endpoint_is_a_fault_within_the_budget() -> None:
    idp = DevIssuer(port=0).start()
    idp.stop()  # nothing listens there any more
    harness = _harness(idp)
    result = _decide(harness, "opaque" * 8)
    assert (result.outcome, result.reason) == ("fault", Reason.INTROSPECTION_UNAVAILABLE)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"active": True, "sub": "u", "aud": "someone-else"}, Reason.AUDIENCE_MISMATCH),
        ({"active": True, "sub": "u"}, Reason.AUDIENCE_MISMATCH),  # no audience: fail closed
        ({"active": True, "aud": "https://api.example.test"}, Reason.CLAIM_MISSING),
        (
            {"active": True, "sub": "u", "aud": "https://api.example.test", "iss": "https://x"},
            Reason.ISSUER_NOT_ALLOWED,
        ),
        (
            {
                "active": True,
                "sub": "u",
                "aud": "https://api.example.test",
                "token_type": "refresh_token",
            },
            Reason.TYPE_MISMATCH,
        ),
        (
            {"active": True, "sub": "u", "aud": "https://api.example.test", "exp": 1000},
            Reason.TOKEN_EXPIRED,
        ),
        (
            {"active": True, "sub": "u", "aud": "https://api.example.test", "scope": 'a "b'},
            Reason.SCOPE_MALFORMED,
        ),
    ],
)
def test_an_active_answer_is_trusted_only_as_far_as_it_goes(
    answer: dict[str, Any], reason: Reason
) -> None:
    with _faulty_issuer(answer) as idp:
        result = _decide(_harness(idp), "opaque" * 8)
    assert (result.outcome, result.reason) == ("unauthorized", reason)


def test_client_secret_post_and_basic_both_authenticate(idp: DevIssuer) -> None:
    token = idp.mint_opaque()
    for method in ("client_secret_basic", "client_secret_post"):
        assert _decide(_harness(idp, auth_method=method), token).outcome == "allow"
    wrong = Harness(
        [tenant_doc("opaque", ACCOUNT, [_issuer(idp)])],
        secrets={SECRET_NAME: b"not-the-secret-at-all-0123456789"},
    )
    assert _decide(wrong, token).reason is Reason.INTROSPECTION_UNAVAILABLE


def test_the_endpoint_comes_from_the_issuers_metadata(idp: DevIssuer) -> None:
    entry = _issuer(idp)
    del entry["introspection"]["endpoint"], entry["jwks_uri"]
    entry["discovery"] = "oauth"
    harness = Harness(
        [tenant_doc("opaque", ACCOUNT, [entry])], secrets={SECRET_NAME: idp.client_secret.encode()}
    )
    assert _decide(harness, idp.mint_opaque()).outcome == "allow"
    assert _decide(harness, idp.mint()).outcome == "allow", "and its JWTs through its jwks_uri"


def test_prefixes_route_opaque_tokens_to_one_issuer(idp: DevIssuer, other_idp: DevIssuer) -> None:
    docs = [
        tenant_doc(
            "opaque",
            ACCOUNT,
            [_issuer(idp, token_prefix="a_"), _issuer(other_idp, token_prefix="b_")],
        )
    ]
    secrets = {SECRET_NAME: idp.client_secret.encode()}
    # One client secret parameter per issuer: the second one is the other IdP's.
    docs[0]["issuers"][1]["introspection"]["client_secret_parameter"] = SECRET_NAME + "-b"
    secrets[SECRET_NAME + "-b"] = other_idp.client_secret.encode()
    harness = Harness(docs, secrets=secrets)
    a_calls, b_calls = _calls(idp), _calls(other_idp)
    assert _decide(harness, idp.mint_opaque(prefix="a_")).outcome == "allow"
    assert _decide(harness, other_idp.mint_opaque(prefix="b_")).outcome == "allow"
    assert (_calls(idp), _calls(other_idp)) == (a_calls + 1, b_calls + 1)
    assert _decide(harness, "c_" + "x" * 40).reason is Reason.TOKEN_MALFORMED
    assert "no issuer's introspection.token_prefix" in harness.last()["detail"]
    assert (_calls(idp), _calls(other_idp)) == (a_calls + 1, b_calls + 1)


@pytest.mark.parametrize(
    ("issuers", "says"),
    [
        (lambda i: [_issuer(i), _issuer(i) | {"issuer": i.issuer + "/2"}], "token_prefix"),
        (
            lambda i: [_issuer(i, OTHER_SECRET)],
            "introspection.client_secret_parameter",
        ),
        (lambda i: [_issuer(i, token_prefix="has.dot")], "token_prefix"),
        (  # a jwks_uri means discovery none: nowhere to read the endpoint from
            lambda i: [
                _issuer(i)
                | {"introspection": {"client_id": "c", "client_secret_parameter": SECRET_NAME}}
            ],
            "introspection.endpoint",
        ),
    ],
)
def test_introspection_mistakes_name_the_field(idp: DevIssuer, issuers: Any, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_tenant(tenant_doc("opaque", ACCOUNT, issuers(idp)), "opaque.yaml")
    assert says in str(caught.value)


def test_the_request_carries_the_token_and_client_authentication(idp: DevIssuer) -> None:
    """What the issuer receives: RFC 7662's form, authenticated as RFC 6749 2.3.1 says."""
    from tenant_authorizer.dev.issuer_http import IssuerRequestHandler

    seen: list[tuple[str | None, str]] = []

    class Handler(IssuerRequestHandler):
        def handle_request(self, method: str, path: str) -> None:
            if path.endswith("/introspect"):
                length = int(self.headers.get("Content-Length", "0"))
                seen.append((self.headers.get("Authorization"), self.rfile.read(length).decode()))
                self.send_json(200, {"active": False})
            else:
                super().handle_request(method, path)

    class Recording(DevIssuer):
        handler_class = Handler

    with Recording(port=0) as recording:
        secrets = {SECRET_NAME: b"s3cr:t/with+chars"}
        harness = Harness([tenant_doc("opaque", ACCOUNT, [_issuer(recording)])], secrets=secrets)
        _decide(harness, "tok" * 15)
    ((authorization, body),) = seen
    assert body == "token=" + "tok" * 15 + "&token_type_hint=access_token"
    assert authorization is not None and authorization.startswith("Basic ")
    decoded = base64.b64decode(authorization[6:]).decode()
    assert decoded == "authorizer:s3cr%3At%2Fwith%2Bchars"
    assert json.loads(harness.lines[-1])["reason"] == "token_inactive"


def test_repeated_failures_open_the_endpoints_circuit() -> None:
    """Three failures in a row: later decisions fail at once, without a call."""
    with _faulty_issuer({"error": "server_error"}, 503) as idp:
        harness = _harness(idp)
        reasons = [_decide(harness, f"opaque{n:040d}").reason for n in range(5)]
        calls = _calls(idp)
    assert reasons[:3] == [Reason.INTROSPECTION_UNAVAILABLE] * 3
    assert reasons[3:] == [Reason.ISSUER_CIRCUIT_OPEN] * 2
    assert calls == 3


def test_an_answer_that_binds_the_token_needs_its_proof() -> None:
    """RFC 8705 3.2: an introspection answer's cnf binds the opaque token as a JWT's does."""
    answer = {"active": True, "sub": "u", "aud": "https://api.example.test"}
    with _faulty_issuer(answer | {"cnf": {"x5t#S256": "A" * 43}}) as idp:
        harness = _harness(idp)
        assert _decide(harness, "opaque" * 8).reason is Reason.BINDING_UNSUPPORTED
        result = harness.evaluate(event("rest_request", "opaque" * 8, account=ACCOUNT))
        assert (result.outcome, result.reason) == ("unauthorized", Reason.CERTIFICATE_MISSING)


# ---------------------------------------------------------------- review findings


def test_a_changed_config_ends_the_cached_answers(idp: DevIssuer) -> None:
    """A new audience list (or any change of the issuer) is checked on the next decision,
    not after cache_seconds."""
    harness = _harness(idp, cache_seconds=3600)
    token = idp.mint_opaque()
    assert _decide(harness, token).outcome == "allow"
    entry = _issuer(idp, cache_seconds=3600) | {"audiences": ["https://other.example"]}
    harness.replace_docs([tenant_doc("opaque", ACCOUNT, [entry])])
    harness.registry.invalidate()
    result = harness.evaluate(event("rest_request", token, account=ACCOUNT, path="/x"))
    assert (result.outcome, result.reason) == ("unauthorized", Reason.AUDIENCE_MISMATCH)


@pytest.mark.parametrize(
    ("extra", "issuer", "reason"),
    [
        ({}, {"revocation": {"issued_before": "2099-01-01T00:00:00Z"}}, Reason.TOKEN_REVOKED),
        ({"iat": 1000}, {"max_token_age_seconds": 600}, Reason.TOKEN_EXPIRED),
        ({"iat": 99_000_000_000}, {}, Reason.ISSUED_IN_FUTURE),
        ({"nbf": "9999999999"}, {}, Reason.TOKEN_MALFORMED),
        ({"exp": None, "iat": 1000}, {"max_token_age_seconds": 600}, Reason.TOKEN_EXPIRED),
    ],
)
def test_an_answer_meets_the_issuers_time_and_revocation_rules(
    extra: dict[str, Any], issuer: dict[str, Any], reason: Reason
) -> None:
    """The rules a JWT of the same issuer meets: revocation, maximum age, iat, nbf."""
    answer = {"active": True, "sub": "u", "aud": "https://api.example.test"}
    answer |= {k: v for k, v in extra.items() if v is not None}
    with _faulty_issuer(answer) as idp:
        entry = _issuer(idp) | issuer
        harness = Harness(
            [tenant_doc("opaque", ACCOUNT, [entry])],
            secrets={SECRET_NAME: idp.client_secret.encode()},
        )
        result = _decide(harness, "opaque" * 8)
    assert (result.outcome, result.reason) == ("unauthorized", reason)


def test_one_tenants_failures_and_flood_never_shut_out_another(idp: DevIssuer) -> None:
    """Two tenants on one endpoint: A's wrong client secret opens A's circuit only, and a
    flood at A's API spends A's call budget only."""
    docs = [
        tenant_doc("opaque", ACCOUNT, [_issuer(idp, max_calls_per_second=1)]),
        tenant_doc("other", OTHER_ACCOUNT, [_issuer(idp, OTHER_SECRET, max_calls_per_second=1)]),
    ]
    secrets = {
        SECRET_NAME: b"a-wrong-client-secret-012345",
        OTHER_SECRET: idp.client_secret.encode(),
    }
    harness = Harness(docs, secrets=secrets)
    for n in range(4):
        _decide(harness, f"junk{n:040d}")
    assert _decide(harness, "junk" * 11).reason in (
        Reason.ISSUER_CIRCUIT_OPEN,
        Reason.INTROSPECTION_UNAVAILABLE,
    )
    assert _decide(harness, idp.mint_opaque(), account=OTHER_ACCOUNT).outcome == "allow"


def test_an_answers_declared_size_counts_its_scopes_and_claims(idp: DevIssuer) -> None:
    from tenant_authorizer.runtime.introspection import Introspector

    scope = "s" * 100_000
    answer = {"active": True, "sub": "u", "aud": "https://api.example.test", "scope": scope}
    with _faulty_issuer(answer) as faulty:
        harness = _harness(faulty)
        assert _decide(harness, "opaque" * 8).outcome == "allow", harness.last().get("detail")
        introspector = harness.authorizer.introspector()
        assert isinstance(introspector, Introspector)
        assert introspector._answers.bytes > len(scope)


def test_a_jwt_naming_an_opaque_only_issuer_is_the_clients_mistake(idp: DevIssuer) -> None:
    entry = _issuer(idp) | {"discovery": "none"}
    del entry["jwks_uri"]
    harness = Harness(
        [tenant_doc("opaque", ACCOUNT, [entry])], secrets={SECRET_NAME: idp.client_secret.encode()}
    )
    forged = idp.mint()  # its iss is the issuer's; no key could verify it here
    result = _decide(harness, forged)
    assert (result.outcome, result.status, result.reason) == (
        "unauthorized",
        401,
        Reason.TOKEN_MALFORMED,
    )


def test_route_rules_read_the_claims_of_an_answer(idp: DevIssuer) -> None:
    routes = {"default": "deny", "rules": [{"path": "*", "claims": {"dept": "sales"}}]}
    entry = _issuer(idp)
    harness = Harness(
        [tenant_doc("opaque", ACCOUNT, [entry], routes=routes)],
        secrets={SECRET_NAME: idp.client_secret.encode()},
    )
    assert _decide(harness, idp.mint_opaque({"dept": "sales"})).outcome == "allow"
    assert _decide(harness, idp.mint_opaque({"dept": "ops"})).outcome == "deny"


def test_a_metadata_refresh_without_keys_keeps_a_jwt_issuers_last_good_document() -> None:
    """For an issuer without introspection, a document that names an introspection
    endpoint but no jwks_uri is a failed refresh, and the last good one is served."""
    from tenant_authorizer.runtime.discovery import parse_metadata
    from tenant_authorizer.runtime.jwk_set import InvalidDocument

    broken = {"issuer": "https://idp.example", "introspection_endpoint": "https://idp.example/i"}
    with pytest.raises(InvalidDocument):
        parse_metadata(broken, 0.0)
    assert parse_metadata(broken, 0.0, opaque_ok=True).introspection_endpoint is not None


def test_the_schema_takes_an_opaque_only_issuer() -> None:
    from tenant_authorizer.tools.schema import schema_problems

    introspection: dict[str, Any] = {
        "endpoint": "https://idp.example/introspect",
        "client_id": "c",
        "client_secret_parameter": "/tenant-authorizer/secrets/opaque/c",
    }
    entry: dict[str, Any] = {
        "issuer": "https://idp.example",
        "discovery": "none",
        "audiences": ["api"],
        "introspection": introspection,
    }
    assert schema_problems(tenant_doc("opaque", ACCOUNT, [entry]), "opaque.yaml") == []
    no_endpoint = {**entry, "introspection": {**introspection, "endpoint": None}}
    assert schema_problems(tenant_doc("opaque", ACCOUNT, [no_endpoint]), "opaque.yaml")
