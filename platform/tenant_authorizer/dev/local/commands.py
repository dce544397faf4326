"""The click group ``tenant-authz local`` and its commands ``local token`` and ``local rotate``.

Runtime modules are imported inside the commands, not at import time: ``tenant-authz
validate`` and ``package`` do not pay for the authorizer's imports.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import click

from .errors import IssuerUnreachable, LocalError, LocalUsageError
from .options import (
    DEFAULT_ISSUER_URL,
    DEFAULT_TENANT,
    DEFAULT_TENANTS_DIR,
    DEV_CLIENT_SECRET,
    LocalOptions,
    local_issuer,
)
from .stack import echo, start_local, tenants_error


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Gateway port (0: any free port).",
)
@click.option(
    "--tenants-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_TENANTS_DIR,
    show_default=True,
    help="Tenant files to serve.",
)
@click.option(
    "--tenant",
    default=DEFAULT_TENANT,
    show_default=True,
    help="Tenant whose API (first binding) is emulated.",
)
@click.option(
    "--api-kind",
    type=click.Choice(["rest-token", "rest-request", "http-v1", "http-v2"]),
    default=None,
    help="API and event kind [default: http-v2 for a 'simple' binding, else rest-token].",
)
@click.option(
    "--ttl",
    type=click.FloatRange(0, 3600),
    default=300,
    show_default=True,
    help="Authorizer result cache TTL in seconds (0 disables), as on the API.",
)
@click.option(
    "--identity-source",
    "identity_sources",
    multiple=True,
    help="Identity source, e.g. method.request.header.Authorization or "
    "$request.querystring.token (repeatable) [default: where the tenant reads the token].",
)
@click.option(
    "--identity-validation-expression",
    "identity_validation",
    default=None,
    help="REST TOKEN only: a regex the token header must match, else 401.",
)
@click.option(
    "--upstream",
    default=None,
    metavar="URL",
    help="Forward allowed requests to URL (with x-authorizer-* headers) instead of the echo.",
)
@click.option(
    "--ssm",
    is_flag=True,
    help="Read tenant configs from SSM (TENANT_AUTHZ_SSM_PREFIX; honours AWS_ENDPOINT_URL).",
)
@click.option(
    "--issuer-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Development issuer port [default: the tenant's local issuer's, else 8090].",
)
@click.option("--no-issuer", is_flag=True, help="Do not start the development issuer.")
@click.option(
    "--verbose", "-v", is_flag=True, help="Print the authorizer's JSON decision lines (stderr)."
)
@click.option(
    "--decision-log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append the authorizer's JSON decision lines to this file.",
)
@click.pass_context
def local(ctx: click.Context, /, **kwargs: Any) -> None:
    """Run a local API Gateway with the real authorizer and a development issuer (make run)."""
    if ctx.invoked_subcommand is not None:
        return
    options = LocalOptions(**kwargs)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    # Installed before anything starts (a signal during start-up stops it right after)
    # and kept through the shutdown (a second Ctrl-C must not become a traceback).
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        stack = start_local(options)
        echo(stack.banner)
        while not stop.wait(0.5):
            pass
        stack.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    echo("tenant-authz local: stopped.")


def _issuer_of(tenant: str | None, tenants_dir: Path) -> tuple[str, str | None]:
    """(issuer URL, default audience) of ``tenant``'s local development issuer."""
    if tenant is None:
        return DEFAULT_ISSUER_URL, None
    from ...tools.tenant_file import check_file  # noqa: PLC0415
    from ..tenant_files import LocalTenant  # noqa: PLC0415

    path = tenants_dir / f"{tenant}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in tenants_dir.glob("*.yaml"))) or "none"
        raise LocalUsageError(f"unknown tenant {tenant!r} in {tenants_dir}/: choose one of {known}")
    checked, problems = check_file(path)
    if problems or checked.config is None:
        raise tenants_error(tenants_dir, [str(p) for p in problems])
    issuer = local_issuer(LocalTenant(checked.config, checked.config.bindings), None)
    if issuer is None:
        raise LocalUsageError(
            f"tenant {tenant} trusts no local_development issuer, so the development issuer "
            "cannot mint its tokens: use a token from its IdP",
        )
    return issuer.issuer, issuer.audiences[0] if issuer.audiences else None


def _discover(issuer_url: str) -> dict[str, Any]:
    import requests  # noqa: PLC0415

    url = issuer_url.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=3)
        response.raise_for_status()
        metadata: dict[str, Any] = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise IssuerUnreachable(
            f"no development issuer answers at {issuer_url}: start it with make run "
            "(tenant-authz local) or pass --issuer-url",
        ) from exc
    return metadata


