"""The circuit breaker: opens after consecutive failures, half-opens after a pause."""

from __future__ import annotations

from typing import Any

import pytest

from support.issuers import FakeClock
from tenant_authorizer.runtime.bounded import ENTRY_OVERHEAD
from tenant_authorizer.runtime.breaker import CircuitBreaker

URI = "https://idp.example.test/jwks.json"


def _opened(clock: FakeClock, threshold: int = 3) -> CircuitBreaker:
    breaker = CircuitBreaker(failure_threshold=threshold, reset_after=30, clock=clock)
    for _ in range(threshold):
        breaker.record_failure(URI)
    return breaker


def test_closed_by_default(clock: FakeClock) -> None:
    """An unknown key is closed: calls are allowed."""
    breaker = CircuitBreaker(clock=clock)
    assert breaker.allow(URI)
    assert not breaker.is_open(URI)


def test_stays_closed_below_threshold(clock: FakeClock) -> None:
    """Fewer consecutive failures than the threshold leave the circuit closed."""
    breaker = CircuitBreaker(failure_threshold=3, clock=clock)
    breaker.record_failure(URI)
    breaker.record_failure(URI)
    assert breaker.allow(URI)
    assert not breaker.is_open(URI)


def test_opens_at_threshold(clock: FakeClock) -> None:
    """The threshold-th consecutive failure opens the circuit: calls are refused."""
    breaker = _opened(clock)
    assert breaker.is_open(URI)
    assert not breaker.allow(URI)


def test_success_resets_the_count(clock: FakeClock) -> None:
    """A success between failures means they are not consecutive."""
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    breaker.record_failure(URI)
    breaker.record_success(URI)
    breaker.record_failure(URI)
    assert breaker.allow(URI)


def test_keys_are_independent(clock: FakeClock) -> None:
    """One URI's open circuit does not affect another URI."""
    breaker = _opened(clock)
    assert breaker.allow("https://other.example.test/jwks.json")


def test_half_open_allows_exactly_one_trial(clock: FakeClock) -> None:
    """After reset_after, one caller gets a trial and the others are still refused."""
    breaker = _opened(clock)
    clock.advance(30)
    assert breaker.allow(URI)
    assert not breaker.allow(URI)
    assert breaker.is_open(URI)


@pytest.mark.parametrize(
    ("trial_succeeds", "open_after"), [(True, False), (False, True)], ids=["success", "failure"]
)
def test_trial_outcome_closes_or_reopens(
    clock: FakeClock, trial_succeeds: bool, open_after: bool
) -> None:
    """A successful trial closes the circuit; a failed one re-opens it for reset_after."""
    breaker = _opened(clock)
    clock.advance(30)
    assert breaker.allow(URI)
    if trial_succeeds:
        breaker.record_success(URI)
    else:
        breaker.record_failure(URI)
    assert breaker.is_open(URI) is open_after
    assert breaker.allow(URI) is not open_after


def test_lost_trial_does_not_wedge_half_open(clock: FakeClock) -> None:
    """A trial that never reports back is followed by another trial reset_after later."""
    breaker = _opened(clock)
    clock.advance(30)
    assert breaker.allow(URI)
    clock.advance(29)
    assert not breaker.allow(URI)
    clock.advance(1)
    assert breaker.allow(URI)


def test_memory_is_bounded(clock: FakeClock) -> None:
    """Only as many circuits as max_bytes holds are remembered; the oldest is forgotten."""
    breaker = CircuitBreaker(
        failure_threshold=1, clock=clock, max_bytes=2 * (ENTRY_OVERHEAD + 64 + 2)
    )
    for key in ("a", "b", "c"):
        breaker.record_failure(key)
    assert not breaker.is_open("a")
    assert breaker.is_open("b")
    assert breaker.is_open("c")


@pytest.mark.parametrize(
    "kwargs", [{"failure_threshold": 0}, {"reset_after": 0}], ids=["threshold", "reset"]
)
def test_rejects_nonsense_settings(kwargs: dict[str, Any]) -> None:
    """A zero threshold or pause is a configuration error."""
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(**kwargs)
