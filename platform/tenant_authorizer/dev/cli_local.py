"""``tenant-authz local``: the product on one laptop (``make run``), and its helpers.

``tenant-authz local`` starts the development issuer (:class:`DevIssuer`) and the local
API Gateway (:mod:`tenant_authorizer.dev.gateway`) emulating the chosen tenant's API, with
the real authorizer in-process over ``tenant_configs/`` (or SSM with ``--ssm``), prints
a banner with two ``curl`` lines that behave as it says, then one access line per
request until Ctrl-C. ``local token`` prints a token from the running development
issuer; ``local rotate`` rotates its keys.

Runtime modules are imported inside the commands, not at import time: ``tenant-authz
validate`` and ``package`` do not pay for the authorizer's imports.
"""

from __future__ import annotations

import errno
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final
from urllib.parse import quote, quote_plus, urlsplit

import click

if TYPE_CHECKING:
    from ..runtime.settings import Settings
    from ..runtime.telemetry import Telemetry
    from ..runtime.tenant import IssuerConfig, RouteRule
    from .devissuer import DevIssuer
    from .filesource import LocalTenant, TenantFiles
    from .gateway import AccessRecord, ApiKind, ApiSpec, Gateway, GatewayServer, Upstream

DEFAULT_TENANTS_DIR: Final = Path("tenant_configs")
DEFAULT_TENANT: Final = "local-dev"
DEFAULT_ISSUER_PORT: Final = 8090
DEFAULT_ISSUER_URL: Final = f"http://127.0.0.1:{DEFAULT_ISSUER_PORT}"
DEV_CLIENT_SECRET: Final = "dev-secret"  # the development issuer's documented default
# One second instead of production's 30: a rotated key is picked up by the next token
# that names it, while a flood of unknown kids still cannot hammer the issuer.
LOCAL_KID_COOLDOWN: Final = 1.0
TOKEN_LIFETIME: Final = 3600


_KIND_LABELS: Final = {
    "rest-token": "REST API, TOKEN authorizer",
    "rest-request": "REST API, REQUEST authorizer",
    "http-v1": "HTTP API, Lambda authorizer payload 1.0",
    "http-v2": "HTTP API, Lambda authorizer payload 2.0",
}


class LocalError(click.ClickException):
    """A problem the user can fix: one sentence with the fix, no traceback (exit 1).

    Each subclass owns an exit code, so that scripts can tell the problems apart.
    """

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)

    def show(self, file: IO[Any] | None = None) -> None:
        """Every detail line (e.g. ``file: field: reason``), then the sentence."""
        stream = file if file is not None else sys.stderr
        for line in self.details:
            click.echo(line, file=stream)
        click.echo(f"Error: {self.format_message()}", file=stream)


class LocalUsageError(LocalError):
    """An option names something that does not exist or cannot work together (exit 2)."""

    exit_code = 2


class TenantsError(LocalError):
    """The tenant files (or SSM documents) have problems, listed one per line (exit 3)."""

    exit_code = 3


class PortInUse(LocalError):
    """The gateway's or the issuer's port cannot be listened on (exit 4)."""

    exit_code = 4


class SsmError(LocalError):
    """``--ssm`` and SSM cannot be read (exit 5)."""

    exit_code = 5


class IssuerUnreachable(LocalError):
    """``local token``/``rotate`` found no development issuer answering (exit 6)."""

    exit_code = 6


# --------------------------------------------------------------------------- options


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


# --------------------------------------------------------------------------- start-up


def local_settings(env: dict[str, str] | None = None) -> Settings:
    """Runtime settings from the environment, with the local kid cooldown unless set."""
    from ..runtime.settings import Settings  # noqa: PLC0415  (runtime import, see module docstring)

    environ = dict(os.environ if env is None else env)
    try:
        settings = Settings.from_env(environ)
    except ValueError as exc:
        raise LocalUsageError(f"{exc}: fix or unset it") from exc
    if not environ.get("TENANT_AUTHZ_KID_COOLDOWN_SECONDS"):
        settings = settings._replace(kid_cooldown=LOCAL_KID_COOLDOWN)
    return settings


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


def _local_issuer(tenant: LocalTenant, port: int | None) -> IssuerConfig | None:
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


def _title(header: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in header.split("-"))


