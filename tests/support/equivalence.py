"""The equivalence corpus (issue 17): events of every kind, outcome and reason, with the
responses and decision lines the handler gave for them, recorded once and committed.

A faster decision path must answer each recorded event exactly as before: the same
response (or the same 401/500), and the same decision line once the timestamp and the
latency are masked. Inputs are recorded too (tenant documents, the JWKS, the tokens,
the clock), and nothing reaches the network: the JWKS comes from an in-process fetcher.

Record (only from a commit whose behaviour is the reference), from the repository root::

    .venv/bin/python tests/support/equivalence.py tests/data/equivalence.json
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: import the tests' support package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from support.events import EVENT_KINDS, event
from support.harness import tenant_doc
from tenant_authorizer import handler as lambda_handler
from tenant_authorizer.runtime.authorizer import Authorizer
from tenant_authorizer.runtime.fetch import FetchResult
from tenant_authorizer.runtime.jwks import JwksCache
from tenant_authorizer.runtime.registry import TenantRegistry
from tenant_authorizer.runtime.sources import StaticSource
from tenant_authorizer.runtime.telemetry import Telemetry
from tenant_authorizer.tools.documents import render_account_documents

NOW = 1_796_000_000  # every token's iat; the decisions' wall clock is NOW + 10
ISS = "https://idp.equivalence.example"
JWKS_URI = f"{ISS}/jwks.json"
AUDIENCE = "https://api.example.test"
ACME, SIMPLE, HELLO, PHIL, NOBODY = (
    "123456789012",
    "210987654321",
    "264575131106",
    "331662479036",
    "999988887777",
)
HS_SECRET = b"an-equivalence-corpus-hs256-secret-of-32-bytes!"
STATIC = "phil-static-token-0123456789abcdef"


class _Fetcher:
    """The JWKS of the corpus, as an IdP would serve it (max-age 600)."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks

    def get_json(
        self,
        url: str,
        *,
        local_development: bool = False,
        deadline: float | None = None,
        private_ok: bool = False,
    ) -> FetchResult:
        del local_development, deadline, private_ok
        if url != JWKS_URI:
            raise AssertionError(f"the corpus fetches only {JWKS_URI}, not {url}")
        return FetchResult(self.jwks, 600)


