"""The config reader: batches of ten, retries of cold reads within a budget, shared backoff."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from support.issuers import FakeClock
from tenant_authorizer.runtime.counters import Counters
from tenant_authorizer.runtime.reader import ConfigReader, backoff
from tenant_authorizer.runtime.sources import SourceUnavailable


class Throttling:
    """A source that throttles the first ``failures`` calls, then answers every name."""

    def __init__(self, failures: int, *, transient: bool = True) -> None:
        self.failures = failures
        self.transient = transient
        self.calls: list[tuple[str, ...]] = []

    def read(self, names: Sequence[str]) -> dict[str, str | None]:
        self.calls.append(tuple(names))
        if len(self.calls) <= self.failures:
            raise SourceUnavailable(
                "SSM ThrottlingException", throttled=True, transient=self.transient
            )
        return {name: f"value of {name}" for name in names}

    def load_secret(self, name: str) -> bytes | None:
        self.read([name])
        return b"secret"


def reader(source: Throttling, clock: FakeClock, budget: float = 2.0) -> ConfigReader:
    return ConfigReader(
        source, Counters(), budget=budget, clock=clock, sleep=clock.sleep, rand=lambda: 0.5
    )


def test_names_go_ten_to_a_call() -> None:
    """23 names are three calls (GetParameters takes ten)."""
    clock, source = FakeClock(), Throttling(0)
    values = reader(source, clock).read([f"accounts/{n}" for n in range(23)], retry=False)
    assert len(values) == 23
    assert [len(call) for call in source.calls] == [10, 10, 3]


def test_a_cold_read_retries_throttling_within_its_budget() -> None:
    """Throttled twice, a cold read waits with backoff and succeeds, inside the budget."""
    clock, source = FakeClock(), Throttling(2)
    assert reader(source, clock).read(["accounts/1"], retry=True) == {
        "accounts/1": "value of accounts/1"
    }
    assert len(source.calls) == 3
    assert 0 < clock.now - 1000.0 < 2.0


def test_a_warm_read_never_waits() -> None:
    """retry=False: one attempt, no sleep, the error to the caller (who serves stale)."""
    clock, source = FakeClock(), Throttling(5)
    with pytest.raises(SourceUnavailable):
        reader(source, clock).read(["index/root"], retry=False)
    assert (len(source.calls), clock.now) == (1, 1000.0)


def test_errors_no_retry_can_fix_are_not_retried() -> None:
    """Access denied (not transient) fails at the first attempt."""
    clock, source = FakeClock(), Throttling(5, transient=False)
    with pytest.raises(SourceUnavailable):
        reader(source, clock).read(["accounts/1"], retry=True)
    assert len(source.calls) == 1


def test_throttling_backs_the_whole_instance_off() -> None:
    """After a throttle, another account's read waits out the same backoff, or fails at
    once without a call when the wait would not end within its budget."""
    clock, source = FakeClock(), Throttling(1)
    shared = reader(source, clock, budget=0.0)
    with pytest.raises(SourceUnavailable):
        shared.read(["accounts/1"], retry=True)
    with pytest.raises(SourceUnavailable, match="backing off"):
        shared.read(["accounts/2"], retry=True)
    assert len(source.calls) == 1, "no call while the instance backs off"
    clock.now += 1.0
    assert shared.read(["accounts/2"], retry=True)["accounts/2"] == "value of accounts/2"


def test_a_clock_that_does_not_move_still_ends_the_retries() -> None:
    """Whatever the clock, a read gives up after eight calls."""

    class Frozen(FakeClock):
        def sleep(self, seconds: float) -> None:
            pass

    clock, source = Frozen(), Throttling(100)
    with pytest.raises(SourceUnavailable):
        reader(source, clock).read(["accounts/1"], retry=True)
    assert len(source.calls) == 8


@pytest.mark.parametrize(("failures", "low", "high"), [(1, 2.5, 5), (3, 10, 20), (10, 30, 60)])
def test_backoff_doubles_with_jitter_up_to_its_cap(failures: int, low: float, high: float) -> None:
    """Equal jitter: half the step is certain, half random; capped at 60 s here."""
    assert backoff(failures, 5, 60, lambda: 0.0) == low
    assert backoff(failures, 5, 60, lambda: 0.999999) == pytest.approx(high)
