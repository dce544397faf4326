"""Sender-constrained tokens (issue 19): mTLS-bound (RFC 8705) and DPoP-bound (RFC 9449).

Keys, certificates and proofs are made at test time. Each kind of event that can carry a
proof (REST REQUEST, HTTP API 1.0 and 2.0) allows a bound token with the right proof or
certificate and refuses it with a wrong, missing, replayed, stale or mismatched one;
TOKEN and WebSocket events refuse bound tokens with their own reason; and no memory of
an earlier decision ever stands in for the proof.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support.events import event
from support.harness import Harness, issuer_entry, tenant_doc
from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.runtime.binding import jwk_thumbprint
from tenant_authorizer.runtime.errors import Reason

ACCOUNT = "565656565656"
PROOF_KINDS = ("rest_request", "http_v1", "http_v2")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIssuer]:
    with DevIssuer(port=0) as issuer:
        yield issuer


class Client:
    """A client holding a DPoP key and a TLS certificate."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        self.jkt = jwk_thumbprint(self.jwk)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client.example")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        self.x5t = _b64(hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest())

    def proof(
        self,
        token: str,
        htu: str,
        htm: str = "GET",
        *,
        iat: float | None = None,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        body = {
            "jti": secrets.token_urlsafe(12),
            "htm": htm,
            "htu": htu,
            "iat": int(time.time()) if iat is None else iat,
            "ath": _b64(hashlib.sha256(token.encode()).digest()),
            **claims,
        }
        headers = {"typ": "dpop+jwt", "jwk": self.jwk, **(header or {})}
        return jwt.encode(body, self.key, algorithm="ES256", headers=headers)


URL = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod/orders/42"


def _docs(idp: DevIssuer, **fields: Any) -> list[dict[str, Any]]:
    issuer = fields.pop("issuer", {})
    return [tenant_doc("bound", ACCOUNT, [issuer_entry(idp, **issuer)], **fields)]


def _event(
    kind: str,
    token: str,
    *,
    proof: str | None = None,
    cert: str | None = None,
    scheme: str = "DPoP",
    domain: str | None = None,
) -> dict[str, Any]:
    ev = event(kind, token, account=ACCOUNT)
    headers = ev.get("headers") or {}
    for name in list(headers):
        if name.lower() == "authorization":
            headers[name] = f"{scheme} {token}"
    multi = ev.get("multiValueHeaders")
    if isinstance(multi, dict):
        for name in list(multi):
            if name.lower() == "authorization":
                multi[name] = [f"{scheme} {token}"]
    if proof is not None:
        headers["DPoP" if kind == "rest_request" else "dpop"] = proof
        if isinstance(multi, dict):
            multi["DPoP"] = [proof]
    context = ev["requestContext"]
    if domain is not None:
        context["domainName"] = domain
    if cert is not None:
        holder = "authentication" if kind == "http_v2" else "identity"
        context.setdefault(holder, {})["clientCert"] = {
            "clientCertPem": cert,
            "subjectDN": "CN=client.example",
            "issuerDN": "CN=client.example",
            "serialNumber": "1",
            "validity": {"notBefore": "x", "notAfter": "y"},
        }
    return ev


def _reason(harness: Harness, ev: dict[str, Any]) -> tuple[str, Reason]:
    result = harness.evaluate(ev)
    return result.outcome, result.reason


@pytest.mark.parametrize("kind", PROOF_KINDS)
def test_a_dpop_bound_token_needs_a_fresh_proof_of_its_key(idp: DevIssuer, kind: str) -> None:
    harness = Harness(_docs(idp))
    client, thief = Client(), Client()
    token = idp.mint({"cnf": {"jkt": client.jkt}})
    assert _reason(harness, _event(kind, token, proof=client.proof(token, URL))) == (
        "allow",
        Reason.OK,
    )
    refused = {
        "missing": (_event(kind, token), Reason.DPOP_PROOF_MISSING),
        "thief's key": (
            _event(kind, token, proof=thief.proof(token, URL)),
            Reason.DPOP_KEY_MISMATCH,
        ),
        "stale": (
            _event(kind, token, proof=client.proof(token, URL, iat=time.time() - 120)),
            Reason.DPOP_PROOF_STALE,
        ),
        "other URL": (
            _event(kind, token, proof=client.proof(token, URL.replace("42", "43"))),
            Reason.DPOP_PROOF_INVALID,
        ),
        "other method": (
            _event(kind, token, proof=client.proof(token, URL, "POST")),
            Reason.DPOP_PROOF_INVALID,
        ),
        "for another token": (
            _event(kind, token, proof=client.proof(idp.mint(), URL)),
            Reason.DPOP_PROOF_INVALID,
        ),
        "as a bearer token": (
            _event(kind, token, proof=client.proof(token, URL), scheme="Bearer"),
            Reason.DPOP_PROOF_INVALID,
        ),
        "typ JWT": (
            _event(kind, token, proof=client.proof(token, URL, header={"typ": "JWT"})),
            Reason.DPOP_PROOF_INVALID,
        ),
        "two proofs": (
            _event(kind, token, proof=client.proof(token, URL) + "," + client.proof(token, URL)),
            Reason.DPOP_PROOF_INVALID,
        ),
    }
    outcomes = {name: _reason(harness, ev) for name, (ev, _) in refused.items()}
    assert outcomes == {name: ("unauthorized", reason) for name, (_, reason) in refused.items()}
    replayed = client.proof(token, URL)
    assert _reason(harness, _event(kind, token, proof=replayed))[0] == "allow"
    assert _reason(harness, _event(kind, token, proof=replayed)) == (
        "unauthorized",
        Reason.DPOP_PROOF_REPLAYED,
    )
    assert token not in "\n".join(harness.lines) and replayed not in "\n".join(harness.lines)


def test_a_proof_with_private_or_symmetric_keys_is_refused(idp: DevIssuer) -> None:
    harness = Harness(_docs(idp))
    client = Client()
    token = idp.mint({"cnf": {"jkt": client.jkt}})
    private = dict(client.jwk)
    private["d"] = _b64(client.key.private_numbers().private_value.to_bytes(32, "big"))
    with_private = client.proof(token, URL, header={"jwk": private})
    symmetric = jwt.encode(
        {"jti": "j", "htm": "GET", "htu": URL, "iat": int(time.time())},
        "k" * 32,
        algorithm="HS256",
        headers={"typ": "dpop+jwt", "jwk": client.jwk},
    )
    for proof in (with_private, symmetric, "not.a.jwt", "x" * 9000):
        assert _reason(harness, _event("rest_request", token, proof=proof)) == (
            "unauthorized",
            Reason.DPOP_PROOF_INVALID,
        )


@pytest.mark.parametrize("kind", PROOF_KINDS)
def test_an_mtls_bound_token_needs_its_certificate(idp: DevIssuer, kind: str) -> None:
    harness = Harness(_docs(idp))
    client, other = Client(), Client()
    token = idp.mint({"cnf": {"x5t#S256": client.x5t}})
    ok = _event(kind, token, cert=client.pem, scheme="Bearer")
    assert _reason(harness, ok) == ("allow", Reason.OK)
    assert _reason(harness, _event(kind, token, scheme="Bearer")) == (
        "unauthorized",
        Reason.CERTIFICATE_MISSING,
    )
    assert _reason(harness, _event(kind, token, cert=other.pem, scheme="Bearer")) == (
        "unauthorized",
        Reason.CERTIFICATE_MISMATCH,
    )


@pytest.mark.parametrize("kind", ["rest_token", "websocket_connect"])
def test_events_without_proofs_refuse_bound_tokens(idp: DevIssuer, kind: str) -> None:
    token_source = {"token": {"query": "access_token"}} if kind == "websocket_connect" else {}
    harness = Harness(_docs(idp, **token_source))
    client = Client()
    for cnf in ({"jkt": client.jkt}, {"x5t#S256": client.x5t}):
        ev = event(kind, idp.mint({"cnf": cnf}), account=ACCOUNT)
        assert _reason(harness, ev) == ("unauthorized", Reason.BINDING_UNSUPPORTED)
    assert _reason(harness, event(kind, idp.mint(), account=ACCOUNT))[0] == "allow"


def test_no_memory_of_an_allowed_bound_token_stands_in_for_its_proof(idp: DevIssuer) -> None:
    """Allowed once (and again, so a plain token would now be held whole), the same bound
    token on the same ARN without a proof is still refused."""
    harness = Harness(_docs(idp))
    client = Client()
    token = idp.mint({"cnf": {"jkt": client.jkt}})
    for _ in range(3):
        assert (
            _reason(harness, _event("rest_request", token, proof=client.proof(token, URL)))[0]
            == "allow"
        )
    assert _reason(harness, _event("rest_request", token)) == (
        "unauthorized",
        Reason.DPOP_PROOF_MISSING,
    )
    assert harness.records()[-2]["cache"] == "hit", "verification was remembered, not the proof"


def test_an_issuer_that_requires_binding_refuses_bearer_tokens(idp: DevIssuer) -> None:
    harness = Harness(_docs(idp, issuer={"sender_constraint": "dpop"}))
    client = Client()
    bound = idp.mint({"cnf": {"jkt": client.jkt}})
    assert _reason(harness, _event("http_v2", bound, proof=client.proof(bound, URL)))[0] == "allow"
    plain = idp.mint()
    assert _reason(harness, _event("http_v2", plain, scheme="Bearer")) == (
        "unauthorized",
        Reason.BINDING_REQUIRED,
    )
    mtls = idp.mint({"cnf": {"x5t#S256": client.x5t}})
    assert _reason(harness, _event("http_v2", mtls, cert=client.pem, scheme="Bearer")) == (
        "unauthorized",
        Reason.BINDING_REQUIRED,
    )


def test_a_token_bound_by_a_method_not_checked_here_is_refused(idp: DevIssuer) -> None:
    harness = Harness(_docs(idp))
    token = idp.mint({"cnf": {"jwk": Client().jwk}})
    assert _reason(harness, _event("rest_request", token, scheme="Bearer")) == (
        "unauthorized",
        Reason.BINDING_UNSUPPORTED,
    )


def test_htu_follows_the_custom_domain_or_the_public_base_url(idp: DevIssuer) -> None:
    client = Client()
    token = idp.mint({"cnf": {"jkt": client.jkt}})
    custom = "https://API.Example.com:443/v1/orders/42"  # case and default port normalised
    harness = Harness(_docs(idp))
    ev = _event("http_v2", token, proof=client.proof(token, custom), domain="api.example.com")
    ev["requestContext"]["http"]["path"] = "/v1/orders/42"  # the mapping's base path
    assert _reason(harness, ev)[0] == "allow"

    front = "https://www.example.com/api"
    fronted = Harness(_docs(idp, dpop={"public_base_url": front}))
    assert (
        _reason(
            fronted, _event("rest_request", token, proof=client.proof(token, front + "/orders/42"))
        )[0]
        == "allow"
    )
    assert _reason(fronted, _event("rest_request", token, proof=client.proof(token, URL))) == (
        "unauthorized",
        Reason.DPOP_PROOF_INVALID,
    )


def test_an_unbound_token_may_come_with_the_dpop_scheme(idp: DevIssuer) -> None:
    """RFC 9449 7.1's scheme is accepted where Bearer is: the token is still a bearer token."""
    harness = Harness(_docs(idp))
    assert _reason(harness, _event("rest_request", idp.mint(), scheme="DPoP"))[0] == "allow"


# ---------------------------------------------------------------- review findings


@pytest.mark.parametrize(
    "claims",
    [{"iat": 10**400}, {"iat": -(10**400)}, {"iat": "now"}, {"ath": "é" * 43}, {"jti": "é"}],
)
def test_hostile_proof_values_are_refused_not_faults(
    idp: DevIssuer, claims: dict[str, Any]
) -> None:
    harness = Harness(_docs(idp))
    client = Client()
    token = idp.mint({"cnf": {"jkt": client.jkt}})
    proof = client.proof(token, URL, **claims)
    assert _reason(harness, _event("rest_request", token, proof=proof)) == (
        "unauthorized",
        Reason.DPOP_PROOF_INVALID,
    )


@pytest.mark.parametrize("cnf", [{"jkt": "é" * 43}, {"x5t#S256": "é" * 43}, {"jkt": "short"}])
def test_a_malformed_thumbprint_in_cnf_is_refused_not_a_fault(
    idp: DevIssuer, cnf: dict[str, str]
) -> None:
    harness = Harness(_docs(idp))
    assert _reason(harness, _event("rest_request", idp.mint({"cnf": cnf}))) == (
        "unauthorized",
        Reason.TOKEN_MALFORMED,
    )


def test_a_flood_of_proofs_never_pushes_a_live_jti_out(idp: DevIssuer) -> None:
    """When the memory is full of live proofs, new ones are refused: a captured proof
    never becomes replayable because others pushed it out."""
    from tenant_authorizer.runtime.binding import BindingCheck

    harness = Harness(_docs(idp))
    harness.authorizer.binding = BindingCheck(tenant_bytes=4000)
    client = Client()
    token = idp.mint({"cnf": {"jkt": client.jkt}})
    captured = client.proof(token, URL)
    assert _reason(harness, _event("rest_request", token, proof=captured))[0] == "allow"
    outcomes = [
        _reason(harness, _event("rest_request", token, proof=client.proof(token, URL)))
        for _ in range(40)
    ]
    assert ("unauthorized", Reason.DPOP_PROOF_REPLAYED) in outcomes, "the memory filled"
    assert _reason(harness, _event("rest_request", token, proof=captured)) == (
        "unauthorized",
        Reason.DPOP_PROOF_REPLAYED,
    )


def test_the_url_is_never_rebuilt_from_the_clients_host_header(idp: DevIssuer) -> None:
    harness = Harness(_docs(idp))
    client = Client()
    token = idp.mint({"cnf": {"jkt": client.jkt}})
    ev = _event(
        "rest_request", token, proof=client.proof(token, "https://evil.example/prod/orders/42")
    )
    del ev["requestContext"]["domainName"]
    ev["headers"]["Host"] = "evil.example"
    assert _reason(harness, ev) == ("unauthorized", Reason.DPOP_PROOF_INVALID)
    assert "domainName" in harness.last()["detail"]


@pytest.mark.parametrize(
    "base",
    ["https://", "https://api.example.com:99999/v1", "https://u@api.example.com", "https://a b"],
)
def test_a_public_base_url_must_be_a_url(idp: DevIssuer, base: str) -> None:
    from tenant_authorizer.runtime.errors import ConfigError
    from tenant_authorizer.runtime.tenant_parser import parse_tenant
    from tenant_authorizer.tools.schema import schema_problems

    doc = _docs(idp, dpop={"public_base_url": base})[0]
    with pytest.raises(ConfigError, match="public_base_url"):
        parse_tenant(doc, "bound.yaml")
    assert schema_problems(doc, "bound.yaml")


def test_htm_is_the_requests_method_on_a_default_route(idp: DevIssuer) -> None:
    harness = Harness(_docs(idp))
    client = Client()
    token = idp.mint({"cnf": {"jkt": client.jkt}})
    ev = _event("http_v2", token, proof=client.proof(token, URL))
    ev["routeArn"] = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:a1b2c3d4e5/prod/$default"
    ev["routeKey"] = "$default"
    assert _reason(harness, ev)[0] == "allow"


def test_a_proof_key_must_be_on_its_algorithms_curve_and_crit_is_refused(idp: DevIssuer) -> None:
    harness = Harness(_docs(idp))
    client = Client()
    token = idp.mint({"cnf": {"jkt": client.jkt}})
    claims = {
        "jti": "j1",
        "htm": "GET",
        "htu": URL,
        "iat": int(time.time()),
        "ath": _b64(hashlib.sha256(token.encode()).digest()),
    }
    header = {"typ": "dpop+jwt", "alg": "ES384", "jwk": client.jwk}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    der = client.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA384()))
    raw = jwt.utils.der_to_raw_signature(der, client.key.curve)
    es384 = f"{signing_input}.{_b64(raw)}"  # what PyJWT would refuse to sign
    crit = client.proof(token, URL, header={"crit": ["exp"], "exp": 1})
    for proof in (es384, crit):
        assert _reason(harness, _event("rest_request", token, proof=proof)) == (
            "unauthorized",
            Reason.DPOP_PROOF_INVALID,
        )


