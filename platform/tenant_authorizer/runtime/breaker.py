"""A circuit breaker per key (a JWKS or discovery URI), on an injectable monotonic clock.

After ``failure_threshold`` consecutive failures the circuit for that key opens: callers
skip the network and fail (or serve stale keys) at once, so one tenant's dead IdP costs
its own decisions nothing and ties up no threads. After ``reset_after`` seconds a single
trial call is let through (half-open); its success closes the circuit, its failure
re-opens it for another ``reset_after``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .bounded import BoundedTable

_CIRCUIT_BYTES = 64  # what a circuit's record adds to its key (the URI, counted apart)


class _Circuit:
    __slots__ = ("failures", "opened_at")

    def __init__(self, failures: int = 0, opened_at: float | None = None) -> None:
        self.failures = failures
        self.opened_at = opened_at  # None: closed


class CircuitBreaker:
    """Consecutive-failure circuit breaker, one circuit per key; thread-safe.

    Only keys with recent failures are stored (a success forgets the key), in a table
    bounded in bytes: evicting a key merely closes its circuit.
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        reset_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        max_bytes: int = 2 * 1024 * 1024,
    ) -> None:
        if failure_threshold < 1 or reset_after <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_after > 0")
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._circuits: BoundedTable[str, _Circuit] = BoundedTable(max_bytes)
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Whether a call for ``key`` may go to the network now.

        False while open. Once ``reset_after`` has passed, True for exactly one caller
        (the trial), which re-arms the timer: a trial that never reports back cannot
        wedge the circuit half-open, the next trial simply comes ``reset_after`` later.
        """
        with self._lock:
            circuit = self._circuits.get(key)
            if circuit is None or circuit.opened_at is None:
                return True
            now = self._clock()
            if now - circuit.opened_at >= self.reset_after:
                circuit.opened_at = now
                return True
            return False

    def record_success(self, key: str) -> None:
        """Close the circuit for ``key`` and forget its failures."""
        with self._lock:
            self._circuits.discard(key)

    def record_failure(self, key: str) -> None:
        """Count a failure; open (or re-open) the circuit at the threshold."""
        with self._lock:
            circuit = self._circuits.get(key)
            if circuit is None:
                circuit = _Circuit()
                self._circuits.put(key, circuit, _CIRCUIT_BYTES + 2 * len(key))
            circuit.failures += 1
            if circuit.failures >= self.failure_threshold:
                circuit.opened_at = self._clock()

    def is_open(self, key: str) -> bool:
        """True while the circuit for ``key`` is open or half-open (not yet closed)."""
        with self._lock:
            circuit = self._circuits.get(key)
            return circuit is not None and circuit.opened_at is not None
