"""A JWKS, parsed: the usable public keys of one fetch, indexed by ``(kid, alg)``.

Keys that cannot be used (wrong ``use``, ``key_ops`` without ``verify``, symmetric or
private material, unknown type or curve, an RSA modulus under 2048 bits, an ``alg`` that
does not fit the key) are skipped, never trusted. A :class:`KeySet` remembers when each
exact key was first published (``since``), so that a decision cached on a key can tell
whether that key is still there after a refresh: two keys under one ``kid`` (an RSA and
an EC key) are two keys.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import jwt

from .errors import Reason, TokenRejected
from .fetch import safe_url
from .logs import logger

_RSA_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_CURVE_ALGORITHM: Final = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_OKP_CURVES: Final = frozenset({"Ed25519", "Ed448"})
_MIN_RSA_BITS: Final = 2048
# Members that only private (or symmetric) JWKs carry: a JWKS that publishes them is
# broken beyond trusting, whatever the public part says.
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# Global, so that a URI evicted and fetched again never reuses a generation.
_generations = itertools.count(1)


class InvalidDocument(Exception):
    """Raised when a fetched document is JSON but not a JWKS or metadata document."""


# Value objects are NamedTuples rather than frozen dataclasses: ~0.2 ms instead of
# ~0.8 ms each at cold start.
class ResolvedKey(NamedTuple):
    """A public key for one token, and where and when it came from."""

    key: Any  # prepared public key object, ready for jws.SIGNATURE_CHECKS[alg]
    kid: str | None
    jwks_uri: str
    generation: int  # bumps every time the key set of this URI is replaced by a fetch
    stale: bool  # served past max-age because the IdP failed (stale-if-error)
    fetched: bool  # this call made a network request


# Private records are plain slotted classes: ~0.01 ms at cold start, a NamedTuple ~0.2 ms.
class KeySet:
    """One successful JWKS fetch, parsed; replaced whole, never mutated."""

    __slots__ = ("expires_at", "generation", "kids", "material", "per_alg", "resolved", "since")

    def __init__(
        self,
        *,
        resolved: Mapping[tuple[str | None, str], ResolvedKey],
        per_alg: Mapping[str, int],
        material: Mapping[tuple[str, str], str],
        since: Mapping[tuple[str, str], int],
        generation: int,
        expires_at: float,
    ) -> None:
        self.resolved = resolved  # (kid, alg) and (None, alg)
        self.per_alg = per_alg  # usable keys per algorithm (to explain a kid-less miss)
        # (kid, alg) -> canonical JWK that verifies it, to tell a re-used kid; one kid may
        # name several keys (an RSA and an EC key), so the alg is part of the identity.
        self.material = material
        self.since = since  # (kid, alg) -> first generation publishing this exact key
        self.kids = frozenset(kid for kid, _ in material)
        self.generation = generation
        self.expires_at = expires_at


def definite_miss(
    keys: KeySet, kid: str | None, alg: str, issuer: str, tenant_id: str | None
) -> TokenRejected | None:
    """The rejection a refetch cannot change: kid of another key type, or ambiguity."""
    if kid is not None and kid in keys.kids:
        return TokenRejected(
            Reason.ALGORITHM_NOT_ALLOWED,
            f"the key {kid!r} cannot verify {alg}",
            tenant_id=tenant_id,
            kid=kid,
            issuer=issuer,
        )
    count = keys.per_alg.get(alg, 0)
    if kid is None and count > 1:
        return TokenRejected(
            Reason.KID_MISSING,
            f"token has no kid and the JWKS has {count} {alg} keys",
            tenant_id=tenant_id,
            issuer=issuer,
        )
    return None


def miss(
    keys: KeySet, kid: str | None, alg: str, issuer: str, tenant_id: str | None
) -> TokenRejected:
    definite = definite_miss(keys, kid, alg, issuer, tenant_id)
    if definite is not None:
        return definite
    if kid is None:
        return TokenRejected(
            Reason.KID_MISSING,
            f"token has no kid and the JWKS has no {alg} key",
            tenant_id=tenant_id,
            issuer=issuer,
        )
    return TokenRejected(
        Reason.KID_UNKNOWN,
        f"kid not in the JWKS (for {alg})",
        tenant_id=tenant_id,
        kid=kid,
        issuer=issuer,
    )


def parse_jwks(
    body: Mapping[str, Any], jwks_uri: str, expires_at: float, previous: KeySet | None
) -> KeySet:
    """The key set of one JWKS document; InvalidDocument when it is not a JWKS at all."""
    entries = body.get("keys")
    if not isinstance(entries, list):
        raise InvalidDocument('not a JWKS: no "keys" list')
    generation = next(_generations)
    resolved: dict[tuple[str | None, str], ResolvedKey] = {}
    per_alg_keys: dict[str, list[ResolvedKey]] = {}
    material: dict[tuple[str, str], str] = {}
    skipped = 0
    for jwk in entries:
        prepared = _prepare(jwk)
        if prepared is None:
            skipped += 1
            continue
        key, kid, algorithms = prepared
        resolved_key = ResolvedKey(key, kid, jwks_uri, generation, stale=False, fetched=False)
        text = json.dumps(jwk, sort_keys=True) if kid is not None else ""
        for alg in algorithms:
            if kid is not None and (kid, alg) in resolved:
                continue  # a duplicate kid for this alg: the first one published wins
            if kid is not None:
                resolved[kid, alg] = resolved_key
                material[kid, alg] = text
            per_alg_keys.setdefault(alg, []).append(resolved_key)
    for alg, candidates in per_alg_keys.items():
        if len(candidates) == 1:  # a kid-less token is fine only when unambiguous
            resolved[None, alg] = candidates[0]
    if skipped:
        logger(__name__).info("JWKS %s: skipped %d unusable key(s)", safe_url(jwks_uri), skipped)
    since = {
        key: (
            previous.since[key]
            if previous is not None and previous.material.get(key) == jwk_text
            else generation
        )
        for key, jwk_text in material.items()
    }
    return KeySet(
        resolved=resolved,
        per_alg={alg: len(candidates) for alg, candidates in per_alg_keys.items()},
        material=material,
        since=since,
        generation=generation,
        expires_at=expires_at,
    )


def _prepare(jwk: object) -> tuple[Any, str | None, frozenset[str]] | None:
    """A usable public key from one JWK: (key object, kid, algorithms it may verify).

    None for anything unusable: not an object, ``use`` other than ``sig``, ``key_ops``
    without ``verify``, symmetric or private material, unknown type or curve, an RSA
    modulus under 2048 bits, an ``alg`` that does not fit the key, malformed numbers.
    """
    if not isinstance(jwk, dict):
        return None
    kid = jwk.get("kid")
    use = jwk.get("use")
    ops = jwk.get("key_ops")
    if (
        (kid is not None and not isinstance(kid, str))
        or (use is not None and use != "sig")
        or (ops is not None and (not isinstance(ops, list) or "verify" not in ops))
        or _PRIVATE_MEMBERS.intersection(jwk)
    ):
        return None
    kty = jwk.get("kty")
    crv = jwk.get("crv")
    if kty == "RSA":
        algorithms = _RSA_ALGORITHMS
        representative = "RS256"
    elif kty == "EC" and isinstance(crv, str) and crv in _EC_CURVE_ALGORITHM:
        representative = _EC_CURVE_ALGORITHM[crv]
        algorithms = frozenset({representative})
    elif kty == "OKP" and crv in _OKP_CURVES:
        representative = "EdDSA"
        algorithms = frozenset({representative})
    else:
        return None  # "oct" (never from a JWKS), unknown kty, unsupported curve
    declared = jwk.get("alg")
    if declared is not None:
        if declared not in algorithms:
            return None
        algorithms = frozenset({declared})
    try:
        key = jwt.PyJWK(jwk, algorithm=representative).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        logger(__name__).info("JWKS key %r skipped: %s", kid, type(exc).__name__)
        return None
    if kty == "RSA" and getattr(key, "key_size", 0) < _MIN_RSA_BITS:
        return None
    return key, kid, algorithms
