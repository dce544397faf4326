"""keys revoke, ssm diff, ssm push against SSM (moto in-process) as Terraform left it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from support.tenants import assign_aliases
from tenant_authorizer.cli import main
from tenant_authorizer.runtime.account import parse_account_document
from tenant_authorizer.runtime.index import DEFAULT_LAYOUT
from tenant_authorizer.tools.documents import (
    render_account_document,
    render_json,
    render_parameters,
)
from tenant_authorizer.tools.ssm_sync import SyncError
from tenant_authorizer.tools.validation import validate

REPO = Path(__file__).resolve().parents[2]
PREFIX = "/tenant-authorizer"
SHARED = "111122223333"

TENANT = """\
tenant_id: {name}
issuers:
  - issuer: https://{name}.example.com
    audiences: [api]
{extra}bindings:
  - account_id: "{account}"
    api_ids: [{api}]
"""


def write(directory: Path, name: str, api: str, extra: str = "", account: str = SHARED) -> None:
    """A tenant file binding one API of ``account``."""
    text = TENANT.format(name=name, api=api, extra=extra, account=account)
    (directory / f"{name}.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """SSM on moto in this process; the CLI's clients reach it too."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "TENANT_AUTHZ_SSM_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


@pytest.fixture
def tenants(tmp_path: Path, ssm: Any) -> Path:
    """alpha and beta sharing one account, gamma alone; applied (Terraform's bytes in SSM)."""
    write(tmp_path, "alpha", "aaaaaaaaaa")
    write(tmp_path, "beta", "bbbbbbbbbb")
    write(tmp_path, "gamma", "cccccccccc", account="444455556666")
    apply(tmp_path, ssm)
    return tmp_path


def apply(directory: Path, ssm: Any) -> None:
    """What the platform and tenants roots write for ``directory``."""
    assign_aliases(directory)
    for name, value in render_parameters(validate([directory]).documents, DEFAULT_LAYOUT).items():
        ssm.put_parameter(Name=f"{PREFIX}/{name}", Value=value, Type="String", Overwrite=True)


def value(ssm: Any, name: str) -> str:
    """A parameter's value."""
    result: str = ssm.get_parameter(Name=f"{PREFIX}/{name}")["Parameter"]["Value"]
    return result


def test_documents_re_render_to_terraforms_bytes() -> None:
    """A document rebuilt from its parsed parts is byte for byte what Terraform wrote."""
    from decimal import Decimal

    documents = validate([REPO / "tenant_configs"]).documents
    assert documents
    for document in documents.values():
        data = json.loads(document, parse_float=Decimal, parse_int=Decimal)
        parts = {t: render_json(v) for t, v in data["tenants"].items()}
        rebuilt = render_account_document(
            data["account_id"], data["alias"], data["bindings"], parts
        )
        assert rebuilt == document


