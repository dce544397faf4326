"""The authorizer end to end: real events in, answers out, against issuers on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from support.events import EVENT_KINDS, event
from support.harness import Harness, issuer_entry, tenant_doc
from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.handler import qualifier_of
from tenant_authorizer.runtime.errors import Reason
from tenant_authorizer.tools.aliases import first_choice

ACCOUNTS = {"alpha": "111111111111", "beta": "222222222222", "gamma": "333333333333"}
APIS = {"alpha": "alpha00001", "beta": "beta000002", "gamma": "gamma00003"}


@pytest.fixture(scope="module")
def issuers() -> Iterator[dict[str, DevIssuer]]:
    started = {name: DevIssuer(port=0).start() for name in ACCOUNTS}
    yield started
    for issuer in started.values():
        issuer.stop()


def _docs(issuers: dict[str, DevIssuer], **extra: Any) -> list[dict[str, Any]]:
    docs = []
    for name, issuer in issuers.items():
        fields: dict[str, Any] = {"api_ids": [APIS[name]]}
        if name == "gamma":
            fields["token"] = {"query": "access_token"}
        fields.update(extra.get(name, {}))
        docs.append(
            tenant_doc(
                name, ACCOUNTS[name], [issuer_entry(issuer, forward_claims=["email"])], **fields
            )
        )
    return docs


@pytest.fixture
def harness(issuers: dict[str, DevIssuer]) -> Harness:
    return Harness(_docs(issuers))


def _ev(kind: str, token: str | None, tenant: str = "alpha", **kw: Any) -> dict[str, Any]:
    return event(kind, token, account=ACCOUNTS[tenant], api_id=APIS[tenant], **kw)


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_each_event_kind_is_allowed_with_a_valid_token(
    harness: Harness, issuers: dict[str, DevIssuer], kind: str
) -> None:
    """A valid token is allowed for every kind of event API Gateway sends."""
    tenant = "gamma" if kind == "websocket_connect" else "alpha"  # gamma reads ?access_token
    token = issuers[tenant].mint({"email": "ada@example.test"}, scope="orders:read")
    result = harness.evaluate(_ev(kind, token, tenant=tenant))
    assert (result.outcome, result.reason) == ("allow", Reason.OK)
    assert result.response is not None
    statements = result.response["policyDocument"]["Statement"]
    assert statements[0]["Effect"] == "Allow"
    assert result.response["context"]["tenant_id"] == tenant
    assert result.response["context"]["email"] == "ada@example.test"


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_each_event_kind_is_refused_without_a_token(harness: Harness, kind: str) -> None:
    """No token is a 401 for every kind of event."""
    result = harness.evaluate(
        _ev(kind, None, tenant="gamma" if kind == "websocket_connect" else "alpha")
    )
    assert (result.outcome, result.status, result.reason) == (
        "unauthorized",
        401,
        Reason.TOKEN_MISSING,
    )


def test_websocket_token_from_query(harness: Harness, issuers: dict[str, DevIssuer]) -> None:
    """A WebSocket tenant reading its token from the query string is allowed on $connect."""
    token = issuers["gamma"].mint()
    result = harness.evaluate(_ev("websocket_connect", token, tenant="gamma"))
    assert result.outcome == "allow"
    assert result.response is not None
    resources = result.response["policyDocument"]["Statement"][0]["Resource"]
    assert resources == [
        f"arn:aws:execute-api:us-east-1:{ACCOUNTS['gamma']}:{APIS['gamma']}/prod/*"
    ]


def test_http_v2_simple_response(issuers: dict[str, DevIssuer]) -> None:
    """An HTTP API bound with response: simple gets isAuthorized and context."""
    harness = Harness(_docs(issuers, alpha={"response": "simple"}))
    result = harness.evaluate(_ev("http_v2", issuers["alpha"].mint(scope="a b")))
    assert result.response is not None
    assert result.response["isAuthorized"] is True
    assert result.response["context"]["tenant_id"] == "alpha"
    assert result.response["context"]["scopes"] == "a b"


@pytest.mark.parametrize(("route_key", "allowed"), [("GET /public", True), ("$default", False)])
def test_simple_response_under_default_route_is_decided_for_every_path(
    issuers: dict[str, DevIssuer], route_key: str, allowed: bool
) -> None:
    """A simple answer under $default is replayed for any path, so a path rule denies it."""
    routes = {"rules": [{"path": "/admin/*", "scopes_any": ["admin"]}]}
    harness = Harness(_docs(issuers, alpha={"response": "simple", "routes": routes}))
    request = _ev("http_v2", issuers["alpha"].mint(scope="read"), path="/public")
    request["routeKey"] = request["requestContext"]["routeKey"] = route_key
    for _ in range(2):  # the same answer when repeated
        result = harness.evaluate(request)
        assert result.response is not None
        assert result.response["isAuthorized"] is allowed
    request["routeKey"] = "GET /public" if route_key == "$default" else "$default"
    assert harness.evaluate(request).response["isAuthorized"] is not allowed  # type: ignore[index]


@pytest.mark.parametrize(
    "scp",
    [["orders:read", "orders write"], ["orders:read", 7], {"orders": "read"}, "a\tb", 'say"hi'],
)
def test_a_scope_that_is_not_a_scope_token_is_refused(
    issuers: dict[str, DevIssuer], scp: object
) -> None:
    """Scopes reach the backend space-delimited: a scope holding a space (or worse) is a 401."""
    entry = issuer_entry(issuers["alpha"], scope_claim="scp")
    harness = Harness([tenant_doc("alpha", ACCOUNTS["alpha"], [entry], api_ids=[APIS["alpha"]])])
    result = harness.evaluate(_ev("rest_token", issuers["alpha"].mint({"scp": scp})))
    assert (result.outcome, result.reason) == ("unauthorized", Reason.SCOPE_MALFORMED)
    good = harness.evaluate(_ev("rest_token", issuers["alpha"].mint({"scp": ["b", "a"]})))
    assert good.response is not None
    assert good.response["context"]["scopes"] == "a b"


def _backend_claim(value: object) -> object:
    """The decoding docs/tenant-guide.md gives backends: JSON if it parses, else the text."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return value


