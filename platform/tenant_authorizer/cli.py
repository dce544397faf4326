"""The ``tenant-authz`` command line: one click group, one command per task.

``validate`` checks tenant files (exit 1 on any problem), ``package`` builds the Lambda
zip. Other commands (the local gateway, tokens) join the same group. User mistakes end
with one sentence that says the fix and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from .dev.local.commands import local

DEFAULT_CONFIGS = Path("tenant_configs")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tenant-authorizer")
def main() -> None:
    """Operate the shared API Gateway authorizer: validate tenants, build the Lambda zip."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--ssm-prefix",
    default="/tenant-authorizer",
    show_default=True,
    help="SSM prefix of the deployment; HS* secrets must live under PREFIX/secrets/.",
)
@click.option(
    "--production",
    is_flag=True,
    help="Also refuse local_development issuers, as a production deployment does.",
)
@click.option(
    "--check-secrets",
    is_flag=True,
    help="Also read each HS* secret from SSM (AWS credentials, AWS_REGION, AWS_ENDPOINT_URL) "
    "and check it as the runtime does: present, not a PEM key, as long as the hash.",
)
def validate(
    paths: tuple[Path, ...], ssm_prefix: str, production: bool, check_secrets: bool
) -> None:
    """Check tenant files (files or directories; default tenant_configs/)."""
    from .tools.validation import validate as run_validation  # noqa: PLC0415 - tools deps load lazily

    targets = list(paths) or [DEFAULT_CONFIGS]
    if not paths and not DEFAULT_CONFIGS.is_dir():
        raise click.UsageError(
            "no tenant_configs/ directory here: run from the repository root or name the files."
        )
    secrets = _ssm_secrets(ssm_prefix) if check_secrets else None
    try:
        report = run_validation(
            targets, ssm_prefix=ssm_prefix, production=production, secrets=secrets
        )
    except SecretsUnreadable as exc:
        raise click.ClickException(
            f"cannot read the secrets from SSM ({exc}): check the AWS credentials and region, "
            "or run without --check-secrets."
        ) from exc
    if not report.ok:
        for problem in report.problems:
            click.echo(str(problem))
        click.echo(f"{len(report.problems)} problem(s) in {len(report.files)} file(s).", err=True)
        raise SystemExit(1)
    if not report.files:
        raise click.UsageError("no *.yaml tenant file found: add one or name the files to check.")
    sizes = {account: report.document_bytes(account) for account in report.documents}
    largest = max(sizes, key=lambda a: sizes[a])
    click.echo(
        f"OK: {len(report.tenant_ids)} tenant(s), {len(sizes)} account document(s), "
        f"largest {sizes[largest]} bytes (account {largest}, limit 8192)."
    )


@main.command()
@click.option(
    "--arch",
    type=click.Choice(["arm64", "x86_64"]),
    default="arm64",
    show_default=True,
    help="Lambda architecture the wheels are installed for.",
)
@click.option(
    "--python",
    "python_version",
    type=click.Choice(["3.12", "3.13"]),
    default="3.12",
    show_default=True,
    help="Lambda Python runtime the wheels are installed for.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Zip to write [default: build/lambda-<arch>-py<python>.zip, what Terraform deploys].",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="pip download cache to reuse between builds.",
)
@click.option(
    "--constraint",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="pip constraints file pinning dependency versions (for builds that must match later).",
)
def package(
    arch: str,
    python_version: str,
    output: Path | None,
    cache_dir: Path | None,
    constraint: Path | None,
) -> None:
    """Build the reproducible Lambda zip and print its size and SHA-256."""
    from .tools.packaging import PackagingError, build  # noqa: PLC0415 - only this command needs it

    try:
        result = build(
            output,
            arch=arch,
            python_version=python_version,
            cache_dir=cache_dir,
            constraints=constraint,
        )
    except PackagingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{result.path}")
    click.echo(f"  size:   {result.size} bytes ({result.entries} entries)")
    click.echo(f"  sha256: {result.sha256}")
    click.echo(f"  base64: {result.base64sha256} (Terraform source_code_hash)")
    click.echo(f"  deps:   {', '.join(result.distributions)}")
    if result.bytecode:
        click.echo(f"  pycs:   compiled with Python {result.bytecode}")
    else:
        click.echo(
            f"  pycs:   none (no Python {python_version} here: cold starts will compile the"
            " modules; install that Python or pyenv version for a faster zip)"
        )


class SecretsUnreadable(Exception):
    """Raised when ``--check-secrets`` cannot reach SSM at all."""


def _ssm_secrets(prefix: str) -> Callable[[str], bytes | None]:
    from .runtime.sources import SourceUnavailable, SsmSource  # noqa: PLC0415 - boto3 on demand

    source = SsmSource(prefix)

    def read(name: str) -> bytes | None:
        if not name.startswith(f"{prefix.rstrip('/')}/secrets/"):
            return None  # named outside the prefix: validate reports that already
        try:
            return source.load_secret(name)
        except SourceUnavailable as exc:
            raise SecretsUnreadable(str(exc)) from exc

    return read


main.add_command(local)
