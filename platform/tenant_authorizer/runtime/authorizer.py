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
from collections.abc import Callable, Mapping
from sys import getsizeof
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

from .caller import Caller
from .counters import Counters
from .errors import AuthorizerError, PlatformFault, Reason
from .events import EventKind, parse_event
from .fetch import DEFAULT_FETCH_TIMEOUT, HttpFetcher
from .jwks import JwksCache
from .jws import token_digest
from .memo import Answer, AnswerKey, TokenMemo, Verified
from .registry import Resolution, TenantRegistry
from .responses import ContextValue, flatten, iam_policy, simple_response
from .rules import DEFAULT_ROUTE, Decision, decide, grant_for
from .settings import Settings
from .sources import ConfigSource, SsmSource
from .telemetry import DecisionRecord, Telemetry
from .verification import TokenVerifier, VerifiedToken

if TYPE_CHECKING:
    from .tenant import TenantConfig

Outcome = Literal["allow", "deny", "unauthorized", "fault"]
# All network time of one decision: discovery and then keys, 1.5 s each at most.
DEFAULT_NETWORK_BUDGET: Final = 2 * DEFAULT_FETCH_TIMEOUT


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
    ) -> None:
        self.registry = registry
        self.jwks = jwks
        self.telemetry = telemetry
        self.verifier = TokenVerifier(jwks, self._secret, clock=clock)
        self.memo = memo if memo is not None else TokenMemo(jwks, clock)
        self.network_budget = network_budget
        # The caches' counters: one object when they share it, as from_settings makes them.
        self._counters = tuple({id(c): c for c in (registry.counters, jwks.counters)}.values())
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
        counters = Counters()
        registry = TenantRegistry(
            source or SsmSource(settings.ssm_prefix),
            ttl=settings.config_ttl,
            stale_window=settings.config_stale,
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
        return cls(registry, jwks, telemetry, network_budget=settings.network_budget)

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
        metrics = self._metrics() if self._events() != before else None
        self.telemetry.emit(body, (time.perf_counter() - started) * 1000, metrics)
        return evaluation

    def _evaluate(
        self, event: object, record: DecisionRecord, qualifier: str | None
    ) -> tuple[Evaluation, str | None]:
        """The evaluation, and the body of its log line when a held answer has one."""
        # A REST TOKEN event is its authorizationToken and methodArn and nothing else:
        # a repeated one is answered by those two strings, before any parsing.
        answer_key: AnswerKey | None = None
        if type(event) is dict and event.get("type") == "TOKEN" and self.memo.keeps_answers:
            raw, arn = event.get("authorizationToken"), event.get("methodArn")
            if type(raw) is str and type(arn) is str:
                # The value exactly as sent, scheme included: a tenant's scheme rule may
                # refuse one spelling of a token it allows in another.
                answer_key = (raw, arn, None)
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
        digest = token_digest(token)
        record.token_hash = digest[:12]
        simple = resolution.binding.response == "simple" and request.kind is EventKind.HTTP_V2
        # A simple response is cached by API Gateway per route key: under the catch-all
        # $default it is replayed for every path, so it is decided for all of them.
        resource = DEFAULT_ROUTE if simple and request.route_key == DEFAULT_ROUTE else None
        if answer_key is None and self.memo.keeps_answers:
            answer_key = (token, caller.arn, resource)
            answered = self._answered(answer_key, request.kind, qualifier, resolution)
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
        record.stale_key = stale_key

        decision = decide(runtime.rules, verified.grant, caller, resource)
        if simple:
            response = simple_response(decision, verified.context)
        else:
            response = self._policy(verified, caller, decision)
        outcome: Outcome = "allow" if decision.allowed else "deny"
        evaluation = Evaluation(outcome, decision.reason, response, tenant.tenant_id, hit)
        if answer_key is not None and not stale_key and not resolution.stale:
            # What this token gets on this ARN from now on, line included (as a hit).
            record.outcome, record.reason, record.cache = outcome, decision.reason, "hit"
            self.memo.remember_answer(
                answer_key,
                Answer(
                    verified,
                    request.kind,
                    caller,
                    evaluation._replace(cache_hit=True),
                    self.telemetry.body(record),
                    answer_key[0],
                ),
            )
            record.cache = "miss"
        return evaluation, None

    def _answered(
        self,
        key: AnswerKey,
        kind: EventKind,
        qualifier: str | None,
        resolution: Resolution | None = None,
    ) -> Answer | None:
        """The held answer for ``key``, if it is still exactly what a decision would say.

        Usable while its verified token is (:meth:`TokenMemo.usable`), for the same kind of
        event, and never on a stale config: then the decision is made and logged anew.
        """
        if resolution is None:  # a REST TOKEN event, not parsed yet: look the caller up
            held = self.memo.peek_answer(key)
            if held is None or held.kind is not kind:
                return None
            try:
                resolution = self.registry.lookup(held.caller, qualifier)
            except AuthorizerError:
                return None  # the full path raises it again, with the caller in its line
        if resolution.stale:
            return None
        return self.memo.answer(key, kind, resolution.tenant)

    def _verify(self, token: str, digest: str, resolution: Resolution) -> tuple[Verified, bool]:
        """Verify ``token``; its record (held unless stale keys verified it) and staleness."""
        runtime = resolution.tenant
        tenant = runtime.config
        result = self.verifier.verify(token, tenant, digest, self.network_budget)
        issuer_config = result.issuer_config
        valid_until = result.expires_at
        if valid_until is not None and issuer_config is not None:
            valid_until += issuer_config.clock_skew_seconds
        entry = Verified(
            runtime,
            result.principal_id,
            result.issuer,
            result.kid,
            result.alg,
            valid_until,
            (result.jwks_uri, result.key_generation),
            grant_for(runtime.rules, result.scopes, result.claims),
            *_context(tenant, result),
            digest[:12],
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

    def _events(self) -> int:
        """A number that changes whenever a fetch, failure or stale serve is counted."""
        return sum(counters.events for counters in self._counters)

    def _metrics(self) -> dict[str, int] | None:
        """The metrics that moved during this decision (rare: cold or refreshing paths)."""
        snapshot: dict[str, int] = {}
        for counters in self._counters:
            for name, value in counters.metrics().items():
                snapshot[name] = snapshot.get(name, 0) + value
        previous = self._last_snapshot
        self._last_snapshot = snapshot
        return {k: v - previous.get(k, 0) for k, v in snapshot.items() if v != previous.get(k, 0)}


def _context(tenant: TenantConfig, token: VerifiedToken) -> tuple[dict[str, ContextValue], int]:
    """The context API Gateway hands the backend, and the text it holds (for the memo)."""
    scopes = " ".join(sorted(token.scopes))
    context: dict[str, ContextValue] = {
        "tenant_id": tenant.tenant_id,
        "principal_id": token.principal_id,
        "scopes": scopes,
        "issuer": token.issuer,
    }
    # getsizeof, not len: a string with one astral character holds four bytes a character.
    size = getsizeof(token.principal_id) + getsizeof(scopes)
    if token.client_id is not None:
        context["client_id"] = token.client_id
        size += getsizeof(token.client_id)
    forward: tuple[str, ...] = token.issuer_config.forward_claims if token.issuer_config else ()
    claims: Mapping[str, Any] = token.claims
    for name in forward:
        if name in claims:
            value = context[name] = flatten(claims[name])
            size += 120 + getsizeof(value)
    return context, size