def _identity_sources(options: LocalOptions, tenant: LocalTenant, kind: ApiKind) -> list[str]:
    if options.identity_sources:
        return [s.strip() for item in options.identity_sources for s in item.split(",") if s]
    source = tenant.config.token
    prefix = "method.request" if kind.startswith("rest") else "$request"
    if source.kind == "header":
        return [f"{prefix}.header.{_title(source.name)}"]
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
    from .gateway import PLACEHOLDER_API_ID, PLACEHOLDER_STAGE, ApiSpec, IdentitySource  # noqa: PLC0415

    if not tenant.bindings:
        raise LocalUsageError(f"tenant {tenant.tenant_id} has no binding: add one (bindings:)")
    binding = tenant.bindings[0]
    kind: ApiKind = options.api_kind or (
        "http-v2" if binding.response == "simple" else "rest-token"
    )
    try:
        sources = tuple(IdentitySource.parse(s) for s in _identity_sources(options, tenant, kind))
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


def _telemetry(
    options: LocalOptions, settings: Settings, closers: list[Callable[[], None]]
) -> Telemetry:
    from ..runtime.telemetry import Telemetry  # noqa: PLC0415

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
    from ..runtime.authorizer import Authorizer  # noqa: PLC0415
    from ..runtime.sources import StaticSource  # noqa: PLC0415
    from .devissuer import SUPPORTED, DevIssuer  # noqa: PLC0415
    from .filesource import SsmUnavailable, TenantFiles, TenantsInvalid, ssm_tenants  # noqa: PLC0415
    from .gateway import EchoUpstream, Gateway, GatewayServer, ProxyUpstream  # noqa: PLC0415

    emit = out or _echo
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
            raise _tenants_error(options.tenants_dir, exc.problems) from exc
        tenants = dict(loaded.tenants)
        source = loaded.source

    tenant = tenants.get(options.tenant)
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
        local = _local_issuer(tenant, options.issuer_port)
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
                exc, "development issuer", issuer.host, port, "pass --issuer-port or --no-issuer"
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
            examples = tuple(_examples(tenant, api, issuer, server.url, options.upstream))
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

    banner = _banner(
        options,
        api,
        tenant=tenant,
        tenants=tenants,
        origin=origin,
        issuer=issuer,
        url=server.url,
        examples=examples,
    )
    stack = LocalStack(gateway, server, issuer, tenant, banner, examples, _closers=closers)
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


