"""Reads from the config source, counted, batched by ten, and retried with jitter.

A warm instance never waits on SSM: it asks once and, when that fails, keeps deciding
from what it holds (the registry serves it stale) and tries again after a backoff. A cold
read has nothing to fall back on, so it retries throttling and transient errors with
exponential backoff and full jitter until the decision's config budget is spent, then
fails closed (``tenant_config_unavailable``). Errors another attempt cannot fix (access
denied) are not retried.

Throttling is the account's, not one parameter's: once SSM throttles, every read of the
instance waits out the same backoff (or, when it would not end within the read's
budget, fails at once without a call), so a cold fleet does not multiply its calls by
its retries; each call that succeeds takes the backoff one step back.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Final, TypeVar

from .counters import Counters
from .sources import MAX_NAMES, ConfigSource, SourceUnavailable

T = TypeVar("T")

_FIRST_DELAY: Final = 0.05  # full jitter over 50 ms, 100 ms, 200 ms... up to _MAX_DELAY
_MAX_DELAY: Final = 1.0
# Throttling backs the whole instance off, up to 2 s: a fleet of a hundred instances
# shares SSM's 40 calls a second at 0.4 each. Each success takes one step back, not all.
_MAX_THROTTLE_DELAY: Final = 2.0
_MAX_ATTEMPTS: Final = 8  # whatever the clock says, a read gives up after eight calls


def backoff(failures: int, base: float, cap: float, rand: Callable[[], float]) -> float:
    """How long to wait after ``failures`` failures in a row: doubling, capped, jittered.

    "Equal jitter": half the step is certain and half is random, so that instances that
    failed together (a throttled fleet) come back spread out but never at once.
    """
    step = min(cap, base * 2.0 ** max(0, failures - 1))
    return step / 2 + rand() * step / 2


class ConfigReader:
    """A :class:`ConfigSource` behind counters, batching and the retry policy."""

    __slots__ = (
        "_clock",
        "_counters",
        "_random",
        "_sleep",
        "_throttled_until",
        "_throttles",
        "budget",
        "source",
    )

    def __init__(
        self,
        source: ConfigSource,
        counters: Counters,
        *,
        budget: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.source = source
        self.budget = budget  # seconds a cold read may spend retrying
        self._counters = counters
        self._clock = clock
        self._sleep = sleep
        self._random = rand
        self._throttles = 0  # throttled calls in a row
        self._throttled_until = -math.inf  # no call before then

    def random(self) -> float:
        """A jitter draw in [0, 1) (the registry's backoffs share the reader's source)."""
        return self._random()

    def deadline(self) -> float:
        """When a decision starting now must be done with SSM (its :attr:`budget` on)."""
        return self._clock() + self.budget

    def read(
        self, names: Sequence[str], *, retry: bool, deadline: float | None = None
    ) -> dict[str, str | None]:
        """The values of ``names`` in as few calls as :data:`MAX_NAMES` allows.

        ``retry``: a cold read, retried until ``deadline`` (default: :attr:`budget` from
        now); otherwise one attempt per batch. No call starts after ``deadline``, so a
        decision's SSM time is its budget plus at most one call.
        :class:`SourceUnavailable` when a batch cannot be had.
        """
        end = self.deadline() if deadline is None else deadline
        out: dict[str, str | None] = {}
        for batch in _batches(names):
            out.update(self._attempts(partial(self.source.read, batch), retry, end))
        return out

    def secret(self, name: str, deadline: float | None = None) -> bytes | None:
        """A decrypted secret, retried like a cold read."""
        end = self.deadline() if deadline is None else deadline
        return self._attempts(partial(self.source.load_secret, name), True, end)

    def _attempts(self, call: Callable[[], T], retry: bool, deadline: float) -> T:
        attempt = 0
        while True:
            now = self._clock()
            wait = max(0.0, self._throttled_until - now)
            if wait and now + wait >= deadline:  # backing off from throttling, past it
                raise SourceUnavailable("SSM throttling: backing off", throttled=True)
            if now > deadline:
                raise SourceUnavailable("SSM: the decision's config budget is spent")
            if wait:
                self._sleep(wait)
            self._counters.bump("ssm_fetches")
            try:
                value = call()
            except SourceUnavailable as exc:
                self._counters.bump("ssm_failures")
                attempt += 1
                delay = self._random() * min(_MAX_DELAY, _FIRST_DELAY * 2.0 ** (attempt - 1))
                if exc.throttled:
                    self._counters.bump("ssm_throttles")
                    self._throttles += 1
                    step = min(_MAX_THROTTLE_DELAY, _FIRST_DELAY * 2.0 ** (self._throttles - 1))
                    delay = max(delay, self._random() * step)
                    self._throttled_until = self._clock() + delay
                if not retry or not exc.transient or attempt >= _MAX_ATTEMPTS:
                    raise
                if self._clock() + delay >= deadline:
                    raise
                self._sleep(delay)
                continue
            self._throttles = max(0, self._throttles - 1)
            return value


def _batches(names: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(names), MAX_NAMES):
        yield names[start : start + MAX_NAMES]
