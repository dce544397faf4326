"""The JWKS cache: discovery, rotation, the kid penalty box, max-age, stale-if-error, breaker."""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from support.idp import InProcessIdp
from support.issuers import FAILURE_MODES, FakeClock, FaultyIssuer, Mode, issuer_config, wait_until
from tenant_authorizer.dev.issuer import PrivateKey
from tenant_authorizer.runtime.breaker import CircuitBreaker
from tenant_authorizer.runtime.discovery import metadata_url
from tenant_authorizer.runtime.errors import AuthorizerError, PlatformFault, Reason
from tenant_authorizer.runtime.fetch import FetchResult, HttpFetcher
from tenant_authorizer.runtime.jwk_set import ResolvedKey
from tenant_authorizer.runtime.jwks import JwksCache
from tenant_authorizer.runtime.settings import Settings
from tenant_authorizer.runtime.tenant import DiscoveryMode, IssuerConfig

STUB_ISSUER = "https://idp.example.test"
STUB_JWKS = "https://idp.example.test/jwks.json"


def _fast_fetcher() -> HttpFetcher:
    return HttpFetcher(timeout=0.5)


def _patient_fetcher() -> HttpFetcher:
    """Timeouts long enough that waiting on a hanging fetch would be obvious."""
    return HttpFetcher(timeout=2)


@pytest.fixture
def idp(signing_keys: dict[str, PrivateKey]) -> InProcessIdp:
    """The development issuer in-process (RS256 + ES256): the cache's fetcher, no socket."""
    return InProcessIdp(keys=signing_keys)


@pytest.fixture
def cache(idp: InProcessIdp, clock: FakeClock) -> JwksCache:
    """A cache on the fake clock with default policy, fetching from ``idp`` in-process."""
    return JwksCache(idp, clock=clock)


@pytest.fixture
def config(idp: InProcessIdp) -> IssuerConfig:
    """The in-process issuer with an explicit jwks_uri (no discovery)."""
    return issuer_config(idp)


@pytest.fixture
def served_cache(clock: FakeClock) -> JwksCache:
    """A cache on the fake clock with the real fetcher and short timeouts (127.0.0.1)."""
    return JwksCache(_fast_fetcher(), clock=clock)


@pytest.fixture
def served_config(dev_issuer: FaultyIssuer) -> IssuerConfig:
    """The issuer served on 127.0.0.1, with an explicit jwks_uri (no discovery)."""
    return issuer_config(dev_issuer)


def _reason(call: Callable[[], object]) -> Reason:
    with pytest.raises(AuthorizerError) as caught:
        call()
    return caught.value.reason


class StubFetcher:
    """Answers from a dict of URL -> JSON object (or exception); records the URLs asked."""

    def __init__(
        self, documents: Mapping[str, dict[str, Any] | Exception], max_age: int | None = None
    ) -> None:
        self.documents = dict(documents)
        self.max_age = max_age  # what Cache-Control would say
        self.calls: list[str] = []
        self.private_ok: dict[str, bool] = {}  # per URL, what the cache allowed

    def get_json(
        self,
        url: str,
        *,
        local_development: bool = False,
        deadline: float | None = None,
        private_ok: bool = False,
    ) -> FetchResult:
        self.calls.append(url)
        self.private_ok[url] = private_ok
        document = self.documents[url]
        if isinstance(document, Exception):
            raise document
        return FetchResult(body=document, max_age=self.max_age)


def _stub_config(**overrides: Any) -> IssuerConfig:
    fields: dict[str, Any] = {
        "issuer": STUB_ISSUER,
        "algorithms": ("RS256", "PS256", "ES256", "ES384", "EdDSA"),
        "audiences": ("api",),
        "jwks_uri": STUB_JWKS,
        "discovery": "none",
    } | overrides
    return IssuerConfig(**fields)


def _jwk(public: Any, kid: str, **members: Any) -> dict[str, Any]:
    if isinstance(public, rsa.RSAPublicKey):
        base = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        base = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        base = OKPAlgorithm.to_jwk(public, as_dict=True)
    return {**base, "kid": kid, **members}


