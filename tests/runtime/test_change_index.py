"""The change index: steady-state reads that do not grow with the tenant count (decision 0019).

A source in memory holds what Terraform writes (documents, shard markers, root); it
records every read, so each test counts the SSM calls a warm instance makes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.harness import FlakySource, tenant_doc
from support.issuers import FakeClock
from tenant_authorizer.runtime.caller import Caller, parse_arn
from tenant_authorizer.runtime.errors import PlatformFault, Reason, TenantNotBound
from tenant_authorizer.runtime.index import content_hash, shard_of
from tenant_authorizer.runtime.registry import TenantRegistry
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


def publish(source: FlakySource, docs: list[dict[str, Any]], shard_count: int = 128) -> None:
    """What one `terraform apply` writes: the documents, then the index."""
    source.accounts = render_account_documents(docs)
    source.parameters = render_index(source.accounts, shard_count)


def version(registry: TenantRegistry, account_id: str) -> str:
    tenant = registry.lookup(caller(account_id)).tenant.config
    return tenant.static_tokens[0].principal_id


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def setup(
    clock: FakeClock, accounts: list[str], shard_count: int = 128, **kwargs: Any
) -> tuple[FlakySource, TenantRegistry]:
    source = FlakySource({}, {})
    publish(source, docs_for(accounts), shard_count)
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
        assert source.reads == [("index/root",)]


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
    shard = shard_of(accounts[7], 128)
    assert source.reads[:2] == [("index/root",), (f"index/{shard}",)]
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
    source, registry = setup(clock, accounts, shard_count=1)
    version(registry, accounts[0])  # learns the index (its shard guess was for 128 shards)
    version(registry, accounts[1])  # reads the one shard's marker with its document
    source.reads.clear()
    version(registry, accounts[2])
    (read,) = source.reads
    assert len(read) == 10 and read[0] == f"accounts/{accounts[2]}"
    for a in accounts[3:]:
        version(registry, a)
    assert len(source.reads) == 2  # 15 accounts in four calls in all


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
    assert json.loads(source.parameters[f"index/{shard_of(a, 128)}"])["accounts"][a] == (
        content_hash(new_doc)
    )


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
    assert source.reads == [(f"accounts/{a}", "index/root")]  # the root rides along, free


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
    source.reads.clear()
    clock.now += 61
    version(registry, a)
    assert source.reads == [("index/root",)]
