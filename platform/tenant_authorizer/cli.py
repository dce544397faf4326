"""The ``tenant-authz`` command line: one click group, one command per task.

``validate`` checks tenant files (exit 1 on any problem), ``package`` builds the Lambda
zip. Other commands (the local gateway, tokens) join the same group. User mistakes end
with one sentence that says the fix and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

from .dev.local.commands import local
from .tools.api_keys import api_key
from .tools.cli_options import DEFAULT_CONFIGS, index_shards, tenant_directory, tenant_groups
from .tools.explain_command import token
from .tools.issuer_commands import issuer, onboard
from .tools.release_commands import release, release_status, rollback
from .tools.ssm_commands import keys, ssm


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
    help="Also read each secret the files name from SSM (AWS credentials, AWS_REGION, "
    "AWS_ENDPOINT_URL): HS* secrets (current and previous) checked as the runtime does "
    "(present, not a PEM key, as long as the hash), introspection client secrets present.",
)
@click.option(
    "--alias-count",
    type=click.IntRange(1, 1000),
    default=256,
    show_default=True,
    help="Aliases the platform has (terraform/platform alias_count), for aliases.json.",
)
def validate(
    paths: tuple[Path, ...],
    ssm_prefix: str,
    production: bool,
    check_secrets: bool,
    alias_count: int,
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
            targets,
            ssm_prefix=ssm_prefix,
            production=production,
            secrets=secrets,
            alias_count=alias_count,
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
        if any((p / "aliases.json").is_file() for p in targets if p.is_dir()):
            click.echo(
                "OK: no tenant left (aliases.json only): applying the groups removes the last "
                "tenants' documents and permissions."
            )
            return
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
    help="Constraints pinning every dependency [default: platform/lambda-constraints.txt].",
)
@click.option(
    "--lock",
    is_flag=True,
    help="Install the newest versions pyproject.toml allows and write them as the lock file.",
)
def package(
    *,
    arch: str,
    python_version: str,
    output: Path | None,
    cache_dir: Path | None,
    constraint: Path | None,
    lock: bool,
) -> None:
    """Build the reproducible Lambda zip from pinned dependencies; print its size and SHA-256."""
    from .tools.packaging import LOCK_FILE, PackagingError, build, write_lock  # noqa: PLC0415

    if lock and constraint is not None:
        raise click.UsageError("--lock writes the lock file: leave out --constraint.")
    try:
        result = build(
            output,
            arch=arch,
            python_version=python_version,
            cache_dir=cache_dir,
            constraints=None if lock else (constraint or LOCK_FILE),
        )
    except PackagingError as exc:
        raise click.ClickException(str(exc)) from exc
    if lock:
        write_lock(result.distributions)
        click.echo(f"{LOCK_FILE}: {len(result.distributions)} pin(s) written; commit it.")
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


@main.command()
@tenant_directory
@click.option(
    "--alias-count",
    type=click.IntRange(1, 1000),
    default=256,
    show_default=True,
    help="Aliases the platform has (terraform/platform alias_count).",
)
@click.option(
    "--check", is_flag=True, help="Change nothing; exit 1 if aliases.json is not current."
)
@tenant_groups
@index_shards
def aliases(directory: Path, alias_count: int, check: bool, groups: int, shard_count: int) -> None:
    """Give every bound account an alias in DIRECTORY/aliases.json (existing ones never move)."""
    from .runtime.index import Layout, group_of, shard_of  # noqa: PLC0415
    from .tools import aliases as assignment  # noqa: PLC0415 - tools deps load lazily
    from .tools.validation import validate as run_validation  # noqa: PLC0415

    if not directory.is_dir():
        raise click.UsageError(f"no tenant directory {directory}/: name the tenant directory.")
    if shard_count < groups:
        raise click.UsageError("--shard-count must be at least --groups.")
    groups_layout = Layout(groups, shard_count)
    report = run_validation([directory], check_aliases=False)
    if report.problems:
        for problem in report.problems:
            click.echo(str(problem))
        raise click.ClickException(
            f"{len(report.problems)} problem(s) in the tenant files: fix them first "
            "(.venv/bin/tenant-authz validate shows the same)."
        )
    current, problems = assignment.load(directory)
    if problems:
        raise click.ClickException(f"{problems[0]}: fix or delete the file, then run this again.")
    try:
        updated = assignment.assign(current, report.accounts, alias_count=alias_count)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    added = sorted(set(updated) - set(current))
    removed = sorted(set(current) - set(updated))
    if check:
        if added or removed:
            raise click.ClickException(
                f"{directory}/{assignment.ALIASES_FILE} is not current ({len(added)} account(s) "
                f"to add, {len(removed)} to remove): "
                f"run .venv/bin/tenant-authz aliases {directory}."
            )
    else:
        text = json.dumps(updated, indent=2, sort_keys=True) + "\n"
        (directory / assignment.ALIASES_FILE).write_text(text, encoding="utf-8")
    for account in removed:  # its document and permission go with its group's next apply
        group = group_of(shard_of(account, groups_layout.shard_count), groups_layout.groups)
        click.echo(f"removed {account} (group-{group:02d}): apply that group")
    sizes = assignment.policy_bytes(updated, report.accounts, assignment.LONGEST_FUNCTION)
    largest = max(sizes, key=lambda a: sizes[a]) if sizes else None
    summary = f"{len(updated)} account(s): {len(added)} added, {len(removed)} removed"
    if largest is not None:
        summary += f"; largest alias policy {sizes[largest]} bytes ({largest}, limit 20480)"
    click.echo(summary)


@main.command()
@tenant_directory
@click.option("--tenant", "tenant_ids", multiple=True, help="Only this tenant (repeatable).")
@tenant_groups
@index_shards
@click.option("--json", "as_json", is_flag=True, help="Print workspace -> accounts as JSON.")
def groups(
    directory: Path, tenant_ids: tuple[str, ...], groups: int, shard_count: int, as_json: bool
) -> None:
    """Which terraform/tenants workspaces (group-NN) to apply for a tenant's accounts."""
    from .runtime.index import Layout, group_of, shard_of  # noqa: PLC0415
    from .tools.validation import validate as run_validation  # noqa: PLC0415

    if not directory.is_dir():
        raise click.UsageError(f"no tenant directory {directory}/: name the tenant directory.")
    if shard_count < groups:
        raise click.UsageError("--shard-count must be at least --groups.")
    layout = Layout(groups, shard_count)
    report = run_validation([directory], check_aliases=False)
    known = {t.data.get("tenant_id"): t for t in report.files if t.config is not None}
    missing = [t for t in tenant_ids if t not in known]
    if missing:
        raise click.ClickException(
            f"no valid tenant {missing[0]} in {directory}/: "
            f"run .venv/bin/tenant-authz validate {directory}."
        )
    workspaces: dict[str, list[str]] = {}
    for tenant_id, tenant in sorted(known.items()):
        if tenant_ids and tenant_id not in tenant_ids:
            continue
        for binding in tenant.config.bindings if tenant.config is not None else ():
            account = binding.account_id
            group = group_of(shard_of(account, layout.shard_count), layout.groups)
            names = workspaces.setdefault(f"group-{group:02d}", [])
            if account not in names:
                names.append(account)
    result = {w: sorted(a) for w, a in sorted(workspaces.items())}
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for workspace, accounts in result.items():
        click.echo(f"{workspace}: {', '.join(accounts)}")


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
main.add_command(api_key)
main.add_command(release)
main.add_command(release_status)
main.add_command(rollback)
main.add_command(keys)
main.add_command(token)
main.add_command(issuer)
main.add_command(onboard)
main.add_command(ssm)
