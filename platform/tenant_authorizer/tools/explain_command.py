"""``tenant-authz token explain``: why a token was allowed or refused on a route.

Exit codes: 0 the token would be allowed; 1 it would be refused (403, 401 or 500: the
steps say which and why), or the command could not run (one sentence with the fix);
2 a usage mistake.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .aws_cli import aws_errors
from .cli_options import DEFAULT_CONFIGS

if TYPE_CHECKING:
    from ..runtime.sources import ConfigSource


@click.group()
def token() -> None:
    """Look into a token's decision."""


@token.command("explain")
@click.argument("token_text", metavar="[TOKEN | -]", required=False)
@click.option("--arn", default=None, help="The methodArn or routeArn API Gateway sends.")
@click.option("--account", default=None, help="Account id of the calling API.")
@click.option("--api-id", default=None, help="API id of the calling API.")
@click.option("--stage", default=None, help="Stage of the calling API.")
@click.option("--tenant", "tenant_id", default=None, help="A tenant: its only binding is used.")
@click.option("--method", default="GET", show_default=True, help="HTTP method (or $connect).")
@click.option("--path", default="/", show_default=True, help="Request path, e.g. /orders/42.")
@click.option(
    "--tenants",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_CONFIGS,
    show_default=True,
    help="Tenant directory the decision reads (unless --ssm).",
)
@click.option("--ssm", "from_ssm", is_flag=True, help="Read the deployed documents from SSM.")
@click.option(
    "--ssm-prefix",
    default="/tenant-authorizer",
    show_default=True,
    envvar="TENANT_AUTHZ_SSM_PREFIX",
)
@click.option(
    "--route-key",
    default="$default",
    show_default=True,
    help="HTTP API route key, for bindings with response: simple.",
)
@click.option("--alias", default=None, help="The alias the call comes through (shard-NNN).")
@click.option("--json", "as_json", is_flag=True, help="Print the steps as JSON.")
def explain_command(
    *,
    token_text: str | None,
    arn: str | None,
    account: str | None,
    api_id: str | None,
    stage: str | None,
    tenant_id: str | None,
    method: str,
    path: str,
    directory: Path,
    from_ssm: bool,
    ssm_prefix: str,
    route_key: str,
    alias: str | None,
    as_json: bool,
) -> None:
    """Run the real decision for a token on a route and print each step with its verdict.

    The route is --arn, or --account/--api-id/--stage with --method/--path, or --tenant
    with --method/--path (its only binding). The token is the argument, or stdin with -
    (or nothing). The signature and secrets are never printed.
    """
    from .explain import default_region, explain  # noqa: PLC0415

    text = token_text if token_text not in (None, "-") else sys.stdin.read()
    text = (text or "").strip()
    scheme, _, rest = text.partition(" ")
    if rest and scheme.lower() in ("bearer", "dpop"):
        text = rest.strip()  # a header value pasted whole: the scheme is added back as needed
    if not text:
        raise click.UsageError("give the token as the argument, or on stdin with -.")
    source, documents = _source(directory, from_ssm, ssm_prefix)
    if arn is None and from_ssm and tenant_id is not None and not (account and api_id and stage):
        raise click.UsageError(
            "with --ssm, name the route by --arn or --account/--api-id/--stage "
            "(--tenant reads its binding from the tenant files)."
        )
    if arn is None:
        arn = _arn(
            account=account,
            api_id=api_id,
            stage=stage,
            tenant_id=tenant_id,
            method=method,
            path=path,
            documents=documents,
            region=default_region(),
        )
    with aws_errors(f"SSM prefix {ssm_prefix}"):
        result = explain(source, arn, text, route_key=route_key, alias=alias)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2, sort_keys=True, default=str))
    else:
        for number, step in enumerate(result.steps, 1):
            click.echo(f"{number:>2}. {step.line()}")
        if result.response is not None:
            click.echo("response: " + json.dumps(result.response, sort_keys=True))
    if result.outcome != "allow":
        raise SystemExit(1)


def _source(directory: Path, from_ssm: bool, prefix: str) -> tuple[ConfigSource, dict[str, str]]:
    from ..runtime.sources import SsmSource, StaticSource  # noqa: PLC0415
    from .validation import validate  # noqa: PLC0415

    if from_ssm:
        return SsmSource(prefix), {}
    if not directory.is_dir():
        raise click.UsageError(f"no tenant directory {directory}/: name it with --tenants.")
    report = validate([directory])
    if not report.documents:
        raise click.ClickException(
            f"{directory}/ renders no account document: "
            f"run .venv/bin/tenant-authz validate {directory}."
        )
    documents = dict(report.documents)
    return StaticSource(documents, {}), documents


def _arn(
    *,
    account: str | None,
    api_id: str | None,
    stage: str | None,
    tenant_id: str | None,
    method: str,
    path: str,
    documents: dict[str, str],
    region: str,
) -> str:
    route = method if method.startswith("$") else f"{method.upper()}{path}"
    if account and api_id and stage:
        return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{route}"
    if tenant_id is None:
        raise click.UsageError(
            "name the route: --arn, or --account, --api-id and --stage, or --tenant."
        )
    bindings = []
    for doc in documents.values():
        data = json.loads(doc)
        for b in data.get("bindings") or []:
            if b.get("tenant_id") == tenant_id:
                bindings.append((data["account_id"], b))
    if not bindings:
        raise click.ClickException(
            f"no binding of tenant {tenant_id} in the tenant files: check --tenant and --tenants."
        )
    if len(bindings) > 1:
        listed = "; ".join(
            f"account {a} APIs {','.join(b.get('api_ids') or ['*'])}" for a, b in bindings
        )
        raise click.ClickException(
            f"tenant {tenant_id} has {len(bindings)} bindings ({listed}): name one with "
            "--account, --api-id and --stage."
        )
    account_id, binding = bindings[0]
    api = (binding.get("api_ids") or ["apiexplain"])[0]
    stage_name = (binding.get("stages") or ["prod"])[0]
    return f"arn:aws:execute-api:{region}:{account_id}:{api}/{stage_name}/{route}"
