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


# ---------------------------------------------------------------- RSA: forged encodings
# RS* is checked by recovering the encoded message and comparing it whole (RFC 8017
# 8.2.2): each forged encoding, signed with the raw private operation, must be refused
# exactly as PyJWT (OpenSSL's RSA_verify) refuses it.

_DIGEST_INFO = {
    "RS256": ("3031300d060960864801650304020105000420", "sha256"),
    "RS384": ("3041300d060960864801650304020205000430", "sha384"),
    "RS512": ("3051300d060960864801650304020305000440", "sha512"),
}
_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _raw_sign(encoded: bytes, key: rsa.RSAPrivateKey = _RSA_KEY) -> bytes:
    """The RSA private operation on ``encoded`` as it stands (no padding added)."""
    numbers = key.private_numbers()
    k = (key.key_size + 7) // 8
    value = pow(int.from_bytes(encoded.rjust(k, b"\0"), "big"), numbers.d, numbers.public_numbers.n)
    return value.to_bytes(k, "big")


def _emsa(payload: bytes, *, block_type: int = 1, fill: int = 0xFF, k: int = 256) -> bytes:
    return bytes((0, block_type)) + bytes([fill]) * (k - 3 - len(payload)) + b"\0" + payload


def _forgeries(alg: str, message: bytes) -> dict[str, bytes]:
    import hashlib

    prefix_hex, hash_name = _DIGEST_INFO[alg]
    prefix = bytes.fromhex(prefix_hex)
    digest = hashlib.new(hash_name, message).digest()
    other = "RS384" if alg != "RS384" else "RS256"
    other_prefix, other_hash = _DIGEST_INFO[other]
    other_info = bytes.fromhex(other_prefix) + hashlib.new(other_hash, message).digest()
    no_null = bytes.fromhex(prefix_hex.replace("05000", "0", 1))  # parameters left out
    no_null = bytes([no_null[0], no_null[1] - 2, no_null[2], no_null[3] - 2]) + no_null[4:]
    good = prefix + digest
    short_fill = bytes((0, 1)) + b"\xff" * 4 + b"\0" + b"\x11" * (256 - 7 - len(good)) + good
    return {
        "well formed": _raw_sign(_emsa(good)),
        "another hash's DigestInfo": _raw_sign(_emsa(other_info)),
        "DigestInfo without NULL parameters": _raw_sign(_emsa(no_null + digest)),
        "bare hash, no DigestInfo": _raw_sign(_emsa(digest)),
        "block type 2": _raw_sign(_emsa(good, block_type=2)),
        "padding not FF": _raw_sign(_emsa(good, fill=0xFE)),
        "garbage after the hash": _raw_sign(_emsa(good + b"\x00\x01")),
        "garbage before the DigestInfo": _raw_sign(_emsa(b"\x01" + good)),
        "short padding, garbage between": _raw_sign(short_fill),
        "no separator": _raw_sign(bytes((0, 1)) + b"\xff" * (256 - 2 - len(good)) + good),
        "all zero": bytes(256),
        "the modulus itself": _RSA_KEY.public_key().public_numbers().n.to_bytes(256, "big"),
    }


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512"])
def test_forged_rsa_encodings_answer_as_pyjwt(alg: str) -> None:
    key = _RSA_KEY.public_key()
    message = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0"
    forgeries = _forgeries(alg, message)
    answers = {name: SIGNATURE_CHECKS[alg](message, key, sig) for name, sig in forgeries.items()}
    expected = {name: ALGORITHMS[alg].verify(message, key, sig) for name, sig in forgeries.items()}
    assert answers == expected
    assert answers.pop("well formed") is True
    assert not any(answers.values())


def test_rsa_signature_without_its_leading_zero_byte_is_refused() -> None:
    """RFC 8017 8.2.2 step 1: a signature of fewer than k octets (a leading 00 dropped)
    is refused, as OpenSSL's RSA_verify refuses it, although the number is the same."""
    algorithm = ALGORITHMS["RS256"]
    key = _RSA_KEY.public_key()
    for n in range(4096):  # about one signature in 256 starts with 00
        message = b"message %d" % n
        signature = algorithm.sign(message, _RSA_KEY)
        if signature[0] == 0:
            break
    else:  # pragma: no cover - odds of about 1e-7
        pytest.fail("no signature with a leading zero byte")
    assert SIGNATURE_CHECKS["RS256"](message, key, signature) is True
    assert algorithm.verify(message, key, signature[1:]) is False
    assert SIGNATURE_CHECKS["RS256"](message, key, signature[1:]) is False


def test_rsa_check_never_accepts_a_key_of_another_kind() -> None:
    """An EC key handed to an RS* check answers False or raises (the verifier turns an
    exception into signature_invalid): never True."""
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    for signature in (bytes(256), bytes(32)):
        try:
            answer = SIGNATURE_CHECKS["RS256"](b"m", ec_key, signature)
        except (AttributeError, TypeError):
            answer = False
        assert answer is False


# ---------------------------------------------------------------- ECDSA: the DER encoding


@pytest.mark.parametrize("half", [32, 48, 66])
def test_ec_signature_der_matches_cryptography(half: int) -> None:
    """The DER built from r || s is the one encode_dss_signature builds, for the values
    whose encoding differs: leading zero bytes, a high bit, zero, the largest."""
    import os

    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from tenant_authorizer.runtime.jws import _der_integer, _der_length

    values = [
        bytes(half),
        b"\x00" * (half - 1) + b"\x01",
        b"\x00\x80" + bytes(half - 2),
        b"\x80" + bytes(half - 1),
        b"\x7f" + b"\xff" * (half - 1),
        b"\xff" * half,
    ] + [os.urandom(half) for _ in range(20)]
    for r in values:
        for s in values[:8]:
            body = _der_integer(r) + _der_integer(s)
            ours = b"\x30" + _der_length(len(body)) + body
            expected = encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
            assert ours == expected
