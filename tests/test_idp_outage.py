"""An IdP down, slow or answering garbage: decisions on stale keys say so, then fail closed."""

from __future__ import annotations

import pytest

from support.events import event
from support.harness import Harness, issuer_entry, tenant_doc
from support.issuers import FakeClock, FaultyIssuer, Mode
from tenant_authorizer.errors import Reason

ACCOUNT = "123456789012"
OUTAGES: tuple[Mode, ...] = ("down", "refuse", "slow", "garbage")


def _harness(issuer: FaultyIssuer, clock: FakeClock) -> Harness:
    doc = tenant_doc("acme", ACCOUNT, [issuer_entry(issuer)])
    return Harness(
        [doc],
        # max_max_age clamps the issuer's Cache-Control (300 s) to this test's 60 s timeline.
        jwks_kwargs={"clock": clock, "max_max_age": 60, "min_max_age": 1, "stale_window": 300},
    )


@pytest.mark.parametrize("mode", OUTAGES)
def test_warm_keys_are_served_stale_and_the_decision_says_so(
    dev_issuer: FaultyIssuer, clock: FakeClock, mode: Mode
) -> None:
    """Within the stale window a known key verifies; the line says stale_key, EMF counts it."""
    harness = _harness(dev_issuer, clock)
    assert harness.evaluate(event("rest_token", dev_issuer.mint())).outcome == "allow"
    dev_issuer.set_mode(mode)
    clock.advance(120)  # past max-age: the cache must refresh, and the IdP fails
    result = harness.evaluate(event("rest_token", dev_issuer.mint()))
    assert result.outcome == "allow"
    line = harness.last()
    assert line["stale_key"] is True
    assert line["StaleKeyServes"] >= 1
    stale_metrics = [m["Name"] for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    assert "StaleKeyServes" in stale_metrics


@pytest.mark.parametrize("mode", OUTAGES)
def test_after_the_stale_window_it_fails_closed(
    dev_issuer: FaultyIssuer, clock: FakeClock, mode: Mode
) -> None:
    """Past max-age plus the stale window, no key is trusted: a platform fault, never Allow."""
    harness = _harness(dev_issuer, clock)
    assert harness.evaluate(event("rest_token", dev_issuer.mint())).outcome == "allow"
    dev_issuer.set_mode(mode)
    clock.advance(60 + 300 + 1)
    result = harness.evaluate(event("rest_token", dev_issuer.mint()))
    assert (result.outcome, result.status) == ("fault", 500)
    assert result.reason in {Reason.JWKS_UNAVAILABLE, Reason.ISSUER_CIRCUIT_OPEN}


@pytest.mark.parametrize("mode", OUTAGES)
def test_without_warm_keys_it_fails_closed_at_once(
    dev_issuer: FaultyIssuer, clock: FakeClock, mode: Mode
) -> None:
    """A cold instance whose IdP is failing answers 500 for that tenant, never Allow."""
    harness = _harness(dev_issuer, clock)
    token = dev_issuer.mint()
    dev_issuer.set_mode(mode)
    result = harness.evaluate(event("rest_token", token))
    assert (result.outcome, result.reason) == ("fault", Reason.JWKS_UNAVAILABLE)
    assert harness.last()["JwksFetchFailures"] >= 1
