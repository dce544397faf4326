"""End to end: `terraform apply` of the real platform root against moto, then the handler.

Terraform runs offline (filesystem mirror of /opt/tf-plugins) against a moto server on
127.0.0.1; tenants' issuers are development issuers on 127.0.0.1. moto cannot run the
function, so the handler is called in-process against the same moto SSM, as API Gateway
would call the deployed alias.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from support.aws import REGION, aws_env, moto_server
from tenant_authorizer import handler as lambda_handler
from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.tools.documents import render_index
from tenant_authorizer.tools.packaging import build
from tenant_authorizer.tools.validation import validate

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PLUGIN_MIRROR = Path("/opt/tf-plugins")
PREFIX = "/tenant-authorizer"
FUNCTION = "tenant-authorizer"
AUDIENCE = "https://api.example.test"
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


@dataclass
class Tenant:
    """A tenant of the test: its file's facts and its issuer."""

    tenant_id: str
    account: str
    api_id: str | None
    issuer: DevIssuer

    def yaml(self) -> str:
        """The tenant file, as the platform team would write it."""
        binding = f'  - account_id: "{self.account}"\n'
        if self.api_id is not None:
            binding += f"    api_ids: [{self.api_id}]\n"
        return (
            f"tenant_id: {self.tenant_id}\n"
            "issuers:\n"
            f"  - issuer: {self.issuer.issuer}\n"
            "    local_development: true\n"
            f"    jwks_uri: {self.issuer.jwks_uri}\n"
            f'    audiences: ["{AUDIENCE}"]\n'
            f"bindings:\n{binding}"
        )

    def event(self, token: str) -> dict[str, Any]:
        """A REST TOKEN event for GET /orders on this tenant's API."""
        api = self.api_id or "q1w2e3r4t5"
        return {
            "type": "TOKEN",
            "authorizationToken": f"Bearer {token}",
            "methodArn": f"arn:aws:execute-api:{REGION}:{self.account}:{api}/prod/GET/orders",
        }

    def token(self) -> str:
        """A valid token of this tenant's issuer."""
        return self.issuer.mint(audience=AUDIENCE)


