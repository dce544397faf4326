"""Account documents in memory, kept current by the change index (decision 0019).

With the index deployed (``{prefix}/index/root``), a warm instance checks the root once
per config TTL (jittered, one read whatever it holds), re-reads the shard markers whose
hash moved and marks *dirty* only the documents whose content hash changed; a dirty
document is read again on its next use (:mod:`.change_index`). An account missing from a
current shard marker is unbound with no read at all. Without an index (an older
deployment, the local gateway's files) each document is re-read on use once its TTL has
run out.

Failures are remembered: a read that failed with nothing to fall back on, and a document
that does not parse, answer the same fault without a read until a jittered backoff runs
out (or, for a broken document under the index, until its hash changes). When the source
fails with a document in hand, the document is served stale (``stale_config_serves``)
for at most ``stale_window`` past its TTL, then the account fails closed.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Final

from .account import AccountDocument, parse_account_document
from .bounded import BoundedTable
from .change_index import ChangeIndex, Moved
from .counters import Counters
from .errors import ConfigError, PlatformFault, Reason
from .index import account_parameter, content_hash
from .reader import ConfigReader, backoff
from .sources import MAX_NAMES, SourceUnavailable

# A parsed account document holds about six times its JSON (measured with tracemalloc).
_BYTES_PER_CHARACTER: Final = 6
_FAILED_BASE: Final = 0.5  # a failed cold read is tried again after ~0.5 s, 1 s, 2 s... 5 s
_FAILED_CAP: Final = 5.0
_WANTED: Final = 64  # accounts whose cold read failed, carried along by the next reads
_STALE_CAP: Final = 60.0  # a refresh that failed is retried after retry_after, doubling


class Account:
    """What one account's parameter held when last read, and when to read it again."""

    __slots__ = (
        "_document",
        "drifts",
        "error",
        "failures",
        "fresh_until",
        "hash",
        "previous",
        "raw",
        "retry_at",
        "shard",
        "stale",
        "stale_until",
    )

    def __init__(self, raw: str | None, shard: str | None) -> None:
        self.raw = raw  # None: the account has no document (unbound)
        self.hash = None if raw is None else content_hash(raw)
        self.shard = shard  # its shard under the index
        self._document: AccountDocument | None = None  # parsed on first use
        self.previous: AccountDocument | None = None  # the document this one replaces
        self.error: PlatformFault | None = None  # a remembered failure, raised anew each time
        self.failures = 0
        self.drifts = 0  # reads in a row whose hash was not the index's
        self.stale = False  # the last read failed: served as it was until retry_at
        self.fresh_until = math.inf
        self.stale_until = math.inf
        self.retry_at = -math.inf

    def document(self, account_id: str) -> AccountDocument | None:
        """The parsed document; :class:`ConfigError` when it does not parse."""
        if self.raw is not None and self._document is None:
            previous, self.previous = self.previous, None
            self._document = parse_account_document(
                self.raw, f"account {account_id}", account_id, previous
            )
        return self._document


def _closed(entry: Account) -> None:
    entry.fresh_until = -math.inf


