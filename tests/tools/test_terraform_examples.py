"""Terraform examples a platform team copies: each has a README, and the S3 backend
example initialises both roots (moto's S3 on 127.0.0.1 plays the bucket)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import boto3

from support.aws import REGION, aws_env, moto_server
from support.deployment import CLI_CONFIG, REPO, terraform_binary

EXAMPLES = sorted(
    [
        *(REPO / "terraform" / "modules").glob("*/examples/*"),
        *(REPO / "terraform" / "examples").glob("*"),
    ]
)


def test_every_example_has_a_readme_and_a_plan_test() -> None:
    """A README says what the example is for; a tests/ plan keeps it working (backends
    have no resources to plan: the test below initialises them)."""
    assert EXAMPLES
    for example in EXAMPLES:
        assert (example / "README.md").is_file(), f"{example} has no README.md"
        if example.name != "s3-backend":
            assert list((example / "tests").glob("*.tftest.hcl")), f"{example} has no plan test"


def test_the_s3_backend_example_initialises_both_roots(tmp_path: Path) -> None:
    """The README's copy and init steps, against a bucket on moto: the tenants root's
    workspace state lands under workspace_key_prefix."""
    terraform = terraform_binary()
    example = REPO / "terraform" / "examples" / "s3-backend"
    root = tmp_path / "checkout"
    shutil.copytree(
        REPO / "terraform",
        root / "terraform",
        ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.tfplan"),
    )
    (tmp_path / "terraformrc").write_text(CLI_CONFIG, encoding="utf-8")
    with moto_server() as endpoint:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket="acme-platform-terraform-state")
        env = {
            **os.environ,
            **aws_env(endpoint),
            "TF_CLI_CONFIG_FILE": str(tmp_path / "terraformrc"),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
        }
        env.pop("TF_DATA_DIR", None)
        moto = [  # what a real bucket does not need
            "-backend-config=use_path_style=true",
            f'-backend-config=endpoints={{s3="{endpoint}"}}',
            "-backend-config=skip_credentials_validation=true",
            "-backend-config=skip_requesting_account_id=true",
        ]
        for name in ("platform", "tenants"):
            shutil.copy(example / "backend_override.tf", root / "terraform" / name)
            init = subprocess.run(
                [terraform, f"-chdir=terraform/{name}", "init", "-input=false", "-no-color",
                 f"-backend-config=../examples/s3-backend/{name}.s3.tfbackend", *moto],
                cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
            assert init.returncode == 0, init.stdout + init.stderr
        new = subprocess.run(
            [terraform, "-chdir=terraform/tenants", "workspace", "new", "-no-color", "group-00"],
            cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert new.returncode == 0, new.stdout + new.stderr
        keys = [
            o["Key"] for o in s3.list_objects_v2(Bucket="acme-platform-terraform-state")["Contents"]
        ]
    assert "tenant-authorizer/tenants/group-00/tenants.tfstate" in keys, keys


def test_only_the_roots_commit_a_lock_file() -> None:
    """Reusable modules and examples keep no .terraform.lock.hcl (a module's lock file
    is ignored by its callers and pins hashes for the wrong platforms)."""
    tracked = subprocess.run(
        ["git", "ls-files", "terraform"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    locks = sorted(p for p in tracked if p.endswith(".terraform.lock.hcl"))
    assert locks == [
        "terraform/platform/.terraform.lock.hcl",
        "terraform/tenants/.terraform.lock.hcl",
    ]
