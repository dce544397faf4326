"""What ``tenant-authz local`` was asked to run, and the API it emulates for the tenant."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from .errors import LocalUsageError

if TYPE_CHECKING:
    from ...runtime.settings import Settings
    from ...runtime.tenant import IssuerConfig
    from ..gateway import ApiKind, ApiSpec
    from ..tenant_files import LocalTenant

DEFAULT_TENANTS_DIR: Final = Path("tenant_configs")
DEFAULT_TENANT: Final = "local-dev"
DEFAULT_ISSUER_PORT: Final = 8090
DEFAULT_ISSUER_URL: Final = f"http://127.0.0.1:{DEFAULT_ISSUER_PORT}"
DEV_CLIENT_SECRET: Final = "dev-secret"  # the development issuer's documented default
# One second instead of production's 30: a rotated key is picked up by the next token
# that names it, while a flood of unknown kids still cannot hammer the issuer.
LOCAL_KID_COOLDOWN: Final = 1.0
TOKEN_LIFETIME: Final = 3600


@dataclass(frozen=True, slots=True)
class LocalOptions:
    """What ``tenant-authz local`` was asked to run."""

    host: str = "127.0.0.1"
    port: int = 8080
    tenants_dir: Path = DEFAULT_TENANTS_DIR
    tenant: str = DEFAULT_TENANT
    api_kind: ApiKind | None = None  # None: http-v2 for a "simple" binding, else rest-token
    ttl: float = 300
    identity_sources: tuple[str, ...] = ()  # empty: where the tenant's clients put the token
    identity_validation: str | None = None
    upstream: str | None = None
    ssm: bool = False
    issuer_port: int | None = None  # None: the port of the tenant's local issuer, else 8090
    no_issuer: bool = False
    verbose: bool = False
    decision_log: Path | None = None
    watch: bool = True  # reload edited tenant files (file mode)
    reload_interval: float = 1.0  # seconds between two looks at the tenant directory


@dataclass(frozen=True, slots=True)
class Example:
    """One banner ``curl`` line and what it does."""

    curl: str
    status: int
    says: str


def local_settings(env: dict[str, str] | None = None) -> Settings:
    """Runtime settings from the environment, with the local kid cooldown unless set."""
    from ...runtime.settings import Settings  # noqa: PLC0415  (runtime import, see module docstring)

    environ = dict(os.environ if env is None else env)
    try:
        settings = Settings.from_env(environ)
    except ValueError as exc:
        raise LocalUsageError(f"{exc}: fix or unset it") from exc
    if not environ.get("TENANT_AUTHZ_KID_COOLDOWN_SECONDS"):
        settings = settings._replace(kid_cooldown=LOCAL_KID_COOLDOWN)
    return settings


def local_issuer(tenant: LocalTenant, port: int | None) -> IssuerConfig | None:
    """The tenant's first loopback ``local_development`` issuer (on ``port`` if given)."""
    for issuer in tenant.config.issuers:
        if not issuer.local_development or issuer.is_hmac:
            continue
        parts = urlsplit(issuer.issuer)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            continue
        if port is None or parts.port == port:
            return issuer
    return None


def title(header: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in header.split("-"))


def identity_sources(options: LocalOptions, tenant: LocalTenant, kind: ApiKind) -> list[str]:
    if options.identity_sources:
        return [s.strip() for item in options.identity_sources for s in item.split(",") if s]
    source = tenant.config.token
    prefix = "method.request" if kind.startswith("rest") else "$request"
    if source.kind == "header":
        return [f"{prefix}.header.{title(source.name)}"]
    if kind == "rest-token":
        raise LocalUsageError(
            f"tenant {tenant.tenant_id} reads its token from the {source.kind} {source.name!r}, "
            "which a REST TOKEN authorizer cannot read: use --api-kind rest-request, "
            "http-v1 or http-v2",
        )
    if source.kind == "query":
        return [f"{prefix}.querystring.{source.name}"]
    return [f"{prefix}.header.Cookie"]


def api_for(options: LocalOptions, tenant: LocalTenant) -> ApiSpec:
    """The emulated API: the tenant's first binding, with the options' authorizer settings."""
    from ..gateway import PLACEHOLDER_API_ID, PLACEHOLDER_STAGE, ApiSpec, IdentitySource  # noqa: PLC0415

    if not tenant.bindings:
        raise LocalUsageError(f"tenant {tenant.tenant_id} has no binding: add one (bindings:)")
    binding = tenant.bindings[0]
    kind: ApiKind = options.api_kind or (
        "http-v2" if binding.response == "simple" else "rest-token"
    )
    try:
        sources = tuple(IdentitySource.parse(s) for s in identity_sources(options, tenant, kind))
        return ApiSpec(
            kind=kind,
            account_id=binding.account_id,
            api_id=binding.api_ids[0] if binding.api_ids else PLACEHOLDER_API_ID,
            stage=binding.stages[0] if binding.stages else PLACEHOLDER_STAGE,
            identity_sources=sources,
            ttl=options.ttl,
            simple_responses=kind == "http-v2" and binding.response == "simple",
            identity_validation=options.identity_validation,
        )
    except ValueError as exc:
        raise LocalUsageError(f"{exc}.") from exc
