"""Where the local gateway gets its tenants: tenant files, or the documents already in SSM.

:class:`TenantFiles` reads a directory of tenant files (``tenant_configs/`` by default)
with exactly the validation of ``tenant-authz validate`` (:func:`validation.validate`),
and serves the per-account documents that validation rendered (with
:func:`documents.render_account_documents`, byte for byte what Terraform writes) from a
:class:`~tenant_authorizer.runtime.registry.StaticSource`: the runtime then reads what it would
read from SSM after ``terraform apply``. It notices edits to the directory, so
that the gateway can reload. :func:`ssm_tenants` reads the account documents back from
SSM (``--ssm``) into the same view, which also probes that SSM answers at start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runtime.account import parse_account_document
from ..runtime.errors import ConfigError
from ..runtime.sources import StaticSource
from ..runtime.tenant import Binding, TenantConfig

_Signature = tuple[tuple[str, int, int], ...]


class TenantsInvalid(Exception):
    """Raised when tenant files (or SSM documents) have problems, each ``file: field: reason``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = tuple(problems)


class SsmUnavailable(Exception):
    """Raised when SSM cannot be read at start; the message is one sentence with the fix."""


@dataclass(frozen=True, slots=True)
class LocalTenant:
    """One tenant and every binding that names it."""

    config: TenantConfig
    bindings: tuple[Binding, ...]

    @property
    def tenant_id(self) -> str:
        """The tenant's id."""
        return self.config.tenant_id


@dataclass(frozen=True, slots=True)
class TenantSet:
    """A consistent, validated set of tenants and the config source that serves them."""

    source: StaticSource
    tenants: Mapping[str, LocalTenant]
    origin: str  # for people: "tenant_configs/" or "SSM /tenant-authorizer"


class TenantFiles:
    """A directory of tenant files, validated as a whole, reloadable when it changes."""

    def __init__(self, directory: Path, *, ssm_prefix: str = "/tenant-authorizer") -> None:
        self.directory = directory
        self.ssm_prefix = ssm_prefix
        self._signature: _Signature | None = None

    def _current_signature(self) -> _Signature:
        try:
            entries = sorted(p for p in self.directory.iterdir() if p.is_file())
        except OSError:
            return ()
        out = []
        for path in entries:
            try:
                stat = path.stat()
            except OSError:  # deleted between listing and stat: the next poll sees it
                continue
            out.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(out)

    def load(self) -> TenantSet:
        """Validate every file and render the account documents; :class:`TenantsInvalid` if not."""
        from ..tools.validation import validate  # noqa: PLC0415  (PyYAML/jsonschema: tools deps)

        self._signature = self._current_signature()
        # Aliases matter to calls through an alias; the local gateway calls unqualified.
        report = validate([self.directory], ssm_prefix=self.ssm_prefix, check_aliases=False)
        if not report.ok:
            raise TenantsInvalid([str(problem) for problem in report.problems])
        valid = [f for f in report.files if f.config is not None]
        if not valid:
            raise TenantsInvalid([f"{self.directory}: (directory): holds no *.yaml tenant file"])
        tenants = {
            f.config.tenant_id: LocalTenant(f.config, f.config.bindings)
            for f in valid
            if f.config is not None
        }
        # The documents validation rendered and checked with the runtime's own parser.
        source = StaticSource(dict(report.documents))
        return TenantSet(source, tenants, f"{self.directory}/")

    def changed(self) -> bool:
        """Whether a file of the directory was added, removed or modified since the last load."""
        return self._current_signature() != self._signature


def ssm_tenants(prefix: str, *, client: Any = None) -> dict[str, LocalTenant]:
    """Every tenant of every account document under ``{prefix}/accounts/`` in SSM.

    Honours ``AWS_ENDPOINT_URL`` (boto3 does), so a moto server works. Raises
    :class:`SsmUnavailable` when SSM cannot be read and :class:`TenantsInvalid` when a
    document does not parse as the runtime would parse it.
    """
    import boto3  # noqa: PLC0415  (only --ssm needs boto3)
    from botocore.config import Config  # noqa: PLC0415
    from botocore.exceptions import (  # noqa: PLC0415
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        NoRegionError,
    )

    prefix = prefix.rstrip("/")
    try:
        ssm = client or boto3.client(
            "ssm",
            # Some boto3 versions read only AWS_DEFAULT_REGION; Lambda and most shells set
            # AWS_REGION too, so honour it explicitly.
            region_name=os.environ.get("AWS_REGION") or None,
            config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}),
        )
        pages = ssm.get_paginator("get_parameters_by_path").paginate(
            Path=f"{prefix}/accounts", Recursive=False
        )
        parameters = [p for page in pages for p in page.get("Parameters", [])]
    except NoRegionError as exc:
        raise SsmUnavailable(
            "no AWS region is set: export AWS_REGION=us-east-1 (or AWS_DEFAULT_REGION)"
        ) from exc
    except NoCredentialsError as exc:
        raise SsmUnavailable(
            "no AWS credentials: configure a profile, or for moto export "
            "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
        ) from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise SsmUnavailable(
            f"SSM refused to list {prefix}/accounts ({code}): check the credentials and "
            "TENANT_AUTHZ_SSM_PREFIX"
        ) from exc
    except BotoCoreError as exc:
        raise SsmUnavailable(
            f"SSM is unreachable ({type(exc).__name__}): start the moto server that "
            "AWS_ENDPOINT_URL names, or unset it to use AWS"
        ) from exc

    documents = []
    problems: list[str] = []
    for parameter in parameters:
        name = str(parameter["Name"])
        account = name.rsplit("/", 1)[-1]
        try:
            documents.append(parse_account_document(str(parameter["Value"]), name, account))
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise TenantsInvalid(problems)
    configs: dict[str, TenantConfig] = {}
    bindings: dict[str, list[Binding]] = {}
    for document in documents:
        for tenant_id, runtime in document.tenants.items():
            configs.setdefault(tenant_id, runtime.config)
        for binding in document.bindings:
            bindings.setdefault(binding.tenant_id, []).append(binding)
    return {
        tenant_id: LocalTenant(config, tuple(bindings.get(tenant_id, ())))
        for tenant_id, config in sorted(configs.items())
    }
