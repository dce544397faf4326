"""The tenant registry on SSM (moto server): lazy reads, TTL, stale-if-error, fail closed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.aws import aws_env, moto_server, ssm_client
from support.events import EVENT_KINDS, event
from support.harness import issuer_entry, tenant_doc
from tenant_authorizer import handler as handler_module
from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.runtime.account import parse_account_document
from tenant_authorizer.runtime.caller import parse_arn
from tenant_authorizer.runtime.errors import ConfigError, PlatformFault, Reason, TenantNotBound
from tenant_authorizer.runtime.registry import TenantRegistry
from tenant_authorizer.runtime.sources import SsmSource
from tenant_authorizer.tools.documents import render_account_documents

PREFIX = "/tenant-authorizer"
ACCOUNT = "123456789012"
STATIC = [{"id": "t", "sha256": "0" * 64, "principal_id": "p"}]
CALLER = parse_arn(f"arn:aws:execute-api:us-east-1:{ACCOUNT}:a1b2c3d4e5/prod/GET/orders")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer(port=0) as started:
        yield started


@pytest.fixture
def published(endpoint: str, issuer: DevIssuer) -> dict[str, str]:
    """Tenant documents written to moto's SSM in the layout Terraform writes."""
    docs = [tenant_doc("acme", ACCOUNT, [issuer_entry(issuer)], api_ids=["a1b2c3d4e5"])]
    rendered = render_account_documents(docs)
    client = ssm_client(endpoint)
    for account, value in rendered.items():
        client.put_parameter(
            Name=f"{PREFIX}/accounts/{account}", Value=value, Type="String", Overwrite=True
        )
    return rendered


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FailingClient:
    """An SSM client that fails the way SSM fails: throttling, errors, access denied."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.calls = 0

    def _fail(self, operation: str) -> Any:
        self.calls += 1
        raise ClientError({"Error": {"Code": self.code, "Message": "Rate exceeded"}}, operation)

    def get_parameter(self, **_: Any) -> Any:
        return self._fail("GetParameter")

    def get_parameters(self, **_: Any) -> Any:
        return self._fail("GetParameters")


class Sleeps:
    """A fake time.sleep that moves a fake clock and records each wait."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.now += seconds


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_public_handler_against_ssm(
    endpoint: str,
    issuer: DevIssuer,
    published: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    """Through the Lambda handler: Allow returns a policy, no token raises Unauthorized."""
    for key, value in {**aws_env(endpoint), "TENANT_AUTHZ_SSM_PREFIX": PREFIX}.items():
        monkeypatch.setenv(key, value)
    handler_module.reset()
    try:
        if kind == "websocket_connect":
            ev = event(kind, "x")
            ev["headers"]["Authorization"] = f"Bearer {issuer.mint()}"
        else:
            ev = event(kind, issuer.mint())
        response = handler_module.handler(ev, None)
        assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            handler_module.handler(event(kind, None), None)
        with pytest.raises(handler_module.AuthorizerFault, match="tenant_not_bound"):
            handler_module.handler(event(kind, issuer.mint(), api_id="zzzzzzzzzz"), None)
    finally:
        handler_module.reset()


def test_bad_environment_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong environment variable makes every invocation a fault naming the variable."""
    monkeypatch.setenv("TENANT_AUTHZ_CONFIG_TTL_SECONDS", "soon")
    handler_module.reset()
    try:
        with pytest.raises(handler_module.AuthorizerFault, match="TENANT_AUTHZ_CONFIG_TTL_SECONDS"):
            handler_module.handler(event("rest_token", "x"), None)
    finally:
        handler_module.reset()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TENANT_AUTHZ_NETWORK_BUDGET_SECONDS": "0"}, "TENANT_AUTHZ_NETWORK_BUDGET_SECONDS"),
        (
            {"TENANT_AUTHZ_NETWORK_BUDGET_SECONDS": "1", "TENANT_AUTHZ_FETCH_TIMEOUT_SECONDS": "2"},
            "must not exceed",
        ),
    ],
)
def test_network_budget_settings_are_checked(env: dict[str, str], named: str) -> None:
    """The decision budget and the per-fetch timeout are read and checked against each other."""
    from tenant_authorizer.runtime.settings import Settings

    with pytest.raises(ValueError, match=named):
        Settings.from_env(env)
    settings = Settings.from_env({"TENANT_AUTHZ_NETWORK_BUDGET_SECONDS": "2.5"})
    assert (settings.network_budget, settings.fetch_timeout) == (2.5, 1.5)


def test_the_config_read_budget_is_read_and_bounded() -> None:
    """TENANT_AUTHZ_CONFIG_BUDGET_SECONDS (default 2 s) reaches the registry's reader."""
    from tenant_authorizer.runtime.authorizer import Authorizer
    from tenant_authorizer.runtime.settings import Settings
    from tenant_authorizer.runtime.sources import StaticSource

    assert Settings.from_env({}).config_budget == 2.0
    with pytest.raises(ValueError, match="TENANT_AUTHZ_CONFIG_BUDGET_SECONDS"):
        Settings.from_env({"TENANT_AUTHZ_CONFIG_BUDGET_SECONDS": "60"})
    settings = Settings.from_env({"TENANT_AUTHZ_CONFIG_BUDGET_SECONDS": "0.5"})
    authorizer = Authorizer.from_settings(settings, source=StaticSource())
    assert authorizer.registry.reader.budget == 0.5


def test_a_cold_lookup_is_one_call_and_is_cached(endpoint: str, published: dict[str, str]) -> None:
    """A cold lookup makes one GetParameters call: the account's document, with the change
    index's root and shard in the same call; then it is cached for the TTL."""
    client = ssm_client(endpoint)
    calls: list[list[str]] = []
    original = client.get_parameters

    def counting(**kwargs: Any) -> Any:
        calls.append(kwargs["Names"])
        return original(**kwargs)

    client.get_parameters = counting
    registry = TenantRegistry(SsmSource(PREFIX, client=client))
    for _ in range(5):
        assert registry.lookup(CALLER).tenant.config.tenant_id == "acme"
    assert len(calls) == 1
    assert calls[0][:2] == [f"{PREFIX}/accounts/{ACCOUNT}", f"{PREFIX}/index/layout"]
    assert registry.mode == "direct"  # nothing wrote an index to this SSM


def test_unbound_account_is_cached_negative(endpoint: str) -> None:
    """An account with no document is tenant_not_bound, and SSM is asked once per TTL."""
    client = ssm_client(endpoint)
    registry = TenantRegistry(SsmSource(PREFIX, client=client))
    other = parse_arn("arn:aws:execute-api:us-east-1:999999999999:a1b2c3d4e5/prod/GET/")
    for _ in range(3):
        with pytest.raises(TenantNotBound):
            registry.lookup(other)
    assert registry.stats.fetches == 1


@pytest.mark.parametrize("failure", ["ThrottlingException", "InternalServerError", "unreachable"])
def test_ssm_failure_with_warm_config_serves_stale_then_fails_closed(
    endpoint: str, published: dict[str, str], failure: str
) -> None:
    """SSM down or throttling: warm config is served stale within the window, then a fault."""
    clock = Clock()
    sleeps = Sleeps(clock)
    source = SsmSource(PREFIX, client=ssm_client(endpoint))
    registry = TenantRegistry(source, ttl=60, stale_window=300, clock=clock, sleep=sleeps)
    assert not registry.lookup(CALLER).stale
    if failure == "unreachable":
        source._client = ssm_client("http://127.0.0.1:9")
    else:
        source._client = FailingClient(failure)
    clock.now += 61
    assert registry.lookup(CALLER).stale
    assert registry.stats.stale_serves == 1
    assert sleeps.waits == []  # a warm instance never waits on SSM
    clock.now += 2  # within the back-off: no new SSM call, still stale
    fetches = registry.stats.fetches
    assert registry.lookup(CALLER).stale
    assert registry.stats.fetches == fetches
    clock.now += 400
    with pytest.raises(PlatformFault) as info:
        registry.lookup(CALLER)
    assert info.value.reason is Reason.TENANT_CONFIG_UNAVAILABLE


@pytest.mark.parametrize(
    ("code", "retried"), [("ThrottlingException", True), ("AccessDeniedException", False)]
)
def test_ssm_failure_without_warm_config_is_a_fault(code: str, retried: bool) -> None:
    """A cold instance retries throttling with jitter within its budget, then fails closed;
    an error no retry can fix fails at once. Never an Allow."""
    clock = Clock()
    sleeps = Sleeps(clock)
    client = FailingClient(code)
    registry = TenantRegistry(
        SsmSource(PREFIX, client=client), budget=2.0, clock=clock, sleep=sleeps
    )
    started = clock.now
    with pytest.raises(PlatformFault) as info:
        registry.lookup(CALLER)
    assert info.value.reason is Reason.TENANT_CONFIG_UNAVAILABLE
    if retried:
        assert client.calls > 2
        assert clock.now - started < 2.0  # the waits end inside the budget
        assert len(set(sleeps.waits)) == len(sleeps.waits)  # jittered, not a fixed step
        assert registry.counters.ssm_throttles == client.calls
    else:
        assert (client.calls, sleeps.waits) == (1, [])


def test_invalid_document_is_a_fault_naming_the_field(endpoint: str) -> None:
    """A corrupt account document fails closed for that account, naming what is wrong."""
    client = ssm_client(endpoint)
    client.put_parameter(
        Name=f"{PREFIX}/accounts/777777777777",
        Value='{"version": 2}',
        Type="String",
        Overwrite=True,
    )
    registry = TenantRegistry(SsmSource(PREFIX, client=client))
    with pytest.raises(PlatformFault) as info:
        registry.lookup(
            parse_arn("arn:aws:execute-api:us-east-1:777777777777:a1b2c3d4e5/prod/GET/")
        )
    assert info.value.reason is Reason.TENANT_CONFIG_INVALID
    assert "version" in info.value.detail


@pytest.mark.parametrize("alias", [None, "", "17", "shard 1", 7])
def test_account_document_must_name_its_alias(alias: object) -> None:
    """A document without a usable alias is invalid: no call could be checked against it."""
    (document,) = render_account_documents(
        [tenant_doc("acme", ACCOUNT, api_ids=["a1b2c3d4e5"], static_tokens=STATIC)]
    ).values()
    data = json.loads(document)
    if alias is None:
        del data["alias"]
    else:
        data["alias"] = alias
    with pytest.raises(ConfigError) as info:
        parse_account_document(json.dumps(data), "account", ACCOUNT)
    assert info.value.field == "alias"


def test_secret_outside_prefix_is_refused(endpoint: str) -> None:
    """HS* secrets are read only from {prefix}/secrets/."""
    registry = TenantRegistry(SsmSource(PREFIX, client=ssm_client(endpoint)))
    with pytest.raises(PlatformFault) as info:
        registry.secret("/other-team/secret", tenant_id="acme")
    assert info.value.reason is Reason.TENANT_CONFIG_UNAVAILABLE


def test_secret_read_decrypted(endpoint: str) -> None:
    """A SecureString secret is read with decryption and cached."""
    client = ssm_client(endpoint)
    name = f"{PREFIX}/secrets/legacy/hmac"
    client.put_parameter(Name=name, Value="s3cr3t-value", Type="SecureString", Overwrite=True)
    registry = TenantRegistry(SsmSource(PREFIX, client=client))
    assert registry.secret(name, tenant_id="legacy") == b"s3cr3t-value"
    assert registry.secret(name, tenant_id="legacy") == b"s3cr3t-value"
    assert registry.stats.fetches == 1


def test_concurrent_lookups_with_evictions_stay_consistent() -> None:
    """Threads of the local gateway looking up many accounts never corrupt the bounded cache."""
    import threading

    from tenant_authorizer.runtime.sources import StaticSource

    accounts = [f"{100000000000 + i}" for i in range(40)]
    docs = [
        tenant_doc(f"t{i}", a, static_tokens=[{"id": "k", "sha256": "0" * 64, "principal_id": "p"}])
        for i, a in enumerate(accounts)
    ]
    registry = TenantRegistry(
        StaticSource(render_account_documents(docs)), ttl=0.0, max_bytes=8 * 4000
    )  # about eight documents
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            for n in range(300):
                account = accounts[(n * 7 + offset) % len(accounts)]
                caller = parse_arn(f"arn:aws:execute-api:us-east-1:{account}:a1b2c3d4e5/p/GET/")
                assert registry.lookup(caller).binding.account_id == account
        except BaseException as exc:  # noqa: BLE001  (collected and asserted below)
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_changed_document_is_seen_after_the_ttl() -> None:
    """A republished account document takes effect once the TTL passes, not before."""
    from tenant_authorizer.runtime.sources import StaticSource

    def doc(tenant_id: str) -> dict[str, Any]:
        token = {"id": "k", "sha256": "0" * 64, "principal_id": "p"}
        return tenant_doc(tenant_id, ACCOUNT, static_tokens=[token])

    clock = Clock()
    source = StaticSource(render_account_documents([doc("before")]))
    registry = TenantRegistry(source, ttl=60, clock=clock)
    assert registry.lookup(CALLER).tenant.config.tenant_id == "before"
    source.accounts = render_account_documents([doc("after")])
    clock.now += 59
    assert registry.lookup(CALLER).tenant.config.tenant_id == "before"
    clock.now += 2
    assert registry.lookup(CALLER).tenant.config.tenant_id == "after"
