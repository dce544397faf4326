"""Issue 13 end to end: docs/runbooks/emergency-key-revocation.md, walked block by block:
`keys revoke` for one tenant reaches warm handlers within the TTL.

Two tenants of one group applied by terraform/tenants on the shared moto deployment; the
handler runs in-process against the same SSM. After the revocation, a warm handler
refuses the revoked key's token once the config TTL (1 s here) passes, accepts a token of
the new key, and answers the other tenant from its warm cache as before. `ssm diff`
reports the drift until the tenant file says the same and its group is applied.
"""

from __future__ import annotations

import json
import time

import pytest

from support.deployment import ALIAS_COUNT, Deployment
from support.recorder import recorder
from support.runbooks import blocks
from support.tenants import assign_aliases
from tenant_authorizer.dev.issuer import DevIssuer

from .test_terraform_e2e import AUDIENCE, TENANTS, Tenant, account_in, apply_group, decide

pytestmark = pytest.mark.e2e


def revocation_yaml(tenant: Tenant, kid: str) -> str:
    """The tenant file with the lines `keys revoke` printed, committed."""
    return tenant.yaml().replace(
        f'    audiences: ["{AUDIENCE}"]\n',
        f'    audiences: ["{AUDIENCE}"]\n    revocation:\n      kids: ["{kid}"]\n',
    )


def test_revoke_one_tenants_key_on_warm_handlers(
    deployment: Deployment,
    endpoint: str,
    two_issuers: list[DevIssuer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The revoked key is refused after the TTL; the new key and the other tenant pass."""
    delta = Tenant("delta", account_in(0, skip=()), "d1e2f3a4b5", two_issuers[0])
    omega = Tenant("omega", account_in(0, skip=(delta.account,)), "o1m2e3g4a5", two_issuers[1])
    tenants_dir = deployment.root / "revocation-tenants"
    tenants_dir.mkdir()
    for tenant in (delta, omega):
        (tenants_dir / f"{tenant.tenant_id}.yaml").write_text(tenant.yaml(), encoding="utf-8")
    assign_aliases(tenants_dir, ALIAS_COUNT)
    deployment.use_tenants(tenants_dir)
    deployment.terraform(TENANTS, "init", "-input=false")
    apply_group(deployment, 0)
    revoke, flush_rest, flush_http, diff = blocks("emergency-key-revocation.md")
    walker = {"TENANTS": str(tenants_dir), "TENANT": "delta"}
    assert deployment.shell(diff, **walker).returncode == 0

    leaked = delta.issuer.current_kid()
    old, other = delta.token(), omega.token()
    delta.issuer.rotate("RS256")  # the IdP signs with a new key; the leaked one still published
    new = delta.token()
    for _ in range(2):  # warm: the second answers come from the handler's caches
        assert decide(delta.event(old)) == decide(omega.event(other)) == "allow"
    assert decide(delta.event(new)) == "allow"

    revoked = deployment.shell(revoke, **walker, LEAKED_KID=leaked)  # step 2
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    assert f'kids: ["{leaked}"]' in revoked.stdout
    time.sleep(1.2)  # the config TTL of the test's handler
    capsys.readouterr()
    assert decide(delta.event(old)) == "401"
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (line["reason"], line["tenant_id"], line["kid"]) == ("key_revoked", "delta", leaked)
    assert decide(delta.event(new)) == "allow", "a token of the new key passes"
    assert decide(omega.event(other)) == "allow"
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (line["tenant_id"], line["cache"]) == ("omega", "hit"), "omega's warm answer stays"

    with recorder() as gateway:  # step 3, in the tenant's account (moto has no such API)
        stage = {"API_ID": "a1b2c3d4e5", "STAGE": "prod"}
        for block in (flush_rest, flush_http):
            flushed = deployment.shell(
                block,
                **stage,
                AWS_ENDPOINT_URL_API_GATEWAY=gateway.url,
                AWS_ENDPOINT_URL_APIGATEWAYV2=gateway.url,
            )
            assert flushed.returncode == 0 and not flushed.stdout, flushed.stderr
    assert [(r.method, r.path) for r in gateway.requests] == [
        ("DELETE", "/restapis/a1b2c3d4e5/stages/prod/cache/authorizers"),
        ("DELETE", "/v2/apis/a1b2c3d4e5/stages/prod/cache/authorizers"),
    ]

    drift = deployment.shell(diff, **walker)  # step 4, before the file says it
    assert drift.returncode == 3
    assert "tenant delta: issuers[0].revocation" in drift.stdout
    (tenants_dir / "delta.yaml").write_text(revocation_yaml(delta, leaked), encoding="utf-8")
    assert deployment.shell(diff, **walker).returncode == 0, "the file now says what SSM holds"
    apply_group(deployment, 0)
    clean = deployment.shell(diff, **walker)
    assert clean.returncode == 0 and "no drift" in clean.stdout
    assert decide(delta.event(old)) == "401"

    deployment.terraform(TENANTS, "destroy", "-auto-approve", "-input=false")
