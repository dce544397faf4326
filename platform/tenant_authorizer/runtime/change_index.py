"""What one warm instance knows of the change index, and what each root check found.

:class:`ChangeIndex` holds the root and the shard markers it has read. It decides the
*mode* (``index`` once a root was read, ``direct`` when there is none, ``unknown`` before
the first read), when the next root check is due (``horizon``, jittered so that a fleet
spreads out), how long the instance may go on without one (``ttl + stale_window`` past
the last good check), and which shards moved. :class:`~.accounts.AccountCache` owns the
documents and marks them from what it is told here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Final, Literal, NamedTuple

from .counters import Counters
from .index import (
    DEFAULT_SHARD_COUNT,
    ROOT,
    InvalidIndex,
    Root,
    account_parameter,
    content_hash,
    parse_root,
    parse_shard,
    shard_of,
    shard_parameter,
)
from .reader import ConfigReader, backoff
from .sources import MAX_NAMES, SourceUnavailable

Mode = Literal["unknown", "index", "direct"]

_STALE_CAP: Final = 60.0  # a failed root check is retried after retry_after, doubling
_INLINE_SHARD_READS: Final = 2  # calls of shard markers in the decision that saw them move
_JITTER: Final = 0.1  # root checks come every ttl x (0.9 to 1.0): instances drift apart


class Moved(NamedTuple):
    """Shards whose marker changed (None: every shard), and the new markers that were read."""

    shards: frozenset[str] | None
    markers: Mapping[str, Mapping[str, str]]


class ChangeIndex:
    """The root and shard markers one instance holds, and when to check the root again."""

    def __init__(
        self,
        reader: ConfigReader,
        counters: Counters,
        *,
        ttl: float,
        stale_window: float,
        retry_after: float,
    ) -> None:
        self.reader = reader
        self.counters = counters
        self.ttl = ttl
        self.stale_window = stale_window
        self.retry_after = retry_after
        self.clear()

    def clear(self) -> None:
        """Forget the index: the next read learns it again."""
        self.mode: Mode = "unknown"
        # Entries are fresh while now < min(entry.fresh_until, horizon): the next root
        # check under the index, +inf without one, -inf before one and while one fails.
        self.horizon = -math.inf
        self.root: Root | None = None
        self._markers: dict[str, tuple[str, Mapping[str, str]]] = {}  # shard -> (hash, map)
        self._alive_until = -math.inf  # last good root check + ttl + stale_window
        self._next_try = -math.inf
        self._failures = 0

    # ------------------------------------------------------------------ questions

    def failing(self, now: float) -> bool:
        """True while the last root check failed (documents are then served stale)."""
        return self.mode == "index" and now >= self.horizon

    def alive(self, now: float) -> bool:
        """False once the index has not been confirmed for ``ttl + stale_window``."""
        return self.mode != "index" or now < self.horizon or now < self._alive_until

    def shard(self, account_id: str) -> str | None:
        """The account's shard under the current root (None before a root is known)."""
        return shard_of(account_id, self.root.shard_count) if self.root is not None else None

    def _current(self, shard: str) -> Mapping[str, str] | None:
        held = self._markers.get(shard)
        root = self.root
        if held is None or root is None or held[0] != root.shards.get(shard):
            return None
        return held[1]

    def absent(self, account_id: str) -> bool:
        """Whether the current index shows that the account has no document."""
        shard = self.shard(account_id)
        if shard is None or self.root is None:
            return False
        if shard not in self.root.shards:
            return True  # an empty shard: no account hashes here
        marker = self._current(shard)
        return marker is not None and account_id not in marker

    def disagrees(self, account_id: str, content: str | None) -> bool:
        """Whether a held current marker names another hash for this account's document."""
        marker = self._current(self.shard(account_id) or "")
        return marker is not None and marker.get(account_id) != content

    def names_with(self, account_id: str) -> list[str]:
        """What an account's first read must carry to learn the index, in the same call.

        Before the index is known: the root, and the account's shard by the default count;
        without an index, the root (to notice one being deployed); under the index, the
        account's shard marker when it is not held current.
        """
        if self.mode == "unknown":
            return [ROOT, shard_parameter(shard_of(account_id, DEFAULT_SHARD_COUNT))]
        if self.mode == "direct":
            return [ROOT]  # free in the same call: a root that appears is adopted
        shard = self.shard(account_id)
        if shard is None or self._current(shard) is not None:
            return []
        return [shard_parameter(shard)]

    def neighbours(self, account_id: str, held: Callable[[str], object | None]) -> list[str]:
        """Documents of the account's shard that ``held`` lacks: room in a call brings them."""
        marker = self._current(self.shard(account_id) or "")
        if marker is None:
            return []
        others = [a for a in marker if a != account_id and held(a) is None]
        return [account_parameter(a) for a in others[: MAX_NAMES - 1]]

    # ------------------------------------------------------------------ learning

    def learn(self, values: Mapping[str, str | None], now: float) -> Moved | None:
        """Take the root and the markers a read returned; what moved, if a root moved."""
        moved: Moved | None = None
        if ROOT in values:
            moved = self._adopt(values[ROOT], now)
            if self.root is None or self.root.shard_count != DEFAULT_SHARD_COUNT:
                return moved  # its shard was guessed for another count: not this marker
        for name, raw in values.items():
            shard = name.removeprefix("index/")
            if raw is not None and shard != name and self.root and shard in self.root.shards:
                self._store(shard, raw)
        return moved

    def check(self, now: float) -> Moved | None:
        """Read the root (one call, no retry); what moved, or None (nothing, or stale)."""
        if now < self._next_try:
            return None
        self.counters.bump("index_checks")
        try:
            raw = self.reader.read([ROOT], retry=False)[ROOT]
        except SourceUnavailable:
            self._failed(now)
            return None
        return self._adopt(raw, now)

    def _adopt(self, raw: str | None, now: float) -> Moved | None:
        if raw is None:  # no index (any more): every document by its own TTL
            was_index = self.mode == "index"
            self.mode, self.horizon, self.root = "direct", math.inf, None
            self._markers.clear()
            return Moved(None, {}) if was_index else None
        try:
            root = parse_root(raw)
        except InvalidIndex:
            self._failed(now)
            return None
        previous, self.root, self.mode = self.root, root, "index"
        self._failures = 0
        self._alive_until = now + self.ttl + self.stale_window
        self._next_try = -math.inf
        self.horizon = now + self.ttl * (1 - _JITTER * self.reader.random())
        if previous is None:
            return None
        if previous.shard_count != root.shard_count:
            self._markers.clear()
            return Moved(None, {})
        shards = frozenset(
            s
            for s in previous.shards.keys() | root.shards.keys()
            if previous.shards.get(s) != root.shards.get(s)
        )
        return self._read_moved(shards, root) if shards else None

    def _read_moved(self, shards: frozenset[str], root: Root) -> Moved:
        """Read the moved markers this instance holds (at most two calls), compare later."""
        wanted = sorted(s for s in shards if s in root.shards and s in self._markers)
        wanted = wanted[: _INLINE_SHARD_READS * MAX_NAMES]
        try:
            values = self.reader.read([shard_parameter(s) for s in wanted], retry=False)
        except SourceUnavailable:
            values = {}
        known: dict[str, Mapping[str, str]] = {s: {} for s in shards if s not in root.shards}
        for shard in shards:
            raw = values.get(shard_parameter(shard))
            if raw is not None and self._store(shard, raw):
                known[shard] = self._markers[shard][1]
            else:
                self._markers.pop(shard, None)
        return Moved(shards, known)

    def _store(self, shard: str, raw: str) -> bool:
        try:
            accounts = parse_shard(raw, shard)
        except InvalidIndex:
            return False
        self._markers[shard] = (content_hash(raw), accounts)
        return True

    def demote(self) -> Moved:
        """Stop trusting an index that could not be read for ``ttl + stale_window``."""
        self.mode, self.horizon, self.root = "direct", math.inf, None
        self._markers.clear()
        return Moved(None, {})

    def _failed(self, now: float) -> None:
        self._failures += 1
        if self.mode == "index":
            self.horizon = -math.inf
        step = backoff(self._failures, self.retry_after, _STALE_CAP, self.reader.random)
        self._next_try = now + step
        if now < self._alive_until:
            self.counters.bump("stale_config_serves")
