"""JWS compact serialization, read strictly: base64url segments, JSON objects, the header.

Each segment is decoded by ``binascii`` in strict mode (the alphabet, padding and length
are checked in C, ``+``, ``/`` and ``=`` are refused), and only its canonical spelling is
accepted, so one token has one spelling. JSON refuses NaN, Infinity and numbers that
overflow to infinity. :class:`HeaderCheck` parses and checks each distinct header once:
an algorithm PyJWT knows and never ``none``, no key-carrying headers (``jku``, ``x5u``,
``jwk``, ``x5c``, ``x5t``), no ``crit`` or ``b64`` extensions, a short string ``kid``
(``docs/decisions/0005-verification-fast-path.md``).
"""

from __future__ import annotations

import binascii
import hashlib
import json
import math
from collections.abc import Callable
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from jwt.algorithms import get_default_algorithms

from .bounded import BoundedTable
from .errors import Reason, TokenRejected

ALGORITHMS: Final = get_default_algorithms()
_FORBIDDEN_HEADERS: Final = frozenset({"jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256"})
# Headers are remembered before the signature is checked, so a forged header must not be
# able to pin much memory: only short ones, in a small table.
_HEADER_SEGMENT_MAX: Final = 512
_HEADERS_BYTES: Final = 512 * 1024


# base64url (RFC 4648 section 5, unpadded as JWS requires) mapped onto the standard
# alphabet; "+", "/" and "=" become "!", which strict decoding refuses.
_URLSAFE: Final = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING: Final = (b"", b"===", b"==", b"=")


_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# The last character of a segment of length 4n+2 carries 4 bits that decode to nothing,
# of length 4n+3 two: only the spelling with those bits zero is canonical (RFC 4648 3.5).
_LOOSE_LAST: Final[tuple[frozenset[str], ...]] = (
    frozenset(),
    frozenset(),
    frozenset(c for i, c in enumerate(_ALPHABET) if i & 0x0F),
    frozenset(c for i, c in enumerate(_ALPHABET) if i & 0x03),
)


def b64decode(segment: str) -> bytes:
    """Decode one unpadded, canonical base64url segment; ValueError for anything else.

    ``binascii`` in strict mode checks every character in C (no per-character Python
    loop, no regex); non-ASCII input fails the ``encode`` with a ValueError too. A last
    character with non-zero unused bits is refused, so that one signature has one
    spelling (else 16 spellings of an RS256 signature verify, each its own token).
    """
    if segment and segment[-1] in _LOOSE_LAST[len(segment) % 4]:
        raise ValueError("base64url segment is not in canonical form")
    data = segment.encode("ascii").translate(_URLSAFE)
    return binascii.a2b_base64(data + _PADDING[len(data) % 4], strict_mode=True)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: valid JSON, but no claim can be infinite
        raise ValueError(f"{text[:16]} is not a finite number")
    return value


# NaN/Infinity are not JSON (RFC 8259), and a number that overflows to infinity is no
# claim either: nothing non-finite reaches a check or a context. One decoder for the
# process: json.loads(..., parse_constant=...) would build a new one per call.
_DECODER: Final = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


_JSON_SPACE: Final = " \t\n\r"
# The C scanner behind _DECODER.decode, called directly for a segment that opens with "{"
# (every real token's): decode() adds two whitespace regexes and a call (0.5 us a token).
_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = _DECODER.scan_once  # type: ignore[attr-defined]


def json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        text = b64decode(segment).decode("utf-8")
        if text[:1] == "{":
            value, end = _SCAN(text, 0)
        else:
            value, end = _DECODER.decode(text), len(text)
    # binascii.Error is a ValueError; the scanner raises StopIteration where a value is
    # missing ('{"a":}'), which decode() would have turned into a ValueError.
    except (ValueError, RecursionError, StopIteration) as exc:
        raise TokenRejected(Reason.TOKEN_MALFORMED, f"{what} is not base64url JSON") from exc
    if end != len(text) and text[end:].strip(_JSON_SPACE):  # what decode() calls extra data
        raise TokenRejected(Reason.TOKEN_MALFORMED, f"{what} is not base64url JSON")
    if not isinstance(value, dict):
        raise TokenRejected(Reason.TOKEN_MALFORMED, f"{what} is not a JSON object")
    return value


def token_digest(token: str) -> str:
    """SHA-256 of a token, hex: logs carry a prefix of it, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def peek(segment: str) -> dict[str, Any]:
    """A segment's JSON object, or nothing: for naming a refused token, never for trust."""
    try:
        return json_object(segment, "segment")
    except TokenRejected:
        return {}


