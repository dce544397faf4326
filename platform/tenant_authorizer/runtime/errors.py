"""The error tree and the enumerated reason codes of every authorizer outcome.

Two branches, never mixed (as in PyJWT and aws-jwt-verify):

* :class:`TokenRejected` -- the token is missing, malformed or invalid: 401
  (``Unauthorized``). :class:`RequestRejected` -- the client's path cannot be judged:
  401 too, the client's doing, never a fault. A valid token that lacks a scope or
  claim is not an error at all: the decision engine answers it with an explicit Deny.
* :class:`PlatformFault` -- *we* could not decide: no usable tenant config or keys.
  API Gateway answers 500, a metric is emitted and an alarm fires. Never Allow.

Every error carries a :class:`Reason`, the one code that is logged, counted in a
metric and documented in ``docs/troubleshooting.md``.
"""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    """One code per outcome. The value is what logs and metrics carry."""

    # -- allowed
    OK = "ok"
    # -- 401: the token is missing, malformed or not valid
    TOKEN_MISSING = "token_missing"
    TOKEN_MALFORMED = "token_malformed"
    TOKEN_TOO_LARGE = "token_too_large"
    ALGORITHM_NOT_ALLOWED = "algorithm_not_allowed"
    HEADER_NOT_ALLOWED = "header_not_allowed"
    TYPE_MISMATCH = "type_mismatch"
    KID_MISSING = "kid_missing"
    KID_UNKNOWN = "kid_unknown"
    KEY_REVOKED = "key_revoked"
    SIGNATURE_INVALID = "signature_invalid"
    ISSUER_NOT_ALLOWED = "issuer_not_allowed"
    AUDIENCE_MISMATCH = "audience_mismatch"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_NOT_YET_VALID = "token_not_yet_valid"
    ISSUED_IN_FUTURE = "issued_in_future"
    TOKEN_REVOKED = "token_revoked"
    CLAIM_MISSING = "claim_missing"
    CLAIM_MISMATCH = "claim_mismatch"
    SCOPE_MALFORMED = "scope_malformed"
    STATIC_TOKEN_UNKNOWN = "static_token_unknown"
    API_KEY_UNKNOWN = "api_key_unknown"
    TOKEN_INACTIVE = "token_inactive"
    BINDING_UNSUPPORTED = "binding_unsupported"
    BINDING_REQUIRED = "binding_required"
    CERTIFICATE_MISSING = "certificate_missing"
    CERTIFICATE_MISMATCH = "certificate_mismatch"
    DPOP_PROOF_MISSING = "dpop_proof_missing"
    DPOP_PROOF_INVALID = "dpop_proof_invalid"
    DPOP_PROOF_STALE = "dpop_proof_stale"
    DPOP_PROOF_REPLAYED = "dpop_proof_replayed"
    DPOP_KEY_MISMATCH = "dpop_key_mismatch"
    PATH_INVALID = "path_invalid"
    # -- 403: a valid token without the needed scope or claim
    SCOPE_INSUFFICIENT = "scope_insufficient"
    CLAIM_INSUFFICIENT = "claim_insufficient"
    ROUTE_NOT_ALLOWED = "route_not_allowed"
    # -- 500: we cannot decide
    EVENT_INVALID = "event_invalid"
    TENANT_NOT_BOUND = "tenant_not_bound"
    ALIAS_MISMATCH = "alias_mismatch"
    TENANT_CONFIG_INVALID = "tenant_config_invalid"
    TENANT_CONFIG_UNAVAILABLE = "tenant_config_unavailable"
    JWKS_UNAVAILABLE = "jwks_unavailable"
    SECRET_UNAVAILABLE = "secret_unavailable"
    SECRET_INVALID = "secret_invalid"
    ISSUER_CIRCUIT_OPEN = "issuer_circuit_open"
    INTROSPECTION_UNAVAILABLE = "introspection_unavailable"
    INTERNAL_ERROR = "internal_error"


class AuthorizerError(Exception):
    """Raised for any outcome other than Allow; the handler maps it to a response.

    ``detail`` is for operators (logged); it never contains a token or a secret.
    """

    status: int = 500

    def __init__(
        self,
        reason: Reason,
        detail: str = "",
        *,
        tenant_id: str | None = None,
        kid: str | None = None,
        issuer: str | None = None,
    ) -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
        self.tenant_id = tenant_id
        self.kid = kid
        self.issuer = issuer


class TokenRejected(AuthorizerError):
    """Raised when the token is missing, malformed or fails verification (401)."""

    status = 401


class RequestRejected(AuthorizerError):
    """Raised when the client's request cannot be judged as sent (its path): 401, not 500.

    A path is the client's, so nothing about it is a platform fault; a refusal cannot be
    a 403 either, since a Deny would have to name the path in a cached policy.
    """

    status = 401


class PlatformFault(AuthorizerError):
    """Raised when no decision can be made: tenant config, secret or keys unavailable (500)."""

    status = 500


class EventInvalid(PlatformFault):
    """Raised when the event is not one API Gateway sends (malformed ARN, missing fields).

    A malformed event cannot come from a correctly configured API Gateway, so it is
    a configuration problem on the platform side: 500, never trusted.
    """


class TenantNotBound(PlatformFault):
    """Raised when the calling account/API is not bound to any tenant.

    Only accounts with an invoke permission can reach the function, so an unbound
    caller is an onboarding error (500 + alarm), not a client mistake.
    """


class AliasMismatch(PlatformFault):
    """Raised when a call through one alias names an account that another alias serves.

    API Gateway only calls the alias whose policy grants the account, so a mismatch is
    an event written by someone else: a tenant forging another account's ``methodArn``
    through an integration that its own permission lets it invoke (``docs/security.md``).
    """


class ConfigError(ValueError):
    """Raised when a tenant configuration is invalid; names the source, field and reason."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        super().__init__(f"{source}: {field}: {reason}")
        self.source = source
        self.field = field
        self.reason = reason


class FetchError(Exception):
    """Raised when an HTTP fetch of discovery metadata or a JWKS fails (network, status, size)."""
