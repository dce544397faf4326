"""One bounded table for the warm path's caches: a dict capped in bytes, oldest out first.

Entries vary in size by orders of magnitude (a 40-byte digest next to a context with a
hundred forwarded groups), so a count bound says nothing about memory: every entry is
put with its size and the table evicts its oldest entries until it fits ``max_bytes``.
Reads are a plain ``dict.get`` (about 30 ns, no lock and no reordering; cachetools'
LRU costs ~200 ns a read and its TLRU ~900 ns, measured in ``make bench``), so the order
is insertion order: a hot entry evicted by a flood is simply put again on its next use.
Writers hold a lock (the local gateway is threaded). ``expired`` lets a put drop stale
entries among the oldest now and then, so entries that can no longer be used do not
wait for eviction by size; entries made unusable otherwise (a changed tenant config) are
dropped when next read, or evicted.
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Callable, Hashable
from typing import Final, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# What a dict entry and a small object cost beyond their contents, in CPython 3.11-3.13.
ENTRY_OVERHEAD: Final = 120
# Every _SWEEP_EVERY puts, the _SWEEP oldest entries are looked at and the expired ones
# dropped: the oldest are the likeliest to be expired, and a check per put costs more.
_SWEEP_EVERY: Final = 32
_SWEEP: Final = 64


def text_size(*texts: str | bytes | None) -> int:
    """Bytes held by some strings (or bytes), as ``sys.getsizeof`` counts them."""
    return sum(sys.getsizeof(text) for text in texts if text is not None)


class BoundedTable(Generic[K, V]):
    """A mapping bounded by the sizes its writers declare; oldest entries leave first."""

    __slots__ = ("_expired", "_items", "_lock", "_puts", "_sizes", "bytes", "max_bytes")

    def __init__(self, max_bytes: int, expired: Callable[[V], bool] | None = None) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be 0 (disabled) or more")
        self.max_bytes = max_bytes
        self.bytes = 0  # the sum of the sizes of the entries held
        self._items: dict[K, V] = {}
        self._sizes: dict[K, int] = {}
        self._expired = expired
        self._puts = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value under ``key``, if held."""
        return self._items.get(key)

    def __len__(self) -> int:
        return len(self._items)

    def put(self, key: K, value: V, size: int) -> None:
        """Hold ``value`` under ``key``; evict the oldest entries until the sizes fit."""
        size += ENTRY_OVERHEAD
        if size > self.max_bytes:
            return  # larger than the whole table (or the table is disabled): not kept
        with self._lock:
            if key in self._sizes:
                self._pop(key)
            self._puts += 1
            expired = self._expired
            if expired is not None and self._puts % _SWEEP_EVERY == 0:
                # The oldest entries, whether or not one that never expires stands first.
                items = self._items
                for old in [k for k in itertools.islice(items, _SWEEP) if expired(items[k])]:
                    self._pop(old)
            while self.bytes + size > self.max_bytes:
                self._pop(next(iter(self._items)))
            self._items[key] = value
            self._sizes[key] = size
            self.bytes += size

    def discard(self, key: K) -> None:
        """Forget ``key`` (an entry found unusable)."""
        with self._lock:
            self._pop(key)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self._sizes.clear()
            self.bytes = 0

    def _pop(self, key: K) -> None:
        size = self._sizes.pop(key, None)
        if size is not None:
            del self._items[key]
            self.bytes -= size
