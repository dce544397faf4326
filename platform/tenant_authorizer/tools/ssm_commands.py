"""``tenant-authz keys revoke``, ``ssm diff`` and ``ssm push`` (emergency-key-revocation.md).

Exit codes: 0 done (``ssm diff``: SSM is what the tenant files say); 1 the command could
not run (one sentence on stderr with the fix); 2 a usage mistake; 3 ``ssm diff`` found
drift (printed), so that a script tells drift from a failure to look.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from .aws_cli import aws_errors, clients
from .cli_options import tenant_directory
from .documents import render_json
from .report import TenantFile
from .ssm_sync import (
    Parameters,
    SyncError,
    diff,
    push_tenant,
    remove_api_keys,
    revoke_part,
    rewrite_part,
)

_directory = tenant_directory
DRIFT = 3  # ssm diff's exit code when SSM and the files differ (1 is an error, 2 usage)
_prefix = click.option(
    "--ssm-prefix",
    default="/tenant-authorizer",
    show_default=True,
    envvar="TENANT_AUTHZ_SSM_PREFIX",
    help="SSM prefix of the platform.",
)


def _parameters(prefix: str) -> Parameters:
    (ssm,) = clients("ssm")
    return Parameters(ssm, prefix)


def _valid_files(directory: Path) -> tuple[dict[str, str], dict[str, TenantFile]]:
    """The rendered documents and the tenant files of a directory that validates."""
    from .validation import validate  # noqa: PLC0415 - tools deps load lazily

    if not directory.is_dir():
        raise click.UsageError(f"no tenant directory {directory}/: name the tenant directory.")
    report = validate([directory])
    if report.problems:
        for problem in report.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(
            f"{len(report.problems)} problem(s) in {directory}/: fix them first "
            f"(.venv/bin/tenant-authz validate {directory} shows the same)."
        )
    files = {str(t.data["tenant_id"]): t for t in report.files if t.config is not None}
    return report.documents, files


def _tenant_file(directory: Path, tenant_id: str) -> TenantFile:
    """The tenant's own file, valid: other files' problems do not block an emergency."""
    from .validation import validate  # noqa: PLC0415

    path = directory / f"{tenant_id}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in directory.glob("*.yaml")) if directory.is_dir() else []
        raise click.ClickException(
            f"no tenant {tenant_id} in {directory}/ (no {path.name}): name one of "
            f"{', '.join(names) or 'none'}."
        )
    report = validate([path], check_aliases=False)
    tenant = next((t for t in report.files if t.config is not None), None)
    if report.problems or tenant is None:
        for problem in report.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"{path} has problems: fix them first.")
    return tenant


def _accounts(tenant: TenantFile) -> list[str]:
    bindings = tenant.config.bindings if tenant.config is not None else ()
    return sorted({b.account_id for b in bindings})


@click.group()
def keys() -> None:
    """Revoke a tenant's keys or tokens in SSM directly (emergencies)."""


