"""One structured JSON log line per decision, which is also its CloudWatch EMF metric record.

The line carries tenant, API, route, outcome, reason code, ``iss``, ``kid``, a 12-hex
prefix of the token's SHA-256, cache use and latency -- never the token or a secret.
Its ``_aws`` block makes CloudWatch extract the metrics from the same line
(``docs/decisions/0006-telemetry.md``): ``Decisions`` by ``Outcome`` and by ``Reason``,
and, only when they happened during the decision, ``StaleKeyServes``,
``StaleConfigServes``, ``JwksFetches``, ``JwksFetchFailures``, ``SsmFetches`` and
``SsmFetchFailures``. One write per decision, no Powertools import on the cold start.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

OUTCOMES: Final = ("allow", "deny", "unauthorized", "fault")
EXTRA_METRICS: Final = (
    "StaleKeyServes",
    "StaleConfigServes",
    "JwksFetches",
    "JwksFetchFailures",
    "SsmFetches",
    "SsmFetchFailures",
)
_LEVELS: Final = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


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
    _directive: str = field(init=False)

    def __post_init__(self) -> None:
        self._directive = self._metadata(())
        self._min_level = _LEVELS.get(self.level.upper(), 20)

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

    def decision(self, fields: dict[str, Any], metrics: Mapping[str, int] | None = None) -> None:
        """Emit the line of one decision. ``fields`` must hold ``outcome`` and ``reason``."""
        fields["FunctionName"] = self.function_name
        fields["Outcome"] = fields["outcome"]
        fields["Reason"] = fields["reason"]
        fields["Decisions"] = 1
        directive = self._directive
        if metrics:
            extras = tuple(name for name in EXTRA_METRICS if metrics.get(name))
            if extras:
                directive = self._metadata(extras)
                for name in extras:
                    fields[name] = metrics[name]
        body = json.dumps(fields, separators=(",", ":"), default=str)
        self.write(
            f'{{"_aws":{{"Timestamp":{int(self.clock() * 1000)},'
            f'"CloudWatchMetrics":{directive}}},{body[1:]}\n'
        )

    def log(self, level: str, message: str, **fields: Any) -> None:
        """An operational line (not a decision): start-up problems, rare warnings."""
        if _LEVELS.get(level, 20) < self._min_level:
            return
        record = {"level": level, "message": message, **fields}
        self.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
