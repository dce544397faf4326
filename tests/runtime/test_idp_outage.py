"""An IdP down, slow or answering garbage: decisions on stale keys say so, then fail closed."""

from __future__ import annotations

import time
from typing import Any

import pytest

from support.events import event
from support.harness import Harness, issuer_entry, tenant_doc
from support.issuers import FakeClock, FaultyIssuer, Mode
from tenant_authorizer.runtime.errors import Reason

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


def _discovering(issuer: FaultyIssuer) -> dict[str, object]:
    """A tenant document whose issuer is found by OIDC discovery (two fetches when cold)."""
    return tenant_doc("acme", ACCOUNT, [issuer_entry(issuer, jwks_uri=None, discovery="oidc")])


def test_an_idp_that_compresses_its_answers_is_served(dev_issuer: FaultyIssuer) -> None:
    """Discovery and JWKS gzip-compressed (as most large IdPs send them when offered) work."""
    dev_issuer.set_mode("gzip")
    harness = Harness([_discovering(dev_issuer)])
    result = harness.evaluate(event("rest_token", dev_issuer.mint()))
    assert (result.outcome, result.reason) == ("allow", Reason.OK)
    assert dev_issuer.request_count() == 2


@pytest.mark.parametrize("mode", ["trickle_headers", "trickle", "slow"])
def test_a_cold_decision_against_a_trickling_idp_ends_within_its_budget(
    dev_issuer: FaultyIssuer, mode: Mode
) -> None:
    """Discovery then keys share one budget: the decision ends, refused, by the budget."""
    dev_issuer.set_mode(mode)
    dev_issuer.trickle_interval = 0.05
    harness = Harness([_discovering(dev_issuer)], network_budget=1.0, fetch_timeout=0.8)
    started = time.monotonic()
    result = harness.evaluate(event("rest_token", dev_issuer.mint()))
    elapsed = time.monotonic() - started
    assert (result.outcome, result.reason) == ("fault", Reason.JWKS_UNAVAILABLE)
    assert elapsed < 1.0 + 0.3, f"{elapsed:.2f}s"


def test_timeouts_open_the_issuers_circuit_and_spare_other_tenants(
    dev_issuer: FaultyIssuer, signing_keys: dict[str, Any]
) -> None:
    """A trickling IdP's timeouts count as failures: its circuit opens, others are untouched."""
    with FaultyIssuer(keys=signing_keys) as healthy:
        docs = [
            tenant_doc("acme", ACCOUNT, [issuer_entry(dev_issuer)]),
            tenant_doc("other", "210987654321", [issuer_entry(healthy)]),
        ]
        harness = Harness(docs, network_budget=0.3, fetch_timeout=0.3)
        dev_issuer.set_mode("trickle_headers")
        for _ in range(3):
            assert harness.evaluate(event("rest_token", dev_issuer.mint())).outcome == "fault"
        started = time.monotonic()
        opened = harness.evaluate(event("rest_token", dev_issuer.mint()))
        assert opened.reason is Reason.ISSUER_CIRCUIT_OPEN
        assert time.monotonic() - started < 0.1, "an open circuit answers without waiting"
        other = event("rest_token", healthy.mint(), account="210987654321")
        assert harness.evaluate(other).outcome == "allow"


def test_time_spent_on_the_tenant_config_is_not_charged_to_the_issuer(
    dev_issuer: FaultyIssuer,
) -> None:
    """A slow SSM read on a cold start leaves the key fetches their whole budget."""

    harness = Harness(
        [tenant_doc("acme", ACCOUNT, [issuer_entry(dev_issuer)])],
        network_budget=1.0,
        fetch_timeout=1.0,
    )
    harness.source.delay = 0.8
    dev_issuer.set_mode("slow")
    dev_issuer.slow_seconds = 0.4
    result = harness.evaluate(event("rest_token", dev_issuer.mint()))
    assert (result.outcome, result.reason) == ("allow", Reason.OK)
