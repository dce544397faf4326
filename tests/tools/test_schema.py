"""tenant_configs/schema.json and parse_tenant agree: on every shipped file and on edge cases."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tenant_authorizer.runtime.errors import ConfigError
from tenant_authorizer.runtime.tenant_parser import parse_tenant
from tenant_authorizer.tools.documents import as_terraform_value
from tenant_authorizer.tools.schema import SCHEMA_PATH, load_schema
from tenant_authorizer.tools.yaml_reader import read_yaml

CONFIGS = Path(__file__).resolve().parents[2] / "tenant_configs"
VALIDATOR = jsonschema.Draft202012Validator(load_schema())

Doc = dict[str, Any]


def base() -> Doc:
    """A minimal valid tenant document."""
    return {
        "tenant_id": "acme",
        "issuers": [{"issuer": "https://idp.example.com", "audiences": ["api"]}],
        "bindings": [{"account_id": "111122223333"}],
    }


def parser_accepts(doc: Doc) -> bool:
    """True when parse_tenant accepts the document."""
    try:
        parse_tenant(doc, "test.yaml")
    except ConfigError:
        return False
    return True


def schema_accepts(doc: Doc) -> bool:
    """True when the JSON Schema accepts the document."""
    return VALIDATOR.is_valid(doc)


def issuer(**changes: Any) -> Callable[[Doc], None]:
    """A mutation that updates the first issuer."""

    def apply(doc: Doc) -> None:
        doc["issuers"][0].update(changes)

    return apply


def top(**changes: Any) -> Callable[[Doc], None]:
    """A mutation that updates top-level fields."""

    def apply(doc: Doc) -> None:
        doc.update(changes)

    return apply


def binding(**changes: Any) -> Callable[[Doc], None]:
    """A mutation that updates the first binding."""

    def apply(doc: Doc) -> None:
        doc["bindings"][0].update(changes)

    return apply


def drop(*keys: str) -> Callable[[Doc], None]:
    """A mutation that removes fields of the first issuer."""

    def apply(doc: Doc) -> None:
        for key in keys:
            doc["issuers"][0].pop(key, None)

    return apply


HS = {"algorithms": ["HS256"], "hmac_secret_parameter": "/tenant-authorizer/secrets/acme/hs256"}
RULE = {"path": "/orders/*", "scopes_any": ["orders:read"]}
TOKEN = {"id": "web", "sha256": "a" * 64, "principal_id": "site"}

BAD: dict[str, Callable[[Doc], None]] = {
    "description not a string": top(description={"owner": "team"}),
    "unknown top-level field": top(colour="blue"),
    "tenant id upper case": top(tenant_id="Acme"),
    "tenant id one character": top(tenant_id="a"),
    "no tenant id": top(tenant_id=None),
    "no bindings": top(bindings=None),
    "empty bindings": top(bindings=[]),
    "no issuer nor static token": top(issuers=None),
    "empty issuers": top(issuers=[]),
    "issuers not a list": top(issuers={"issuer": "x"}),
    "http issuer": issuer(issuer="http://idp.example.com"),
    "ftp issuer": issuer(issuer="ftp://idp.example.com"),
    "http jwks": issuer(jwks_uri="http://idp.example.com/jwks"),
    "empty audiences": issuer(audiences=[]),
    "no audiences": drop("audiences"),
    "duplicate audience": issuer(audiences=["api", "api"]),
    "algorithm none": issuer(algorithms=["none"]),
    "unknown algorithm": issuer(algorithms=["RS1"]),
    "HS mixed with RS": issuer(algorithms=["HS256", "RS256"], hmac_secret_parameter="/x/y"),
    "HS without secret": issuer(algorithms=["HS256"]),
    "secret without HS": issuer(hmac_secret_parameter="/tenant-authorizer/secrets/acme/hs256"),
    "HS with jwks": issuer(**HS, jwks_uri="https://idp.example.com/jwks"),
    "HS with discovery": issuer(**HS, discovery="oidc"),
    "discovery none without jwks": issuer(discovery="none"),
    "unknown discovery": issuer(discovery="webfinger"),
    "clock skew too large": issuer(clock_skew_seconds=301),
    "clock skew a string": issuer(clock_skew_seconds="60"),
    "clock skew a boolean": issuer(clock_skew_seconds=True),
    "token age too small": issuer(max_token_age_seconds=59),
    "reserved forwarded claim": issuer(forward_claims=["tenant_id"]),
    "empty forwarded claims": issuer(forward_claims=[]),
    "bad claim name": issuer(forward_claims=["has space"]),
    "empty required claims": issuer(required_claims={}),
    "required claim of objects": issuer(required_claims={"roles": [{"a": 1}]}),
    "required claim empty list": issuer(required_claims={"roles": []}),
    "local_development not boolean": issuer(local_development="yes"),
    "cognito without client ids": issuer(cognito={"token_use": "access"}),
    "cognito unknown token_use": issuer(cognito={"token_use": "refresh", "client_ids": ["c"]}),
    "cognito id token without audiences": lambda d: d["issuers"][0].update(
        audiences=None, cognito={"token_use": "id", "client_ids": ["c"]}
    ),
    "unknown issuer field": issuer(audience=["api"]),
    "revocation unknown field": issuer(revocation={"kid": ["k1"]}),
    "revocation kid with a space": issuer(revocation={"kids": ["k 1"]}),
    "revocation empty kids": issuer(revocation={"kids": []}),
    "revocation duplicate kids": issuer(revocation={"kids": ["k1", "k1"]}),
    "revocation instant without offset": issuer(
        revocation={"issued_before": "2026-12-01T10:00:00"}
    ),
    "revocation date only": issuer(revocation={"issued_before": "2026-12-01"}),
    "revocation epoch number": issuer(revocation={"issued_before": 1764583200}),
    "duplicate issuer field type": issuer(scope_claim=""),
    "token two sources": top(token={"header": "x-token", "query": "token"}),
    "token bad header name": top(token={"header": "bad header"}),
    "token scheme with space": top(token={"scheme": "Bear er"}),
    "token scheme true": top(token={"scheme": True}),
    "token max length too small": top(token={"max_length": 10}),
    "token unknown field": top(token={"cookies": "session"}),
    "static token bad hash": top(static_tokens=[{**TOKEN, "sha256": "A" * 64}]),
    "static token without principal": top(static_tokens=[{"id": "web", "sha256": "a" * 64}]),
    "rule without requirement": top(routes={"rules": [{"path": "/orders"}]}),
    "rule bad method": top(routes={"rules": [{**RULE, "methods": ["FETCH"]}]}),
    "rule $CONNECT upper case": top(routes={"rules": [{**RULE, "methods": ["$CONNECT"]}]}),
    "rule relative path": top(routes={"rules": [{**RULE, "path": "orders"}]}),
    "rule scope with a space": top(routes={"rules": [{**RULE, "scopes_any": ["orders read"]}]}),
    "static token scope with a quote": top(
        static_tokens=[{**TOKEN, "scopes": ['say"hi']}], issuers=None
    ),
    "rule path naming $connect": top(routes={"rules": [{**RULE, "path": "/$connect"}]}),
    "rule path naming $default": top(routes={"rules": [{**RULE, "path": "/$default/*"}]}),
    "rule $connect with a path": top(routes={"rules": [{**RULE, "methods": ["$connect"]}]}),
    "rule $default as a method": top(routes={"rules": [{**RULE, "methods": ["$default"]}]}),
    "rule parameter inside a segment": top(routes={"rules": [{**RULE, "path": "/a/{id}.json"}]}),
    "rule unclosed parameter": top(routes={"rules": [{**RULE, "path": "/a/{id"}]}),
    "routes unknown default": top(routes={"default": "maybe"}),
    "routes unknown field": top(routes={"rule": []}),
    "binding short account": binding(account_id="11112222333"),
    "binding numeric account": binding(account_id=111122223333),
    "binding bad api id": binding(api_ids=["A1B2C3D4E5"]),
    "binding empty api ids": binding(api_ids=[]),
    "binding bad stage": binding(stages=["pro d"]),
    "binding unknown response": binding(response="policy"),
    "binding unknown field": binding(regoin="us-east-1"),
}

GOOD: dict[str, Callable[[Doc], None]] = {
    "nulls mean omitted": issuer(jwks_uri=None, discovery=None, token_type=None, cognito=None),
    "local development http": issuer(issuer="http://127.0.0.1:8090", local_development=True),
    "HS with secret": issuer(**HS),
    "HS with discovery none": issuer(**HS, discovery="none"),
    "explicit jwks": issuer(jwks_uri="https://idp.example.com/keys", discovery="none"),
    "revocation by kid and instant": issuer(
        revocation={"kids": ["k1", "a-b_c.d"], "issued_before": "2026-12-01T10:00:00.5+01:00"}
    ),
    "revocation nulls": issuer(revocation={"kids": None, "issued_before": None}),
    "revocation instant in Z": issuer(revocation={"issued_before": "2026-12-01T10:00:00Z"}),
    "cognito access without audiences": lambda d: d["issuers"][0].update(
        audiences=None, cognito={"client_ids": ["c"]}
    ),
    "claims of scalars and lists": issuer(
        required_claims={"hd": "x.example", "lvl": [1, 2.5, True]}
    ),
    "bare token scheme empty": top(token={"header": "authtoken", "scheme": ""}),
    "bare token scheme false": top(token={"header": "authtoken", "scheme": False}),
    "query token": top(token={"query": "access_token", "scheme": None}),
    "static token only": top(issuers=None, static_tokens=[{**TOKEN, "scopes": ["send"]}]),
    "rule lower-case method and $connect": top(
        routes={
            "default": "deny",
            "rules": [{**RULE, "path": "*", "methods": ["get", "$connect", "*"]}],
        }
    ),
    "rule with whole-segment parameters": top(
        routes={"rules": [{**RULE, "path": "/orders/{id}/items/{proxy+}"}]}
    ),
    "rule on claims": top(routes={"rules": [{"path": "*", "claims": {"groups": "admins"}}]}),
    "binding every field": binding(
        api_ids=["a1b2c3d4e5"], stages=["$default", "prod"], response="simple"
    ),
}


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_schema_and_parser_accept_every_shipped_file(path: Path) -> None:
    """Every shipped tenant file is accepted by both the schema and the parser."""
    raw, problems = read_yaml(path.read_text(encoding="utf-8"), path.name)
    assert problems == []
    doc = as_terraform_value(raw)
    assert list(VALIDATOR.iter_errors(doc)) == []
    assert parser_accepts(doc)


@pytest.mark.parametrize("mutation", list(BAD.values()), ids=list(BAD))
def test_schema_and_parser_reject_the_same_bad_documents(mutation: Callable[[Doc], None]) -> None:
    """A document the parser refuses is refused by the schema too."""
    doc = copy.deepcopy(base())
    mutation(doc)
    assert (parser_accepts(doc), schema_accepts(doc)) == (False, False)


@pytest.mark.parametrize("mutation", list(GOOD.values()), ids=list(GOOD))
def test_schema_and_parser_accept_the_same_edge_cases(mutation: Callable[[Doc], None]) -> None:
    """Documents at the edges of the model are accepted by both."""
    doc = copy.deepcopy(base())
    mutation(doc)
    assert (parser_accepts(doc), schema_accepts(doc)) == (True, True)


def test_schema_is_valid_draft_2020_12() -> None:
    """The schema itself is a valid JSON Schema 2020-12 document."""
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert SCHEMA_PATH.parent == CONFIGS


@pytest.mark.parametrize(
    ("region", "accepted"),
    [("eu-west-1", True), ("us-gov-west-1", True), ("cn-north-1", True), ("EU-WEST-1", False),
     ("eu-west", False), ("*", False)],
)  # fmt: skip
def test_a_binding_names_its_region_or_is_refused(region: str, accepted: bool) -> None:
    """bindings[].region: the schema and the parser agree on what a region is."""
    doc = base()
    doc["bindings"][0]["region"] = region
    assert VALIDATOR.is_valid(doc) is accepted
    assert parser_accepts(doc) is accepted
