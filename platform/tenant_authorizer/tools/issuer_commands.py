"""``tenant-authz issuer check`` and ``tenant-authz onboard``.

Exit codes: 0 done (``issuer check``: nothing failed, warnings allowed); 1 a check failed,
or the command could not run (one sentence with the fix); 2 a usage mistake.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from .cli_options import DEFAULT_CONFIGS
from .issuers import (
    ASYMMETRIC,
    Finding,
    answer_findings,
    fetch,
    key_findings,
    metadata,
)

_tenants_option = click.option(
    "--tenants",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_CONFIGS,
    show_default=True,
    help="The tenant directory.",
)


@click.group()
def issuer() -> None:
    """Look at a tenant's issuers from outside."""


@issuer.command("check")
@click.argument("tenant_id", metavar="TENANT")
@_tenants_option
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def check(tenant_id: str, directory: Path, as_json: bool) -> None:
    """Per issuer: metadata and JWKS reachable within the runtime's budget, the issuer
    string, every key (kid, type, size, alg, use), weak or duplicate keys, Cache-Control,
    compressed or oversized answers, a rotation under way."""
    from ..runtime.settings import Settings  # noqa: PLC0415
    from .validation import validate  # noqa: PLC0415

    report = validate([directory], check_aliases=False)
    tenants = {str(t.data.get("tenant_id")): t for t in report.files if t.config is not None}
    tenant = tenants.get(tenant_id)
    if tenant is None or tenant.config is None:
        raise click.ClickException(
            f"no valid tenant {tenant_id} in {directory}/: "
            f"run .venv/bin/tenant-authz validate {directory}."
        )
    budget = Settings.from_env({}).network_budget
    results: dict[str, list[Finding]] = {}
    for config in tenant.config.issuers:
        if not as_json:
            click.echo(f"{config.issuer}: checking ...", err=True)
        results[config.issuer] = _check_issuer(config, budget)
    failed = any(f.level == "fail" for found in results.values() for f in found)
    if as_json:
        click.echo(json.dumps({i: [f.__dict__ for f in fs] for i, fs in results.items()}, indent=2))
    else:
        for name, found in results.items():
            click.echo(name)
            for finding in found:
                click.echo(f"  {finding.line()}")
    if failed:
        raise SystemExit(1)


def _check_issuer(config: Any, budget: float) -> list[Finding]:
    if config.is_hmac:
        return [
            Finding(
                "ok",
                "secret",
                "HS* issuer: no keys to fetch (validate --check-secrets reads the secret)",
            )
        ]
    out: list[Finding] = []
    local = bool(config.local_development)
    jwks_uri = config.jwks_uri
    if config.discovery != "none":
        kind, got, tries = metadata(config.issuer, local_development=local, mode=config.discovery)
        if got is None:
            out += [Finding("fail", "metadata", f"{t.url}: {t.error}") for t in tries]
            return out
        out += answer_findings("metadata", got, budget)
        body = got.body or {}
        if body.get("issuer") == config.issuer:
            out.append(Finding("ok", "issuer", f"{kind} metadata names {config.issuer} exactly"))
        else:
            out.append(
                Finding(
                    "fail",
                    "issuer",
                    f"metadata names {body.get('issuer')!r}, not {config.issuer!r}: "
                    "tokens' iss will not match",
                )
            )
        jwks_uri = jwks_uri or body.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        out.append(
            Finding("fail", "jwks", "no jwks_uri: set it in the tenant file or fix the metadata")
        )
        return out
    same_host = urlsplit(jwks_uri).hostname == urlsplit(config.issuer).hostname
    private_ok = config.jwks_uri is not None or same_host  # the runtime's rule (jwks.py)
    got = fetch(jwks_uri, local_development=local, private_ok=private_ok)
    out += answer_findings("jwks", got, budget)
    if got.body is not None:
        keys = got.body.get("keys")
        out += key_findings(keys if isinstance(keys, list) else [], config.algorithms)
    return out