@keys.command()
@_directory
@click.option("--tenant", "tenant_id", required=True, help="The tenant whose key leaked.")
@click.option("--kid", "kids", multiple=True, help="A key id to refuse (repeatable).")
@click.option(
    "--issued-before",
    default=None,
    help="Refuse tokens issued before this instant: RFC 3339 with offset, or 'now'.",
)
@click.option("--issuer", default=None, help="The issuer (iss) the keys belong to, if several.")
@click.option(
    "--api-key", "api_key_ids", multiple=True, help="An API key id to remove (repeatable)."
)
@_prefix
def revoke(
    *,
    directory: Path,
    tenant_id: str,
    kids: tuple[str, ...],
    issued_before: str | None,
    issuer: str | None,
    api_key_ids: tuple[str, ...],
    ssm_prefix: str,
) -> None:
    """Refuse a tenant's key (--kid), older tokens (--issued-before) or API keys (--api-key)
    on every warm instance within the config TTL, by writing the tenant's part of its
    documents in SSM."""
    if not kids and issued_before is None and not api_key_ids:
        raise click.UsageError(
            "name what to revoke: --kid KID, --issued-before WHEN and/or --api-key ID."
        )
    instant = _instant(issued_before) if issued_before is not None else None
    tenant = _tenant_file(directory, tenant_id)
    names = [str(i.get("issuer")) for i in tenant.raw.get("issuers") or []]
    if issuer is not None and issuer not in names:
        raise click.ClickException(
            f"tenant {tenant_id} has no issuer {issuer}: name one of {', '.join(names)}."
        )
    if instant is not None and _epoch(instant) > time.time() + 300:
        raise click.BadParameter(
            f"{instant} is in the future: every token of the tenant would be refused until then",
            param_hint="--issued-before",
        )
    targets = [issuer] if issuer is not None else None
    revoked: dict[str, Any] = {}
    removed: set[str] = set()

    def new_part(_account: str, part: Any) -> str:
        if api_key_ids:
            gone = remove_api_keys(part, api_key_ids)
            missing = sorted(set(api_key_ids) - set(gone) - removed)
            if missing:
                raise SyncError(
                    f"tenant {tenant_id} has no API key {', '.join(missing)} in SSM (already "
                    "revoked, or another tenant's?)"
                )
            removed.update(gone)
        if not kids and instant is None:
            return _check_part(render_json(part), tenant.display)
        text, revocation = revoke_part(part, targets, kids, instant)
        revoked.update(revocation)
        if not revocation:
            raise SyncError(
                f"tenant {tenant_id} has no issuer a kid can be revoked for (HS issuers: "
                "rotate hmac_secret_parameter, or use --issued-before)"
            )
        return _check_part(text, tenant.display)

    with aws_errors(f"SSM prefix {ssm_prefix}", errors=(SyncError,)):
        changed = rewrite_part(
            tenant_id, _accounts(tenant), _parameters(ssm_prefix), new_part, click.echo
        )
    click.echo(
        f"Revoked for tenant {tenant_id} in {len(changed)} account document(s)"
        f"{' (' + ', '.join(changed) + ')' if changed else ' (already revoked)'}: warm "
        "instances refuse within the config TTL (60 s by default)."
    )
    if removed:
        click.echo(
            f"Remove the api_keys entries {', '.join(sorted(removed))} from {tenant.display} "
            "and commit it."
        )
    for index, name in enumerate(names):
        revocation = revoked.get(name)
        if not revocation:
            continue
        click.echo(f"Commit this to {tenant.display}, issuers[{index}] ({name}):")
        click.echo("    revocation:")
        if revocation.get("kids"):
            click.echo(f"      kids: {json.dumps(revocation['kids'])}")
        if revocation.get("issued_before"):
            click.echo(f'      issued_before: "{revocation["issued_before"]}"')
    click.echo(
        "Until the file says so and its group is applied, `tenant-authz ssm diff` shows this "
        "drift, and an apply of the old file would lift the revocation."
    )


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _check_part(text: str, display: str) -> str:
    """The new part must still be one the runtime accepts."""
    from ..runtime.errors import ConfigError  # noqa: PLC0415
    from ..runtime.tenant_parser import parse_tenant  # noqa: PLC0415

    data = json.loads(text)
    if not (data.get("issuers") or data.get("static_tokens") or data.get("api_keys")):
        raise SyncError(
            "that would leave the tenant no credential at all: add its new key to the file "
            "and push it first (tenant-authz ssm push), or offboard the tenant "
            "(docs/runbooks/offboarding.md), which refuses every request"
        )
    try:
        parse_tenant(data, display, require_bindings=False)
    except ConfigError as exc:
        raise SyncError(f"the revocation is not valid: {exc.field}: {exc.reason}") from exc
    return text


def _instant(text: str) -> str:
    if text == "now":
        return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(
            f"{text!r} is not an RFC 3339 instant (2026-12-01T10:00:00Z) or 'now'",
            param_hint="--issued-before",
        ) from exc
    if parsed.tzinfo is None:
        raise click.BadParameter(
            f"{text!r} has no offset: add Z or +HH:MM", param_hint="--issued-before"
        )
    return text


@click.group()
def ssm() -> None:
    """Compare SSM with the tenant files, or write one tenant's part from its file."""


@ssm.command("diff")
@_directory
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
@_prefix
def ssm_diff(directory: Path, as_json: bool, ssm_prefix: str) -> None:
    """Every difference between DIRECTORY (as Terraform would write it) and SSM; exit 3 if any."""
    documents, _ = _valid_files(directory)
    with aws_errors(f"SSM prefix {ssm_prefix}", errors=(SyncError,)):
        differences = diff(documents, _parameters(ssm_prefix))
    if as_json:
        rows = [{"name": d.name, "kind": d.kind, "details": list(d.details)} for d in differences]
        click.echo(json.dumps(rows, indent=2))
    else:
        for difference in differences:
            click.echo(str(difference))
        if not differences:
            click.echo(f"no drift: SSM holds what {directory}/ says ({len(documents)} account(s)).")
    if differences:
        raise SystemExit(DRIFT)


@ssm.command("push")
@_directory
@click.option("--tenant", "tenant_id", required=True, help="The tenant whose part to write.")
@_prefix
def ssm_push(directory: Path, tenant_id: str, ssm_prefix: str) -> None:
    """Write one tenant's part of its account documents from its file (and the index)."""
    tenant = _tenant_file(directory, tenant_id)
    with aws_errors(f"SSM prefix {ssm_prefix}", errors=(SyncError,)):
        changed = push_tenant(
            tenant.raw, _accounts(tenant), _parameters(ssm_prefix), echo=click.echo
        )
    click.echo(
        f"{tenant_id}: {len(changed)} account document(s) written"
        f"{' (' + ', '.join(changed) + ')' if changed else ' (SSM already said the same)'}."
    )
