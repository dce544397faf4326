"""The claim rules of a verified JWS, one function per kind of rule, and its scopes.

:func:`check_times` reads ``exp`` (required), ``nbf``, ``iat`` and the issuer's
``max_token_age_seconds``, with the issuer's clock skew; :func:`check_audience`,
:func:`check_cognito` and :func:`check_required` run only when the issuer configures
them. Each refusal says what was expected, never a claim's value that may be personal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from sys import getsizeof
from typing import TYPE_CHECKING, Any, Final

from .bounded import BoundedTable
from .errors import Reason, TokenRejected
from .rules import claim_matches

if TYPE_CHECKING:
    from .tenant import CognitoRules, IssuerConfig

# Times beyond the year 5000 are nonsense, and would overflow float arithmetic if huge.
_MAX_TIME: Final = 100_000_000_000
_CLIENT_ID_CLAIMS: Final = ("client_id", "azp", "cid", "appid")
# RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN_RE: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_SCOPE_STRING_RE: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e ]*")
_EMPTY: Final = frozenset({""})
_NO_SCOPES: Final[frozenset[str]] = frozenset()
# The scopes of recent scope strings, and the context's spelling of each set (sorted,
# space-separated): a tenant's tokens carry a few scope strings, each parsed once. Only
# tokens whose signature verified get here, and the tables are bounded in bytes.
_SCOPE_SETS: Final[BoundedTable[str, frozenset[str]]] = BoundedTable(256 * 1024)
_SCOPE_TEXTS: Final[BoundedTable[frozenset[str], str]] = BoundedTable(256 * 1024)


def _is_number(value: object) -> bool:
    return (type(value) is int or type(value) is float) and -_MAX_TIME < value < _MAX_TIME


def show(value: object, limit: int = 64) -> str:
    """A claim value for a refusal's detail: its repr, cut short (it is the client's)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_claims(claims: Mapping[str, Any], issuer: IssuerConfig, now: float) -> float:
    """Every claim rule of ``issuer``; the instant the token stops being acceptable."""
    expires_at = check_times(claims, issuer, now)
    if issuer.audiences:
        check_audience(claims, issuer)
    if issuer.cognito is not None:
        check_cognito(claims, issuer.cognito, issuer.issuer)
    if issuer.required_claims:
        check_required(claims, issuer)
    return expires_at


def check_times(claims: Mapping[str, Any], issuer: IssuerConfig, now: float) -> float:
    """``exp``, ``nbf``, ``iat`` and the maximum age; when the token stops being good."""
    # The type tests are spelled out (no helper, no isinstance): one new token pays each.
    skew = issuer.clock_skew_seconds
    exp = claims.get("exp")
    if (type(exp) is not int and type(exp) is not float) or not -_MAX_TIME < exp < _MAX_TIME:
        raise TokenRejected(Reason.CLAIM_MISSING, "exp is required and must be a number")
    if now > exp + skew:
        raise TokenRejected(
            Reason.TOKEN_EXPIRED,
            f"exp {exp} passed {now - exp:.0f}s ago (clock skew {skew}s)",
            issuer=issuer.issuer,
        )
    nbf = claims.get("nbf")
    if nbf is not None:
        if (type(nbf) is not int and type(nbf) is not float) or not -_MAX_TIME < nbf < _MAX_TIME:
            raise TokenRejected(Reason.TOKEN_MALFORMED, "nbf must be a number")
        if now + skew < nbf:
            raise TokenRejected(
                Reason.TOKEN_NOT_YET_VALID,
                f"nbf {nbf} is {nbf - now:.0f}s ahead (clock skew {skew}s)",
                issuer=issuer.issuer,
            )
    iat = claims.get("iat")
    if iat is not None:
        if (type(iat) is not int and type(iat) is not float) or not -_MAX_TIME < iat < _MAX_TIME:
            raise TokenRejected(Reason.TOKEN_MALFORMED, "iat must be a number")
        if now + skew < iat:
            raise TokenRejected(
                Reason.ISSUED_IN_FUTURE,
                f"iat {iat} is {iat - now:.0f}s ahead (clock skew {skew}s)",
                issuer=issuer.issuer,
            )
    if issuer.max_token_age_seconds is not None:
        if iat is None:
            raise TokenRejected(Reason.CLAIM_MISSING, "iat is required (max_token_age)")
        if now - iat > issuer.max_token_age_seconds + skew:
            raise TokenRejected(
                Reason.TOKEN_EXPIRED,
                f"issued {now - iat:.0f}s ago, over max_token_age_seconds "
                f"{issuer.max_token_age_seconds}",
                issuer=issuer.issuer,
            )
        # The token stops being acceptable at whichever comes first (repeat cache too).
        exp = min(exp, iat + issuer.max_token_age_seconds)
    return float(exp)


