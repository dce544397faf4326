"""The e2e package's shared platform deployment (tests/support/deployment.py): applied once."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator

import pytest

from support.aws import aws_env, moto_server
from support.deployment import (
    ALIAS_COUNT,
    CLI_CONFIG,
    FUNCTION,
    GROUPS,
    PACKAGE,
    PREFIX,
    REPO,
    Deployment,
    assert_nothing_left,
    terraform_binary,
)
from tenant_authorizer import handler as lambda_handler
from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.tools.packaging import build


@pytest.fixture(scope="package")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """terraform/platform applied on moto (8 aliases, 2 tenant groups), for every e2e test."""
    terraform_binary()
    root = tmp_path_factory.mktemp("checkout")
    shutil.copytree(
        REPO / "terraform",
        root / "terraform",
        ignore=shutil.ignore_patterns(".terraform", "tests", "*.tfstate*", "*.tfplan"),
    )
    (root / ".venv").symlink_to(REPO / ".venv")
    package = build(root / PACKAGE, cache_dir=REPO / "build" / ".pip-cache")
    (root / "terraformrc").write_text(CLI_CONFIG, encoding="utf-8")
    variables = {
        "function_name": FUNCTION,
        "ssm_prefix": PREFIX,
        "alias_count": ALIAS_COUNT,
        "tenant_groups": GROUPS,
        "runtime_settings": {"config_ttl_seconds": 1, "config_stale_seconds": 1},
        # moto has no API for saved Logs Insights queries (terraform test covers them).
        "observability": {"saved_queries": False},
    }
    (root / "terraform/platform/terraform.tfvars.json").write_text(
        json.dumps(variables), encoding="utf-8"
    )
    with moto_server() as endpoint:
        # moto keeps one backend per process: start from nothing.
        reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310
        urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310 - http://127.0.0.1 only
        env = {
            **os.environ,
            **aws_env(endpoint),
            "TF_CLI_CONFIG_FILE": str(root / "terraformrc"),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            # What the runbooks ask of a platform whose names are not the defaults.
            "TENANT_AUTHZ_FUNCTION": FUNCTION,
            "TENANT_AUTHZ_SSM_PREFIX": PREFIX,
            "TENANT_AUTHZ_TENANT_GROUPS": str(GROUPS),
            # The runbooks' `aws` is the venv's AWS CLI (pyproject's dev extra).
            "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        }
        env.pop("TF_DATA_DIR", None)
        env.pop("TF_WORKSPACE", None)
        deployed = Deployment(root, endpoint, env, package)
        deployed.terraform("terraform/platform", "init", "-input=false")
        deployed.terraform("terraform/platform", "apply", "-auto-approve", "-input=false")
        deployed.outputs = deployed.output("terraform/platform")
        yield deployed
        deployed.terraform("terraform/platform", "destroy", "-auto-approve", "-input=false")
        assert_nothing_left(deployed)
        print(f"terraform timings (s): { {k: round(v, 1) for k, v in deployed.timings.items()} }")


@pytest.fixture
def endpoint(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The deployment's moto server; boto3 in this process (the handler's too) points at it."""
    for name, value in aws_env(deployment.endpoint).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TENANT_AUTHZ_SSM_PREFIX", PREFIX)
    monkeypatch.setenv("TENANT_AUTHZ_CONFIG_TTL_SECONDS", "1")
    monkeypatch.setenv("TENANT_AUTHZ_CONFIG_STALE_SECONDS", "1")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
    lambda_handler.reset()
    yield deployment.endpoint
    lambda_handler.reset()


@pytest.fixture
def two_issuers() -> Iterator[list[DevIssuer]]:
    """Two development issuers on 127.0.0.1 (the audience of test_terraform_e2e's tenants)."""
    from .test_terraform_e2e import AUDIENCE

    started = [DevIssuer(port=0, audience=AUDIENCE).start() for _ in range(2)]
    yield started
    for issuer in started:
        issuer.stop()