CLAIMS: dict[str, Any] = {
    "groups": ["admin"],
    "nickname": '["admin"]',
    "level": 42,
    "level_text": "42",
    "flag": True,
    "flag_text": "true",
    "nothing": None,
    "nothing_text": "null",
    "profile": {"tier": "gold"},
    "email": "ada@example.test",
    "spaced": "  [1] ",
    "not_a_number": "NaN",
    "deep_looking": "[" * 1200,  # too deep for Python to decode, not for JavaScript
    "many_digits": "7" * 4400,  # over Python's 4,300-digit limit
    "name_like_a_literal": "nancy",
    "street": "221B Baker Street",
}


@pytest.mark.parametrize("rest", [False, True])
def test_a_backend_tells_a_list_claim_from_a_string_that_looks_like_one(
    issuers: dict[str, DevIssuer], rest: bool
) -> None:
    """Forwarded claims decode to their own type, even where REST turns values into text."""
    entry = issuer_entry(issuers["alpha"], forward_claims=sorted(CLAIMS))
    big = {"max_length": 16384}
    harness = Harness(
        [tenant_doc("alpha", ACCOUNTS["alpha"], [entry], api_ids=[APIS["alpha"]], token=big)]
    )
    result = harness.evaluate(_ev("rest_request", issuers["alpha"].mint(CLAIMS)))
    assert result.response is not None
    context = result.response["context"]
    assert context["email"] == "ada@example.test", "ordinary strings stay verbatim"
    assert context["groups"] == '["admin"]'
    if rest:  # REST APIs hand the backend every context value as a string
        context = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in context.items()}
    decoded = {name: _backend_claim(context[name]) for name in CLAIMS}
    assert decoded == CLAIMS
    assert type(decoded["groups"]) is list and type(decoded["nickname"]) is str
    assert context["name_like_a_literal"] == "nancy" and context["street"] == "221B Baker Street"


def test_a_claim_that_overflows_to_infinity_is_malformed(
    harness: Harness, issuers: dict[str, DevIssuer]
) -> None:
    """1e999 is valid JSON but no claim: the payload is refused before any check."""
    token = issuers["alpha"].mint()
    header, payload, signature = token.split(".")
    claims = json.loads(_b64decode_text(payload))
    text = json.dumps(claims)[:-1] + ', "huge": 1e999}'
    forged = f"{header}.{_b64(text.encode())}.{signature}"
    result = harness.evaluate(_ev("rest_token", forged))
    assert (result.outcome, result.reason) == ("unauthorized", Reason.TOKEN_MALFORMED)


def _b64decode_text(segment: str) -> str:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode()


def test_cross_tenant_matrix(harness: Harness, issuers: dict[str, DevIssuer]) -> None:
    """Each tenant's token tried on every tenant's API: only the diagonal passes."""
    for token_tenant, issuer in issuers.items():
        token = issuer.mint()
        for api_tenant in issuers:
            kind = "websocket_connect" if api_tenant == "gamma" else "rest_token"
            result = harness.evaluate(_ev(kind, token, tenant=api_tenant))
            if token_tenant == api_tenant:
                assert result.outcome == "allow", (token_tenant, api_tenant)
            else:
                assert result.outcome == "unauthorized", (token_tenant, api_tenant)
                assert result.reason is Reason.ISSUER_NOT_ALLOWED


def test_tenant_bound_by_api_not_token(harness: Harness, issuers: dict[str, DevIssuer]) -> None:
    """A token claiming tenant alpha's issuer but signed by beta's key opens nothing."""
    beta = issuers["beta"]
    forged = beta.mint({"iss": issuers["alpha"].issuer})
    result = harness.evaluate(_ev("rest_token", forged, tenant="alpha"))
    assert result.outcome == "unauthorized"
    assert result.reason in {Reason.KID_UNKNOWN, Reason.SIGNATURE_INVALID}


def test_unbound_api_is_a_platform_fault(harness: Harness, issuers: dict[str, DevIssuer]) -> None:
    """An API of a bound account that no binding names is a fault (500), never an Allow."""
    token = issuers["alpha"].mint()
    result = harness.evaluate(
        event("rest_token", token, account=ACCOUNTS["alpha"], api_id="zzzzzzzzzz")
    )
    assert (result.outcome, result.status, result.reason) == ("fault", 500, Reason.TENANT_NOT_BOUND)


@pytest.mark.parametrize("kind", ["rest_token", "rest_request", "http_v1", "http_v2"])
def test_unlisted_stage_of_a_pinned_api_is_not_bound(
    issuers: dict[str, DevIssuer], kind: str
) -> None:
    """A pinned API's unlisted stage is tenant_not_bound, never the account-wide tenant's."""
    account, pinned_api = ACCOUNTS["alpha"], "aaaaaaaaaa"
    harness = Harness(
        [
            tenant_doc(
                "pinned", account, [issuer_entry(issuers["alpha"])], api_ids=[pinned_api],
                stages=["prod"],
            ),
            tenant_doc("wide", account, [issuer_entry(issuers["beta"])]),
        ]
    )  # fmt: skip
    wide_token = issuers["beta"].mint()
    for stage in ("dev", "authorizers", "$default"):
        result = harness.evaluate(
            event(kind, wide_token, account=account, api_id=pinned_api, stage=stage)
        )
        assert (result.outcome, result.reason) == ("fault", Reason.TENANT_NOT_BOUND), stage
        assert "bound for stages prod" in harness.last()["detail"]
    prod = event(kind, wide_token, account=account, api_id=pinned_api, stage="prod")
    assert harness.evaluate(prod).reason is Reason.ISSUER_NOT_ALLOWED
    pinned_token = issuers["alpha"].mint()
    prod = event(kind, pinned_token, account=account, api_id=pinned_api, stage="prod")
    assert harness.evaluate(prod).outcome == "allow"
    other = event(kind, wide_token, account=account, api_id="bbbbbbbbbb", stage="dev")
    assert harness.evaluate(other).outcome == "allow", "other APIs stay with the wide tenant"


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_a_call_through_another_alias_is_refused_even_for_a_cached_answer(
    harness: Harness, issuers: dict[str, DevIssuer], kind: str
) -> None:
    """Only the alias an account's document names decides for it; unqualified calls pass."""
    tenant = "gamma" if kind == "websocket_connect" else "alpha"
    own = first_choice(ACCOUNTS[tenant])
    other = "shard-999"
    request = _ev(kind, issuers[tenant].mint(), tenant=tenant)
    for _ in range(2):  # the second answer comes from the repeated-token tables
        assert harness.authorizer.evaluate(request, own).outcome == "allow"
    result = harness.authorizer.evaluate(request, other)
    assert (result.outcome, result.status, result.reason) == (
        "fault",
        500,
        Reason.ALIAS_MISMATCH,
    )
    line = harness.last()
    assert (line["reason"], line["tenant_id"]) == ("alias_mismatch", tenant)
    assert own in line["detail"] and other in line["detail"]
    assert harness.authorizer.evaluate(request).outcome == "allow"


