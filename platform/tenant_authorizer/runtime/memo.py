"""The warm path's per-token memory: verified tokens, whole answers, shared policy documents.

A token seen again on a warm instance skips verification, and the same token on the same
``methodArn``/``routeArn`` skips the decision too (``docs/decisions/0013``). Both rest on
**one validity rule** (:meth:`TokenMemo.usable`): an entry is used only while

* the tenant config object it was verified under is still the current one (a refreshed
  or changed config invalidates it),
* the key that verified it is still published, under the same ``kid`` *and* ``alg``, in
  a JWKS that is still fresh (a removed key invalidates it within the JWKS max-age), and
* the token has not expired (``exp``, or ``max_token_age_seconds``, plus the skew).

Entries keep only what a repeat needs, never a token's claims: a verified token is keyed
by its SHA-256, an answer by the token as sent (an exact match, no hash on a repeat).
The tables are bounded in bytes (:mod:`.bounded`): 10,000 distinct maximum-size tokens
grow a warm instance by tens of MB (``make bench``), not the half gigabyte their claims
would hold.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from sys import getsizeof
from typing import TYPE_CHECKING, Any, Final

from .bounded import BoundedTable

if TYPE_CHECKING:
    from .account import TenantRuntime
    from .binding import Binding
    from .caller import Caller
    from .events import EventKind
    from .jwks import JwksCache
    from .responses import ContextValue
    from .rules import Grant

# (the token as sent, ARN, resource decided when not the ARN's: "$default"). The token
# text itself is the key: a repeat is recognised by an exact match, with no hash to
# compute, and its bytes count against the table's budget. Never joined into one string
# a client's path could imitate.
AnswerKey = tuple[str, str, str | None]

VERIFIED_BYTES: Final = 24 * 1024 * 1024
ANSWERS_BYTES: Final = 16 * 1024 * 1024
DOCUMENTS_BYTES: Final = 2 * 1024 * 1024

# What a record costs beyond the text it holds: the objects, their headers and the dict
# slots, measured with tracemalloc (tests/runtime/test_memo.py keeps it honest). Sizes are
# computed from string lengths only: sys.getsizeof per field costs more than it is worth.
_VERIFIED_OVERHEAD: Final = 1400
_ANSWER_OVERHEAD: Final = 900
# What the tables' sweeps read: the instant a record stops being usable (None: never).
_VALID_UNTIL: Final = attrgetter("valid_until")


# Private records are plain slotted classes: ~0.01 ms at cold start, a NamedTuple ~0.2 ms.
class Verified:
    """What a repeat of a verified token needs, and nothing more."""

    __slots__ = (
        "alg",
        "binding",
        "context",
        "generation",
        "grant",
        "issuer",
        "jwks_uri",
        "kid",
        "principal",
        "size",
        "tenant",
        "valid_until",
    )

    def __init__(  # noqa: PLR0917  (a record's fields, positional: one call per new token)
        self,
        tenant: TenantRuntime,
        principal: str,
        issuer: str,
        kid: str | None,
        alg: str | None,
        valid_until: float | None,
        jwks_uri: str | None,
        generation: int,
        grant: Grant,
        context: dict[str, ContextValue],
        context_bytes: int,
        binding: Binding | None = None,
    ) -> None:
        self.tenant = tenant
        # What the token is bound to (a certificate, a DPoP key): checked on every use.
        self.binding = binding
        self.principal = principal
        self.issuer = issuer
        self.kid = kid
        self.alg = alg
        self.valid_until = valid_until  # epoch seconds, skew included; None: never expires
        self.jwks_uri = jwks_uri  # where the key came from (None, generation 0: no JWKS)
        self.generation = generation
        self.grant = grant
        self.context = context
        # The context holds the principal, issuer and scopes; forwarded claims add theirs.
        self.size = _VERIFIED_OVERHEAD + context_bytes + 8 * len(grant.failure)


class Answer:
    """A repeated token's whole answer on one ARN: usable exactly while ``verified`` is."""

    __slots__ = ("body", "caller", "evaluation", "kind", "size", "valid_until", "verified")

    def __init__(  # noqa: PLR0917  (a record's fields, positional: one call per new token)
        self,
        verified: Verified,
        kind: EventKind,
        caller: Caller,
        evaluation: Any,
        body: str,
        token: str,
    ) -> None:
        self.verified = verified
        self.valid_until = verified.valid_until  # the table's sweep reads it
        self.kind = kind
        self.caller = caller
        self.evaluation = evaluation  # the Evaluation to return (cache_hit=True)
        self.body = body  # the decision line's body, as a cache hit (Telemetry.body)
        # The key holds the token; the caller (ARN and path) stays alive with the answer,
        # even once the parsed-ARN cache has let it go.
        self.size = (
            _ANSWER_OVERHEAD
            + len(body)
            + getsizeof(token)
            + getsizeof(caller.arn)
            + getsizeof(caller.path)
            + getsizeof(caller.log_fields)  # the route again, escaped
        )


