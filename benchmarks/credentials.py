"""The credentials of issue 18, each beside its floor, in interleaved rounds (medians).

* HS256, a new token on the production path (every cache on, the handler's line
  written) / the raw HMAC-SHA256 of the same tokens and its constant-time compare;
* an opaque token whose introspection answer is cached / a dictionary lookup (the floor
  of any cache), and the whole decision of such a token with the per-token memory off;
* an API key that carries its id, new on the production path / one salted SHA-256;
* a refused bare key against the 16 bare entries a tenant may hold / one salted SHA-256:
  the bound of decision 0027.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import jwt

from support.events import event
from support.harness import tenant_doc
from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.runtime.authorizer import Authorizer
from tenant_authorizer.runtime.caller import parse_arn
from tenant_authorizer.runtime.fetch import HttpFetcher
from tenant_authorizer.runtime.jwks import JwksCache
from tenant_authorizer.runtime.memo import TokenMemo
from tenant_authorizer.runtime.registry import TenantRegistry
from tenant_authorizer.runtime.sources import StaticSource
from tenant_authorizer.runtime.telemetry import Telemetry
from tenant_authorizer.tools.api_keys import new_key, stored_hash
from tenant_authorizer.tools.documents import render_account_documents

Row = tuple[str, str, str, str]
ACCOUNT = "123456789012"
ROUNDS = 7
PER_ROUND = 300
SECRET = b"bench-hs256-secret-of-enough-length-0123456789"
SECRET_NAME = "/tenant-authorizer/secrets/bench/hs256"
CLIENT_NAME = "/tenant-authorizer/secrets/bench/introspection"


def _authorizer(
    docs: list[dict[str, Any]], secrets: dict[str, bytes], sink: Any, **memo: Any
) -> Authorizer:
    registry = TenantRegistry(StaticSource(render_account_documents(docs), secrets))
    jwks = JwksCache(HttpFetcher())
    return Authorizer(
        registry, jwks, Telemetry(write=sink), memo=TokenMemo(jwks, time.time, **memo)
    )


def _each(fn: Callable[[Any], Any], items: list[Any]) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items)


def _interleaved(timers: dict[str, Callable[[int], float]]) -> dict[str, float]:
    """Median seconds per call of each timer (given its round), in rotating order."""
    samples: dict[str, list[float]] = {name: [] for name in timers}
    names = list(timers)
    for n in range(ROUNDS):
        shift = n % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(timers[name](n))
    return {name: statistics.median(values) for name, values in samples.items()}


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} us"


def credential_rows(rows: list[Row]) -> None:
    from peers import line_sink

    _, drain = line_sink()
    _hs256(rows, drain)
    _introspection(rows, drain)
    _api_keys(rows, drain)
    _dpop(rows, drain)


def _hs256(rows: list[Row], drain: Callable[[str], None]) -> None:
    issuer = "https://auth.bench.example"
    entry = {
        "issuer": issuer,
        "algorithms": ["HS256"],
        "hmac_secret_parameter": SECRET_NAME,
        "audiences": ["bench-api"],
    }
    docs = [tenant_doc("bench", ACCOUNT, [entry], api_ids=["a1b2c3d4e5"])]
    now = int(time.time())

    def mint(n: int) -> str:
        claims = {"iss": issuer, "sub": f"u{n}", "aud": "bench-api", "exp": now + 3600}
        return jwt.encode(claims, SECRET, algorithm="HS256")

    batches = [[mint(r * PER_ROUND + i) for i in range(PER_ROUND)] for r in range(ROUNDS + 1)]
    events = [[event("rest_token", t) for t in batch] for batch in batches]

    def raw(token: str) -> None:
        head, _, signature = token.rpartition(".")
        expected = hmac.new(SECRET, head.encode(), hashlib.sha256).digest()
        hmac.compare_digest(expected, jwt.utils.base64url_decode(signature))

    def project(n: int) -> float:
        auth = _authorizer(docs, {SECRET_NAME: SECRET}, drain)
        assert auth.evaluate(events[ROUNDS][0]).outcome == "allow"  # warm: secret read
        return _each(auth.evaluate, events[n])

    med = _interleaved({"raw": lambda n: _each(raw, batches[n]), "project": project})
    rows.append(("raw HMAC-SHA256 + compare (HS256), new tokens", _us(med["raw"]), "1.00x", ""))
    rows.append(
        (
            "warm, new token (HS256): project, production path",
            _us(med["project"]),
            f"{med['project'] / med['raw']:.2f}x",
            f"median of {ROUNDS} interleaved rounds of {PER_ROUND}",
        )
    )


def _introspection(rows: list[Row], drain: Callable[[str], None]) -> None:
    with DevIssuer(port=0, client_secret="bench-client-0123456789") as idp:  # noqa: S106
        entry = {
            "issuer": idp.issuer,
            "jwks_uri": idp.jwks_uri,
            "audiences": [idp.audience],
            "local_development": True,
            "introspection": {
                "endpoint": idp.introspection_endpoint,
                "client_id": "bench",
                "client_secret_parameter": CLIENT_NAME,
                "cache_seconds": 3600,
                "max_calls_per_second": 1000,  # the bench introspects its tokens at once
            },
        }
        docs = [tenant_doc("bench", ACCOUNT, [entry], api_ids=["a1b2c3d4e5"])]
        secrets = {CLIENT_NAME: idp.client_secret.encode()}
        tokens = [idp.mint_opaque(expires_in=3600) for _ in range(PER_ROUND)]
        # The per-token memory off: every decision reaches the introspection cache.
        auth = _authorizer(docs, secrets, drain, verified_bytes=0, answers_bytes=0)
        events = [event("rest_token", t) for t in tokens]
        for ev in events:  # each token introspected once
            assert auth.evaluate(ev).outcome == "allow"
        calls = idp.request_count(idp.introspection_path)
        introspector = auth.introspector()
        issuer = auth.registry.lookup(parse_arn(events[0]["methodArn"])).tenant.config.issuers[0]
        digests = [hashlib.sha256(t.encode()).hexdigest() for t in tokens]
        pairs = list(zip(tokens, digests, strict=True))
        table = {("bench", idp.issuer, d): d for d in digests}
        keys = list(table)

        med = _interleaved(
            {
                "dict": lambda _n: _each(table.get, keys),
                "hit": lambda _n: _each(
                    lambda p: introspector.introspect(p[0], p[1], issuer, "bench", 3.0), pairs
                ),
                "decision": lambda _n: _each(auth.evaluate, events),
            }
        )
        assert idp.request_count(idp.introspection_path) == calls, "every round hit the cache"
    rows.append(("dictionary lookup (the floor of a cache)", _us(med["dict"]), "1.00x", ""))
    rows.append(
        (
            "introspection cache hit (opaque token)",
            _us(med["hit"]),
            f"{med['hit'] / med['dict']:.1f}x",
            "no call to the issuer; answer keyed by tenant, issuer, SHA-256",
        )
    )
    rows.append(
        (
            "  decision of a cached opaque token, memo off",
            _us(med["decision"]),
            "",
            "handler path; the first sight is one POST to the issuer",
        )
    )


def _api_keys(rows: list[Row], drain: Callable[[str], None]) -> None:
    keyed = [new_key(f"k{n}") for n in range(ROUNDS * PER_ROUND)]
    entries = [
        {"id": f"k{n}", "hash": stored_hash(key), "principal_id": "bot"}
        for n, key in enumerate(keyed)
    ]
    bare = [
        {
            "id": f"b{n}",
            "hash": stored_hash(f"bare-key-number-{n:04d}-xxxxxxxx"),
            "principal_id": "b",
            "bare": True,
        }
        for n in range(16)
    ]
    token = {"header": "x-api-key"}
    docs = [
        tenant_doc("bench", ACCOUNT, api_ids=["a1b2c3d4e5"], api_keys=entries + bare, token=token)
    ]
    salt = os.urandom(16)

    def one_hash(key: str) -> None:
        hmac.compare_digest(hashlib.sha256(salt + key.encode()).digest(), salt * 2)

    def request(key: str) -> dict[str, Any]:
        ev = event("rest_request", "x")
        ev["headers"] = {"x-api-key": key}
        ev["multiValueHeaders"] = {"x-api-key": [key]}
        return ev

    new_events = [
        [request(k) for k in keyed[r * PER_ROUND : (r + 1) * PER_ROUND]] for r in range(ROUNDS)
    ]
    wrong = [request(f"not-a-key-{n:06d}-yyyyyyyyyyyy") for n in range(PER_ROUND)]
    auth = _authorizer(docs, {}, drain)
    assert auth.evaluate(new_events[0][0]).outcome == "allow"
    refusing = _authorizer(docs, {}, drain)

    med = _interleaved(
        {
            "hash": lambda n: _each(one_hash, keyed[n * PER_ROUND : (n + 1) * PER_ROUND]),
            "keyed": lambda n: _each(auth.evaluate, new_events[n]),
            "bare": lambda _n: _each(refusing.evaluate, wrong),
        }
    )
    rows.append(("one salted SHA-256 of an API key", _us(med["hash"]), "1.00x", ""))
    rows.append(
        (
            "warm, new API key (tak_<id>_...): project, production path",
            _us(med["keyed"]),
            f"{med['keyed'] / med['hash']:.1f}x",
            "one hash; the rest is the decision and its line",
        )
    )
    rows.append(
        (
            "refused bare key, 16 bare entries (the bound)",
            _us(med["bare"]),
            f"{med['bare'] / med['hash']:.1f}x",
            "16 salted hashes, compared in constant time",
        )
    )


def _dpop(rows: list[Row], drain: Callable[[str], None]) -> None:
    """A DPoP-bound token, new, with a fresh proof / its two raw signature checks."""
    import base64
    import json

    from cryptography.hazmat.primitives.asymmetric import ec

    from decision_bench import raw_verifier
    from support.harness import issuer_entry
    from tenant_authorizer.runtime.binding import jwk_thumbprint

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    url = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod/orders/42"
    client = ec.generate_private_key(ec.SECP256R1())
    public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(client.public_key()))
    jkt = jwk_thumbprint(public_jwk)
    with DevIssuer(port=0) as idp:
        docs = [tenant_doc("bench", ACCOUNT, [issuer_entry(idp)], api_ids=["a1b2c3d4e5"])]
        keys = {k["kid"]: jwt.PyJWK(k).key for k in idp.jwks()["keys"]}
        rounds = []
        for _ in range(ROUNDS + 1):
            batch = []
            for _ in range(PER_ROUND):
                token = idp.mint({"cnf": {"jkt": jkt}}, expires_in=3600)
                claims = {
                    "jti": os.urandom(9).hex(),
                    "htm": "GET",
                    "htu": url,
                    "iat": int(time.time()),
                    "ath": b64(hashlib.sha256(token.encode()).digest()),
                }
                headers = {"typ": "dpop+jwt", "jwk": public_jwk}
                proof = jwt.encode(claims, client, algorithm="ES256", headers=headers)
                ev = event("rest_request", token)
                ev["headers"]["Authorization"] = f"DPoP {token}"
                ev["headers"]["DPoP"] = proof
                ev["multiValueHeaders"]["DPoP"] = [proof]
                kid = jwt.get_unverified_header(token)["kid"]
                proof_key = jwt.PyJWK(public_jwk, algorithm="ES256").key
                checks = (
                    raw_verifier(token, keys[kid], "RS256"),
                    raw_verifier(proof, proof_key, "ES256"),
                )
                batch.append((ev, checks))
            rounds.append(batch)

        def floor(n: int) -> float:
            return _each(lambda item: (item[1][0](), item[1][1]()), rounds[n])

        def project(n: int) -> float:
            auth = _authorizer(docs, {}, drain)
            assert auth.evaluate(rounds[ROUNDS][0][0]).outcome == "allow"
            return _each(lambda item: auth.evaluate(item[0]), rounds[n])

        med = _interleaved({"floor": floor, "project": project})
    rows.append(
        (
            "two raw checks: the token (RS256) and its DPoP proof (ES256)",
            _us(med["floor"]),
            "1.00x",
            "",
        )
    )
    rows.append(
        (
            "warm, new DPoP-bound token with a fresh proof: project",
            _us(med["project"]),
            f"{med['project'] / med['floor']:.2f}x",
            "proof: typ, alg, jwk thumbprint, htm, htu, iat, ath, jti",
        )
    )