def test_revoke_changes_only_the_tenants_part_and_the_index(tenants: Path, ssm: Any) -> None:
    """Another tenant's part (even drifted by hand) and the bindings stay as SSM has them."""
    runner = CliRunner()
    assert runner.invoke(main, ["ssm", "diff", str(tenants)]).exit_code == 0
    # beta's part was changed by hand earlier (an earlier emergency, not committed yet)
    document = json.loads(value(ssm, f"accounts/{SHARED}"))
    document["tenants"]["beta"]["issuers"][0]["clock_skew_seconds"] = 5
    drifted = render_account_document(
        SHARED,
        document["alias"],
        document["bindings"],
        {t: render_json(v) for t, v in document["tenants"].items()},
    )
    ssm.put_parameter(Name=f"{PREFIX}/accounts/{SHARED}", Value=drifted, Overwrite=True)

    result = runner.invoke(
        main, ["keys", "revoke", "--tenant", "alpha", "--kid", "leaked-1", str(tenants)]
    )
    assert result.exit_code == 0, result.output
    assert f"Revoked for tenant alpha in 1 account document(s) ({SHARED})" in result.output
    assert 'kids: ["leaked-1"]' in result.output
    after = parse_account_document(value(ssm, f"accounts/{SHARED}"), "ssm", SHARED)
    alpha = after.tenants["alpha"].config.issuers[0]
    assert alpha.revoked_kids == frozenset({"leaked-1"})
    assert after.tenants["beta"].config.issuers[0].clock_skew_seconds == 5, "beta's drift kept"
    assert value(ssm, "accounts/444455556666") == validate([tenants]).documents["444455556666"]

    drift = runner.invoke(main, ["ssm", "diff", "--json", str(tenants)])
    assert drift.exit_code == 3
    rows = json.loads(drift.output)
    assert [(r["name"], r["kind"]) for r in rows] == [(f"accounts/{SHARED}", "changed")], (
        "the index names the documents SSM holds: only the document drifts"
    )
    details = "\n".join(rows[0]["details"])
    assert 'tenant alpha: issuers[0].revocation: SSM {"kids":["leaked-1"]}, files (none)' in details
    assert "tenant beta: issuers[0].clock_skew_seconds: SSM 5, files (none)" in details


def test_the_drift_ends_when_the_file_says_the_same(tenants: Path, ssm: Any) -> None:
    """Revoke, commit the printed lines, apply: no drift; push rewrites a part from its file."""
    runner = CliRunner()
    instant = "2026-12-01T10:00:00Z"
    result = runner.invoke(
        main,
        ["keys", "revoke", "--tenant", "gamma", "--issued-before", instant, str(tenants)],
    )
    assert result.exit_code == 0, result.output
    assert runner.invoke(main, ["ssm", "diff", str(tenants)]).exit_code == 3
    write(
        tenants,
        "gamma",
        "cccccccccc",
        extra=f'    revocation:\n      issued_before: "{instant}"\n',
        account="444455556666",
    )
    clean = runner.invoke(main, ["ssm", "diff", str(tenants)])
    assert clean.exit_code == 0, clean.output
    assert "no drift" in clean.output
    # Back to the committed file without the revocation: push writes the file's part.
    write(tenants, "gamma", "cccccccccc", account="444455556666")
    pushed = runner.invoke(main, ["ssm", "push", "--tenant", "gamma", str(tenants)])
    assert pushed.exit_code == 0, pushed.output
    assert runner.invoke(main, ["ssm", "diff", str(tenants)]).exit_code == 0


def test_diff_names_missing_and_extra_documents(tenants: Path, ssm: Any) -> None:
    """A tenant not applied yet, and a document Terraform no longer manages."""
    write(tenants, "delta", "dddddddddd", account="777788889999")
    assign_aliases(tenants)
    ssm.put_parameter(Name=f"{PREFIX}/accounts/999999999999", Value="{}", Type="String")
    result = CliRunner().invoke(main, ["ssm", "diff", str(tenants)])
    assert result.exit_code == 3
    assert "accounts/777788889999: not in SSM (apply terraform/tenants)" in result.output
    assert "accounts/999999999999: in SSM, not in the tenant files" in result.output


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--tenant", "alpha"], 2, "name what to revoke"),
        (["--tenant", "nope", "--kid", "k"], 1, "no tenant nope in"),
        (["--tenant", "alpha", "--issued-before", "yesterday"], 2, "not an RFC 3339 instant"),
        (["--tenant", "alpha", "--issued-before", "2026-12-01T10:00:00"], 2, "has no offset"),
        (["--tenant", "alpha", "--kid", "has space"], 1, "the revocation is not valid"),
        (["--tenant", "alpha", "--kid", "k", "--issuer", "https://x"], 1, "has no issuer"),
    ],
)
def test_revoke_mistakes_are_one_sentence(
    tenants: Path, args: list[str], code: int, says: str
) -> None:
    """Each mistake exits non-zero with the fix, and nothing is written."""
    before = {
        p["Name"]: p["Value"]
        for p in boto3.client("ssm", region_name="us-east-1").get_parameters_by_path(
            Path=PREFIX, Recursive=True
        )["Parameters"]
    }
    result = CliRunner().invoke(main, ["keys", "revoke", *args, str(tenants)])
    assert result.exit_code == code, result.output
    assert says in result.output
    assert "Traceback" not in result.output
    after = {
        p["Name"]: p["Value"]
        for p in boto3.client("ssm", region_name="us-east-1").get_parameters_by_path(
            Path=PREFIX, Recursive=True
        )["Parameters"]
    }
    assert after == before


