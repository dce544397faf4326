"""The tenant registry: which tenant a calling API belongs to, and that tenant's config.

Account documents come from :class:`~.accounts.AccountCache` (SSM in Lambda, read lazily
on an account's first call and kept current by the change index, decision 0019); this
module resolves a caller's API and stage to its binding, caches that resolution on the
warm path, checks the alias the call came through, and holds the HS* shared secrets
(SecureString), each re-read once per TTL and served stale when SSM fails.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, NamedTuple

from .account import TenantRuntime
from .accounts import Account, AccountCache
from .bounded import BoundedTable
from .caller import Caller
from .counters import Counters
from .errors import AliasMismatch, PlatformFault, Reason, TenantNotBound
from .reader import ConfigReader
from .sources import ConfigSource, SourceUnavailable

if TYPE_CHECKING:
    from .tenant import Binding


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


class _Secret:
    __slots__ = ("fresh_until", "stale_until", "value")

    def __init__(self, value: bytes | None, fresh_until: float, stale_until: float) -> None:
        self.value = value
        self.fresh_until = fresh_until
        self.stale_until = stale_until


_ACCOUNTS_BYTES: Final = 96 * 1024 * 1024  # 10,000 typical accounts, with room
_RESOLVED_BYTES: Final = 4 * 1024 * 1024
_SECRETS_BYTES: Final = 256 * 1024


class TenantRegistry:
    """Resolves callers to tenants over an :class:`AccountCache`; holds HS* secrets."""

    __slots__ = (
        "_cache",
        "_index",
        "_resolved",
        "_secrets",
        "_secrets_lock",
        "clock",
        "counters",
        "reader",
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
        budget: float = 2.0,
        max_bytes: int = _ACCOUNTS_BYTES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        counters: Counters | None = None,
    ) -> None:
        self.source = source
        self.ttl = ttl
        self.stale_window = stale_window
        self.clock = clock
        self.counters = counters if counters is not None else Counters()
        self.reader = ConfigReader(
            source, self.counters, budget=budget, clock=clock, sleep=sleep, rand=rand
        )
        self._cache = AccountCache(
            self.reader,
            self.counters,
            ttl=ttl,
            stale_window=stale_window,
            retry_after=retry_after,
            max_bytes=max_bytes,
            clock=clock,
        )
        self._index = self._cache.index  # its horizon bounds the fast path
        # The resolution of an API and stage, keyed without the path (client paths cannot
        # grow it), usable while its account entry is fresh.
        self._resolved: BoundedTable[str, tuple[Account, Resolution]] = BoundedTable(
            _RESOLVED_BYTES
        )
        self._secrets: BoundedTable[str, _Secret] = BoundedTable(_SECRETS_BYTES)
        self._secrets_lock = threading.Lock()

    @property
    def stats(self) -> RegistryStats:
        """A snapshot of the counters."""
        c = self.counters
        return RegistryStats(c.ssm_fetches, c.ssm_failures, c.stale_config_serves)

    @property
    def mode(self) -> str:
        """How documents are kept current: ``index``, ``direct`` (by TTL) or ``unknown``."""
        return self._cache.index.mode

    def lookup(self, caller: Caller, qualifier: str | None = None) -> Resolution:
        """The binding and tenant for ``caller``; :class:`TenantNotBound` or a fault otherwise.

        ``qualifier`` is the alias the function was invoked through (None: unqualified, a
        call only the platform's own principals can make). A call through an alias decides
        only for accounts whose document names that alias (:class:`AliasMismatch`).
        """
        fast = self._resolved.get(caller.binding_key)  # the warm path
        now = self.clock()
        if fast is not None and now < fast[0].fresh_until and now < self._index.horizon:
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
        entry, stale = self._cache.get(caller.account_id)
        document = entry.document(caller.account_id)
        resolved = document.resolve(caller.api_id, caller.stage) if document else None
        if resolved is None:
            detail = (
                document.unbound_detail(caller.api_id, caller.stage)
                if document
                else f"no tenant bound to {caller.account_id}/{caller.api_id}/{caller.stage}"
            )
            raise TenantNotBound(Reason.TENANT_NOT_BOUND, detail)
        assert document is not None  # noqa: S101  (resolved implies a document)
        resolution = Resolution(resolved[0], resolved[1], stale, document.alias)
        if not stale:
            self._resolved.put(caller.binding_key, (entry, resolution), 300)
        return resolution

    def invalidate(self) -> None:
        """Forget every cached document and secret: the next lookups read the source again."""
        self._cache.clear()
        self._secrets.clear()
        self._resolved.clear()

    # ------------------------------------------------------------------ secrets

    def secret(self, name: str, *, tenant_id: str) -> bytes:
        """A decrypted HS* secret; :class:`PlatformFault` when it cannot be had."""
        held = self._secrets.get(name)
        now = self.clock()
        if held is None or now >= held.fresh_until:
            held = self._refresh_secret(name, held, tenant_id)
        if held.value is None:
            raise PlatformFault(
                Reason.SECRET_UNAVAILABLE, f"secret parameter {name} not found", tenant_id=tenant_id
            )
        return held.value

    def _refresh_secret(self, name: str, held: _Secret | None, tenant_id: str) -> _Secret:
        with self._secrets_lock:
            now = self.clock()
            current = self._secrets.get(name)
            if current is not None and now < current.fresh_until:
                return current  # another thread refreshed it while we waited
            try:
                value = self.reader.secret(name)
            except SourceUnavailable as exc:
                if held is not None and now < held.stale_until:
                    self.counters.bump("stale_config_serves")
                    held.fresh_until = min(now + self._cache.retry_after, held.stale_until)
                    return held
                raise PlatformFault(
                    Reason.TENANT_CONFIG_UNAVAILABLE, f"secret:{name}: {exc}", tenant_id=tenant_id
                ) from exc
            fresh = _Secret(value, now + self.ttl, now + self.ttl + self.stale_window)
            self._secrets.put(name, fresh, 200 + (len(value) if value else 0))
            return fresh
