"""The development issuer: discovery, JWKS, the client_credentials token endpoint, rotation."""

from __future__ import annotations

import base64
from typing import Any

import jwt
import pytest
import requests

from support.issuers import FaultyIssuer
from tenant_authorizer.dev.issuer import DevIssuer, PrivateKey


def _verify(issuer: DevIssuer, token: str, **options: Any) -> dict[str, Any]:
    """Verify ``token`` against the issuer's served JWKS, as a relying party would."""
    jwks = requests.get(issuer.jwks_uri, timeout=2).json()
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    key = jwt.PyJWK(jwk)
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=[jwk["alg"]], issuer=issuer.issuer, **options
    )
    return claims


def _token_request(issuer: DevIssuer, **kwargs: Any) -> requests.Response:
    return requests.post(issuer.token_endpoint, timeout=2, **kwargs)


# ---------------------------------------------------------------- documents


@pytest.mark.parametrize("path", ["", "/tenants/a"], ids=["root", "path"])
def test_discovery_documents(signing_keys: dict[str, PrivateKey], path: str) -> None:
    """OIDC and RFC 8414 metadata name the issuer, its JWKS and token endpoint."""
    with DevIssuer(keys=signing_keys, path=path) as issuer:
        assert issuer.issuer == f"http://127.0.0.1:{issuer.port}{path}"
        for well_known in (issuer.oidc_metadata_path, issuer.oauth_metadata_path):
            response = requests.get(issuer.base_url + well_known, timeout=2)
            assert response.status_code == 200
            metadata = response.json()
            assert metadata["issuer"] == issuer.issuer
            assert metadata["jwks_uri"] == issuer.jwks_uri == f"{issuer.issuer}/jwks.json"
            assert metadata["token_endpoint"] == f"{issuer.issuer}/token"
            assert metadata["grant_types_supported"] == ["client_credentials"]


def test_jwks_publishes_one_public_key_per_algorithm(dev_issuer: FaultyIssuer) -> None:
    """The JWKS holds the current RS256 and ES256 public keys, cacheable for 300 s."""
    response = requests.get(dev_issuer.jwks_uri, timeout=2)
    assert response.headers["Cache-Control"] == "max-age=300"
    keys = response.json()["keys"]
    assert {(k["kid"], k["alg"], k["kty"], k["use"]) for k in keys} == {
        (dev_issuer.current_kid("RS256"), "RS256", "RSA", "sig"),
        (dev_issuer.current_kid("ES256"), "ES256", "EC", "sig"),
    }
    assert not any("d" in key for key in keys)


def test_keys_are_generated_when_not_given() -> None:
    """Without keys, start() generates them (RSA 2048, P-256)."""
    with DevIssuer() as issuer:
        keys = requests.get(issuer.jwks_uri, timeout=2).json()["keys"]
        rsa_jwk = next(k for k in keys if k["kty"] == "RSA")
        ec_jwk = next(k for k in keys if k["kty"] == "EC")
        assert len(base64.urlsafe_b64decode(rsa_jwk["n"] + "==")) * 8 == 2048
        assert ec_jwk["crv"] == "P-256"


def test_unknown_paths_are_404(dev_issuer: FaultyIssuer) -> None:
    """Anything not served is a JSON 404."""
    response = requests.get(f"{dev_issuer.issuer}/userinfo", timeout=2)
    assert response.status_code == 404
    assert response.json() == {"error": "not_found"}


# ---------------------------------------------------------------- minting


def test_mint_defaults(dev_issuer: FaultyIssuer) -> None:
    """A minted token carries iss, sub, aud, iat, nbf, exp and jti, and verifies."""
    claims = _verify(dev_issuer, dev_issuer.mint(), audience=dev_issuer.audience)
    assert claims["sub"] == "dev-user"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["nbf"] == claims["iat"]
    assert claims["jti"]


def test_mint_overrides(dev_issuer: FaultyIssuer) -> None:
    """Caller claims, scope, audience, lifetime and headers override the defaults."""
    token = dev_issuer.mint(
        {"sub": "alice", "tenant": "acme"},
        alg="ES256",
        scope="orders:read",
        audience=["a", "b"],
        expires_in=60,
        headers={"typ": "at+jwt"},
    )
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    claims = _verify(dev_issuer, token, audience="b")
    assert (claims["sub"], claims["tenant"], claims["scope"]) == ("alice", "acme", "orders:read")
    assert claims["aud"] == ["a", "b"]
    assert claims["exp"] - claims["iat"] == 60


