"""Opaque tokens by OAuth 2.0 token introspection (RFC 7662), cached and bounded.

An opaque token carries nothing a warm instance can check by itself: the issuer that
made it answers whether it is ``active``, for whom, with which scopes and audience. This
is the one place where a warm instance makes a network call for a token it has not seen
(``docs/architecture.md``), so every call is bounded:

* the decision's network budget (shared with discovery), the fetcher's deadline, and a
  circuit breaker per tenant and endpoint, as for key sets;
* at most ``max_calls_per_second`` calls per tenant, endpoint and instance (a token bucket): a
  flood of distinct bad tokens costs the issuer that much, then is answered 500
  ``introspection_unavailable`` without a call;
* answers are cached by the token's SHA-256 and the tenant and issuer: an active one
  until the token's ``exp`` or ``cache_seconds``, whichever is first, an inactive one for
  ``inactive_cache_seconds`` (a repeated bad token asks once). A revoked token is
  therefore refused once its cache entry ends, at most ``cache_seconds`` later.

An answer is trusted only as far as it goes: ``active`` must be the boolean ``true``; an
``iss`` must be the issuer; the issuer's time and revocation rules apply as to its
JWTs (``exp``, ``nbf``, ``iat``, ``max_token_age_seconds``, ``issued_before``); a
``token_type`` of ``refresh_token`` refuses; the audience field must name one of the
issuer's audiences; the principal field must be a non-empty string. An endpoint that
cannot be reached, fails, or answers anything but a JSON object with a boolean
``active`` is a platform fault: 500, never Allow.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import quote

from .binding import Binding, binding_of
from .bounded import BoundedTable
from .breaker import CircuitBreaker
from .claims import check_issued_before, check_required, check_times, scopes, show
from .counters import Counters
from .errors import FetchError, PlatformFault, Reason, TokenRejected
from .fetch import FetchBudget, FetchResult, safe_url

if TYPE_CHECKING:
    from .jwks import JwksCache
    from .tenant import Introspection, IssuerConfig

_ANSWERS_BYTES: Final = 8 * 1024 * 1024
_ENTRY_BYTES: Final = 600  # an answer's record beyond the strings it holds
_CLIENT_ID_FIELDS: Final = ("client_id", "azp", "cid")


class Poster(Protocol):
    """What introspection needs from HTTP: a form POST answered by a JSON object."""

    def post_form(
        self,
        url: str,
        fields: dict[str, str],
        *,
        headers: dict[str, str] | None = None,
        local_development: bool = False,
        deadline: float | None = None,
        private_ok: bool = False,
    ) -> FetchResult:
        """POST ``fields``; FetchError on any failure."""
        ...


class Answer:
    """What an introspection said about one token, for as long as it may be used."""

    __slots__ = (
        "binding",
        "claims",
        "client_id",
        "detail",
        "expires_at",
        "issuer",
        "principal",
        "reason",
        "scopes",
        "until",
    )

    def __init__(  # noqa: PLR0917  (a record's fields)
        self,
        reason: Reason,
        detail: str,
        until: float,
        principal: str = "",
        granted: frozenset[str] = frozenset(),
        client_id: str | None = None,
        expires_at: float | None = None,
        claims: Mapping[str, Any] | None = None,
        binding: Binding | None = None,
    ) -> None:
        self.binding = binding  # the answer's cnf (RFC 8705 3.2, RFC 9449 6.2)
        # The issuer config the answer was checked against: a changed config (audiences,
        # required claims, revocation) makes the answer a miss, as for the token memory.
        self.issuer: IssuerConfig | None = None
        self.reason = reason  # OK, or why the token is refused (401)
        self.detail = detail
        self.until = until  # the instant this answer stops being used
        self.principal = principal
        self.scopes = granted
        self.client_id = client_id
        self.expires_at = expires_at
        self.claims = claims or {}  # only the fields the issuer forwards


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at


class Introspector:
    """Asks issuers about opaque tokens; one per process, shared by threads."""

    def __init__(
        self,
        poster: Poster,
        secret: Callable[[str, str], bytes],
        jwks: JwksCache,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        counters: Counters | None = None,
        max_bytes: int = _ANSWERS_BYTES,
    ) -> None:
        self._poster = poster
        self._secret = secret  # (parameter name, tenant id) -> the client secret
        self._jwks = jwks  # discovery: the metadata's introspection_endpoint
        self._clock = clock
        self._monotonic = monotonic
        self.counters = counters if counters is not None else jwks.counters
        self._breaker = CircuitBreaker(clock=monotonic)
        self._answers: BoundedTable[tuple[str, str, str], Answer] = BoundedTable(
            max_bytes, deadline=attrgetter("until"), clock=clock
        )
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def introspect(  # noqa: PLR0917  (one call site)
        self,
        token: str,
        digest: str,
        issuer: IssuerConfig,
        tenant_id: str,
        budget: float | None,
        rule_claims: frozenset[str] = frozenset(),
    ) -> Answer:
        """The usable answer for ``token``: OK, or TokenRejected / PlatformFault raised.

        ``rule_claims`` are the claims the tenant's route rules read: kept from the answer
        with the forwarded ones.
        """
        config = issuer.introspection
        assert config is not None  # noqa: S101  (routed here only with a config)
        key = (tenant_id, issuer.issuer, digest)
        now = self._clock()
        answer = self._answers.get(key)
        if answer is None or now >= answer.until or answer.issuer is not issuer:
            answer = self._ask(token, issuer, config, tenant_id, FetchBudget(budget), now)
            answer.issuer = issuer
            if answer.reason is Reason.OK:
                kept = issuer.forward_claims + tuple(rule_claims)
                # What the answer said is read again only for these names.
                answer.claims = {n: answer.claims[n] for n in kept if n in answer.claims}
            size = _ENTRY_BYTES + len(answer.principal) + len(answer.detail)
            size += sum(len(scope) + 64 for scope in answer.scopes)
            size += sum(len(json.dumps(v, default=str)) + 64 for v in answer.claims.values())
            self._answers.put(key, answer, size)
        if answer.reason is not Reason.OK:
            raise TokenRejected(answer.reason, answer.detail, issuer=issuer.issuer)
        return answer

    # ------------------------------------------------------------------ the call

    def _ask(  # noqa: PLR0917  (one call site)
        self,
        token: str,
        issuer: IssuerConfig,
        config: Introspection,
        tenant_id: str,
        spend: FetchBudget,
        now: float,
    ) -> Answer:
        endpoint = config.endpoint or self._endpoint(issuer, tenant_id, spend, now)
        safe = safe_url(endpoint)
        # One circuit and one call budget per tenant and endpoint: one tenant's wrong
        # client secret, or a flood at its API, never shuts another tenant out.
        circuit = f"{tenant_id} {config.client_id} {endpoint}"
        if not self._breaker.allow(circuit):
            self.counters.bump("circuit_rejections")
            raise PlatformFault(
                Reason.ISSUER_CIRCUIT_OPEN,
                f"introspection at {safe}: circuit open after repeated failures",
                tenant_id=tenant_id,
                issuer=issuer.issuer,
            )
        if not self._take(f"{tenant_id} {endpoint}", config.max_calls_per_second):
            raise PlatformFault(
                Reason.INTROSPECTION_UNAVAILABLE,
                f"introspection at {safe}: over {config.max_calls_per_second} calls per "
                "second on this instance (max_calls_per_second)",
                tenant_id=tenant_id,
                issuer=issuer.issuer,
            )
        try:
            secret = self._secret(config.client_secret_parameter, tenant_id).decode()
        except UnicodeDecodeError as exc:
            raise PlatformFault(
                Reason.SECRET_INVALID,
                f"{config.client_secret_parameter}: the client secret is not UTF-8",
                tenant_id=tenant_id,
            ) from exc
        fields = {"token": token, "token_type_hint": "access_token"}
        headers: dict[str, str] = {}
        if config.auth_method == "client_secret_post":
            fields |= {"client_id": config.client_id, "client_secret": secret}
        else:
            # RFC 6749 2.3.1: each part form-encoded, then joined and base64-encoded.
            pair = f"{quote(config.client_id, safe='')}:{quote(secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        self.counters.bump("introspection_calls")
        try:
            result = self._poster.post_form(
                endpoint,
                fields,
                headers=headers,
                local_development=issuer.local_development,
                deadline=spend.deadline(),
                private_ok=config.endpoint is not None,  # named by the tenant file
            )
        except FetchError as exc:
            self._breaker.record_failure(circuit)
            self.counters.bump("introspection_failures")
            raise PlatformFault(
                Reason.INTROSPECTION_UNAVAILABLE,
                str(exc),  # names the URL and the failure, never the request
                tenant_id=tenant_id,
                issuer=issuer.issuer,
            ) from exc
        body = result.body
        if type(body.get("active")) is not bool:
            self._breaker.record_failure(circuit)
            self.counters.bump("introspection_failures")
            raise PlatformFault(
                Reason.INTROSPECTION_UNAVAILABLE,
                f"introspection at {safe} answered without a boolean active",
                tenant_id=tenant_id,
                issuer=issuer.issuer,
            )
        self._breaker.record_success(circuit)
        return self._read(body, issuer, config, now)

    def _endpoint(
        self, issuer: IssuerConfig, tenant_id: str, spend: FetchBudget, now: float
    ) -> str:
        try:
            return self._jwks.introspection_endpoint(issuer, tenant_id, spend)
        except PlatformFault as exc:
            if exc.reason is Reason.ISSUER_CIRCUIT_OPEN:
                raise
            raise PlatformFault(
                Reason.INTROSPECTION_UNAVAILABLE,
                exc.detail,
                tenant_id=tenant_id,
                issuer=issuer.issuer,
            ) from exc

    def _take(self, endpoint: str, rate: int) -> bool:
        """One call from the endpoint's bucket (``rate`` a second, a burst of ``2 * rate``)."""
        now = self._monotonic()
        with self._lock:
            bucket = self._buckets.get(endpoint)
            if bucket is None:
                if len(self._buckets) > 4096:  # endpoints come from tenant files: bounded
                    self._buckets.clear()
                bucket = self._buckets[endpoint] = _Bucket(2.0 * rate, now)
            bucket.tokens = min(2.0 * rate, bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            if bucket.tokens < 1:
                return False
            bucket.tokens -= 1
            return True

    # ------------------------------------------------------------------ the answer

    def _read(
        self, body: Mapping[str, Any], issuer: IssuerConfig, config: Introspection, now: float
    ) -> Answer:
        try:
            return self._active(body, issuer, config, now)
        except TokenRejected as exc:  # inactive, or an answer this issuer may not give
            return Answer(exc.reason, exc.detail, now + config.inactive_cache_seconds)

    def _active(
        self, body: Mapping[str, Any], issuer: IssuerConfig, config: Introspection, now: float
    ) -> Answer:
        if body["active"] is not True:
            raise TokenRejected(Reason.TOKEN_INACTIVE, "the issuer says the token is not active")
        iss = body.get("iss")
        if iss is not None and iss != issuer.issuer:
            raise TokenRejected(
                Reason.ISSUER_NOT_ALLOWED,
                f"introspection names iss {show(iss, 80)}, configured is {issuer.issuer}",
            )
        if str(body.get("token_type", "")).lower() == "refresh_token":
            raise TokenRejected(Reason.TYPE_MISMATCH, "a refresh token is not an access token")
        exp = _optional_time(body, "exp")
        if exp is not None:
            # The JWT rules of the issuer, exp included (check_times needs one).
            exp = check_times(body, issuer, now)
        else:
            skew = issuer.clock_skew_seconds
            nbf, iat = _optional_time(body, "nbf"), _optional_time(body, "iat")
            if nbf is not None and now + skew < nbf:
                raise TokenRejected(Reason.TOKEN_NOT_YET_VALID, f"nbf is {nbf - now:.0f}s ahead")
            if iat is not None and now + skew < iat:
                raise TokenRejected(Reason.ISSUED_IN_FUTURE, f"iat is {iat - now:.0f}s ahead")
            if issuer.max_token_age_seconds is not None:
                if iat is None:
                    raise TokenRejected(Reason.CLAIM_MISSING, "iat is required (max_token_age)")
                if now - iat > issuer.max_token_age_seconds + skew:
                    raise TokenRejected(Reason.TOKEN_EXPIRED, "over max_token_age_seconds")
                exp = iat + issuer.max_token_age_seconds
        if issuer.issued_before is not None:
            check_issued_before(body, issuer)
        audience = body.get(config.audience_field)
        audiences = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(a, str) and a in issuer.audiences for a in audiences):
            raise TokenRejected(
                Reason.AUDIENCE_MISMATCH,
                f"{config.audience_field} {show(audience)}, expected one of "
                + ", ".join(issuer.audiences),
            )
        if issuer.required_claims:
            check_required(body, issuer)
        principal = body.get(config.principal_field)
        if not isinstance(principal, str) or not principal:
            raise TokenRejected(Reason.CLAIM_MISSING, f"principal field {config.principal_field}")
        granted = scopes(body.get(config.scope_field), config.scope_field)
        client = next((v for f in _CLIENT_ID_FIELDS if isinstance(v := body.get(f), str)), None)
        until = now + config.cache_seconds
        expires_at = float(exp) if exp is not None else None
        if expires_at is not None:
            until = min(until, expires_at + issuer.clock_skew_seconds)
        bound = binding_of(body.get("cnf"), issuer.sender_constraint)
        return Answer(Reason.OK, "", until, principal, granted, client, expires_at, body, bound)


def _optional_time(body: Mapping[str, Any], name: str) -> float | None:
    """A time field of the answer: None when absent, TokenRejected when not a time."""
    value = body.get(name)
    if value is None:
        return None
    if (type(value) is not int and type(value) is not float) or not 0 <= value < 1e11:
        raise TokenRejected(Reason.TOKEN_MALFORMED, f"introspection {name} is not a number")
    return float(value)
