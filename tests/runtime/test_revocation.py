"""Per-tenant revocation (issue 13): a revoked kid, tokens issued before an instant.

The revocation travels in the tenant's part of the account document; a warm instance
picks it up with its next config read (within the TTL), drops its cached answers for that
tenant, and keeps every other tenant's, even in the same account document.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from support.events import event
from support.harness import Harness, issuer_entry, tenant_doc
from tenant_authorizer.dev.issuer import DevIssuer, PrivateKey
from tenant_authorizer.runtime.caller import Caller, parse_arn
from tenant_authorizer.runtime.errors import ConfigError, Reason
from tenant_authorizer.runtime.tenant_parser import parse_tenant

ACCOUNT = "123456789012"


@pytest.fixture
def issuers(signing_keys: dict[str, PrivateKey]) -> Iterator[dict[str, DevIssuer]]:
    """Two tenants' issuers on 127.0.0.1."""
    started = {
        name: DevIssuer(port=0, audience="https://api.example.test", keys=signing_keys).start()
        for name in ("alpha", "beta")
    }
    yield started
    for issuer in started.values():
        issuer.stop()


def docs(issuers: dict[str, DevIssuer], **alpha_revocation: Any) -> list[dict[str, Any]]:
    """alpha and beta in one account document (two APIs), alpha maybe with a revocation."""
    alpha = issuer_entry(issuers["alpha"])
    if alpha_revocation:
        alpha["revocation"] = alpha_revocation
    return [
        tenant_doc("alpha", ACCOUNT, [alpha], api_ids=["aaaaaaaaaa"]),
        tenant_doc("beta", ACCOUNT, [issuer_entry(issuers["beta"])], api_ids=["bbbbbbbbbb"]),
    ]


def ev(tenant: str, token: str) -> dict[str, Any]:
    """A REST TOKEN event on the tenant's API."""
    return event("rest_token", token, account=ACCOUNT, api_id=tenant[0] * 10)


def rfc3339(at: float) -> str:
    """An RFC 3339 instant in UTC."""
    return datetime.fromtimestamp(at, UTC).isoformat()


def test_a_revoked_kid_is_refused_within_the_ttl_and_others_keep_their_answers(
    issuers: dict[str, DevIssuer],
) -> None:
    """A warm instance refuses alpha's revoked kid after its next read; beta is untouched."""
    now = [1000.0]
    # No refetch cooldown: the new kid is learnt at once (the cooldown is tested elsewhere).
    harness = Harness(docs(issuers), config_clock=lambda: now[0], jwks_kwargs={"kid_cooldown": 0})
    leaked = issuers["alpha"].current_kid()
    old, other = issuers["alpha"].mint(), issuers["beta"].mint()
    for _ in range(2):
        assert harness.evaluate(ev("alpha", old)).outcome == "allow"
        assert harness.evaluate(ev("beta", other)).outcome == "allow"
    beta_before = harness.registry.lookup(_caller("bbbbbbbbbb"))
    issuers["alpha"].rotate("RS256")  # the IdP signs with a new key (the old one still published)
    new = issuers["alpha"].mint()
    harness.replace_docs(docs(issuers, kids=[leaked]))
    assert harness.evaluate(ev("alpha", old)).outcome == "allow", "within the TTL: not yet"
    now[0] += 61
    refused = harness.evaluate(ev("alpha", old))
    assert (refused.outcome, refused.status, refused.reason) == (
        "unauthorized",
        401,
        Reason.KEY_REVOKED,
    )
    assert harness.last()["kid"] == leaked
    assert harness.evaluate(ev("alpha", new)).outcome == "allow", "the new key's tokens pass"
    again = harness.evaluate(ev("beta", other))
    assert again.outcome == "allow" and again.cache_hit, "beta's warm answer is served as before"
    beta_after = harness.registry.lookup(_caller("bbbbbbbbbb"))
    assert beta_after.tenant is beta_before.tenant, "beta's parsed config object is kept"


def test_tokens_issued_before_the_instant_are_refused_and_so_are_tokens_without_iat(
    issuers: dict[str, DevIssuer],
) -> None:
    """issued_before refuses older tokens (and tokens without iat); newer ones pass."""
    now = [1000.0]
    harness = Harness(docs(issuers), config_clock=lambda: now[0])
    batch = issuers["alpha"].mint(claims={"iat": int(time.time()) - 120})
    no_iat = issuers["alpha"].mint(claims={"iat": None})
    assert harness.evaluate(ev("alpha", batch)).outcome == "allow"
    harness.replace_docs(docs(issuers, issued_before=rfc3339(time.time() - 60)))
    now[0] += 61
    for token in (batch, no_iat):
        result = harness.evaluate(ev("alpha", token))
        assert (result.outcome, result.reason) == ("unauthorized", Reason.TOKEN_REVOKED)
    fresh = issuers["alpha"].mint()
    assert harness.evaluate(ev("alpha", fresh)).outcome == "allow"


@pytest.mark.parametrize(
    ("revocation", "field"),
    [
        ({"kids": ["has space"]}, "kids[0]"),
        ({"issued_before": "2026-12-01T10:00:00"}, "issued_before"),
        ({"issued_before": "yesterday"}, "issued_before"),
        ({"kid": ["k"]}, "kid"),
    ],
)
def test_a_bad_revocation_names_its_field(revocation: dict[str, Any], field: str) -> None:
    """The runtime's parser refuses what the schema refuses, naming the field."""
    doc = copy.deepcopy(
        tenant_doc("alpha", ACCOUNT, [{"issuer": "https://a.example", "audiences": ["x"]}])
    )
    doc["issuers"][0]["revocation"] = revocation
    with pytest.raises(ConfigError) as info:
        parse_tenant(doc, "alpha.yaml")
    assert field in info.value.field


def _caller(api_id: str) -> Caller:
    return parse_arn(f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api_id}/prod/GET/orders/42")


def test_a_token_without_kid_cannot_slip_past_a_revoked_kid(issuers: dict[str, DevIssuer]) -> None:
    """The JWKS's only RS256 key answers a kid-less token: revoked, it is refused too."""
    now = [1000.0]
    harness = Harness(docs(issuers), config_clock=lambda: now[0])
    leaked = issuers["alpha"].current_kid()
    harness.replace_docs(docs(issuers, kids=[leaked]))
    kidless = issuers["alpha"].mint(kid=None)
    result = harness.evaluate(ev("alpha", kidless))
    assert (result.outcome, result.reason) == ("unauthorized", Reason.KEY_REVOKED)


def test_a_changed_part_is_never_taken_for_the_same(issuers: dict[str, DevIssuer]) -> None:
    """true and 1 are equal to Python, not to the rules: the new part is parsed anew."""
    from tenant_authorizer.runtime.account import parse_account_document
    from tenant_authorizer.tools.documents import render_account_documents

    def document(value: Any) -> str:
        entry = {**issuer_entry(issuers["alpha"]), "required_claims": {"mfa": [value]}}
        (rendered,) = render_account_documents([tenant_doc("alpha", ACCOUNT, [entry])]).values()
        return rendered

    first = parse_account_document(document(1), "s", ACCOUNT)
    second = parse_account_document(document(True), "s", ACCOUNT, first)
    assert second.tenants["alpha"] is not first.tenants["alpha"]
    assert second.tenants["alpha"].config.issuers[0].required_claims["mfa"] == (True,)
