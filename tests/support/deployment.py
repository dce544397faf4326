"""One platform deployment on moto, shared by every end-to-end test (tests/e2e/conftest.py).

The fixture lays out a working copy the way an operator's checkout looks (``terraform/``,
``.venv`` and ``build/`` at its root), so that runbook commands run from "the repository
root" as written. ``terraform/platform`` is applied once, against a moto server on
127.0.0.1 that lives for the e2e package; each test applies its own tenant groups of
``terraform/tenants`` and destroys them, and the fixture destroys the platform last and
checks that nothing is left.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from support import runbooks
from support.aws import REGION
from tenant_authorizer.tools.packaging import BuildResult

REPO = Path(__file__).resolve().parents[2]
PLUGIN_MIRROR = Path("/opt/tf-plugins")
# Names of their own: moto keeps one backend per process, which other tests share.
PREFIX = "/e2e-authorizer"
FUNCTION = "e2e-authorizer"
ALIAS_COUNT = 8
GROUPS = 2
PACKAGE = Path("build/lambda-arm64-py3.12.zip")  # the platform root's default zip path
CLI_CONFIG = f"""\
provider_installation {{
  filesystem_mirror {{
    path    = "{PLUGIN_MIRROR}"
    include = ["registry.terraform.io/hashicorp/aws"]
  }}
  direct {{
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }}
}}
"""


def terraform_binary() -> str:
    """The terraform binary; in CI (CI=true) a missing binary fails instead of skipping."""
    found = shutil.which("terraform")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("terraform is not on PATH; CI must run the Terraform end-to-end test")
        pytest.skip("terraform is not on PATH")
    return found


def client(service: str, endpoint: str) -> Any:
    """A boto3 client on the moto server."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@dataclass
class Deployment:
    """The applied platform: a working copy, its environment, its outputs."""

    root: Path  # the working copy's root, as an operator's checkout
    endpoint: str
    env: dict[str, str]
    package: BuildResult
    outputs: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def terraform(self, directory: str, *args: str, check: bool = True) -> str:
        """Run terraform in ``directory`` of the working copy; fail the test if it fails."""
        started = time.monotonic()
        result = subprocess.run(
            [terraform_binary(), *args, "-no-color"],
            cwd=self.root / directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        key = f"{directory} {args[0]}"
        self.timings[key] = self.timings.get(key, 0.0) + time.monotonic() - started
        if check and result.returncode != 0:
            pytest.fail(
                f"terraform {' '.join(args)} in {directory} failed:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout + result.stderr

    def output(self, directory: str) -> dict[str, Any]:
        """The outputs of ``directory``'s current workspace."""
        outputs: dict[str, Any] = json.loads(self.terraform(directory, "output", "-json"))
        return {name: value["value"] for name, value in outputs.items()}

    def shell(self, command: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """A runbook command, run by bash from the working copy's root."""
        return runbooks.run(command, self.root, {**self.env, **extra})

    def use_tenants(self, directory: Path) -> None:
        """Point terraform/tenants of the working copy at ``directory``."""
        variables = {
            "tenant_configs_dir": str(directory),
            "allow_local_development_issuers": True,
            "ssm_prefix": PREFIX,
        }
        (self.root / "terraform/tenants/terraform.tfvars.json").write_text(
            json.dumps(variables), encoding="utf-8"
        )

    def client(self, service: str) -> Any:
        """A boto3 client on the moto server."""
        return client(service, self.endpoint)


def assert_nothing_left(deployed: Deployment) -> None:
    """After destroy: no parameter Terraform wrote, no function, role, logs, alarms or key."""
    ssm = deployed.client("ssm")
    left = ssm.get_parameters_by_path(Path=PREFIX, Recursive=True)["Parameters"]
    # The release record is the release command's, not Terraform's.
    assert [p["Name"] for p in left if p["Name"] != f"{PREFIX}/release"] == []
    lam = deployed.client("lambda")
    assert lam.list_functions()["Functions"] == []
    roles = deployed.client("iam").list_roles()["Roles"]
    assert not [r for r in roles if r["RoleName"].startswith(FUNCTION)]
    groups = deployed.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{FUNCTION}"
    )
    assert groups["logGroups"] == []
    cloudwatch = deployed.client("cloudwatch")
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=FUNCTION)
    assert alarms["MetricAlarms"] == [] and alarms["CompositeAlarms"] == []
    assert cloudwatch.list_dashboards(DashboardNamePrefix=FUNCTION)["DashboardEntries"] == []
    rules = cloudwatch.describe_insight_rules().get("InsightRules", [])
    assert not [r for r in rules if r["Name"].startswith(FUNCTION)]
    kms = deployed.client("kms")
    assert not [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/{FUNCTION}"]
    states = {
        kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"]
        for k in kms.list_keys()["Keys"]
    }
    assert states <= {"PendingDeletion"}, "KMS keys can only be scheduled for deletion"
