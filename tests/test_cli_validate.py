"""``tenant-authz validate`` (and the CLI's error handling) as a user runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tenant_authorizer.cli import main

REPO = Path(__file__).resolve().parents[1]


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
    from tenant_authorizer import packaging

    def fail(*_args: object, **_kwargs: object) -> None:
        raise packaging.PackagingError("pip could not install the runtime dependencies")

    monkeypatch.setattr(packaging, "build", fail)
    result = runner.invoke(main, ["package"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: pip could not install")