def _tenants_error(directory: Path, problems: Sequence[str]) -> TenantsError:
    return TenantsError(
        f"{len(problems)} problem(s) in the tenant files of {directory}/: fix them "
        f"(tenant-authz validate {directory}) and start again",
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
        from ..runtime.authorizer import Authorizer  # noqa: PLC0415
        from .filesource import TenantsInvalid  # noqa: PLC0415

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


def _echo(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


# --------------------------------------------------------------------------- banner


def _concrete(rule_path: str) -> str:
    """A request path a route rule covers: ``/admin/*`` -> ``/admin/x``."""
    if rule_path == "*":
        return "/x"
    path = []
    for segment in rule_path.split("/"):
        parameter = segment.startswith("{") and segment.endswith("}")
        path.append("1" if parameter else segment.replace("*", "x"))
    return "/".join(path)


def _rule_text(rule: RouteRule) -> str:
    needs = []
    if rule.scopes_any:
        needs.append(
            ("scope " if len(rule.scopes_any) == 1 else "one of the scopes ")
            + " ".join(rule.scopes_any)
        )
    if rule.scopes_all:
        needs.append("the scopes " + " ".join(rule.scopes_all))
    if rule.claims:
        names = sorted(rule.claims)
        needs.append(("the claim " if len(names) == 1 else "the claims ") + ", ".join(names))
    return f"{rule.path} needs " + " and ".join(needs)


def _examples(
    tenant: LocalTenant,
    api: ApiSpec,
    issuer: DevIssuer | None,
    base_url: str,
    upstream_url: str | None = None,
) -> list[Example]:
    """Two curl lines that behave as they say: one passes, one is refused."""
    from ..runtime.caller import parse_arn  # noqa: PLC0415
    from ..runtime.rules import compile_rules, decide, grant_for  # noqa: PLC0415

    config = tenant.config
    trusted = config.issuer_for(issuer.issuer) if issuer is not None else None
    rules = compile_rules(config)

    def method_of(rule: RouteRule) -> str:
        return next((m for m in rule.methods if m not in ("*", "$connect")), "GET")

    candidates = [("GET", "/orders")] + [
        (method_of(r.rule), _concrete(r.rule.path)) for r in rules.rules
    ]

    def passing(scopes: frozenset[str], claims: dict[str, Any]) -> tuple[str, str] | None:
        grant = grant_for(rules, scopes, claims)
        for method, path in candidates:
            if decide(rules, grant, parse_arn(api.method_arn(method, path))).allowed:
                return method, path
        return None

    scopes: frozenset[str] = frozenset()
    claims: dict[str, Any] = {}
    route = passing(scopes, claims)
    if route is None:  # every route needs something: mint a token that has it all
        scopes = frozenset(s for r in config.rules for s in (*r.scopes_any, *r.scopes_all))
        claims = {name: values[0] for r in config.rules for name, values in r.claims.items()}
        route = passing(scopes, claims)

    token = "$TOKEN"
    if issuer is not None and trusted is not None:
        claims.update({name: values[0] for name, values in trusted.required_claims.items()})
        alg = next((a for a in trusted.algorithms if a in issuer.algorithms), issuer.algorithms[0])
        token = issuer.mint(
            {"sub": "local-developer", "client_id": "local-dev-client", **claims},
            alg=alg,
            scope=" ".join(sorted(scopes)) or None,
            audience=trusted.audiences[0] if trusted.audiences else None,
            headers={"typ": trusted.token_type} if trusted.token_type else None,
            expires_in=TOKEN_LIFETIME,
        )
    examples = []
    if route is not None:
        says = (
            "passes: 200 and the echo of what the authorizer passed on"
            if upstream_url is None
            else f"passes the authorizer: {upstream_url} answers it"
        )
        if token == "$TOKEN":
            says = "passes: 200, given a token of the tenant's IdP in $TOKEN"
        examples.append(
            Example(
                _curl(api, tenant, base_url=base_url, method=route[0], path=route[1], token=token),
                200,
                says,
            )
        )
        grant = grant_for(rules, scopes, claims)
        # A 403 is promised only for a token minted here: a $TOKEN may carry any scope.
        for compiled in rules.rules if token != "$TOKEN" else ():
            method, path = method_of(compiled.rule), _concrete(compiled.rule.path)
            if not decide(rules, grant, parse_arn(api.method_arn(method, path))).allowed:
                how = "same token, its cached policy" if api.ttl > 0 else "same token"
                says = f"refused: 403, {_rule_text(compiled.rule)} ({how})"
                examples.append(
                    Example(
                        _curl(
                            api, tenant, base_url=base_url, method=method, path=path, token=token
                        ),
                        403,
                        says,
                    )
                )
                break
    if len(examples) < 2:
        examples.append(
            Example(
                _curl(api, tenant, base_url=base_url, method="GET", path="/orders", token=None),
                401,
                "refused: 401, no token",
            )
        )
    return examples


def _curl(
    api: ApiSpec, tenant: LocalTenant, *, base_url: str, method: str, path: str, token: str | None
) -> str:
    source = tenant.config.token
    headers: list[str] = []
    query: list[str] = []
    placed: tuple[str, str] | None = None  # (location, lower-case name) holding the token
    if token is not None:
        value = f"{_title(source.scheme)} {token}" if source.scheme else token
        if api.kind == "rest-token":
            name = api.identity_sources[0].name
            headers.append(f"{name}: {value}")
            placed = ("header", name.lower())
        elif source.kind == "header":
            headers.append(f"{_title(source.name)}: {value}")
            placed = ("header", source.name.lower())
        elif source.kind == "query":
            query.append(f"{quote(source.name)}={token}")
            placed = ("querystring", source.name.lower())
        else:
            headers.append(f"Cookie: {source.name}={token}")
            placed = ("header", "cookie")
    if token is not None:
        # Identity sources the token does not fill still have to be present.
        for identity in api.identity_sources:
            if (identity.location, identity.name.lower()) == placed:
                continue
            if identity.location == "header":
                headers.append(f"{identity.name}: local")
            else:
                query.append(f"{quote(identity.name)}=local")
    url = base_url + path + ("?" + "&".join(query) if query else "")
    parts = ["curl", "-i"]
    if method != "GET":
        parts += ["-X", method]
    for header in headers:
        parts += ["-H", header]
    parts.append(url)
    # Double quotes where $TOKEN must expand; the other parts are plain shell words.
    return " ".join(f'"{p}"' if "$TOKEN" in p else shlex.quote(p) for p in parts)


def _token_hint(
    options: LocalOptions,
    tenant: LocalTenant,
    issuer: DevIssuer | None,
    examples: Sequence[Example],
) -> str:
    """How long the printed token lasts and the command for another one."""
    if issuer is None or tenant.config.issuer_for(issuer.issuer) is None:
        return ""
    if options.ssm:
        where = f"--issuer-url {issuer.issuer}"
    else:
        where = f"--tenant {tenant.tenant_id}"
        if options.tenants_dir != DEFAULT_TENANTS_DIR:
            where += f" --tenants-dir {shlex.quote(str(options.tenants_dir))}"
    minted = any("$TOKEN" not in e.curl and e.status != 401 for e in examples)
    lifetime = f"token valid {TOKEN_LIFETIME // 60} min; " if minted else ""
    return f" ({lifetime}another: tenant-authz local token {where} --scope S)"


def _banner(
    options: LocalOptions,
    api: ApiSpec,
    *,
    tenant: LocalTenant,
    tenants: dict[str, LocalTenant],
    origin: str,
    issuer: DevIssuer | None,
    url: str,
    examples: Sequence[Example],
) -> str:
    binding = tenant.bindings[0]
    scope = "account-wide" if binding.api_ids is None else f"API {', '.join(binding.api_ids)}"
    responses = ""
    if api.kind == "http-v2":
        responses = ", simple responses" if api.simple_responses else ", IAM policies"
    cache = (
        f"results cached {api.ttl:g} s per "
        + ", ".join(s.expression(api.kind) for s in api.identity_sources)
        if api.ttl > 0
        else "result cache off (--ttl 0)"
    )
    if issuer is None:
        issuer_line = "none (--no-issuer)"
    else:
        issuer_line = (
            f"{issuer.issuer} (development issuer: discovery, /jwks.json, /token, /rotate)"
        )
        if tenant.config.issuer_for(issuer.issuer) is None:
            issuer_line += f"; tenant {tenant.tenant_id} does not trust it"
    decisions = (
        "printed (--verbose)"
        if options.verbose
        else f"in {options.decision_log}"
        if options.decision_log
        else "not shown (--verbose prints them, --decision-log FILE keeps them)"
    )
    lines = [
        f"tenant-authz local: API Gateway on {url} (Ctrl-C stops)",
        f"  API         {_KIND_LABELS[api.kind]}{responses}: account {api.account_id}, "
        f"api {api.api_id}, stage {api.stage}, {api.region}",
        f"  tenant      {tenant.tenant_id} (binding: {scope})",
        f"  tenants     {len(tenants)} from {origin}: {', '.join(sorted(tenants))}",
        f"  authorizer  in-process; {cache}",
        f"  issuer      {issuer_line}",
        f"  upstream    {options.upstream or 'built-in echo'}",
        f"  decisions   the authorizer's JSON lines are {decisions}",
        "",
        f"Try it{_token_hint(options, tenant, issuer, examples)}:",
    ]
    for example in examples:
        lines += [f"  # {example.says}", f"  {example.curl}"]
    lines += ["", "Access log: time method path -> status outcome reason tenant cache latency"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- commands


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
        _echo(stack.banner)
        while not stop.wait(0.5):
            pass
        stack.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _echo("tenant-authz local: stopped.")


def _issuer_of(tenant: str | None, tenants_dir: Path) -> tuple[str, str | None]:
    """(issuer URL, default audience) of ``tenant``'s local development issuer."""
    if tenant is None:
        return DEFAULT_ISSUER_URL, None
    from ..tools.tenant_file import check_file  # noqa: PLC0415
    from .filesource import LocalTenant  # noqa: PLC0415

    path = tenants_dir / f"{tenant}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in tenants_dir.glob("*.yaml"))) or "none"
        raise LocalUsageError(f"unknown tenant {tenant!r} in {tenants_dir}/: choose one of {known}")
    checked, problems = check_file(path)
    if problems or checked.config is None:
        raise _tenants_error(tenants_dir, [str(p) for p in problems])
    issuer = _local_issuer(LocalTenant(checked.config, checked.config.bindings), None)
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
