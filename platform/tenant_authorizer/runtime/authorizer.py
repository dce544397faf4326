"""The authorizer: one evaluation from event to answer.

``Authorizer.evaluate`` never raises: it returns an :class:`Evaluation` whose outcome is
``allow``, ``deny`` (403), ``unauthorized`` (401) or ``fault`` (500), and logs exactly one
decision line. Only this module catches broadly (invariant 1): every unexpected
exception becomes a fault, never an Allow. The Lambda handler and the local gateway
adapt an Evaluation to their own transport.

A token seen again on a warm instance is answered from :class:`~.memo.TokenMemo`, the
one owner of per-token state and its validity rule: a repeated token skips
verification, and the same token on the same ARN returns its whole answer, line body
included (``docs/decisions/0013-warm-path-budget.md``). The key fetches of one decision
(discovery, then keys) share one budget, ``network_budget`` seconds from the first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

from .caller import Caller
from .counters import Counters
from .errors import AuthorizerError, PlatformFault, Reason
from .events import EventKind, parse_event, token_request
from .fetch import DEFAULT_FETCH_TIMEOUT, HttpFetcher
from .jwks import JwksCache
from .jws import token_digest
from .memo import Answer, TokenMemo, Verified
from .registry import Resolution, TenantRegistry
from .responses import decision_context, iam_policy, simple_response
from .rules import DEFAULT_ROUTE, Decision, decide, grant_for
from .settings import Settings
from .sources import ConfigSource, SsmSource
from .telemetry import DecisionRecord, Telemetry
from .verification import TokenVerifier

if TYPE_CHECKING:
    from .account import TenantRuntime
    from .binding import BindingCheck
    from .introspection import Introspector

Outcome = Literal["allow", "deny", "unauthorized", "fault"]
# All network time of one decision: discovery and then keys, 1.5 s each at most.
DEFAULT_NETWORK_BUDGET: Final = 2 * DEFAULT_FETCH_TIMEOUT
_new_tuple: Final = tuple.__new__


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


class Authorizer:
    """Decides for one event at a time; safe to share across threads of the local gateway."""

    def __init__(
        self,
        registry: TenantRegistry,
        jwks: JwksCache,
        telemetry: Telemetry,
        *,
        clock: Callable[[], float] = time.time,
        memo: TokenMemo | None = None,
        network_budget: float = DEFAULT_NETWORK_BUDGET,
        introspector: Introspector | None = None,
        fetch_timeout: float = DEFAULT_FETCH_TIMEOUT,
    ) -> None:
        self.registry = registry
        self.jwks = jwks
        self.telemetry = telemetry
        self._clock = clock
        self._fetch_timeout = fetch_timeout
        self._introspector = introspector
        # Opaque tokens and bound tokens are some tenants' only: their modules are
        # imported on the first such token, not on every cold start (make bench).
        self.verifier = TokenVerifier(
            jwks, self._secret, clock=clock, introspector=self.introspector
        )
        self.memo = memo if memo is not None else TokenMemo(jwks, clock)
        self.network_budget = network_budget
        self._binding: BindingCheck | None = None
        # The caches' counters: one object when they share it, as from_settings makes them.
        self._counters = tuple({id(c): c for c in (registry.counters, jwks.counters)}.values())
        # Whether anything was counted during a decision: both read inline (each decision).
        self._counted = (registry.counters, jwks.counters)
        self._last_snapshot: dict[str, int] = {}
        # `tenant-authz token explain`: called with each step's object (the request, the
        # resolution, the verified token, the decision). None in production: one `is None`
        # test per step on a new token's path, nothing on a repeat's.
        self.trace: Callable[[str, object], None] | None = None
        self._current_tenant = self._current  # bound once: a TOKEN event's memo lookup

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        source: ConfigSource | None = None,
        telemetry: Telemetry | None = None,
    ) -> Authorizer:
        """Build the production object graph from :class:`Settings`."""
        counters = Counters()
        registry = TenantRegistry(
            source or SsmSource(settings.ssm_prefix),
            ttl=settings.config_ttl,
            stale_window=settings.config_stale,
            budget=settings.config_budget,
            counters=counters,
        )
        jwks = JwksCache.from_settings(
            settings, HttpFetcher(timeout=settings.fetch_timeout), counters=counters
        )
        telemetry = telemetry or Telemetry(
            namespace=settings.metrics_namespace,
            function_name=settings.function_name,
            level=settings.log_level,
        )
        return cls(
            registry,
            jwks,
            telemetry,
            network_budget=settings.network_budget,
            fetch_timeout=settings.fetch_timeout,
        )

    def _secret(self, name: str, tenant_id: str) -> bytes:
        return self.registry.secret(name, tenant_id=tenant_id)

    def introspector(self) -> Introspector:
        """The introspection client, made on the first opaque token."""
        if self._introspector is None:
            from .introspection import Introspector  # noqa: PLC0415  (see __init__)

            self._introspector = Introspector(
                HttpFetcher(timeout=self._fetch_timeout),
                self._secret,
                self.jwks,
                clock=self._clock,
                counters=self.jwks.counters,
            )
        return self._introspector

    @property
    def binding(self) -> BindingCheck:
        """The proof-of-possession check, made on the first bound token."""
        if self._binding is None:
            from .binding import BindingCheck  # noqa: PLC0415  (see __init__)

            self._binding = BindingCheck(self._clock)
        return self._binding

    @binding.setter
    def binding(self, check: BindingCheck) -> None:
        self._binding = check

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, event: object, qualifier: str | None = None) -> Evaluation:
        """Decide for one API Gateway authorizer event. Never raises.

        ``qualifier`` is the alias the function was invoked through, None when unqualified
        (:meth:`TenantRegistry.lookup` decides only for the accounts that alias serves).
        """
        started = time.perf_counter()
        record = DecisionRecord()
        counted = self._counted
        before = counted[0].events + counted[1].events
        body: str | None = None
        try:
            evaluation, body = self._evaluate(event, record, qualifier)
        except AuthorizerError as exc:
            outcome: Outcome = "fault" if isinstance(exc, PlatformFault) else "unauthorized"
            if record.tenant_id is None:
                record.tenant_id = exc.tenant_id
            evaluation = Evaluation(outcome, exc.reason, None, record.tenant_id, False)
            record.detail = exc.detail or None
            # What was refused, as far as the token parsed (never a secret, never the token).
            if record.kid is None:
                record.kid = exc.kid
            if record.iss is None:
                record.iss = exc.issuer
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
        moved = counted[0].events + counted[1].events != before
        metrics = self._metrics() if moved else None
        self.telemetry.emit(body, (time.perf_counter() - started) * 1000, metrics)
        return evaluation

    def _evaluate(
        self, event: object, record: DecisionRecord, qualifier: str | None
    ) -> tuple[Evaluation, str | None]:
        """The evaluation, and the body of its log line when a held answer has one."""
        memo = self.memo
        # A repeated REST TOKEN event is answered before any parsing (TokenMemo).
        answer_key = memo.token_event_key(event)
        if answer_key is not None:
            answered = memo.answer_unparsed(
                answer_key, EventKind.REST_TOKEN, self._current_tenant, qualifier
            )
            if answered is not None:
                return answered.evaluation, answered.body
        # A TOKEN event's two strings were read for its key: its request needs nothing more.
        request = parse_event(event) if answer_key is None else token_request(*answer_key[:2])
        caller = request.caller
        record.kind = request.kind
        record.caller = caller
        trace = self.trace
        if trace is not None:
            trace("request", request)
        resolution = self.registry.lookup(caller, qualifier)
        if trace is not None:
            trace("resolution", resolution)
        runtime = resolution.tenant
        tenant = runtime.config
        record.tenant_id = tenant.tenant_id
        if resolution.stale:
            record.stale_config = True
        token = request.credential(tenant.token)
        digest = token_digest(token)
        record.token_hash = digest[:12]
        simple = resolution.binding.response == "simple" and request.kind is EventKind.HTTP_V2
        # A simple response is cached by API Gateway per route key: under the catch-all
        # $default it is replayed for every path, so it is decided for all of them.
        resource = DEFAULT_ROUTE if simple and request.route_key == DEFAULT_ROUTE else None
        if answer_key is None:
            answer_key = memo.request_key(token, caller.arn, resource)
            # Never on a stale config: then the decision is made and logged anew.
            if answer_key is not None and not resolution.stale:
                answered = memo.answer(answer_key, request.kind, runtime)
                if answered is not None:
                    return answered.evaluation, answered.body

        verified = self.memo.verified(digest, runtime)
        hit = verified is not None
        stale_key = False
        if verified is None:
            verified, stale_key = self._verify(token, digest, resolution)
        record.iss = verified.issuer
        record.kid = verified.kid
        record.principal = verified.principal
        if stale_key:
            record.stale_key = True
        if trace is not None:
            trace("verified", verified)
        bound = verified.binding
        if bound is not None:
            # The caller must prove it holds what the token is bound to, on every request:
            # a remembered verification never stands in for the proof.
            self.binding.check(bound, request, tenant, token)

        decision = decide(runtime.rules, verified.grant, caller, resource)
        if trace is not None:
            trace("decision", decision)
        if simple:
            response = simple_response(decision, verified.context)
        else:
            response = self._policy(verified, caller, decision)
        outcome: Outcome = "allow" if decision.allowed else "deny"
        # tuple.__new__ with every field: Evaluation's own __new__ is a Python function.
        evaluation = _new_tuple(
            Evaluation, (outcome, decision.reason, response, tenant.tenant_id, hit)
        )
        if not hit or answer_key is None or stale_key or resolution.stale or bound is not None:
            # A token's whole answer is held from its second sight on (decision 0013):
            # most tokens are seen once, and building an answer nobody asks for again
            # would cost each of them more than the rest of its decision line.
            return evaluation, None
        # What this token gets on this ARN from now on, line included: the line of a
        # held answer is this one's (a hit), formatted once.
        record.outcome, record.reason = outcome, decision.reason
        record.cache = "hit"
        body = self.telemetry.body(record)
        self.memo.remember_answer(
            answer_key,
            Answer(verified, request.kind, caller, evaluation, body, answer_key[0]),
        )
        return evaluation, body

    def _current(self, caller: Caller, qualifier: str | None) -> TenantRuntime | None:
        """The config binding ``caller`` now, unless it is stale or cannot be had."""
        try:
            resolution = self.registry.lookup(caller, qualifier)
        except AuthorizerError:
            return None  # the full path raises it again, with the caller in its line
        return None if resolution.stale else resolution.tenant

    def _verify(self, token: str, digest: str, resolution: Resolution) -> tuple[Verified, bool]:
        """Verify ``token``; its record (held unless stale keys verified it) and staleness."""
        runtime = resolution.tenant
        tenant = runtime.config
        result = self.verifier.verify(token, tenant, digest, self.network_budget)
        issuer_config = result.issuer_config
        valid_until = result.expires_at
        if result.memo_until is not None:
            valid_until = result.memo_until  # an introspection's answer ends the memory too
        elif valid_until is not None and issuer_config is not None:
            valid_until += issuer_config.clock_skew_seconds
        grant = grant_for(runtime.rules, result.scopes, result.claims)
        context, context_bytes = decision_context(tenant, result)
        entry = Verified(
            runtime,
            result.principal_id,
            result.issuer,
            result.kid,
            result.alg,
            valid_until,
            result.jwks_uri,
            result.key_generation,
            grant,
            context,
            context_bytes,
            result.binding,
        )
        if not result.stale_key:
            # A decision made on stale keys is not remembered: it is re-made (and re-counted
            # as stale) until the IdP answers again.
            self.memo.remember_verified(digest, entry)
        return entry, result.stale_key

    def _policy(self, verified: Verified, caller: Caller, decision: Decision) -> dict[str, Any]:
        """The IAM answer; its document is built once per grant and API/stage and shared."""
        grant = decision.grant
        key = (grant.allow, grant.deny, caller.api_prefix)
        document = self.memo.documents.get(key)
        if document is None:
            document = iam_policy(verified.principal, caller, decision, {})["policyDocument"]
            self.memo.remember_document(key, document)
        return {
            "principalId": verified.principal,
            "policyDocument": document,
            "context": verified.context,
        }

    # ------------------------------------------------------------------ telemetry

    def _metrics(self) -> dict[str, int] | None:
        """The metrics that moved during this decision (rare: cold or refreshing paths)."""
        snapshot: dict[str, int] = {}
        for counters in self._counters:
            for name, value in counters.metrics().items():
                snapshot[name] = snapshot.get(name, 0) + value
        previous = self._last_snapshot
        self._last_snapshot = snapshot
        return {k: v - previous.get(k, 0) for k, v in snapshot.items() if v != previous.get(k, 0)}
