"""Releases apart from onboarding (decision 0020): the release and rollback runbooks,
walked command by command on the shared moto deployment, and a rollback on ALARM.

Every fenced ``sh`` block of docs/runbooks/release.md and rollback.md runs, as written,
with bash from the working copy's root. One substitution: ``make package`` would build the
repository's own build/ from PyPI, so the test writes the zip it releases instead (a
changed copy of the deployed one: a new code hash, as a real change would give).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from support.deployment import ALIAS_COUNT, FUNCTION, PACKAGE, REPO, Deployment
from support.runbooks import blocks

pytestmark = pytest.mark.e2e

FAST = {"TENANT_AUTHZ_RELEASE_BAKE_SECONDS": "1", "TENANT_AUTHZ_RELEASE_POLL_SECONDS": "0.1"}
ALARM = f"{FUNCTION}-fault-decisions"


def changed_package(deployed: Deployment, marker: str) -> None:
    """What `make package` writes after a code change: the zip with one more file."""
    target = deployed.root / PACKAGE
    original = deployed.root / "build" / "deployed.zip"
    if not original.exists():
        shutil.copy(target, original)
    shutil.copy(original, target)
    with zipfile.ZipFile(target, "a") as archive:
        archive.writestr("tenant_authorizer/release_marker.txt", marker)


def walk(deployed: Deployment, page: str, *, package: str | None) -> list[str]:
    """Run each block of ``page``; return each block's output. Fails on a non-zero exit."""
    outputs = []
    for block in blocks(page):
        lines = block.splitlines()
        if lines[0].strip() == "make package":
            if package is None:
                shutil.copy(deployed.root / "build" / "deployed.zip", deployed.root / PACKAGE)
            else:
                changed_package(deployed, package)
            lines = lines[1:]
        if not lines:
            outputs.append("")
            continue
        result = deployed.shell("\n".join(lines), **FAST)
        assert result.returncode == 0, f"{page}: {block}\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout + result.stderr)
    return outputs


def alias_versions(deployed: Deployment) -> dict[str, tuple[str, Any]]:
    """Each shard alias's version and routing weights."""
    aliases = deployed.client("lambda").list_aliases(FunctionName=FUNCTION)["Aliases"]
    return {
        a["Name"]: (
            a["FunctionVersion"],
            (a.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {},
        )
        for a in aliases
    }


def set_alarm(deployed: Deployment, state: str) -> None:
    """Set the fault-decisions alarm's state, as CloudWatch would."""
    deployed.client("cloudwatch").set_alarm_state(
        AlarmName=ALARM, StateValue=state, StateReason="set by the test"
    )


def test_release_then_rollback_as_the_runbooks_say(deployment: Deployment) -> None:
    """release.md moves every alias to the new version; rollback.md brings them back."""
    before = alias_versions(deployment)
    assert len(before) == ALIAS_COUNT
    (stable,) = {v for v, _ in before.values()}

    outputs = walk(deployment, "release.md", package="release 1")
    status = outputs[-1]
    versions = {v for v, _ in alias_versions(deployment).values()}
    assert len(versions) == 1 and versions != {stable}, "every alias moved to one new version"
    (released,) = versions
    assert all(not w for _, w in alias_versions(deployment).values()), "no routing left"
    assert f"version {released}: {ALIAS_COUNT} alias(es)" in status
    assert f"last release: {stable} -> {released}, released" in status
    assert "alarms in ALARM: none" in status
    code = deployment.client("lambda").get_function_configuration(
        FunctionName=FUNCTION, Qualifier=released
    )["CodeSha256"]
    assert code != deployment.package.base64sha256, "the released version runs the new zip"

    set_alarm(deployment, "ALARM")  # the incident the rollback is for
    try:
        outputs = walk(deployment, "rollback.md", package=None)
    finally:
        set_alarm(deployment, "OK")
    assert f"alarms in ALARM: {ALARM}" in outputs[0]
    assert f"last release: {stable} -> {released}, released" in outputs[0]
    assert {v for v, _ in alias_versions(deployment).values()} == {stable}
    assert f"last release: {stable} -> {released}, rolled-back" in outputs[2]
    # $LATEST holds the old code again, as a version of its own; aliases stay on stable.
    latest = deployment.client("lambda").get_function_configuration(FunctionName=FUNCTION)
    assert latest["CodeSha256"] == deployment.package.base64sha256
    assert {v for v, _ in alias_versions(deployment).values()} == {stable}


def test_an_alarm_during_the_release_rolls_every_alias_back(deployment: Deployment) -> None:
    """The test sets the alarm once the first step routes traffic: exit 3, all aliases back."""
    changed_package(deployment, "release 2")
    deployment.terraform("terraform/platform", "apply", "-auto-approve", "-input=false")
    (stable,) = {v for v, _ in alias_versions(deployment).values()}
    seen: list[dict[str, tuple[str, Any]]] = []

    def fire_on_first_step() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            versions = alias_versions(deployment)
            if all(w for _, w in versions.values()):
                seen.append(versions)
                set_alarm(deployment, "ALARM")
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=fire_on_first_step)
    watcher.start()
    try:
        result = deployment.shell(
            ".venv/bin/tenant-authz release --bake-seconds 30 --poll-seconds 0.1"
        )
        watcher.join()
        after = alias_versions(deployment)
        status = deployment.shell(".venv/bin/tenant-authz release-status --json")
        again = deployment.shell(".venv/bin/tenant-authz release")
    finally:
        set_alarm(deployment, "OK")
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"alarm {ALARM} went to ALARM at 10%" in result.stderr
    (weights,) = {tuple(w.values()) for _, w in seen[0].values()}
    assert weights == (0.1,), "the first step routes 10% of every alias to the new version"
    assert after == {name: (stable, {}) for name in after}, "every alias back, no routing"
    assert '"status": "rolled-back"' in status.stdout
    assert again.returncode == 1 and "is in ALARM" in again.stderr, "no release in an incident"
    assert "Traceback" not in result.stderr + again.stderr
    # Leave $LATEST as the deployed code for whatever runs next.
    shutil.copy(deployment.root / "build" / "deployed.zip", deployment.root / PACKAGE)
    deployment.terraform("terraform/platform", "apply", "-auto-approve", "-input=false")


def test_release_errors_are_one_sentence(deployment: Deployment, tmp_path: Path) -> None:
    """No such function, bad steps, or a version that is not the expected code: the fix."""
    missing = deployment.shell(".venv/bin/tenant-authz release --function nope")
    assert missing.returncode == 1
    assert "apply terraform/platform first" in missing.stderr
    steps = deployment.shell(".venv/bin/tenant-authz release --steps 50,10")
    assert steps.returncode == 2 and "increasing percentages" in steps.stderr
    wrong = deployment.shell(".venv/bin/tenant-authz release --expect-sha256 AAAA")
    assert wrong.returncode == 1 and "apply terraform/platform with the zip" in wrong.stderr
    no_creds = subprocess.run(
        [str(REPO / ".venv/bin/tenant-authz"), "rollback"],
        env={
            "PATH": "/usr/bin:/bin",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",  # no credential lookup off the machine
            "HOME": str(tmp_path),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert no_creds.returncode == 1 and "no AWS credentials" in no_creds.stderr
    no_region = subprocess.run(
        [str(REPO / ".venv/bin/tenant-authz"), "release-status"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert no_region.returncode == 1 and "no AWS region" in no_region.stderr
    for result in (missing, steps, wrong, no_creds, no_region):
        assert "Traceback" not in result.stderr
