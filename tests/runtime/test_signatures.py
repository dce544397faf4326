"""The signature checks the verifier calls agree with PyJWT's algorithms (jws.SIGNATURE_CHECKS).

RS* and ES* call ``cryptography`` directly (one padding and hash object per algorithm, not
per token): for keys and signatures made at test time, good, tampered, truncated, padded
and foreign ones, each answers exactly as PyJWT's ``Algorithm.verify`` does.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tenant_authorizer.runtime.jws import ALGORITHMS, SIGNATURE_CHECKS

_CURVES = {
    "ES256": ec.SECP256R1(),
    "ES256K": ec.SECP256K1(),
    "ES384": ec.SECP384R1(),
    "ES512": ec.SECP521R1(),
}
_CASES = [f"RS{n}" for n in (256, 384, 512)] + [f"PS{n}" for n in (256, 384, 512)]
_CASES += [alg for alg in _CURVES if alg in ALGORITHMS]


def _private(alg: str) -> Any:
    if alg in _CURVES:
        return ec.generate_private_key(_CURVES[alg])
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize("alg", _CASES)
def test_direct_checks_answer_as_pyjwt(alg: str) -> None:
    algorithm = ALGORITHMS[alg]
    signer, stranger = _private(alg), _private(alg)
    key = signer.public_key()
    message = b"eyJhbGciOiJ0ZXN0In0.eyJzdWIiOiJ4In0"
    good = algorithm.sign(message, signer)
    flipped = bytes([good[0] ^ 1]) + good[1:]
    signatures = {
        "good": good,
        "flipped": flipped,
        "truncated": good[:-1],
        "padded": good + b"\x00",
        "empty": b"",
        "foreign": algorithm.sign(message, stranger),
        "other message": algorithm.sign(message + b"x", signer),
    }
    answers = {name: SIGNATURE_CHECKS[alg](message, key, sig) for name, sig in signatures.items()}
    expected = {name: algorithm.verify(message, key, sig) for name, sig in signatures.items()}
    assert answers == expected
    assert answers["good"] is True
    assert not any(answer for name, answer in answers.items() if name != "good")


def test_every_algorithm_has_a_check_and_no_other() -> None:
    assert all(callable(SIGNATURE_CHECKS[alg]) for alg in ALGORITHMS)
    with pytest.raises(KeyError):
        SIGNATURE_CHECKS["XS999"]
