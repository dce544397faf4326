"""Two commits side by side: the warm decision, the repeated token and the handler import.

    .venv/bin/python benchmarks/compare_refs.py BASE [NEW]

``BASE`` and ``NEW`` (default: the working tree) are git revisions, checked out into
temporary worktrees. Each measurement runs in fresh interpreters, alternating which tree
goes first, over several rounds; the table shows the median of each tree and their ratio
(NEW / BASE), and the machine's load before and after. For a change that should not move
performance (a restructure), every ratio should sit near 1.00.

Both trees must have the package layout of issue 10 (``tenant_authorizer.runtime``), or
the flat one before it (``tenant_authorizer.authorizer``).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_DECIDE = r"""
import os, sys, time
sys.path[:0] = [ROOT + "/platform", ROOT + "/tests"]
from support.events import event
from support.harness import issuer_entry, tenant_doc
try:
    from tenant_authorizer.dev.issuer import DevIssuer
    from tenant_authorizer.runtime.authorizer import Authorizer
    from tenant_authorizer.runtime.fetch import HttpFetcher
    from tenant_authorizer.runtime.jwks import JwksCache
    from tenant_authorizer.runtime.memo import TokenMemo
    from tenant_authorizer.runtime.registry import TenantRegistry
    from tenant_authorizer.runtime.sources import StaticSource
    from tenant_authorizer.runtime.telemetry import Telemetry
    try:
        from tenant_authorizer.tools.documents import render_account_documents
    except ImportError:
        from tenant_authorizer.tools.layout import render_account_documents
except ImportError:  # the flat layout before issue 10
    from tenant_authorizer.authorizer import Authorizer
    from tenant_authorizer.devissuer import DevIssuer
    from tenant_authorizer.http import HttpFetcher
    from tenant_authorizer.jwks import JwksCache
    from tenant_authorizer.layout import render_account_documents
    from tenant_authorizer.memo import TokenMemo
    from tenant_authorizer.registry import StaticSource, TenantRegistry
    from tenant_authorizer.telemetry import Telemetry
sink = open(os.devnull, "w")
with DevIssuer(port=0) as issuer:
    docs = [tenant_doc("acme", "123456789012", [issuer_entry(issuer)], api_ids=["a1b2c3d4e5"])]
    jwks = JwksCache(HttpFetcher())
    registry = TenantRegistry(StaticSource(render_account_documents(docs)))
    memo = TokenMemo(jwks, time.time)
    auth = Authorizer(registry, jwks, Telemetry(write=sink.write), memo=memo)
    if REPEAT:
        token = issuer.mint(alg="RS256", expires_in=3600, scope="orders:read")
        batches = [[event(KIND, token)] * 2000] * 5
    else:
        tokens = [
            issuer.mint(alg="RS256", expires_in=3600, scope="orders:read", claims={"n": n})
            for n in range(2500)
        ]
        events = [event(KIND, t) for t in tokens]
        batches = [events[r * 500 : (r + 1) * 500] for r in range(5)]
    assert auth.evaluate(batches[0][0]).outcome == "allow"
    best = float("inf")
    for batch in batches:
        started = time.perf_counter()
        for ev in batch:
            auth.evaluate(ev)
        best = min(best, (time.perf_counter() - started) / len(batch))
    print(best)
"""

_IMPORT = r"""
import sys, time
sys.path[:0] = [ROOT + "/platform"]
started = time.perf_counter()
import tenant_authorizer.handler
print(time.perf_counter() - started)
"""


def _run(code: str) -> float:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return float(done.stdout.split()[-1])


def _worktree(ref: str, into: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(into), ref], check=True
    )
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(into / "platform")], check=True)
    return into


def main(argv: list[str]) -> None:
    if len(argv) not in (1, 2):
        raise SystemExit("usage: benchmarks/compare_refs.py BASE [NEW]")
    with tempfile.TemporaryDirectory() as scratch:
        trees: list[tuple[str, Path]] = [(argv[0], _worktree(argv[0], Path(scratch) / "base"))]
        if len(argv) == 2:
            trees.append((argv[1], _worktree(argv[1], Path(scratch) / "new")))
        else:
            compiled = [sys.executable, "-m", "compileall", "-q", str(ROOT / "platform")]
            subprocess.run(compiled, check=True)
            trees.append(("working tree", ROOT))
        try:
            _compare(trees)
        finally:
            for _, path in trees:
                if path != ROOT:
                    subprocess.run(
                        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
                        check=False,
                    )


def _compare(trees: list[tuple[str, Path]]) -> None:
    print("load average", ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    cases = [
        (f"{kind}, {'repeated' if repeat else 'new'} token", kind, repeat)
        for kind in ("rest_token", "rest_request", "http_v2")
        for repeat in (False, True)
    ]
    print(f"{'measurement':<34} {trees[0][0]:>14} {trees[1][0]:>14}  ratio")
    for label, kind, repeat in [*cases, ("import tenant_authorizer.handler", "", False)]:
        samples: dict[int, list[float]] = {0: [], 1: []}
        rounds = 12 if not kind else 4
        for round_ in range(rounds):
            for index in (0, 1) if round_ % 2 else (1, 0):
                root = str(trees[index][1])
                code = _IMPORT if not kind else _DECIDE
                header = f"ROOT = {root!r}; KIND = {kind!r}; REPEAT = {repeat!r}\n"
                samples[index].append(_run(header + code))
        base, new = (statistics.median(samples[i]) * 1e6 for i in (0, 1))
        unit = "us" if kind else "ms"
        scale = 1.0 if kind else 1e-3
        print(
            f"{label:<34} {base * scale:>11.1f} {unit} {new * scale:>11.1f} {unit}"
            f"  {new / base:.2f}x"
        )
    print("load average", ", ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main(sys.argv[1:])
