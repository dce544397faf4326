"""Shared fixtures: signing keys generated once per session, and a running local issuer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from support.issuers import FakeClock, FaultyIssuer
from tenant_authorizer.dev.issuer import PrivateKey


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """An RSA 2048 private key, generated once per test session, never stored."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 private key, generated once per test session, never stored."""
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def signing_keys(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> dict[str, PrivateKey]:
    """Keys for DevIssuer(keys=...), so that starting an issuer generates none."""
    return {"RS256": rsa_key, "ES256": ec_key}


@pytest.fixture
def dev_issuer(signing_keys: dict[str, PrivateKey]) -> Iterator[FaultyIssuer]:
    """A running issuer on 127.0.0.1 (RS256 + ES256), healthy until a test sets a fault mode."""
    with FaultyIssuer(keys=signing_keys) as issuer:
        yield issuer


@pytest.fixture
def clock() -> FakeClock:
    """A fake monotonic clock for caches and breakers."""
    return FakeClock()