def test_mint_can_omit_kid_and_audience(dev_issuer: FaultyIssuer) -> None:
    """kid=None leaves out the kid header; audience=None leaves out aud."""
    token = dev_issuer.mint(kid=None, audience=None)
    assert "kid" not in jwt.get_unverified_header(token)
    assert "aud" not in jwt.decode(token, options={"verify_signature": False})


def test_mint_refuses_an_algorithm_without_key(dev_issuer: FaultyIssuer) -> None:
    """Minting with an algorithm the issuer has no key for is an error."""
    with pytest.raises(ValueError, match="no PS256 key"):
        dev_issuer.mint(alg="PS256")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"algorithms": ("HS256",)}, "unsupported"),
        ({"algorithms": ()}, "unsupported"),
        ({"path": "tenants/a"}, "path"),
        ({"path": "/tenants/a/"}, "path"),
    ],
    ids=["hmac", "none", "relative-path", "trailing-slash"],
)
def test_constructor_validates(kwargs: dict[str, Any], message: str) -> None:
    """Unsupported algorithms and malformed paths are refused up front."""
    with pytest.raises(ValueError, match=message):
        DevIssuer(**kwargs)


# ---------------------------------------------------------------- token endpoint


def test_token_with_basic_auth(dev_issuer: FaultyIssuer) -> None:
    """client_credentials with HTTP Basic returns an RFC 6749 token response."""
    response = _token_request(
        dev_issuer,
        data={"grant_type": "client_credentials", "scope": "orders:read orders:write"},
        auth=("svc-a", "dev-secret"),
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 300)
    assert body["scope"] == "orders:read orders:write"
    claims = _verify(dev_issuer, body["access_token"], audience=dev_issuer.audience)
    assert (claims["sub"], claims["client_id"]) == ("svc-a", "svc-a")
    assert claims["scope"] == "orders:read orders:write"


def test_token_with_form_credentials_and_audience(dev_issuer: FaultyIssuer) -> None:
    """client_secret_post works, and an audience parameter sets aud."""
    response = _token_request(
        dev_issuer,
        data={
            "grant_type": "client_credentials",
            "client_id": "svc-b",
            "client_secret": "dev-secret",
            "audience": "https://other.example.test",
        },
    )
    assert response.status_code == 200
    token = response.json()["access_token"]
    assert "scope" not in response.json()
    claims = _verify(dev_issuer, token, audience="https://other.example.test")
    assert claims["sub"] == "svc-b"


def test_token_secret_is_configurable(signing_keys: dict[str, PrivateKey]) -> None:
    """The secret the issuer was built with is the one it accepts."""
    with DevIssuer(keys=signing_keys, client_secret="other") as issuer:
        good = {"grant_type": "client_credentials"}
        assert _token_request(issuer, data=good, auth=("c", "other")).status_code == 200
        assert _token_request(issuer, data=good, auth=("c", "dev-secret")).status_code == 401


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        (
            {"data": {"grant_type": "client_credentials"}, "auth": ("svc", "wrong")},
            401,
            "invalid_client",
        ),
        ({"data": {"grant_type": "client_credentials"}}, 401, "invalid_client"),
        (
            {
                "data": {"grant_type": "client_credentials"},
                "headers": {"Authorization": "Basic %%"},
            },
            401,
            "invalid_client",
        ),
        (
            {"data": {"grant_type": "password"}, "auth": ("svc", "dev-secret")},
            400,
            "unsupported_grant_type",
        ),
        ({"data": {}, "auth": ("svc", "dev-secret")}, 400, "invalid_request"),
        (
            {"json": {"grant_type": "client_credentials"}, "auth": ("svc", "dev-secret")},
            400,
            "invalid_request",
        ),
        (
            {
                "data": "grant_type=client_credentials&scope=a&scope=b",
                "auth": ("svc", "dev-secret"),
            },
            400,
            "invalid_request",
        ),
        (
            {
                "data": {"grant_type": "client_credentials", "client_secret": "dev-secret"},
                "auth": ("svc", "dev-secret"),
            },
            400,
            "invalid_request",
        ),
    ],
    ids=[
        "bad-secret",
        "no-credentials",
        "malformed-basic",
        "unsupported-grant",
        "missing-grant",
        "json-body",
        "repeated-parameter",
        "two-auth-methods",
    ],
)
def test_token_errors(
    dev_issuer: FaultyIssuer, kwargs: dict[str, Any], status: int, error: str
) -> None:
    """Failures are RFC 6749 JSON errors: 401 invalid_client or 400 with the right code."""
    if isinstance(kwargs.get("data"), str):
        kwargs["headers"] = {"Content-Type": "application/x-www-form-urlencoded"}
    response = _token_request(dev_issuer, **kwargs)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.headers["Cache-Control"] == "no-store"
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic")


