"""Releasing code apart from onboarding: move the aliases to a version step by step (0020).

``terraform/platform`` publishes a version when the code or the function's configuration
changes, and leaves every alias where it is. ``tenant-authz release`` then publishes
``$LATEST`` (a no-op when Terraform already did: Lambda returns the version that has the
same code and configuration), and moves every ``shard-NNN`` alias to it in steps: at each
step every alias routes that share of its invocations to the new version (Lambda alias
routing weights), then the release bakes, polling the function's CloudWatch alarms. An
alarm in ALARM rolls every alias back to the version it served before and the command
fails. After the last step the aliases point at the new version outright.

Where the release stands is written to SSM (``{prefix}/release``), so that
``tenant-authz rollback`` knows the version to go back to, and so that a second release
refuses to start over a release that did not finish.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

ALIAS_RE: Final = re.compile(r"^shard-[0-9]{3}$")
VERSION_RE: Final = re.compile(r"^[0-9]+$")
# The function's alarms (terraform/modules/authorizer-function), by exact name: a prefix
# would also match another function's ("tenant-authorizer-staging-...").
ALARMS: Final = (
    "fault-decisions",
    "unexpected-errors",
    "throttles",
    "stale-key-serves",
    "stale-config-serves",
    "ssm-throttles",
)
_PARALLEL: Final = 8  # UpdateAlias calls in flight (the control plane allows ~15/s)
DEFAULT_STEPS: Final = (10, 50)
RELEASE_PARAMETER: Final = "release"  # under the SSM prefix


class ReleaseError(Exception):
    """A release or rollback that cannot go on; the message is one sentence with the fix."""


class RolledBack(ReleaseError):
    """An alarm fired during the release and every alias went back."""


class Stopped(ReleaseError):
    """The release stopped part-way and the aliases may serve two versions: someone must
    look (release-status) and roll back or release again."""


@dataclass
class State:
    """What ``{prefix}/release`` records."""

    function: str
    previous: str
    target: str
    status: str  # rolling, released, rolled-back
    weight: int = 0
    alarm: str | None = None
    release_id: str = ""

    def to_json(self) -> str:
        """The parameter's value."""
        return json.dumps(self.__dict__, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> State:
        """The state read back; ReleaseError if the parameter is not one."""
        try:
            data = json.loads(text)
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except (ValueError, TypeError) as exc:
            raise ReleaseError(
                f"the release record is not readable ({exc}): name the version with --to"
            ) from exc


@dataclass
class Release:
    """One release or rollback against one function, through boto3 clients."""

    lambda_client: Any
    cloudwatch: Any
    ssm: Any
    function: str
    prefix: str = "/tenant-authorizer"
    alarm_names: Sequence[str] | None = None  # None: the function's own (ALARMS)
    echo: Callable[[str], None] = print
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    # -- what there is

    def aliases(self) -> list[dict[str, Any]]:
        """Every shard-NNN alias of the function, by name."""
        found: list[dict[str, Any]] = []
        for page in self.lambda_client.get_paginator("list_aliases").paginate(
            FunctionName=self.function
        ):
            found.extend(a for a in page["Aliases"] if ALIAS_RE.match(a["Name"]))
        if not found:
            raise ReleaseError(
                f"function {self.function} has no shard-NNN alias: apply terraform/platform first"
            )
        return sorted(found, key=lambda a: a["Name"])

    def alarming(self) -> list[str]:
        """The function's alarms now in ALARM."""
        names = list(self.alarm_names or [f"{self.function}-{a}" for a in ALARMS])
        found: list[str] = []
        for page in self.cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmNames=names, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        ):
            for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                # Not every API honours every filter: check the name and the state here.
                if alarm.get("StateValue") == "ALARM" and alarm["AlarmName"] in names:
                    found.append(alarm["AlarmName"])
        return sorted(found)

    def state(self) -> State | None:
        """The recorded release, if any."""
        try:
            value = self.ssm.get_parameter(Name=self._parameter())["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return None
        return State.from_json(value)

    def status(self) -> dict[str, Any]:
        """Per version, the aliases serving it (and with what weight); the record."""
        serving: dict[str, list[str]] = {}
        for alias in self.aliases():
            weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            for version, weight in weights.items():
                serving.setdefault(f"{version} ({round(weight * 100)}%)", []).append(alias["Name"])
            serving.setdefault(alias["FunctionVersion"], []).append(alias["Name"])
        state = self.state()
        return {
            "function": self.function,
            "versions": {v: len(names) for v, names in sorted(serving.items())},
            "release": None if state is None else state.__dict__,
            "alarming": self.alarming(),
        }

    # -- moving

    def release(
        self,
        version: str | None = None,
        *,
        steps: Sequence[int] = DEFAULT_STEPS,
        bake_seconds: float = 300.0,
        poll_seconds: float = 15.0,
        expect_sha256: str | None = None,
        now: bool = False,
    ) -> State:
        """Move every alias to ``version`` (default: ``$LATEST``, published) step by step.

        ``now``: every alias at once, no alarm gate before or after (an emergency fix, when
        alarms may be firing for the very reason of the fix); the code must be named
        (``expect_sha256``) so that it is never whatever ``$LATEST`` happens to hold.
        """
        if any(not 0 < w < 100 for w in steps) or list(steps) != sorted(set(steps)):
            raise ReleaseError("--steps must be increasing percentages between 1 and 99")
        if now and expect_sha256 is None:
            raise ReleaseError(
                "--now moves every alias at once: name the code with --expect-sha256 "
                "(terraform -chdir=terraform/platform output -raw source_code_hash)"
            )
        if version is not None and not VERSION_RE.match(version):
            raise ReleaseError(f"--version {version!r} is not a published version number")
        aliases = self.aliases()
        recorded = self.state()
        if recorded is not None and recorded.status == "rolling" and not now:
            raise ReleaseError(
                f"a release of version {recorded.target} did not finish: run "
                ".venv/bin/tenant-authz rollback (or release that version again after a rollback)"
            )
        routed = [a["Name"] for a in aliases if _weights(a)]
        if routed and not now:
            raise ReleaseError(
                f"{len(routed)} alias(es) already route to a second version ({routed[0]} first): "
                "run .venv/bin/tenant-authz rollback first"
            )
        stable = {a["FunctionVersion"] for a in aliases}
        if len(stable) != 1 and not now:
            raise ReleaseError(
                f"the aliases serve {len(stable)} versions ({', '.join(sorted(stable))}): "
                "run .venv/bin/tenant-authz rollback --to VERSION to bring them together first"
            )
        previous = sorted(stable)[0]
        if version is None:
            target = self._publish(expect_sha256)
        else:
            self._check_code(version, expect_sha256)
            target = version
        if target == previous and len(stable) == 1 and not routed:
            self.echo(f"every alias already serves version {target}: nothing to release")
            return State(self.function, previous, target, "released", 100)
        if not now:
            alarming = self.alarming()
            if alarming:
                raise ReleaseError(
                    f"alarm {alarming[0]} is in ALARM: a release does not start during an "
                    "incident (wait for OK, roll back with tenant-authz rollback, or ship a fix "
                    "with --now)"
                )
        state = State(self.function, previous, target, "rolling", release_id=uuid.uuid4().hex)
        self._record(state, tolerate=now)
        self.echo(f"releasing version {target} over {previous} to {len(aliases)} alias(es)")
        for weight in (100,) if now else (*steps, 100):
            self._still_mine(state, tolerate=now)
            state.weight = weight
            try:
                self._route(aliases, previous, target, weight)
            except Exception as exc:  # noqa: BLE001 - any failure leaves the aliases split
                self._abandon(aliases, previous, state, weight, exc)
            self._record(state, tolerate=now)
            if now:
                self.echo(f"  every alias on version {target} (--now: no bake)")
                break
            self.echo(f"  {weight}% of every alias on version {target}; baking {bake_seconds:g} s")
            alarm = self._bake(bake_seconds, poll_seconds)
            if alarm is not None:
                self._still_mine(state)
                self._route(aliases, previous, previous, 100)
                state.status, state.alarm, state.weight = "rolled-back", alarm, 0
                self._record(state)
                raise RolledBack(
                    f"alarm {alarm} went to ALARM at {weight}%: every alias is back on version "
                    f"{previous}; read docs/runbooks/rollback.md before releasing again"
                )
        self._still_mine(state, tolerate=now)
        state.status = "released"
        self._record(state, tolerate=now)
        self.echo(f"released: every alias serves version {target}")
        return state

    def _still_mine(self, state: State, *, tolerate: bool = False) -> None:
        """Stop when someone else changed the record (a rollback during the bake)."""
        try:
            recorded = self.state()
        except Exception:  # with --now, SSM may be the outage itself
            if tolerate:
                return
            raise
        if recorded is None and tolerate:
            return
        if recorded is None or recorded.release_id != state.release_id:
            raise Stopped(
                f"the release record changed while releasing version {state.target} (a "
                "rollback or another release): stopped, the aliases are left as that put them; "
                "see tenant-authz release-status"
            )

    def _abandon(
        self,
        aliases: Sequence[dict[str, Any]],
        previous: str,
        state: State,
        weight: int,
        exc: Exception,
    ) -> None:
        try:
            self._route(aliases, previous, previous, 100)
        except Exception as again:  # noqa: BLE001
            raise Stopped(
                f"moving the aliases to {weight}% failed ({exc}) and so did moving them back "
                f"({again}): the aliases may be split, run .venv/bin/tenant-authz rollback"
            ) from exc
        state.status, state.weight = "rolled-back", 0
        self._record(state, tolerate=True)
        raise ReleaseError(
            f"moving the aliases to {weight}% failed ({exc}): every alias is back on version "
            f"{previous}; try the release again"
        ) from exc

    def rollback(self, to: str | None = None) -> State:
        """Move every alias to ``to`` (default: the version the last release replaced)."""
        recorded = self.state()
        if to is None:
            if recorded is None:
                raise ReleaseError(
                    f"no release is recorded in SSM {self._parameter()}: name the version "
                    "with --to (tenant-authz release-status lists the versions)"
                )
            to = recorded.previous
        if recorded is not None and recorded.function != self.function:
            raise ReleaseError(
                f"the release record at {self._parameter()} is of function {recorded.function}, "
                f"not {self.function}: check --function and --ssm-prefix"
            )
        if not VERSION_RE.match(to):
            raise ReleaseError(f"--to {to!r} is not a published version number")
        try:
            self.lambda_client.get_function_configuration(FunctionName=self.function, Qualifier=to)
        except self.lambda_client.exceptions.ResourceNotFoundException as exc:
            raise ReleaseError(
                f"function {self.function} has no version {to}: name a published version with --to"
            ) from exc
        aliases = self.aliases()
        self._route(aliases, to, to, 100)
        target = recorded.target if recorded is not None else to
        state = State(self.function, to, target, "rolled-back", 0, None)
        self._record(state)
        self.echo(f"rolled back: every alias ({len(aliases)}) serves version {to}")
        return state

    # -- internals

    def _parameter(self) -> str:
        return f"{self.prefix.rstrip('/')}/{RELEASE_PARAMETER}"

    def _record(self, state: State, *, tolerate: bool = False) -> None:
        try:
            self.ssm.put_parameter(
                Name=self._parameter(),
                Value=state.to_json(),
                Type="String",
                Overwrite=True,
                Description="Tenant authorizer release record. Written by tenant-authz release.",
            )
        except Exception as exc:
            if not tolerate:
                raise
            self.echo(f"  warning: the release record could not be written ({exc})")

    def _publish(self, expect_sha256: str | None) -> str:
        published = self.lambda_client.publish_version(FunctionName=self.function)
        if expect_sha256 is not None and published["CodeSha256"] != expect_sha256:
            raise ReleaseError(
                f"version {published['Version']} has code {published['CodeSha256']}, not "
                f"{expect_sha256}: apply terraform/platform with the zip you mean to release"
            )
        return str(published["Version"])

    def _check_code(self, version: str, expect_sha256: str | None) -> None:
        try:
            found = self.lambda_client.get_function_configuration(
                FunctionName=self.function, Qualifier=version
            )["CodeSha256"]
        except self.lambda_client.exceptions.ResourceNotFoundException as exc:
            raise ReleaseError(
                f"function {self.function} has no version {version}: name a published version"
            ) from exc
        if expect_sha256 is not None and found != expect_sha256:
            raise ReleaseError(
                f"version {version} has code {found}, not {expect_sha256}: name the right version"
            )

    def _route(
        self, aliases: Sequence[dict[str, Any]], previous: str, target: str, weight: int
    ) -> None:
        routing: dict[str, dict[str, float]]
        if weight >= 100 or previous == target:
            version, routing = target, {"AdditionalVersionWeights": {}}
        else:
            version, routing = previous, {"AdditionalVersionWeights": {target: weight / 100}}

        def move(alias: dict[str, Any]) -> None:
            self.lambda_client.update_alias(
                FunctionName=self.function,
                Name=alias["Name"],
                FunctionVersion=version,
                RoutingConfig=routing,
            )

        with ThreadPoolExecutor(max_workers=_PARALLEL) as pool:
            list(pool.map(move, aliases))  # re-raises the first failure

    def _bake(self, seconds: float, poll: float) -> str | None:
        deadline = self.clock() + seconds
        while True:
            alarming = self.alarming()
            if alarming:
                return alarming[0]
            left = deadline - self.clock()
            if left <= 0:
                return None
            self.sleep(min(poll, left))


def _weights(alias: dict[str, Any]) -> dict[str, float]:
    weights: dict[str, float] = (alias.get("RoutingConfig") or {}).get(
        "AdditionalVersionWeights"
    ) or {}
    return weights