def _x25519() -> str:
    raw = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def good_jwk(rsa_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The session RSA key as a public JWK with kid "good"."""
    return _jwk(rsa_key.public_key(), "good", use="sig")


# ---------------------------------------------------------------- discovery


@pytest.mark.parametrize("path", ["", "/tenants/a"], ids=["root", "path"])
@pytest.mark.parametrize("discovery", ["oidc", "oauth"])
def test_discovery_requests_the_well_known_path(
    signing_keys: dict[str, PrivateKey], clock: FakeClock, discovery: DiscoveryMode, path: str
) -> None:
    """OIDC appends the well-known segment; RFC 8414 inserts it before the issuer's path."""
    with FaultyIssuer(keys=signing_keys, path=path) as issuer:
        cache = JwksCache(_fast_fetcher(), clock=clock)
        resolved = cache.get_key(
            issuer_config(issuer, discovery=discovery),
            issuer.current_kid(),
            "RS256",
        )
        expected = issuer.oidc_metadata_path if discovery == "oidc" else issuer.oauth_metadata_path
        assert issuer.request_count(expected) == 1
        assert issuer.request_count(issuer.jwks_path) == 1
        assert issuer.request_count() == 2
        assert resolved.jwks_uri == issuer.jwks_uri


@pytest.mark.parametrize(
    ("issuer", "discovery", "url"),
    [
        ("https://idp.test", "oidc", "https://idp.test/.well-known/openid-configuration"),
        ("https://idp.test/", "oidc", "https://idp.test/.well-known/openid-configuration"),
        ("https://idp.test/t/a", "oidc", "https://idp.test/t/a/.well-known/openid-configuration"),
        ("https://idp.test", "oauth", "https://idp.test/.well-known/oauth-authorization-server"),
        ("https://idp.test/", "oauth", "https://idp.test/.well-known/oauth-authorization-server"),
        (
            "https://idp.test/t/a/",
            "oauth",
            "https://idp.test/.well-known/oauth-authorization-server/t/a",
        ),
    ],
)
def test_metadata_url(issuer: str, discovery: str, url: str) -> None:
    """The metadata URL of each discovery flavour, with and without paths and slashes."""
    assert metadata_url(issuer, discovery) == url


def test_explicit_jwks_uri_skips_discovery(
    idp: InProcessIdp, cache: JwksCache, config: IssuerConfig
) -> None:
    """With jwks_uri configured, only the JWKS is requested."""
    cache.get_key(config, idp.current_kid(), "RS256")
    assert idp.request_count() == idp.request_count(idp.jwks_path) == 1
    assert cache.stats.discovery_fetches == 0


def test_metadata_issuer_must_match_exactly(idp: InProcessIdp, cache: JwksCache) -> None:
    """Metadata naming another issuer (here: a trailing slash) is refused before any JWKS."""
    config = issuer_config(idp, discovery="oidc", issuer=idp.issuer + "/")
    with pytest.raises(PlatformFault, match="mix-up") as caught:
        cache.get_key(config, idp.current_kid(), "RS256")
    assert caught.value.reason is Reason.JWKS_UNAVAILABLE
    assert idp.request_count(idp.jwks_path) == 0


@pytest.mark.parametrize("local_development", [False, True])
def test_discovered_jwks_uri_must_be_https(clock: FakeClock, local_development: bool) -> None:
    """An http jwks_uri from metadata is refused unless the issuer is local_development."""
    metadata = {"issuer": STUB_ISSUER, "jwks_uri": "http://idp.example.test/jwks.json"}
    fetcher = StubFetcher(
        {
            metadata_url(STUB_ISSUER, "oidc"): metadata,
            "http://idp.example.test/jwks.json": {"keys": []},
        }
    )
    cache = JwksCache(fetcher, clock=clock)
    config = _stub_config(jwks_uri=None, discovery="oidc", local_development=local_development)
    reason = _reason(lambda: cache.get_key(config, "k", "RS256"))
    assert reason is (Reason.KID_UNKNOWN if local_development else Reason.JWKS_UNAVAILABLE)
    assert len(fetcher.calls) == (2 if local_development else 1)


def test_metadata_is_cached_for_discovery_max_age(idp: InProcessIdp, clock: FakeClock) -> None:
    """Discovery is fetched again only after discovery_max_age, not with every JWKS refresh."""
    cache = JwksCache(idp, clock=clock, discovery_max_age=1_000)
    config = issuer_config(idp, discovery="oidc")
    kid = idp.current_kid()
    for _ in range(4):  # JWKS max-age is 300: four JWKS fetches at 0, 300, 600 and 900 s
        cache.get_key(config, kid, "RS256")
        clock.advance(300)
    assert idp.request_count(idp.jwks_path) == 4
    assert idp.request_count(idp.oidc_metadata_path) == 1
    cache.get_key(config, kid, "RS256")  # at 1,200 s
    assert idp.request_count(idp.oidc_metadata_path) == 2


def test_stale_metadata_is_used_when_discovery_fails(idp: InProcessIdp, clock: FakeClock) -> None:
    """Expired metadata is reused within the stale window when the metadata fetch fails."""
    cache = JwksCache(idp, clock=clock, discovery_max_age=600)
    config = issuer_config(idp, discovery="oidc")
    kid = idp.current_kid()
    cache.get_key(config, kid, "RS256")
    clock.advance(601)
    idp.set_mode("down", paths=[idp.oidc_metadata_path])
    resolved = cache.get_key(config, kid, "RS256")
    assert resolved.fetched
    assert not resolved.stale
    assert cache.stats.discovery_stale_serves == 1


def test_discovery_failure_without_metadata_is_a_fault(idp: InProcessIdp, cache: JwksCache) -> None:
    """Without any metadata, a failing discovery endpoint is a platform fault."""
    idp.set_mode("down")
    config = issuer_config(idp, discovery="oauth")
    assert _reason(lambda: cache.get_key(config, "k", "RS256")) is Reason.JWKS_UNAVAILABLE


# ---------------------------------------------------------------- keys and algorithms


@pytest.mark.parametrize("alg", ["PS256", "ES384", "ES512", "EdDSA"])
def test_resolved_keys_verify_tokens(clock: FakeClock, alg: str) -> None:
    """Each key type resolves to a key that verifies a token signed by the issuer."""
    issuer = InProcessIdp(algorithms=(alg,))
    cache = JwksCache(issuer, clock=clock)
    token = issuer.mint(alg=alg)
    resolved = cache.get_key(issuer_config(issuer, algorithms=(alg,)), issuer.current_kid(alg), alg)
    claims = jwt.decode(token, resolved.key, algorithms=[alg], audience=issuer.audience)
    assert claims["iss"] == issuer.issuer


def test_first_fetch_is_reported(idp: InProcessIdp, cache: JwksCache, config: IssuerConfig) -> None:
    """The call that fetched says so; the next one is served from memory."""
    kid = idp.current_kid()
    first = cache.get_key(config, kid, "RS256")
    second = cache.get_key(config, kid, "RS256")
    assert (first.fetched, second.fetched) == (True, False)
    assert (first.stale, second.stale) == (False, False)
    assert first.generation == second.generation
    assert first.kid == kid
    assert first.jwks_uri == idp.jwks_uri


def test_events_move_with_counters_only(
    idp: InProcessIdp, cache: JwksCache, config: IssuerConfig
) -> None:
    """`events` changes on a fetch and stays put on warm lookups."""
    kid = idp.current_kid()
    before = cache.counters.events
    cache.get_key(config, kid, "RS256")
    after_fetch = cache.counters.events
    cache.get_key(config, kid, "RS256")
    assert before < after_fetch == cache.counters.events


def test_warm_path_makes_no_request(
    idp: InProcessIdp, cache: JwksCache, config: IssuerConfig
) -> None:
    """While keys are fresh, lookups need no server at all."""
    kid = idp.current_kid()
    cache.get_key(config, kid, "RS256")
    idp.set_mode("refuse")
    for _ in range(1_000):
        assert not cache.get_key(config, kid, "RS256").fetched
    assert cache.stats.fetches == 1


def test_alg_must_fit_the_key_type(
    idp: InProcessIdp, cache: JwksCache, config: IssuerConfig
) -> None:
    """An ES256 token naming the kid of an RSA key is rejected, without a refetch."""
    rsa_kid = idp.current_kid("RS256")
    cache.get_key(config, rsa_kid, "RS256")
    assert _reason(lambda: cache.get_key(config, rsa_kid, "ES256")) is Reason.ALGORITHM_NOT_ALLOWED
    assert idp.request_count(idp.jwks_path) == 1


@pytest.mark.parametrize(
    ("make_jwk", "alg"),
    [
        (lambda k: _jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), "x"), "ES384"),
        (lambda k: _jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), "x"), "RS256"),
        (lambda k: _jwk(ed25519.Ed25519PrivateKey.generate().public_key(), "x"), "ES256"),
        (lambda k: _jwk(k.public_key(), "x"), "EdDSA"),
        (lambda k: _jwk(k.public_key(), "x", alg="RS256"), "PS256"),
    ],
    ids=["P-256 for ES384", "EC for RS256", "OKP for ES256", "RSA for EdDSA", "JWK alg RS256"],
)
def test_key_type_and_declared_alg_must_match(
    clock: FakeClock,
    rsa_key: rsa.RSAPrivateKey,
    make_jwk: Callable[[rsa.RSAPrivateKey], dict[str, Any]],
    alg: str,
) -> None:
    """A key serves only algorithms of its type and curve, and only its declared alg."""
    cache = JwksCache(StubFetcher({STUB_JWKS: {"keys": [make_jwk(rsa_key)]}}), clock=clock)
    assert _reason(lambda: cache.get_key(_stub_config(), "x", alg)) is Reason.ALGORITHM_NOT_ALLOWED


