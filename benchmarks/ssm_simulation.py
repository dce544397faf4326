"""`make bench`: SSM at 10,000 tenants and 100 warm instances, on a virtual clock.

    .venv/bin/python benchmarks/ssm_simulation.py

These machines cannot host a hundred Lambda instances, so this runs N registries in one
process over one simulated SSM: a token bucket (40 calls/s, SSM's standard throughput
for an account and region, or 1,000/s, a higher-throughput setting), 10 ms a call,
throttling as ``ThrottlingException``. Each instance receives Poisson traffic (50
requests/s) over M accounts with Zipf popularity (s = 1); each request is decided at its
arrival (Lambda would start more executions rather than queue), a call's latency and a
retry's sleep moving the clock of that decision only. An edit (at 100 s) and an onboarding (at
150 s, then one request a second to the new account on every instance) are written in
Terraform's order: documents, then shard markers a second later, then the root.

**Today's design** is the registry as it was before the change index (commit ``BASE``,
checked out into a temporary worktree): each document re-read on use once its TTL ran
out. **The index** is this tree's registry over what Terraform now writes (decision 0019).

* *steady*: every instance already holds every account it will be asked about (warmed
  before t = 0 without a rate limit, spread over one TTL as instances drift), then
  traffic with the rate limit on;
* *burst*: N instances start cold at once and take traffic for 120 s.

Fault decisions are the registry's 500s (``tenant_config_unavailable`` and the like; an
account that is not bound yet is not one). The seed is fixed: two runs print the same
numbers.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import inspect
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
BASE = "4b1d037"  # the last commit before the change index (issue 11)
TTL = 60.0
INSTANCES = 100
RATE_PER_INSTANCE = 50.0
EDIT_AT, ONBOARD_AT = 100.0, 150.0
EDITED_RANK = 10  # popular enough that every instance is asked about it every few seconds
NEWCOMER = "999999999999"


class Clock:
    """The virtual time of the decision being made."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Ssm:
    """Parameters by name under the prefix, behind a rate limit and a latency.

    The limit counts calls per one-second window of the timeline: at most ``rate`` calls
    whose time falls in a window get through, the others are throttled. Instances, each on
    its own clock, call a little out of order (one that slept is ahead); counting by
    window keeps the rate over the whole timeline whatever that order.
    """

    def __init__(self, clock: Clock, rate: float, unavailable: type[Exception]) -> None:
        self.clock = clock
        self.rate = rate
        self.windows: dict[int, int] = {}
        self.values: dict[str, str] = {}
        self.unavailable = unavailable
        self.limited = True
        self.calls = self.throttles = 0

    def _call(self) -> None:
        self.calls += 1
        if not self.limited:
            return
        window = int(self.clock.now // 1)
        self.clock.now += 0.01
        used = self.windows.get(window, 0)
        if used < self.rate:
            self.windows[window] = used + 1
            return
        self.throttles += 1
        try:
            error = self.unavailable("SSM ThrottlingException", throttled=True)  # type: ignore[call-arg]
        except TypeError:  # today's SourceUnavailable takes a message only
            error = self.unavailable("SSM ThrottlingException")
        raise error

    def load_account(self, account_id: str) -> str | None:
        """Today's source: one document a call (GetParameter)."""
        self._call()
        return self.values.get(f"accounts/{account_id}")

    def read(self, names: Sequence[str]) -> dict[str, str | None]:
        """The index's source: up to ten names a call (GetParameters)."""
        self._call()
        return {name: self.values.get(name) for name in names}

    def load_secret(self, name: str) -> bytes | None:
        self._call()
        return None


def _runtime(tree: Path) -> dict[str, Any]:
    """The registry and its exceptions from ``tree``, with one parse per distinct document."""
    sys.path[:0] = [str(tree / "platform")]
    from tenant_authorizer.runtime import account, registry
    from tenant_authorizer.runtime.caller import parse_arn
    from tenant_authorizer.runtime.errors import PlatformFault, TenantNotBound
    from tenant_authorizer.runtime.sources import SourceUnavailable

    parse = account.parse_account_document
    parsed: dict[tuple[str, str], Any] = {}

    def shared(raw: str, source: str, account_id: str, *_: Any) -> Any:
        # Each instance would parse its own copy; what is measured here is SSM.
        # (The base commit's parser takes three arguments, this tree's a fourth.)
        if (raw, account_id) not in parsed:
            parsed[raw, account_id] = parse(raw, source, account_id)
        return parsed[raw, account_id]

    modules = [registry, sys.modules.get("tenant_authorizer.runtime.accounts")]
    for module in modules:
        if module is not None and hasattr(module, "parse_account_document"):
            module.parse_account_document = shared  # type: ignore[attr-defined]
    return {
        "registry": registry.TenantRegistry,
        "parse_arn": parse_arn,
        "fault": PlatformFault,
        "unbound": TenantNotBound,
        "unavailable": SourceUnavailable,
    }


def _document(account_id: str, tag: str) -> str:
    from tenant_authorizer.tools.documents import render_account_documents

    doc = {
        "tenant_id": f"t{account_id}",
        "bindings": [{"account_id": account_id}],
        "issuers": [{"issuer": f"https://idp-{account_id}.example.com", "audiences": [tag]}],
    }
    return render_account_documents([doc])[account_id]


class Writes:
    """What Terraform writes and when: documents first, markers 1 s later, the root 2 s."""

    def __init__(self, documents: dict[str, str], with_index: bool) -> None:
        self.documents = dict(documents)
        self.with_index = with_index
        self.pending: list[tuple[float, str, str]] = []

    def initial(self) -> dict[str, str]:
        return {f"accounts/{a}": d for a, d in self.documents.items()} | self._index()

    def _index(self) -> dict[str, str]:
        if not self.with_index:
            return {}
        from tenant_authorizer.tools.documents import render_index

        return render_index(self.documents)

    def apply(self, at: float, documents: dict[str, str]) -> float:
        """Stage an apply starting at ``at``; when its last write lands."""
        before = self._index()
        self.documents.update(documents)
        writes = [(at, f"accounts/{a}", d) for a, d in documents.items()]
        for name, value in self._index().items():
            if before.get(name) != value:
                root = name.startswith("index/root-")  # a group root lands after its markers
                writes.append((at + (2.0 if root else 1.0), name, value))
        self.pending = sorted(self.pending + writes)
        return max(when for when, _, _ in writes)

    def due(self, now: float) -> list[tuple[str, str]]:
        out = []
        while self.pending and self.pending[0][0] <= now:
            _, name, value = self.pending.pop(0)
            out.append((name, value))
        return out


class Run(NamedTuple):
    """One row of the table, for each design."""

    label: str
    scenario: str  # steady or burst
    accounts: int
    rate: float  # SSM calls a second
    seconds: float  # simulated


def simulate(tree: Path, design: str, run: Run) -> dict[str, Any]:
    """One scenario for one design; the counts it observed."""
    _, scenario, accounts, rate, seconds = run
    runtime = _runtime(tree)
    clock, rng = Clock(), random.Random(7)  # noqa: S311  (a seeded simulation, not a secret)
    ssm = Ssm(clock, rate, runtime["unavailable"])
    names = [f"{100000000000 + n}" for n in range(accounts)]
    writes = Writes({a: _document(a, "v1") for a in names}, with_index=design == "index")
    ssm.values.update(writes.initial())
    kwargs: dict[str, Any] = {"ttl": TTL, "clock": clock}
    if "sleep" in inspect.signature(runtime["registry"]).parameters:
        kwargs |= {"sleep": clock.sleep, "rand": rng.random}
    registries = [runtime["registry"](ssm, **kwargs) for _ in range(INSTANCES)]
    edited = names[EDITED_RANK]
    edited_at = onboarded_at = 0.0
    arn = "arn:aws:execute-api:us-east-1:{}:a1b2c3d4e5/prod/GET/orders"
    callers = {a: runtime["parse_arn"](arn.format(a)) for a in [*names, NEWCOMER]}
    cumulative, total = [], 0.0
    for rank in range(accounts):
        total += 1 / (rank + 1)
        cumulative.append(total)

    if scenario == "steady":
        ssm.limited = False
        for i, registry in enumerate(registries):
            clock.now = -TTL + TTL * i / INSTANCES
            for account_id in names:
                registry.lookup(callers[account_id])
        ssm.limited, ssm.calls = True, 0
        edited_at = writes.apply(EDIT_AT, {edited: _document(edited, "v2")})
        onboarded_at = writes.apply(ONBOARD_AT, {NEWCOMER: _document(NEWCOMER, "v1")})
    # After each apply, every instance is also asked about the account it changed once a
    # second, so that "reached every instance" is measured to the second.
    probes = [(EDIT_AT, edited), (ONBOARD_AT, NEWCOMER)] if scenario == "steady" else []
    due = [[at for at, _ in probes] for _ in range(INSTANCES)]
    events = [(rng.expovariate(RATE_PER_INSTANCE), i) for i in range(INSTANCES)]
    heapq.heapify(events)
    counts = {"decisions": 0, "faults": 0, "stale": 0}
    edit_seen: dict[int, float] = {}
    onboard_seen: dict[int, float] = {}
    first_ok: dict[int, float] = {}
    last_fault = None
    fault, unbound = runtime["fault"], runtime["unbound"]
    while events:
        at, i = heapq.heappop(events)
        if at > seconds:
            continue
        for name, value in writes.due(at):
            ssm.values[name] = value
        clock.now = at
        account_id = names[bisect.bisect(cumulative, rng.random() * total)]
        for p, (_, probed) in enumerate(probes):
            if at >= due[i][p]:
                account_id, due[i][p] = probed, at + 1.0
                break
        counts["decisions"] += 1
        try:
            resolution = registries[i].lookup(callers[account_id])
        except unbound:
            pass
        except fault:
            counts["faults"] += 1
            last_fault = at
        else:
            first_ok.setdefault(i, at)
            counts["stale"] += resolution.stale
            audience = resolution.tenant.config.issuers[0].audiences[0]
            if account_id == edited and audience == "v2":
                edit_seen.setdefault(i, at)
            if account_id == NEWCOMER:
                onboard_seen.setdefault(i, at)
        heapq.heappush(events, (at + rng.expovariate(RATE_PER_INSTANCE), i))

    def reached(seen: dict[int, float], since: float) -> float | None:
        return max(seen.values()) - since if len(seen) == INSTANCES else None

    return {
        **counts,
        "calls": ssm.calls,
        "throttles": ssm.throttles,
        "seconds": seconds,
        "edit": reached(edit_seen, edited_at),
        "onboarding": reached(onboard_seen, onboarded_at),
        "all_decided": reached(first_ok, 0.0),
        "last_fault": last_fault,
    }


# --------------------------------------------------------------------------- the table

RUNS = [
    Run("steady, 1,000 accounts, 40/s", "steady", 1_000, 40.0, 300.0),
    Run("steady, 10,000 accounts, 40/s", "steady", 10_000, 40.0, 300.0),
    Run("steady, 10,000 accounts, 1,000/s", "steady", 10_000, 1000.0, 300.0),
    Run("burst, 10,000 accounts, 40/s", "burst", 10_000, 40.0, 120.0),
    Run("burst, 10,000 accounts, 1,000/s", "burst", 10_000, 1000.0, 120.0),
]


def _worker(args: argparse.Namespace) -> None:
    run = Run("", args.scenario, args.accounts, args.rate, args.seconds)
    result = simulate(Path(args.tree), args.design, run)
    print(json.dumps(result))


def _job(tree: Path, design: str, run: Run) -> dict[str, Any]:
    _, scenario, accounts, rate, seconds = run
    command = [
        sys.executable, __file__, "--worker", "--tree", str(tree), "--design", design,
        "--scenario", scenario, "--accounts", str(accounts), "--rate", str(rate),
        "--seconds", str(seconds),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _cell(value: float | None, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "never"
    return f"{value:,.{digits}f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--design", help=argparse.SUPPRESS)
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--accounts", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    started = time.perf_counter()
    known = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{BASE}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch) / "base"
        designs: tuple[tuple[Path, str], ...] = ((ROOT, "index"),)
        if known.returncode == 0:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), BASE],
                check=True,
            )
            designs = ((base, "today"), (ROOT, "index"))
        else:
            print(f"commit {BASE} is not in this clone (shallow?): today's design is left out")
        try:
            jobs = [(tree, design, run) for run in RUNS for tree, design in designs]
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
                results = list(pool.map(lambda job: _job(*job), jobs))
        finally:
            if base.exists():
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                    check=False,
                )
    print(f"\nSSM simulation: {INSTANCES} instances x {RATE_PER_INSTANCE:g} requests/s, Zipf over"
          f" M accounts, config TTL {TTL:g} s; today = {BASE}, index = this tree")  # fmt: skip
    header = f"{'run':<34} {'design':<6} {'SSM calls/s':>11} {'/inst/TTL':>9} {'throttles':>9}"
    header += (
        f" {'stale':>9} {'faults':>8} {'edit':>7} {'onboard':>7} {'all up':>7} {'last 500':>8}"
    )
    print(header)
    print("-" * len(header))
    for (_, design, run), result in zip(jobs, results, strict=True):
        seconds = result["seconds"]
        per_instance = result["calls"] / INSTANCES / (seconds / TTL)
        print(
            f"{run[0]:<34} {design:<6} {result['calls'] / seconds:>11,.1f} {per_instance:>9,.1f}"
            f" {result['throttles']:>9,} {result['stale']:>9,} {result['faults']:>8,}"
            f" {_cell(result['edit'], ' s'):>7} {_cell(result['onboarding'], ' s'):>7}"
            f" {_cell(result['all_decided'], ' s', 1):>7} {_cell(result['last_fault'], ' s'):>8}"
        )
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"\n{time.perf_counter() - started:.0f} s wall clock, load average {load}")


if __name__ == "__main__":
    main()