class Stack:
    """The platform root copied to a work directory, applied against moto."""

    def __init__(self, workdir: Path, env: dict[str, str], variables: dict[str, Any]) -> None:
        self.workdir = workdir
        self.env = env
        (workdir / "terraform.tfvars.json").write_text(json.dumps(variables), encoding="utf-8")
        self.timings: dict[str, float] = {}

    def run(self, *args: str) -> str:
        """Run a terraform command; fail the test with its output when it fails."""
        started = time.monotonic()
        result = subprocess.run(
            [terraform_binary(), *args, "-no-color"],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        self.timings[args[0]] = self.timings.get(args[0], 0.0) + time.monotonic() - started
        if result.returncode != 0:
            pytest.fail(
                f"terraform {' '.join(args)} failed:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def apply(self) -> dict[str, Any]:
        """Apply and return the outputs."""
        self.run("apply", "-auto-approve", "-input=false")
        outputs: dict[str, Any] = json.loads(self.run("output", "-json"))
        return {name: value["value"] for name, value in outputs.items()}


def client(service: str, endpoint: str) -> Any:
    """A boto3 client on the moto server."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def policy_statements(endpoint: str, alias: str) -> list[dict[str, Any]]:
    """The statements of an alias's resource policy (none when it has no policy)."""
    lam = client("lambda", endpoint)
    try:
        policy = lam.get_policy(FunctionName=FUNCTION, Qualifier=alias)["Policy"]
    except lam.exceptions.ResourceNotFoundException:
        return []
    statements: list[dict[str, Any]] = json.loads(policy)["Statement"]
    return statements


@dataclass
class LambdaContext:
    """The part of Lambda's context object the handler reads."""

    invoked_function_arn: str


def decide(event: dict[str, Any], function_arn: str | None = None) -> str:
    """The outcome API Gateway would see: allow, deny, 401 or 500.

    ``function_arn`` is the (alias-qualified) ARN the call came through; None calls the
    handler unqualified, as only the platform's own principals can.
    """
    context = LambdaContext(function_arn) if function_arn is not None else None
    try:
        response = lambda_handler.handler(event, context)
    except Exception as exc:  # noqa: BLE001 - the handler's contract is an exception
        return "401" if str(exc) == "Unauthorized" else "500"
    effects = {s["Effect"] for s in response["policyDocument"]["Statement"]}
    return "allow" if effects == {"Allow"} else "deny"


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh moto server; boto3 in this process (the handler's too) points at it."""
    with moto_server() as url:
        for name, value in aws_env(url).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("TENANT_AUTHZ_SSM_PREFIX", PREFIX)
        monkeypatch.setenv("TENANT_AUTHZ_CONFIG_TTL_SECONDS", "1")
        monkeypatch.setenv("TENANT_AUTHZ_CONFIG_STALE_SECONDS", "1")
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
        lambda_handler.reset()
        yield url
        lambda_handler.reset()


@pytest.fixture
def issuers() -> Iterator[list[DevIssuer]]:
    """Three development issuers on 127.0.0.1."""
    started = [DevIssuer(port=0, audience=AUDIENCE).start() for _ in range(3)]
    yield started
    for issuer in started:
        issuer.stop()


def test_onboard_serve_offboard_and_destroy(
    endpoint: str, issuers: list[DevIssuer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One YAML file + apply onboards a tenant; removing it offboards; destroy leaves nothing."""
    terraform_binary()
    alpha = Tenant("alpha", "111111111111", "a1b2c3d4e5", issuers[0])
    beta = Tenant("beta", "222222222222", None, issuers[1])
    gamma = Tenant("gamma", "333333333333", "g1h2i3j4k5", issuers[2])

    tenants_dir = tmp_path / "tenants"
    tenants_dir.mkdir()
    for tenant in (alpha, beta):
        (tenants_dir / f"{tenant.tenant_id}.yaml").write_text(tenant.yaml(), encoding="utf-8")

    workdir = tmp_path / "terraform"
    shutil.copytree(
        REPO / "terraform",
        workdir,
        ignore=shutil.ignore_patterns(".terraform", "tests", "*.tfstate*"),
    )
    package = build(tmp_path / "lambda.zip", cache_dir=REPO / "build" / ".pip-cache")
    (tmp_path / "terraformrc").write_text(CLI_CONFIG, encoding="utf-8")
    env = {
        **os.environ,
        **aws_env(endpoint),
        "TF_CLI_CONFIG_FILE": str(tmp_path / "terraformrc"),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    env.pop("TF_DATA_DIR", None)
    stack = Stack(
        workdir,
        env,
        {
            "tenant_configs_dir": str(tenants_dir),
            "allow_local_development_issuers": True,
            "lambda_package_path": str(package.path),
            "runtime_settings": {"config_ttl_seconds": 1, "config_stale_seconds": 1},
        },
    )
    ssm, lam = client("ssm", endpoint), client("lambda", endpoint)

    # -- onboard alpha and beta
    stack.run("init", "-input=false")
    outputs = stack.apply()
    parameters = ssm.get_parameters_by_path(Path=f"{PREFIX}/accounts", Recursive=True)["Parameters"]
    assert {p["Name"]: p["Value"] for p in parameters} == {
        f"{PREFIX}/accounts/{account}": document
        for account, document in validate([tenants_dir]).documents.items()
    }, "Terraform must write byte for byte what tenant-authz validate renders"
    index = ssm.get_parameters_by_path(Path=f"{PREFIX}/index", Recursive=True)["Parameters"]
    assert {p["Name"].removeprefix(f"{PREFIX}/"): p["Value"] for p in index} == render_index(
        validate([tenants_dir]).documents
    ), "the change index names the content hash of every document Terraform wrote"
    aliases = outputs["account_aliases"]
    alpha_policy = policy_statements(endpoint, aliases[alpha.account])
    assert {
        (s["Sid"], s["Condition"]["ArnLike"]["AWS:SourceArn"])
        for s in alpha_policy
        if alpha.account in s["Sid"]
    } == {
        (
            f"tenant-{alpha.account}-{alpha.api_id}",
            f"arn:aws:execute-api:{REGION}:{alpha.account}:{alpha.api_id}/authorizers/*",
        )
    }
    assert outputs["tenants"]["alpha"][alpha.account]["function_arn"].endswith(
        f":function:{FUNCTION}:{aliases[alpha.account]}"
    )
    function = lam.get_function(FunctionName=FUNCTION)["Configuration"]
    assert function["CodeSha256"] == package.base64sha256

    # A second plan has nothing to do: no perpetual diff (e.g. on the SSM tier).
    stack.run("plan", "-detailed-exitcode", "-input=false")

    assert decide(alpha.event(alpha.token())) == "allow"
    assert decide(beta.event(beta.token())) == "allow"
    registry = lambda_handler._instance().registry
    assert registry.mode == "index", "the deployed function reads the change index"
    reads = registry.stats.fetches
    time.sleep(1.1)  # past the config TTL: one root check, no document re-read
    assert decide(alpha.event(alpha.token())) == decide(beta.event(beta.token())) == "allow"
    assert registry.stats.fetches == reads + 1
    assert decide(alpha.event(beta.token())) == "401", "B's token must not open A's API"
    assert decide(beta.event(alpha.token())) == "401", "A's token must not open B's API"

    # -- each account is decided only through the alias its document names
    beta_wide = [
        s for s in policy_statements(endpoint, aliases[beta.account]) if beta.account in s["Sid"]
    ]
    assert [s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in beta_wide] == [
        f"arn:aws:execute-api:{REGION}:{beta.account}:??????????/authorizers/*"
    ], "an account-wide permission admits 10-character API ids, not any path"
    for tenant in (alpha, beta):
        document = json.loads(
            ssm.get_parameter(Name=f"{PREFIX}/accounts/{tenant.account}")["Parameter"]["Value"]
        )
        assert document["alias"] == aliases[tenant.account]
        own_arn = outputs["tenants"][tenant.tenant_id][tenant.account]["function_arn"]
        assert decide(tenant.event(tenant.token()), own_arn) == "allow"
    other_alias = next(a for a in ("shard-000", "shard-001") if a != aliases[alpha.account])
    function_arn = outputs["tenants"]["alpha"][alpha.account]["function_arn"].rsplit(":", 1)[0]
    forged_through = f"{function_arn}:{other_alias}"
    capsys.readouterr()
    assert decide(alpha.event(alpha.token()), forged_through) == "500", (
        "a call through another alias never decides for alpha's account"
    )
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (line["reason"], line["tenant_id"]) == ("alias_mismatch", "alpha")

    # -- onboard gamma with one more file: no redeployment of the function
    (tenants_dir / "gamma.yaml").write_text(gamma.yaml(), encoding="utf-8")
    outputs = stack.apply()
    after = lam.get_function(FunctionName=FUNCTION)["Configuration"]
    assert (after["CodeSha256"], after["Version"], after["LastModified"]) == (
        function["CodeSha256"],
        function["Version"],
        function["LastModified"],
    )
    assert outputs["account_aliases"][alpha.account] == aliases[alpha.account]
    assert decide(gamma.event(gamma.token())) == "allow"
    assert decide(gamma.event(alpha.token())) == "401"

    # -- offboard beta: parameter and permission gone, tokens refused once the TTL passes
    assert decide(beta.event(beta.token())) == "allow"  # warm cache
    (tenants_dir / "beta.yaml").unlink()
    stack.apply()
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=f"{PREFIX}/accounts/{beta.account}")
    assert not [
        s for s in policy_statements(endpoint, aliases[beta.account]) if beta.account in s["Sid"]
    ]
    time.sleep(1.2)
    assert decide(beta.event(beta.token())) == "500", "an unbound account is an onboarding fault"
    assert decide(alpha.event(alpha.token())) == "allow"

    # -- destroy leaves nothing behind
    stack.run("destroy", "-auto-approve", "-input=false")
    assert ssm.get_parameters_by_path(Path=PREFIX, Recursive=True)["Parameters"] == []
    assert lam.list_functions()["Functions"] == []
    roles = client("iam", endpoint).list_roles()["Roles"]
    assert not [r for r in roles if r["RoleName"].startswith(FUNCTION)]
    groups = client("logs", endpoint).describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{FUNCTION}"
    )
    assert groups["logGroups"] == []
    alarms = client("cloudwatch", endpoint).describe_alarms(AlarmNamePrefix=FUNCTION)
    assert alarms["MetricAlarms"] == [] and alarms["CompositeAlarms"] == []
    kms = client("kms", endpoint)
    assert not [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/{FUNCTION}"]
    states = {
        kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"]
        for k in kms.list_keys()["Keys"]
    }
    assert states <= {"PendingDeletion"}, "KMS keys can only be scheduled for deletion"
    print(f"terraform timings (s): { {k: round(v, 1) for k, v in stack.timings.items()} }")