_issuer_options = [
    click.option(
        "--tenant",
        default=None,
        help="Use this tenant's local_development issuer (from --tenants-dir).",
    ),
    click.option(
        "--tenants-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_TENANTS_DIR,
        show_default=True,
    ),
    click.option(
        "--issuer-url",
        default=None,
        help=f"The development issuer [default: the tenant's, else {DEFAULT_ISSUER_URL}].",
    ),
]


def _with_issuer_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_issuer_options):
        command = option(command)
    return command


@local.command("token")
@_with_issuer_options
@click.option("--scope", "scopes", multiple=True, help="A scope to request (repeatable).")
@click.option(
    "--audience", default=None, help="Audience [default: the tenant's first, else the issuer's]."
)
@click.option(
    "--client-id",
    default="local-dev-client",
    show_default=True,
    help="Client id; it becomes the token's sub (principal).",
)
@click.option(
    "--client-secret",
    default=DEV_CLIENT_SECRET,
    show_default=True,
    envvar="TENANT_AUTHZ_DEV_CLIENT_SECRET",
    help="The development issuer's client secret.",
)
def token_command(
    *,
    tenant: str | None,
    tenants_dir: Path,
    issuer_url: str | None,
    scopes: tuple[str, ...],
    audience: str | None,
    client_id: str,
    client_secret: str,
) -> None:
    """Print a token from the running development issuer (client credentials), nothing else."""
    import requests  # noqa: PLC0415

    url, tenant_audience = (issuer_url, None) if issuer_url else _issuer_of(tenant, tenants_dir)
    if issuer_url and tenant:
        tenant_audience = _issuer_of(tenant, tenants_dir)[1]
    endpoint = _discover(url).get("token_endpoint")
    if not isinstance(endpoint, str):
        raise LocalError(f"{url} publishes no token_endpoint: is it the development issuer?")
    form = {"grant_type": "client_credentials"}
    if scopes:
        form["scope"] = " ".join(scopes)
    if audience or tenant_audience:
        form["audience"] = audience or tenant_audience or ""
    try:
        response = requests.post(
            endpoint,
            data=form,
            # RFC 6749 section 2.3.1: form-encode both parts before Basic encoding.
            auth=(quote_plus(client_id), quote_plus(client_secret)),
            timeout=5,
        )
    except requests.RequestException as exc:
        raise IssuerUnreachable(
            f"the token endpoint {endpoint} did not answer: is the issuer still running?",
        ) from exc
    body: dict[str, Any] = response.json() if response.content else {}
    if response.status_code != 200 or "access_token" not in body:
        error = body.get("error_description") or body.get("error") or f"HTTP {response.status_code}"
        raise LocalError(
            f"the development issuer refused: {error} (its client secret is {DEV_CLIENT_SECRET} "
            "unless --client-secret says otherwise)"
        )
    click.echo(body["access_token"])


@local.command("rotate")
@_with_issuer_options
@click.option(
    "--alg",
    "algorithms",
    multiple=True,
    help="Algorithm whose key to rotate (repeatable) [default: every one it publishes].",
)
@click.option(
    "--revoke",
    is_flag=True,
    help="Unpublish the previous key (emergency revocation) instead of keeping it.",
)
def rotate_command(
    *,
    tenant: str | None,
    tenants_dir: Path,
    issuer_url: str | None,
    algorithms: tuple[str, ...],
    revoke: bool,
) -> None:
    """Rotate the running development issuer's keys; print each new kid."""
    import requests  # noqa: PLC0415

    url = issuer_url or _issuer_of(tenant, tenants_dir)[0]
    published = _discover(url).get("id_token_signing_alg_values_supported") or []
    for alg in algorithms or tuple(published):
        try:
            response = requests.post(
                f"{url.rstrip('/')}/rotate",
                params={"alg": alg, "keep_old": "false" if revoke else "true"},
                timeout=5,
            )
        except requests.RequestException as exc:
            raise IssuerUnreachable(
                f"{url} did not answer the rotation: is the issuer still running?",
            ) from exc
        if response.status_code != 200:
            raise LocalError(
                f"{url} refused to rotate {alg} (HTTP {response.status_code}): it publishes "
                f"{', '.join(map(str, published)) or 'no algorithm'}",
            )
        click.echo(response.json()["kid"])
    click.echo(
        "old keys unpublished: tokens they signed now fail (once the JWKS is refetched)"
        if revoke
        else "old keys stay published: tokens they signed keep working until they expire",
        err=True,
    )