def test_push_refuses_what_only_terraform_may_do(tenants: Path, ssm: Any) -> None:
    """A tenant whose account has no document yet (onboarding) is not pushed."""
    write(tenants, "delta", "dddddddddd", account="777788889999")
    assign_aliases(tenants)
    result = CliRunner().invoke(main, ["ssm", "push", "--tenant", "delta", str(tenants)])
    assert result.exit_code == 1
    assert "onboarding is an apply of terraform/tenants" in result.output


def test_token_explain_reads_the_deployed_documents_from_ssm(tenants: Path, ssm: Any) -> None:
    """`token explain --ssm` decides on what SSM holds: here a binding the files lack."""
    import base64

    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    token = f"{part({'alg': 'RS256', 'kid': 'k'})}.{part({'iss': 'https://x.example'})}.c2ln"
    arn = f"arn:aws:execute-api:us-east-1:{SHARED}:aaaaaaaaaa/prod/GET/orders"
    result = CliRunner().invoke(main, ["token", "explain", "--ssm", "--json", "--arn", arn, token])
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    steps = {s["name"]: s for s in data["steps"]}
    assert steps["binding"]["verdict"] == "ok" and "tenant alpha" in steps["binding"]["detail"]
    assert steps["issuer"]["verdict"] == "refused"
    assert data["reason"] == "issuer_not_allowed"
    assert "c2ln" not in result.output, "never the signature"


def test_a_second_revocation_keeps_the_first(tenants: Path, ssm: Any) -> None:
    """Two on-call engineers from clean checkouts: k1 and then k2 are both revoked."""
    runner = CliRunner()
    for kid in ("k1", "k2"):
        result = runner.invoke(
            main, ["keys", "revoke", "--tenant", "alpha", "--kid", kid, str(tenants)]
        )
        assert result.exit_code == 0, result.output
    assert 'kids: ["k1", "k2"]' in result.output
    after = parse_account_document(value(ssm, f"accounts/{SHARED}"), "ssm", SHARED)
    assert after.tenants["alpha"].config.issuers[0].revoked_kids == {"k1", "k2"}


def test_nothing_is_written_unless_every_document_can_be(tenants: Path, ssm: Any) -> None:
    """A tenant whose second account has no document yet: no document is half-revoked."""
    before = value(ssm, f"accounts/{SHARED}")
    text = (tenants / "alpha.yaml").read_text(encoding="utf-8")
    (tenants / "alpha.yaml").write_text(text + '  - account_id: "777788889999"\n', encoding="utf-8")
    result = CliRunner().invoke(
        main, ["keys", "revoke", "--tenant", "alpha", "--kid", "k", str(tenants)]
    )
    assert result.exit_code == 1 and "no document in SSM" in result.output
    assert value(ssm, f"accounts/{SHARED}") == before


