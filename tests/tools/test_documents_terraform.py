"""Terraform and the Python validator render the same SSM documents and index, byte for byte.

`terraform fmt`, `validate` and `terraform test` of every root, module and example run
in `make tf-check`; this file checks what only Python can compare: that the HCL renderer
(terraform/modules/tenant-registry) and tenant_authorizer.tools.validation agree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.aws import aws_env, moto_server, ssm_client
from support.tenants import assign_aliases
from tenant_authorizer.runtime.index import DEFAULT_LAYOUT, Layout, account_parameter
from tenant_authorizer.tools.documents import group_accounts, render_index, render_layout
from tenant_authorizer.tools.validation import validate

REPO = Path(__file__).resolve().parents[2]
PREFIX = "/tenant-authorizer"
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
TRICKY = """\
tenant_id: tricky
description: dropped from the document
token:
  header: X-Api-Token
  scheme: ""
issuers:
  - issuer: https://idp.example.com/<&>/é
    audiences: ["a\\u2028b", "quote\\"d"]
    clock_skew_seconds: 30.0
    max_token_age_seconds: 1e3
    required_claims:
      level: [1.50, 0.0000001, -0, true]
      "https://example.com/tier": gold
    discovery: ~
bindings:
  - account_id: "111122223333"
    api_ids: [a1b2c3d4e5]
    stages: [$default]
    response: simple
  - account_id: "444455556666"
"""


def terraform() -> str:
    """The terraform binary; in CI (CI=true) a missing binary fails instead of skipping."""
    found = shutil.which("terraform")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("terraform is not on PATH; CI must run the Terraform tests")
        pytest.skip("terraform is not on PATH")
    return found


def terraform_documents(
    configs: Path, tmp_path: Path, layout: Layout, group: int
) -> dict[str, str]:
    """What terraform/tenants plans to write for ``group``: parameter name -> value.

    The root reads the layout and platform parameters terraform/platform writes: a moto
    server on 127.0.0.1 holds them.
    """
    workdir = tmp_path / "terraform"
    shutil.copytree(
        REPO / "terraform", workdir, ignore=shutil.ignore_patterns(".terraform", "tests")
    )
    (tmp_path / "terraformrc").write_text(CLI_CONFIG, encoding="utf-8")
    root = workdir / "tenants"
    with moto_server() as endpoint:
        env = {
            **os.environ,
            **aws_env(endpoint),
            "TF_CLI_CONFIG_FILE": str(tmp_path / "terraformrc"),
            "TF_IN_AUTOMATION": "1",
        }
        env.pop("TF_DATA_DIR", None)
        ssm = ssm_client(endpoint)
        facts = {"alias_count": 256, "function_arn": "arn", "function_name": "f", "version": 1}
        for name, value in (
            ("/tenant-authorizer/index/layout", render_layout(layout)),
            ("/tenant-authorizer/platform", json.dumps(facts)),
        ):
            ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
        subprocess.run(
            [terraform(), "init", "-backend=false", "-input=false", "-no-color"],
            cwd=root, env=env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        subprocess.run(
            [
                terraform(), "plan", "-no-color", "-input=false", "-out=plan.bin",
                f"-var=tenant_configs_dir={configs}",
                "-var=allow_local_development_issuers=true",
                f"-var=group={group}",
            ],
            cwd=root, env=env, check=True, capture_output=True, timeout=180,
        )  # fmt: skip
        shown = subprocess.run(
            [terraform(), "show", "-json", "-no-color", "plan.bin"],
            cwd=root, env=env, check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    planned = json.loads(shown.stdout)["planned_values"]["root_module"]
    written: dict[str, str] = {}
    for module in planned.get("child_modules", []):
        for resource in module.get("resources", []):
            if resource["type"] == "aws_ssm_parameter":
                values = resource["values"]
                written[values["name"].removeprefix(PREFIX + "/")] = values["insecure_value"]
    return written


@pytest.mark.parametrize(("groups", "group"), [(1, 0), (3, 2)])
def test_shipped_and_tricky_tenants_render_identically(
    tmp_path: Path, groups: int, group: int
) -> None:
    """Terraform writes exactly the bytes `tenant-authz validate` sizes and checks.

    With one group the group's root covers every account; with three, group 2 writes only
    the accounts of shards n % 3 == 2, as tools.documents.group_accounts says.
    """
    configs = tmp_path / "configs"
    shutil.copytree(REPO / "tenant_configs", configs, ignore=shutil.ignore_patterns("*.json"))
    (configs / "tricky.yaml").write_text(TRICKY, encoding="utf-8")
    assign_aliases(configs)
    report = validate([configs])
    assert [str(p) for p in report.problems] == []
    layout = Layout(groups, DEFAULT_LAYOUT.shard_count)
    written = terraform_documents(configs, tmp_path, layout, group)
    mine = {a: report.documents[a] for a in group_accounts(report.documents, group, layout)}
    assert 0 < len(mine) <= len(report.documents)
    assert written == {
        **{account_parameter(a): d for a, d in mine.items()},
        **render_index(mine, layout, group),
    }