@pytest.mark.parametrize(
    ("arn", "qualifier"),
    [
        ("arn:aws:lambda:us-east-1:999999999999:function:tenant-authorizer:shard-017", "shard-017"),
        ("arn:aws:lambda:us-east-1:999999999999:function:tenant-authorizer", None),
        ("arn:aws-cn:lambda:cn-north-1:999999999999:function:f:7", "7"),
        (None, None),
        (42, None),
    ],
)
def test_qualifier_of_the_invoked_function_arn(arn: object, qualifier: str | None) -> None:
    """The alias comes from context.invoked_function_arn; unqualified and absent give None."""
    assert qualifier_of(arn) == qualifier
    assert qualifier_of(arn) == qualifier  # the cached answer agrees


def _jwks(issuer: DevIssuer) -> dict[str, Any]:
    response = requests.get(issuer.jwks_uri, timeout=5)
    body: dict[str, Any] = response.json()
    return body


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(issuer: DevIssuer, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer.issuer,
        "sub": "mallory",
        "aud": "https://api.example.test",
        "iat": now,
        "exp": now + 300,
        **extra,
    }


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    h = _b64(json.dumps(header).encode())
    p = _b64(json.dumps(claims).encode())
    return f"{h}.{p}.{_b64(signature)}" if signature else f"{h}.{p}."


def test_alg_none_is_refused(harness: Harness, issuers: dict[str, DevIssuer]) -> None:
    """An unsigned alg=none token is refused."""
    token = _unsigned({"alg": "none", "typ": "JWT"}, _claims(issuers["alpha"]))
    result = harness.evaluate(_ev("rest_token", token))
    assert result.outcome == "unauthorized"
    assert result.reason in {Reason.TOKEN_MALFORMED, Reason.ALGORITHM_NOT_ALLOWED}


def test_hs256_signed_with_rsa_public_key_is_refused(
    harness: Harness, issuers: dict[str, DevIssuer]
) -> None:
    """The classic key-confusion attack (HS256 keyed with the RSA public key) fails."""
    jwks = _jwks(issuers["alpha"])
    rsa_jwk = next(k for k in jwks["keys"] if k["kty"] == "RSA")
    from jwt.algorithms import RSAAlgorithm

    public = RSAAlgorithm.from_jwk(json.dumps(rsa_jwk))
    assert isinstance(public, rsa.RSAPublicKey)
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": rsa_jwk["kid"]}
    h = _b64(json.dumps(header).encode())
    p = _b64(json.dumps(_claims(issuers["alpha"])).encode())
    sig = hmac.new(pem, f"{h}.{p}".encode(), hashlib.sha256).digest()
    result = harness.evaluate(_ev("rest_token", f"{h}.{p}.{_b64(sig)}"))
    assert (result.outcome, result.reason) == ("unauthorized", Reason.ALGORITHM_NOT_ALLOWED)


@pytest.fixture(scope="module")
def attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _sign_rs256(key: rsa.RSAPrivateKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    import jwt

    return jwt.encode(claims, key, algorithm="RS256", headers=header)


def test_embedded_jwk_header_is_refused(
    harness: Harness, issuers: dict[str, DevIssuer], attacker_key: rsa.RSAPrivateKey
) -> None:
    """A token carrying its own key (jwk header) is refused; the key is never used."""
    from jwt.algorithms import RSAAlgorithm

    jwk = json.loads(RSAAlgorithm.to_jwk(attacker_key.public_key()))
    token = _sign_rs256(attacker_key, {"jwk": jwk, "kid": "attacker"}, _claims(issuers["alpha"]))
    result = harness.evaluate(_ev("rest_token", token))
    assert (result.outcome, result.reason) == ("unauthorized", Reason.HEADER_NOT_ALLOWED)


@pytest.mark.parametrize(
    "header", [{"jku": "https://evil.test/jwks"}, {"x5u": "https://evil.test/c"}, {"crit": ["exp"]}]
)
def test_key_locating_and_crit_headers_are_refused(
    harness: Harness,
    issuers: dict[str, DevIssuer],
    attacker_key: rsa.RSAPrivateKey,
    header: dict[str, Any],
) -> None:
    """jku/x5u are never followed and unknown crit extensions are refused."""
    token = _sign_rs256(attacker_key, {"kid": "x", **header}, _claims(issuers["alpha"]))
    result = harness.evaluate(_ev("rest_token", token))
    assert (result.outcome, result.reason) == ("unauthorized", Reason.HEADER_NOT_ALLOWED)


def test_forged_kid_is_refused(
    harness: Harness, issuers: dict[str, DevIssuer], attacker_key: rsa.RSAPrivateKey
) -> None:
    """A token signed by an unknown key under an invented kid is refused."""
    token = _sign_rs256(attacker_key, {"kid": "forged-kid"}, _claims(issuers["alpha"]))
    result = harness.evaluate(_ev("rest_token", token))
    assert (result.outcome, result.reason) == ("unauthorized", Reason.KID_UNKNOWN)


def test_real_kid_with_foreign_signature_is_refused(
    harness: Harness, issuers: dict[str, DevIssuer], attacker_key: rsa.RSAPrivateKey
) -> None:
    """A token naming the issuer's real kid but signed by another key fails its signature."""
    kid = next(k["kid"] for k in _jwks(issuers["alpha"])["keys"] if k["kty"] == "RSA")
    token = _sign_rs256(attacker_key, {"kid": kid}, _claims(issuers["alpha"]))
    result = harness.evaluate(_ev("rest_token", token))
    assert (result.outcome, result.reason) == ("unauthorized", Reason.SIGNATURE_INVALID)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(time.time()) - 3600}, Reason.TOKEN_EXPIRED),
        ({"nbf": int(time.time()) + 3600}, Reason.TOKEN_NOT_YET_VALID),
        ({"iat": int(time.time()) + 3600}, Reason.ISSUED_IN_FUTURE),
        ({"aud": "https://another.example.test"}, Reason.AUDIENCE_MISMATCH),
        ({"exp": None}, Reason.CLAIM_MISSING),
        ({"exp": "tomorrow"}, Reason.CLAIM_MISSING),
        ({"sub": None}, Reason.CLAIM_MISSING),
    ],
)
def test_claim_checks(
    harness: Harness, issuers: dict[str, DevIssuer], claims: dict[str, Any], reason: Reason
) -> None:
    """exp, nbf, iat, aud and the principal claim are checked, each with its own reason."""
    token = issuers["alpha"].mint(claims)
    result = harness.evaluate(_ev("rest_token", token))
    assert (result.outcome, result.reason) == ("unauthorized", reason)


