"""End to end: the tenants root applied per tenant group over the shared platform, on moto.

Terraform runs offline (filesystem mirror of /opt/tf-plugins) against a moto server on
127.0.0.1 (the package's ``deployment`` fixture applied terraform/platform once); tenants'
issuers are development issuers on 127.0.0.1. moto cannot run the function, so the
handler is called in-process against the same moto SSM, as API Gateway would call the
deployed alias.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from support.aws import REGION
from support.deployment import ALIAS_COUNT, FUNCTION, GROUPS, PREFIX, Deployment
from support.tenants import assign_aliases
from tenant_authorizer import handler as lambda_handler
from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.runtime.index import Layout, group_of, shard_of
from tenant_authorizer.tools.documents import render_index
from tenant_authorizer.tools.validation import validate

pytestmark = pytest.mark.e2e

AUDIENCE = "https://api.example.test"
LAYOUT = Layout(GROUPS, 128)
TENANTS = "terraform/tenants"


def account_in(group: int, skip: tuple[str, ...] = ()) -> str:
    """An account id of tenant group ``group`` (of the deployment's two)."""
    for n in range(1000):
        account = f"{111111111111 + n * 1010101:012d}"
        if account not in skip and group_of(shard_of(account, 128), GROUPS) == group:
            return account
    raise AssertionError("no account found")


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


def policy_statements(deployed: Deployment, alias: str) -> list[dict[str, Any]]:
    """The statements of an alias's resource policy (none when it has no policy)."""
    lam = deployed.client("lambda")
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
def issuers() -> Iterator[list[DevIssuer]]:
    """Three development issuers on 127.0.0.1."""
    started = [DevIssuer(port=0, audience=AUDIENCE).start() for _ in range(3)]
    yield started
    for issuer in started:
        issuer.stop()


def apply_group(deployed: Deployment, group: int) -> dict[str, Any]:
    """Select (or create) the group's workspace of terraform/tenants, apply, return outputs."""
    deployed.terraform(TENANTS, "workspace", "select", "-or-create", f"group-{group:02d}")
    deployed.terraform(TENANTS, "apply", "-auto-approve", "-input=false")
    return deployed.output(TENANTS)


def planned_changes(deployed: Deployment, group: int) -> list[dict[str, Any]]:
    """The resource changes (not no-op) a plan of the group's workspace would make."""
    deployed.terraform(TENANTS, "workspace", "select", f"group-{group:02d}")
    deployed.terraform(TENANTS, "plan", "-input=false", "-out=onboard.tfplan")
    shown = json.loads(deployed.terraform(TENANTS, "show", "-json", "onboard.tfplan"))
    return [c for c in shown.get("resource_changes", []) if c["change"]["actions"] != ["no-op"]]


def test_onboard_serve_offboard_per_group(
    deployment: Deployment,
    endpoint: str,
    issuers: list[DevIssuer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One YAML file + the group's apply onboards a tenant, never touching the function."""
    alpha = Tenant("alpha", account_in(0), "a1b2c3d4e5", issuers[0])
    beta = Tenant("beta", account_in(1), None, issuers[1])
    gamma = Tenant("gamma", account_in(0, skip=(alpha.account,)), "g1h2i3j4k5", issuers[2])

    tenants_dir = deployment.root / "tenants"
    tenants_dir.mkdir()
    for tenant in (alpha, beta):
        (tenants_dir / f"{tenant.tenant_id}.yaml").write_text(tenant.yaml(), encoding="utf-8")
    assign_aliases(tenants_dir, ALIAS_COUNT)
    deployment.use_tenants(tenants_dir)
    ssm, lam = deployment.client("ssm"), deployment.client("lambda")
    function = lam.get_function(FunctionName=FUNCTION)["Configuration"]
    assert function["CodeSha256"] == deployment.package.base64sha256

    # -- onboard alpha (group 0) and beta (group 1): one apply per group workspace
    deployment.terraform(TENANTS, "init", "-input=false")
    outputs = {g: apply_group(deployment, g) for g in range(GROUPS)}
    assert outputs[0]["group"]["accounts"] == [alpha.account]
    assert outputs[1]["group"]["accounts"] == [beta.account]
    documents = validate([tenants_dir]).documents
    parameters = ssm.get_parameters_by_path(Path=f"{PREFIX}/accounts", Recursive=True)["Parameters"]
    assert {p["Name"]: p["Value"] for p in parameters} == {
        f"{PREFIX}/accounts/{account}": document for account, document in documents.items()
    }, "Terraform must write byte for byte what tenant-authz validate renders"
    index = ssm.get_parameters_by_path(Path=f"{PREFIX}/index", Recursive=True)["Parameters"]
    assert {p["Name"].removeprefix(f"{PREFIX}/"): p["Value"] for p in index} == render_index(
        documents, LAYOUT
    ), "the layout (platform) and each group's root and markers name every document's hash"
    aliases = {**outputs[0]["account_aliases"], **outputs[1]["account_aliases"]}
    assert aliases == json.loads((tenants_dir / "aliases.json").read_text(encoding="utf-8"))
    alpha_policy = policy_statements(deployment, aliases[alpha.account])
    assert {
        (s["Sid"], s["Condition"]["ArnLike"]["AWS:SourceArn"])
        for s in alpha_policy
        if alpha.account in s["Sid"]
    } == {
        (
            f"tenant-{alpha.account}-{alpha.api_id}-{aliases[alpha.account]}",
            f"arn:aws:execute-api:{REGION}:{alpha.account}:{alpha.api_id}/authorizers/*",
        )
    }
    alpha_arn = outputs[0]["tenants"]["alpha"][alpha.account]["function_arn"]
    assert alpha_arn.endswith(f":function:{FUNCTION}:{aliases[alpha.account]}")

    # A second plan of each group has nothing to do: no perpetual diff.
    for group in range(GROUPS):
        assert planned_changes(deployment, group) == []

    assert decide(alpha.event(alpha.token())) == "allow"
    assert decide(beta.event(beta.token())) == "allow"
    registry = lambda_handler._instance().registry
    assert registry.mode == "index", "the deployed function reads the change index"
    # The first cold read guessed names by the default layout (8 groups), so alpha's marker
    # is read once more after the first TTL; from then on a TTL costs one call.
    time.sleep(1.1)
    assert decide(alpha.event(alpha.token())) == decide(beta.event(beta.token())) == "allow"
    reads = registry.stats.fetches
    time.sleep(1.1)  # past the config TTL: one check (layout + both roots), no document read
    assert decide(alpha.event(alpha.token())) == decide(beta.event(beta.token())) == "allow"
    assert registry.stats.fetches == reads + 1
    assert decide(alpha.event(beta.token())) == "401", "B's token must not open A's API"
    assert decide(beta.event(alpha.token())) == "401", "A's token must not open B's API"

    # -- each account is decided only through the alias its document names
    beta_wide = [
        s for s in policy_statements(deployment, aliases[beta.account]) if beta.account in s["Sid"]
    ]
    assert [s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in beta_wide] == [
        f"arn:aws:execute-api:{REGION}:{beta.account}:??????????/authorizers/*"
    ], "an account-wide permission admits 10-character API ids, not any path"
    for tenant, group in ((alpha, 0), (beta, 1)):
        document = json.loads(
            ssm.get_parameter(Name=f"{PREFIX}/accounts/{tenant.account}")["Parameter"]["Value"]
        )
        assert document["alias"] == aliases[tenant.account]
        own_arn = outputs[group]["tenants"][tenant.tenant_id][tenant.account]["function_arn"]
        assert decide(tenant.event(tenant.token()), own_arn) == "allow"
    other_alias = next(a for a in ("shard-000", "shard-001") if a != aliases[alpha.account])
    forged_through = f"{alpha_arn.rsplit(':', 1)[0]}:{other_alias}"
    capsys.readouterr()
    assert decide(alpha.event(alpha.token()), forged_through) == "500", (
        "a call through another alias never decides for alpha's account"
    )
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (line["reason"], line["tenant_id"]) == ("alias_mismatch", "alpha")

    # -- onboard gamma (group 0): the plan writes SSM and one permission, nothing of the
    # function; group 1 has nothing to do
    before = {a["Name"]: a for a in lam.list_aliases(FunctionName=FUNCTION)["Aliases"]}
    (tenants_dir / "gamma.yaml").write_text(gamma.yaml(), encoding="utf-8")
    assign_aliases(tenants_dir, ALIAS_COUNT)
    changes = planned_changes(deployment, 0)
    assert {c["type"] for c in changes} <= {"aws_ssm_parameter", "aws_lambda_permission"}, changes
    assert {c["address"] for c in changes if c["type"] == "aws_lambda_permission"} == {
        f'module.access.aws_lambda_permission.tenant["{gamma.account}/{gamma.api_id}"]'
    }
    deployment.terraform(TENANTS, "apply", "-input=false", "onboard.tfplan")
    assert planned_changes(deployment, 1) == [], "another group's workspace is untouched"
    after = lam.get_function(FunctionName=FUNCTION)["Configuration"]
    assert (after["CodeSha256"], after["Version"], after["LastModified"]) == (
        function["CodeSha256"],
        function["Version"],
        function["LastModified"],
    )
    assert {a["Name"]: a for a in lam.list_aliases(FunctionName=FUNCTION)["Aliases"]} == before
    assert decide(gamma.event(gamma.token())) == "allow"
    assert decide(gamma.event(alpha.token())) == "401"

    # -- a broken tenant file stops onboarding, never the platform's own (emergency) apply
    (tenants_dir / "broken.yaml").write_text("tenant_id: [unclosed\n", encoding="utf-8")
    assert "Error" in deployment.terraform(TENANTS, "plan", "-input=false", check=False)
    deployment.terraform("terraform/platform", "plan", "-input=false", "-detailed-exitcode")
    (tenants_dir / "broken.yaml").unlink()

    # -- offboard beta: parameter and permission gone, tokens refused once the TTL passes
    assert decide(beta.event(beta.token())) == "allow"  # warm cache
    (tenants_dir / "beta.yaml").unlink()
    assign_aliases(tenants_dir, ALIAS_COUNT)
    apply_group(deployment, 1)
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=f"{PREFIX}/accounts/{beta.account}")
    assert not [
        s for s in policy_statements(deployment, aliases[beta.account]) if beta.account in s["Sid"]
    ]
    time.sleep(1.2)
    assert decide(beta.event(beta.token())) == "500", "an unbound account is an onboarding fault"
    assert decide(alpha.event(alpha.token())) == "allow"

    # -- each group's destroy removes its documents, index and permissions; the platform's
    # layout stays for the next onboarding
    for group in range(GROUPS):
        deployment.terraform(TENANTS, "workspace", "select", f"group-{group:02d}")
        deployment.terraform(TENANTS, "destroy", "-auto-approve", "-input=false")
    left = ssm.get_parameters_by_path(Path=PREFIX, Recursive=True)["Parameters"]
    assert sorted(p["Name"] for p in left if p["Name"] != f"{PREFIX}/release") == [
        f"{PREFIX}/index/layout",
        f"{PREFIX}/platform",
    ]


def test_moving_an_account_to_another_alias_never_leaves_it_without_permission(
    deployment: Deployment, endpoint: str, issuers: list[DevIssuer]
) -> None:
    """The replaced invoke statement is created on the new alias before the old goes."""
    kappa = Tenant("kappa", account_in(0), "k1a2p3p4a5", issuers[0])
    tenants_dir = deployment.root / "move-tenants"
    tenants_dir.mkdir()
    (tenants_dir / "kappa.yaml").write_text(kappa.yaml(), encoding="utf-8")
    assign_aliases(tenants_dir, ALIAS_COUNT)
    deployment.use_tenants(tenants_dir)
    deployment.terraform(TENANTS, "init", "-input=false")
    apply_group(deployment, 0)
    aliases_file = tenants_dir / "aliases.json"
    old = json.loads(aliases_file.read_text(encoding="utf-8"))[kappa.account]
    new = next(f"shard-{n:03d}" for n in range(ALIAS_COUNT) if f"shard-{n:03d}" != old)
    aliases_file.write_text(json.dumps({kappa.account: new}), encoding="utf-8")

    permission = f'module.access.aws_lambda_permission.tenant["{kappa.account}/{kappa.api_id}"]'
    changes = {c["address"]: c["change"]["actions"] for c in planned_changes(deployment, 0)}
    assert changes[permission] == ["create", "delete"], "create before destroy, never the reverse"
    deployment.terraform(TENANTS, "apply", "-input=false", "onboard.tfplan")
    sid = f"tenant-{kappa.account}-{kappa.api_id}"
    assert f"{sid}-{new}" in {s["Sid"] for s in policy_statements(deployment, new)}
    # (moto keeps one policy per version, shared by its aliases: look in both.)
    left = {s["Sid"] for alias in (old, new) for s in policy_statements(deployment, alias)}
    assert f"{sid}-{old}" not in left, "the old statement is gone"
    time.sleep(1.2)
    arn = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION}:{new}"
    assert decide(kappa.event(kappa.token()), arn) == "allow", "the document names the new alias"
    deployment.terraform(TENANTS, "destroy", "-auto-approve", "-input=false")