def docs() -> list[dict[str, Any]]:
    """Tenants of every kind: RS256/ES256 with route rules, a simple-response binding,
    HS256, a static token."""
    issuer = {
        "issuer": ISS,
        "jwks_uri": JWKS_URI,
        "audiences": [AUDIENCE],
        "algorithms": ["RS256", "ES256"],
    }
    rules = {
        "default": "deny",
        "rules": [
            {"path": "/orders*", "methods": ["GET"], "scopes_any": ["orders:read"]},
            {"path": "/admin*", "scopes_all": ["admin"]},
            {"path": "*", "methods": ["*"], "scopes_any": ["orders:read"]},
        ],
    }
    return [
        tenant_doc("acme", ACME, [issuer], api_ids=["a1b2c3d4e5"], routes=rules),
        tenant_doc("simple", SIMPLE, [issuer], response="simple"),
        tenant_doc(
            "hello",
            HELLO,
            [
                {
                    "issuer": "https://auth.hello.example",
                    "algorithms": ["HS256"],
                    "hmac_secret_parameter": "/tenant-authorizer/secrets/hello/hs256",
                    "audiences": ["hello-api"],
                }
            ],
        ),
        tenant_doc(
            "phil",
            PHIL,
            static_tokens=[
                {
                    "id": "website",
                    "sha256": hashlib.sha256(STATIC.encode()).hexdigest(),
                    "principal_id": "phils-website",
                    "scopes": ["orders:read"],
                }
            ],
        ),
    ]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _tokens() -> tuple[dict[str, str], dict[str, Any]]:
    """Tokens for every case, and the public JWKS that verifies them."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    jwks = {
        "keys": [
            {**rsa_jwk, "kid": "rs", "use": "sig", "alg": "RS256"},
            {**ec_jwk, "kid": "es", "use": "sig", "alg": "ES256"},
        ]
    }

    def claims(**extra: Any) -> dict[str, Any]:
        base = {"iss": ISS, "sub": "user-1", "aud": AUDIENCE, "iat": NOW, "nbf": NOW,
                "exp": NOW + 3600, "scope": "orders:read", "jti": "j-1"}  # fmt: skip
        base.update(extra)
        return {k: v for k, v in base.items() if v is not None}

    def rs(payload: dict[str, Any], kid: str = "rs", key: Any = rsa_key) -> str:
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})

    good = rs(claims())
    header, body, signature = good.split(".")
    tokens = {
        "rs256": good,
        "es256": jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "es"}),
        "admin": rs(claims(scope="orders:read admin")),
        "expired": rs(claims(iat=NOW - 7200, nbf=NOW - 7200, exp=NOW - 3600)),
        "not_yet_valid": rs(claims(nbf=NOW + 3600)),
        "audience": rs(claims(aud="https://other.example")),
        "issuer": rs(claims(iss="https://evil.example")),
        "no_scope": rs(claims(scope=None)),
        "kid_unknown": rs(claims(), kid="nope"),
        "forged": rs(claims(), key=other),
        "tampered": f"{header}.{_b64(json.dumps(claims(sub='admin')).encode())}.{signature}",
        "alg_none": _b64(b'{"alg":"none","typ":"JWT"}') + f".{body}.",
        "malformed": "not-a-jwt",
        "hs256": jwt.encode(
            {
                "iss": "https://auth.hello.example",
                "sub": "u",
                "aud": "hello-api",
                "iat": NOW,
                "exp": NOW + 600,
            },
            HS_SECRET,
            algorithm="HS256",
        ),
        "static": STATIC,
    }
    return tokens, jwks


def _event(kind: str, token: str | None, **where: Any) -> dict[str, Any]:
    """A real-format event; a WebSocket client (not a browser) sends the header too."""
    data = event(kind, token, **where)
    if kind == "websocket_connect" and token is not None:
        data.setdefault("headers", {})["Authorization"] = f"Bearer {token}"
    return data


def cases(tokens: dict[str, str]) -> list[dict[str, Any]]:
    """(name, event) for every kind of event and every outcome the corpus covers."""
    event = _event
    out: list[dict[str, Any]] = []
    for kind in EVENT_KINDS:
        route = {"path": "/orders/42"} if kind != "websocket_connect" else {}
        for name in ("rs256", "es256", "expired", "not_yet_valid", "audience", "issuer",
                     "kid_unknown", "forged", "tampered", "alg_none", "malformed"):  # fmt: skip
            out.append(
                {
                    "name": f"{kind}/acme/{name}",
                    "event": event(kind, tokens[name], account=ACME, **route),
                }
            )
        out.append(
            {
                "name": f"{kind}/acme/rs256-again",
                "event": event(kind, tokens["rs256"], account=ACME, **route),
            }
        )
        out.append(
            {"name": f"{kind}/acme/no-token", "event": event(kind, None, account=ACME, **route)}
        )
        out.append(
            {
                "name": f"{kind}/unbound",
                "event": event(kind, tokens["rs256"], account=NOBODY, **route),
            }
        )
        out.append(
            {
                "name": f"{kind}/other-api",
                "event": event(kind, tokens["rs256"], account=ACME, api_id="z9y8x7w6v5", **route),
            }
        )
        out.append(
            {
                "name": f"{kind}/hello/hs256",
                "event": event(kind, tokens["hs256"], account=HELLO, **route),
            }
        )
        out.append(
            {
                "name": f"{kind}/phil/static",
                "event": event(kind, tokens["static"], account=PHIL, **route),
            }
        )
        if kind != "websocket_connect":
            out.append(
                {
                    "name": f"{kind}/acme/admin-denied",
                    "event": event(kind, tokens["rs256"], account=ACME, path="/admin/x"),
                }
            )
            out.append(
                {
                    "name": f"{kind}/acme/admin-allowed",
                    "event": event(kind, tokens["admin"], account=ACME, path="/admin/x"),
                }
            )
            out.append(
                {
                    "name": f"{kind}/acme/no-scope",
                    "event": event(kind, tokens["no_scope"], account=ACME, **route),
                }
            )
        if kind == "http_v2":
            out.append(
                {
                    "name": "http_v2/simple/rs256",
                    "event": event(kind, tokens["rs256"], account=SIMPLE),
                }
            )
            out.append(
                {
                    "name": "http_v2/simple/expired",
                    "event": event(kind, tokens["expired"], account=SIMPLE),
                }
            )
    return out  # fmt: skip


def _mask(line: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(line)
    record.pop("latency_ms", None)
    record.get("_aws", {}).pop("Timestamp", None)
    return record


def run(corpus: dict[str, Any]) -> list[dict[str, Any]]:
    """Each case through the handler, in order, on one warm instance: its answer and line."""
    clock = float(NOW + 10)
    lines: list[str] = []
    registry = TenantRegistry(
        StaticSource(
            render_account_documents(corpus["docs"]),
            {"/tenant-authorizer/secrets/hello/hs256": HS_SECRET},
        ),
        ttl=3600,
        clock=lambda: clock,
    )
    jwks = JwksCache(_Fetcher(corpus["jwks"]), clock=lambda: clock)
    telemetry = Telemetry(write=lines.append, clock=lambda: clock)
    authorizer = Authorizer(registry, jwks, telemetry, clock=lambda: clock)
    saved = lambda_handler._authorizer
    lambda_handler._authorizer = authorizer
    results = []
    try:
        for case in corpus["cases"]:
            before = len(lines)
            try:
                answer: dict[str, Any] = {"response": lambda_handler.handler(case["event"])}
            except lambda_handler.AuthorizerFault as exc:
                answer = {"fault": str(exc)}
            except Exception as exc:  # noqa: BLE001 - API Gateway's 401 is an exception
                answer = {"error": str(exc)}
            answer["lines"] = [_mask(line) for line in lines[before:]]
            results.append({"name": case["name"], **answer})
    finally:
        lambda_handler._authorizer = saved
    return results


def record(path: Path) -> None:
    """Write the corpus: inputs, and the outputs of the code as it is now."""
    tokens, public = _tokens()
    corpus: dict[str, Any] = {"docs": docs(), "jwks": public, "cases": cases(tokens)}
    corpus["expected"] = run(corpus)
    path.write_text(json.dumps(corpus, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    record(Path(sys.argv[1]))
