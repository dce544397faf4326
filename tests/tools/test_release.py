"""tools.release on moto in-process: the refusals and the record (the walk is in tests/e2e)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tenant_authorizer.tools.release import Release, ReleaseError, RolledBack

REGION = "us-east-1"
FUNCTION = "f"


def _zip(marker: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", f"# {marker}\n")
    return buffer.getvalue()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A function with version 1, three shard aliases on it, one alarm in OK."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(
            RoleName="r",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        lam = boto3.client("lambda", region_name=REGION)
        lam.create_function(
            FunctionName=FUNCTION,
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": _zip("v1")},
            Publish=True,
        )
        for n in range(3):
            lam.create_alias(FunctionName=FUNCTION, Name=f"shard-{n:03d}", FunctionVersion="1")
        lam.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        cloudwatch.put_metric_alarm(
            AlarmName=f"{FUNCTION}-fault-decisions",
            MetricName="FaultDecisions",
            Namespace="TenantAuthorizer",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
        )
        ssm = boto3.client("ssm", region_name=REGION)
        yield {"lambda": lam, "cloudwatch": cloudwatch, "ssm": ssm}


def release(aws: dict[str, Any], **kwargs: Any) -> Release:
    """A Release on the fixture's function that never really sleeps."""
    return Release(
        aws["lambda"], aws["cloudwatch"], aws["ssm"], FUNCTION, "/p", echo=lambda _: None,
        sleep=lambda _: None, **kwargs,
    )  # fmt: skip


def deploy(aws: dict[str, Any], marker: str) -> None:
    """What a platform apply does: new code on $LATEST."""
    aws["lambda"].update_function_code(FunctionName=FUNCTION, ZipFile=_zip(marker))


def versions(aws: dict[str, Any]) -> dict[str, str]:
    """Each alias's version."""
    aliases = aws["lambda"].list_aliases(FunctionName=FUNCTION)["Aliases"]
    return {a["Name"]: a["FunctionVersion"] for a in aliases}


def test_a_release_moves_only_the_shard_aliases_and_records_itself(aws: dict[str, Any]) -> None:
    """Every shard-NNN alias ends on the new version; other aliases are not the release's."""
    deploy(aws, "v2")
    state = release(aws).release(bake_seconds=0)
    assert (state.previous, state.target, state.status) == ("1", "2", "released")
    assert versions(aws) == {"shard-000": "2", "shard-001": "2", "shard-002": "2", "live": "1"}
    record = json.loads(aws["ssm"].get_parameter(Name="/p/release")["Parameter"]["Value"])
    assert record["status"] == "released" and record["previous"] == "1"
    again = release(aws).release(bake_seconds=0)
    assert again.status == "released" and versions(aws)["shard-000"] == "2", "nothing to do"


def test_an_unfinished_release_or_mixed_versions_refuse_a_new_one(aws: dict[str, Any]) -> None:
    """A release over one that stopped half-way, or over aliases on different versions."""
    deploy(aws, "v2")
    ticks = iter(range(1000))
    stopped = release(aws, clock=lambda: float(next(ticks)))

    def crash(_: float) -> None:
        raise KeyboardInterrupt  # the operator's laptop died during the first bake

    stopped.sleep = crash
    with pytest.raises(KeyboardInterrupt):
        stopped.release(bake_seconds=10)
    with pytest.raises(ReleaseError, match=r"did not finish: run \.venv/bin/tenant-authz rollback"):
        release(aws).release(bake_seconds=0)
    back = release(aws).rollback()
    assert back.previous == "1" and set(versions(aws).values()) == {"1"}
    aws["lambda"].update_alias(FunctionName=FUNCTION, Name="shard-001", FunctionVersion="2")
    with pytest.raises(ReleaseError, match="serve 2 versions"):
        release(aws).release(bake_seconds=0)


