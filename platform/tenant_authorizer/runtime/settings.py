"""Runtime settings of the function, read once from environment variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import NamedTuple

_PREFIX_RE = re.compile(r"^/[A-Za-z0-9_.\-/]*[A-Za-z0-9_.\-]$")


class Settings(NamedTuple):
    """Every knob of the runtime; defaults are the production defaults.

    A NamedTuple rather than a frozen dataclass: ~0.2 ms instead of ~0.8 ms at cold start.
    """

    ssm_prefix: str = "/tenant-authorizer"
    config_ttl: float = 60.0
    config_stale: float = 900.0
    jwks_max_age: float = 600.0
    jwks_stale: float = 3600.0
    kid_cooldown: float = 30.0
    config_budget: float = 2.0  # how long a cold SSM read may retry (throttling) per read
    network_budget: float = 3.0  # all network time of one decision (discovery + keys)
    fetch_timeout: float = 1.5  # any one fetch, at most
    metrics_namespace: str = "TenantAuthorizer"
    function_name: str = "tenant-authorizer"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``TENANT_AUTHZ_*``; raise ValueError naming the variable that is wrong."""
        env = os.environ if env is None else env

        def number(name: str, default: float, low: float, high: float) -> float:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = float(raw)
            except ValueError as exc:
                raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from exc
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low:g} and {high:g}, got {raw}")
            return value

        prefix = env.get("TENANT_AUTHZ_SSM_PREFIX", "/tenant-authorizer")
        if not _PREFIX_RE.match(prefix):
            raise ValueError(
                f"TENANT_AUTHZ_SSM_PREFIX must look like /tenant-authorizer, got {prefix!r}"
            )
        level = env.get("TENANT_AUTHZ_LOG_LEVEL", "INFO").upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(
                f"TENANT_AUTHZ_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}"
            )
        budget = number("TENANT_AUTHZ_NETWORK_BUDGET_SECONDS", 3, 0.1, 25)
        fetch = number("TENANT_AUTHZ_FETCH_TIMEOUT_SECONDS", 1.5, 0.1, 25)
        if fetch > budget:
            raise ValueError(
                "TENANT_AUTHZ_FETCH_TIMEOUT_SECONDS must not exceed "
                f"TENANT_AUTHZ_NETWORK_BUDGET_SECONDS ({fetch:g} > {budget:g})"
            )
        return cls(
            ssm_prefix=prefix,
            config_ttl=number("TENANT_AUTHZ_CONFIG_TTL_SECONDS", 60, 0, 3600),
            config_stale=number("TENANT_AUTHZ_CONFIG_STALE_SECONDS", 900, 0, 86_400),
            config_budget=number("TENANT_AUTHZ_CONFIG_BUDGET_SECONDS", 2, 0, 25),
            jwks_max_age=number("TENANT_AUTHZ_JWKS_MAX_AGE_SECONDS", 600, 1, 86_400),
            jwks_stale=number("TENANT_AUTHZ_JWKS_STALE_SECONDS", 3600, 0, 86_400),
            kid_cooldown=number("TENANT_AUTHZ_KID_COOLDOWN_SECONDS", 30, 0, 3600),
            network_budget=budget,
            fetch_timeout=fetch,
            metrics_namespace=env.get("TENANT_AUTHZ_METRICS_NAMESPACE", "TenantAuthorizer"),
            function_name=env.get("AWS_LAMBDA_FUNCTION_NAME", "tenant-authorizer"),
            log_level=level,
        )