@pytest.mark.parametrize(
    ("alg", "algorithms"),
    [("HS256", ("HS256",)), ("RS384", ("RS256",)), ("none", ("RS256",))],
    ids=["hmac", "not-configured", "none"],
)
def test_only_configured_asymmetric_algorithms(
    clock: FakeClock, alg: str, algorithms: tuple[str, ...]
) -> None:
    """HMAC, 'none' and algorithms the issuer does not list never reach the network."""
    fetcher = StubFetcher({})
    cache = JwksCache(fetcher, clock=clock)
    config = _stub_config(algorithms=algorithms)
    assert _reason(lambda: cache.get_key(config, "k", alg)) is Reason.ALGORITHM_NOT_ALLOWED
    assert fetcher.calls == []


def test_non_string_kid_is_malformed(clock: FakeClock) -> None:
    """A kid header that is not a string is a malformed token, not a crash."""
    cache = JwksCache(StubFetcher({}), clock=clock)
    kid: Any = ["a"]
    assert _reason(lambda: cache.get_key(_stub_config(), kid, "RS256")) is Reason.TOKEN_MALFORMED


@pytest.mark.parametrize(
    "make_bad",
    [
        lambda k: {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ", "kid": "bad", "alg": "HS256"},
        lambda k: _jwk(k.public_key(), "bad", use="enc"),
        lambda k: _jwk(k.public_key(), "bad", key_ops=["encrypt"]),
        lambda k: _jwk(
            rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key(),  # noqa: S505  the point
            "bad",
        ),
        lambda k: {**RSAAlgorithm.to_jwk(k, as_dict=True), "kid": "bad"},
        lambda k: {**_jwk(k.public_key(), "bad"), "n": "%%%not-base64%%%"},
        lambda k: {"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA", "kid": "bad"},
        lambda k: {"kty": "OKP", "crv": "X25519", "x": _x25519(), "kid": "bad"},
        lambda k: {"kty": "XYZ", "kid": "bad"},
        lambda k: {**_jwk(k.public_key(), "bad"), "alg": "RSA-OAEP"},
        lambda k: "not an object",
    ],
    ids=[
        "oct",
        "use-enc",
        "key_ops-encrypt",
        "rsa-1024",
        "private-material",
        "bad-modulus",
        "secp256k1",
        "x25519",
        "unknown-kty",
        "encryption-alg",
        "not-an-object",
    ],
)
def test_unusable_keys_are_skipped(
    clock: FakeClock,
    rsa_key: rsa.RSAPrivateKey,
    good_jwk: dict[str, Any],
    make_bad: Callable[[rsa.RSAPrivateKey], Any],
) -> None:
    """An unusable JWK is ignored (its kid is unknown); the rest of the set still works."""
    fetcher = StubFetcher({STUB_JWKS: {"keys": [make_bad(rsa_key), good_jwk]}})
    cache = JwksCache(fetcher, clock=clock)
    assert cache.get_key(_stub_config(), "good", "RS256").kid == "good"
    assert _reason(lambda: cache.get_key(_stub_config(), "bad", "RS256")) is Reason.KID_UNKNOWN
    assert len(fetcher.calls) == 1


@pytest.mark.parametrize(
    "body", [{}, {"keys": "x"}, {"keys": {"kid": "a"}}], ids=["no-keys", "string", "object"]
)
def test_a_body_that_is_not_a_jwks_is_a_failure(clock: FakeClock, body: dict[str, Any]) -> None:
    """A JSON object without a "keys" list is garbage: a fault, counted as a failure."""
    cache = JwksCache(StubFetcher({STUB_JWKS: body}), clock=clock)
    assert _reason(lambda: cache.get_key(_stub_config(), "k", "RS256")) is Reason.JWKS_UNAVAILABLE
    assert cache.stats.failures == 1


def test_an_empty_key_set_is_valid(clock: FakeClock) -> None:
    """{"keys": []} (every key revoked) is a valid answer: every kid is unknown."""
    cache = JwksCache(StubFetcher({STUB_JWKS: {"keys": []}}), clock=clock)
    assert _reason(lambda: cache.get_key(_stub_config(), "k", "RS256")) is Reason.KID_UNKNOWN
    assert cache.stats.failures == 0


def test_kidless_token_with_one_key_per_alg(
    idp: InProcessIdp, cache: JwksCache, config: IssuerConfig
) -> None:
    """Without a kid, the single key usable for the alg is chosen (RS256 here, not ES256)."""
    resolved = cache.get_key(config, None, "RS256")
    assert resolved.kid == idp.current_kid("RS256")


def test_kidless_token_with_several_keys_is_kid_missing(
    idp: InProcessIdp, cache: JwksCache, config: IssuerConfig
) -> None:
    """Without a kid and with two keys for the alg, the token is rejected as KID_MISSING."""
    idp.rotate("RS256")
    assert _reason(lambda: cache.get_key(config, None, "RS256")) is Reason.KID_MISSING


def test_errors_carry_tenant_kid_and_issuer(
    idp: InProcessIdp, cache: JwksCache, config: IssuerConfig
) -> None:
    """A rejection names the tenant, the kid and the issuer for the decision log."""
    with pytest.raises(AuthorizerError) as caught:
        cache.get_key(config, "no-such-kid", "RS256", tenant_id="acme")
    assert (caught.value.tenant_id, caught.value.kid, caught.value.issuer) == (
        "acme",
        "no-such-kid",
        idp.issuer,
    )


# ---------------------------------------------------------------- rotation and the penalty box


def test_new_kid_is_picked_up_on_first_use(
    idp: InProcessIdp, cache: JwksCache, config: IssuerConfig, clock: FakeClock
) -> None:
    """After a rotation, the first token with the new kid refetches the JWKS."""
    first = cache.get_key(config, idp.current_kid(), "RS256")
    new_kid = idp.rotate("RS256")
    clock.advance(30)  # past the kid cooldown, well inside max-age
    resolved = cache.get_key(config, new_kid, "RS256")
    assert resolved.fetched
    assert resolved.kid == new_kid
    assert resolved.generation > first.generation
    assert cache.stats.kid_refetches == 1


def test_old_kid_keeps_working_while_published(
    idp: InProcessIdp, cache: JwksCache, config: IssuerConfig, clock: FakeClock
) -> None:
    """The previous key still resolves, from memory, after a refetch that kept it."""
    old = cache.get_key(config, idp.current_kid(), "RS256")
    new_kid = idp.rotate("RS256", keep_old=True)
    clock.advance(30)
    new = cache.get_key(config, new_kid, "RS256")
    again = cache.get_key(config, old.kid, "RS256")
    assert not again.fetched
    assert again.generation == new.generation
    assert cache.is_current(old.jwks_uri, old.generation, old.kid, "RS256")


def test_unpublished_kid_is_unknown_after_refresh(
    idp: InProcessIdp, cache: JwksCache, config: IssuerConfig, clock: FakeClock
) -> None:
    """A key the IdP stopped publishing is KID_UNKNOWN once the JWKS is refreshed."""
    old = cache.get_key(config, idp.current_kid(), "RS256")
    idp.rotate("RS256", keep_old=False)
    clock.advance(300)  # max-age
    assert _reason(lambda: cache.get_key(config, old.kid, "RS256")) is Reason.KID_UNKNOWN
    assert not cache.is_current(old.jwks_uri, old.generation, old.kid, "RS256")


def test_unknown_kid_within_cooldown_makes_no_request(
    idp: InProcessIdp, cache: JwksCache, config: IssuerConfig, clock: FakeClock
) -> None:
    """Right after a fetch, an unknown kid is rejected without asking the IdP again."""
    cache.get_key(config, idp.current_kid(), "RS256")
    clock.advance(29)
    assert _reason(lambda: cache.get_key(config, "fresh-kid", "RS256")) is Reason.KID_UNKNOWN
    assert idp.request_count(idp.jwks_path) == 1


def _flood(cache: JwksCache, config: IssuerConfig, count: int, workers: int = 1) -> Counter[Reason]:
    def one(_: int) -> Reason:
        return _reason(lambda: cache.get_key(config, secrets.token_hex(8), "RS256"))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return Counter(pool.map(one, range(count)))


@pytest.mark.parametrize("workers", [1, 8], ids=["sequential", "threads"])
def test_unknown_kid_flood_costs_one_fetch_per_cooldown(
    idp: InProcessIdp,
    cache: JwksCache,
    config: IssuerConfig,
    clock: FakeClock,
    workers: int,
) -> None:
    """1,000 random kids cause at most one JWKS request per cooldown, then none."""
    cache.get_key(config, idp.current_kid(), "RS256")
    for round_ in (1, 2):
        clock.advance(30)
        idp.reset_counts()
        assert _flood(cache, config, 1_000, workers) == {Reason.KID_UNKNOWN: 1_000}
        assert idp.request_count(idp.jwks_path) == 1
        assert cache.stats.kid_refetches == round_


# ---------------------------------------------------------------- max-age


@pytest.mark.parametrize(
    ("cache_control", "ttl"),
    [
        ("max-age=300", 300),
        ("max-age=10", 60),
        ("no-store", 60),
        (None, 600),
        ("max-age=999999", 86_400),
    ],
    ids=["honoured", "raised-to-min", "no-store-as-min", "default", "capped-to-max"],
)
def test_max_age_is_honoured_and_clamped(
    idp: InProcessIdp,
    cache: JwksCache,
    config: IssuerConfig,
    clock: FakeClock,
    cache_control: str | None,
    ttl: int,
) -> None:
    """No fetch before the (clamped) max-age runs out, exactly one right after."""
    idp.jwks_cache_control = cache_control
    kid = idp.current_kid()
    cache.get_key(config, kid, "RS256")
    clock.advance(ttl - 1)
    assert not cache.get_key(config, kid, "RS256").fetched
    clock.advance(1)
    assert cache.get_key(config, kid, "RS256").fetched
    assert idp.request_count(idp.jwks_path) == 2


def test_each_fetch_bumps_the_generation(
    idp: InProcessIdp, cache: JwksCache, config: IssuerConfig, clock: FakeClock
) -> None:
    """A refreshed key set gets a new generation even when its keys did not change."""
    kid = idp.current_kid()
    first = cache.get_key(config, kid, "RS256")
    clock.advance(300)
    second = cache.get_key(config, kid, "RS256")
    assert second.generation > first.generation
    assert cache.is_current(
        first.jwks_uri, first.generation, kid, "RS256"
    )  # same key, still published


def test_is_current_is_false_once_keys_expire(
    idp: InProcessIdp, cache: JwksCache, config: IssuerConfig, clock: FakeClock
) -> None:
    """Past max-age a key is not current, so decision caches come back through get_key."""
    resolved = cache.get_key(config, idp.current_kid(), "RS256")
    assert cache.is_current(resolved.jwks_uri, resolved.generation, resolved.kid, "RS256")
    clock.advance(300)
    assert not cache.is_current(resolved.jwks_uri, resolved.generation, resolved.kid, "RS256")
    assert not cache.is_current("https://never.example.test/jwks", 1, "k", "RS256")


# ---------------------------------------------------------------- IdP failures


@pytest.mark.parametrize("mode", FAILURE_MODES)
def test_failing_idp_with_warm_keys_serves_stale_within_window(
    dev_issuer: FaultyIssuer,
    served_cache: JwksCache,
    served_config: IssuerConfig,
    clock: FakeClock,
    mode: Mode,
) -> None:
    """Expired keys are served (stale=True, counted) while the IdP fails, up to the window."""
    kid = dev_issuer.current_kid()
    warm = served_cache.get_key(served_config, kid, "RS256")
    clock.advance(300)
    dev_issuer.set_mode(mode)
    stale = served_cache.get_key(served_config, kid, "RS256")
    assert (stale.stale, stale.fetched, stale.key) == (True, True, warm.key)
    assert served_cache.stats.stale_serves == 1
    assert served_cache.stats.failures == 1
    clock.advance(3_600)  # expiry + stale_window
    assert (
        _reason(lambda: served_cache.get_key(served_config, kid, "RS256"))
        is Reason.JWKS_UNAVAILABLE
    )


@pytest.mark.parametrize("mode", FAILURE_MODES)
def test_failing_idp_without_keys_is_a_fault(
    dev_issuer: FaultyIssuer, served_cache: JwksCache, served_config: IssuerConfig, mode: Mode
) -> None:
    """With nothing cached, a failing IdP is a platform fault at once, never a key."""
    dev_issuer.set_mode(mode)
    with pytest.raises(PlatformFault) as caught:
        served_cache.get_key(served_config, dev_issuer.current_kid(), "RS256")
    assert caught.value.reason is Reason.JWKS_UNAVAILABLE
    assert caught.value.__cause__ is not None  # the fetch error is chained, for the log


def test_unknown_kid_with_stale_keys_is_a_fault(
    idp: InProcessIdp, cache: JwksCache, config: IssuerConfig, clock: FakeClock
) -> None:
    """With the IdP down, a kid not in the stale set may be a new key: a fault, not a 401."""
    cache.get_key(config, idp.current_kid(), "RS256")
    clock.advance(300)
    idp.set_mode("down")
    assert _reason(lambda: cache.get_key(config, "new-kid", "RS256")) is Reason.JWKS_UNAVAILABLE


def test_recovered_idp_replaces_stale_keys(
    idp: InProcessIdp, cache: JwksCache, config: IssuerConfig, clock: FakeClock
) -> None:
    """Once the IdP answers again the next lookup gets fresh keys."""
    kid = idp.current_kid()
    cache.get_key(config, kid, "RS256")
    clock.advance(300)
    idp.set_mode("down")
    assert cache.get_key(config, kid, "RS256").stale
    idp.set_mode("ok")
    fresh = cache.get_key(config, kid, "RS256")
    assert (fresh.stale, fresh.fetched) == (False, True)


# ---------------------------------------------------------------- circuit breaker


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    """Opens after two consecutive failures, half-opens after 30 s."""
    return CircuitBreaker(failure_threshold=2, reset_after=30, clock=clock)


def test_open_circuit_fails_fast_without_network(
    idp: InProcessIdp, config: IssuerConfig, clock: FakeClock, breaker: CircuitBreaker
) -> None:
    """After N failures the URI is not called again: ISSUER_CIRCUIT_OPEN, at once."""
    cache = JwksCache(idp, clock=clock, breaker=breaker)
    idp.set_mode("down")
    kid = idp.current_kid()
    for _ in range(2):
        assert _reason(lambda: cache.get_key(config, kid, "RS256")) is Reason.JWKS_UNAVAILABLE
    started = time.monotonic()
    reasons = Counter(_reason(lambda: cache.get_key(config, kid, "RS256")) for _ in range(100))
    assert time.monotonic() - started < 0.5
    assert reasons == {Reason.ISSUER_CIRCUIT_OPEN: 100}
    assert idp.request_count() == 2
    assert cache.stats.circuit_rejections == 100


def test_circuit_half_opens_after_reset(
    idp: InProcessIdp, config: IssuerConfig, clock: FakeClock, breaker: CircuitBreaker
) -> None:
    """After reset_after one trial goes out; its success closes the circuit."""
    cache = JwksCache(idp, clock=clock, breaker=breaker)
    idp.set_mode("down")
    kid = idp.current_kid()
    for _ in range(3):
        _reason(lambda: cache.get_key(config, kid, "RS256"))
    assert breaker.is_open(idp.jwks_uri)
    idp.set_mode("ok")
    clock.advance(30)
    assert cache.get_key(config, kid, "RS256").fetched
    assert not breaker.is_open(idp.jwks_uri)
    assert idp.request_count(idp.jwks_path) == 3


def test_open_circuit_serves_stale_keys_without_network(
    idp: InProcessIdp, config: IssuerConfig, clock: FakeClock, breaker: CircuitBreaker
) -> None:
    """With warm keys, an open circuit still serves them (stale) and makes no request."""
    cache = JwksCache(idp, clock=clock, breaker=breaker)
    kid = idp.current_kid()
    cache.get_key(config, kid, "RS256")
    clock.advance(300)
    idp.set_mode("down")
    assert [cache.get_key(config, kid, "RS256").fetched for _ in range(4)] == [
        True,
        True,
        False,
        False,
    ]
    assert idp.request_count(idp.jwks_path) == 3
    assert cache.stats.stale_serves == 4


# ---------------------------------------------------------------- concurrency and memory


def _in_thread(call: Callable[[], ResolvedKey]) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except AuthorizerError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_concurrent_refreshes_of_one_uri_make_one_fetch(
    dev_issuer: FaultyIssuer, served_config: IssuerConfig, clock: FakeClock
) -> None:
    """Two threads missing the same URI at once share one request."""
    served_cache = JwksCache(HttpFetcher(timeout=2), clock=clock)
    dev_issuer.set_mode("slow", paths=[dev_issuer.jwks_path])
    dev_issuer.slow_seconds = 0.3  # long enough for both threads to be waiting
    kid = dev_issuer.current_kid()
    barrier = threading.Barrier(2)

    def call() -> ResolvedKey:
        barrier.wait()
        return served_cache.get_key(served_config, kid, "RS256")

    started = [_in_thread(call) for _ in range(2)]
    for thread, _ in started:
        thread.join(5)
    results = [outcome[0] for _, outcome in started]
    assert all(isinstance(r, ResolvedKey) for r in results)
    assert sorted(r.fetched for r in results if isinstance(r, ResolvedKey)) == [False, True]
    assert dev_issuer.request_count(dev_issuer.jwks_path) == 1


def test_refresh_in_progress_does_not_block_warm_lookups(
    dev_issuer: FaultyIssuer, served_config: IssuerConfig, clock: FakeClock
) -> None:
    """While one thread waits on a slow kid refetch, known kids of that URI answer at once."""
    served_cache = JwksCache(_patient_fetcher(), clock=clock)
    kid = dev_issuer.current_kid()
    served_cache.get_key(served_config, kid, "RS256")
    clock.advance(30)
    dev_issuer.set_mode("slow")
    thread, outcome = _in_thread(
        lambda: served_cache.get_key(served_config, "rotated-kid", "RS256")
    )
    assert wait_until(lambda: dev_issuer.request_count(dev_issuer.jwks_path) == 2)
    started = time.monotonic()
    assert served_cache.get_key(served_config, kid, "RS256").kid == kid
    assert time.monotonic() - started < 0.2  # the refetch would hold it for 2 s
    dev_issuer.stop()  # the slow answer is dropped: the refetch fails now
    thread.join(5)
    assert isinstance(outcome[0], AuthorizerError)
    assert outcome[0].reason is Reason.KID_UNKNOWN  # the set is fresh; the refetch failed


def test_dead_idp_does_not_block_other_issuers(
    dev_issuer: FaultyIssuer,
    served_config: IssuerConfig,
    clock: FakeClock,
    signing_keys: dict[str, PrivateKey],
) -> None:
    """A fetch hanging on one tenant's IdP does not delay another issuer's cold fetch."""
    served_cache = JwksCache(_patient_fetcher(), clock=clock)
    dev_issuer.set_mode("slow")
    thread, outcome = _in_thread(lambda: served_cache.get_key(served_config, "k", "RS256"))
    assert wait_until(lambda: dev_issuer.request_count() == 1)
    with FaultyIssuer(keys=signing_keys) as healthy:
        started = time.monotonic()
        served_cache.get_key(issuer_config(healthy), healthy.current_kid(), "RS256")
        assert time.monotonic() - started < 0.5  # the hanging fetch would hold it for 2 s
    dev_issuer.stop()
    thread.join(5)
    assert isinstance(outcome[0], PlatformFault)


def test_uris_are_bounded(clock: FakeClock, good_jwk: dict[str, Any]) -> None:
    """Beyond what max_bytes holds the least recently refreshed URI is forgotten (and fetched)."""
    uris = [f"https://idp{i}.example.test/jwks.json" for i in range(3)]
    fetcher = StubFetcher({uri: {"keys": [good_jwk]} for uri in uris})
    probe = JwksCache(StubFetcher({uris[0]: {"keys": [good_jwk]}}), clock=clock)
    probe.get_key(_stub_config(jwks_uri=uris[0]), "good", "RS256")
    cache = JwksCache(fetcher, clock=clock, max_bytes=int(2.5 * probe.key_set_bytes))
    for uri in [*uris, uris[2], uris[0]]:
        cache.get_key(_stub_config(jwks_uri=uri), "good", "RS256")
    assert fetcher.calls == [*uris, uris[0]]


@pytest.mark.parametrize(
    ("idp_max_age", "refreshed_after"), [(86_400, 600), (None, 600), (120, 120)]
)
def test_the_platform_max_age_caps_the_idps_cache_control(
    clock: FakeClock, good_jwk: dict[str, Any], idp_max_age: int | None, refreshed_after: int
) -> None:
    """TENANT_AUTHZ_JWKS_MAX_AGE_SECONDS bounds how long a key set (and a removed key) lives."""
    fetcher = StubFetcher({STUB_JWKS: {"keys": [good_jwk]}}, max_age=idp_max_age)
    cache = JwksCache.from_settings(Settings(jwks_max_age=600), fetcher, clock=clock)
    cache.get_key(_stub_config(), "good", "RS256")
    clock.advance(refreshed_after - 1)
    cache.get_key(_stub_config(), "good", "RS256")
    assert len(fetcher.calls) == 1
    clock.advance(2)
    assert cache.get_key(_stub_config(), "good", "RS256").fetched
    assert len(fetcher.calls) == 2


def test_two_keys_under_one_kid_are_two_keys(
    clock: FakeClock, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    """An RSA and an EC key share a kid: removing either ends what it verified, not the other."""
    both = {"keys": [_jwk(rsa_key.public_key(), "k"), _jwk(ec_key.public_key(), "k")]}
    fetcher = StubFetcher({STUB_JWKS: both})
    cache = JwksCache(fetcher, clock=clock)
    by_ec = cache.get_key(_stub_config(), "k", "ES256")
    by_rsa = cache.get_key(_stub_config(), "k", "RS256")
    fetcher.documents[STUB_JWKS] = {"keys": [_jwk(rsa_key.public_key(), "k")]}  # EC removed
    clock.advance(601)
    assert cache.get_key(_stub_config(), "k", "RS256").fetched
    assert not cache.is_current(STUB_JWKS, by_ec.generation, "k", "ES256")
    assert cache.is_current(STUB_JWKS, by_rsa.generation, "k", "RS256")
    assert _reason(lambda: cache.get_key(_stub_config(), "k", "ES256")) is (
        Reason.ALGORITHM_NOT_ALLOWED
    )


@pytest.mark.parametrize(
    ("jwks_uri", "private_ok"),
    [("https://idp.example.test/keys", True), ("https://elsewhere.example.test/keys", False)],
)
def test_private_addresses_only_for_urls_the_tenant_names(
    clock: FakeClock, good_jwk: dict[str, Any], jwks_uri: str, private_ok: bool
) -> None:
    """Discovery on the issuer's host may reach a private IdP; a jwks_uri elsewhere may not."""
    metadata = metadata_url(STUB_ISSUER, "oidc")
    fetcher = StubFetcher(
        {metadata: {"issuer": STUB_ISSUER, "jwks_uri": jwks_uri}, jwks_uri: {"keys": [good_jwk]}}
    )
    cache = JwksCache(fetcher, clock=clock)
    cache.get_key(_stub_config(jwks_uri=None, discovery="oidc"), "good", "RS256")
    assert fetcher.private_ok == {metadata: True, jwks_uri: private_ok}
    explicit = StubFetcher({STUB_JWKS: {"keys": [good_jwk]}})
    JwksCache(explicit, clock=clock).get_key(_stub_config(), "good", "RS256")
    assert explicit.private_ok == {STUB_JWKS: True}
