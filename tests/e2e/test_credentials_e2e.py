"""End to end: opaque tokens, API keys and a rotating HS secret through a real apply on moto.

The tenant files go through ``terraform/tenants`` (the group's workspace), SSM holds
byte for byte what ``tenant-authz validate`` renders, and the handler, reading that SSM
as the deployed alias would, decides: the introspected tenant through a development
issuer on 127.0.0.1 (its client secret a SecureString), the API-key tenant by its salted
entries, the HS tenant by either of its two secrets; and none opens another's API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from support.aws import REGION
from support.deployment import ALIAS_COUNT, PREFIX, Deployment
from support.tenants import assign_aliases
from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.tools.api_keys import new_key, stored_hash
from tenant_authorizer.tools.validation import validate

from .test_terraform_e2e import TENANTS, account_in, apply_group, decide

pytestmark = pytest.mark.e2e

AUDIENCE = "https://api.example.test"
CLIENT_SECRET = "introspection-client-secret-0123456789"


@pytest.fixture
def idp() -> Iterator[DevIssuer]:
    with DevIssuer(port=0, audience=AUDIENCE, client_secret=CLIENT_SECRET) as issuer:
        yield issuer


def _event(account: str, api: str, token: str, scheme: str = "Bearer ") -> dict[str, Any]:
    return {
        "type": "TOKEN",
        "authorizationToken": f"{scheme}{token}",
        "methodArn": f"arn:aws:execute-api:{REGION}:{account}:{api}/prod/GET/orders",
    }


def test_opaque_tokens_api_keys_and_hs_rotation_after_an_apply(
    deployment: Deployment, endpoint: str, idp: DevIssuer
) -> None:
    opaque_account = account_in(0)
    keys_account = account_in(0, skip=(opaque_account,))
    hs_account = account_in(0, skip=(opaque_account, keys_account))
    ci_key, ops_key = new_key("ci"), new_key("ops")
    bare_key = "a-key-chosen-elsewhere-0123456789"
    current, previous = b"c" * 48, b"p" * 48
    secrets = f"{PREFIX}/secrets"
    files = {
        "opaque": (
            "tenant_id: opaque\n"
            "issuers:\n"
            f"  - issuer: {idp.issuer}\n"
            "    local_development: true\n"
            f"    jwks_uri: {idp.jwks_uri}\n"
            "    discovery: oidc  # the introspection_endpoint from the issuer's metadata\n"
            f'    audiences: ["{AUDIENCE}"]\n'
            "    introspection:\n"
            "      client_id: authorizer\n"
            f"      client_secret_parameter: {secrets}/opaque/introspection\n"
            "      auth_method: client_secret_post\n"
            f'bindings:\n  - account_id: "{opaque_account}"\n    api_ids: [o1p2a3q4u5]\n'
        ),
        "keys": (
            "tenant_id: keys\n"
            "token:\n  header: x-api-key\n"
            "api_keys:\n"
            f"  - id: ci\n    hash: {stored_hash(ci_key)}\n    principal_id: ci-bot\n"
            "    scopes: [orders:read]\n"
            f"  - id: ops\n    hash: {stored_hash(ops_key)}\n    principal_id: ops-bot\n"
            f"  - id: site\n    hash: {stored_hash(bare_key)}\n    principal_id: site\n"
            "    bare: true\n"
            f'bindings:\n  - account_id: "{keys_account}"\n    api_ids: [k1e2y3s4a5]\n'
        ),
        "legacy": (
            "tenant_id: legacy\n"
            "issuers:\n"
            "  - issuer: https://auth.legacy.example\n"
            "    algorithms: [HS256]\n"
            f"    hmac_secret_parameter: {secrets}/legacy/hs256-new\n"
            f"    hmac_previous_secret_parameter: {secrets}/legacy/hs256\n"
            "    audiences: [legacy-api]\n"
            f'bindings:\n  - account_id: "{hs_account}"\n    api_ids: [l1e2g3a4c5]\n'
        ),
    }
    tenants_dir = deployment.root / "credential-tenants"
    tenants_dir.mkdir()
    for name, text in files.items():
        (tenants_dir / f"{name}.yaml").write_text(text, encoding="utf-8")
    assign_aliases(tenants_dir, ALIAS_COUNT, ssm_prefix=PREFIX)
    deployment.use_tenants(tenants_dir)
    deployment.terraform(TENANTS, "init", "-input=false")
    apply_group(deployment, 0)

    ssm = deployment.client("ssm")
    report = validate([tenants_dir], ssm_prefix=PREFIX)
    assert report.problems == []
    documents = report.documents
    for account, document in documents.items():
        held = ssm.get_parameter(Name=f"{PREFIX}/accounts/{account}")["Parameter"]["Value"]
        assert held == document, "Terraform writes what tenant-authz validate renders"
    written = {
        f"{secrets}/opaque/introspection": CLIENT_SECRET.encode(),
        f"{secrets}/legacy/hs256-new": current,
        f"{secrets}/legacy/hs256": previous,
    }
    for name, value in written.items():  # what operators write, never Terraform
        ssm.put_parameter(Name=name, Value=value.decode(), Type="SecureString", Overwrite=True)
    try:
        opaque_api, keys_api, hs_api = (
            (opaque_account, "o1p2a3q4u5"),
            (keys_account, "k1e2y3s4a5"),
            (hs_account, "l1e2g3a4c5"),
        )
        token = idp.mint_opaque(audience=AUDIENCE)
        calls = idp.request_count(idp.introspection_path)
        assert decide(_event(*opaque_api, token)) == "allow"
        assert decide(_event(*opaque_api, token)) == "allow"
        assert idp.request_count(idp.introspection_path) == calls + 1, "the answer is cached"
        assert decide(_event(*opaque_api, "never-issued-" + "x" * 30)) == "401"

        assert decide(_event(*keys_api, ci_key, "")) == "allow"
        assert decide(_event(*keys_api, bare_key, "")) == "allow"
        assert decide(_event(*keys_api, new_key("ci"), "")) == "401"
        before = idp.request_count(idp.introspection_path)
        assert decide(_event(*opaque_api, ci_key)) == "401", (
            "a key of tenant keys opens nothing else"
        )
        assert decide(_event(*keys_api, token, "")) == "401", "nor an opaque token of tenant opaque"
        assert idp.request_count(idp.introspection_path) == before + 1

        claims: dict[str, Any] = {"iss": "https://auth.legacy.example", "sub": "u"}
        claims |= {"aud": "legacy-api", "exp": int(time.time()) + 300}
        assert decide(_event(*hs_api, jwt.encode(claims, current, algorithm="HS256"))) == "allow"
        assert decide(_event(*hs_api, jwt.encode(claims, previous, algorithm="HS256"))) == "allow"
        assert decide(_event(*hs_api, jwt.encode(claims, b"w" * 48, algorithm="HS256"))) == "401"

        # Revoking a key is a tenant-file change and an apply: no redeploy.
        kept = files["keys"].splitlines(keepends=True)
        start = next(i for i, line in enumerate(kept) if line.startswith("  - id: ops"))
        del kept[start : start + 3]
        (tenants_dir / "keys.yaml").write_text("".join(kept), encoding="utf-8")
        assert decide(_event(*keys_api, ops_key, "")) == "allow"
        apply_group(deployment, 0)
        time.sleep(1.2)  # the config TTL of the test's handler
        assert decide(_event(*keys_api, ops_key, "")) == "401"
        assert decide(_event(*keys_api, ci_key, "")) == "allow"
    finally:
        ssm.delete_parameters(Names=list(written))
        deployment.terraform(TENANTS, "destroy", "-auto-approve", "-input=false")
