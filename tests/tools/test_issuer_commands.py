"""`tenant-authz issuer check` and `tenant-authz onboard` against local issuers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from support import runbooks
from support.issuers import FaultyIssuer
from support.tenants import assign_aliases
from tenant_authorizer.cli import main
from tenant_authorizer.tools.issuers import key_findings
from tenant_authorizer.tools.validation import validate

ACCOUNT = "111122223333"


def tenant_file(directory: Path, issuer: FaultyIssuer, *, discovery: bool = True) -> None:
    """A tenant trusting ``issuer`` (by discovery, or by its jwks_uri)."""
    where = "    discovery: oidc\n" if discovery else f"    jwks_uri: {issuer.jwks_uri}\n"
    (directory / "acme.yaml").write_text(
        f"tenant_id: acme\nissuers:\n  - issuer: {issuer.issuer}\n    local_development: true\n"
        f'{where}    audiences: ["api"]\n    algorithms: [RS256, ES256]\n'
        f'bindings:\n  - account_id: "{ACCOUNT}"\n',
        encoding="utf-8",
    )
    assign_aliases(directory)


def check(directory: Path) -> tuple[int, dict[str, list[dict[str, str]]]]:
    """Run `issuer check acme --json`."""
    result = CliRunner().invoke(
        main, ["issuer", "check", "acme", "--tenants", str(directory), "--json"]
    )
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def test_a_healthy_issuer_passes_with_each_key_described(
    tmp_path: Path, dev_issuer: FaultyIssuer
) -> None:
    """Metadata and keys reachable, the issuer string matches, every key listed."""
    tenant_file(tmp_path, dev_issuer)
    code, found = check(tmp_path)
    assert code == 0, found
    (findings,) = found.values()
    whats = {(f["level"], f["what"]) for f in findings}
    assert ("ok", "issuer") in whats and ("ok", "metadata") in whats and ("ok", "jwks") in whats
    keys = [f for f in findings if f["what"] == "key"]
    assert len(keys) == 2 and any("RSA 2048 bits" in f["detail"] for f in keys)
    assert any("EC P-256" in f["detail"] for f in keys)


def test_a_rotation_is_seen(tmp_path: Path, dev_issuer: FaultyIssuer) -> None:
    """Two RS256 keys published: a rotation under way."""
    dev_issuer.rotate("RS256")
    tenant_file(tmp_path, dev_issuer, discovery=False)
    code, found = check(tmp_path)
    assert code == 0
    (findings,) = found.values()
    assert any(f["what"] == "rotation" and "2 RS256 keys" in f["detail"] for f in findings)


@pytest.mark.parametrize("mode", ["down", "garbage", "huge"])
def test_a_broken_issuer_fails(tmp_path: Path, dev_issuer: FaultyIssuer, mode: str) -> None:
    """An IdP down, answering garbage or too much: exit 1, the failing fetch named."""
    tenant_file(tmp_path, dev_issuer)
    dev_issuer.set_mode(mode)  # type: ignore[arg-type]
    code, found = check(tmp_path)
    assert code == 1
    (findings,) = found.values()
    assert any(f["level"] == "fail" for f in findings)


def test_a_compressed_answer_is_reported(tmp_path: Path, dev_issuer: FaultyIssuer) -> None:
    """gzip answers still work for the runtime, and are pointed out."""
    tenant_file(tmp_path, dev_issuer, discovery=False)
    dev_issuer.set_mode("gzip")
    code, found = check(tmp_path)
    (findings,) = found.values()
    assert any("compressed answer" in f["detail"] for f in findings), findings
    assert code == 0


def test_weak_duplicate_and_missing_kids_fail() -> None:
    """A 1024-bit RSA key, two keys sharing a kid, a key without kid among several."""
    small = {"kty": "RSA", "kid": "a", "n": "AQAB" * 43, "e": "AQAB", "use": "sig"}
    found = key_findings(
        [small, {**small, "n": "A" * 342}, {"kty": "EC", "crv": "P-256"}], ["RS256"]
    )
    details = [f"{f.level} {f.detail}" for f in found]
    assert any(d.startswith("fail") and "weak" in d for d in details), details
    assert any("duplicate kid" in d for d in details)
    assert any(d.startswith("fail") and "no kid" in d for d in details)


def test_onboard_writes_a_file_validate_accepts(tmp_path: Path, dev_issuer: FaultyIssuer) -> None:
    """From the issuer's metadata and keys: algorithms, audience, discovery; aliases too."""
    result = CliRunner().invoke(
        main,
        [
            "onboard", "--issuer", dev_issuer.issuer, "--account", ACCOUNT, "--api-id",
            "a1b2c3d4e5", "--tenant", "acme", "--audience", "https://api.example.test",
            "--local-development", "--tenants", str(tmp_path),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = (tmp_path / "acme.yaml").read_text(encoding="utf-8")
    assert "algorithms: [RS256, ES256]" in text and "discovery: oidc" in text
    report = validate([tmp_path])
    assert report.problems == [] and ACCOUNT in report.accounts


def test_onboard_mistakes_are_one_sentence(tmp_path: Path, dev_issuer: FaultyIssuer) -> None:
    """No audience to propose, a bad account, an unreachable issuer, an existing file."""
    runner = CliRunner()
    base = ["onboard", "--local-development", "--tenants", str(tmp_path), "--tenant", "acme"]
    no_audience = runner.invoke(main, [*base, "--issuer", dev_issuer.issuer, "--account", ACCOUNT])
    assert no_audience.exit_code == 2 and "--audience" in no_audience.output
    bad_account = runner.invoke(main, [*base, "--issuer", dev_issuer.issuer, "--account", "12"])
    assert bad_account.exit_code == 2 and "12-digit" in bad_account.output
    dev_issuer.set_mode("down")
    down = runner.invoke(
        main, [*base, "--issuer", dev_issuer.issuer, "--account", ACCOUNT, "--audience", "a"]
    )
    assert down.exit_code == 1 and "check the issuer URL" in down.output
    assert not (tmp_path / "acme.yaml").exists(), "nothing written on a failure"
    dev_issuer.set_mode("ok")
    unnamed = runner.invoke(  # 127.0.0.1 names no tenant (it gave "127", a YAML number)
        main,
        [*base[:-2], "--issuer", dev_issuer.issuer, "--account", ACCOUNT, "--audience", "a"],
    )
    assert unnamed.exit_code == 2 and "pass --tenant" in unnamed.output, unnamed.output
    for result in (no_audience, bad_account, down, unnamed):
        assert "Traceback" not in result.output


def walk_env(tenants: Path) -> dict[str, str]:
    """What a runbook's reader has set: the tenant directory and the tenant (acme)."""
    return {
        "PATH": "/usr/bin:/bin",
        "TENANTS": str(tenants),
        "TENANT": "acme",
        "HOME": str(tenants),
    }


def test_the_key_rotation_runbook_step_shows_the_rotation(
    tmp_path: Path, dev_issuer: FaultyIssuer
) -> None:
    """docs/runbooks/key-rotation.md step 1, pasted from the repository root."""
    command = runbooks.blocks("key-rotation.md")[0]
    tenant_file(tmp_path, dev_issuer, discovery=False)
    dev_issuer.rotate("RS256")
    result = runbooks.run(command, runbooks.REPO, walk_env(tmp_path), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("key ") >= 3 and "rotation" in result.stdout
    assert "fail" not in result.stdout


@pytest.mark.parametrize("outage", ["down", "refuse", "garbage", "not_jwks"])
def test_the_idp_outage_runbook_names_the_cause_and_the_recovery(
    tmp_path: Path, dev_issuer: FaultyIssuer, outage: str
) -> None:
    """docs/runbooks/idp-outage.md steps 2 and 5: exit 1 and a fail line while the IdP is
    broken, exit 0 with every key ok once it is back."""
    check_step, recovery_step = runbooks.blocks("idp-outage.md")
    tenant_file(tmp_path, dev_issuer)
    dev_issuer.set_mode(outage)  # type: ignore[arg-type]
    broken = runbooks.run(check_step, runbooks.REPO, walk_env(tmp_path), timeout=60)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "fail" in broken.stdout and "Traceback" not in broken.stdout + broken.stderr
    dev_issuer.set_mode("ok")
    back = runbooks.run(recovery_step, runbooks.REPO, walk_env(tmp_path), timeout=60)
    assert back.returncode == 0, back.stdout + back.stderr
    assert "fail" not in back.stdout and back.stdout.count("key ") >= 2