class HeaderCheck:
    """Parses and checks JWS headers, remembering each short distinct one it accepted."""

    __slots__ = ("_seen", "known")

    def __init__(self) -> None:
        self._seen: BoundedTable[str, dict[str, Any]] = BoundedTable(_HEADERS_BYTES)
        #: The header of a segment accepted before, or None: the table's own ``get``, for
        #: callers that try it before calling the check (one Python call less a token).
        self.known = self._seen.get

    def __call__(self, segment: str) -> dict[str, Any]:
        """The header of ``segment``; TokenRejected when it may not be used."""
        cached = self._seen.get(segment)
        if cached is not None:
            return cached
        header = json_object(segment, "header")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALGORITHMS or alg == "none":
            raise TokenRejected(Reason.ALGORITHM_NOT_ALLOWED, f"alg {str(alg)[:16]!r}")
        forbidden = _FORBIDDEN_HEADERS.intersection(header)
        if forbidden:
            raise TokenRejected(Reason.HEADER_NOT_ALLOWED, f"header {sorted(forbidden)[0]}")
        if "crit" in header or header.get("b64", True) is not True:
            raise TokenRejected(Reason.HEADER_NOT_ALLOWED, "crit/b64 extensions are not supported")
        kid = header.get("kid")
        if kid is not None and (not isinstance(kid, str) or len(kid) > 256):
            raise TokenRejected(Reason.TOKEN_MALFORMED, "kid must be a short string")
        if len(segment) <= _HEADER_SEGMENT_MAX:
            self._seen.put(segment, header, 4 * len(segment))
        return header


SignatureCheck = Callable[[bytes, Any, bytes], bool]
_HASHES: Final[dict[str, hashes.HashAlgorithm]] = {
    "256": hashes.SHA256(),
    "384": hashes.SHA384(),
    "512": hashes.SHA512(),
}
# The size of r and of s in an ES* signature (RFC 7518 3.4): P-256, P-384, P-521, secp256k1.
_EC_HALF: Final = {"ES256": 32, "ES256K": 32, "ES384": 48, "ES512": 66}


# RFC 8017 9.2, note 1: the DER DigestInfo that precedes the hash in EMSA-PKCS1-v1_5.
_DIGEST_INFO: Final = {
    "256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "512": bytes.fromhex("3051300d060960864801650304020305000440"),
}


def _rsa_check(alg: str) -> SignatureCheck:
    """RSASSA-PKCS1-v1_5 verification as RFC 8017 8.2.2 writes it: the signature is k
    octets, the public operation recovers the encoded message (OpenSSL checks its
    ``00 01 FF..FF 00`` padding), and what follows the padding must equal the DigestInfo
    of the message's hash, byte for byte. Hashing with ``hashlib`` and comparing costs
    about 1 us less than ``key.verify`` (``make bench``), and answers the same
    (``tests/runtime/test_signatures.py``, forged encodings included)."""
    pkcs1, prefix = padding.PKCS1v15(), _DIGEST_INFO[alg[2:]]
    hash_message = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}[alg[2:]]

    def check(message: bytes, key: Any, signature: bytes) -> bool:
        if len(signature) != (key.key_size + 7) // 8:  # RFC 8017 8.2.2 step 1
            return False
        try:
            encoded = key.recover_data_from_signature(signature, pkcs1, None)
        except InvalidSignature:
            return False
        return bool(encoded == prefix + hash_message(message).digest())

    return check


def _der_integer(value: bytes) -> bytes:
    """A non-negative big-endian integer as DER (X.690 8.3): minimal, a 00 before a high bit."""
    value = value.lstrip(b"\0")
    if not value or value[0] & 0x80:
        value = b"\0" + value
    return b"\x02" + _der_length(len(value)) + value


def _der_length(length: int) -> bytes:
    return bytes((length,)) if length < 0x80 else bytes((0x81, length))  # all under 256


def _ec_check(alg: str) -> SignatureCheck:
    half = _EC_HALF[alg]
    ecdsa = ec.ECDSA(_HASHES["256" if alg == "ES256K" else alg[2:]])

    def check(message: bytes, key: Any, signature: bytes) -> bool:
        if len(signature) != 2 * half:  # JWS carries r || s, each of the curve's size
            return False
        # The DER ``SEQUENCE { r INTEGER, s INTEGER }`` OpenSSL takes, built from the bytes
        # (encode_dss_signature's two int conversions cost 0.3 us more).
        body = _der_integer(signature[:half]) + _der_integer(signature[half:])
        try:
            key.verify(b"\x30" + _der_length(len(body)) + body, message, ecdsa)
        except InvalidSignature:
            return False
        return True

    return check


class _SignatureChecks(dict[str, SignatureCheck]):
    """alg -> check(signing input, key, signature): True when the signature verifies.

    RS* and ES* call ``cryptography`` directly with padding and hash objects made once,
    as PyJWT's algorithms do per call (ES256: about 1.7 us a token, ``make bench``): RS*
    recovers the encoded message and compares it whole (:func:`_rsa_check`), ES* builds
    the DER signature from its bytes. The keys are those :mod:`.jwk_set` prepared, an EC
    key only for its curve's ``alg``.
    Every other algorithm (HS*, PS*, EdDSA) is PyJWT's own. Each check is made on its
    first use: making the objects loads OpenSSL's bindings, 1.6 ms of a cold start.
    """

    def __missing__(self, alg: str) -> SignatureCheck:
        if alg in ("RS256", "RS384", "RS512"):
            check = _rsa_check(alg)
        elif alg in _EC_HALF and alg in ALGORITHMS:
            check = _ec_check(alg)
        else:
            check = ALGORITHMS[alg].verify  # KeyError for an algorithm PyJWT lacks
        self[alg] = check
        return check


SIGNATURE_CHECKS: Final = _SignatureChecks()
