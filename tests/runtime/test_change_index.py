"""The change index: steady-state reads that do not grow with the tenant count (decision 0019).

A source in memory holds what Terraform writes (documents, shard markers, root); it
records every read, so each test counts the SSM calls a warm instance makes.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from support.harness import FlakySource, tenant_doc
from support.issuers import FakeClock
from tenant_authorizer.runtime.caller import Caller, parse_arn
from tenant_authorizer.runtime.errors import PlatformFault, Reason, TenantNotBound
from tenant_authorizer.runtime.index import DEFAULT_LAYOUT, Layout, content_hash, group_of, shard_of
from tenant_authorizer.runtime.registry import TenantRegistry
from tenant_authorizer.runtime.sources import SourceUnavailable
from tenant_authorizer.tools.documents import render_account_documents, render_index

TOKEN = {"id": "k", "sha256": "0" * 64, "principal_id": "p"}


def account(n: int) -> str:
    return f"{100000000000 + n}"


def caller(account_id: str) -> Caller:
    return parse_arn(f"arn:aws:execute-api:us-east-1:{account_id}:a1b2c3d4e5/prod/GET/orders")


def docs_for(accounts: list[str], version: str = "v1") -> list[dict[str, Any]]:
    return [
        tenant_doc(f"t-{a}", a, static_tokens=[{**TOKEN, "principal_id": version}])
        for a in accounts
    ]


CHECK = ("index/layout", *(f"index/root-{g:02d}" for g in range(DEFAULT_LAYOUT.groups)))


def publish(
    source: FlakySource, docs: list[dict[str, Any]], layout: Layout = DEFAULT_LAYOUT
) -> None:
    """What the applies write: the documents, then the index (every group's)."""
    source.accounts = render_account_documents(docs)
    source.parameters = render_index(source.accounts, layout)


def version(registry: TenantRegistry, account_id: str) -> str:
    tenant = registry.lookup(caller(account_id)).tenant.config
    return tenant.static_tokens[0].principal_id


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def setup(
    clock: FakeClock, accounts: list[str], layout: Layout = DEFAULT_LAYOUT, **kwargs: Any
) -> tuple[FlakySource, TenantRegistry]:
    source = FlakySource({}, {})
    publish(source, docs_for(accounts), layout)
    registry = TenantRegistry(
        source, ttl=60, stale_window=300, clock=clock, sleep=clock.sleep, rand=lambda: 0.5, **kwargs
    )
    return source, registry


@pytest.mark.parametrize("held", [5, 60])
def test_steady_state_is_one_read_per_ttl_whatever_the_instance_holds(
    clock: FakeClock, held: int
) -> None:
    """A warm instance holding 5 or 60 accounts learns that nothing changed in one read."""
    accounts = [account(n) for n in range(held)]
    source, registry = setup(clock, accounts)
    for a in accounts:
        assert version(registry, a) == "v1"
    assert registry.mode == "index"
    for _ in range(3):
        source.reads.clear()
        clock.now += 61
        for a in accounts:
            assert version(registry, a) == "v1"
        assert source.reads == [CHECK]


def test_a_changed_document_is_read_again_and_only_it(clock: FakeClock) -> None:
    """An edit reaches the instance within the TTL: the root, its shard, then its document."""
    accounts = [account(n) for n in range(30)]
    source, registry = setup(clock, accounts)
    for a in accounts:
        version(registry, a)
    edited = docs_for(accounts)
    edited[7] = docs_for([accounts[7]], "v2")[0]
    publish(source, edited)
    source.reads.clear()
    clock.now += 30
    assert version(registry, accounts[7]) == "v1", "within the TTL the instance may lag"
    clock.now += 31
    assert [version(registry, a) for a in accounts].count("v2") == 1
    assert version(registry, accounts[7]) == "v2"
    shard = shard_of(accounts[7], DEFAULT_LAYOUT.shard_count)
    assert source.reads[:2] == [CHECK, (f"index/{shard}",)]
    assert [r for r in source.reads[2:] if f"accounts/{accounts[7]}" in r] == [source.reads[2]]
    assert len(source.reads) == 3


def test_onboarding_reaches_a_warm_instance_within_the_ttl(clock: FakeClock) -> None:
    """An account the index does not list is unbound without a read, until an apply adds it."""
    bound = [account(n) for n in range(3)]
    source, registry = setup(clock, bound)
    version(registry, bound[0])
    newcomer = account(99)
    source.reads.clear()
    for _ in range(5):
        with pytest.raises(TenantNotBound):
            registry.lookup(caller(newcomer))
    publish(source, docs_for([*bound, newcomer]))
    clock.now += 61
    assert version(registry, newcomer) == "v1"
    assert all(f"accounts/{newcomer}" not in r for r in source.reads[:1])


def test_forged_accounts_cost_no_read_under_the_index(clock: FakeClock) -> None:
    """Events naming 200 accounts that no tenant has make no SSM call once the index is known."""
    source, registry = setup(clock, [account(1)])
    version(registry, account(1))
    version(registry, account(1))
    source.reads.clear()
    for n in range(200):
        with pytest.raises(TenantNotBound):
            registry.lookup(caller(f"{900000000000 + n}"))
    # Only forged accounts hashing to the one non-empty shard need its marker, read once.
    assert len(source.reads) <= 1


def test_a_broken_document_is_remembered_until_its_hash_changes(clock: FakeClock) -> None:
    """tenant_config_invalid costs one read, not one per invocation; a fix is picked up."""
    a = account(5)
    source, registry = setup(clock, [a])
    source.accounts[a] = '{"version": 2}'
    source.parameters = render_index(source.accounts)
    for _ in range(3):
        with pytest.raises(PlatformFault) as info:
            registry.lookup(caller(a))
        assert info.value.reason is Reason.TENANT_CONFIG_INVALID
    assert sum(f"accounts/{a}" in r for r in source.reads) == 1
    clock.now += 61  # nothing changed: the root says so, the document is not read again
    with pytest.raises(PlatformFault):
        registry.lookup(caller(a))
    assert sum(f"accounts/{a}" in r for r in source.reads) == 1
    publish(source, docs_for([a]))
    clock.now += 61
    assert version(registry, a) == "v1"


def test_a_failed_cold_read_is_remembered_with_backoff(clock: FakeClock) -> None:
    """With SSM throttling a cold instance, one invocation retries within the budget; the
    next ones fail at once until the backoff runs out, then it tries again."""
    a = account(6)
    source, registry = setup(clock, [a], budget=1.0)
    source.down = True
    with pytest.raises(PlatformFault) as info:
        registry.lookup(caller(a))
    assert info.value.reason is Reason.TENANT_CONFIG_UNAVAILABLE
    tried = len(source.reads)
    assert tried > 1
    for _ in range(10):
        with pytest.raises(PlatformFault):
            registry.lookup(caller(a))
    assert len(source.reads) == tried, "remembered: no read on every invocation"
    source.down = False
    clock.now += 1.0  # the first backoff (1 s, jittered between 0.5 and 1 s) has passed
    assert version(registry, a) == "v1"


def test_a_failing_root_check_serves_stale_then_fails_closed(clock: FakeClock) -> None:
    """SSM throttled at the root check: decisions go on from memory, marked stale, without
    waiting; past the TTL plus the stale window the account fails closed."""
    a = account(7)
    source, registry = setup(clock, [a])
    assert not registry.lookup(caller(a)).stale
    source.down = True
    clock.now += 61
    resolution = registry.lookup(caller(a))
    assert resolution.stale
    assert registry.stats.stale_serves == 1
    before = len(source.reads)
    for _ in range(20):
        assert registry.lookup(caller(a)).stale
    assert len(source.reads) == before, "the next root check waits for its backoff"
    clock.now += 300
    with pytest.raises(PlatformFault) as info:
        registry.lookup(caller(a))
    assert info.value.reason is Reason.TENANT_CONFIG_UNAVAILABLE
    source.down = False
    clock.now += 120
    assert not registry.lookup(caller(a)).stale
    assert registry.mode == "index", "the root, read with the document, brings the index back"


def test_neighbours_come_in_the_same_call(clock: FakeClock) -> None:
    """A cold read in a known shard carries up to nine documents this instance has not read."""
    accounts = [account(n) for n in range(15)]
    source, registry = setup(clock, accounts, layout=Layout(1, 1))
    version(registry, accounts[0])  # learns the layout (its guesses were for the default)
    version(registry, accounts[1])  # checks every root, then reads the one shard's marker
    source.reads.clear()
    version(registry, accounts[2])
    (read,) = source.reads
    assert len(read) == 10 and read[0] == f"accounts/{accounts[2]}"
    for a in accounts[3:]:
        version(registry, a)
    assert len(source.reads) == 2  # the 13 others in two calls


def test_a_write_still_settling_is_looked_at_again(clock: FakeClock) -> None:
    """A document whose hash is not the index's (read mid-apply) is read again shortly."""
    a = account(8)
    source, registry = setup(clock, [a])
    stale_doc = source.accounts[a]
    publish(source, docs_for([a], "v2"))
    new_doc = source.accounts[a]
    source.accounts[a] = stale_doc  # the index is ahead of what this read returns
    assert version(registry, a) == "v1"
    source.accounts[a] = new_doc
    clock.now += 6  # retry_after (5 s)
    assert version(registry, a) == "v2"
    assert json.loads(source.parameters[f"index/{shard_of(a, DEFAULT_LAYOUT.shard_count)}"])[
        "accounts"
    ][a] == (content_hash(new_doc))


def test_without_an_index_documents_are_read_by_their_ttl(clock: FakeClock) -> None:
    """An older deployment (no index): each document is re-read on use after its TTL, and
    unchanged bytes keep the parsed tenant (and so the warm path's memory of its tokens)."""
    a = account(9)
    source, registry = setup(clock, [a])
    source.parameters = {}
    registry.invalidate()
    first = registry.lookup(caller(a)).tenant
    assert registry.mode == "direct"
    clock.now += 61
    source.reads.clear()
    assert registry.lookup(caller(a)).tenant is first
    assert source.reads == [(f"accounts/{a}", "index/layout")]  # the layout rides along


def test_removing_the_index_falls_back_to_ttl_reads(clock: FakeClock) -> None:
    """If the index disappears, the instance notices at its next root check and re-reads."""
    a = account(10)
    source, registry = setup(clock, [a])
    version(registry, a)
    source.parameters = {}
    publish_docs = docs_for([a], "v2")
    source.accounts = render_account_documents(publish_docs)
    clock.now += 61
    assert version(registry, a) == "v2"
    assert registry.mode == "direct"


def test_an_index_deployed_later_is_adopted(clock: FakeClock) -> None:
    """An instance without an index notices one in the next document read (same call)."""
    a = account(11)
    source, registry = setup(clock, [a])
    index = source.parameters
    source.parameters = {}
    registry.invalidate()
    version(registry, a)
    assert registry.mode == "direct"
    source.parameters = index
    clock.now += 61
    version(registry, a)
    assert registry.mode == "index"
    clock.now += 61
    version(registry, a)  # the first check of every root: the document once more
    source.reads.clear()
    clock.now += 61
    version(registry, a)
    assert source.reads == [CHECK]


def test_a_group_not_applied_yet_is_read_by_its_ttl(clock: FakeClock) -> None:
    """Accounts of a group whose root is missing (its workspace never applied) are not
    taken for unbound: they are read, and re-read by their TTL, as without an index."""
    a = account(12)
    group = group_of(shard_of(a, DEFAULT_LAYOUT.shard_count), DEFAULT_LAYOUT.groups)
    source, registry = setup(clock, [a])
    del source.parameters[f"index/root-{group:02d}"]
    assert version(registry, a) == "v1"
    assert registry.mode == "index"
    clock.now += 61
    publish(source, docs_for([a], "v2"))
    del source.parameters[f"index/root-{group:02d}"]
    assert version(registry, a) == "v2"


# ---------------------------------------------------------------- review: failures it found


def test_an_evicted_account_leaves_the_fast_path_and_offboarding_reaches_it(
    clock: FakeClock,
) -> None:
    """An account pushed out of a small account table is not answered from the registry's
    resolution cache forever: once offboarded it is unbound within the TTL."""
    hot, others = account(0), [account(n) for n in range(1, 40)]
    source = FlakySource({}, {})
    publish(source, docs_for([hot, *others]))
    size = 2048 + 6 * len(source.accounts[hot]) + 120
    registry = TenantRegistry(
        source, ttl=60, clock=clock, sleep=clock.sleep, rand=lambda: 0.5, max_bytes=10 * size
    )
    version(registry, hot)
    for other in others:  # the table holds about ten: the first in is evicted
        version(registry, other)
    publish(source, docs_for(others))  # offboard the hot account
    clock.now += 61
    version(registry, others[-1])  # the root check
    with pytest.raises(TenantNotBound):
        registry.lookup(caller(hot))


def test_an_account_the_index_removed_is_never_served_stale(clock: FakeClock) -> None:
    """Once a root check shows the document gone, a later failing check does not bring it
    back as a stale serve."""
    gone, kept = account(1), account(2)
    source, registry = setup(clock, [gone, kept])
    version(registry, gone)
    version(registry, kept)
    publish(source, docs_for([kept]))
    clock.now += 61
    with pytest.raises(TenantNotBound):
        registry.lookup(caller(gone))
    clock.now += 61
    source.down = True
    for _ in range(8):
        with pytest.raises(TenantNotBound):
            registry.lookup(caller(gone))
        clock.now += 30


def test_a_ttl_of_zero_is_never_reported_stale_while_ssm_answers() -> None:
    """config_ttl_seconds = 0 checks the index on every lookup; none of them is stale."""
    ticks = iter(range(1000, 2000))
    source = FlakySource({}, {})
    publish(source, docs_for([account(1)]))
    registry = TenantRegistry(source, ttl=0, clock=lambda: float(next(ticks)), rand=lambda: 0.5)
    assert [registry.lookup(caller(account(1))).stale for _ in range(5)] == [False] * 5


def test_forged_accounts_cost_no_read_while_the_index_check_fails(clock: FakeClock) -> None:
    """SSM throttling the root check: the index last read still answers "no document"."""
    source, registry = setup(clock, [account(1)])
    version(registry, account(1))
    version(registry, account(1))  # the check of every group's root after the cold read
    clock.now += 61
    source.down = True
    assert registry.lookup(caller(account(1))).stale
    source.reads.clear()
    for n in range(50):
        with pytest.raises(TenantNotBound):
            registry.lookup(caller(f"{900000000000 + n}"))
    assert len(source.reads) <= 1  # at most the one shard marker not held


def test_one_lookup_spends_at_most_its_budget_and_one_call_on_ssm(clock: FakeClock) -> None:
    """A root check, moved markers and a cold read share one deadline: a brownout (each call
    1.9 s, most timing out) costs a lookup at most budget + one call."""

    class Brownout(FlakySource):
        def __init__(self) -> None:
            super().__init__({}, {})
            self.slow, self.answered = False, 0

        def read(self, names: Sequence[str]) -> dict[str, str | None]:
            if not self.slow:
                return super().read(names)
            self.reads.append(tuple(names))
            clock.now += 1.9
            if self.answered < 2:
                self.answered += 1
                return super().read(names)
            raise SourceUnavailable("SSM unreachable: ReadTimeoutError")

    held = [account(n) for n in range(400)]
    source = Brownout()
    publish(source, docs_for(held))
    registry = TenantRegistry(
        source, ttl=60, budget=2.0, clock=clock, sleep=clock.sleep, rand=lambda: 0.5
    )
    for a in held:
        registry.lookup(caller(a))
    newcomer = account(5000)
    publish(source, docs_for([*held, newcomer], "v2"))  # every shard moves
    clock.now += 61
    source.slow = True
    started = clock.now
    with contextlib.suppress(PlatformFault):
        registry.lookup(caller(newcomer))
    assert clock.now - started <= 2.0 + 1.9 + 0.01


def test_a_document_edited_by_hand_is_not_polled_every_few_seconds(clock: FakeClock) -> None:
    """A document whose hash is not the index's is looked at again with a doubling gap, up
    to the TTL, not every retry_after for ever."""
    a = account(1)
    source, registry = setup(clock, [a])
    source.accounts[a] = json.dumps(json.loads(source.accounts[a]), indent=1)  # by hand
    registry.lookup(caller(a))
    source.reads.clear()
    for _ in range(600):  # one request a second for ten minutes
        clock.now += 1
        registry.lookup(caller(a))
    document_reads = sum(any(n.startswith("accounts/") for n in r) for r in source.reads)
    assert document_reads <= 14  # 5, 10, 20, 40 s, then once a TTL
    assert registry.counters.index_drifts == document_reads + 1


def test_other_threads_wait_for_the_marks_of_a_root_check() -> None:
    """While one thread reads the moved markers, another never gets the old document from
    the fast path (the next check time is published after the marks)."""
    now = [1000.0]

    class SlowMarkers(FlakySource):
        slow = False

        def read(self, names: Sequence[str]) -> dict[str, str | None]:
            if self.slow and any(n.startswith("index/shard") for n in names):
                time.sleep(0.3)
            return super().read(names)

    source = SlowMarkers({}, {})
    a, b = account(1), account(2)
    publish(source, docs_for([a, b]))
    registry = TenantRegistry(source, ttl=60, clock=lambda: now[0], rand=lambda: 0.5)
    version(registry, a)
    version(registry, b)
    publish(source, docs_for([a, b], "v2"))
    source.slow = True
    now[0] += 61
    checker = threading.Thread(target=version, args=(registry, b))
    checker.start()
    time.sleep(0.1)
    during = version(registry, a)
    checker.join()
    assert during == "v2"


@pytest.mark.parametrize(("groups", "shard_count"), [(9, 128), (4, 128), (8, 256)])
def test_a_layout_change_never_makes_bound_accounts_unbound(
    clock: FakeClock, groups: int, shard_count: int
) -> None:
    """terraform/platform writes a new layout before the groups are applied again: the old
    roots speak of other shards, so they cover nothing and every account is read by TTL."""
    accounts = [account(n) for n in range(40)]
    source, registry = setup(clock, accounts)
    for a in accounts:
        assert version(registry, a) == "v1"
    old_roots = dict(source.parameters)
    new_layout = Layout(groups, shard_count)
    source.parameters = {**old_roots, "index/layout": render_index({}, new_layout)["index/layout"]}
    clock.now += 61
    for a in accounts:
        assert version(registry, a) == "v1", f"{a} is bound: never unbound by a stale root"
    cold = TenantRegistry(source, ttl=60, stale_window=300, clock=clock, sleep=clock.sleep)
    for a in accounts:
        assert version(cold, a) == "v1", "a cold instance too"
    publish(source, docs_for(accounts), new_layout)  # every group applied again
    clock.now += 61
    assert all(version(registry, a) == "v1" for a in accounts)
    assert registry.mode == "index"
