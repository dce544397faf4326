"""Discovery and the JWKS cache: from an issuer config and a token's ``kid`` to a public key.

The warm path (metadata and keys cached and fresh) is a dict lookup and a clock read:
no lock, no I/O. Everything else happens on the slow path, once per JWKS URI at a time:

* ``jwks_uri`` comes from the issuer config or from discovery (OpenID Connect or
  RFC 8414); the metadata's ``issuer`` must equal the configured one exactly.
* A JWKS is parsed once per fetch into prepared keys indexed by ``(kid, alg)``; keys
  that cannot be used (wrong ``use``, symmetric, short RSA, unknown type or curve,
  private material) are skipped, never trusted.
* Freshness follows ``Cache-Control: max-age``, clamped. An unknown ``kid`` triggers
  at most one refetch per ``kid_cooldown`` per URI (the "penalty box").
* When the IdP fails, the last good keys are served for ``stale_window`` past their
  expiry (``ResolvedKey.stale``); a circuit breaker per URI stops calling a dead IdP.

See ``docs/decisions/0003-jwks-cache.md``.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Generic, NamedTuple, TypeVar
from urllib.parse import urlsplit

import jwt
from cachetools import LRUCache

from .breaker import CircuitBreaker
from .errors import FetchError, PlatformFault, Reason, TokenRejected
from .fetch import BudgetSpent, FetchBudget, Fetcher, FetchResult, safe_url
from .identifiers import ASYMMETRIC_ALGORITHMS

if TYPE_CHECKING:
    import logging

    from .settings import Settings
    from .tenant import IssuerConfig

_RSA_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_CURVE_ALGORITHM: Final = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_OKP_CURVES: Final = frozenset({"Ed25519", "Ed448"})
_MIN_RSA_BITS: Final = 2048
# Members that only private (or symmetric) JWKs carry: a JWKS that publishes them is
# broken beyond trusting, whatever the public part says.
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_generations = itertools.count(1)  # global, so a URI evicted and re-added never reuses one


def _logger() -> logging.Logger:
    """This module's logger; ``logging`` is imported only when a rare line is logged.

    Importing it (with ``traceback`` and ``textwrap``) costs ~4 ms of every cold start.
    """
    import logging  # noqa: PLC0415  (lazy on purpose, see above)

    return logging.getLogger(__name__)


# Value objects are NamedTuples rather than frozen dataclasses: ~0.2 ms instead of
# ~0.8 ms each at cold start.
class ResolvedKey(NamedTuple):
    """A public key for one token, and where and when it came from."""

    key: Any  # prepared public key object, ready for PyJWT's algorithm .verify()
    kid: str | None
    jwks_uri: str
    generation: int  # bumps every time the key set of this URI is replaced by a fetch
    stale: bool  # served past max-age because the IdP failed (stale-if-error)
    fetched: bool  # this call made a network request


class JwksStats(NamedTuple):
    """Counters since the cache was created (for telemetry and benchmarks)."""

    fetches: int = 0  # JWKS requests made
    failures: int = 0  # JWKS or discovery requests that failed (network, status, garbage)
    stale_serves: int = 0  # keys served past max-age because the IdP failed
    kid_refetches: int = 0  # JWKS requests made because of an unknown kid
    discovery_fetches: int = 0  # discovery metadata requests made
    discovery_stale_serves: int = 0  # metadata used past its max-age because the IdP failed
    circuit_rejections: int = 0  # requests not made because the URI's circuit was open


@functools.lru_cache(maxsize=4096)
def metadata_url(issuer: str, discovery: str) -> str:
    """The discovery metadata URL of ``issuer`` for ``discovery`` ``"oidc"`` or ``"oauth"``.

    OIDC appends ``/.well-known/openid-configuration`` to the issuer; RFC 8414 inserts
    ``/.well-known/oauth-authorization-server`` between the host and the issuer's path.
    """
    if discovery == "oidc":
        return issuer.rstrip("/") + "/.well-known/openid-configuration"
    if discovery == "oauth":
        parts = urlsplit(issuer)
        path = parts.path.rstrip("/")  # RFC 8414 section 3.1: drop a terminating "/"
        return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}"
    raise ValueError(f"no discovery for mode {discovery!r}")


class _InvalidDocument(Exception):
    """Raised when a fetched document is JSON but not a JWKS or metadata document."""


# Private records are plain slotted classes: ~0.01 ms at cold start, a NamedTuple ~0.2 ms.
class _KeySet:
    """One successful JWKS fetch, parsed; replaced whole, never mutated."""

    __slots__ = ("expires_at", "generation", "kids", "material", "per_alg", "resolved", "since")

    def __init__(
        self,
        *,
        resolved: Mapping[tuple[str | None, str], ResolvedKey],
        per_alg: Mapping[str, int],
        material: Mapping[tuple[str, str], str],
        since: Mapping[tuple[str, str], int],
        generation: int,
        expires_at: float,
    ) -> None:
        self.resolved = resolved  # (kid, alg) and (None, alg)
        self.per_alg = per_alg  # usable keys per algorithm (to explain a kid-less miss)
        # (kid, alg) -> canonical JWK that verifies it, to tell a re-used kid; one kid may
        # name several keys (an RSA and an EC key), so the alg is part of the identity.
        self.material = material
        self.since = since  # (kid, alg) -> first generation publishing this exact key
        self.kids = frozenset(kid for kid, _ in material)
        self.generation = generation
        self.expires_at = expires_at


class _Metadata:
    __slots__ = ("expires_at", "issuer", "jwks_uri")

    def __init__(self, issuer: str, jwks_uri: str, expires_at: float) -> None:
        self.issuer = issuer
        self.jwks_uri = jwks_uri
        self.expires_at = expires_at


_V = TypeVar("_V", _KeySet, _Metadata)
_S = TypeVar("_S")


class _Slot(Generic[_V]):
    """The state of one URI: the last good document and the bookkeeping of refreshes."""

    __slots__ = ("attempts", "current", "last_attempt_at", "last_error", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()  # one refresh at a time; waiters reuse its outcome
        self.current: _V | None = None
        self.attempts = 0  # finished fetch attempts, so a waiter can tell one happened
        self.last_attempt_at = -math.inf
        self.last_error: Exception | None = None


class _Outcome:
    __slots__ = ("circuit_open", "error", "fetched")

    def __init__(self, fetched: bool, error: Exception | None, circuit_open: bool) -> None:
        self.fetched = fetched
        self.error = error
        self.circuit_open = circuit_open


class _Order(LRUCache[str, None]):
    """LRU order of a :class:`_Table`'s keys; evicting one drops it from the table."""

    def __init__(self, maxsize: int, evict: Callable[[str], object]) -> None:
        super().__init__(maxsize=maxsize)
        self._evict = evict

    def popitem(self) -> tuple[str, None]:
        key, value = super().popitem()
        self._evict(key)
        return key, value


