"""The request path of one API: identity sources, the result cache, the answer enforced."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from . import iam
from .api import ApiSpec
from .events import build_event, identity_values
from .messages import (
    AccessRecord,
    Authorized,
    Request,
    Response,
    Upstream,
    UpstreamFailed,
    authorizer_error,
    forbidden,
    unauthorized,
)
from .upstreams import EchoUpstream

if TYPE_CHECKING:
    from ...runtime.authorizer import Authorizer, Evaluation

_CACHE_MAX: Final = 10_000


class AnswerInvalid(ValueError):
    """Raised when the authorizer's answer is not one API Gateway accepts (500)."""


@dataclass(frozen=True, slots=True)
class _Answer:
    """An authorizer answer, checked once, kept in the cache, re-applied per request."""

    policy: Mapping[str, Any] | None  # IAM mode
    is_authorized: bool | None  # simple mode
    principal_id: str | None
    context: Mapping[str, Any]
    tenant_id: str | None

    def verdict(self, arn: str) -> str:
        """``allow``, ``explicit_deny``, ``implicit_deny`` or (simple) ``not_authorized``."""
        if self.policy is None:
            return "allow" if self.is_authorized else "not_authorized"
        return iam.evaluate(self.policy, arn)


def _answer(api: ApiSpec, response: Mapping[str, Any], tenant_id: str | None) -> _Answer:
    context = response.get("context") or {}
    if not isinstance(context, Mapping):
        raise AnswerInvalid("context is not an object")
    if api.kind != "http-v2":
        # REST and payload 1.0 accept only flat values: a nested one is a 500 in AWS.
        for key, value in context.items():
            if value is None or not isinstance(value, str | int | float | bool):
                raise AnswerInvalid(f"context value {key!r} is not a string, number or boolean")
    if api.simple_responses:
        authorized = response.get("isAuthorized")
        if not isinstance(authorized, bool):
            raise AnswerInvalid("isAuthorized is missing or not a boolean")
        return _Answer(None, authorized, None, dict(context), tenant_id)
    principal = response.get("principalId")
    if not isinstance(principal, str) or not principal:
        raise AnswerInvalid("principalId is missing or not a string")
    try:
        iam.statements(response.get("policyDocument"))
    except iam.PolicyInvalid as exc:
        raise AnswerInvalid(str(exc)) from exc
    return _Answer(response["policyDocument"], None, principal, dict(context), tenant_id)


# --------------------------------------------------------------------------- the gateway


@dataclass(slots=True)
class _Cached:
    answer: _Answer
    expires_at: float