class TokenMemo:
    """Verified tokens and answers of one warm instance, under one validity rule."""

    __slots__ = ("_answers", "_clock", "_jwks", "_verified", "documents", "keeps_answers")

    #: False when the answers table is disabled (0 bytes): no answer is built.
    keeps_answers: bool

    def __init__(
        self,
        jwks: JwksCache,
        clock: Callable[[], float],
        *,
        verified_bytes: int = VERIFIED_BYTES,
        answers_bytes: int = ANSWERS_BYTES,
        documents_bytes: int = DOCUMENTS_BYTES,
    ) -> None:
        self._jwks = jwks
        self._clock = clock
        self._verified: BoundedTable[str, Verified] = BoundedTable(
            verified_bytes, deadline=_VALID_UNTIL, clock=clock
        )
        self._answers: BoundedTable[AnswerKey, Answer] = BoundedTable(
            answers_bytes, deadline=_VALID_UNTIL, clock=clock
        )
        self.keeps_answers = answers_bytes > 0  # an attribute: read on every TOKEN event
        # Policy documents by (allowed, denied, API/stage prefix): read directly (hot).
        self.documents: BoundedTable[tuple[Any, ...], dict[str, Any]] = BoundedTable(
            documents_bytes
        )

    @property
    def bytes(self) -> int:
        """The memory the tables hold by their own accounting."""
        return self._verified.bytes + self._answers.bytes + self.documents.bytes

    @property
    def answer_bytes(self) -> int:
        """The memory the answers hold by their own accounting."""
        return self._answers.bytes

    def usable(self, entry: Verified, tenant: TenantRuntime) -> bool:
        """The one validity rule (module docstring)."""
        if entry.tenant is not tenant:
            return False
        if entry.valid_until is not None and self._clock() > entry.valid_until:
            return False
        return entry.jwks_uri is None or self._jwks.is_current(
            entry.jwks_uri, entry.generation, entry.kid, entry.alg or ""
        )

    # ------------------------------------------------------------------ verified tokens

    def verified(self, digest: str, tenant: TenantRuntime) -> Verified | None:
        """The usable record of the token with SHA-256 ``digest``, if one is held."""
        entry = self._verified.get(digest)
        if entry is None:
            return None
        if self.usable(entry, tenant):
            return entry
        self._verified.discard(digest)
        return None

    def remember_verified(self, digest: str, entry: Verified) -> None:
        """Hold ``entry`` for the next sight of the token."""
        self._verified.put(digest, entry, entry.size)

    # ------------------------------------------------------------------ answers

    def token_event_key(self, event: object) -> AnswerKey | None:
        """The answer key of a REST TOKEN event, read before the event is parsed.

        A TOKEN event is its ``authorizationToken`` and ``methodArn`` and nothing else, so
        a repeat is recognised by those two strings: the value exactly as sent, scheme
        included (a tenant's scheme rule may refuse one spelling of a token it allows in
        another). None for any other event, or when answers are not kept.
        """
        if type(event) is not dict or event.get("type") != "TOKEN" or not self.keeps_answers:
            return None
        raw, arn = event.get("authorizationToken"), event.get("methodArn")
        if type(raw) is str and type(arn) is str:
            return (raw, arn, None)
        return None

    def request_key(self, token: str, arn: str, resource: str | None) -> AnswerKey | None:
        """The answer key of a parsed event: its token, ARN and the resource decided."""
        return (token, arn, resource) if self.keeps_answers else None

    def answer(self, key: AnswerKey, kind: EventKind, tenant: TenantRuntime) -> Answer | None:
        """The held answer for ``key``, if usable for this ``kind`` under ``tenant``."""
        answer = self._answers.get(key)
        if answer is None or answer.kind is not kind:
            return None
        return self._checked(key, answer, tenant)

    def answer_unparsed(
        self,
        key: AnswerKey,
        kind: EventKind,
        tenant_of: Callable[[Caller, str | None], TenantRuntime | None],
        qualifier: str | None,
    ) -> Answer | None:
        """The held answer for the key of an event not parsed yet (:meth:`token_event_key`).

        The caller is the one the answer was made for; ``tenant_of(caller, qualifier)``
        says which config binds it now (None: none usable, so the event takes the full
        path).
        """
        answer = self._answers.get(key)
        if answer is None or answer.kind is not kind:
            return None
        tenant = tenant_of(answer.caller, qualifier)
        return None if tenant is None else self._checked(key, answer, tenant)

    def _checked(self, key: AnswerKey, answer: Answer, tenant: TenantRuntime) -> Answer | None:
        if self.usable(answer.verified, tenant):
            return answer
        self._answers.discard(key)
        return None

    def holds_answer(self, key: AnswerKey) -> bool:
        """Whether an answer is held for ``key`` (tests: eviction order)."""
        return self._answers.get(key) is not None

    def remember_answer(self, key: AnswerKey, answer: Answer) -> None:
        """Hold ``answer`` for the next sight of the same token on the same ARN."""
        self._answers.put(key, answer, answer.size)

    # ------------------------------------------------------------------ policy documents

    def remember_document(self, key: tuple[Any, ...], document: dict[str, Any]) -> None:
        """Share ``document`` (a policy for a grant and API/stage) with later decisions."""
        resources = [r for statement in document["Statement"] for r in statement["Resource"]]
        self.documents.put(key, document, 400 + sum(len(r) + 64 for r in resources))

    def clear(self) -> None:
        """Forget every token and answer (tests; a new instance starts empty)."""
        self._verified.clear()
        self._answers.clear()
        self.documents.clear()