class _Table(Generic[_S]):
    """A bounded map with lock-free reads.

    cachetools caches must not be read without a lock while another thread writes
    (an LRU read reorders), so reads go to a plain dict and the LRU only keeps the
    order, updated under a lock on the slow path (creation and refresh).
    """

    def __init__(self, maxsize: int, factory: Callable[[], _S]) -> None:
        self._items: dict[str, _S] = {}
        self._order = _Order(maxsize, lambda key: self._items.pop(key, None))
        self._factory = factory
        self._lock = threading.Lock()

    def get(self, key: str) -> _S | None:
        return self._items.get(key)

    def get_or_create(self, key: str) -> _S:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                item = self._items[key] = self._factory()
            self._order[key] = None
            return item


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
        max_uris: int = 2_048,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        if not 0 < min_max_age <= max_max_age:
            raise ValueError("need 0 < min_max_age <= max_max_age")
        self._fetcher = fetcher
        self._clock = clock
        self._default_max_age = default_max_age
        self._min_max_age = min_max_age
        self._max_max_age = max_max_age
        self._kid_cooldown = kid_cooldown
        self._stale_window = stale_window
        self._discovery_max_age = discovery_max_age
        self._breaker = breaker if breaker is not None else CircuitBreaker(clock=clock)
        self._jwks: _Table[_Slot[_KeySet]] = _Table(max_uris, _Slot)
        self._discovery: _Table[_Slot[_Metadata]] = _Table(max_uris, _Slot)
        self._counters = dict.fromkeys(JwksStats._fields, 0)
        self._counters_lock = threading.Lock()
        self._events = 0

    @classmethod
    def from_settings(
        cls, settings: Settings, fetcher: Fetcher, *, clock: Callable[[], float] = time.monotonic
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
        )

    # ------------------------------------------------------------------ public API

    @property
    def stats(self) -> JwksStats:
        """A snapshot of the counters."""
        with self._counters_lock:
            return JwksStats(**self._counters)

    @property
    def events(self) -> int:
        """Changes whenever any counter does: a lock-free "did anything happen" check."""
        return self._events

    def get_key(
        self,
        issuer: IssuerConfig,
        kid: str | None,
        alg: str,
        *,
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
                Reason.TOKEN_MALFORMED,
                "kid is not a string",
                tenant_id=tenant_id,
                issuer=issuer.issuer,
            )
        if alg not in ASYMMETRIC_ALGORITHMS or alg not in issuer.algorithms:
            raise TokenRejected(
                Reason.ALGORITHM_NOT_ALLOWED,
                f"{alg!r} is not a JWKS algorithm of this issuer",
                tenant_id=tenant_id,
                kid=kid,
                issuer=issuer.issuer,
            )
        now = self._clock()
        spend = FetchBudget(budget)
        jwks_uri = issuer.jwks_uri or self._discovered_jwks_uri(issuer, now, kid, tenant_id, spend)
        slot = self._jwks.get(jwks_uri)
        if slot is not None:
            keys = slot.current
            if keys is not None and now < keys.expires_at:
                hit = keys.resolved.get((kid, alg))
                if hit is not None:
                    return hit
        return self._get_key_slow(issuer, jwks_uri, kid, alg, tenant_id, spend=spend)

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

    def _discovered_jwks_uri(
        self,
        issuer: IssuerConfig,
        now: float,
        kid: str | None,
        tenant_id: str | None,
        spend: FetchBudget,
    ) -> str:
        if issuer.discovery not in ("oidc", "oauth"):
            raise PlatformFault(
                Reason.JWKS_UNAVAILABLE,
                "issuer has neither jwks_uri nor discovery",
                tenant_id=tenant_id,
                kid=kid,
                issuer=issuer.issuer,
            )
        url = metadata_url(issuer.issuer, issuer.discovery)
        slot = self._discovery.get(url)
        metadata = slot.current if slot is not None else None
        if metadata is None or now >= metadata.expires_at:
            metadata = self._metadata_slow(issuer, url, kid, tenant_id, spend)
        if metadata.issuer != issuer.issuer:
            raise PlatformFault(
                Reason.JWKS_UNAVAILABLE,
                f"discovery at {safe_url(url)} names issuer {metadata.issuer!r}, configured is "
                f"{issuer.issuer!r} (misconfigured IdP or mix-up)",
                tenant_id=tenant_id,
                kid=kid,
                issuer=issuer.issuer,
            )
        jwks_uri = metadata.jwks_uri
        if not (
            jwks_uri.startswith("https://")
            or (issuer.local_development and jwks_uri.startswith("http://"))
        ):
            raise PlatformFault(
                Reason.JWKS_UNAVAILABLE,
                f"discovery at {safe_url(url)} gives a jwks_uri that is not https",
                tenant_id=tenant_id,
                kid=kid,
                issuer=issuer.issuer,
            )
        return jwks_uri

    def _metadata_slow(
        self,
        issuer: IssuerConfig,
        url: str,
        kid: str | None,
        tenant_id: str | None,
        spend: FetchBudget,
    ) -> _Metadata:
        slot = self._discovery.get_or_create(url)
        seen = slot.attempts
        metadata = slot.current
        if metadata is not None and self._clock() < metadata.expires_at:
            return metadata
        outcome = self._refresh(
            slot,
            url,
            seen,
            local_development=issuer.local_development,
            private_ok=True,  # derived from the configured issuer URL
            spend=spend,
            parse=self._parse_metadata,
            counters=("discovery_fetches",),
        )
        metadata = slot.current
        now = self._clock()
        if metadata is not None and now < metadata.expires_at:
            return metadata
        if metadata is not None and now < metadata.expires_at + self._stale_window:
            self._count("discovery_stale_serves")
            return metadata
        reason = Reason.ISSUER_CIRCUIT_OPEN if outcome.circuit_open else Reason.JWKS_UNAVAILABLE
        raise PlatformFault(
            reason,
            f"discovery metadata unavailable from {safe_url(url)}",
            tenant_id=tenant_id,
            kid=kid,
            issuer=issuer.issuer,
        ) from outcome.error

    def _parse_metadata(
        self, result: FetchResult, url: str, now: float, previous: _Metadata | None
    ) -> _Metadata:
        issuer = result.body.get("issuer")
        jwks_uri = result.body.get("jwks_uri")
        if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
            raise _InvalidDocument("metadata lacks a string issuer or jwks_uri")
        return _Metadata(issuer=issuer, jwks_uri=jwks_uri, expires_at=now + self._discovery_max_age)

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
        slot = self._jwks.get_or_create(jwks_uri)
        seen = slot.attempts  # read before `current`: see _refresh
        keys = slot.current
        now = self._clock()
        counters: tuple[str, ...] = ("fetches",)
        if keys is not None and now < keys.expires_at:
            hit = keys.resolved.get((kid, alg))
            if hit is not None:
                return hit
            definite = self._definite_miss(keys, kid, alg, issuer, tenant_id)
            if definite is not None:
                raise definite
            if now - slot.last_attempt_at < self._kid_cooldown:
                raise self._miss(keys, kid, alg, issuer, tenant_id)
            counters = ("fetches", "kid_refetches")
        outcome = self._refresh(
            slot,
            jwks_uri,
            seen,
            local_development=issuer.local_development,
            # A jwks_uri the tenant file names, or one on the issuer's own host; never a
            # private address an IdP's metadata points to elsewhere.
            private_ok=issuer.jwks_uri is not None or _same_host(jwks_uri, issuer.issuer),
            spend=spend,
            parse=self._parse_jwks,
            counters=counters,
        )
        keys = slot.current
        now = self._clock()
        if keys is not None and now < keys.expires_at:
            hit = keys.resolved.get((kid, alg))
            if hit is None:
                raise self._miss(keys, kid, alg, issuer, tenant_id)
            return hit._replace(fetched=True) if outcome.fetched else hit
        if keys is not None and now < keys.expires_at + self._stale_window:
            hit = keys.resolved.get((kid, alg))
            if hit is not None:
                self._count("stale_serves")
                return hit._replace(stale=True, fetched=outcome.fetched)
            definite = self._definite_miss(keys, kid, alg, issuer, tenant_id)
            if definite is not None:
                raise definite
            # An unknown kid with stale keys may be a new key we cannot fetch: a fault,
            # not the token's.
        reason = Reason.ISSUER_CIRCUIT_OPEN if outcome.circuit_open else Reason.JWKS_UNAVAILABLE
        raise PlatformFault(
            reason,
            f"no usable keys from {safe_url(jwks_uri)}",
            tenant_id=tenant_id,
            kid=kid,
            issuer=issuer.issuer,
        ) from outcome.error

    def _definite_miss(
        self,
        keys: _KeySet,
        kid: str | None,
        alg: str,
        issuer: IssuerConfig,
        tenant_id: str | None,
    ) -> TokenRejected | None:
        """The rejection a refetch cannot change: kid of another key type, or ambiguity."""
        if kid is not None and kid in keys.kids:
            return TokenRejected(
                Reason.ALGORITHM_NOT_ALLOWED,
                f"the key {kid!r} cannot verify {alg}",
                tenant_id=tenant_id,
                kid=kid,
                issuer=issuer.issuer,
            )
        count = keys.per_alg.get(alg, 0)
        if kid is None and count > 1:
            return TokenRejected(
                Reason.KID_MISSING,
                f"token has no kid and the JWKS has {count} {alg} keys",
                tenant_id=tenant_id,
                issuer=issuer.issuer,
            )
        return None

    def _miss(
        self,
        keys: _KeySet,
        kid: str | None,
        alg: str,
        issuer: IssuerConfig,
        tenant_id: str | None,
    ) -> TokenRejected:
        definite = self._definite_miss(keys, kid, alg, issuer, tenant_id)
        if definite is not None:
            return definite
        if kid is None:
            return TokenRejected(
                Reason.KID_MISSING,
                f"token has no kid and the JWKS has no {alg} key",
                tenant_id=tenant_id,
                issuer=issuer.issuer,
            )
        return TokenRejected(
            Reason.KID_UNKNOWN,
            f"kid not in the JWKS (for {alg})",
            tenant_id=tenant_id,
            kid=kid,
            issuer=issuer.issuer,
        )

    def _parse_jwks(
        self, result: FetchResult, jwks_uri: str, now: float, previous: _KeySet | None
    ) -> _KeySet:
        entries = result.body.get("keys")
        if not isinstance(entries, list):
            raise _InvalidDocument('not a JWKS: no "keys" list')
        generation = next(_generations)
        resolved: dict[tuple[str | None, str], ResolvedKey] = {}
        per_alg_keys: dict[str, list[ResolvedKey]] = {}
        material: dict[tuple[str, str], str] = {}
        skipped = 0
        for jwk in entries:
            prepared = _prepare(jwk)
            if prepared is None:
                skipped += 1
                continue
            key, kid, algorithms = prepared
            resolved_key = ResolvedKey(
                key=key,
                kid=kid,
                jwks_uri=jwks_uri,
                generation=generation,
                stale=False,
                fetched=False,
            )
            text = json.dumps(jwk, sort_keys=True) if kid is not None else ""
            for alg in algorithms:
                if kid is not None and (kid, alg) in resolved:
                    continue  # a duplicate kid for this alg: the first one published wins
                if kid is not None:
                    resolved[kid, alg] = resolved_key
                    material[kid, alg] = text
                per_alg_keys.setdefault(alg, []).append(resolved_key)
        for alg, candidates in per_alg_keys.items():
            if len(candidates) == 1:  # a kid-less token is fine only when unambiguous
                resolved[None, alg] = candidates[0]
        if skipped:
            _logger().info("JWKS %s: skipped %d unusable key(s)", safe_url(jwks_uri), skipped)
        since = {
            key: (
                previous.since[key]
                if previous is not None and previous.material.get(key) == jwk_text
                else generation
            )
            for key, jwk_text in material.items()
        }
        if result.max_age is None:
            max_age = self._default_max_age
        else:
            max_age = min(max(result.max_age, self._min_max_age), self._max_max_age)
        return _KeySet(
            resolved=resolved,
            per_alg={alg: len(candidates) for alg, candidates in per_alg_keys.items()},
            material=material,
            since=since,
            generation=generation,
            expires_at=now + max_age,
        )

    # ------------------------------------------------------------------ refresh

    def _refresh(
        self,
        slot: _Slot[_V],
        url: str,
        seen: int,
        *,
        local_development: bool,
        private_ok: bool,
        spend: FetchBudget,
        parse: Callable[[FetchResult, str, float, _V | None], _V],
        counters: tuple[str, ...],
    ) -> _Outcome:
        """Fetch ``url`` into ``slot`` unless another thread finished an attempt since ``seen``.

        Callers read ``slot.attempts`` before ``slot.current``; an attempt stores
        ``current`` before bumping ``attempts``, so a waiter that sees the count moved
        finds the new document (or the failure) and makes no request of its own. A waiter
        waits at most until its own ``deadline``.
        """
        deadline = spend.deadline()
        wait = -1.0 if deadline is None else max(deadline - time.perf_counter(), 0.0)
        if not slot.lock.acquire(timeout=wait):
            return _Outcome(
                fetched=False,
                error=FetchError(f"waited out the budget for {url}"),
                circuit_open=False,
            )
        try:
            if slot.attempts != seen:
                return _Outcome(fetched=False, error=slot.last_error, circuit_open=False)
            if deadline is not None and deadline <= time.perf_counter():
                # Nothing is asked of the issuer, so nothing is counted against it.
                spent = BudgetSpent(f"no time left in the network budget for {safe_url(url)}")
                return _Outcome(fetched=False, error=spent, circuit_open=False)
            if not self._breaker.allow(url):
                self._count("circuit_rejections")
                return _Outcome(fetched=False, error=slot.last_error, circuit_open=True)
            slot.last_attempt_at = self._clock()
            for name in counters:
                self._count(name)
            asked = True
            try:
                result = self._fetcher.get_json(
                    url,
                    local_development=local_development,
                    deadline=deadline,
                    private_ok=private_ok,
                )
                document = parse(result, url, self._clock(), slot.current)
            except BudgetSpent as exc:  # spent between the check above and the fetch
                asked = False
                slot.last_error = exc
            except (FetchError, _InvalidDocument) as exc:
                # A timeout is a failure too: a trickling IdP opens its own circuit.
                self._breaker.record_failure(url)
                self._count("failures")
                slot.last_error = exc
                _logger().warning("key fetch failed: %s", exc)  # exc names the URL, no body
            else:
                self._breaker.record_success(url)
                slot.current = document
                slot.last_error = None
            finally:
                slot.attempts += 1
            return _Outcome(fetched=asked, error=slot.last_error, circuit_open=False)
        finally:
            slot.lock.release()

    def _count(self, name: str) -> None:
        with self._counters_lock:
            self._counters[name] += 1
            self._events += 1