def check_issued_before(claims: Mapping[str, Any], issuer: IssuerConfig) -> None:
    """A token issued before the tenant's ``revocation.issued_before`` (or with no
    ``iat`` to tell) is refused: the leaked batch it may belong to cannot be told apart."""
    iat = claims.get("iat")
    cutoff = issuer.issued_before or 0.0
    if not _is_number(iat) or not isinstance(iat, int | float):
        raise TokenRejected(
            Reason.TOKEN_REVOKED,
            "no iat, and tokens issued before revocation.issued_before are refused",
            issuer=issuer.issuer,
        )
    if iat < cutoff:
        raise TokenRejected(
            Reason.TOKEN_REVOKED,
            f"iat {iat} is before revocation.issued_before ({cutoff:.0f})",
            issuer=issuer.issuer,
        )


def check_audience(claims: Mapping[str, Any], issuer: IssuerConfig) -> None:
    """One of the issuer's audiences is in ``aud`` (a string or a list)."""
    aud = claims.get("aud")
    audiences = issuer.audiences
    if type(aud) is str:
        if aud in audiences:
            return
    elif type(aud) is list:
        for item in aud:
            if type(item) is str and item in audiences:
                return
    raise TokenRejected(
        Reason.AUDIENCE_MISMATCH,
        f"aud {show(aud)}, expected one of {', '.join(issuer.audiences)}",
        issuer=issuer.issuer,
    )


def check_cognito(claims: Mapping[str, Any], cognito: CognitoRules, iss: str) -> None:
    """Cognito tokens carry no usable ``aud``: ``token_use`` and the client id instead."""
    if claims.get("token_use") != cognito.token_use:
        raise TokenRejected(
            Reason.CLAIM_MISMATCH,
            f"token_use {show(claims.get('token_use'), 16)}, expected {cognito.token_use}",
            issuer=iss,
        )
    field = "client_id" if cognito.token_use == "access" else "aud"
    client = claims.get(field)
    if client not in cognito.client_ids:
        raise TokenRejected(
            Reason.AUDIENCE_MISMATCH,
            f"{field} {show(client)}, expected one of {', '.join(cognito.client_ids)}",
            issuer=iss,
        )


def check_required(claims: Mapping[str, Any], issuer: IssuerConfig) -> None:
    """Each of the issuer's ``required_claims`` is there, with one of its values."""
    for name, expected in issuer.required_claims.items():
        if name not in claims:
            raise TokenRejected(Reason.CLAIM_MISSING, name, issuer=issuer.issuer)
        if not claim_matches(claims[name], expected):
            # The expected values only: the token's value may be personal data.
            raise TokenRejected(
                Reason.CLAIM_MISMATCH,
                f"{name} is none of {', '.join(map(str, expected))}",
                issuer=issuer.issuer,
            )


def scopes(value: object, claim: str) -> frozenset[str]:
    """The scopes of a token: a space-delimited string (RFC 6749 3.3) or a list (``scp``).

    Every scope must be an RFC 6749 scope-token (printable ASCII, no space, quote or
    backslash): the context carries the scopes space-delimited, so a scope holding a space
    would read as two to the backend. Anything else is refused, never silently dropped.
    """
    if value is None:
        return _NO_SCOPES
    if type(value) is str:
        known = _SCOPE_SETS.get(value)
        if known is not None:
            return known
        # One pass in C over the whole string: scope-tokens and the spaces between them.
        if _SCOPE_STRING_RE.fullmatch(value):
            parsed = frozenset(value.split(" ")) - _EMPTY
            _SCOPE_SETS.put(value, parsed, 2 * getsizeof(value) + 216 + 64 * len(parsed))
            return parsed
    elif isinstance(value, list):
        if all(type(item) is str and _SCOPE_TOKEN_RE.fullmatch(item) for item in value):
            return frozenset(value)
    else:
        raise TokenRejected(Reason.SCOPE_MALFORMED, f"{claim} is neither a string nor a list")
    raise TokenRejected(Reason.SCOPE_MALFORMED, f"{claim} holds a value that is not a scope-token")


def scope_text(granted: frozenset[str]) -> str:
    """The scopes as the context carries them: sorted, separated by one space."""
    text = _SCOPE_TEXTS.get(granted)
    if text is None:
        text = " ".join(sorted(granted))
        _SCOPE_TEXTS.put(granted, text, 2 * getsizeof(text) + 216 + 64 * len(granted))
    return text


def client_id(claims: Mapping[str, Any]) -> str | None:
    for name in _CLIENT_ID_CLAIMS:
        value = claims.get(name)
        if type(value) is str:  # a JSON string: never a subclass
            return value
    return None