class Gateway:
    """API Gateway's request path for one API, around an in-process :class:`Authorizer`."""

    def __init__(
        self,
        api: ApiSpec,
        authorizer: Authorizer,
        *,
        upstream: Upstream | None = None,
        on_access: Callable[[AccessRecord], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        cache_max: int = _CACHE_MAX,
        tenant_label: str | None = None,
    ) -> None:
        self.api = api
        self.tenant_label = tenant_label  # logged when the authorizer is not consulted
        self.upstream: Upstream = upstream or EchoUpstream()
        self.on_access = on_access
        self._authorizer = authorizer
        self._clock = clock
        self._cache: dict[tuple[str, ...], _Cached] = {}
        self._cache_max = cache_max
        self._lock = threading.Lock()
        self._validation = (
            re.compile(api.identity_validation) if api.identity_validation is not None else None
        )
        self.authorizer_calls = 0

    @property
    def authorizer(self) -> Authorizer:
        """The authorizer currently answering."""
        return self._authorizer

    def replace_authorizer(self, authorizer: Authorizer) -> None:
        """Answer with ``authorizer`` from now on (tenant files reloaded); flush the cache."""
        with self._lock:
            self._authorizer = authorizer
            self._cache.clear()

    def flush(self) -> None:
        """Forget every cached authorizer result (API Gateway's "flush authorizer cache")."""
        with self._lock:
            self._cache.clear()

    def handle(self, request: Request) -> Response:
        """Serve one request; report one :class:`AccessRecord`."""
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        record: dict[str, Any] = {
            "outcome": "fault",
            "reason": "internal_error",
            "cache": "-",
            "tenant_id": self.tenant_label,
        }
        response = self._handle(request, request_id, record)
        if self.on_access is not None:
            self.on_access(
                AccessRecord(
                    method=request.method,
                    path=request.path,
                    status=response.status,
                    outcome=record["outcome"],
                    reason=record["reason"],
                    tenant_id=record.get("tenant_id"),
                    cache=record["cache"],
                    latency_ms=(time.perf_counter() - started) * 1000,
                    note=record.get("note"),
                )
            )
        return response

    def _handle(self, request: Request, request_id: str, record: dict[str, Any]) -> Response:
        api = self.api
        values = identity_values(api, request)
        present = [v for v in values if v]
        if len(present) != len(values):
            record.update(outcome="unauthorized", reason="identity_source_missing")
            return unauthorized(api, request_id)
        if self._validation is not None and not self._validation.fullmatch(present[0]):
            record.update(outcome="unauthorized", reason="identity_validation_failed")
            return unauthorized(api, request_id)

        key = tuple(present)
        now = self._clock()
        answer: _Answer | None = None
        evaluation: Evaluation | None = None
        if api.ttl > 0:
            with self._lock:
                cached = self._cache.get(key)
                if cached is not None and now >= cached.expires_at:
                    del self._cache[key]
                    cached = None
            if cached is not None:
                answer = cached.answer
                record["cache"] = "hit"
        if answer is None:
            record["cache"] = "miss" if api.ttl > 0 else "off"
            event = build_event(api, request, present, request_id=request_id, now=time.time())
            with self._lock:
                self.authorizer_calls += 1
                authorizer = self._authorizer
            evaluation = authorizer.evaluate(event)
            record.update(
                tenant_id=evaluation.tenant_id,
                reason=evaluation.reason.value,
                outcome=evaluation.outcome,
            )
            if evaluation.outcome == "unauthorized":
                return unauthorized(api, request_id)
            if evaluation.outcome == "fault" or evaluation.response is None:
                record["outcome"] = "fault"
                return authorizer_error(api, request_id)
            try:
                answer = _answer(api, evaluation.response, evaluation.tenant_id)
            except AnswerInvalid as exc:
                record.update(outcome="fault", reason="authorizer_answer_invalid", note=str(exc))
                return authorizer_error(api, request_id)
            if api.ttl > 0:
                self._remember(key, _Cached(answer, now + api.ttl))
        record["tenant_id"] = answer.tenant_id

        arn = api.method_arn(request.method, request.path)
        verdict = answer.verdict(arn)
        if evaluation is None:  # a cached answer: this route was never put to the authorizer
            record.update(outcome="allow" if verdict == "allow" else "deny", reason=verdict)
            if verdict == "allow":
                record["reason"] = "ok"
        elif (verdict == "allow") != (evaluation.outcome == "allow"):
            # The policy and the decision disagree for the very ARN that was asked:
            # API Gateway enforces the policy, so does this gateway; say it loudly.
            record.update(
                outcome="allow" if verdict == "allow" else "deny",
                reason=verdict if verdict != "allow" else "ok",
                note=f"the authorizer decided {evaluation.outcome} but its policy says {verdict}",
            )
        if verdict != "allow":
            return forbidden(api, request_id, verdict)

        authorized = Authorized(
            principal_id=answer.principal_id,
            context=answer.context,
            tenant_id=answer.tenant_id,
            method_arn=arn,
            request_id=request_id,
            kind=api.kind,
        )
        try:
            return self.upstream(request, authorized)
        except UpstreamFailed as exc:
            record.update(reason=exc.reason, note=exc.message)
            body = json.dumps({"message": exc.message}).encode()
            return Response(exc.status, (("Content-Type", "application/json"),), body)

    def _remember(self, key: tuple[str, ...], entry: _Cached) -> None:
        with self._lock:
            if len(self._cache) >= self._cache_max:
                del self._cache[next(iter(self._cache))]
            self._cache[key] = entry