def test_an_alarm_in_a_bake_rolls_back_and_says_which(aws: dict[str, Any]) -> None:
    """The alarm goes off during the 50 % step: everything returns to the old version."""
    deploy(aws, "v2")
    steps: list[str] = []

    def sleep(_: float) -> None:
        routed = aws["lambda"].get_alias(FunctionName=FUNCTION, Name="shard-000")
        weights = (routed.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        steps.append(json.dumps(weights))
        if weights.get("2") == 0.5:
            aws["cloudwatch"].set_alarm_state(
                AlarmName=f"{FUNCTION}-fault-decisions", StateValue="ALARM", StateReason="t"
            )

    ticks = iter(range(1000))
    rolling = release(aws, clock=lambda: float(next(ticks)))
    rolling.sleep = sleep
    with pytest.raises(RolledBack, match="went to ALARM at 50%"):
        rolling.release(bake_seconds=3, poll_seconds=1)
    assert '{"2": 0.1}' in steps and '{"2": 0.5}' in steps
    assert set(versions(aws).values()) == {"1"}
    routing = aws["lambda"].get_alias(FunctionName=FUNCTION, Name="shard-002").get("RoutingConfig")
    assert not (routing or {}).get("AdditionalVersionWeights")


def test_rollback_without_a_record_names_the_fix(aws: dict[str, Any]) -> None:
    """No release was recorded: the version must be named; a missing one is refused."""
    with pytest.raises(ReleaseError, match="name the version with --to"):
        release(aws).rollback()
    with pytest.raises(ReleaseError, match="has no version 9"):
        release(aws).rollback("9")
    assert release(aws).rollback("1").status == "rolled-back"


def test_now_needs_the_code_named_and_ignores_the_alarms(aws: dict[str, Any]) -> None:
    """An emergency fix goes out while the alarms fire, but never whatever $LATEST holds."""
    deploy(aws, "fix")
    aws["cloudwatch"].set_alarm_state(
        AlarmName=f"{FUNCTION}-fault-decisions", StateValue="ALARM", StateReason="incident"
    )
    with pytest.raises(ReleaseError, match="name the code with --expect-sha256"):
        release(aws).release(now=True)
    with pytest.raises(ReleaseError, match="is in ALARM"):
        release(aws).release(bake_seconds=0)
    code = aws["lambda"].get_function_configuration(FunctionName=FUNCTION)["CodeSha256"]
    with pytest.raises(ReleaseError, match="apply terraform/platform with the zip"):
        release(aws).release(now=True, expect_sha256="AAAA")
    state = release(aws).release(now=True, expect_sha256=code)
    assert state.status == "released"
    assert {v for n, v in versions(aws).items() if n.startswith("shard-")} == {state.target}


def test_a_rollback_during_the_bake_stops_the_release(aws: dict[str, Any]) -> None:
    """On-call rolls back while the release bakes at 10 %: the release does not go on."""
    deploy(aws, "v2")
    ticks = iter(range(1000))
    rolling = release(aws, clock=lambda: float(next(ticks)))

    def operator(_: float) -> None:
        release(aws).rollback()

    rolling.sleep = operator
    with pytest.raises(ReleaseError, match="the release record changed"):
        rolling.release(bake_seconds=5, poll_seconds=1)
    assert {v for n, v in versions(aws).items() if n.startswith("shard-")} == {"1"}


def test_versions_and_records_are_checked(aws: dict[str, Any]) -> None:
    """$LATEST or an unknown version is refused before anything moves; another function's
    record is never rolled back to."""
    with pytest.raises(ReleaseError, match="not a published version number"):
        release(aws).release("$LATEST", bake_seconds=0)
    with pytest.raises(ReleaseError, match="has no version 7"):
        release(aws).release("7", bake_seconds=0)
    with pytest.raises(ReleaseError, match="not a published version number"):
        release(aws).rollback("$LATEST")
    aws["ssm"].put_parameter(
        Name="/p/release",
        Type="String",
        Value=json.dumps(
            {"function": "other", "previous": "1", "target": "2", "status": "released"}
        ),
    )
    with pytest.raises(ReleaseError, match="is of function other"):
        release(aws).rollback()
    assert set(versions(aws).values()) == {"1"}


def test_a_release_that_cannot_move_the_aliases_back_exits_4(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Moving the aliases fails, and so does moving them back: the aliases may serve two
    versions, which a script must tell from a release that changed nothing (exit 1)."""
    from click.testing import CliRunner

    from tenant_authorizer.cli import main
    from tenant_authorizer.tools.release import Stopped

    deploy(aws, "v2")

    def broken(*_: Any) -> None:
        raise RuntimeError("UpdateAlias throttled")

    monkeypatch.setattr(Release, "_route", broken)
    with pytest.raises(Stopped, match="may be split"):
        release(aws).release(bake_seconds=0)
    monkeypatch.setenv("TENANT_AUTHZ_RELEASE_BAKE_SECONDS", "0")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    result = CliRunner().invoke(main, ["release", "--function", FUNCTION, "--ssm-prefix", "/other"])
    assert result.exit_code == 4, result.output
    assert "run .venv/bin/tenant-authz rollback" in result.output
    assert "Traceback" not in result.output
