"""The offboarding and SSM-outage runbooks, walked block by block on the shared deployment.

Each fenced ``sh`` block of the page runs as pasted, with bash from the working copy's
root, the variables the page asks for in the environment, and the venv's AWS CLI against
moto. The test checks what each step's "How to verify" promises, then what the runbook is
for: an offboarded tenant's APIs get no decision once the TTL passes, the others keep
theirs; the last tenant leaves nothing behind.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.aws import REGION
from support.deployment import ALIAS_COUNT, FUNCTION, GROUPS, PREFIX, Deployment
from support.recorder import recorder
from support.runbooks import blocks
from support.tenants import assign_aliases
from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.runtime.index import group_of, shard_of

from .test_terraform_e2e import TENANTS, Tenant, account_in, apply_group, decide

pytestmark = pytest.mark.e2e

GIT = {
    "GIT_AUTHOR_NAME": "On Call",
    "GIT_AUTHOR_EMAIL": "oncall@example.com",
    "GIT_COMMITTER_NAME": "On Call",
    "GIT_COMMITTER_EMAIL": "oncall@example.com",
}


def walk(deployed: Deployment, page: str, **env: str) -> list[str]:
    """Run each block of ``page``; return each one's output. Fails on a non-zero exit."""
    outputs = []
    for block in blocks(page):
        result = deployed.shell(block, **env)
        assert result.returncode == 0, f"{page}: {block}\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout + result.stderr)
    return outputs


def git(deployed: Deployment, directory: Path, *args: str) -> None:
    """Run git in the tenant directory, as the platform team's repository."""
    result = deployed.shell(f"git -C {directory} " + " ".join(args), **GIT)
    assert result.returncode == 0, result.stderr


def offboard(deployed: Deployment, tenants: Path, tenant: Tenant, alias: str) -> list[str]:
    """Walk offboarding.md for ``tenant``; check each step's promise; return the outputs."""
    group = f"group-{group_of(shard_of(tenant.account, 128), GROUPS):02d}"
    recorded, removed, applied, checked, secrets = walk(
        deployed,
        "offboarding.md",
        TENANTS=str(tenants),
        TENANT=tenant.tenant_id,
        **GIT,
    )
    assert recorded.split() == [tenant.account, alias, group], recorded
    assert f"removed {tenant.account} ({group}): apply that group" in removed
    assert f"{group}" in applied and "Apply complete!" in applied
    assert "no drift" in checked
    assert f"{tenant.account} ({alias}, {group}): 0 invoke statement(s)" in checked
    assert not list(deployed.root.glob("offboard-*")), "step 5 leaves no working file"
    return [recorded, removed, applied, checked, secrets]


def test_offboard_a_tenant_then_the_last_as_the_runbook_says(
    deployment: Deployment, endpoint: str, two_issuers: list[DevIssuer]
) -> None:
    """acme leaves (its secret too); initech, the last tenant, leaves nothing behind."""
    acme = Tenant("acme", account_in(0), "a1c2m3e4f5", two_issuers[0])
    initech = Tenant("initech", account_in(1), None, two_issuers[1])
    tenants = deployment.root / "offboarding-tenants"
    tenants.mkdir()
    for tenant in (acme, initech):
        (tenants / f"{tenant.tenant_id}.yaml").write_text(tenant.yaml(), encoding="utf-8")
    assign_aliases(tenants, ALIAS_COUNT)
    aliases = json.loads((tenants / "aliases.json").read_text(encoding="utf-8"))
    git(deployment, tenants, "init", "-q")
    git(deployment, tenants, "add", ".")
    git(deployment, tenants, "commit", "-qm", "'Onboard acme and initech'")
    deployment.use_tenants(tenants)
    deployment.terraform(TENANTS, "init", "-input=false")
    for group in range(GROUPS):
        apply_group(deployment, group)
    ssm = deployment.client("ssm")
    secret = f"{PREFIX}/secrets/acme/hs256"
    ssm.put_parameter(Name=secret, Value="not-a-real-secret", Type="SecureString")
    assert decide(acme.event(acme.token())) == decide(initech.event(initech.token())) == "allow"

    outputs = offboard(deployment, tenants, acme, aliases[acme.account])
    assert f"deleted {secret}" in outputs[4]
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=f"{PREFIX}/accounts/{acme.account}")
    time.sleep(1.2)  # the deployment's config TTL
    assert decide(acme.event(acme.token())) == "500", "an offboarded account gets no decision"
    assert decide(initech.event(initech.token())) == "allow", "the other tenant is untouched"

    outputs = offboard(deployment, tenants, initech, aliases[initech.account])
    assert "no tenant left" in outputs[1]
    assert "deleted" not in outputs[4], "a tenant without secrets has none to delete"
    assert json.loads((tenants / "aliases.json").read_text(encoding="utf-8")) == {}
    left = ssm.get_parameters_by_path(Path=f"{PREFIX}/accounts", Recursive=True)["Parameters"]
    assert left == []
    log = deployment.shell(f"git -C {tenants} log --format=%s")
    assert log.stdout.split("\n")[:2] == ["Offboard initech", "Offboard acme"]
    time.sleep(1.2)
    assert decide(initech.event(initech.token())) == "500"
    for group in range(GROUPS):  # the workspaces hold nothing of either tenant
        deployment.terraform(TENANTS, "workspace", "select", f"group-{group:02d}")
        state = deployment.terraform(TENANTS, "state", "list", check=False)
        assert acme.account not in state and initech.account not in state
        deployment.terraform(TENANTS, "destroy", "-auto-approve", "-input=false")  # the roots


def test_the_ssm_outage_runbook_reads_the_metric_and_raises_the_throughput(
    deployment: Deployment,
) -> None:
    """Step 2 shows the throttled calls and the layout's version; step 3 sends the
    service-setting change (moto has no service settings: a recorder takes SSM's calls)."""
    diagnose, raise_throughput = blocks("ssm-outage.md")
    # What CloudWatch makes of the function's EMF lines: SsmThrottles per FunctionName.
    deployment.client("cloudwatch").put_metric_data(
        Namespace="TenantAuthorizer",
        MetricData=[
            {
                "MetricName": "SsmThrottles",
                "Dimensions": [{"Name": "FunctionName", "Value": FUNCTION}],
                "Timestamp": datetime.now(UTC) - timedelta(minutes=1),
                "Value": 7.0,
            }
        ],
    )
    shown = deployment.shell(diagnose)
    assert shown.returncode == 0, shown.stderr
    throttles, version = shown.stdout.split("\n")[:2]
    assert float(throttles) == 7.0
    layout = deployment.client("ssm").get_parameter(Name=f"{PREFIX}/index/layout")["Parameter"]
    assert version == str(layout["Version"])

    with recorder() as ssm:
        ssm.answers["AmazonSSM.GetServiceSetting"] = {"ServiceSetting": {"SettingValue": "true"}}
        raised = deployment.shell(raise_throughput, AWS_ENDPOINT_URL_SSM=ssm.url)
    assert raised.returncode == 0, raised.stderr
    assert raised.stdout.split() == ["true"]
    setting = (
        f"arn:aws:ssm:{REGION}:123456789012:servicesetting/ssm/parameter-store/"
        "high-throughput-enabled"
    )
    assert [(r.target, r.body) for r in ssm.requests] == [
        ("AmazonSSM.UpdateServiceSetting", {"SettingId": setting, "SettingValue": "true"}),
        ("AmazonSSM.GetServiceSetting", {"SettingId": setting}),
    ]
