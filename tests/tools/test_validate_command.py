"""``tenant-authz validate`` (and the CLI's error handling) as a user runs it."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from tenant_authorizer.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def runner() -> CliRunner:
    """A click runner."""
    return CliRunner()


def test_default_directory_passes_with_a_one_line_summary(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no argument it checks tenant_configs/ and prints one summary line."""
    monkeypatch.chdir(REPO)
    result = runner.invoke(main, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1
    assert result.output.startswith("OK: 12 tenant(s), 12 account document(s), largest ")


def test_problems_exit_1_one_per_line(runner: CliRunner, tmp_path: Path) -> None:
    """Every problem is printed on its own line as file: field: reason, and the exit code is 1."""
    (tmp_path / "acme.yaml").write_text(
        "tenant_id: acme\nissuers:\n  - issuer: http://idp.example.com\n    audiences: []\n"
        "bindings:\n  - account_id: '1'\n",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{tmp_path / 'acme.yaml'}: ") for line in lines)
    assert "Traceback" not in result.output


def test_production_flag_refuses_local_development(runner: CliRunner) -> None:
    """--production reports the local development tenant."""
    result = runner.invoke(main, ["validate", "--production", str(REPO / "tenant_configs")])
    assert result.exit_code == 1
    assert "local-dev.yaml: issuers[0].local_development: " in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate"], "no tenant_configs/ directory here"),
        (["package", "--arch", "sparc"], "Invalid value for '--arch'"),
        (["package", "--python", "3.11"], "Invalid value for '--python'"),
    ],
)
def test_user_mistakes_say_the_fix_without_traceback(
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    """A user mistake exits non-zero with one sentence and no traceback."""
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_empty_directory_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    """A directory without tenant files is refused with the fix."""
    result = runner.invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "no *.yaml tenant file found" in result.output


def test_package_failure_is_one_sentence(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A packaging failure is reported as an error message with exit code 1."""
    from tenant_authorizer.tools import packaging

    def fail(*_args: object, **_kwargs: object) -> None:
        raise packaging.PackagingError("pip could not install the runtime dependencies")

    monkeypatch.setattr(packaging, "build", fail)
    result = runner.invoke(main, ["package"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: pip could not install")


HS_TENANT = """\
tenant_id: legacy
issuers:
  - issuer: https://auth.legacy.example
    algorithms: [HS256, HS512]
    hmac_secret_parameter: /tenant-authorizer/secrets/legacy/hmac
    audiences: [legacy-api]
bindings:
  - account_id: "666666666666"
"""


@pytest.mark.parametrize(
    ("secret", "exit_code", "says"),
    [
        (None, 1, "does not exist"),
        ("x" * 40, 1, "40 bytes; HS512 needs at least 64"),
        ("-----BEGIN CERTIFICATE-----\nMIIB" + "A" * 70, 1, "looks like a PEM"),
        ("s" * 64, 0, "OK: 1 tenant(s)"),
    ],
)
def test_check_secrets_reads_each_hs_secret_from_ssm(
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    secret: str | None,
    exit_code: int,
    says: str,
) -> None:
    """--check-secrets reads the secret where the function will (SSM) and checks its length."""
    from support.aws import aws_env, moto_server, ssm_client
    from support.tenants import assign_aliases

    (tmp_path / "legacy.yaml").write_text(HS_TENANT, encoding="utf-8")
    assign_aliases(tmp_path)
    with moto_server() as endpoint:
        for name, value in aws_env(endpoint).items():
            monkeypatch.setenv(name, value)
        ssm, name = ssm_client(endpoint), "/tenant-authorizer/secrets/legacy/hmac"
        if secret is None:  # moto keeps its state per process, across servers
            with contextlib.suppress(ssm.exceptions.ParameterNotFound):
                ssm.delete_parameter(Name=name)
        else:
            ssm.put_parameter(Name=name, Value=secret, Type="SecureString", Overwrite=True)
        result = runner.invoke(main, ["validate", "--check-secrets", str(tmp_path)])
    assert result.exit_code == exit_code, result.output
    assert says in result.output
    if exit_code:
        assert "issuers[0].hmac_secret_parameter" in result.stdout
    assert secret is None or secret not in result.output


def test_check_secrets_without_ssm_is_one_sentence(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SSM out of reach ends in one sentence with the fix and exit code 1, no traceback."""
    (tmp_path / "legacy.yaml").write_text(HS_TENANT, encoding="utf-8")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    result = runner.invoke(main, ["validate", "--check-secrets", str(tmp_path)])
    assert result.exit_code == 1
    assert "cannot read the secrets from SSM" in result.output
    assert "without --check-secrets" in result.output
    assert "Traceback" not in result.output


OPAQUE_TENANT = """\
tenant_id: opaque
issuers:
  - issuer: https://idp.opaque.example
    jwks_uri: https://idp.opaque.example/keys
    audiences: [api]
    introspection:
      endpoint: https://idp.opaque.example/introspect
      client_id: authorizer
      client_secret_parameter: {secret}
bindings:
  - account_id: "121212121212"
"""


@pytest.mark.parametrize("stored", [None, "a-client-secret"])
def test_check_secrets_reads_the_introspection_client_secret(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored: str | None
) -> None:
    from support.aws import aws_env, moto_server, ssm_client
    from support.tenants import assign_aliases

    name = "/tenant-authorizer/secrets/opaque/introspection"
    (tmp_path / "opaque.yaml").write_text(OPAQUE_TENANT.format(secret=name), encoding="utf-8")
    assign_aliases(tmp_path)
    with moto_server() as endpoint:
        for key, value in aws_env(endpoint).items():
            monkeypatch.setenv(key, value)
        ssm = ssm_client(endpoint)
        with contextlib.suppress(ssm.exceptions.ParameterNotFound):
            ssm.delete_parameter(Name=name)
        if stored is not None:
            ssm.put_parameter(Name=name, Value=stored, Type="SecureString")
        result = runner.invoke(main, ["validate", "--check-secrets", str(tmp_path)])
    if stored is None:
        assert result.exit_code == 1
        assert "issuers[0].introspection.client_secret_parameter" in result.stdout
        assert "does not exist" in result.stdout
    else:
        assert result.exit_code == 0, result.output
        assert stored not in result.output


def test_an_introspection_secret_outside_the_prefix_is_named(
    runner: CliRunner, tmp_path: Path
) -> None:
    from support.tenants import assign_aliases

    secret = "/elsewhere/secrets/opaque/introspection"
    (tmp_path / "opaque.yaml").write_text(OPAQUE_TENANT.format(secret=secret), encoding="utf-8")
    assign_aliases(tmp_path)
    result = runner.invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "issuers[0].introspection.client_secret_parameter" in result.stdout
    assert "must be under /tenant-authorizer/secrets/" in result.stdout