@click.command()
@click.option("--issuer", "issuer_url", required=True, help="The issuer (iss) URL.")
@click.option("--account", required=True, help="The account id of the tenant's APIs.")
@click.option(
    "--api-id", "api_ids", multiple=True, help="Pin the binding to this API (repeatable)."
)
@click.option(
    "--tenant",
    "tenant_id",
    default=None,
    help="Tenant id (file name) [default: from the issuer's host].",
)
@click.option(
    "--audience", "audiences", multiple=True, help="Audience the tokens carry (repeatable)."
)
@click.option(
    "--local-development", is_flag=True, help="An http:// issuer on this machine (tests, make run)."
)
@_tenants_option
def onboard(
    *,
    issuer_url: str,
    account: str,
    api_ids: tuple[str, ...],
    tenant_id: str | None,
    audiences: tuple[str, ...],
    local_development: bool,
    directory: Path,
) -> None:
    """Write a tenant file from an issuer's metadata and keys (then validate it)."""
    from .aliases import ALIASES_FILE, assign, load  # noqa: PLC0415
    from .validation import validate  # noqa: PLC0415

    if not re.fullmatch(r"[0-9]{12}", account):
        raise click.BadParameter("must be a 12-digit account id", param_hint="--account")
    if not directory.is_dir():
        raise click.UsageError(
            f"no tenant directory {directory}/: create it or name it with --tenants."
        )
    tenant_id = tenant_id or _tenant_from(issuer_url)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,61}[a-z0-9]", tenant_id):
        raise click.BadParameter(
            "must be a tenant id: 2-63 lower-case letters, digits and '-'", param_hint="--tenant"
        )
    target = directory / f"{tenant_id}.yaml"
    if target.exists():
        raise click.ClickException(f"{target} exists: edit it, or choose another --tenant.")
    click.echo(f"reading {issuer_url} ...", err=True)
    kind, got, tries = metadata(issuer_url, local_development=local_development)
    if got is None or got.body is None:
        raise click.ClickException(
            f"no metadata at {tries[0].url} ({tries[0].error}) nor {tries[-1].url}: "
            "check the issuer URL."
        )
    body = got.body
    if body.get("issuer") != issuer_url:
        raise click.ClickException(
            f"the metadata names issuer {body.get('issuer')!r}, not {issuer_url!r}: "
            "use that exact string."
        )
    jwks_uri = body.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise click.ClickException("the metadata names no jwks_uri: its keys cannot be read.")
    jwks = fetch(jwks_uri, local_development=local_development)
    if jwks.body is None:
        raise click.ClickException(f"{jwks_uri} could not be read ({jwks.error}): nothing written.")
    keys: list[dict[str, Any]] = [k for k in jwks.body.get("keys") or [] if isinstance(k, dict)]
    algorithms = _algorithms(body, keys)
    if not algorithms:
        raise click.ClickException(
            "the issuer publishes no asymmetric signing algorithm or key: its tokens cannot "
            "be verified with keys."
        )
    scope_claim = (
        "scp"
        if "scp" in (body.get("claims_supported") or [])
        or "/oauth2/" in issuer_url
        or "login.microsoftonline.com" in issuer_url
        else "scope"
    )
    proposed = list(audiences) or _audience_guess(issuer_url)
    if not proposed:
        raise click.UsageError(
            "the issuer does not say which audience its tokens carry: name it with --audience "
            "(the API identifier the tenant's clients ask tokens for)."
        )
    lines = [
        f"# Written by tenant-authz onboard from {kind} metadata of {issuer_url}; review it.",
        f"tenant_id: {tenant_id}",
        "issuers:",
        f"  - issuer: {json.dumps(issuer_url)}",
    ]
    if local_development:
        lines.append("    local_development: true")
    lines += [
        f"    discovery: {kind}",
        f"    algorithms: [{', '.join(algorithms)}]",
        f"    audiences: [{', '.join(json.dumps(a) for a in proposed)}]",
    ]
    if scope_claim != "scope":
        lines.append(f"    scope_claim: {scope_claim}")
    lines += ["bindings:", f'  - account_id: "{account}"']
    if api_ids:
        lines.append(f"    api_ids: [{', '.join(api_ids)}]")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    checked = validate([directory], check_aliases=False)
    problems = [p for p in checked.problems if p.file == str(target)]
    if problems:
        target.unlink()
        raise click.ClickException(
            f"the proposed file does not validate ({problems[0]}): nothing written."
        )
    current, _ = load(directory)  # the new account needs an alias for validate to pass
    updated = assign(current, checked.accounts)
    text = json.dumps(updated, indent=2, sort_keys=True) + "\n"
    (directory / ALIASES_FILE).write_text(text, encoding="utf-8")
    click.echo(
        f"wrote {target} (algorithms {', '.join(algorithms)}; audience "
        f"{', '.join(proposed)}; scope claim {scope_claim})"
    )
    click.echo(
        f"next: review it, then .venv/bin/tenant-authz validate {directory} and apply its group "
        "(docs/onboarding.md)"
    )


def _tenant_from(issuer_url: str) -> str:
    """A tenant id from the issuer's first host label (``login`` of login.acme.com)."""
    host = (re.sub(r"^https?://", "", issuer_url).split("/")[0].split(":")[0]).lower()
    label = re.sub(r"[^a-z0-9-]+", "-", host.split(".")[0]).strip("-")[:63].rstrip("-")
    if not re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", label):
        raise click.UsageError(
            f"cannot derive a tenant id from the host {host!r}: pass --tenant NAME."
        )
    return label


def _algorithms(body: dict[str, Any], keys: list[dict[str, Any]]) -> list[str]:
    """What the published signing keys can verify (an algorithm the metadata lists with
    no key for it is not proposed)."""
    del body  # the metadata's alg lists name what the IdP can do, the keys what it does
    signing = [k for k in keys if k.get("use") in (None, "sig")]
    from_keys = [k.get("alg") for k in signing]
    if not any(from_keys):
        kinds = {"RSA": "RS256", "EC": "ES256", "OKP": "EdDSA"}
        from_keys = [kinds.get(str(k.get("kty"))) for k in signing]
    return [a for a in ASYMMETRIC if a in from_keys]


def _audience_guess(issuer_url: str) -> list[str]:
    if re.search(r"/oauth2/default/?$", issuer_url):
        return ["api://default"]  # Okta's default custom authorization server
    return []