def test_es256_tokens_verify(harness: Harness, issuers: dict[str, DevIssuer]) -> None:
    """ES256 tokens from an issuer that allows them verify."""
    token = issuers["alpha"].mint(alg="ES256")
    assert harness.evaluate(_ev("rest_token", token)).outcome == "allow"


def test_scope_rules_answer_403_with_full_policy(issuers: dict[str, DevIssuer]) -> None:
    """A valid token without the scope a route needs gets an explicit Deny (403)."""
    rules = {
        "routes": {
            "rules": [{"methods": ["DELETE"], "path": "/orders/*", "scopes_all": ["orders:admin"]}]
        }
    }
    harness = Harness(_docs(issuers, alpha=rules))
    token = issuers["alpha"].mint(scope="orders:read")
    denied = harness.evaluate(_ev("rest_token", token, method="DELETE"))
    assert (denied.outcome, denied.status, denied.reason) == (
        "deny",
        403,
        Reason.SCOPE_INSUFFICIENT,
    )
    allowed = harness.evaluate(_ev("rest_token", token, method="GET"))
    assert allowed.outcome == "allow"
    assert allowed.cache_hit
    assert denied.response is not None
    assert denied.response["policyDocument"] == allowed.response["policyDocument"]  # type: ignore[index]


def test_repeated_token_skips_verification(harness: Harness, issuers: dict[str, DevIssuer]) -> None:
    """A token seen again on a warm instance is answered from the cache, identically."""
    token = issuers["alpha"].mint()
    first = harness.evaluate(_ev("rest_token", token))
    second = harness.evaluate(_ev("rest_token", token))
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert first.response == second.response


def test_repeated_token_cache_honours_expiry(issuers: dict[str, DevIssuer]) -> None:
    """A cached token stops passing once it expires."""
    now = [time.time()]
    harness = Harness(_docs(issuers), clock=lambda: now[0])
    token = issuers["alpha"].mint(expires_in=120)
    assert harness.evaluate(_ev("rest_token", token)).outcome == "allow"
    now[0] += 200
    late = harness.evaluate(_ev("rest_token", token))
    assert (late.outcome, late.reason, late.cache_hit) == (
        "unauthorized",
        Reason.TOKEN_EXPIRED,
        False,
    )


def test_repeated_token_cache_honours_config_change(
    harness: Harness, issuers: dict[str, DevIssuer]
) -> None:
    """A changed tenant config (here: the issuer removed) invalidates cached tokens."""
    token = issuers["alpha"].mint()
    assert harness.evaluate(_ev("rest_token", token)).outcome == "allow"
    docs = _docs(issuers)
    docs[0]["issuers"] = [issuer_entry(issuers["beta"])]
    harness.replace_docs(docs)
    harness.registry.invalidate()  # as a `tenant-authz local` reload does
    result = harness.evaluate(_ev("rest_token", token))
    assert (result.outcome, result.reason) == ("unauthorized", Reason.ISSUER_NOT_ALLOWED)


def test_repeated_token_cache_honours_key_removal(issuers: dict[str, DevIssuer]) -> None:
    """Once the signing key is unpublished and the JWKS refreshed, cached tokens fail."""
    issuer = DevIssuer(port=0).start()
    try:
        harness = Harness(
            [tenant_doc("solo", "444444444444", [issuer_entry(issuer)])],
            jwks_kwargs={"kid_cooldown": 0},
        )
        token = issuer.mint()
        ev = event("rest_token", token, account="444444444444")
        assert harness.evaluate(ev).outcome == "allow"
        issuer.rotate("RS256", keep_old=False)
        # A token with the new kid makes the cache refetch the JWKS (unknown kid).
        assert (
            harness.evaluate(event("rest_token", issuer.mint(), account="444444444444")).outcome
            == "allow"
        )
        result = harness.evaluate(ev)
        assert (result.outcome, result.reason, result.cache_hit) == (
            "unauthorized",
            Reason.KID_UNKNOWN,
            False,
        )
    finally:
        issuer.stop()


def test_repeated_token_answers_each_route_on_its_own(issuers: dict[str, DevIssuer]) -> None:
    """A cached answer belongs to one ARN: the same token keeps its 403 and its 200."""
    rules = {
        "routes": {
            "rules": [{"methods": ["DELETE"], "path": "/orders/*", "scopes_all": ["orders:admin"]}]
        }
    }
    harness = Harness(_docs(issuers, alpha=rules))
    token = issuers["alpha"].mint(scope="orders:read")
    firsts = [harness.evaluate(_ev("rest_token", token, method=m)) for m in ("DELETE", "GET")]
    again = [harness.evaluate(_ev("rest_token", token, method=m)) for m in ("DELETE", "GET")]
    assert [(e.outcome, e.reason) for e in again] == [
        ("deny", Reason.SCOPE_INSUFFICIENT),
        ("allow", Reason.OK),
    ]
    assert [e.cache_hit for e in again] == [True, True]
    assert [e.response for e in again] == [e.response for e in firsts]


def test_repeated_token_logs_the_same_line_as_a_hit(
    harness: Harness, issuers: dict[str, DevIssuer]
) -> None:
    """A cached answer writes the line a verified one would, saying cache hit."""
    harness.evaluate(_ev("rest_token", issuers["alpha"].mint()))  # config and keys warm
    token = issuers["alpha"].mint()
    for kind in ("rest_token", "rest_token", "rest_request"):
        harness.evaluate(_ev(kind, token))
    first, second, other_kind = harness.records()[1:]
    for record in (first, second, other_kind):
        del record["latency_ms"], record["_aws"]["Timestamp"]
    assert (first.pop("cache"), second.pop("cache"), other_kind.pop("cache")) == (
        "miss",
        "hit",
        "hit",
    )
    assert second == first
    # The same token and ARN in another kind of event is logged as that kind.
    assert other_kind == {**first, "kind": "rest_request"}