def test_a_root_of_another_layout_is_left_alone(tenants: Path, ssm: Any) -> None:
    """After a layout change a push writes the document, never an old root under the new
    layout (which would make it cover shards it never listed)."""
    from tenant_authorizer.runtime.index import Layout, group_of, root_parameter, shard_of
    from tenant_authorizer.tools.documents import render_layout

    new = Layout(4, 128)
    ssm.put_parameter(Name=f"{PREFIX}/index/layout", Value=render_layout(new), Overwrite=True)
    group = group_of(shard_of(SHARED, 128), 4)
    root = f"{PREFIX}/{root_parameter(group)}"
    with_root = {
        p["Name"] for p in ssm.get_parameters_by_path(Path=f"{PREFIX}/index")["Parameters"]
    }
    before = value(ssm, root_parameter(group)) if root in with_root else None
    result = CliRunner().invoke(
        main, ["keys", "revoke", "--tenant", "alpha", "--kid", "k", str(tenants)]
    )
    assert result.exit_code == 0, result.output
    after = value(ssm, root_parameter(group)) if before is not None else None
    assert after == before
    assert "index/root" not in result.output


def test_diff_tells_drift_from_a_failure_to_look(tenants: Path, ssm: Any) -> None:
    """3 is drift; an SSM that cannot be read is 1, with one sentence and no traceback."""
    ssm.put_parameter(Name=f"{PREFIX}/accounts/999999999999", Value="{}", Type="String")
    assert CliRunner().invoke(main, ["ssm", "diff", str(tenants)]).exit_code == 3
    with mock.patch(
        "tenant_authorizer.tools.ssm_commands.diff",
        side_effect=SyncError("the layout is not readable"),
    ):
        failed = CliRunner().invoke(main, ["ssm", "diff", str(tenants)])
    assert failed.exit_code == 1 and "Traceback" not in failed.output, failed.output


def test_revoke_an_api_key_removes_its_entry_from_ssm(tenants: Path, ssm: Any) -> None:
    """keys revoke --api-key: the entry leaves SSM's part (no redeploy); others stay."""
    from tenant_authorizer.tools.api_keys import new_key, stored_hash

    keys = "".join(
        f"    - id: {key_id}\n      hash: {stored_hash(new_key(key_id))}\n"
        f"      principal_id: {key_id}-bot\n"
        for key_id in ("ci", "ops")
    )
    write(tenants, "alpha", "aaaaaaaaaa", extra=f"api_keys:\n{keys}".replace("\n    ", "\n  "))
    apply(tenants, ssm)
    runner = CliRunner()
    result = runner.invoke(
        main, ["keys", "revoke", "--tenant", "alpha", "--api-key", "ops", str(tenants)]
    )
    assert result.exit_code == 0, result.output
    assert "Remove the api_keys entries ops from" in result.output
    after = parse_account_document(value(ssm, f"accounts/{SHARED}"), "ssm", SHARED)
    assert set(after.tenants["alpha"].config.api_keys) == {"ci"}
    assert runner.invoke(main, ["ssm", "diff", str(tenants)]).exit_code == 3

    again = runner.invoke(
        main, ["keys", "revoke", "--tenant", "alpha", "--api-key", "ops", str(tenants)]
    )
    assert again.exit_code == 1
    assert "has no API key ops in SSM" in again.output and "Traceback" not in again.output


def test_revoking_a_tenants_last_credential_names_the_way_forward(tenants: Path, ssm: Any) -> None:
    from tenant_authorizer.tools.api_keys import new_key, stored_hash

    key = f"  - id: ci\n    hash: {stored_hash(new_key('ci'))}\n    principal_id: ci-bot\n"
    text = (
        f'tenant_id: keyonly\napi_keys:\n{key}bindings:\n  - account_id: "{SHARED}"\n'
        "    api_ids: [kkkkkkkkkk]\n"
    )
    (tenants / "keyonly.yaml").write_text(text, encoding="utf-8")
    apply(tenants, ssm)
    result = CliRunner().invoke(
        main, ["keys", "revoke", "--tenant", "keyonly", "--api-key", "ci", str(tenants)]
    )
    assert result.exit_code == 1
    assert "no credential at all" in result.output and "offboarding.md" in result.output
    assert "Traceback" not in result.output
