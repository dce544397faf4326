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
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any, Final

EXTRA_METRICS: Final = (
    "StaleKeyServes",
    "StaleConfigServes",
    "JwksFetches",
    "JwksFetchFailures",
    "SsmFetches",
    "SsmFetchFailures",
)
_LEVELS: Final = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


class DecisionRecord:
    """What one decision line says; filled in as the evaluation proceeds."""

    __slots__ = (
        "account_id",
        "api_id",
        "cache",
        "detail",
        "iss",
        "kid",
        "kind",
        "outcome",
        "principal",
        "reason",
        "route",
        "stage",
        "stale_config",
        "stale_key",
        "tenant_id",
        "token_hash",
    )

    def __init__(self) -> None:
        self.kind: str | None = None
        self.account_id: str | None = None
        self.api_id: str | None = None
        self.stage: str | None = None
        self.route: str | None = None
        self.tenant_id: str | None = None
        self.token_hash: str | None = None
        self.iss: str | None = None
        self.kid: str | None = None
        self.principal: str | None = None
        self.outcome = "fault"
        self.reason = "internal_error"
        self.cache = "miss"
        self.detail: str | None = None
        self.stale_key = False
        self.stale_config = False


def _s(value: str | None) -> str:
    return "null" if value is None else encode_basestring_ascii(value)


def _stdout_write(line: str) -> None:
    sys.stdout.write(line)


@dataclass
class Telemetry:
    """Writes decision lines (with EMF) and rare operational lines to one sink."""

    namespace: str = "TenantAuthorizer"
    function_name: str = "tenant-authorizer"
    level: str = "INFO"
    write: Callable[[str], None] = _stdout_write
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self._min_level = _LEVELS.get(self.level.upper(), 20)
        self._directive = self._metadata(())
        self._function = encode_basestring_ascii(self.function_name)

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

    def decision(
        self, record: DecisionRecord, latency_ms: float, metrics: Mapping[str, int] | None = None
    ) -> None:
        """Emit the line of one decision."""
        directive = self._directive
        tail = ""
        if record.detail is not None:
            tail += ',"detail":' + encode_basestring_ascii(record.detail)
        if record.stale_key:
            tail += ',"stale_key":true'
        if record.stale_config:
            tail += ',"stale_config":true'
        if metrics:
            extras = tuple(name for name in EXTRA_METRICS if metrics.get(name))
            if extras:
                directive = self._metadata(extras)
                tail += "".join(f',"{name}":{int(metrics[name])}' for name in extras)
        # outcome, reason, kind and cache are enum values and account_id is 12 digits
        # (validated by the ARN parser), token_hash is hex: none needs escaping.
        self.write(
            f'{{"_aws":{{"Timestamp":{int(self.clock() * 1000)},"CloudWatchMetrics":{directive}}},'
            f'"FunctionName":{self._function},"Outcome":"{record.outcome}",'
            f'"Reason":"{record.reason}","Decisions":1,"outcome":"{record.outcome}",'
            f'"reason":"{record.reason}","tenant_id":{_s(record.tenant_id)},'
            f'"account_id":{_s(record.account_id)},"api_id":{_s(record.api_id)},'
            f'"stage":{_s(record.stage)},"route":{_s(record.route)},"kind":{_s(record.kind)},'
            f'"iss":{_s(record.iss)},"kid":{_s(record.kid)},'
            f'"token_hash":{_s(record.token_hash)},"principal":{_s(record.principal)},'
            f'"cache":"{record.cache}","latency_ms":{latency_ms:.3f}{tail}}}\n'
        )

    def log(self, level: str, message: str, **fields: Any) -> None:
        """An operational line (not a decision): start-up problems, rare warnings."""
        if _LEVELS.get(level, 20) < self._min_level:
            return
        record = {"level": level, "message": message, **fields}
        self.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