class AccountCache:
    """Account documents of one warm instance, read through a :class:`ConfigReader`."""

    def __init__(
        self,
        reader: ConfigReader,
        counters: Counters,
        *,
        ttl: float,
        stale_window: float,
        retry_after: float,
        max_bytes: int,
        clock: Callable[[], float],
    ) -> None:
        self.reader = reader
        self.ttl = ttl
        self.stale_window = stale_window
        self.retry_after = retry_after
        self.clock = clock
        self.counters = counters
        self.index = ChangeIndex(
            reader, counters, ttl=ttl, stale_window=stale_window, retry_after=retry_after
        )
        # An entry that leaves the table (evicted, replaced) is closed for the registry's
        # fast path, which holds resolutions by reference to it.
        self._accounts: BoundedTable[str, Account] = BoundedTable(max_bytes, evicted=_closed)
        # Accounts asked for whose read failed (throttling), with how often they were asked
        # since: every read that gets through carries the most asked-for that fit.
        self._wanted: dict[str, int] = {}
        self._lock = threading.RLock()

    def clear(self) -> None:
        """Forget everything: the next lookup reads as a cold instance does."""
        with self._lock:
            self._accounts.clear()
            self._wanted.clear()
            self.index.clear()

    # ------------------------------------------------------------------ lookups

    def get(self, account_id: str) -> tuple[Account, bool]:
        """The entry for ``account_id`` and whether it is served stale; faults otherwise.

        A decision spends at most the reader's budget (plus one call) on SSM, the index
        check included.
        """
        with self._lock:
            now = self.clock()
            deadline = self.reader.deadline()
            index = self.index
            if index.mode == "index" and now >= index.horizon:
                self._mark(index.check(now, deadline), now)
                index.commit()
            if not index.alive(now):
                # No good check for ttl + stale_window: documents by their own TTL from
                # now on, until a read finds the index again.
                self._mark(index.demote(), now, stale_for=0.0)
                index.commit()
            failing = index.failing()
            entry = self._accounts.get(account_id)
            if entry is not None and entry.error is not None and now < entry.retry_at:
                if account_id in self._wanted:
                    self._wanted[account_id] += 1
                raise PlatformFault(entry.error.reason, entry.error.detail)
            if entry is not None and entry.error is None:
                if now < entry.fresh_until:
                    return self._parsed(account_id, entry, now), failing
                if entry.stale and now < entry.retry_at and now < entry.stale_until:
                    return self._parsed(account_id, entry, now), True  # next try not yet due
            if index.mode == "index" and index.absent(account_id):
                # The index (if failing, as last read) lists no document: no read at all.
                return Account(None, index.shard(account_id)), failing
            return self._read(account_id, entry, now, deadline)

    def _parsed(self, account_id: str, entry: Account, now: float) -> Account:
        try:
            entry.document(account_id)
        except ConfigError as exc:
            # A broken document is a deploy error: this account fails closed, remembered
            # until its hash changes under the index, else for a TTL.
            entry.error = PlatformFault(Reason.TENANT_CONFIG_INVALID, str(exc))
            entry.retry_at = math.inf if self.index.covered(account_id) else now + self.ttl
            raise PlatformFault(entry.error.reason, entry.error.detail) from exc
        return entry

    # ------------------------------------------------------------------ reads

    def _read(
        self, account_id: str, entry: Account | None, now: float, deadline: float
    ) -> tuple[Account, bool]:
        names = [account_parameter(account_id), *self.index.names_with(account_id)]
        wanted = sorted(self._wanted, key=self._wanted.__getitem__, reverse=True)
        names += [account_parameter(a) for a in wanted if a != account_id][: MAX_NAMES - len(names)]
        if len(names) < MAX_NAMES:  # room left: neighbours this instance has not read
            neighbours = self.index.neighbours(account_id, self._accounts.get)
            names += [n for n in neighbours if n not in names][: MAX_NAMES - len(names)]
        fallback = entry is not None and entry.error is None and now < entry.stale_until
        try:
            values = self.reader.read(names, retry=not fallback, deadline=deadline)
        except SourceUnavailable as exc:
            # Backoffs count from the end of the attempts, not from their start.
            return self._failed(account_id, entry if fallback else None, self.clock(), exc)
        now = self.clock()
        self._mark(self.index.learn(values, now, deadline), now)
        self.index.commit()
        for name, raw in values.items():
            if name.startswith("accounts/"):
                other = name.removeprefix("accounts/")
                self._store(other, self._entry(other, raw, now))
                self._wanted.pop(other, None)
        held = self._accounts.get(account_id)
        if held is None:  # larger than the whole table: used once, not kept
            held = self._entry(account_id, values[names[0]], now)
        return self._parsed(account_id, held, now), False

    def _failed(
        self, account_id: str, entry: Account | None, now: float, exc: SourceUnavailable
    ) -> tuple[Account, bool]:
        if entry is not None:
            self.counters.bump("stale_config_serves")
            entry.failures += 1
            entry.stale = True
            step = backoff(entry.failures, self.retry_after, _STALE_CAP, self.reader.random)
            entry.retry_at = min(now + step, entry.stale_until)
            return self._parsed(account_id, entry, now), True
        failed = Account(None, None)
        failed.error = PlatformFault(
            Reason.TENANT_CONFIG_UNAVAILABLE, f"account:{account_id}: {exc}"
        )
        previous = self._accounts.get(account_id)
        failed.failures = (previous.failures if previous is not None else 0) + 1
        failed.retry_at = now + backoff(
            failed.failures, _FAILED_BASE, _FAILED_CAP, self.reader.random
        )
        self._accounts.put(account_id, failed, 300)
        self._wanted[account_id] = self._wanted.get(account_id, 0) + 1
        if len(self._wanted) > _WANTED:  # forget the least asked-for
            del self._wanted[min(self._wanted, key=self._wanted.__getitem__)]
        raise PlatformFault(failed.error.reason, failed.error.detail) from exc

    def _entry(self, account_id: str, raw: str | None, now: float) -> Account:
        held = self._accounts.get(account_id)
        if held is not None and held.error is None and held.raw == raw:
            entry = held  # the same bytes: keep the parsed document (and the memo's entries)
            entry.failures = 0
            entry.stale = False
            entry.retry_at = -math.inf
            entry.shard = self.index.shard(account_id)  # the shard count may have changed
        else:
            entry = Account(raw, self.index.shard(account_id))
            if held is not None and held.error is None:
                entry.previous = held._document or held.previous
        if self.index.covered(account_id):
            entry.fresh_until = entry.stale_until = math.inf
            if self.index.disagrees(account_id, entry.hash):
                # Not what the index says: a write still settling (look again shortly), or
                # a document changed by hand (the gap doubles up to the TTL).
                entry.drifts += 1
                step = min(self.ttl, self.retry_after * 2.0 ** (entry.drifts - 1))
                entry.fresh_until = now + step
                entry.stale_until = now + self.stale_window
                self.counters.bump("index_drifts")
            else:
                entry.drifts = 0
        else:
            entry.fresh_until = now + self.ttl
            entry.stale_until = entry.fresh_until + self.stale_window
        return entry

    def _store(self, account_id: str, entry: Account) -> None:
        size = 200 if entry.raw is None else 2048 + _BYTES_PER_CHARACTER * len(entry.raw)
        self._accounts.put(account_id, entry, size)

    def _mark(self, moved: Moved | None, now: float, stale_for: float | None = None) -> None:
        """Entries of moved shards are read again on next use, unless their hash is known.

        Until read, each may still be served stale for ``stale_for`` seconds (default the
        stale window) if SSM fails; 0 when the index itself is past its stale window.
        """
        if moved is None:
            return
        for account_id, entry in self._accounts.items():
            if moved.shards is not None and entry.shard not in moved.shards:
                continue
            marker = moved.markers.get(entry.shard or "")
            if marker is not None and marker.get(account_id) == entry.hash:
                continue  # its own document did not change
            if marker is not None and account_id not in marker:
                # The index says the document is gone: unbound now, never served stale.
                self._store(account_id, Account(None, entry.shard))
            elif entry.error is not None:
                entry.retry_at = now  # a broken document may be fixed: try on next use
            else:
                entry.fresh_until = -math.inf
                window = self.stale_window if stale_for is None else stale_for
                entry.stale_until = min(entry.stale_until, now + window)