def test_repeated_token_is_not_answered_from_cache_on_stale_config(
    issuers: dict[str, DevIssuer],
) -> None:
    """While SSM is down and the config is served stale, each decision says so."""
    now = [1000.0]
    harness = Harness(_docs(issuers), config_clock=lambda: now[0])
    token = issuers["alpha"].mint()
    assert harness.evaluate(_ev("rest_token", token)).outcome == "allow"
    assert harness.evaluate(_ev("rest_token", token)).cache_hit
    harness.source.down = True
    now[0] += 61  # past the config TTL: the registry refetches, fails, serves stale
    for _ in range(2):
        assert harness.evaluate(_ev("rest_token", token)).outcome == "allow"
        assert harness.last().get("stale_config") is True


def test_repeated_token_after_offboarding_is_refused_and_logged_in_full(
    harness: Harness, issuers: dict[str, DevIssuer]
) -> None:
    """Offboarding the API ends its cached answers; the refusal names the caller."""
    token = issuers["alpha"].mint()
    assert harness.evaluate(_ev("rest_token", token)).outcome == "allow"
    harness.replace_docs(_docs({k: v for k, v in issuers.items() if k != "alpha"}))
    harness.registry.invalidate()
    result = harness.evaluate(_ev("rest_token", token))
    assert (result.outcome, result.reason) == ("fault", Reason.TENANT_NOT_BOUND)
    line = harness.last()
    assert (line["account_id"], line["api_id"], line["kind"]) == (
        ACCOUNTS["alpha"],
        APIS["alpha"],
        "rest_token",
    )


def test_repeated_answers_are_bounded(issuers: dict[str, DevIssuer]) -> None:
    """Clients choosing many paths cannot grow the answer table past its bound in bytes."""
    from tenant_authorizer.runtime.authorizer import Authorizer
    from tenant_authorizer.runtime.memo import TokenMemo

    base = Harness(_docs(issuers))
    budget = 12_000
    memo = TokenMemo(base.jwks, time.time, answers_bytes=budget)
    authorizer = Authorizer(base.registry, base.jwks, base.telemetry, memo=memo)
    token = issuers["alpha"].mint()
    for n in range(50):
        ev = _ev("rest_token", token, path=f"/orders/{n}" + "x" * 200)
        assert authorizer.evaluate(ev).outcome == "allow"
    assert 0 < memo.answer_bytes <= budget

    def held(n: int) -> bool:
        ev = _ev("rest_token", token, path=f"/orders/{n}" + "x" * 200)
        key = (ev["authorizationToken"], ev["methodArn"], None)
        return memo.holds_answer(key)

    assert held(49), "the newest answers stay"
    assert not held(0), "the oldest leave first"


def test_a_token_seen_once_holds_no_answer(harness: Harness, issuers: dict[str, DevIssuer]) -> None:
    """Answers are built from a token's second sight: single-use tokens neither pay for
    one nor push the answers of repeated tokens out of the table."""
    memo = harness.authorizer.memo
    ev = _ev("rest_token", issuers["alpha"].mint())
    key = (ev["authorizationToken"], ev["methodArn"], None)
    first = harness.evaluate(ev)
    assert (first.outcome, first.cache_hit, memo.holds_answer(key)) == ("allow", False, False)
    assert memo.answer_bytes == 0
    second = harness.evaluate(ev)
    assert (second.outcome, second.cache_hit, memo.holds_answer(key)) == ("allow", True, True)
    third = harness.evaluate(ev)
    assert third == second
    assert harness.records()[-1] | {"latency_ms": 0} == harness.records()[-2] | {"latency_ms": 0}


def test_logs_never_contain_the_token(harness: Harness, issuers: dict[str, DevIssuer]) -> None:
    """Decision lines carry a hash prefix of the token, never the token or its parts."""
    tokens = [issuers["alpha"].mint(), issuers["beta"].mint(), "garbage.token.value", "x" * 50]
    for token in tokens:
        harness.evaluate(_ev("rest_token", token))
    text = "\n".join(harness.lines)
    for token in tokens:
        for part in token.split("."):
            if len(part) > 8:
                assert part not in text
    record = harness.records()[0]
    assert record["token_hash"] == hashlib.sha256(tokens[0].encode()).hexdigest()[:12]
    assert {"tenant_id", "outcome", "reason", "iss", "kid", "latency_ms", "route"} <= set(record)


def test_decision_line_is_emf(harness: Harness, issuers: dict[str, DevIssuer]) -> None:
    """Each decision line is a CloudWatch EMF record counting Decisions by Outcome and Reason."""
    harness.evaluate(_ev("rest_token", issuers["alpha"].mint()))
    record = harness.last()
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert directive["Metrics"] == [{"Name": "Decisions", "Unit": "Count"}]
    assert ["FunctionName", "Outcome"] in directive["Dimensions"]
    assert (record["Outcome"], record["Reason"], record["Decisions"]) == ("allow", "ok", 1)


def test_static_token_tenant(issuers: dict[str, DevIssuer]) -> None:
    """Seed 004: a static token in a custom header, stored only as its SHA-256."""
    secret = "supersecretvalue-with-more-entropy-3f9a"
    doc = tenant_doc(
        "static",
        "555555555555",
        token={"header": "authtoken"},
        static_tokens=[
            {
                "id": "web",
                "sha256": hashlib.sha256(secret.encode()).hexdigest(),
                "principal_id": "phil",
                "scopes": ["email:send"],
            }
        ],
    )
    harness = Harness([doc])
    good = event("rest_request", "x", account="555555555555", method="POST", path="/send")
    good["headers"]["authtoken"] = secret
    result = harness.evaluate(good)
    assert result.outcome == "allow"
    assert result.response is not None and result.response["principalId"] == "phil"
    good["headers"]["authtoken"] = secret + "x"
    assert harness.evaluate(good).reason is Reason.STATIC_TOKEN_UNKNOWN
    assert secret not in "\n".join(harness.lines)