def _same_host(url: str, other: str) -> bool:
    return (urlsplit(url).hostname or "") == (urlsplit(other).hostname or "-")


def _prepare(jwk: object) -> tuple[Any, str | None, frozenset[str]] | None:
    """A usable public key from one JWK: (key object, kid, algorithms it may verify).

    None for anything unusable: not an object, ``use`` other than ``sig``, ``key_ops``
    without ``verify``, symmetric or private material, unknown type or curve, an RSA
    modulus under 2048 bits, an ``alg`` that does not fit the key, malformed numbers.
    """
    if not isinstance(jwk, dict):
        return None
    kid = jwk.get("kid")
    use = jwk.get("use")
    ops = jwk.get("key_ops")
    if (
        (kid is not None and not isinstance(kid, str))
        or (use is not None and use != "sig")
        or (ops is not None and (not isinstance(ops, list) or "verify" not in ops))
        or _PRIVATE_MEMBERS.intersection(jwk)
    ):
        return None
    kty = jwk.get("kty")
    crv = jwk.get("crv")
    if kty == "RSA":
        algorithms = _RSA_ALGORITHMS
        representative = "RS256"
    elif kty == "EC" and isinstance(crv, str) and crv in _EC_CURVE_ALGORITHM:
        representative = _EC_CURVE_ALGORITHM[crv]
        algorithms = frozenset({representative})
    elif kty == "OKP" and crv in _OKP_CURVES:
        representative = "EdDSA"
        algorithms = frozenset({representative})
    else:
        return None  # "oct" (never from a JWKS), unknown kty, unsupported curve
    declared = jwk.get("alg")
    if declared is not None:
        if declared not in algorithms:
            return None
        algorithms = frozenset({declared})
    try:
        key = jwt.PyJWK(jwk, algorithm=representative).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        _logger().info("JWKS key %r skipped: %s", kid, type(exc).__name__)
        return None
    if kty == "RSA" and getattr(key, "key_size", 0) < _MIN_RSA_BITS:
        return None
    return key, kid, algorithms
