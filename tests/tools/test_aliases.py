"""The alias assignment (tenant_configs/aliases.json, decision 0020) and its projection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tenant_authorizer.cli import main
from tenant_authorizer.tools import aliases
from tenant_authorizer.tools.validation import validate

TENANT = """\
tenant_id: {name}
issuers:
  - issuer: https://{name}.example.com
    audiences: [api]
bindings:
{bindings}
"""


def account(n: int) -> str:
    """A 12-digit account id."""
    return f"{100000000000 + n}"


def api(n: int) -> str:
    """A 10-character API id."""
    return f"{n:010d}".replace("0", "a")


def write_tenant(directory: Path, name: str, accounts: dict[str, list[str] | None]) -> None:
    """A tenant file binding ``accounts`` (API ids, or None for every API)."""
    lines = []
    for a, ids in accounts.items():
        lines.append(f'  - account_id: "{a}"')
        if ids is not None:
            lines.append(f"    api_ids: [{', '.join(ids)}]")
    body = TENANT.format(name=name, bindings="\n".join(lines))
    (directory / f"{name}.yaml").write_text(body, encoding="utf-8")


def test_existing_accounts_keep_their_alias_new_ones_take_their_first_choice() -> None:
    """An account's alias never moves once given; a new account starts at its hash."""
    current = {account(1): "shard-007"}
    bound = {account(1): None, account(2): None}
    updated = aliases.assign(current, bound)
    assert updated[account(1)] == "shard-007"
    assert updated[account(2)] == aliases.first_choice(account(2))


def test_unbound_accounts_leave_the_assignment() -> None:
    """An offboarded account's alias is freed (its statements are gone too)."""
    updated = aliases.assign({account(1): "shard-001", account(2): "shard-002"}, {account(2): None})
    assert updated == {account(2): "shard-002"}


def test_a_full_alias_sends_a_new_account_to_the_next_one_with_room() -> None:
    """With one alias's policy near the limit, a new account probes onwards."""
    many: dict[str, tuple[str, ...] | None] = {}
    current: dict[str, str] = {}
    while aliases.policy_bytes(current, many, "f").get("shard-000", 0) < 18500:
        i = len(many) + 1
        many[account(i)] = tuple(api(i * 100 + j) for j in range(3))
        current[account(i)] = "shard-000"
    sizes = aliases.policy_bytes(current, many, "f")
    assert aliases.POLICY_LIMIT - aliases.HEADROOM < sizes["shard-000"] <= aliases.POLICY_LIMIT
    new = next(a for a in map(account, range(99, 200)) if aliases.first_choice(a, 2) == "shard-000")
    # Its first choice is full; with one alias there is nowhere else to go.
    with pytest.raises(ValueError, match="raise alias_count"):
        aliases.assign(current, {**many, new: None}, alias_count=1, function="f")
    updated = aliases.assign(current, {**many, new: None}, alias_count=2, function="f")
    assert updated[new] == "shard-001"


