"""The tenant registry: which tenant a calling API belongs to, and that tenant's config.

Reads one account document per tenant account from a
:class:`~tenant_authorizer.runtime.sources.ConfigSource` (SSM in Lambda), lazily, the
first time that account calls. Documents are cached in memory with a TTL on the
monotonic clock, bounded, and served stale for a bounded window when the source fails;
unbound accounts are cached too, so a misconfigured caller cannot turn into an SSM
request per invocation. HS* shared secrets (SecureString) are cached the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from cachetools import LRUCache

from .account import AccountDocument, TenantRuntime, parse_account_document
from .caller import Caller
from .errors import AliasMismatch, ConfigError, PlatformFault, Reason, TenantNotBound
from .sources import ConfigSource, SourceUnavailable

if TYPE_CHECKING:
    from .tenant import Binding


class _Entry:
    __slots__ = ("fresh_until", "stale", "stale_until", "value")

    def __init__(
        self, value: Any, fresh_until: float, stale_until: float, stale: bool = False
    ) -> None:
        self.value = value
        self.fresh_until = fresh_until
        self.stale_until = stale_until
        self.stale = stale  # served past its TTL because the last refresh failed


class RegistryStats:
    """Counters for telemetry and benchmarks."""

    __slots__ = ("failures", "fetches", "stale_serves")

    def __init__(self, fetches: int = 0, failures: int = 0, stale_serves: int = 0) -> None:
        self.fetches = fetches
        self.failures = failures
        self.stale_serves = stale_serves

    @property
    def events(self) -> int:
        """Changes whenever any counter does: a cheap "did anything happen" check."""
        return self.fetches + self.failures + self.stale_serves


class Resolution(NamedTuple):
    """The outcome of a registry lookup for one caller."""

    binding: Binding
    tenant: TenantRuntime
    stale: bool
    alias: str  # the alias that serves the caller's account


class TenantRegistry:
    """Caches account documents and secrets from a :class:`ConfigSource`."""

    __slots__ = (
        "_accounts",
        "_locks",
        "_locks_guard",
        "_resolved",
        "_secrets",
        "_table_lock",
        "clock",
        "max_accounts",
        "retry_after",
        "source",
        "stale_window",
        "stats",
        "ttl",
    )

    def __init__(
        self,
        source: ConfigSource,
        *,
        ttl: float = 60.0,
        stale_window: float = 900.0,
        retry_after: float = 5.0,
        max_accounts: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        stats: RegistryStats | None = None,
    ) -> None:
        self.source = source
        self.ttl = ttl
        self.stale_window = stale_window
        self.retry_after = retry_after
        self.max_accounts = max_accounts
        self.clock = clock
        self.stats = RegistryStats() if stats is None else stats
        self._accounts: LRUCache[str, _Entry] = LRUCache(maxsize=max_accounts)
        self._secrets: LRUCache[str, _Entry] = LRUCache(maxsize=1024)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._table_lock = threading.Lock()
        self._resolved: dict[str, tuple[float, Resolution]] = {}

    def lookup(self, caller: Caller, qualifier: str | None = None) -> Resolution:
        """The binding and tenant for ``caller``; :class:`TenantNotBound` or a fault otherwise.

        ``qualifier`` is the alias the function was invoked through (None: unqualified, a
        call only the platform's own principals can make). A call through an alias decides
        only for accounts whose document names that alias (:class:`AliasMismatch`).
        """
        # Warm path: the resolution of this API and stage, valid while its account entry is
        # (keyed without the path, so that client paths cannot grow this dict).
        fast = self._resolved.get(caller.binding_key)
        if fast is not None and self.clock() < fast[0]:
            resolution = fast[1]
        else:
            resolution = self._resolve(caller)
        if qualifier is not None and qualifier != resolution.alias:
            raise AliasMismatch(
                Reason.ALIAS_MISMATCH,
                f"called through alias {qualifier[:128]!r}, account {caller.account_id} is "
                f"served by {resolution.alias!r}",
                tenant_id=resolution.tenant.config.tenant_id,
            )
        return resolution

    def _resolve(self, caller: Caller) -> Resolution:
        document, stale, fresh_until = self._get(
            self._accounts, f"account:{caller.account_id}", caller.account_id, self._load_account
        )
        resolved = document.resolve(caller.api_id, caller.stage) if document else None
        if resolved is None:
            detail = (
                document.unbound_detail(caller.api_id, caller.stage)
                if document
                else f"no tenant bound to {caller.account_id}/{caller.api_id}/{caller.stage}"
            )
            raise TenantNotBound(Reason.TENANT_NOT_BOUND, detail)
        resolution = Resolution(resolved[0], resolved[1], stale, document.alias)
        if len(self._resolved) >= 4 * self.max_accounts:
            self._resolved.clear()  # bounded; rebuilt from the account entries in microseconds
        self._resolved[caller.binding_key] = (fresh_until, resolution)
        return resolution

    def invalidate(self) -> None:
        """Forget every cached document and secret: the next lookups read the source again."""
        with self._table_lock:
            self._accounts.clear()
            self._secrets.clear()
            self._resolved.clear()

    def secret(self, name: str, *, tenant_id: str) -> bytes:
        """A decrypted HS* secret; :class:`PlatformFault` when it cannot be had."""
        value, _, _ = self._get(self._secrets, f"secret:{name}", name, self._load_secret)
        if not isinstance(value, bytes):
            raise PlatformFault(
                Reason.SECRET_UNAVAILABLE, f"secret parameter {name} not found", tenant_id=tenant_id
            )
        return value

    def _get(
        self,
        cache: LRUCache[str, _Entry],
        lock_key: str,
        key: str,
        load: Callable[[str], Any],
    ) -> tuple[Any, bool, float]:
        now = self.clock()
        # cachetools caches reorder on read: every access holds the one table lock
        # (uncontended in Lambda; the threaded local gateway needs it).
        with self._table_lock:
            entry = cache.get(key)
        if entry is not None and now < entry.fresh_until:
            return entry.value, entry.stale, entry.fresh_until
        with self._lock_for(lock_key):
            with self._table_lock:
                entry = cache.get(key)
            now = self.clock()
            if entry is not None and now < entry.fresh_until:
                # Another thread refreshed it while we waited.
                return entry.value, entry.stale, entry.fresh_until
            try:
                self.stats.fetches += 1
                value = load(key)
            except SourceUnavailable as exc:
                self.stats.failures += 1
                if entry is not None and now < entry.stale_until:
                    self.stats.stale_serves += 1
                    # Back off: the next attempt waits, so an SSM outage is not hammered.
                    entry.fresh_until = min(now + self.retry_after, entry.stale_until)
                    entry.stale = True
                    return entry.value, True, entry.fresh_until
                raise PlatformFault(Reason.TENANT_CONFIG_UNAVAILABLE, f"{lock_key}: {exc}") from exc
            fresh_until = now + self.ttl
            with self._table_lock:
                cache[key] = _Entry(value, fresh_until, fresh_until + self.stale_window)
            return value, False, fresh_until

    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(key)
            if lock is None:
                if len(self._locks) > 4 * self.max_accounts:
                    self._locks.clear()
                lock = self._locks[key] = threading.Lock()
            return lock

    def _load_account(self, account_id: str) -> AccountDocument | None:
        raw = self.source.load_account(account_id)
        if raw is None:
            return None
        try:
            return parse_account_document(raw, f"account {account_id}", account_id)
        except ConfigError as exc:
            # A broken document is a deploy error: fail closed for this account only.
            raise PlatformFault(Reason.TENANT_CONFIG_INVALID, str(exc)) from exc

    def _load_secret(self, name: str) -> bytes | None:
        return self.source.load_secret(name)
