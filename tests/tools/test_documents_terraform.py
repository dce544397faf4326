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

from tenant_authorizer.tools.documents import render_index
from tenant_authorizer.tools.validation import validate

REPO = Path(__file__).resolve().parents[2]
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


def terraform_documents(configs: Path, tmp_path: Path) -> dict[str, dict[str, str]]:
    """module.registry's documents and change index, evaluated by `terraform console`."""
    workdir = tmp_path / "terraform"
    shutil.copytree(
        REPO / "terraform", workdir, ignore=shutil.ignore_patterns(".terraform", "tests")
    )
    (tmp_path / "terraformrc").write_text(CLI_CONFIG, encoding="utf-8")
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(tmp_path / "terraformrc"),
        "TF_IN_AUTOMATION": "1",
        "AWS_REGION": "us-east-1",
    }
    env.pop("TF_DATA_DIR", None)
    subprocess.run(
        [terraform(), "init", "-backend=false", "-input=false", "-no-color"],
        cwd=workdir, env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    result = subprocess.run(
        [
            terraform(), "console", "-no-color",
            f"-var=tenant_configs_dir={configs}",
            "-var=allow_local_development_issuers=true",
            "-var=lambda_package_base64sha256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        ],
        cwd=workdir, env=env,
        input="jsonencode([module.registry.documents, module.registry.index_parameters])\n",
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    documents, index = json.loads(json.loads(result.stdout))
    return {"documents": documents, "index": index}


def test_shipped_and_tricky_tenants_render_identically(tmp_path: Path) -> None:
    """Terraform writes exactly the bytes `tenant-authz validate` sizes and checks."""
    configs = tmp_path / "configs"
    shutil.copytree(REPO / "tenant_configs", configs, ignore=shutil.ignore_patterns("*.json"))
    (configs / "tricky.yaml").write_text(TRICKY, encoding="utf-8")
    report = validate([configs])
    assert [str(p) for p in report.problems] == []
    rendered = terraform_documents(configs, tmp_path)
    assert rendered["documents"] == report.documents
    assert rendered["index"] == render_index(report.documents)
