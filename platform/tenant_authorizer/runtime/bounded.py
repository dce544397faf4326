"""The one bounded-table type of the runtime: a dict capped in bytes, oldest out first.

Every cache of the function is one (decision 0016): verified tokens, answers, policy
documents, parsed ARNs, JWS headers, account documents, secrets, key sets, discovery
metadata, circuits. Entries vary in size by orders of magnitude (a 40-byte digest next to
a context with a hundred forwarded groups), so a count bound says nothing about memory:
every entry is put with its size, and the table evicts its oldest entries until it fits.

The sizes and their eviction are cachetools' (a ``FIFOCache`` with a size function);
reads go to a plain dict beside it, because a read is on the warm path of every decision:
``dict.get`` costs about 30 ns, cachetools' ``LRUCache.get`` 200 ns and ``TLRUCache.get``
900 ns (measured on this machine). So the order is insertion order: a hot entry evicted
by a flood is put again on its next use. Writers hold a lock (the local gateway is
threaded). ``expired`` lets a put drop stale entries among the oldest now and then, so
entries that can no longer be used do not wait for eviction by size; entries made
unusable otherwise (a changed tenant config) are dropped when next read, or evicted.
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Callable, Hashable, MutableMapping
from typing import Any, Final, Generic, TypeVar

from cachetools import FIFOCache

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


def _itself(size: int) -> int:
    return size


class _Sizes(FIFOCache[K, int]):
    """The declared size of each entry, oldest first; evicting one drops it from the table."""

    def __init__(self, max_bytes: int, items: MutableMapping[K, Any]) -> None:
        super().__init__(maxsize=max_bytes, getsizeof=_itself)
        self._items = items

    def popitem(self) -> tuple[K, int]:
        key, size = super().popitem()
        self._items.pop(key, None)
        return key, size


class BoundedTable(Generic[K, V]):
    """A mapping bounded by the sizes its writers declare; oldest entries leave first."""

    __slots__ = ("_expired", "_items", "_lock", "_puts", "_sizes")

    def __init__(self, max_bytes: int, expired: Callable[[V], bool] | None = None) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be 0 (disabled) or more")
        self._items: dict[K, V] = {}
        self._sizes: _Sizes[K] = _Sizes(max_bytes, self._items)
        self._expired = expired
        self._puts = 0
        self._lock = threading.Lock()

    @property
    def max_bytes(self) -> int:
        """The most the declared sizes may add up to (0: the table keeps nothing)."""
        return int(self._sizes.maxsize)

    @property
    def bytes(self) -> int:
        """The sum of the declared sizes of the entries held."""
        return int(self._sizes.currsize)

    def get(self, key: K) -> V | None:
        """The value under ``key``, if held."""
        return self._items.get(key)

    def __len__(self) -> int:
        return len(self._items)

    def put(self, key: K, value: V, size: int) -> None:
        """Hold ``value`` under ``key`` (as the newest); evict the oldest until it fits."""
        size += ENTRY_OVERHEAD
        if size > self._sizes.maxsize:
            return  # larger than the whole table (or the table is disabled): not kept
        with self._lock:
            if key in self._items:
                self._pop(key)
            self._puts += 1
            expired = self._expired
            if expired is not None and self._puts % _SWEEP_EVERY == 0:
                # The oldest entries, whether or not one that never expires stands first.
                items = self._items
                for old in [k for k in itertools.islice(items, _SWEEP) if expired(items[k])]:
                    self._pop(old)
            self._sizes[key] = size  # evicts the oldest entries (popitem) until it fits
            self._items[key] = value

    def discard(self, key: K) -> None:
        """Forget ``key`` (an entry found unusable)."""
        with self._lock:
            if key in self._items:
                self._pop(key)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self._sizes.clear()

    def _pop(self, key: K) -> None:
        del self._items[key]
        del self._sizes[key]
