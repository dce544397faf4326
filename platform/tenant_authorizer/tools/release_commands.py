"""``tenant-authz release``, ``release-status`` and ``rollback`` (docs/runbooks/release.md).

Exit codes: 0 done (or nothing to do); 1 the command could not run (one sentence says
the fix: no credentials, no such function, a release already under way, an alarm
already in ALARM), nothing changed or every alias is back; 2 a usage mistake; 3 an alarm
fired during the release and every alias was rolled back; 4 the release stopped part-way
and the aliases may serve two versions (the record changed under it, or moving them back
failed too): look with release-status, then roll back.
"""

from __future__ import annotations

import json

import click

from .aws_cli import aws_errors, clients
from .release import DEFAULT_STEPS, Release, ReleaseError, RolledBack, Stopped

ROLLED_BACK_EXIT = 3
STOPPED_EXIT = 4

_function = click.option(
    "--function",
    "function",
    default="tenant-authorizer",
    show_default=True,
    envvar="TENANT_AUTHZ_FUNCTION",
    help="The shared authorizer function (terraform/platform function_name).",
)
_prefix = click.option(
    "--ssm-prefix",
    default="/tenant-authorizer",
    show_default=True,
    envvar="TENANT_AUTHZ_SSM_PREFIX",
    help="SSM prefix of the platform; the release is recorded at PREFIX/release.",
)


def _release(function: str, prefix: str) -> Release:
    lam, cloudwatch, ssm = clients("lambda", "cloudwatch", "ssm")
    return Release(lam, cloudwatch, ssm, function, prefix, echo=click.echo)


def _steps(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(s) for s in value.split(",") if s.strip())
    except ValueError as exc:
        raise click.BadParameter("give percentages separated by commas, e.g. 10,50") from exc
    if any(not 0 < s < 100 for s in steps) or list(steps) != sorted(set(steps)):
        raise click.BadParameter("give increasing percentages between 1 and 99, e.g. 10,50")
    return steps


@click.command()
@click.option("--version", "version", default=None, help="Version to release [default: $LATEST].")
@click.option(
    "--steps",
    default=",".join(map(str, DEFAULT_STEPS)),
    show_default=True,
    callback=_steps,
    help="Percentages of every alias's invocations on the new version before 100.",
)
@click.option(
    "--bake-seconds",
    type=click.FloatRange(0),
    default=300,
    show_default=True,
    envvar="TENANT_AUTHZ_RELEASE_BAKE_SECONDS",
    help="How long each step watches the alarms before the next.",
)
@click.option(
    "--poll-seconds",
    type=click.FloatRange(0.1),
    default=15,
    show_default=True,
    envvar="TENANT_AUTHZ_RELEASE_POLL_SECONDS",
    help="How often the alarms are read while baking.",
)
@click.option(
    "--now",
    is_flag=True,
    help="Every alias at once, no steps, no bake (an emergency fix; needs --expect-sha256).",
)
@click.option(
    "--expect-sha256",
    default=None,
    help="Refuse unless the code has this base64 SHA-256 (terraform output source_code_hash).",
)
@_function
@_prefix
def release(
    *,
    version: str | None,
    steps: tuple[int, ...],
    bake_seconds: float,
    poll_seconds: float,
    now: bool,
    expect_sha256: str | None,
    function: str,
    ssm_prefix: str,
) -> None:
    """Move every alias to a new version step by step; roll back if an alarm fires.

    Publishes $LATEST (what the last terraform/platform apply deployed) unless --version
    names one. Exit 3: an alarm fired and every alias is back on the previous version;
    exit 4: stopped part-way, the aliases may serve two versions (see release-status).
    """
    with aws_errors(
        f"function {function}",
        exits={RolledBack: ROLLED_BACK_EXIT, Stopped: STOPPED_EXIT},
        errors=(ReleaseError,),
    ):
        _release(function, ssm_prefix).release(
            version,
            steps=steps,
            bake_seconds=bake_seconds,
            poll_seconds=poll_seconds,
            expect_sha256=expect_sha256,
            now=now,
        )


@click.command("release-status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@_function
@_prefix
def release_status(as_json: bool, function: str, ssm_prefix: str) -> None:
    """Which version each alias serves, the recorded release, the alarms in ALARM."""
    with aws_errors(
        f"function {function}",
        exits={RolledBack: ROLLED_BACK_EXIT, Stopped: STOPPED_EXIT},
        errors=(ReleaseError,),
    ):
        status = _release(function, ssm_prefix).status()
    if as_json:
        click.echo(json.dumps(status, indent=2, sort_keys=True))
        return
    for version, count in status["versions"].items():
        click.echo(f"version {version}: {count} alias(es)")
    record = status["release"]
    if record is None:
        click.echo("no release recorded")
    else:
        click.echo(
            f"last release: {record['previous']} -> {record['target']}, {record['status']}"
            + (f" (alarm {record['alarm']})" if record.get("alarm") else "")
        )
    click.echo(f"alarms in ALARM: {', '.join(status['alarming']) or 'none'}")


@click.command()
@click.option(
    "--to",
    "to",
    default=None,
    help="Version to go back to [default: the one the release replaced].",
)
@_function
@_prefix
def rollback(to: str | None, function: str, ssm_prefix: str) -> None:
    """Put every alias back on one version at once (no steps, no bake)."""
    with aws_errors(
        f"function {function}",
        exits={RolledBack: ROLLED_BACK_EXIT, Stopped: STOPPED_EXIT},
        errors=(ReleaseError,),
    ):
        _release(function, ssm_prefix).rollback(to)
