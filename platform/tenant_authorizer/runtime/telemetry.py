"""One structured JSON log line per decision, which is also its CloudWatch EMF metric record.

The line carries tenant, API, route, outcome, reason code, ``iss``, ``kid``, a 12-hex
prefix of the token's SHA-256, cache use and latency -- never the token or a secret.
Its ``_aws`` block makes CloudWatch extract the metrics from the same line
(``docs/decisions/0006-telemetry.md``): ``Decisions`` by ``Outcome`` and by ``Reason``,
and, only when they happened during the decision, ``StaleKeyServes``,
``StaleConfigServes``, ``JwksFetches``, ``JwksFetchFailures``, ``SsmFetches`` and
``SsmFetchFailures``. One write per decision, no Powertools import on the cold start.

The line is formatted from a fixed template rather than ``json.dumps`` of a dict: it is
on the warm path of every decision and costs less than half as much. Every value that
can carry caller-controlled text goes through the JSON string escaper.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Any, Final

from .bounded import BoundedTable
from .counters import METRICS

if TYPE_CHECKING:
    from .caller import Caller

# The extra metrics, in the order a line names them (counters.py lists them once).
EXTRA_METRICS: Final = tuple(metric for metric, _ in METRICS)
_LEVELS: Final = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
_HEADS_BYTES: Final = 512 * 1024
_NO_CALLER: Final = '"account_id":null,"api_id":null,"stage":null,"route":null'


class DecisionRecord:
    """What one decision line says; filled in as the evaluation proceeds.

    Defaults live on the class and an instance holds only what was set: a record is
    made per decision, and this makes it nearly free.
    """

    kind: str | None = None
    caller: Caller | None = None  # account, API, stage and route come from here
    tenant_id: str | None = None
    token_hash: str | None = None
    iss: str | None = None
    kid: str | None = None
    principal: str | None = None
    outcome: str = "fault"
    reason: str = "internal_error"
    cache: str = "miss"
    detail: str | None = None
    stale_key: bool = False
    stale_config: bool = False


def _stdout_write(line: str) -> None:
    sys.stdout.write(line)


class Telemetry:
    """Writes decision lines (with EMF) and rare operational lines to one sink."""

    def __init__(
        self,
        namespace: str = "TenantAuthorizer",
        function_name: str = "tenant-authorizer",
        level: str = "INFO",
        write: Callable[[str], None] = _stdout_write,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.namespace = namespace
        self.function_name = function_name
        self.level = level
        self.write = write
        self.clock = clock
        self._min_level = _LEVELS.get(level.upper(), 20)
        self._function = '},"FunctionName":' + encode_basestring_ascii(function_name) + ","
        self._head = self._line_head(())
        # The start of a decision line's body by (route fields, tenant, iss, kid): body().
        self._heads: BoundedTable[tuple[str | None, ...], tuple[Any, Any, str, str]] = BoundedTable(
            _HEADS_BYTES
        )

    def _line_head(self, extras: tuple[str, ...]) -> str:
        """Everything of a line before its timestamp: the EMF directive comes first."""
        return '{"_aws":{"CloudWatchMetrics":' + self._metadata(extras) + ',"Timestamp":'

    def _metadata(self, extras: tuple[str, ...]) -> str:
        directives: list[dict[str, Any]] = [
            {
                "Namespace": self.namespace,
                "Dimensions": [["FunctionName", "Outcome"], ["FunctionName", "Reason"]],
                "Metrics": [{"Name": "Decisions", "Unit": "Count"}],
            }
        ]
        if extras:
            directives.append(
                {
                    "Namespace": self.namespace,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in extras],
                }
            )
        return json.dumps(directives, separators=(",", ":"))

    def body(self, record: DecisionRecord) -> str:
        """The part of a decision line that depends on the decision alone.

        No timestamp, latency or metric counts: a repeated token's answer keeps its body
        and :meth:`emit` adds those, so the line of a cached answer is the same line.
        """
        # outcome, reason, kind and cache are enum values and account_id is 12 digits
        # (validated by the ARN parser), token_hash is hex: none needs escaping. What comes
        # before token_hash is the same for every token of one issuer's key on one route:
        # it is formatted once per (route, tenant, iss, kid) and outcome, reason and kind.
        caller = record.caller
        where = _NO_CALLER if caller is None else caller.log_fields
        outcome, reason, kind = record.outcome, record.reason, record.kind
        tenant, iss, kid = record.tenant_id, record.iss, record.kid
        key = (where, tenant, iss, kid)
        held = self._heads.get(key)
        esc = encode_basestring_ascii
        if held is not None and held[0] is reason and held[1] is kind and held[2] == outcome:
            head = held[3]
        else:
            head = (
                f'"Outcome":"{outcome}","Reason":"{reason}","Decisions":1,'
                f'"outcome":"{outcome}","reason":"{reason}",'
                f'"tenant_id":{"null" if tenant is None else esc(tenant)},{where},'
                f'"kind":{"null" if kind is None else esc(kind)},'
                f'"iss":{"null" if iss is None else esc(iss)},'
                f'"kid":{"null" if kid is None else esc(kid)},'
            )
            if outcome in ("allow", "deny"):  # a verified iss and kid; a refusal's are a client's
                self._heads.put(key, (reason, kind, outcome, head), 2 * len(head) + len(where))
        token_hash, principal = record.token_hash, record.principal
        body = (
            f'{head}"token_hash":{"null" if token_hash is None else esc(token_hash)},'
            f'"principal":{"null" if principal is None else esc(principal)},'
            f'"cache":"{record.cache}"'
        )
        if record.detail is not None:
            body += ',"detail":' + encode_basestring_ascii(record.detail)
        if record.stale_key:
            body += ',"stale_key":true'
        if record.stale_config:
            body += ',"stale_config":true'
        return body

    def emit(self, body: str, latency_ms: float, metrics: Mapping[str, int] | None) -> None:
        """Write one decision line: ``body`` plus timestamp, latency and moved counters."""
        head = self._head
        tail = ""
        if metrics:
            extras = tuple(name for name in EXTRA_METRICS if metrics.get(name))
            if extras:
                head = self._line_head(extras)
                tail = "".join(f',"{name}":{int(metrics[name])}' for name in extras)
        self.write(
            f"{head}{int(self.clock() * 1000)}{self._function}{body},"
            f'"latency_ms":{latency_ms:.3f}{tail}}}\n'
        )

    def log(self, level: str, message: str, **fields: Any) -> None:
        """An operational line (not a decision): start-up problems, rare warnings."""
        if _LEVELS.get(level, 20) < self._min_level:
            return
        record = {"level": level, "message": message, **fields}
        self.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
