"""One tenant file on its own: YAML, schema, the runtime's parser, file name, issuers.

A file is read as Terraform reads it (``yamldecode`` then ``jsonencode``), so that what
is checked is byte for byte what the runtime reads from SSM, and the JSON Terraform
embeds must parse back to the same tenant.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from ..runtime.errors import ConfigError
from ..runtime.tenant import TenantConfig
from ..runtime.tenant_fields import HMAC_ALGORITHMS
from ..runtime.tenant_parser import parse_tenant
from .documents import as_terraform_value, embedded_tenant_json
from .report import Problem, TenantFile, file_display
from .schema import schema_problems
from .yaml_reader import read_yaml

DEFAULT_SSM_PREFIX: Final = "/tenant-authorizer"


def check_file(
    path: Path,
    *,
    schema: Mapping[str, Any] | None = None,
    ssm_prefix: str = DEFAULT_SSM_PREFIX,
    production: bool = False,
) -> tuple[TenantFile, list[Problem]]:
    """Check one tenant file on its own: YAML, schema, parser, file name, secrets."""
    display = file_display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return TenantFile(path, display, None, None), [
            Problem(display, "(document)", f"cannot be read: {exc}")
        ]
    raw, problems = read_yaml(text, display)
    if raw is None:
        return TenantFile(path, display, None, None), problems
    try:
        data = as_terraform_value(raw)
    except TypeError as exc:  # pragma: no cover - read_yaml only yields JSON-able values
        return TenantFile(path, display, None, None), [
            *problems,
            Problem(display, "(document)", str(exc)),
        ]

    problems.extend(_unquoted_accounts(data, display))
    config: TenantConfig | None = None
    try:
        config = parse_tenant(data, display)
    except ConfigError as exc:
        problems.append(Problem(display, exc.field, exc.reason))
    problems.extend(schema_problems(data, display, schema))
    # One problem per field, the most telling first: what the YAML reader saw (the root
    # cause of a wrong type), then the runtime parser's reason, then the schema's.
    seen: set[str] = set()
    unique = []
    for problem in problems:
        if problem.field not in seen:
            seen.add(problem.field)
            unique.append(problem)
    problems = unique

    if isinstance(data, Mapping):
        tenant_id = data.get("tenant_id")
        if path.stem != tenant_id:
            problems.append(
                Problem(
                    display, "tenant_id", f"must equal the file name without .yaml ({path.stem!r})"
                )
            )
        problems.extend(
            _issuer_problems(data, display, ssm_prefix=ssm_prefix, production=production)
        )
        problems.extend(_control_character_problems(data, display))
        if config is not None:
            problems.extend(_round_trip_problems(raw, config, display))
    else:
        problems.append(Problem(display, "(document)", "must be a mapping"))
    if problems:
        config = None
    return TenantFile(path, display, data, config, raw), problems


def _issuer_problems(
    data: Mapping[str, Any], display: str, *, ssm_prefix: str, production: bool
) -> Iterator[Problem]:
    issuers = data.get("issuers")
    if not isinstance(issuers, list):
        return
    secrets = f"{ssm_prefix}/secrets/"
    for index, issuer in enumerate(issuers):
        if not isinstance(issuer, Mapping):
            continue
        where = f"issuers[{index}]"
        introspection = issuer.get("introspection")
        named = {
            field: issuer.get(field)
            for field in ("hmac_secret_parameter", "hmac_previous_secret_parameter")
        }
        if isinstance(introspection, Mapping):
            named["introspection.client_secret_parameter"] = introspection.get(
                "client_secret_parameter"
            )
        for field, secret in named.items():
            if isinstance(secret, str) and not secret.startswith(secrets):
                yield Problem(
                    display,
                    f"{where}.{field}",
                    f"must be under {secrets} (the only prefix the function may read)",
                )
        algorithms = issuer.get("algorithms")
        if (
            isinstance(algorithms, list)
            and any(a in HMAC_ALGORITHMS for a in algorithms)
            and (issuer.get("local_development") is True)
        ):
            yield Problem(display, f"{where}.local_development", "HS* issuers have no local mode")
        if issuer.get("local_development") is True:
            for key in ("issuer", "jwks_uri"):
                url = issuer.get(key)
                if isinstance(url, str) and url.startswith("http://") and not _is_loopback(url):
                    yield Problem(
                        display,
                        f"{where}.{key}",
                        "plain http:// is only for a development issuer on this machine "
                        "(127.0.0.1, ::1 or localhost)",
                    )
        if production and issuer.get("local_development") is True:
            yield Problem(
                display,
                f"{where}.local_development",
                "is not accepted with --production "
                "(Terraform: allow_local_development_issuers = false)",
            )


def _control_character_problems(data: Mapping[str, Any], display: str) -> Iterator[Problem]:
    # parse_tenant's patterns end in `$`, which Python lets match before a final newline:
    # "111122223333\n" (a YAML block scalar) would pass them and never match at run time.
    def walk(value: Any, path: str) -> Iterator[Problem]:
        if isinstance(value, str):
            if any(ord(c) < 32 or c == "\x7f" for c in value):
                yield Problem(display, path, "must not contain line breaks or control characters")
        elif isinstance(value, Mapping):
            for key, item in value.items():
                yield from walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk(item, f"{path}[{index}]")

    for key, value in data.items():
        if key != "description":
            yield from walk(value, str(key))


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _round_trip_problems(
    raw: Mapping[str, Any], config: TenantConfig, display: str
) -> Iterator[Problem]:
    # The runtime parses the embedded JSON without bindings: it must mean the same tenant.
    embedded = json.loads(embedded_tenant_json(raw))
    try:
        runtime = parse_tenant(embedded, display, require_bindings=False)
    except ConfigError as exc:
        yield Problem(
            display, exc.field, f"is not accepted by the runtime after deployment: {exc.reason}"
        )
        return
    if runtime != _without_bindings(config):
        yield Problem(
            display, "(document)", "changes meaning in the deployed JSON (report this as a bug)"
        )


def _without_bindings(config: TenantConfig) -> TenantConfig:
    return config._replace(bindings=())


# --------------------------------------------------------------------------- across files


def _unquoted_accounts(data: Any, display: str) -> list[Problem]:
    """An account id YAML read as a number: the one mistake onboarding.md warns about."""
    bindings = data.get("bindings") if isinstance(data, Mapping) else None
    out = []
    for index, binding in enumerate(bindings if isinstance(bindings, list) else []):
        account = binding.get("account_id") if isinstance(binding, Mapping) else None
        if isinstance(account, int | float) and not isinstance(account, bool):
            digits = f"{account:.0f}" if isinstance(account, float) else str(account)
            out.append(
                Problem(
                    display,
                    f"bindings[{index}].account_id",
                    f"is the number {digits}, not an account id: quote it "
                    f'(account_id: "{digits.zfill(12)}"); YAML reads unquoted digits as a number',
                )
            )
    return out
