"""The tenant document parser: what it accepts, and errors that name source, field, reason."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tenant_authorizer.runtime.errors import ConfigError
from tenant_authorizer.runtime.tenant import TokenSource
from tenant_authorizer.runtime.tenant_parser import parse_tenant

GOOD: dict[str, Any] = {
    "tenant_id": "acme",
    "bindings": [{"account_id": "111122223333", "api_ids": ["a1b2c3d4e5"], "stages": ["prod"]}],
    "issuers": [
        {
            "issuer": "https://acme.okta.com/oauth2/default",
            "audiences": ["api://orders"],
            "algorithms": ["RS256", "ES256"],
            "scope_claim": "scp",
            "forward_claims": ["email"],
        }
    ],
    "routes": {
        "default": "deny",
        "rules": [{"methods": ["GET"], "path": "/orders/*", "scopes_any": ["orders:read"]}],
    },
}


def _with(path: str, value: object) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    node: Any = doc
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node[key]
    last = keys[-1]
    if value is _DELETE:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return doc


_DELETE = object()


def test_good_document_parses() -> None:
    """A complete document parses into its model with defaults filled in."""
    tenant = parse_tenant(GOOD, "acme.yaml")
    issuer = tenant.issuers[0]
    assert issuer.algorithms == ("RS256", "ES256")
    assert issuer.discovery == "oidc"
    assert issuer.clock_skew_seconds == 60
    assert tenant.token == TokenSource()
    assert tenant.default_route_access == "deny"
    assert tenant.bindings[0].api_ids == ("a1b2c3d4e5",)


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        ("tenant_id", "Acme Corp", "tenant_id", "is not a lower-case id"),
        ("bindings", _DELETE, "bindings", "is required"),
        ("bindings.0.account_id", "12345", "bindings[0].account_id", "12-digit AWS account id"),
        ("bindings.0.response", "json", "bindings[0].response", "must be one of"),
        ("issuers.0.issuer", "http://acme.okta.com", "issuers[0].issuer", "https://"),
        ("issuers.0.algorithms", ["none"], "issuers[0].algorithms[0]", "never allowed"),
        ("issuers.0.algorithms", ["RS256", "HS256"], "issuers[0].algorithms", "must not mix"),
        ("issuers.0.algorithms", ["XX999"], "issuers[0].algorithms[0]", "not supported"),
        ("issuers.0.audiences", [], "issuers[0].audiences", "must not be empty"),
        ("issuers.0.audiences", _DELETE, "issuers[0].audiences", "is required"),
        ("issuers.0.forward_claims", ["tenant_id"], "issuers[0].forward_claims[0]", "reserved"),
        ("issuers.0.clock_skew_seconds", 3600, "issuers[0].clock_skew_seconds", "between"),
        ("issuers.0.audence", ["x"], "issuers[0].audence", "not a known field"),
        ("routes.rules.0.path", "orders", "routes.rules[0].path", "starting with '/'"),
        ("routes.rules.0.methods", ["FETCH"], "routes.rules[0].methods[0]", "not an HTTP method"),
        ("routes.rules.0.scopes_any", _DELETE, "routes.rules[0].scopes_any", "needs scopes_any"),
        ("issuers", [], "issuers", "at least one issuer"),
        ("routes.rules.0.path", "/$connect", "routes.rules[0].path", "never match"),
        ("routes.rules.0.methods", ["$default"], "routes.rules[0].methods[0]", "not a method"),
        ("routes.rules.0.methods", ["$connect"], "routes.rules[0].path", "$connect has no path"),
        ("routes.rules.0.path", "/f/{id}.json", "routes.rules[0].path", "whole segments"),
    ],
)
def test_bad_document_names_field_and_reason(
    path: str, value: object, field: str, reason: str
) -> None:
    """Each mistake is reported with the file, the field path and the reason."""
    with pytest.raises(ConfigError) as info:
        parse_tenant(_with(path, value), "acme.yaml")
    assert info.value.source == "acme.yaml"
    assert info.value.field == field
    assert reason in info.value.reason


@pytest.mark.parametrize(
    ("methods", "path"), [(["GET"], "/$connect"), (["$default"], "*"), (["$connect"], "/chat")]
)
def test_rules_on_route_keys_say_how_to_write_them(methods: list[str], path: str) -> None:
    """A rule that could never match a route key explains how $connect and $default work."""
    doc = _with("routes.rules.0.methods", methods)
    doc["routes"]["rules"][0]["path"] = path
    with pytest.raises(ConfigError) as info:
        parse_tenant(doc, "acme.yaml")
    assert "methods: [$connect] with path: '*'" in info.value.reason
    assert "$default needs no rule of its own" in info.value.reason


def test_hmac_issuer_needs_a_secret_parameter() -> None:
    """HS256 is accepted only with a secret parameter, and never with a JWKS."""
    doc = _with("issuers.0.algorithms", ["HS256"])
    with pytest.raises(ConfigError, match="hmac_secret_parameter"):
        parse_tenant(doc, "legacy.yaml")
    doc["issuers"][0]["hmac_secret_parameter"] = "/tenant-authorizer/secrets/acme/hmac"
    assert parse_tenant(doc, "legacy.yaml").issuers[0].is_hmac


def test_cognito_access_tokens_need_no_audience() -> None:
    """Cognito access tokens carry no aud: client ids replace audiences."""
    doc = _with("issuers.0.audiences", _DELETE)
    doc["issuers"][0]["cognito"] = {"token_use": "access", "client_ids": ["abc123"]}
    issuer = parse_tenant(doc, "cognito.yaml").issuers[0]
    assert issuer.cognito is not None
    assert issuer.cognito.client_ids == ("abc123",)


def test_custom_header_defaults_to_bare_token() -> None:
    """A custom header carries a bare token unless a scheme is configured."""
    doc = _with("token", {"header": "authtoken"})
    assert parse_tenant(doc, "x.yaml").token == TokenSource("header", "authtoken", None)


def test_local_development_allows_http_issuer() -> None:
    """http:// issuers are accepted only when marked local_development."""
    doc = _with("issuers.0.issuer", "http://127.0.0.1:8090")
    doc["issuers"][0]["local_development"] = True
    assert parse_tenant(doc, "dev.yaml").issuers[0].issuer == "http://127.0.0.1:8090"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("bindings.0.account_id", "111122223333\n"),
        ("tenant_id", "acme\n"),
        ("bindings.0.api_ids", ["a1b2c3d4e5\n"]),
        ("description", 42),
    ],
)
def test_trailing_newlines_and_wrong_types_are_refused(path: str, value: object) -> None:
    """A value with a trailing newline (which never matches at run time) is refused."""
    with pytest.raises(ConfigError):
        parse_tenant(_with(path, value), "acme.yaml")


def test_hmac_secret_must_belong_to_the_tenant() -> None:
    """A tenant cannot name another tenant's HS* secret (it could then mint its tokens)."""
    doc = _with("issuers.0.algorithms", ["HS256"])
    doc["issuers"][0]["hmac_secret_parameter"] = "/tenant-authorizer/secrets/globex/hmac"
    with pytest.raises(ConfigError) as info:
        parse_tenant(doc, "acme.yaml")
    assert info.value.field == "issuers[0].hmac_secret_parameter"
    assert "/secrets/acme/" in info.value.reason


def test_a_pasted_token_in_sha256_is_never_repeated() -> None:
    """A token pasted where its SHA-256 belongs is refused without echoing it."""
    doc = _with("issuers", [])
    doc["static_tokens"] = [{"id": "web", "sha256": "supersecretvalue", "principal_id": "p"}]
    with pytest.raises(ConfigError) as info:
        parse_tenant(doc, "acme.yaml")
    assert "supersecretvalue" not in str(info.value)
