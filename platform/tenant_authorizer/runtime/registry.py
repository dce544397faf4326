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
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .account import AccountDocument, TenantRuntime, parse_account_document
from .bounded import BoundedTable
from .caller import Caller
from .counters import Counters
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


class RegistryStats(NamedTuple):
    """A snapshot of the registry's counters (tests, benchmarks, the local gateway)."""

    fetches: int
    failures: int
    stale_serves: int


class Resolution(NamedTuple):
    """The outcome of a registry lookup for one caller."""

    binding: Binding
    tenant: TenantRuntime
    stale: bool
    alias: str  # the alias that serves the caller's account


# A parsed account document holds about six times its JSON (measured with tracemalloc).
_DOCUMENT_BYTES_PER_CHARACTER: Final = 6
_ACCOUNTS_BYTES: Final = 96 * 1024 * 1024  # 10,000 typical accounts, with room
_RESOLVED_BYTES: Final = 4 * 1024 * 1024
_SECRETS_BYTES: Final = 256 * 1024
_MAX_LOCKS: Final = 40_000


class TenantRegistry:
    """Caches account documents and secrets from a :class:`ConfigSource`."""

    __slots__ = (
        "_accounts",
        "_locks",
        "_locks_guard",
        "_resolved",
        "_secrets",
        "clock",
        "counters",
        "retry_after",
        "source",
        "stale_window",
        "ttl",
    )

    def __init__(
        self,
        source: ConfigSource,
        *,
        ttl: float = 60.0,
        stale_window: float = 900.0,
        retry_after: float = 5.0,
        max_bytes: int = _ACCOUNTS_BYTES,
        clock: Callable[[], float] = time.monotonic,
        counters: Counters | None = None,
    ) -> None:
        self.source = source
        self.ttl = ttl
        self.stale_window = stale_window
        self.retry_after = retry_after
        self.clock = clock
        self.counters = counters if counters is not None else Counters()
        self._accounts: BoundedTable[str, _Entry] = BoundedTable(max_bytes)
        self._secrets: BoundedTable[str, _Entry] = BoundedTable(_SECRETS_BYTES)
        # The resolution of an API and stage, keyed without the path: client paths cannot
        # grow it. Valid while its account entry is fresh.
        self._resolved: BoundedTable[str, tuple[float, Resolution]] = BoundedTable(_RESOLVED_BYTES)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @property
    def stats(self) -> RegistryStats:
        """A snapshot of the counters."""
        c = self.counters
        return RegistryStats(c.ssm_fetches, c.ssm_failures, c.stale_config_serves)

    def lookup(self, caller: Caller, qualifier: str | None = None) -> Resolution:
        """The binding and tenant for ``caller``; :class:`TenantNotBound` or a fault otherwise.

        ``qualifier`` is the alias the function was invoked through (None: unqualified, a
        call only the platform's own principals can make). A call through an alias decides
        only for accounts whose document names that alias (:class:`AliasMismatch`).
        """
        fast = self._resolved.get(caller.binding_key)  # the warm path
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
        self._resolved.put(caller.binding_key, (fresh_until, resolution), 300)
        return resolution

    def invalidate(self) -> None:
        """Forget every cached document and secret: the next lookups read the source again."""
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
        cache: BoundedTable[str, _Entry],
        lock_key: str,
        key: str,
        load: Callable[[str], tuple[Any, int]],
    ) -> tuple[Any, bool, float]:
        entry = cache.get(key)
        if entry is not None and self.clock() < entry.fresh_until:
            return entry.value, entry.stale, entry.fresh_until
        with self._lock_for(lock_key):
            entry = cache.get(key)
            now = self.clock()
            if entry is not None and now < entry.fresh_until:
                # Another thread refreshed it while we waited.
                return entry.value, entry.stale, entry.fresh_until
            try:
                self.counters.bump("ssm_fetches")
                value, size = load(key)
            except SourceUnavailable as exc:
                self.counters.bump("ssm_failures")
                if entry is not None and now < entry.stale_until:
                    self.counters.bump("stale_config_serves")
                    # Back off: the next attempt waits, so an SSM outage is not hammered.
                    entry.fresh_until = min(now + self.retry_after, entry.stale_until)
                    entry.stale = True
                    return entry.value, True, entry.fresh_until
                raise PlatformFault(Reason.TENANT_CONFIG_UNAVAILABLE, f"{lock_key}: {exc}") from exc
            fresh_until = now + self.ttl
            cache.put(key, _Entry(value, fresh_until, fresh_until + self.stale_window), size)
            return value, False, fresh_until

    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(key)
            if lock is None:
                if len(self._locks) > _MAX_LOCKS:
                    self._locks.clear()  # locks only order refreshes: any new one will do
                lock = self._locks[key] = threading.Lock()
            return lock

    def _load_account(self, account_id: str) -> tuple[AccountDocument | None, int]:
        raw = self.source.load_account(account_id)
        if raw is None:
            return None, 200  # remembered too: an unbound caller costs one read per TTL
        try:
            document = parse_account_document(raw, f"account {account_id}", account_id)
        except ConfigError as exc:
            # A broken document is a deploy error: fail closed for this account only.
            raise PlatformFault(Reason.TENANT_CONFIG_INVALID, str(exc)) from exc
        return document, 2048 + _DOCUMENT_BYTES_PER_CHARACTER * len(raw)

    def _load_secret(self, name: str) -> tuple[bytes | None, int]:
        secret = self.source.load_secret(name)
        return secret, 200 + (len(secret) if secret else 0)