def test_hmac_tenant(issuers: dict[str, DevIssuer]) -> None:
    """Seed 001: HS256 tokens verified with a shared secret from a SecureString parameter."""
    import jwt

    secret = b"ad94f8c800e4883ff7f6aa5ec96fbea34926b6ea5960c43a20941586e3f8eeb5"
    name = "/tenant-authorizer/secrets/legacy/hmac"
    doc = tenant_doc(
        "legacy",
        "666666666666",
        [
            {
                "issuer": "https://auth.legacy.example",
                "algorithms": ["HS256"],
                "hmac_secret_parameter": name,
                "audiences": ["legacy-api"],
            }
        ],
    )
    harness = Harness([doc], secrets={name: secret})
    claims = {
        "iss": "https://auth.legacy.example",
        "sub": "u1",
        "aud": "legacy-api",
        "exp": int(time.time()) + 60,
    }
    token = jwt.encode(claims, secret, algorithm="HS256")
    assert harness.evaluate(event("rest_token", token, account="666666666666")).outcome == "allow"
    wrong = jwt.encode(claims, b"another-secret-of-sufficient-length-xxxxxxxx", algorithm="HS256")
    result = harness.evaluate(event("rest_token", wrong, account="666666666666"))
    assert (result.outcome, result.reason) == ("unauthorized", Reason.SIGNATURE_INVALID)
    assert secret.decode() not in "\n".join(harness.lines)


@pytest.mark.parametrize(
    "token_parts",
    [
        ("eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ", "PAYLOAD", "AAAAA"),  # signature not base64url
        ("W1tbW1s" * 50 + "XV1dXV0", "PAYLOAD", "AAAA"),  # deeply nested header JSON
    ],
)
def test_malformed_signature_or_nesting_is_401_not_500(
    harness: Harness, issuers: dict[str, DevIssuer], token_parts: tuple[str, str, str]
) -> None:
    """Anyone can send these: they must be 401 token_malformed, never a platform fault."""
    payload = _b64(json.dumps(_claims(issuers["alpha"])).encode())
    header, _, signature = token_parts
    if header.startswith("W1tb"):
        header = _b64(("[" * 5000 + "]" * 5000).encode())
    result = harness.evaluate(_ev("rest_token", f"{header}.{payload}.{signature}"))
    assert (result.outcome, result.status) == ("unauthorized", 401)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: p + "==",  # padding: JWS segments are unpadded
        lambda p: p.replace("-", "+").replace("_", "/") + "+/",  # standard alphabet
        lambda p: p[:10] + " " + p[10:],  # whitespace
        lambda p: p[:10] + "\u00e9" + p[10:],  # non-ASCII
        lambda p: p[:-1] if len(p) % 4 != 1 else p[:-2],  # a length base64 cannot have
    ],
)
def test_payload_outside_base64url_is_malformed(
    harness: Harness, issuers: dict[str, DevIssuer], mangle: Any
) -> None:
    """Segments are strict unpadded base64url: anything else is 401 token_malformed."""
    header, payload, signature = issuers["alpha"].mint().split(".")
    if len(payload) % 4 == 0:  # make sure "==" cannot be a valid padding
        payload += "e30"
    token = f"{header}.{mangle(payload)}.{signature}"
    result = harness.evaluate(_ev("rest_token", token))
    assert (result.outcome, result.reason) == ("unauthorized", Reason.TOKEN_MALFORMED)


@pytest.mark.parametrize("exp", ["NaN", "Infinity", "1e400", str(10**400)])
def test_non_finite_or_absurd_exp_is_refused(
    harness: Harness, issuers: dict[str, DevIssuer], exp: str
) -> None:
    """A signed exp of NaN, Infinity or an absurd number is refused, never Allow or 500."""
    import jwt as pyjwt

    issuer = issuers["alpha"]
    claims = json.dumps(_claims(issuer)).replace('"exp": ', '"exp": ' + exp + ', "was": ')
    key = issuer._keys["RS256"][-1].private_key  # sign what mint() cannot express
    signed = pyjwt.api_jws.PyJWS().encode(
        claims.encode(), key, algorithm="RS256", headers={"kid": issuer.current_kid("RS256")}
    )
    result = harness.evaluate(_ev("rest_token", signed))
    assert result.outcome == "unauthorized"


@pytest.mark.parametrize(
    ("around", "outcome"),
    [
        ("{}   \n", "allow"),  # JSON whitespace after the object
        ("\t {}", "allow"),  # and before it
        ("{}x", "unauthorized"),  # anything else after it
        ("{} {}", "unauthorized"),
        ('{}, "extra": 1}', "unauthorized"),
        ("{}\u00a0", "unauthorized"),  # not JSON whitespace
    ],
)
def test_a_signed_payload_is_one_json_object_and_nothing_else(
    harness: Harness, issuers: dict[str, DevIssuer], around: str, outcome: str
) -> None:
    """The payload is read by the JSON scanner directly: what surrounds the object is
    judged as json.loads judges it (whitespace only), whatever the signature says."""
    import jwt as pyjwt

    issuer = issuers["alpha"]
    claims = around.replace("{}", json.dumps(_claims(issuer)))
    key = issuer._keys["RS256"][-1].private_key
    signed = pyjwt.api_jws.PyJWS().encode(
        claims.encode(), key, algorithm="RS256", headers={"kid": issuer.current_kid("RS256")}
    )
    result = harness.evaluate(_ev("rest_token", signed))
    assert result.outcome == outcome
    if outcome == "unauthorized":
        assert result.reason == Reason.TOKEN_MALFORMED


@pytest.mark.parametrize("broken", ['{"sub":}', '{"sub":"x",}', '{"groups":[1,]}', "{"])
def test_a_signed_payload_that_is_not_json_is_malformed_not_a_fault(
    harness: Harness, issuers: dict[str, DevIssuer], broken: str
) -> None:
    """A value missing inside the object (the scanner's StopIteration) is token_malformed."""
    import jwt as pyjwt

    issuer = issuers["alpha"]
    key = issuer._keys["RS256"][-1].private_key
    signed = pyjwt.api_jws.PyJWS().encode(
        broken.encode(), key, algorithm="RS256", headers={"kid": issuer.current_kid("RS256")}
    )
    result = harness.evaluate(_ev("rest_token", signed))
    assert (result.outcome, result.reason) == ("unauthorized", Reason.TOKEN_MALFORMED)


HMAC_ISSUER = "https://auth.legacy.example"
HMAC_SECRET_NAME = "/tenant-authorizer/secrets/legacy/hmac"


def _hmac_harness(secret: bytes, alg: str = "HS256") -> Harness:
    entry = {
        "issuer": HMAC_ISSUER,
        "algorithms": [alg],
        "hmac_secret_parameter": HMAC_SECRET_NAME,
        "audiences": ["legacy-api"],
    }
    return Harness(
        [tenant_doc("legacy", "666666666666", [entry])], secrets={HMAC_SECRET_NAME: secret}
    )


