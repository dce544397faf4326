"""The warm path's per-token memory: bounded in bytes, holding no token and no claims."""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any

from support.events import event
from support.harness import Harness, issuer_entry, tenant_doc
from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.runtime.bounded import ENTRY_OVERHEAD, BoundedTable
from tenant_authorizer.runtime.memo import TokenMemo

ACCOUNT = "123456789012"


def test_a_table_holds_at_most_its_bytes_and_drops_the_oldest_first() -> None:
    """Entries of any size: the sizes declared never exceed max_bytes; the oldest leave."""
    table: BoundedTable[int, str] = BoundedTable(10 * (ENTRY_OVERHEAD + 100))
    for n in range(25):
        table.put(n, "v", 100)
        assert table.bytes <= table.max_bytes
    assert [n for n in range(25) if table.get(n) is not None] == list(range(15, 25))
    table.put(99, "big", 10 * (ENTRY_OVERHEAD + 100))  # larger than the table: not kept
    assert table.get(99) is None


def test_expired_entries_leave_before_fresh_ones_are_evicted() -> None:
    """A put drops expired entries at the head, so dead tokens do not wait for eviction."""
    now = [0.0]
    table: BoundedTable[int, float] = BoundedTable(
        10**6, deadline=lambda until: until, clock=lambda: now[0]
    )
    for n in range(10):
        table.put(n, 5.0, 10)  # valid until t=5
    now[0] = 6.0
    for n in range(10, 50):  # the head is swept every few dozen puts
        table.put(n, 100.0, 10)
    assert [n for n in range(50) if table.get(n) is not None] == list(range(10, 50))


def test_an_entry_that_never_expires_does_not_shield_expired_ones() -> None:
    """Expired entries behind a never-expiring one (a static token) are swept all the same."""
    now = [0.0]
    table: BoundedTable[int, float] = BoundedTable(
        10**6, deadline=lambda until: until, clock=lambda: now[0]
    )
    table.put(0, float("inf"), 10)  # never expires
    for n in range(1, 10):
        table.put(n, 5.0, 10)
    now[0] = 6.0
    for n in range(10, 50):
        table.put(n, 100.0, 10)
    assert [n for n in range(50) if table.get(n) is not None] == [0, *range(10, 50)]


def test_distinct_large_tokens_grow_an_instance_by_their_records_not_their_claims(
    dev_issuer: DevIssuer,
) -> None:
    """Near-maximum tokens (a 5.5 KB claim each) cost their text and 2.5 KB, never claims."""
    harness = Harness([tenant_doc("acme", ACCOUNT, [issuer_entry(dev_issuer)])])
    first = dev_issuer.mint({"blob": "b" * 5506})
    assert harness.evaluate(event("rest_request", first)).outcome == "allow"
    assert len(first) > 7500
    kept = first
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for n in range(1, 300):  # each token made and dropped here: only what the memo keeps stays
        token = dev_issuer.mint({"blob": f"{n:06d}" + "b" * 5500})
        assert harness.evaluate(event("rest_request", token)).outcome == "allow"
        if n == 5:
            kept = token
    del token
    harness.lines.clear()
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    beyond = grown / 299 - len(kept)  # the answers table holds each token's text
    print(f"{beyond:.0f} bytes per token beyond its text")
    assert beyond < 2500, f"{beyond:.0f} bytes per token beyond its text"
    assert harness.evaluate(event("rest_request", kept)).cache_hit


def test_the_memo_holds_no_reference_to_a_tokens_claims(dev_issuer: DevIssuer) -> None:
    """What a repeat needs and nothing more: the payload is not kept, the token only as key."""
    harness = Harness([tenant_doc("acme", ACCOUNT, [issuer_entry(dev_issuer)])])
    marker = "claim-that-must-not-stay-" + "m" * 100
    token = dev_issuer.mint({"secretish": marker})
    assert harness.evaluate(event("rest_request", token)).outcome == "allow"
    held: list[Any] = []
    for record in _memo_records(harness.authorizer.memo):
        held.extend(gc.get_referents(record))
    assert marker not in str(held)
    assert token not in list(_verified_records(harness.authorizer.memo))


def _verified_records(memo: TokenMemo) -> list[Any]:
    return [
        getattr(record, slot)
        for record in memo._verified._items.values()
        for slot in record.__slots__
    ]


def _memo_records(memo: TokenMemo) -> list[Any]:
    return [*memo._verified._items.values(), *memo._answers._items.values()]


def test_an_expired_token_leaves_the_memo(dev_issuer: DevIssuer) -> None:
    """Once a token's exp (plus skew) passes, its records are dropped, not just skipped."""
    now = [time.time()]
    harness = Harness(
        [tenant_doc("acme", ACCOUNT, [issuer_entry(dev_issuer)])], clock=lambda: now[0]
    )
    for n in range(40):
        harness.evaluate(event("rest_request", dev_issuer.mint({"n": n}, expires_in=60)))
    held = harness.authorizer.memo.bytes
    now[0] += 600
    for n in range(40):
        harness.evaluate(event("rest_request", dev_issuer.mint({"n": n}, expires_in=3600)))
    assert harness.authorizer.memo.bytes < 1.5 * held, "the forty dead ones were swept"
