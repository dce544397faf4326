"""Starting what ``tenant-authz local`` runs, stopping all of it, reloading tenant files."""

from __future__ import annotations

import errno
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from .banner import banner, examples_for
from .errors import LocalUsageError, PortInUse, SsmError, TenantsError
from .options import (
    DEFAULT_ISSUER_PORT,
    DEFAULT_TENANT,
    TOKEN_LIFETIME,
    Example,
    LocalOptions,
    api_for,
    local_issuer,
    local_settings,
)

if TYPE_CHECKING:
    from ...runtime.settings import Settings
    from ...runtime.telemetry import Telemetry
    from ..gateway import AccessRecord, Gateway, GatewayServer, Upstream
    from ..issuer import DevIssuer
    from ..tenant_files import LocalTenant, TenantFiles


@dataclass
class LocalStack:
    """Everything ``tenant-authz local`` started; :meth:`stop` stops it all."""

    gateway: Gateway
    server: GatewayServer
    issuer: DevIssuer | None
    tenant: LocalTenant
    banner: str
    examples: tuple[Example, ...]
    _stop_watch: threading.Event = field(default_factory=threading.Event)
    _watcher: threading.Thread | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the watcher, the gateway and the issuer; close the decision log."""
        self._stop_watch.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        self.server.stop()
        if self.issuer is not None:
            self.issuer.stop()
        for close in self._closers:
            close()


def _port_error(exc: OSError, what: str, host: str, port: int, fix: str) -> PortInUse:
    if exc.errno == errno.EADDRINUSE:
        return PortInUse(
            f"port {port} on {host} ({what}) is already in use: stop what holds it "
            f"(another tenant-authz local?) or {fix}"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return PortInUse(
            f"cannot listen on {host}:{port} ({what}): {host} is not an address of this "
            "machine: use --host 127.0.0.1"
        )
    return PortInUse(f"cannot listen on {host}:{port} ({what}): {exc.strerror or exc}: {fix}")


def _telemetry(
    options: LocalOptions, settings: Settings, closers: list[Callable[[], None]]
) -> Telemetry:
    from ...runtime.telemetry import Telemetry  # noqa: PLC0415

    writers: list[Callable[[str], object]] = []
    if options.verbose:
        writers.append(sys.stderr.write)
    if options.decision_log is not None:
        try:
            log = options.decision_log.open("a", encoding="utf-8", buffering=1)
        except OSError as exc:
            raise LocalUsageError(
                f"cannot open the decision log {options.decision_log}: {exc.strerror}: "
                "choose another --decision-log"
            ) from exc
        closers.append(log.close)
        writers.append(log.write)
    lock = threading.Lock()

    def write(line: str) -> None:
        with lock:
            for writer in writers:
                writer(line)

    return Telemetry(
        namespace=settings.metrics_namespace,
        function_name=settings.function_name,
        level=settings.log_level,
        write=write,
    )


def start_local(
    options: LocalOptions,
    *,
    settings: Settings | None = None,
    out: Callable[[str], None] | None = None,
) -> LocalStack:
    """Start the development issuer and the gateway; return them with the banner."""
    from ...runtime.authorizer import Authorizer  # noqa: PLC0415
    from ...runtime.sources import StaticSource  # noqa: PLC0415
    from ..gateway import EchoUpstream, Gateway, GatewayServer, ProxyUpstream  # noqa: PLC0415
    from ..issuer import SUPPORTED, DevIssuer  # noqa: PLC0415
    from ..tenant_files import SsmUnavailable, TenantFiles, TenantsInvalid, ssm_tenants  # noqa: PLC0415

    emit = out or echo
    settings = settings or local_settings()
    files: TenantFiles | None = None
    source: StaticSource | None = None
    if options.ssm:
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or "AWS"
        origin = f"SSM {settings.ssm_prefix} ({endpoint})"
        try:
            tenants = ssm_tenants(settings.ssm_prefix)
        except SsmUnavailable as exc:
            raise SsmError(str(exc)) from exc
        except TenantsInvalid as exc:
            raise TenantsError(
                f"{len(exc.problems)} account document(s) under {settings.ssm_prefix} do not "
                "parse: re-apply the tenant files with terraform",
                exc.problems,
            ) from exc
    else:
        origin = f"{options.tenants_dir}/"
        if not options.tenants_dir.is_dir():
            raise TenantsError(
                f"no tenant directory {options.tenants_dir}/: run from the repository root "
                "or pass --tenants-dir",
            )
        files = TenantFiles(options.tenants_dir, ssm_prefix=settings.ssm_prefix)
        try:
            loaded = files.load()
        except TenantsInvalid as exc:
            raise tenants_error(options.tenants_dir, exc.problems) from exc
        tenants = dict(loaded.tenants)
        source = loaded.source

    tenant = tenants.get(options.tenant)
    if tenant is None and options.ssm and options.tenant == DEFAULT_TENANT and len(tenants) == 1:
        (tenant,) = tenants.values()  # a deployment's only tenant, not the sample local-dev
    if tenant is None:
        known = ", ".join(sorted(tenants)) or "none"
        raise LocalUsageError(
            f"unknown tenant {options.tenant!r} in {origin}: choose one of {known} (--tenant)"
        )
    api = api_for(options, tenant)
    upstream: Upstream = EchoUpstream()
    if options.upstream:
        try:
            upstream = ProxyUpstream(options.upstream)
        except ValueError as exc:
            raise LocalUsageError(f"{exc}.") from exc

    issuer: DevIssuer | None = None
    closers: list[Callable[[], None]] = []
    if not options.no_issuer:
        local = local_issuer(tenant, options.issuer_port)
        port = (
            options.issuer_port
            or (urlsplit(local.issuer).port if local is not None else None)
            or DEFAULT_ISSUER_PORT
        )
        if port == options.port:
            raise LocalUsageError(
                f"the gateway and the development issuer cannot share port {port}: "
                "give --port and --issuer-port different values"
            )
        algorithms = [a for a in (local.algorithms if local else ()) if a in SUPPORTED]
        issuer = DevIssuer(
            host=(urlsplit(local.issuer).hostname if local else None) or "127.0.0.1",
            port=port,
            algorithms=algorithms or ("RS256", "ES256"),
            audience=local.audiences[0]
            if local and local.audiences
            else "https://api.example.test",
            path=urlsplit(local.issuer).path.rstrip("/") if local else "",
            token_lifetime=TOKEN_LIFETIME,
        )
        try:
            issuer.start()
        except OSError as exc:
            raise _port_error(
                exc,
                "development issuer",
                issuer.host,
                port,
                "pick another with --issuer-port (make run ISSUER_PORT=8091), or --no-issuer",
            ) from exc

    try:
        telemetry = _telemetry(options, settings, closers)
        authorizer = Authorizer.from_settings(settings, source=source, telemetry=telemetry)
        lock = threading.Lock()

        def access(record: AccessRecord) -> None:
            with lock:
                emit(record.line())

        gateway = Gateway(
            api, authorizer, upstream=upstream, on_access=access, tenant_label=tenant.tenant_id
        )
        server = GatewayServer(gateway, host=options.host, port=options.port)
        try:
            server.start()
        except OSError as exc:
            raise _port_error(
                exc,
                "gateway",
                options.host,
                options.port,
                "pick another with --port (make run PORT=8081)",
            ) from exc
        try:
            examples = tuple(
                examples_for(tenant, api, issuer, server.url, options.upstream, secrets=options.ssm)
            )
        except BaseException:
            server.stop()
            raise
    except BaseException:
        # Whatever failed, nothing started here outlives start_local.
        if issuer is not None:
            issuer.stop()
        for close in closers:
            close()
        raise

    text = banner(
        options,
        api,
        tenant=tenant,
        tenants=tenants,
        origin=origin,
        issuer=issuer,
        url=server.url,
        examples=examples,
    )
    stack = LocalStack(gateway, server, issuer, tenant, text, examples, _closers=closers)
    if files is not None and options.watch:
        stack._watcher = threading.Thread(
            target=_Reloader(
                files, gateway, settings, telemetry, emit, options.reload_interval
            ).run,
            args=(stack._stop_watch,),
            name="tenant-files-watcher",
            daemon=True,
        )
        stack._watcher.start()
    return stack


def tenants_error(directory: Path, problems: Sequence[str]) -> TenantsError:
    return TenantsError(
        f"{len(problems)} problem(s) in the tenant files of {directory}/: fix them "
        f"(.venv/bin/tenant-authz validate {directory}) and start again",
        problems,
    )


@dataclass(frozen=True, slots=True)
class _Reloader:
    """Reloads edited tenant files; keeps serving the last good ones while they are broken."""

    files: TenantFiles
    gateway: Gateway
    settings: Settings
    telemetry: Telemetry
    emit: Callable[[str], None]
    interval: float

    def run(self, stop: threading.Event) -> None:
        """Poll the directory until ``stop`` is set."""
        from ...runtime.authorizer import Authorizer  # noqa: PLC0415
        from ..tenant_files import TenantsInvalid  # noqa: PLC0415

        while not stop.wait(self.interval):
            if not self.files.changed():
                continue
            try:
                loaded = self.files.load()
            except TenantsInvalid as exc:
                for problem in exc.problems:
                    self.emit(problem)
                self.emit("tenant files changed but have problems: still serving the previous ones")
                continue
            self.gateway.replace_authorizer(
                Authorizer.from_settings(
                    self.settings, source=loaded.source, telemetry=self.telemetry
                )
            )
            self.emit(
                f"tenant files reloaded ({len(loaded.tenants)} tenants); authorizer cache flushed"
            )


def echo(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()
