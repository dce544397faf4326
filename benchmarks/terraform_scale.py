"""Issue 12: what a `terraform plan` of one tenant group costs at 1,000 and 10,000 tenants.

    .venv/bin/python benchmarks/terraform_scale.py [--tenants 1000 10000] [--groups 8]

The old single Terraform root planned every tenant's resources in one state: 1,000 tenants
took 63 s and 0.6 GB to plan, 5,000 tenants 12.5 min and 6.4 GB, so 10,000 was out of
reach. Now terraform/platform owns the function and its aliases and terraform/tenants is
applied once per tenant group (workspace group-NN, decision 0020), writing only the SSM
documents, change-index markers and invoke permissions of that group's accounts. Every
group still reads (``yamldecode``) every tenant file and ``aliases.json``, so the plan of
one group is not simply 1/G of the old one; this measures what it is.

For N tenants (one https issuer and one bound account each) and G groups (default 8), in a
copy of terraform/ with ``terraform init -backend=false`` done once, against a moto server
(127.0.0.1) holding the two parameters terraform/platform writes (the layout and the
platform facts, alias_count 256) and answering STS:

* (a) ``terraform plan -refresh=false -input=false -lock=false -out=...`` of workspace
  group-00 with empty state: the first apply of that group, about N/G accounts;
* (b) the same plan after one more tenant file (an account of group 00, with its alias
  assigned): still empty state, so this is the upper bound of an onboarding plan (with
  ``-refresh=false`` a populated state only adds reading the state file);
* (c) a diagnostic: the plan of (a) from a directory holding only group 00's tenant files
  (and their aliases): the same resources, without reading the other groups' N - N/G
  files, which separates the cost of reading every file from the cost of the group's
  resources.

Each terraform command runs in a fresh subprocess. Wall time is measured around it. Peak
memory is measured twice: GNU ``/usr/bin/time -v`` ("Maximum resident set size", the
largest single process of the tree: terraform or the AWS provider it starts), and by
polling ``VmHWM`` in /proc/<pid>/status of every process of the tree every 0.1 s, which
splits terraform core from the provider plugin (their sum bounds what both held at once).
Planned resources are counted from ``terraform show -json`` of the saved plan.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT / "tests")]

from support.aws import aws_env, moto_server, ssm_client  # noqa: E402
from tenant_authorizer.tools.aliases import assign  # noqa: E402

PREFIX = "/tenant-authorizer"
SHARD_COUNT = 128
ALIAS_COUNT = 256
GROUP = 0
TIMEOUT = 600.0  # per terraform command
GNU_TIME = "/usr/bin/time"
CLI_CONFIG = """\
provider_installation {
  filesystem_mirror {
    path    = "/opt/tf-plugins"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
"""


def group_of(account: str, groups: int) -> int:
    """The tenant group of an account, as terraform/tenants computes it."""
    return (int(hashlib.sha256(account.encode()).hexdigest()[:8], 16) % SHARD_COUNT) % groups


def account_id(number: int) -> str:
    """A distinct 12-digit account id."""
    return f"{200000000000 + number:012d}"


def tenant_yaml(number: int, account: str) -> str:
    """A tenant file: one https issuer, one audience, one account-wide binding."""
    return (
        f"tenant_id: t-{number:05d}\n"
        "issuers:\n"
        f"  - issuer: https://idp-{number}.example.com\n"
        "    audiences: [api]\n"
        "bindings:\n"
        f'  - account_id: "{account}"\n'
    )


def write_tenant(configs: Path, number: int, account: str) -> None:
    (configs / f"t-{number:05d}.yaml").write_text(tenant_yaml(number, account), encoding="utf-8")


def write_aliases(
    configs: Path, current: Mapping[str, str], accounts: Sequence[str]
) -> dict[str, str]:
    """``aliases.json`` as `tenant-authz aliases` would keep it; returns the assignment."""
    assignment = assign(current, dict.fromkeys(accounts), alias_count=ALIAS_COUNT)
    (configs / "aliases.json").write_text(json.dumps(assignment, indent=2) + "\n", encoding="utf-8")
    return assignment


@dataclass
class Run:
    """One terraform command: its outcome, time and memory."""

    seconds: float
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    tree_max_rss_kb: int | None = None  # /usr/bin/time -v: largest single process of the tree
    cpu_seconds: float | None = None  # /usr/bin/time -v: user + system of the tree
    hwm_kb: dict[str, int] = field(default_factory=dict)  # polled VmHWM, max per process name

    @property
    def core_kb(self) -> int:
        return self.hwm_kb.get("terraform", 0)

    @property
    def provider_kb(self) -> int:
        # /proc truncates names to 15 characters: terraform-provider-aws_v5.100.0_x5
        return max(
            (kb for name, kb in self.hwm_kb.items() if name.startswith("terraform-prov")),
            default=0,
        )


def _process_tree(root: int) -> list[int]:
    """``root`` and its descendants (this kernel has no /proc/<pid>/task/<tid>/children)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text(encoding="utf-8")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _status(pid: int) -> tuple[str, int] | None:
    """(Name, VmHWM in kB) of a live process."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    if "VmHWM" not in fields:  # a zombie, or a kernel thread
        return None
    return fields["Name"].strip(), int(fields["VmHWM"].split()[0])


def _poll(root: int, done: threading.Event, peaks: dict[int, tuple[str, int]]) -> None:
    while not done.is_set():
        for pid in _process_tree(root):
            got = _status(pid)
            if got is not None:
                name, hwm = got
                peaks[pid] = (name, max(hwm, peaks.get(pid, (name, 0))[1]))
        done.wait(0.1)


def measure(args: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float) -> Run:
    """Run one command in a fresh process (its own session), timing it and its memory."""
    with tempfile.NamedTemporaryFile("r", suffix=".time", encoding="utf-8") as report:
        wrapped = os.access(GNU_TIME, os.X_OK)
        command = [GNU_TIME, "-v", "-o", report.name, *args] if wrapped else list(args)
        peaks: dict[int, tuple[str, int]] = {}
        done = threading.Event()
        started = time.monotonic()
        proc = subprocess.Popen(
            command, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )  # fmt: skip
        poller = threading.Thread(target=_poll, args=(proc.pid, done, peaks), daemon=True)
        poller.start()
        returncode: int | None
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
            returncode = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the session this call started
            stdout, stderr = proc.communicate()
            returncode = None
        seconds = time.monotonic() - started
        done.set()
        poller.join()
        run = Run(seconds, returncode, stdout, stderr)
        for name, kb in peaks.values():
            run.hwm_kb[name] = max(kb, run.hwm_kb.get(name, 0))
        if wrapped and returncode is not None:
            facts = dict(
                line.strip().rsplit(": ", 1) for line in report.read().splitlines() if ": " in line
            )
            run.tree_max_rss_kb = int(facts["Maximum resident set size (kbytes)"])
            run.cpu_seconds = float(facts["User time (seconds)"]) + float(
                facts["System time (seconds)"]
            )
    return run


def check(run: Run, what: str) -> None:
    if run.returncode != 0:
        tail = "\n".join((run.stderr or run.stdout).splitlines()[-30:])
        status = "timed out" if run.returncode is None else f"exit {run.returncode}"
        raise SystemExit(f"{what}: {status} after {run.seconds:.1f} s\n{tail}")


def mb(kb: int | None) -> str:
    return "-" if kb is None else f"{kb / 1024:.0f}"


@dataclass
class Row:
    tenants: int
    case: str
    accounts: int
    plan: Run
    resources: dict[str, int]
    show_seconds: float


def plan_group(
    terraform: str, root: Path, env: Mapping[str, str], configs: Path, out: str
) -> tuple[Run, dict[str, int], float]:
    """Plan group-00 from empty state; the planned creations by resource type."""
    plan = measure(
        [terraform, "plan", "-refresh=false", "-input=false", "-lock=false", "-no-color",
         f"-out={out}", f"-var=tenant_configs_dir={configs}"],
        root, env, TIMEOUT,
    )  # fmt: skip
    if plan.returncode is None:
        return plan, {}, 0.0
    check(plan, "terraform plan")
    shown = measure([terraform, "show", "-json", "-no-color", out], root, env, TIMEOUT)
    check(shown, "terraform show -json")
    counts: dict[str, int] = {}
    for change in json.loads(shown.stdout).get("resource_changes", []):
        if "create" in change["change"]["actions"]:
            counts[change["type"]] = counts.get(change["type"], 0) + 1
    return plan, counts, shown.seconds


def summary_line(stdout: str) -> str:
    return next((line for line in stdout.splitlines() if line.startswith("Plan:")), "(no Plan:)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--groups", type=int, default=8)
    args = parser.parse_args()
    groups: int = args.groups
    terraform = shutil.which("terraform")
    if terraform is None:
        raise SystemExit("terraform is not on PATH")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    started = time.monotonic()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average before: {load} ({os.cpu_count()} CPUs)")
    version = subprocess.run(
        [terraform, "version", "-json"], capture_output=True, text=True, check=True,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
    )  # fmt: skip
    facts = json.loads(version.stdout)
    print(f"terraform {facts['terraform_version']} ({facts['platform']})")
    memory = "GNU /usr/bin/time -v" if os.access(GNU_TIME, os.X_OK) else "(no /usr/bin/time)"
    print(f"memory: {memory} and /proc/<pid>/status VmHWM polled every 0.1 s")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="tf-scale-") as scratch, moto_server() as endpoint:
        tmp = Path(scratch)
        workdir = tmp / "terraform"
        shutil.copytree(
            ROOT / "terraform", workdir, ignore=shutil.ignore_patterns(".terraform", "tests")
        )
        (tmp / "terraformrc").write_text(CLI_CONFIG, encoding="utf-8")
        env = {
            **os.environ,
            **aws_env(endpoint),
            "TF_CLI_CONFIG_FILE": str(tmp / "terraformrc"),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
        }
        for name in ("TF_DATA_DIR", "TF_WORKSPACE", "TF_LOG"):
            env.pop(name, None)
        ssm = ssm_client(endpoint)
        layout = {"groups": groups, "shard_count": SHARD_COUNT, "version": 1}
        platform = {
            "alias_count": ALIAS_COUNT,
            "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:tenant-authorizer",
            "function_name": "tenant-authorizer",
            "version": 1,
        }
        for name, value in (("index/layout", layout), ("platform", platform)):
            ssm.put_parameter(
                Name=f"{PREFIX}/{name}", Value=json.dumps(value, separators=(",", ":")),
                Type="String", Overwrite=True,
            )  # fmt: skip
        root = workdir / "tenants"
        init = measure(
            [terraform, "init", "-backend=false", "-input=false", "-no-color"], root, env, 300
        )
        check(init, "terraform init")
        installed = [line for line in init.stdout.splitlines() if "Installed" in line]
        provider = installed[0].strip().lstrip("- ") if installed else "(provider: see init)"
        print(f"init: {init.seconds:.1f} s; {provider}")
        workspace = measure(
            [terraform, "workspace", "new", "-no-color", f"group-{GROUP:02d}"], root, env, 60
        )
        check(workspace, "terraform workspace new")
        for n in args.tenants:
            configs = tmp / f"configs-{n}"
            configs.mkdir()
            accounts = [account_id(i) for i in range(n)]
            prepared = time.monotonic()
            for i, account in enumerate(accounts):
                write_tenant(configs, i, account)
            assignment = write_aliases(configs, {}, accounts)
            mine = sum(1 for a in accounts if group_of(a, groups) == GROUP)
            written = time.monotonic() - prepared
            print(
                f"\nN={n}: {n} tenant files and aliases.json written in {written:.1f} s;"
                f" group-{GROUP:02d} has {mine} accounts"
            )
            plan, counts, show_s = plan_group(terraform, root, env, configs, f"plan-{n}-a.bin")
            rows.append(Row(n, "a", mine, plan, counts, show_s))
            print(f"  (a) {plan.seconds:.1f} s  {summary_line(plan.stdout)}")
            if plan.returncode is None:
                print(f"  (a) timed out after {plan.seconds:.0f} s: (b) skipped")
                continue
            newcomer = next(
                account_id(j)
                for j in range(n, n + 10_000)
                if group_of(account_id(j), groups) == GROUP
            )
            write_tenant(configs, n, newcomer)
            write_aliases(configs, assignment, [*accounts, newcomer])
            plan, counts, show_s = plan_group(terraform, root, env, configs, f"plan-{n}-b.bin")
            rows.append(Row(n + 1, "b", mine + 1, plan, counts, show_s))
            print(f"  (b) {plan.seconds:.1f} s  {summary_line(plan.stdout)}")
            # (c) where the time goes: the same accounts, without the other groups' files.
            only = tmp / f"configs-{n}-group"
            only.mkdir()
            for i, account in enumerate(accounts):
                if group_of(account, groups) == GROUP:
                    write_tenant(only, i, account)
            kept = {a: alias for a, alias in assignment.items() if group_of(a, groups) == GROUP}
            (only / "aliases.json").write_text(json.dumps(kept, indent=2) + "\n", encoding="utf-8")
            plan, counts, show_s = plan_group(terraform, root, env, only, f"plan-{n}-c.bin")
            rows.append(Row(mine, "c", mine, plan, counts, show_s))
            print(f"  (c) {plan.seconds:.1f} s  {summary_line(plan.stdout)}")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"\nterraform plan of workspace group-{GROUP:02d} (G={groups}, empty state, -refresh=false)"
    )
    header = (
        f"{'case':<5}{'tenants':>8}{'accounts':>10}{'plan s':>9}{'cpu s':>8}"
        f"{'peak MB':>9}{'core MB':>9}{'prov MB':>9}{'sum MB':>8}{'created':>9}{'show s':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        run = row.plan
        plan_s = f"{run.seconds:.1f}" + ("" if run.returncode is not None else "+")
        cpu = "-" if run.cpu_seconds is None else f"{run.cpu_seconds:.1f}"
        print(
            f"({row.case}){'':<2}{row.tenants:>8}{row.accounts:>10}{plan_s:>9}{cpu:>8}"
            f"{mb(run.tree_max_rss_kb):>9}{mb(run.core_kb):>9}{mb(run.provider_kb):>9}"
            f"{mb(run.core_kb + run.provider_kb):>8}{sum(row.resources.values()):>9}"
            f"{row.show_seconds:>8.1f}"
        )
    print(
        "peak MB: /usr/bin/time -v max RSS (largest single process); core / prov: polled VmHWM"
        " of terraform and of the provider plugin; sum: both (an upper bound of the total)."
        " '+' after plan s: killed at the timeout. (c): only group 00's tenant files"
        " (tenants = files read)."
    )
    for row in rows:
        if row.resources:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(row.resources.items()))
            print(f"({row.case}) N={row.tenants}: created {kinds}")
    print(f"total run time: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