@pytest.mark.parametrize(
    ("alg", "secret", "problem"),
    [
        ("HS256", b"x" * 31, "31 bytes; HS256 needs at least 32"),
        ("HS384", b"x" * 47, "47 bytes; HS384 needs at least 48"),
        ("HS512", b"x" * 63, "63 bytes; HS512 needs at least 64"),
        ("HS256", b"", "empty"),
        ("HS256", b"   \n", "empty"),
        ("HS256", b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" * 2, "PEM"),
        ("HS256", b"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7" * 2, "SSH"),
    ],
)
def test_an_unusable_hmac_secret_is_its_own_fault(alg: str, secret: bytes, problem: str) -> None:
    """A short, empty or PEM-looking HS* secret is secret_invalid (500), never internal_error."""
    import jwt

    harness = _hmac_harness(secret, alg)
    claims = {"iss": HMAC_ISSUER, "sub": "u1", "aud": "legacy-api", "exp": int(time.time()) + 60}
    token = jwt.encode(claims, b"k" * 64, algorithm=alg)
    result = harness.evaluate(event("rest_token", token, account="666666666666"))
    assert (result.outcome, result.reason) == ("fault", Reason.SECRET_INVALID)
    line = harness.last()
    assert problem in line["detail"] and HMAC_SECRET_NAME in line["detail"]
    assert (line["iss"], line["tenant_id"]) == (HMAC_ISSUER, "legacy")


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_an_hmac_secret_as_long_as_the_hash_verifies(alg: str) -> None:
    """RFC 7518 3.2: a key of the hash's size (32, 48, 64 bytes) is enough."""
    import jwt

    secret = b"s" * {"HS256": 32, "HS384": 48, "HS512": 64}[alg]
    harness = _hmac_harness(secret, alg)
    claims = {"iss": HMAC_ISSUER, "sub": "u1", "aud": "legacy-api", "exp": int(time.time()) + 60}
    token = jwt.encode(claims, secret, algorithm=alg)
    assert harness.evaluate(event("rest_token", token, account="666666666666")).outcome == "allow"


def test_only_the_canonical_spelling_of_a_signature_verifies(
    harness: Harness, issuers: dict[str, DevIssuer]
) -> None:
    """The 16 spellings of an RS256 signature's last character: exactly one verifies."""
    token = issuers["alpha"].mint()
    head, _, signature = token.rpartition(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(signature[-1])
    spellings = [alphabet[(index & ~0x0F) | low] for low in range(16)]
    assert len(signature) % 4 == 2 and signature[-1] in spellings
    outcomes = {}
    for last in spellings:
        result = harness.evaluate(_ev("rest_token", f"{head}.{signature[:-1]}{last}"))
        outcomes[last] = (result.outcome, result.reason)
    assert outcomes.pop(signature[-1]) == ("allow", Reason.OK)
    assert set(outcomes.values()) == {("unauthorized", Reason.TOKEN_MALFORMED)}


def test_a_long_path_is_decided_and_logged_short(
    harness: Harness, issuers: dict[str, DevIssuer]
) -> None:
    """A client's 8,000-character path is decided (not a fault) and cut short in the line."""
    path = "/orders/" + "p" * 8000
    result = harness.evaluate(_ev("rest_request", issuers["alpha"].mint(), path=path))
    assert result.outcome == "allow"
    line = harness.last()
    assert len(line["route"]) <= 512 and line["route"].endswith("...")
    assert len(harness.lines[-1]) < 2000


def test_a_path_cannot_imitate_the_default_route_in_the_answers_table(
    issuers: dict[str, DevIssuer],
) -> None:
    """An answer held for '/x $default' on one route key is never served for '$default'."""
    routes = {"rules": [{"path": "/admin/*", "scopes_any": ["admin"]}]}
    harness = Harness(_docs(issuers, alpha={"response": "simple", "routes": routes}))
    token = issuers["alpha"].mint(scope="read")
    lookalike = _ev("http_v2", token, path="/x $default")
    lookalike["routeKey"] = "GET /{proxy+}"
    assert harness.evaluate(lookalike).response["isAuthorized"] is True  # type: ignore[index]
    under_default = _ev("http_v2", token, path="/x")
    under_default["routeKey"] = "$default"
    assert harness.evaluate(under_default).response["isAuthorized"] is False  # type: ignore[index]


def test_a_held_answer_does_not_skip_the_tenants_scheme(
    harness: Harness, issuers: dict[str, DevIssuer]
) -> None:
    """A token answered as 'Bearer X' is still refused when sent bare to a Bearer tenant."""
    token = issuers["alpha"].mint()
    assert harness.evaluate(_ev("rest_token", token)).outcome == "allow"
    bare = _ev("rest_token", token)
    bare["authorizationToken"] = token
    result = harness.evaluate(bare)
    assert (result.outcome, result.reason) == ("unauthorized", Reason.TOKEN_MALFORMED)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"alg": "none", "kid": "k-none"}, Reason.ALGORITHM_NOT_ALLOWED),
        (
            {"alg": "RS256", "kid": "k-jku", "jku": "https://evil.example/jwks"},
            Reason.HEADER_NOT_ALLOWED,
        ),
        ({"alg": "RS256", "kid": "k-crit", "crit": ["exp"]}, Reason.HEADER_NOT_ALLOWED),
    ],
)
def test_header_refusals_name_the_tokens_iss_and_kid(
    harness: Harness, issuers: dict[str, DevIssuer], header: dict[str, Any], reason: Reason
) -> None:
    """An attack refused for its header still logs the iss and kid it claimed."""
    token = _unsigned(header, _claims(issuers["alpha"]), b"x" * 32)
    result = harness.evaluate(_ev("rest_token", token))
    assert (result.outcome, result.reason) == ("unauthorized", reason)
    line = harness.last()
    assert (line["iss"], line["kid"]) == (issuers["alpha"].issuer, header["kid"])


HMAC_PREVIOUS_NAME = "/tenant-authorizer/secrets/legacy/hmac-2025"


