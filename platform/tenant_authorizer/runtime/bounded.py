"""The one bounded-table type of the runtime: a dict capped in bytes, oldest out first.

Every cache of the function is one (decision 0016): verified tokens, answers, policy
documents, parsed ARNs, JWS headers, account documents, secrets, key sets, discovery
metadata, circuits. Entries vary in size by orders of magnitude (a 40-byte digest next to
a context with a hundred forwarded groups), so a count bound says nothing about memory:
every entry is put with its size, and the table evicts its oldest entries until it fits.

It is a plain dict of values and an ``OrderedDict`` of sizes, not cachetools (decision
0018, ``make bench``): a read is on the warm path of every decision, and
:attr:`BoundedTable.get` *is* the value dict's ``get`` (about 30 ns; cachetools'
``LRUCache.get`` costs 200 ns, ``TLRUCache.get`` 900 ns). The sizes keep the order: the
oldest entry is ``popitem(last=False)``, constant time, where a plain dict's first key is
found by scanning past the slots its evictions left (5 us a put in a full table of 20,000
entries, decision 0029). So the order is insertion order: a hot entry evicted by a flood
is put again on its next use. Writers
hold a lock (the local gateway is threaded). ``deadline`` (with ``clock``) lets a put drop
the entries among the oldest whose deadline has passed, now and then, so entries that can
no longer be used do not wait for eviction by size; entries made unusable otherwise (a
changed tenant config) are dropped when next read, or evicted.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Final, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# What an entry costs beyond its contents, in CPython 3.11-3.13: its slot in the value
# dict, its slot and node in the OrderedDict of sizes, the size's int.
ENTRY_OVERHEAD: Final = 170
# Every _SWEEP_EVERY puts, the _SWEEP oldest entries are looked at and those past their
# deadline dropped: the oldest are the likeliest to be, and a check per put costs more.
# The clock is read once a sweep, and a deadline is an attribute read (operator.attrgetter,
# in C): a predicate called per entry cost every new token about 0.8 us (make bench).
_SWEEP_EVERY: Final = 32
_SWEEP: Final = 64


def text_size(*texts: str | bytes | None) -> int:
    """Bytes held by some strings (or bytes), as ``sys.getsizeof`` counts them."""
    return sum(sys.getsizeof(text) for text in texts if text is not None)


class BoundedTable(Generic[K, V]):
    """A mapping bounded by the sizes its writers declare; oldest entries leave first."""

    __slots__ = (
        "_clock",
        "_deadline",
        "_evicted",
        "_items",
        "_lock",
        "_puts",
        "_sizes",
        "bytes",
        "get",
        "max_bytes",
    )

    #: The value under a key, if held: the dict's own ``get``, with no call in between.
    get: Callable[[K], V | None]
    #: The sum of the declared sizes of the entries held.
    bytes: int
    #: The most the declared sizes may add up to (0: the table keeps nothing).
    max_bytes: int

    def __init__(
        self,
        max_bytes: int,
        deadline: Callable[[V], float | None] | None = None,
        clock: Callable[[], float] = time.time,
        evicted: Callable[[V], None] | None = None,
    ) -> None:
        """``deadline`` gives the instant after which a value is of no use (None: never),
        as ``clock`` tells time. ``evicted`` is told of every value that leaves the table
        (evicted, swept, discarded, cleared, or replaced by another object), for holders
        of references."""
        if max_bytes < 0:
            raise ValueError("max_bytes must be 0 (disabled) or more")
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: dict[K, V] = {}
        self._sizes: OrderedDict[K, int] = OrderedDict()  # insertion order, oldest first
        self.get = self._items.get
        self._deadline = deadline
        self._clock = clock
        self._evicted = evicted
        self._puts = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[K, V]]:
        """A snapshot of the entries, oldest first (a slow-path scan)."""
        return list(self._items.items())

    def put(self, key: K, value: V, size: int) -> None:
        """Hold ``value`` under ``key`` (as the newest); evict the oldest until it fits."""
        size += ENTRY_OVERHEAD
        if size > self.max_bytes:
            return  # larger than the whole table (or the table is disabled): not kept
        with self._lock:
            items, sizes = self._items, self._sizes
            if key in sizes:
                if items[key] is not value:
                    self._gone(items[key])
                self._pop(key)
            self._puts += 1
            deadline = self._deadline
            if deadline is not None and self._puts % _SWEEP_EVERY == 0:
                # The oldest entries, whether or not one that never expires stands first.
                now = self._clock()
                for old in [
                    k
                    for k in itertools.islice(sizes, _SWEEP)
                    if (until := deadline(items[k])) is not None and now > until
                ]:
                    self._gone(items[old])
                    self._pop(old)
            total = self.bytes + size
            while total > self.max_bytes:  # the oldest first
                oldest, oldest_size = sizes.popitem(last=False)
                total -= oldest_size
                self._gone(items.pop(oldest))
            items[key] = value
            sizes[key] = size
            self.bytes = total

    def discard(self, key: K) -> None:
        """Forget ``key`` (an entry found unusable)."""
        with self._lock:
            if key in self._items:
                self._gone(self._items[key])
            self._pop(key)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            for value in list(self._items.values()):
                self._gone(value)
            self._items.clear()
            self._sizes.clear()
            self.bytes = 0

    def _gone(self, value: V) -> None:
        if self._evicted is not None:
            self._evicted(value)

    def _pop(self, key: K) -> None:
        size = self._sizes.pop(key, None)
        if size is not None:
            del self._items[key]
            self.bytes -= size
