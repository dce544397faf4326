"""What one warm instance knows of the change index, and what each root check found.

:class:`ChangeIndex` holds the layout, the group roots and the shard markers it has
read. It decides the *mode* (``index`` once a layout was read, ``direct`` when there is
none, ``unknown`` before the first read), when the next check is due (``horizon``,
jittered so that a fleet spreads out; a check reads the layout and every group's root in
one call), how long the instance may go on without one (``ttl + stale_window`` past the
last good check), and which shards moved. A group without a root (its workspace not
applied yet) is not covered: its accounts are read and kept by their TTL, as without an
index. :class:`~.accounts.AccountCache` owns the
documents and marks them from what it is told here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Final, Literal, NamedTuple

from .counters import Counters
from .index import (
    DEFAULT_LAYOUT,
    LAYOUT,
    InvalidIndex,
    Layout,
    account_parameter,
    content_hash,
    group_of,
    parse_layout,
    parse_root,
    parse_shard,
    root_parameter,
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
        self.horizon = self._next_horizon = -math.inf  # the next: published by commit()
        self._failing = False  # the last check failed: documents are served stale
        self.layout: Layout | None = None
        self._roots: dict[int, Mapping[str, str]] = {}  # group -> shard -> marker hash
        self._markers: dict[str, tuple[str, Mapping[str, str]]] = {}  # shard -> (hash, map)
        self._alive_until = -math.inf  # last good root check + ttl + stale_window
        self._next_try = -math.inf
        self._failures = 0

    # ------------------------------------------------------------------ questions

    def failing(self) -> bool:
        """True while the last check failed (documents are then served stale)."""
        return self.mode == "index" and self._failing

    def alive(self, now: float) -> bool:
        """False once the index has not been confirmed for ``ttl + stale_window``."""
        return self.mode != "index" or not self._failing or now < self._alive_until

    def commit(self) -> None:
        """Publish the next check's time, once the entries a check moved are marked: until
        then the registry's fast path (``now < horizon``) stays closed."""
        self.horizon = self._next_horizon

    def shard(self, account_id: str) -> str | None:
        """The account's shard under the current layout (None before one is known)."""
        layout = self.layout
        return shard_of(account_id, layout.shard_count) if layout is not None else None

    def _group_root(self, shard: str) -> Mapping[str, str] | None:
        layout = self.layout
        return self._roots.get(group_of(shard, layout.groups)) if layout else None

    def covered(self, account_id: str) -> bool:
        """Whether the account's group has a root: its documents are kept by the index."""
        shard = self.shard(account_id)
        return self.mode == "index" and shard is not None and self._group_root(shard) is not None

    def _current(self, shard: str) -> Mapping[str, str] | None:
        held = self._markers.get(shard)
        root = self._group_root(shard)
        if held is None or root is None or held[0] != root.get(shard):
            return None
        return held[1]

    def absent(self, account_id: str) -> bool:
        """Whether the current index shows that the account has no document."""
        shard = self.shard(account_id)
        root = self._group_root(shard) if shard is not None else None
        if shard is None or root is None:
            return False
        if shard not in root:
            return True  # an empty shard: no account hashes here
        marker = self._current(shard)
        return marker is not None and account_id not in marker

    def disagrees(self, account_id: str, content: str | None) -> bool:
        """Whether a held current marker names another hash for this account's document."""
        marker = self._current(self.shard(account_id) or "")
        return marker is not None and marker.get(account_id) != content

    def names_with(self, account_id: str) -> list[str]:
        """What an account's read must carry to learn the index, in the same call.

        Before the index is known: the layout, and the account's group root and shard
        marker by the default layout; without an index, the layout (to notice one being
        deployed); under the index, the account's shard marker when it is not current.
        """
        if self.mode == "unknown":
            guess = shard_of(account_id, DEFAULT_LAYOUT.shard_count)
            group = group_of(guess, DEFAULT_LAYOUT.groups)
            return [LAYOUT, root_parameter(group), shard_parameter(guess)]
        if self.mode == "direct":
            return [LAYOUT]  # free in the same call: an index that appears is adopted
        shard = self.shard(account_id)
        if shard is None or not self.covered(account_id) or self._current(shard) is not None:
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

    def learn(self, values: Mapping[str, str | None], now: float, deadline: float) -> Moved | None:
        """Take the layout, roots and markers a read returned; what moved, if anything."""
        moved: Moved | None = None
        if LAYOUT in values:  # a read made before the layout was known, by the default
            moved = self._adopt(values, now, every_root=False, deadline=deadline)
            if self.layout != DEFAULT_LAYOUT:
                return moved  # its root and marker names were guessed for another layout
        for name, raw in values.items():
            shard = name.removeprefix("index/")
            if raw is not None and shard.startswith("shard-"):
                root = self._group_root(shard)
                if root is not None and shard in root:
                    self._store(shard, raw)
        return moved

    def check(self, now: float, deadline: float) -> Moved | None:
        """Read the layout and every root (one call, no retry); what moved, if anything."""
        if now < self._next_try:
            return None
        self.counters.bump("index_checks")
        groups = (self.layout or DEFAULT_LAYOUT).groups
        names = [LAYOUT, *(root_parameter(g) for g in range(groups))]
        try:
            values = self.reader.read(names, retry=False, deadline=deadline)
        except SourceUnavailable:
            self._failed(now)
            return None
        return self._adopt(values, now, every_root=True, deadline=deadline)

    def _adopt(
        self, values: Mapping[str, str | None], now: float, *, every_root: bool, deadline: float
    ) -> Moved | None:
        raw = values.get(LAYOUT)
        if raw is None:  # no index (any more): every document by its own TTL
            if self.mode == "index":
                return self.demote()
            self._direct()
            return None
        try:
            layout = parse_layout(raw)
            read = {
                g: parse_root(value, g, layout) if value is not None else None
                for g in range(layout.groups)
                if (value := values.get(root_parameter(g), "")) != ""
            }
        except InvalidIndex:
            self._failed(now)
            return None
        if not every_root and (layout != DEFAULT_LAYOUT):
            read = {}  # names guessed for the default layout: ask again with the right ones
        previous, previous_roots = self.layout, dict(self._roots)
        self.layout, self.mode = layout, "index"
        for group, shards in read.items():
            if shards is None:
                self._roots.pop(group, None)
            else:
                self._roots[group] = shards
        self._failures, self._failing = 0, False
        self._alive_until = now + self.ttl + self.stale_window
        self._next_try = -math.inf
        if every_root:
            self._next_horizon = now + self.ttl * (1 - _JITTER * self.reader.random())
        else:  # a cold read saw one root: check them all at the next lookup
            self._next_horizon = now
        if previous is not None and previous != layout:
            self._markers.clear()
            self._roots = {g: r for g, r in self._roots.items() if g in read}
            return Moved(None, {})
        moved = frozenset(
            shard
            for group in read
            for shard in previous_roots.get(group, {}).keys() | self._roots.get(group, {}).keys()
            if previous_roots.get(group, {}).get(shard) != self._roots.get(group, {}).get(shard)
        )
        return self._read_moved(moved, deadline) if moved and previous is not None else None

    def _direct(self) -> None:
        self.mode, self.layout, self._failing = "direct", None, False
        self._next_horizon = math.inf  # published by commit(), once the marks are made
        self._roots.clear()
        self._markers.clear()

    def _read_moved(self, shards: frozenset[str], deadline: float) -> Moved:
        """Read the moved markers this instance holds (at most two calls, within the
        decision's deadline); a marker is trusted only when its hash is the root's."""
        listed = {s for s in shards if (root := self._group_root(s)) is not None and s in root}
        wanted = sorted(s for s in listed if s in self._markers)
        wanted = wanted[: _INLINE_SHARD_READS * MAX_NAMES]
        try:
            names = [shard_parameter(s) for s in wanted]
            values = self.reader.read(names, retry=False, deadline=deadline)
        except SourceUnavailable:
            values = {}
        known: dict[str, Mapping[str, str]] = {
            s: {} for s in shards if s not in listed and self.covered_shard(s)
        }
        for shard in shards:
            raw = values.get(shard_parameter(shard))
            if raw is not None and self._store(shard, raw) and self._current(shard) is not None:
                known[shard] = self._markers[shard][1]
            else:
                self._markers.pop(shard, None)
        return Moved(shards, known)

    def covered_shard(self, shard: str) -> bool:
        """Whether a shard's group has a root (its absence from it means: no accounts)."""
        return self._group_root(shard) is not None

    def _store(self, shard: str, raw: str) -> bool:
        try:
            accounts = parse_shard(raw, shard)
        except InvalidIndex:
            return False
        self._markers[shard] = (content_hash(raw), accounts)
        return True

    def demote(self) -> Moved:
        """Stop trusting an index that could not be read (or was removed)."""
        self._direct()
        return Moved(None, {})

    def _failed(self, now: float) -> None:
        self._failures += 1
        if self.mode == "index":
            self._failing = True
            self.horizon = self._next_horizon = -math.inf
        step = backoff(self._failures, self.retry_after, _STALE_CAP, self.reader.random)
        self._next_try = now + step
        if now < self._alive_until:
            self.counters.bump("stale_config_serves")
