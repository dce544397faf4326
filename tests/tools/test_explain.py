"""`tenant-authz token explain` against a local issuer and tenant files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from support.tenants import assign_aliases
from tenant_authorizer.cli import main
from tenant_authorizer.dev.issuer import DevIssuer, PrivateKey

ACCOUNT = "111122223333"
API = "a1b2c3d4e5"
AUDIENCE = "https://api.example.test"


@pytest.fixture
def issuer(signing_keys: dict[str, PrivateKey]) -> Iterator[DevIssuer]:
    """A development issuer on 127.0.0.1."""
    started = DevIssuer(port=0, audience=AUDIENCE, keys=signing_keys).start()
    yield started
    started.stop()


@pytest.fixture
def tenants(tmp_path: Path, issuer: DevIssuer) -> Path:
    """One tenant with a scope rule on /orders/*, and its aliases."""
    (tmp_path / "acme.yaml").write_text(
        f"""\
tenant_id: acme
issuers:
  - issuer: {issuer.issuer}
    local_development: true
    jwks_uri: {issuer.jwks_uri}
    audiences: ["{AUDIENCE}"]
routes:
  rules:
    - path: /orders/*
      scopes_any: [orders:read]
bindings:
  - account_id: "{ACCOUNT}"
    api_ids: [{API}]
    stages: [prod]
""",
        encoding="utf-8",
    )
    assign_aliases(tmp_path)
    return tmp_path


def explain(tenants: Path, token: str, *args: str) -> tuple[int, dict[str, object], str]:
    """Run the command with --json and with text; the exit code, the JSON and the text."""
    base = ["token", "explain", "--tenants", str(tenants), *args]
    as_json = CliRunner().invoke(main, [*base, "--json", token])
    text = CliRunner().invoke(main, [*base, token])
    assert as_json.exit_code == text.exit_code
    assert "Traceback" not in text.output
    return text.exit_code, json.loads(as_json.output), text.output


def steps(result: dict[str, object]) -> dict[str, tuple[str, str]]:
    """Step name -> (verdict, detail), the last of each name."""
    return {s["name"]: (s["verdict"], s["detail"]) for s in result["steps"]}  # type: ignore[attr-defined]


def test_an_allowed_token_shows_every_step(tenants: Path, issuer: DevIssuer) -> None:
    """Caller, binding, issuer, key, claims, the rule that matched, the response."""
    token = issuer.mint(scope="orders:read")
    code, result, text = explain(tenants, token, "--tenant", "acme", "--path", "/orders/42")
    assert code == 0
    seen = steps(result)
    assert seen["caller"][0] == "ok" and f"account {ACCOUNT}" in seen["caller"][1]
    assert seen["binding"][0] == "ok" and "tenant acme" in seen["binding"][1]
    assert seen["issuer"] == ("ok", f"{issuer.issuer} (algorithms RS256)")
    assert seen["key"][0] == "ok" and issuer.current_kid() in seen["key"][1]
    assert seen["audience"] == ("ok", "")
    assert seen["rule"][0] == "ok" and "/orders/*" in seen["rule"][1]
    assert result["outcome"] == "allow" and result["status"] == 200
    assert "response: " in text and '"Effect": "Allow"' in text
    signature = token.rsplit(".", 1)[1]
    assert signature not in text and token not in text, "never the token or its signature"


def test_a_refused_token_says_which_check_and_why(tenants: Path, issuer: DevIssuer) -> None:
    """The wrong audience: the audience step is refused and the decision is a 401."""
    token = issuer.mint(audience="https://other.example")
    code, result, _ = explain(tenants, token, "--tenant", "acme", "--path", "/orders/42")
    assert code == 1
    seen = steps(result)
    assert seen["audience"][0] == "refused" and "audience_mismatch" in seen["audience"][1]
    assert (result["outcome"], result["reason"]) == ("unauthorized", "audience_mismatch")


def test_a_rule_not_satisfied_is_named(tenants: Path, issuer: DevIssuer) -> None:
    """A valid token without the scope the rule wants: the rule step says so, 403."""
    token = issuer.mint(scope="profile")
    code, result, _ = explain(
        tenants, token, "--arn", f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{API}/prod/GET/orders/1"
    )
    assert code == 1
    seen = steps(result)
    assert seen["rule"][0] == "refused" and "not satisfied" in seen["rule"][1]
    assert (result["outcome"], result["reason"]) == ("deny", "scope_insufficient")


def test_an_unbound_route_and_another_issuer(tenants: Path, issuer: DevIssuer) -> None:
    """Another stage is not bound (500); a token of another issuer names the allowed ones."""
    token = issuer.mint()
    code, result, _ = explain(
        tenants, token, "--account", ACCOUNT, "--api-id", API, "--stage", "dev"
    )
    assert code == 1 and steps(result)["binding"][0] == "refused"
    assert result["reason"] == "tenant_not_bound"
    forged = issuer.mint(claims={"iss": "https://evil.example"})
    code, result, _ = explain(tenants, forged, "--tenant", "acme")
    assert code == 1
    assert steps(result)["issuer"][0] == "refused"
    assert result["reason"] == "issuer_not_allowed"


def test_mistakes_are_one_sentence(tenants: Path) -> None:
    """No route, no token, an unknown tenant: exit non-zero with the fix."""
    runner = CliRunner()
    base = ["token", "explain", "--tenants", str(tenants)]
    no_route = runner.invoke(main, [*base, "abc.def.ghi"])
    assert no_route.exit_code == 2 and "name the route" in no_route.output
    no_token = runner.invoke(main, [*base, "--tenant", "acme"], input="")
    assert no_token.exit_code == 2 and "give the token" in no_token.output
    unknown = runner.invoke(main, [*base, "--tenant", "nope", "abc.def.ghi"])
    assert unknown.exit_code == 1 and "no binding of tenant nope" in unknown.output
    for result in (no_route, no_token, unknown):
        assert "Traceback" not in result.output


def test_a_simple_binding_is_decided_as_an_http_api_asks(tmp_path: Path, issuer: DevIssuer) -> None:
    """response: simple: a 2.0 event, the simple answer, and $default decided for all paths."""
    (tmp_path / "web.yaml").write_text(
        f"""\
tenant_id: web
issuers:
  - issuer: {issuer.issuer}
    local_development: true
    jwks_uri: {issuer.jwks_uri}
    audiences: ["{AUDIENCE}"]
routes:
  rules:
    - path: /admin/*
      scopes_any: [admin]
bindings:
  - account_id: "{ACCOUNT}"
    api_ids: [h1t2t3p4a5]
    response: simple
""",
        encoding="utf-8",
    )
    assign_aliases(tmp_path)
    token = issuer.mint()
    code, result, _ = explain(tmp_path, token, "--tenant", "web", "--path", "/public")
    assert code == 1, "under $default the rule for /admin/* denies every path"
    assert steps(result)["event"][1].startswith("HTTP API 2.0 event, route key $default")
    assert result["response"]["isAuthorized"] is False  # type: ignore[index]
    code, result, _ = explain(
        tmp_path, token, "--tenant", "web", "--path", "/public", "--route-key", "GET /public"
    )
    assert code == 0 and result["response"]["isAuthorized"] is True  # type: ignore[index]


def test_the_alias_check_can_be_replayed(tenants: Path, issuer: DevIssuer) -> None:
    """--alias: a call through an alias that does not serve the account is a 500."""
    token = issuer.mint(scope="orders:read")
    code, result, _ = explain(
        tenants, token, "--tenant", "acme", "--path", "/orders/1", "--alias", "shard-999"
    )
    assert code == 1
    assert result["reason"] == "alias_mismatch"


def test_the_deny_spike_runbook_step_explains_a_deployed_refusal(
    tmp_path: Path, tenants: Path, issuer: DevIssuer
) -> None:
    """docs/runbooks/deny-spike.md's command, pasted from the repository root, against SSM
    (a moto server) holding what Terraform writes."""
    import re

    from support import runbooks
    from support.aws import aws_env, moto_server, ssm_client
    from tenant_authorizer.runtime.index import DEFAULT_LAYOUT
    from tenant_authorizer.tools.documents import render_parameters
    from tenant_authorizer.tools.validation import validate

    (command,) = runbooks.blocks("deny-spike.md")
    (tmp_path / "token.txt").write_text(issuer.mint(audience="https://other.example"))
    arn = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{API}/prod/GET/orders/1"
    with moto_server() as endpoint:
        ssm = ssm_client(endpoint)
        prefix = "/deny-spike-walk"
        documents = validate([tenants]).documents
        for name, value in render_parameters(documents, DEFAULT_LAYOUT).items():
            ssm.put_parameter(Name=f"{prefix}/{name}", Value=value, Type="String", Overwrite=True)
        result = runbooks.run(
            command,
            runbooks.REPO,
            {
                "TOKEN_FILE": str(tmp_path / "token.txt"),
                **aws_env(endpoint),
                "PATH": "/usr/bin:/bin",
                "HOME": str(tmp_path),
                "METHOD_ARN": arn,
                "TENANT_AUTHZ_SSM_PREFIX": prefix,
            },
            timeout=60,
        )
    assert result.returncode == 1, result.stdout + result.stderr  # refused, as the runbook says
    assert re.search(r"audience +refused +audience_mismatch", result.stdout), result.stdout
    assert "decision   refused  unauthorized (401, audience_mismatch)" in result.stdout