def test_hmac_rotation_accepts_the_previous_secret_only_during_the_overlap() -> None:
    """A rotation: tokens signed with the previous secret verify while the tenant file
    names it (hmac_previous_secret_parameter), and stop when it is removed."""
    import jwt

    current = b"c" * 24 + b"0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    previous = b"p" * 24 + b"a1b2c3d4e5f60718293a4b5c6d7e8f90"
    entry = {
        "issuer": HMAC_ISSUER,
        "algorithms": ["HS256"],
        "hmac_secret_parameter": HMAC_SECRET_NAME,
        "hmac_previous_secret_parameter": HMAC_PREVIOUS_NAME,
        "audiences": ["legacy-api"],
    }
    secrets = {HMAC_SECRET_NAME: current, HMAC_PREVIOUS_NAME: previous}
    harness = Harness([tenant_doc("legacy", "666666666666", [entry])], secrets=secrets)
    claims = {"iss": HMAC_ISSUER, "sub": "u1", "aud": "legacy-api", "exp": int(time.time()) + 60}

    def outcome(secret: bytes, **extra: Any) -> tuple[str, Reason]:
        token = jwt.encode(claims | extra, secret, algorithm="HS256")
        result = harness.evaluate(event("rest_token", token, account="666666666666"))
        return result.outcome, result.reason

    assert outcome(current) == ("allow", Reason.OK)
    assert outcome(previous) == ("allow", Reason.OK)
    assert outcome(b"w" * 56) == ("unauthorized", Reason.SIGNATURE_INVALID)
    text = "\n".join(harness.lines)
    assert current.decode() not in text and previous.decode() not in text

    # The overlap ends: the file names the current secret alone.
    del entry["hmac_previous_secret_parameter"]
    harness.replace_docs([tenant_doc("legacy", "666666666666", [entry])])
    harness.registry.invalidate()
    assert outcome(current, jti="after") == ("allow", Reason.OK)
    assert outcome(previous, jti="after") == ("unauthorized", Reason.SIGNATURE_INVALID)


def test_a_previous_secret_that_cannot_be_read_is_a_fault_not_an_allow() -> None:
    """Named but missing: a token the current secret does not verify is a platform fault
    (the rotation is misconfigured), a token it does verify is still allowed."""
    import jwt

    current = b"c" * 24 + b"0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    entry = {
        "issuer": HMAC_ISSUER,
        "algorithms": ["HS256"],
        "hmac_secret_parameter": HMAC_SECRET_NAME,
        "hmac_previous_secret_parameter": HMAC_PREVIOUS_NAME,
        "audiences": ["legacy-api"],
    }
    harness = Harness(
        [tenant_doc("legacy", "666666666666", [entry])], secrets={HMAC_SECRET_NAME: current}
    )
    claims = {"iss": HMAC_ISSUER, "sub": "u1", "aud": "legacy-api", "exp": int(time.time()) + 60}
    good = jwt.encode(claims, current, algorithm="HS256")
    assert harness.evaluate(event("rest_token", good, account="666666666666")).outcome == "allow"
    other = jwt.encode(claims, b"o" * 40, algorithm="HS256")
    result = harness.evaluate(event("rest_token", other, account="666666666666"))
    assert (result.outcome, result.reason) == ("fault", Reason.SECRET_UNAVAILABLE)


def test_a_previous_secret_must_be_the_tenants_own() -> None:
    """Another tenant's secret parameter cannot be named as a previous secret."""
    from tenant_authorizer.runtime.errors import ConfigError
    from tenant_authorizer.runtime.tenant_parser import parse_tenant

    entry = {
        "issuer": HMAC_ISSUER,
        "algorithms": ["HS256"],
        "hmac_secret_parameter": HMAC_SECRET_NAME,
        "hmac_previous_secret_parameter": "/tenant-authorizer/secrets/other/hmac",
        "audiences": ["legacy-api"],
    }
    with pytest.raises(ConfigError, match=r"hmac_previous_secret_parameter.*secrets/legacy/"):
        parse_tenant(tenant_doc("legacy", "666666666666", [entry]), "legacy.yaml")


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_hs256_through_every_event_kind_and_never_across_tenants(kind: str) -> None:
    """Two HS tenants with the same issuer name: each secret opens only its own API."""
    import jwt

    token_source: dict[str, Any] = (
        {"token": {"query": "access_token"}} if kind == "websocket_connect" else {}
    )
    secrets: dict[str, bytes] = {}
    docs = []
    for tenant, account in (("legacy", "666666666666"), ("other", "777766665555")):
        name = f"/tenant-authorizer/secrets/{tenant}/hmac"
        secrets[name] = tenant.encode() * 8
        entry = {
            "issuer": HMAC_ISSUER,
            "algorithms": ["HS256"],
            "hmac_secret_parameter": name,
            "audiences": ["legacy-api"],
        }
        docs.append(tenant_doc(tenant, account, [entry], **token_source))
    harness = Harness(docs, secrets=secrets)
    claims = {"iss": HMAC_ISSUER, "sub": "u1", "aud": "legacy-api", "exp": int(time.time()) + 60}
    mine = jwt.encode(claims, secrets["/tenant-authorizer/secrets/legacy/hmac"], algorithm="HS256")
    theirs = jwt.encode(claims, secrets["/tenant-authorizer/secrets/other/hmac"], algorithm="HS256")
    assert harness.evaluate(event(kind, mine, account="666666666666")).outcome == "allow"
    assert harness.evaluate(event(kind, theirs, account="777766665555")).outcome == "allow"
    for token, account in ((theirs, "666666666666"), (mine, "777766665555")):
        result = harness.evaluate(event(kind, token, account=account))
        assert (result.outcome, result.reason) == ("unauthorized", Reason.SIGNATURE_INVALID)


def test_a_verified_token_and_its_evaluation_have_every_field(
    harness: Harness, issuers: dict[str, DevIssuer]
) -> None:
    """Both are built with tuple.__new__ on the hot path: every field is there, in order."""
    from tenant_authorizer.runtime.authorizer import Evaluation
    from tenant_authorizer.runtime.verification import VerifiedToken

    seen: list[object] = []
    harness.authorizer.trace = lambda step, value: seen.append(value)
    result = harness.evaluate(_ev("rest_token", issuers["alpha"].mint(scope="orders:read")))
    assert result.outcome == "allow"
    assert len(result) == len(Evaluation._fields)
    assert result._asdict()["cache_hit"] is False
    token = harness.authorizer.verifier.verify(
        issuers["alpha"].mint(scope="orders:read"),
        harness.authorizer.registry.lookup(seen[0].caller).tenant.config,  # type: ignore[attr-defined]
        "0" * 64,
    )
    assert len(token) == len(VerifiedToken._fields)
    assert (token.memo_until, token.binding, token.stale_key) == (None, None, False)
    assert token.scopes == frozenset({"orders:read"})