def test_a_public_base_url_on_a_default_route_appends_the_path_sent(idp: DevIssuer) -> None:
    """A $default route's ARN names no path: the event's, after the stage, is appended."""
    front = "https://pay.example/api"
    harness = Harness(_docs(idp, dpop={"public_base_url": front}))
    client = Client()
    token = idp.mint({"cnf": {"jkt": client.jkt}})
    ev = _event("http_v2", token, proof=client.proof(token, front + "/orders/42"))
    ev["routeArn"] = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:a1b2c3d4e5/prod/$default"
    ev["routeKey"] = "$default"
    assert _reason(harness, ev)[0] == "allow"


def test_one_tenants_flood_of_proofs_never_fills_another_tenants_memory(idp: DevIssuer) -> None:
    from tenant_authorizer.runtime.binding import BindingCheck

    other_account = "676767676767"
    docs = [*_docs(idp), tenant_doc("other", other_account, [issuer_entry(idp)])]
    harness = Harness(docs)
    harness.authorizer.binding = BindingCheck(tenant_bytes=4000, seen_bytes=1 << 20)
    client = Client()
    token = idp.mint({"cnf": {"jkt": client.jkt}})
    flood = [
        _reason(harness, _event("rest_request", token, proof=client.proof(token, URL)))
        for _ in range(40)
    ]
    assert ("unauthorized", Reason.DPOP_PROOF_REPLAYED) in flood, "the flooder's memory filled"
    ev = event("rest_request", token, account=other_account)
    ev["headers"]["Authorization"] = f"DPoP {token}"
    ev["headers"]["DPoP"] = ev["multiValueHeaders"]["DPoP"] = client.proof(token, URL)
    ev["multiValueHeaders"]["DPoP"] = [ev["headers"]["DPoP"]]
    assert _reason(harness, ev)[0] == "allow", "another tenant's proofs are still remembered"
