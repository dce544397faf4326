"""What the caches count, in one place, and the metric names the decision line emits.

The registry and the JWKS cache bump the counters of one :class:`Counters` (each gets
its own unless one is shared with them); the authorizer reports, in the decision line's
EMF record, how much each of :data:`METRICS` moved during the decision. Metric names are
listed here and nowhere else.
"""

from __future__ import annotations

import threading
from typing import Final

# The EMF metric each counter is emitted as, when it moved during a decision (decision
# 0006); the others are kept for `stats` (tests, benchmarks, the local gateway).
METRICS: Final = (
    ("StaleKeyServes", "stale_key_serves"),
    ("StaleConfigServes", "stale_config_serves"),
    ("JwksFetches", "jwks_fetches"),
    ("JwksFetchFailures", "jwks_failures"),
    ("SsmFetches", "ssm_fetches"),
    ("SsmFetchFailures", "ssm_failures"),
    ("SsmThrottles", "ssm_throttles"),
    ("IntrospectionCalls", "introspection_calls"),
    ("IntrospectionFailures", "introspection_failures"),
)


class Counters:
    """Monotonic counters of one warm instance; ``events`` moves whenever any does."""

    __slots__ = (
        "_lock",
        "circuit_rejections",
        "discovery_fetches",
        "discovery_stale_serves",
        "events",
        "index_checks",
        "index_drifts",
        "introspection_calls",
        "introspection_failures",
        "jwks_failures",
        "jwks_fetches",
        "kid_refetches",
        "ssm_failures",
        "ssm_fetches",
        "ssm_throttles",
        "stale_config_serves",
        "stale_key_serves",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events = 0  # the sum of all: a lock-free "did anything happen" check
        self.ssm_fetches = self.ssm_failures = self.stale_config_serves = 0
        self.ssm_throttles = self.index_checks = self.index_drifts = 0
        self.jwks_fetches = self.jwks_failures = self.stale_key_serves = 0
        self.kid_refetches = self.discovery_fetches = self.discovery_stale_serves = 0
        self.circuit_rejections = self.introspection_calls = self.introspection_failures = 0

    def bump(self, name: str) -> None:
        """Add one to the counter ``name`` (one of the slots)."""
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)
            self.events += 1

    def metrics(self) -> dict[str, int]:
        """Every emitted metric's current total, by metric name."""
        return {metric: getattr(self, name) for metric, name in METRICS}
