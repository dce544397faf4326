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

The same token on the same ``methodArn``/``routeArn`` goes one step further: its whole
answer (response and the body of its log line) is kept in a second, smaller table keyed
by the token and the ARN, under exactly the same three conditions, so a repeated request
costs an event parse, two dictionary lookups and one log write
(``docs/decisions/0013-warm-path-budget.md``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

from .decision import DEFAULT_ROUTE, Decision, Grant, decide, grant_for
from .errors import AuthorizerError, PlatformFault, Reason
from .events import Caller, EventKind, parse_event
from .http import HttpFetcher
from .jwks import JwksCache
from .policy import ContextValue, flatten, iam_policy, simple_response
from .registry import ConfigSource, Resolution, SsmSource, TenantRegistry, TenantRuntime
from .settings import Settings
from .telemetry import DecisionRecord, Telemetry
from .verification import TokenVerifier, VerifiedToken, token_digest

if TYPE_CHECKING:
    from .config import TenantConfig

Outcome = Literal["allow", "deny", "unauthorized", "fault"]
_REPEAT_CACHE_MAX: Final = 10_000
# Answers are keyed by the whole token (<= 16 KB) and ARN (<= 2 KB), so fewer are kept:
# about 20 MB at the very worst, a few MB for real tokens.
_ANSWERS_MAX: Final = 1024
# Policy documents by (allowed, denied, API/stage prefix): a few per tenant API in practice.
_DOCUMENTS_MAX: Final = 1024


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


# Private records are plain slotted classes: ~0.01 ms at cold start, a NamedTuple ~0.2 ms.
class _Verified:
    """A verified token and what every decision for it needs (the repeated-token cache)."""

    __slots__ = ("context", "grant", "skew", "tenant", "token")

    def __init__(
        self,
        tenant: TenantRuntime,
        token: VerifiedToken,
        grant: Grant,
        context: dict[str, ContextValue],
        skew: float,
    ) -> None:
        self.tenant = tenant
        self.token = token
        self.grant = grant
        self.context = context
        self.skew = skew


class _Answer:
    """A repeated token's whole answer on one ARN: valid exactly while ``verified`` is."""

    __slots__ = ("body", "caller", "evaluation", "kind", "verified")

    def __init__(
        self,
        verified: _Verified,
        kind: EventKind,
        caller: Caller,
        evaluation: Evaluation,
        body: str,
    ) -> None:
        self.verified = verified
        self.kind = kind
        self.caller = caller
        self.evaluation = evaluation
        self.body = body  # the decision line's body, as a cache hit (Telemetry.body)


def _evict_oldest(table: dict[Any, Any]) -> None:
    """Drop the oldest entry of an insertion-ordered table (safe if another thread did)."""
    # StopIteration/RuntimeError: emptied or resized meanwhile by another gateway thread.
    with contextlib.suppress(StopIteration, RuntimeError):
        table.pop(next(iter(table)), None)


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
        self._answers: dict[tuple[str, str], _Answer] = {}
        self._answers_max = min(repeat_cache_max, _ANSWERS_MAX)
        self._documents: dict[tuple[tuple[str, ...], tuple[str, ...], str], dict[str, Any]] = {}
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

    def evaluate(self, event: object, qualifier: str | None = None) -> Evaluation:
        """Decide for one API Gateway authorizer event. Never raises.

        ``qualifier`` is the alias the function was invoked through, None when unqualified
        (:meth:`TenantRegistry.lookup` decides only for the accounts that alias serves).
        """
        started = time.perf_counter()
        record = DecisionRecord()
        before = self._events()
        body: str | None = None
        try:
            evaluation, body = self._evaluate(event, record, qualifier)
        except AuthorizerError as exc:
            outcome: Outcome = "fault" if isinstance(exc, PlatformFault) else "unauthorized"
            if record.tenant_id is None:
                record.tenant_id = exc.tenant_id
            evaluation = Evaluation(outcome, exc.reason, None, record.tenant_id, False)
            record.detail = exc.detail or None
            if exc.kid and record.kid is None:
                record.kid = exc.kid
        except Exception as exc:  # noqa: BLE001  (invariant 1: anything unexpected is a fault)
            evaluation = Evaluation("fault", Reason.INTERNAL_ERROR, None, record.tenant_id, False)
            # The type only: a message could quote input, and input may hold a token.
            record.detail = f"unexpected {type(exc).__name__}"
        if body is None:
            record.outcome = evaluation.outcome
            record.reason = evaluation.reason
            if evaluation.cache_hit:
                record.cache = "hit"
            body = self.telemetry.body(record)
        metrics = self._metrics() if self._events() != before else None
        self.telemetry.emit(body, (time.perf_counter() - started) * 1000, metrics)
        return evaluation

    def _evaluate(
        self, event: object, record: DecisionRecord, qualifier: str | None
    ) -> tuple[Evaluation, str | None]:
        """The evaluation, and the body of its log line when a cached answer has one."""
        # A REST TOKEN event is its authorizationToken and methodArn and nothing else:
        # a repeated one is answered by those two strings, before any parsing.
        answer_key: tuple[str, str] | None = None
        if type(event) is dict and event.get("type") == "TOKEN":
            raw, arn = event.get("authorizationToken"), event.get("methodArn")
            if type(raw) is str and type(arn) is str:
                answer_key = (raw, arn)
                answered = self._answered(answer_key, EventKind.REST_TOKEN, qualifier)
                if answered is not None:
                    return answered.evaluation, answered.body
        request = parse_event(event)
        caller = request.caller
        record.kind = request.kind
        record.caller = caller
        resolution = self.registry.lookup(caller, qualifier)
        runtime = resolution.tenant
        tenant = runtime.config
        record.tenant_id = tenant.tenant_id
        record.stale_config = resolution.stale
        token = request.credential(tenant.token)
        simple = resolution.binding.response == "simple" and request.kind is EventKind.HTTP_V2
        # A simple response is cached by API Gateway per route key: under the catch-all
        # $default it is replayed for every path, so it is decided for all of them.
        resource = DEFAULT_ROUTE if simple and request.route_key == DEFAULT_ROUTE else None
        if answer_key is None:
            answer_key = (token, caller.arn if resource is None else f"{caller.arn} {resource}")
            answered = self._answered(answer_key, request.kind, qualifier, resolution)
            if answered is not None:
                return answered.evaluation, answered.body

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

        decision = decide(runtime.rules, verified.grant, caller, resource)
        if simple:
            response = simple_response(decision, verified.context)
        else:
            response = self._policy(verified, caller, decision)
        outcome: Outcome = "allow" if decision.allowed else "deny"
        evaluation = Evaluation(outcome, decision.reason, response, tenant.tenant_id, hit)
        if self._answers_max > 0 and not result.stale_key and not resolution.stale:
            # What this token gets on this ARN from now on, line included (as a hit).
            record.outcome, record.reason, record.cache = outcome, decision.reason, "hit"
            cached_evaluation = evaluation._replace(cache_hit=True)
            if len(self._answers) >= self._answers_max:
                _evict_oldest(self._answers)
            self._answers[answer_key] = _Answer(
                verified, request.kind, caller, cached_evaluation, self.telemetry.body(record)
            )
            record.cache = "miss"
        return evaluation, None

    def _answered(
        self,
        key: tuple[str, str],
        kind: EventKind,
        qualifier: str | None,
        resolution: Resolution | None = None,
    ) -> _Answer | None:
        """The cached answer for ``key``, if it is still exactly what a decision would say.

        Valid while the verified token is (:meth:`_still_valid`), for the same kind of
        event, and never on a stale config: then the decision is made and logged anew.
        """
        answer = self._answers.get(key)
        if answer is None or answer.kind is not kind:
            return None
        if resolution is None:  # a REST TOKEN event, not parsed yet: look the caller up
            try:
                resolution = self.registry.lookup(answer.caller, qualifier)
            except AuthorizerError:
                return None  # the full path raises it again, with the caller in its line
        if resolution.stale or not self._still_valid(answer.verified, resolution.tenant):
            return None
        return answer

    def _verify(self, token: str, digest: str, resolution: Resolution) -> _Verified:
        runtime = resolution.tenant
        tenant = runtime.config
        result = self.verifier.verify(token, tenant, digest)
        issuer_config = result.issuer_config
        entry = _Verified(
            runtime,
            result,
            grant_for(runtime.rules, result.scopes, result.claims),
            _context(tenant, result),
            issuer_config.clock_skew_seconds if issuer_config else 0.0,
        )
        if self._repeat_max > 0 and not result.stale_key:
            # A decision made on stale keys is not remembered: it is re-made (and re-counted
            # as stale) until the IdP answers again. repeat_cache_max=0 disables the cache.
            if len(self._repeat) >= self._repeat_max:
                _evict_oldest(self._repeat)
            self._repeat[digest] = entry
        return entry

    def _policy(self, verified: _Verified, caller: Caller, decision: Decision) -> dict[str, Any]:
        """The IAM answer; its document is built once per grant and API/stage.

        The document depends only on the grant's allowed and denied resources and the
        API/stage prefix, so principals with the same grant share it.
        """
        grant = decision.grant
        key = (grant.allow, grant.deny, caller.api_prefix)
        document = self._documents.get(key)
        if document is None:
            document = iam_policy(verified.token.principal_id, caller, decision, {})[
                "policyDocument"
            ]
            if len(self._documents) >= _DOCUMENTS_MAX:
                _evict_oldest(self._documents)
            self._documents[key] = document
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