# ---------------------------------------------------------------- rotation


def test_rotate_keeps_the_old_key_published(dev_issuer: FaultyIssuer) -> None:
    """A rotated issuer signs with the new key and still publishes the old one."""
    old = dev_issuer.current_kid()
    new = dev_issuer.rotate()
    assert new != old
    assert jwt.get_unverified_header(dev_issuer.mint())["kid"] == new
    kids = {k["kid"] for k in dev_issuer.jwks()["keys"]}
    assert {old, new} <= kids


def test_rotate_can_unpublish_the_old_key(dev_issuer: FaultyIssuer) -> None:
    """keep_old=False removes the previous key of that algorithm, and only that one."""
    old = dev_issuer.current_kid()
    new = dev_issuer.rotate(keep_old=False)
    kids = {k["kid"] for k in dev_issuer.jwks()["keys"]}
    assert kids == {new, dev_issuer.current_kid("ES256")}
    assert old not in kids


def test_rotate_endpoint(dev_issuer: FaultyIssuer) -> None:
    """POST /rotate rotates RS256 (or ?alg=) and answers the new kid."""
    response = requests.post(f"{dev_issuer.issuer}/rotate?alg=ES256&keep_old=false", timeout=2)
    assert response.status_code == 200
    assert response.json() == {"kid": dev_issuer.current_kid("ES256"), "alg": "ES256"}
    assert len(dev_issuer.jwks()["keys"]) == 2


def test_rotate_endpoint_can_be_disabled(signing_keys: dict[str, PrivateKey]) -> None:
    """With allow_remote_rotate=False, /rotate does not exist."""
    with DevIssuer(keys=signing_keys, allow_remote_rotate=False) as issuer:
        kid = issuer.current_kid()
        assert requests.post(f"{issuer.issuer}/rotate", timeout=2).status_code == 404
        assert issuer.current_kid() == kid


# ---------------------------------------------------------------- lifecycle


def test_counts_requests_by_path(dev_issuer: FaultyIssuer) -> None:
    """request_count tells how often each path was asked; reset_counts forgets."""
    for _ in range(2):
        requests.get(dev_issuer.jwks_uri, timeout=2)
    requests.get(dev_issuer.base_url + dev_issuer.oidc_metadata_path, timeout=2)
    assert dev_issuer.request_count(dev_issuer.jwks_path) == 2
    assert dev_issuer.request_count() == 3
    dev_issuer.reset_counts()
    assert dev_issuer.request_count() == 0


def test_stop_refuses_and_start_rebinds_the_same_port(
    signing_keys: dict[str, PrivateKey],
) -> None:
    """A stopped issuer refuses connections; started again it serves on the same port."""
    issuer = DevIssuer(keys=signing_keys).start()
    try:
        port, kid = issuer.port, issuer.current_kid()
        issuer.stop()
        with pytest.raises(requests.ConnectionError):
            requests.get(issuer.jwks_uri, timeout=1)
        issuer.start()
        assert issuer.port == port
        assert issuer.current_kid() == kid  # same keys across a restart
        assert requests.get(issuer.jwks_uri, timeout=1).status_code == 200
    finally:
        issuer.stop()


def test_port_is_unknown_before_start() -> None:
    """Asking for the issuer URL of an unstarted, port-0 issuer is an error."""
    with pytest.raises(RuntimeError, match="started"):
        _ = DevIssuer().issuer


def test_is_quiet_by_default(dev_issuer: FaultyIssuer, capfd: pytest.CaptureFixture[str]) -> None:
    """Requests and client disconnects print nothing unless verbose."""
    requests.get(dev_issuer.jwks_uri, timeout=2)
    _token_request(dev_issuer, data={"grant_type": "client_credentials"}, auth=("a", "dev-secret"))
    dev_issuer.set_mode("slow")
    dev_issuer.slow_seconds = 0.2
    with pytest.raises(requests.Timeout):
        requests.get(dev_issuer.jwks_uri, timeout=0.05)
    dev_issuer.stop()
    assert capfd.readouterr().err == ""
