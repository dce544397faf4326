"""The tenant registry: which tenant a calling API belongs to, and that tenant's config.

Reads one SSM document per tenant account (``{prefix}/accounts/{account}``, see
``docs/decisions/0001-ssm-parameter-layout.md``), lazily, the first time that account
calls. Documents are cached in memory with a TTL on the monotonic clock, bounded in
number, and served stale for a bounded window when SSM fails; unbound accounts are
cached too, so a misconfigured caller cannot turn into an SSM request per invocation.
HS* shared secrets (SecureString) are cached the same way.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol

from cachetools import LRUCache

from .decision import RuleSet, compile_rules
from .errors import AliasMismatch, ConfigError, PlatformFault, Reason, TenantNotBound
from .events import Caller

if TYPE_CHECKING:
    from .tenant import Binding, TenantConfig

# A Lambda alias name: letters, digits, "-" and "_", not all digits (that is a version).
_ALIAS_RE: Final = re.compile(r"^(?![0-9]+$)[A-Za-z0-9_-]{1,128}$")


class SourceUnavailable(Exception):
    """Raised by a config source when the backing store cannot be read (network, throttling)."""


class ConfigSource(Protocol):
    """Where account documents and secrets come from (SSM in Lambda, files locally)."""

    def load_account(self, account_id: str) -> str | None:
        """The raw account document, or None when the account has none."""
        ...

    def load_secret(self, name: str) -> bytes | None:
        """A decrypted secret, or None when it does not exist."""
        ...


# NamedTuples and plain classes with __slots__ rather than dataclasses: a dataclass costs
# ~0.8 ms at cold start, a NamedTuple ~0.2 ms.
class TenantRuntime(NamedTuple):
    """A parsed tenant and what the warm path precomputes from it (compiled route rules)."""

    config: TenantConfig
    rules: RuleSet


class AccountDocument(NamedTuple):
    """All bindings of one account, the tenants they name, and the alias that serves it."""

    account_id: str
    alias: str  # the function alias whose policy grants this account (Terraform writes it)
    bindings: tuple[Binding, ...]
    tenants: Mapping[str, TenantRuntime]

    def resolve(self, api_id: str, stage: str) -> tuple[Binding, TenantRuntime] | None:
        """The binding for ``api_id``/``stage``, or None when no binding covers it.

        An API that any binding names (``api_ids``) is decided by those bindings alone:
        a stage they do not list is unbound, never handed to an account-wide binding,
        which could belong to another tenant (``docs/security.md``). Only APIs no binding
        names fall back to the account-wide binding whose stages match.
        """
        pinned = False
        fallback: Binding | None = None
        for binding in self.bindings:
            stage_ok = binding.stages is None or stage in binding.stages
            if binding.api_ids is None:
                if stage_ok and fallback is None:
                    fallback = binding
            elif api_id in binding.api_ids:
                if stage_ok:
                    return binding, self.tenants[binding.tenant_id]
                pinned = True
        if fallback is not None and not pinned:
            return fallback, self.tenants[fallback.tenant_id]
        return None

    def unbound_detail(self, api_id: str, stage: str) -> str:
        """Why ``api_id``/``stage`` of this account has no binding, for the decision line."""
        stages = sorted(
            {s for b in self.bindings if b.api_ids and api_id in b.api_ids for s in b.stages or ()}
        )
        where = f"{self.account_id}/{api_id}/{stage}"
        if stages:
            return f"no tenant bound to {where}: the API is bound for stages {', '.join(stages)}"
        return f"no tenant bound to {where}"


def parse_account_document(raw: str, source: str, account_id: str) -> AccountDocument:
    """Parse an account document; raise :class:`ConfigError` naming the field and reason."""
    # The parser is needed on the first read of an account only: not at every cold start.
    from .tenant_parser import parse_tenant  # noqa: PLC0415

    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(source, "(document)", f"not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(source, "(document)", "must be a JSON object")
    if data.get("version") != 1:
        raise ConfigError(source, "version", "must be 1")
    if data.get("account_id") != account_id:
        raise ConfigError(source, "account_id", f"must be {account_id}")
    alias = data.get("alias")
    if not isinstance(alias, str) or not _ALIAS_RE.fullmatch(alias):
        raise ConfigError(source, "alias", "must name the function alias that serves the account")
    tenants_raw = data.get("tenants")
    if not isinstance(tenants_raw, Mapping) or not tenants_raw:
        raise ConfigError(source, "tenants", "must be a non-empty object")
    tenants: dict[str, TenantRuntime] = {}
    for tenant_id, doc in tenants_raw.items():
        config = parse_tenant(doc, f"{source}#tenants.{tenant_id}", require_bindings=False)
        if config.tenant_id != tenant_id:
            raise ConfigError(source, f"tenants.{tenant_id}.tenant_id", "must equal its key")
        tenants[tenant_id] = TenantRuntime(config, compile_rules(config))
    bindings_raw = data.get("bindings")
    if not isinstance(bindings_raw, list) or not bindings_raw:
        raise ConfigError(source, "bindings", "must be a non-empty list")
    bindings = tuple(
        _parse_binding(item, source, f"bindings[{i}]", account_id, tenants)
        for i, item in enumerate(bindings_raw)
    )
    return AccountDocument(account_id, alias, bindings, tenants)


def _parse_binding(
    item: object, source: str, where: str, account_id: str, tenants: Mapping[str, Any]
) -> Binding:
    if not isinstance(item, Mapping):
        raise ConfigError(source, where, "must be an object")
    tenant_id = item.get("tenant_id")
    if not isinstance(tenant_id, str) or tenant_id not in tenants:
        raise ConfigError(source, f"{where}.tenant_id", f"{tenant_id!r} is not in tenants")
    doc = {k: v for k, v in item.items() if k != "tenant_id"}
    doc["account_id"] = account_id
    from .tenant_parser import parse_binding  # noqa: PLC0415  (lazy, see parse_account_document)

    return parse_binding(doc, source, where, tenant_id)


class _Entry:
    __slots__ = ("fresh_until", "stale", "stale_until", "value")

    def __init__(
        self, value: Any, fresh_until: float, stale_until: float, stale: bool = False
    ) -> None:
        self.value = value
        self.fresh_until = fresh_until
        self.stale_until = stale_until
        self.stale = stale  # served past its TTL because the last refresh failed


class RegistryStats:
    """Counters for telemetry and benchmarks."""

    __slots__ = ("failures", "fetches", "stale_serves")

    def __init__(self, fetches: int = 0, failures: int = 0, stale_serves: int = 0) -> None:
        self.fetches = fetches
        self.failures = failures
        self.stale_serves = stale_serves

    @property
    def events(self) -> int:
        """Changes whenever any counter does: a cheap "did anything happen" check."""
        return self.fetches + self.failures + self.stale_serves


class Resolution(NamedTuple):
    """The outcome of a registry lookup for one caller."""

    binding: Binding
    tenant: TenantRuntime
    stale: bool
    alias: str  # the alias that serves the caller's account


class TenantRegistry:
    """Caches account documents and secrets from a :class:`ConfigSource`."""

    __slots__ = (
        "_accounts",
        "_locks",
        "_locks_guard",
        "_resolved",
        "_secrets",
        "_table_lock",
        "clock",
        "max_accounts",
        "retry_after",
        "source",
        "stale_window",
        "stats",
        "ttl",
    )

    def __init__(
        self,
        source: ConfigSource,
        *,
        ttl: float = 60.0,
        stale_window: float = 900.0,
        retry_after: float = 5.0,
        max_accounts: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        stats: RegistryStats | None = None,
    ) -> None:
        self.source = source
        self.ttl = ttl
        self.stale_window = stale_window
        self.retry_after = retry_after
        self.max_accounts = max_accounts
        self.clock = clock
        self.stats = RegistryStats() if stats is None else stats
        self._accounts: LRUCache[str, _Entry] = LRUCache(maxsize=max_accounts)
        self._secrets: LRUCache[str, _Entry] = LRUCache(maxsize=1024)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._table_lock = threading.Lock()
        self._resolved: dict[str, tuple[float, Resolution]] = {}

    def lookup(self, caller: Caller, qualifier: str | None = None) -> Resolution:
        """The binding and tenant for ``caller``; :class:`TenantNotBound` or a fault otherwise.

        ``qualifier`` is the alias the function was invoked through (None: unqualified, a
        call only the platform's own principals can make). A call through an alias decides
        only for accounts whose document names that alias (:class:`AliasMismatch`).
        """
        # Warm path: the resolution of this API and stage, valid while its account entry is
        # (keyed without the path, so that client paths cannot grow this dict).
        fast = self._resolved.get(caller.binding_key)
        if fast is not None and self.clock() < fast[0]:
            resolution = fast[1]
        else:
            resolution = self._resolve(caller)
        if qualifier is not None and qualifier != resolution.alias:
            raise AliasMismatch(
                Reason.ALIAS_MISMATCH,
                f"called through alias {qualifier[:128]!r}, account {caller.account_id} is "
                f"served by {resolution.alias!r}",
                tenant_id=resolution.tenant.config.tenant_id,
            )
        return resolution

    def _resolve(self, caller: Caller) -> Resolution:
        document, stale, fresh_until = self._get(
            self._accounts, f"account:{caller.account_id}", caller.account_id, self._load_account
        )
        resolved = document.resolve(caller.api_id, caller.stage) if document else None
        if resolved is None:
            detail = (
                document.unbound_detail(caller.api_id, caller.stage)
                if document
                else f"no tenant bound to {caller.account_id}/{caller.api_id}/{caller.stage}"
            )
            raise TenantNotBound(Reason.TENANT_NOT_BOUND, detail)
        resolution = Resolution(resolved[0], resolved[1], stale, document.alias)
        if len(self._resolved) >= 4 * self.max_accounts:
            self._resolved.clear()  # bounded; rebuilt from the account entries in microseconds
        self._resolved[caller.binding_key] = (fresh_until, resolution)
        return resolution

    def invalidate(self) -> None:
        """Forget every cached document and secret: the next lookups read the source again."""
        with self._table_lock:
            self._accounts.clear()
            self._secrets.clear()
            self._resolved.clear()

    def secret(self, name: str, *, tenant_id: str) -> bytes:
        """A decrypted HS* secret; :class:`PlatformFault` when it cannot be had."""
        value, _, _ = self._get(self._secrets, f"secret:{name}", name, self._load_secret)
        if not isinstance(value, bytes):
            raise PlatformFault(
                Reason.SECRET_UNAVAILABLE, f"secret parameter {name} not found", tenant_id=tenant_id
            )
        return value

    def _get(
        self,
        cache: LRUCache[str, _Entry],
        lock_key: str,
        key: str,
        load: Callable[[str], Any],
    ) -> tuple[Any, bool, float]:
        now = self.clock()
        # cachetools caches reorder on read: every access holds the one table lock
        # (uncontended in Lambda; the threaded local gateway needs it).
        with self._table_lock:
            entry = cache.get(key)
        if entry is not None and now < entry.fresh_until:
            return entry.value, entry.stale, entry.fresh_until
        with self._lock_for(lock_key):
            with self._table_lock:
                entry = cache.get(key)
            now = self.clock()
            if entry is not None and now < entry.fresh_until:
                # Another thread refreshed it while we waited.
                return entry.value, entry.stale, entry.fresh_until
            try:
                self.stats.fetches += 1
                value = load(key)
            except SourceUnavailable as exc:
                self.stats.failures += 1
                if entry is not None and now < entry.stale_until:
                    self.stats.stale_serves += 1
                    # Back off: the next attempt waits, so an SSM outage is not hammered.
                    entry.fresh_until = min(now + self.retry_after, entry.stale_until)
                    entry.stale = True
                    return entry.value, True, entry.fresh_until
                raise PlatformFault(Reason.TENANT_CONFIG_UNAVAILABLE, f"{lock_key}: {exc}") from exc
            fresh_until = now + self.ttl
            with self._table_lock:
                cache[key] = _Entry(value, fresh_until, fresh_until + self.stale_window)
            return value, False, fresh_until

    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(key)
            if lock is None:
                if len(self._locks) > 4 * self.max_accounts:
                    self._locks.clear()
                lock = self._locks[key] = threading.Lock()
            return lock

    def _load_account(self, account_id: str) -> AccountDocument | None:
        raw = self.source.load_account(account_id)
        if raw is None:
            return None
        try:
            return parse_account_document(raw, f"account {account_id}", account_id)
        except ConfigError as exc:
            # A broken document is a deploy error: fail closed for this account only.
            raise PlatformFault(Reason.TENANT_CONFIG_INVALID, str(exc)) from exc

    def _load_secret(self, name: str) -> bytes | None:
        return self.source.load_secret(name)


class StaticSource:
    """Account documents and secrets held in memory (local gateway, tests)."""

    __slots__ = ("accounts", "secrets")

    def __init__(
        self, accounts: dict[str, str] | None = None, secrets: dict[str, bytes] | None = None
    ) -> None:
        self.accounts = {} if accounts is None else accounts
        self.secrets = {} if secrets is None else secrets

    def load_account(self, account_id: str) -> str | None:
        return self.accounts.get(account_id)

    def load_secret(self, name: str) -> bytes | None:
        return self.secrets.get(name)


class SsmSource:
    """Reads account documents and secrets from SSM Parameter Store under ``prefix``.

    boto3 is imported on the first read, not at module import: a warm instance never
    needs it, and its import is most of a cold start.
    """

    def __init__(self, prefix: str, *, client: Any = None) -> None:
        self.prefix = prefix.rstrip("/")
        self._client = client

    def _ssm(self) -> Any:
        if self._client is None:
            import boto3  # noqa: PLC0415  (lazy on purpose, see class docstring)
            from botocore.config import Config  # noqa: PLC0415

            self._client = boto3.client(
                "ssm",
                # Some boto3 versions read only AWS_DEFAULT_REGION; Lambda sets AWS_REGION.
                region_name=os.environ.get("AWS_REGION") or None,
                # At most 2 x (1 s + 1 s) = 4 s (SSM answers in tens of ms): with the key
                # fetch budget, one decision stays well inside the function timeout.
                config=Config(
                    connect_timeout=1,
                    read_timeout=1,
                    retries={"max_attempts": 2, "mode": "standard"},
                ),
            )
        return self._client

    def _get(self, name: str, *, decrypt: bool) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            response = self._ssm().get_parameter(Name=name, WithDecryption=decrypt)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ParameterNotFound":
                return None
            raise SourceUnavailable(f"SSM {code or 'error'} reading {name}") from exc
        except BotoCoreError as exc:
            raise SourceUnavailable(
                f"SSM unreachable reading {name}: {type(exc).__name__}"
            ) from exc
        value = response["Parameter"]["Value"]
        return str(value)

    def load_account(self, account_id: str) -> str | None:
        return self._get(f"{self.prefix}/accounts/{account_id}", decrypt=False)

    def load_secret(self, name: str) -> bytes | None:
        if not name.startswith(f"{self.prefix}/secrets/"):
            # The role can only read its own prefix anyway; refuse early and clearly.
            raise SourceUnavailable(f"secret {name} is outside {self.prefix}/secrets/")
        value = self._get(name, decrypt=True)
        return None if value is None else value.encode()
