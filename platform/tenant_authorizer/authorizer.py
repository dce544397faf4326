"""The authorizer: one evaluation from event to answer, and the repeated-token cache.

``Authorizer.evaluate`` never raises: it returns an :class:`Evaluation` whose outcome is
``allow``, ``deny`` (403), ``unauthorized`` (401) or ``fault`` (500), and logs exactly one
decision line. Only this module catches broadly (invariant 1): every unexpected
exception becomes a fault, never an Allow. The Lambda handler and the local gateway
adapt an Evaluation to their own transport.

A token seen again on a warm instance skips verification through a small cache keyed by
the token's SHA-256. An entry is used only while (a) the tenant config object it was
verified under is still the current one (a refreshed or changed config invalidates it),
(b) the key that verified it is still published in the current JWKS, and (c) the token
has not expired. Nothing else about a token changes with time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple

from .config import TenantConfig
from .decision import Decision, Grant, decide, grant_for
from .errors import AuthorizerError, PlatformFault, Reason
from .events import Caller, EventKind, parse_event
from .http import HttpFetcher
from .jwks import JwksCache
from .policy import ContextValue, flatten, iam_policy, simple_response
from .registry import ConfigSource, Resolution, SsmSource, TenantRegistry, TenantRuntime
from .settings import Settings
from .telemetry import DecisionRecord, Telemetry
from .verification import TokenVerifier, VerifiedToken, token_digest

Outcome = Literal["allow", "deny", "unauthorized", "fault"]
_REPEAT_CACHE_MAX: Final = 10_000


class Evaluation(NamedTuple):
    """The result of one invocation, independent of transport."""

    outcome: Outcome
    reason: Reason
    response: dict[str, Any] | None  # the body API Gateway receives for allow/deny
    tenant_id: str | None
    cache_hit: bool

    @property
    def status(self) -> int:
        """The HTTP status API Gateway answers the client when the decision is not Allow."""
        return {"allow": 200, "deny": 403, "unauthorized": 401, "fault": 500}[self.outcome]


@dataclass(slots=True)
class _Verified:
    tenant: TenantRuntime
    token: VerifiedToken
    grant: Grant
    context: dict[str, ContextValue]
    skew: float
    # Policy documents already built for this principal, by API/stage (see _response).
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)


class Authorizer:
    """Decides for one event at a time; safe to share across threads of the local gateway."""

    def __init__(
        self,
        registry: TenantRegistry,
        jwks: JwksCache,
        telemetry: Telemetry,
        *,
        clock: Callable[[], float] = time.time,
        repeat_cache_max: int = _REPEAT_CACHE_MAX,
    ) -> None:
        self.registry = registry
        self.jwks = jwks
        self.telemetry = telemetry
        self.verifier = TokenVerifier(jwks, self._secret, clock=clock)
        self._clock = clock
        self._repeat: dict[str, _Verified] = {}
        self._repeat_max = repeat_cache_max
        self._last_snapshot: dict[str, int] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        source: ConfigSource | None = None,
        telemetry: Telemetry | None = None,
    ) -> Authorizer:
        """Build the production object graph from :class:`Settings`."""
        registry = TenantRegistry(
            source or SsmSource(settings.ssm_prefix),
            ttl=settings.config_ttl,
            stale_window=settings.config_stale,
        )
        jwks = JwksCache(
            HttpFetcher(),
            default_max_age=settings.jwks_max_age,
            min_max_age=min(60.0, settings.jwks_max_age),
            kid_cooldown=settings.kid_cooldown,
            stale_window=settings.jwks_stale,
        )
        telemetry = telemetry or Telemetry(
            namespace=settings.metrics_namespace,
            function_name=settings.function_name,
            level=settings.log_level,
        )
        return cls(registry, jwks, telemetry)

    def _secret(self, name: str, tenant_id: str) -> bytes:
        return self.registry.secret(name, tenant_id=tenant_id)

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, event: object) -> Evaluation:
        """Decide for one API Gateway authorizer event. Never raises."""
        started = time.perf_counter()
        record = DecisionRecord()
        before = self._events()
        try:
            evaluation = self._evaluate(event, record)
        except AuthorizerError as exc:
            outcome: Outcome = "fault" if isinstance(exc, PlatformFault) else "unauthorized"
            evaluation = Evaluation(outcome, exc.reason, None, record.tenant_id, False)
            record.detail = exc.detail or None
            if exc.kid and record.kid is None:
                record.kid = exc.kid
        except Exception as exc:  # noqa: BLE001  (invariant 1: anything unexpected is a fault)
            evaluation = Evaluation("fault", Reason.INTERNAL_ERROR, None, record.tenant_id, False)
            # The type only: a message could quote input, and input may hold a token.
            record.detail = f"unexpected {type(exc).__name__}"
        record.outcome = evaluation.outcome
        record.reason = evaluation.reason
        if evaluation.cache_hit:
            record.cache = "hit"
        metrics = self._metrics() if self._events() != before else None
        self.telemetry.decision(record, (time.perf_counter() - started) * 1000, metrics)
        return evaluation

    def _evaluate(self, event: object, record: DecisionRecord) -> Evaluation:
        request = parse_event(event)
        caller = request.caller
        record.kind = request.kind
        record.account_id = caller.account_id
        record.api_id = caller.api_id
        record.stage = caller.stage
        record.route = caller.route
        resolution = self.registry.lookup(caller)
        runtime = resolution.tenant
        tenant = runtime.config
        record.tenant_id = tenant.tenant_id
        record.stale_config = resolution.stale
        token = request.credential(tenant.token)
        digest = token_digest(token)
        record.token_hash = digest[:12]

        cached = self._repeat.get(digest)
        hit = cached is not None and self._still_valid(cached, runtime)
        verified = cached if hit and cached is not None else self._verify(token, digest, resolution)
        result = verified.token
        record.iss = result.issuer
        record.kid = result.kid
        record.principal = result.principal_id
        record.stale_key = result.stale_key and not hit

        decision = decide(runtime.rules, verified.grant, caller)
        if resolution.binding.response == "simple" and request.kind is EventKind.HTTP_V2:
            response = simple_response(decision, verified.context)
        else:
            response = self._policy(verified, caller, decision)
        outcome: Outcome = "allow" if decision.allowed else "deny"
        return Evaluation(outcome, decision.reason, response, tenant.tenant_id, hit)

    def _verify(self, token: str, digest: str, resolution: Resolution) -> _Verified:
        runtime = resolution.tenant
        tenant = runtime.config
        result = self.verifier.verify(token, tenant, digest)
        issuer_config = result.issuer_config
        entry = _Verified(
            tenant=runtime,
            token=result,
            grant=grant_for(runtime.rules, result.scopes, result.claims),
            context=_context(tenant, result),
            skew=issuer_config.clock_skew_seconds if issuer_config else 0.0,
        )
        if self._repeat_max > 0 and not result.stale_key:
            # A decision made on stale keys is not remembered: it is re-made (and re-counted
            # as stale) until the IdP answers again. repeat_cache_max=0 disables the cache.
            if len(self._repeat) >= self._repeat_max:
                del self._repeat[next(iter(self._repeat))]
            self._repeat[digest] = entry
        return entry

    @staticmethod
    def _policy(verified: _Verified, caller: Caller, decision: Decision) -> dict[str, Any]:
        """The IAM answer; its document is built once per principal and API/stage.

        The document depends only on the grant and the API/stage prefix, except for the
        explicit Deny of an uncovered route under a deny default, which names the ARN.
        """
        per_route = decision.reason is Reason.ROUTE_NOT_ALLOWED
        document = None if per_route else verified.documents.get(caller.api_prefix)
        if document is None:
            built = iam_policy(verified.token.principal_id, caller, decision, verified.context)
            document = built["policyDocument"]
            # A per-route document names the client's path: never kept, so a client
            # cannot pin memory with long paths.
            if not per_route and len(verified.documents) < 16:
                verified.documents[caller.api_prefix] = document
        return {
            "principalId": verified.token.principal_id,
            "policyDocument": document,
            "context": verified.context,
        }

    def _still_valid(self, entry: _Verified, tenant: TenantRuntime) -> bool:
        if entry.tenant is not tenant:
            return False
        token = entry.token
        if token.expires_at is not None and self._clock() > token.expires_at + entry.skew:
            return False
        return token.jwks_uri is None or self.jwks.is_current(
            token.jwks_uri, token.key_generation, token.kid
        )

    # ------------------------------------------------------------------ telemetry

    def _events(self) -> int:
        """A number that changes whenever a fetch, failure or stale serve is counted."""
        return self.registry.stats.events + self.jwks.events

    def _metrics(self) -> dict[str, int] | None:
        """The counters that moved during this decision (rare: cold or refreshing paths)."""
        snapshot = self._snapshot()
        previous = self._last_snapshot
        self._last_snapshot = snapshot
        return {k: v - previous.get(k, 0) for k, v in snapshot.items() if v != previous.get(k, 0)}

    def _snapshot(self) -> dict[str, int]:
        jwks = self.jwks.stats
        registry = self.registry.stats
        return {
            "StaleKeyServes": jwks.stale_serves,
            "StaleConfigServes": registry.stale_serves,
            "JwksFetches": jwks.fetches,
            "JwksFetchFailures": jwks.failures,
            "SsmFetches": registry.fetches,
            "SsmFetchFailures": registry.failures,
        }


def _context(tenant: TenantConfig, token: VerifiedToken) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {
        "tenant_id": tenant.tenant_id,
        "principal_id": token.principal_id,
        "scopes": " ".join(sorted(token.scopes)),
        "issuer": token.issuer,
    }
    if token.client_id is not None:
        context["client_id"] = token.client_id
    forward: tuple[str, ...] = token.issuer_config.forward_claims if token.issuer_config else ()
    claims: Mapping[str, Any] = token.claims
    for name in forward:
        if name in claims:
            context[name] = flatten(claims[name])
    return context