def test_the_projection_bounds_what_lambda_stores() -> None:
    """policy_bytes uses the longest ARNs a platform can have: a real policy is no larger."""
    source = f"arn:aws:execute-api:us-east-1:{account(1)}:??????????/authorizers/*"
    statement = {
        "Sid": f"tenant-{account(1)}-shard-000",
        "Effect": "Allow",
        "Principal": {"Service": "apigateway.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": "arn:aws:lambda:us-east-1:999999999999:function:tenant-authorizer:shard-000",
        "Condition": {"ArnLike": {"AWS:SourceArn": source}},
    }
    real = json.dumps(
        {"Version": "2012-10-17", "Id": "default", "Statement": [statement]},
        separators=(",", ":"),
    )
    projected = aliases.policy_bytes(
        {account(1): "shard-000"}, {account(1): None}, "tenant-authorizer"
    )
    assert len(real) <= projected["shard-000"] <= len(real) + 40


def test_validate_fails_before_an_alias_policy_would(tmp_path: Path) -> None:
    """An assignment packing too many statements on one alias is a validation problem."""
    many = {account(i): [api(i * 100 + j) for j in range(40)] for i in range(1, 7)}
    write_tenant(tmp_path, "packed", dict(many))
    (tmp_path / "aliases.json").write_text(
        json.dumps(dict.fromkeys(many, "shard-000")), encoding="utf-8"
    )
    problems = [str(p) for p in validate([tmp_path]).problems]
    assert any("shard-000: its resource policy would be" in p for p in problems), problems


def test_validate_names_the_tenant_file_of_an_account_without_alias(tmp_path: Path) -> None:
    """A new binding without `tenant-authz aliases` is refused with the command to run."""
    write_tenant(tmp_path, "fresh", {account(1): None})
    (problem,) = validate([tmp_path]).problems
    assert problem.file.endswith("fresh.yaml")
    assert problem.field == "bindings"
    assert f"account {account(1)} has no alias" in problem.reason
    assert "tenant-authz aliases" in problem.reason


def test_validate_refuses_an_alias_past_the_platform_count(tmp_path: Path) -> None:
    """An alias the platform does not have (alias_count) is refused."""
    write_tenant(tmp_path, "late", {account(1): None})
    (tmp_path / "aliases.json").write_text(json.dumps({account(1): "shard-300"}), encoding="utf-8")
    (problem,) = validate([tmp_path]).problems
    assert "shard-300 is past the platform's 256 aliases" in problem.reason


def test_the_command_writes_then_checks_the_assignment(tmp_path: Path) -> None:
    """`aliases` writes aliases.json; `--check` passes on it and fails once a binding is new."""
    runner = CliRunner()
    write_tenant(tmp_path, "acme", {account(1): None})
    result = runner.invoke(main, ["aliases", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "1 account(s): 1 added, 0 removed" in result.output
    written = json.loads((tmp_path / "aliases.json").read_text(encoding="utf-8"))
    assert written == {account(1): aliases.first_choice(account(1))}
    assert runner.invoke(main, ["aliases", "--check", str(tmp_path)]).exit_code == 0
    write_tenant(tmp_path, "acme", {account(1): None, account(2): None})
    result = runner.invoke(main, ["aliases", "--check", str(tmp_path)])
    assert result.exit_code == 1
    assert "is not current (1 account(s) to add, 0 to remove)" in result.output
    assert "Traceback" not in result.output


def test_the_command_refuses_a_broken_assignment_in_one_sentence(tmp_path: Path) -> None:
    """A hand-edited aliases.json that is not an assignment names the file and the fix."""
    write_tenant(tmp_path, "acme", {account(1): None})
    (tmp_path / "aliases.json").write_text('{"1": "x"}', encoding="utf-8")
    result = CliRunner().invoke(main, ["aliases", str(tmp_path)])
    assert result.exit_code == 1
    assert "aliases.json" in result.output and "fix or delete the file" in result.output


def test_validate_takes_the_platform_alias_count(tmp_path: Path) -> None:
    """`validate --alias-count` checks the assignment against the platform's count."""
    write_tenant(tmp_path, "acme", {account(1): None})
    (tmp_path / "aliases.json").write_text(json.dumps({account(1): "shard-100"}), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["validate", str(tmp_path)]).exit_code == 0
    result = runner.invoke(main, ["validate", "--alias-count", "64", str(tmp_path)])
    assert result.exit_code == 1
    assert "shard-100 is past the platform's 64 aliases" in result.output


def test_groups_names_the_workspaces_of_a_tenant(tmp_path: Path) -> None:
    """`groups` prints, per group-NN workspace, the tenant's accounts it holds."""
    from tenant_authorizer.runtime.index import group_of, shard_of

    accounts = [account(n) for n in range(1, 6)]
    write_tenant(tmp_path, "acme", dict.fromkeys(accounts))
    result = CliRunner().invoke(main, ["groups", str(tmp_path), "--tenant", "acme", "--json"])
    assert result.exit_code == 0, result.output
    expected: dict[str, list[str]] = {}
    for a in accounts:
        expected.setdefault(f"group-{group_of(shard_of(a, 128), 8):02d}", []).append(a)
    assert json.loads(result.output) == {k: sorted(v) for k, v in sorted(expected.items())}
    missing = CliRunner().invoke(main, ["groups", str(tmp_path), "--tenant", "nope"])
    assert missing.exit_code == 1 and "no valid tenant nope" in missing.output


def test_validate_refuses_a_change_index_marker_over_the_limit() -> None:
    """A shard holding more accounts than a marker can list names the fix (more shards)."""
    from tenant_authorizer.runtime.index import shard_of
    from tenant_authorizer.tools.cross_file import index_problems

    same = [a for a in map(account, range(60000)) if shard_of(a, 128) == "shard-005"][:300]
    documents = dict.fromkeys(same, "{}")
    (problem,) = index_problems(documents, "tenants")
    assert problem.field == "index/shard-005"
    assert "raise index_shard_count" in problem.reason


def test_the_command_names_the_group_of_each_removed_account(tmp_path: Path) -> None:
    """An unbound account leaves aliases.json, and the output names the group to apply."""
    from tenant_authorizer.runtime.index import group_of, shard_of

    runner = CliRunner()
    write_tenant(tmp_path, "acme", {account(1): None, account(2): None})
    assert runner.invoke(main, ["aliases", str(tmp_path)]).exit_code == 0
    write_tenant(tmp_path, "acme", {account(1): None})
    result = runner.invoke(main, ["aliases", str(tmp_path)])
    assert result.exit_code == 0, result.output
    group = group_of(shard_of(account(2), 128), 8)
    assert f"removed {account(2)} (group-{group:02d}): apply that group" in result.output


def test_a_platform_with_other_groups_names_its_own_workspaces(tmp_path: Path) -> None:
    """TENANT_AUTHZ_TENANT_GROUPS (as the runbooks export it) sets the layout of both commands."""
    from tenant_authorizer.runtime.index import group_of, shard_of

    runner = CliRunner(env={"TENANT_AUTHZ_TENANT_GROUPS": "2", "TENANT_AUTHZ_INDEX_SHARDS": "64"})

    def group(a: str, groups: int, shards: int) -> str:
        return f"group-{group_of(shard_of(a, shards), groups):02d}"

    moved = next(a for a in map(account, range(1, 99)) if group(a, 2, 64) != group(a, 8, 128))
    expected = group(moved, 2, 64)
    write_tenant(tmp_path, "acme", {moved: None, account(200): None})
    named = runner.invoke(main, ["groups", str(tmp_path), "--json"])
    assert named.exit_code == 0, named.output
    assert moved in json.loads(named.output)[expected]
    assert runner.invoke(main, ["aliases", str(tmp_path)]).exit_code == 0
    write_tenant(tmp_path, "acme", {account(200): None})
    removed = runner.invoke(main, ["aliases", str(tmp_path)])
    assert f"removed {moved} ({expected}): apply that group" in removed.output
    wrong = runner.invoke(main, ["aliases", str(tmp_path), "--groups", "9", "--shard-count", "4"])
    assert wrong.exit_code == 2 and "--shard-count must be at least --groups" in wrong.output


def test_the_last_tenant_can_be_offboarded(tmp_path: Path) -> None:
    """With every tenant file removed, aliases empties and validate accepts the directory."""
    runner = CliRunner()
    write_tenant(tmp_path, "acme", {account(1): None})
    assert runner.invoke(main, ["aliases", str(tmp_path)]).exit_code == 0
    (tmp_path / "acme.yaml").unlink()
    result = runner.invoke(main, ["aliases", str(tmp_path)])
    assert result.exit_code == 0 and "1 removed" in result.output
    assert json.loads((tmp_path / "aliases.json").read_text(encoding="utf-8")) == {}
    validated = runner.invoke(main, ["validate", str(tmp_path)])
    assert validated.exit_code == 0 and "no tenant left" in validated.output
