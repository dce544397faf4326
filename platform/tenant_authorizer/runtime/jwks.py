"""The JWKS cache: from an issuer config and a token's ``kid`` to a public key.

The warm path (metadata and keys cached and fresh) is a dict lookup and a clock read:
no lock, no I/O. Everything else happens on the slow path, once per URI at a time
(:mod:`.refresh`):

* ``jwks_uri`` comes from the issuer config or from discovery (:mod:`.discovery`).
* A JWKS is parsed once per fetch into prepared keys indexed by ``(kid, alg)``
  (:mod:`.jwk_set`).
* Freshness follows ``Cache-Control: max-age``, clamped between ``min_max_age`` and
  ``max_max_age`` (the platform's ``TENANT_AUTHZ_JWKS_MAX_AGE_SECONDS``). An unknown
  ``kid`` triggers at most one refetch per ``kid_cooldown`` per URI (the penalty box).
* When the IdP fails, the last good keys are served for ``stale_window`` past their
  expiry (``ResolvedKey.stale``); a circuit breaker per URI stops calling a dead IdP.

See ``docs/decisions/0003-jwks-cache.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, NamedTuple
from urllib.parse import urlsplit

from .bounded import BoundedTable
from .breaker import CircuitBreaker
from .counters import Counters
from .discovery import Discovery
from .errors import Reason, TokenRejected
from .fetch import FetchBudget, Fetcher, safe_url
from .identifiers import ASYMMETRIC_ALGORITHMS
from .jwk_set import KeySet, ResolvedKey, definite_miss, miss, parse_jwks
from .refresh import Outcome, Refresher, Slot, slot_in

if TYPE_CHECKING:
    from .settings import Settings
    from .tenant import IssuerConfig

# A slot is sized by its last document (a JWKS may be 256 KB); metadata slots are small.
_SLOT_BASE: Final = 2048
_KEY_SETS_BYTES: Final = 32 * 1024 * 1024


class JwksStats(NamedTuple):
    """Counters since the cache was created (for telemetry and benchmarks)."""

    fetches: int = 0  # JWKS requests made
    failures: int = 0  # JWKS or discovery requests that failed (network, status, garbage)
    stale_serves: int = 0  # keys served past max-age because the IdP failed
    kid_refetches: int = 0  # JWKS requests made because of an unknown kid
    discovery_fetches: int = 0  # discovery metadata requests made
    discovery_stale_serves: int = 0  # metadata used past its max-age because the IdP failed
    circuit_rejections: int = 0  # requests not made because the URI's circuit was open


class JwksCache:
    """Resolves the public key of a token; one instance per process, shared by threads."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        clock: Callable[[], float] = time.monotonic,
        default_max_age: float = 600,
        min_max_age: float = 60,
        max_max_age: float = 86_400,
        kid_cooldown: float = 30,
        stale_window: float = 3_600,
        discovery_max_age: float = 3_600,
        breaker: CircuitBreaker | None = None,
        counters: Counters | None = None,
        max_bytes: int = _KEY_SETS_BYTES,
    ) -> None:
        if not 0 < min_max_age <= max_max_age:
            raise ValueError("need 0 < min_max_age <= max_max_age")
        self._clock = clock
        self._default_max_age = default_max_age
        self._min_max_age = min_max_age
        self._max_max_age = max_max_age
        self._kid_cooldown = kid_cooldown
        self._stale_window = stale_window
        self.counters = counters if counters is not None else Counters()
        breaker = breaker if breaker is not None else CircuitBreaker(clock=clock)
        self._refresher = Refresher(fetcher, breaker, self.counters, clock)
        self._jwks: BoundedTable[str, Slot[KeySet]] = BoundedTable(max_bytes)
        self._discovery = Discovery(
            self._refresher,
            self.counters,
            clock,
            max_age=discovery_max_age,
            stale_window=stale_window,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        fetcher: Fetcher,
        *,
        clock: Callable[[], float] = time.monotonic,
        counters: Counters | None = None,
    ) -> JwksCache:
        """The cache the function runs with: ``TENANT_AUTHZ_JWKS_*`` and the kid cooldown.

        ``TENANT_AUTHZ_JWKS_MAX_AGE_SECONDS`` is both the lifetime of a key set that comes
        without ``Cache-Control`` and the cap on one that comes with it: a key removed at
        the IdP stops verifying within it, whatever max-age the IdP sent.
        """
        return cls(
            fetcher,
            clock=clock,
            default_max_age=settings.jwks_max_age,
            min_max_age=min(60.0, settings.jwks_max_age),
            max_max_age=settings.jwks_max_age,
            kid_cooldown=settings.kid_cooldown,
            stale_window=settings.jwks_stale,
            counters=counters,
        )

    # ------------------------------------------------------------------ public API

    @property
    def stats(self) -> JwksStats:
        """A snapshot of the counters."""
        c = self.counters
        return JwksStats(
            c.jwks_fetches,
            c.jwks_failures,
            c.stale_key_serves,
            c.kid_refetches,
            c.discovery_fetches,
            c.discovery_stale_serves,
            c.circuit_rejections,
        )

    @property
    def key_set_bytes(self) -> int:
        """The memory the key sets hold, by the table's own accounting."""
        return self._jwks.bytes

    def get_key(
        self,
        issuer: IssuerConfig,
        kid: str | None,
        alg: str,
        tenant_id: str | None = None,
        budget: float | None = None,
    ) -> ResolvedKey:
        """The key that verifies a token of ``issuer`` with header ``kid`` and ``alg``.

        Raises TokenRejected (kid unknown or missing, alg unfit for the key) or
        PlatformFault (keys unavailable, circuit open); never returns a key that the
        issuer's current or stale-if-error JWKS does not publish for ``alg``. The fetches
        it makes (discovery, then keys) share ``budget`` seconds, counted from the first.
        """
        if kid is not None and not isinstance(kid, str):  # a JSON header can hold anything
            raise TokenRejected(
                Reason.TOKEN_MALFORMED, "kid is not a string", tenant_id=tenant_id,
                issuer=issuer.issuer,
            )  # fmt: skip
        if alg not in ASYMMETRIC_ALGORITHMS or alg not in issuer.algorithms:
            raise TokenRejected(
                Reason.ALGORITHM_NOT_ALLOWED,
                f"{alg!r} is not a JWKS algorithm of this issuer",
                tenant_id=tenant_id,
                kid=kid,
                issuer=issuer.issuer,
            )
        now = self._clock()
        jwks_uri = issuer.jwks_uri
        spend = None  # made only when a fetch may follow: not for a warm key's hit
        if jwks_uri is None:
            spend = FetchBudget(budget)
            jwks_uri = self._discovery.jwks_uri(issuer, now, kid, tenant_id, spend)
        slot = self._jwks.get(jwks_uri)
        if slot is not None:
            keys = slot.current
            if keys is not None and now < keys.expires_at:
                hit = keys.resolved.get((kid, alg))
                if hit is not None:
                    return hit
        if spend is None:
            spend = FetchBudget(budget)
        return self._get_key_slow(issuer, jwks_uri, kid, alg, tenant_id, spend=spend)

    def introspection_endpoint(
        self, issuer: IssuerConfig, tenant_id: str | None, spend: FetchBudget
    ) -> str:
        """The issuer's metadata's introspection_endpoint (RFC 8414), through the same
        discovery cache, breaker and budget as its jwks_uri."""
        return self._discovery.introspection_endpoint(issuer, self._clock(), tenant_id, spend)

    def is_current(self, jwks_uri: str, generation: int, kid: str | None, alg: str) -> bool:
        """Whether the key for ``kid``/``alg`` resolved at ``generation`` is still published.

        False once the key set is past its max-age, so that a caller caching decisions
        comes back through :meth:`get_key` and lets the cache refresh. A kid-less key is
        current only while its generation is. Keys are told apart by ``kid`` *and*
        ``alg``: two keys under one ``kid`` (an RSA and an EC key) are two keys, and the
        removal of either ends what it verified. No I/O.
        """
        slot = self._jwks.get(jwks_uri)
        keys = slot.current if slot is not None else None
        if keys is None or self._clock() >= keys.expires_at:
            return False
        if keys.generation == generation:
            return True
        if kid is None:
            return False
        since = keys.since.get((kid, alg))
        return since is not None and since <= generation

    # ------------------------------------------------------------------ discovery

    # ------------------------------------------------------------------ JWKS

    def _get_key_slow(
        self,
        issuer: IssuerConfig,
        jwks_uri: str,
        kid: str | None,
        alg: str,
        tenant_id: str | None,
        *,
        spend: FetchBudget,
    ) -> ResolvedKey:
        slot = slot_in(self._jwks, jwks_uri, _SLOT_BASE)
        seen = slot.attempts  # read before `current`: see Refresher.refresh
        keys = slot.current
        now = self._clock()
        counters: tuple[str, ...] = ("jwks_fetches",)
        if keys is not None and now < keys.expires_at:
            hit = keys.resolved.get((kid, alg))
            if hit is not None:
                return hit
            definite = definite_miss(keys, kid, alg, issuer.issuer, tenant_id)
            if definite is not None:
                raise definite
            if now - slot.last_attempt_at < self._kid_cooldown:
                raise miss(keys, kid, alg, issuer.issuer, tenant_id)
            counters = ("jwks_fetches", "kid_refetches")
        size = [_SLOT_BASE]

        def parse(body: dict[str, Any], max_age: int | None, previous: KeySet | None) -> KeySet:
            size[0] = _SLOT_BASE + 4 * len(body.get("keys") or ()) * 1024
            return parse_jwks(body, jwks_uri, self._clock() + self._lifetime(max_age), previous)

        outcome = self._refresher.refresh(
            slot,
            jwks_uri,
            seen,
            local_development=issuer.local_development,
            # A jwks_uri the tenant file names, or one on the issuer's own host; never a
            # private address an IdP's metadata points to elsewhere.
            private_ok=issuer.jwks_uri is not None or _same_host(jwks_uri, issuer.issuer),
            spend=spend,
            parse=parse,
            counters=counters,
        )
        if outcome.fetched and outcome.error is None:
            self._jwks.put(jwks_uri, slot, size[0])  # its new size, as the newest entry
        return self._after_refresh(
            slot, outcome, jwks_uri, kid=kid, alg=alg, issuer=issuer, tenant_id=tenant_id
        )

    def _after_refresh(
        self,
        slot: Slot[KeySet],
        outcome: Outcome,
        jwks_uri: str,
        *,
        kid: str | None,
        alg: str,
        issuer: IssuerConfig,
        tenant_id: str | None,
    ) -> ResolvedKey:
        """The key once a refresh has run: fresh, stale (if the IdP failed), or a refusal."""
        fetched = outcome.fetched
        keys = slot.current
        now = self._clock()
        if keys is not None and now < keys.expires_at:
            hit = keys.resolved.get((kid, alg))
            if hit is None:
                raise miss(keys, kid, alg, issuer.issuer, tenant_id)
            return hit._replace(fetched=True) if fetched else hit
        if keys is not None and now < keys.expires_at + self._stale_window:
            hit = keys.resolved.get((kid, alg))
            if hit is not None:
                self.counters.bump("stale_key_serves")
                return hit._replace(stale=True, fetched=fetched)
            definite = definite_miss(keys, kid, alg, issuer.issuer, tenant_id)
            if definite is not None:
                raise definite
            # An unknown kid with stale keys may be a new key we cannot fetch: a fault,
            # not the token's.
        raise outcome.fault(
            f"no usable keys from {safe_url(jwks_uri)}",
            tenant_id=tenant_id,
            kid=kid,
            issuer=issuer.issuer,
        ) from outcome.error

    def _lifetime(self, max_age: int | None) -> float:
        """How long a fetched key set stays fresh: the IdP's max-age, clamped."""
        if max_age is None:
            return self._default_max_age
        return min(max(max_age, self._min_max_age), self._max_max_age)


def _same_host(url: str, other: str) -> bool:
    return (urlsplit(url).hostname or "") == (urlsplit(other).hostname or "-")
