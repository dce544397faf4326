"""Tenant-file validation: YAML read as Terraform reads it, per-file and cross-file checks."""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from support.tenants import assign_aliases
from tenant_authorizer.tools.aliases import first_choice
from tenant_authorizer.tools.documents import (
    ADVANCED_TIER_MAX_BYTES,
    render_account_documents,
    render_json,
    ssm_tier,
)
from tenant_authorizer.tools.report import Report
from tenant_authorizer.tools.validation import validate
from tenant_authorizer.tools.yaml_reader import read_yaml

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "tenant_configs"

BASE = """\
tenant_id: {tenant_id}
issuers:
  - issuer: https://{tenant_id}.example.com
    audiences: [api]
bindings:
{bindings}
"""


def write(
    directory: Path, tenant_id: str, bindings: str = '  - account_id: "111122223333"'
) -> Path:
    """Write a minimal valid tenant file named after its tenant id."""
    path = directory / f"{tenant_id}.yaml"
    path.write_text(BASE.format(tenant_id=tenant_id, bindings=bindings), encoding="utf-8")
    return path


def run(*paths: Path, **kwargs: Any) -> Report:
    """Validate and return the report; directories get their aliases.json first, as
    `tenant-authz aliases` writes it (tests of the assignment itself call validate)."""
    for path in paths:
        if path.is_dir():
            assign_aliases(path)
    return validate(list(paths), **kwargs)


def fields(report: Report) -> list[tuple[str, str]]:
    """(file name, field) of every problem."""
    return [(Path(p.file).name, p.field) for p in report.problems]


def test_shipped_tenant_configs_are_valid() -> None:
    """Every tenant shipped in tenant_configs/ passes validation."""
    report = run(CONFIGS)
    assert [str(p) for p in report.problems] == []
    assert len(report.tenant_ids) == len(list(CONFIGS.glob("*.yaml")))


@pytest.mark.parametrize(
    ("tenant_id", "issuer_prefix"),
    [
        ("acme-okta", "https://acme.okta.com/oauth2/"),
        ("globex-auth0", "https://globex.us.auth0.com/"),
        ("initech-entra", "https://sts.windows.net/"),
        ("initech-entra", "https://login.microsoftonline.com/"),
        ("umbrella-cognito", "https://cognito-idp."),
        ("hooli-keycloak", "https://sso.hooli.example/realms/"),
        ("wayne-google", "https://accounts.google.com"),
        ("local-dev", "http://127.0.0.1:8090"),
    ],
)
def test_shipped_examples_cover_each_idp(tenant_id: str, issuer_prefix: str) -> None:
    """The shipped examples include each IdP tenants really use."""
    report = run(CONFIGS / f"{tenant_id}.yaml")
    (tenant,) = report.files
    assert tenant.config is not None
    assert any(i.issuer.startswith(issuer_prefix) for i in tenant.config.issuers)


def test_shipped_accounts_are_distinct() -> None:
    """Each shipped tenant has its own fictional account id."""
    report = run(CONFIGS)
    accounts = [b.account_id for f in report.files if f.config for b in f.config.bindings]
    owners = {
        b.account_id: f.config.tenant_id
        for f in report.files
        if f.config
        for b in f.config.bindings
    }
    assert len(owners) == len(report.files)
    assert len(set(accounts)) == len(owners)


@pytest.mark.parametrize(
    ("scalar", "reason_part"),
    [
        ("yes", "boolean"),
        ("on", "boolean"),
        ("n", "boolean"),
        ("0755", "quote it"),
        ("0x1F", "quote it"),
        ("1_000", "quote it"),
        ("2024-01-01", "quote it"),
        ("1:30", "quote it"),
        (".inf", "quote it"),
    ],
)
def test_ambiguous_plain_scalars_are_problems(scalar: str, reason_part: str) -> None:
    """Plain scalars YAML readers disagree on are reported with their field path."""
    _, problems = read_yaml(f"a:\n  b: [x, {scalar}]\n", "t.yaml")
    assert [(p.field, reason_part in p.reason) for p in problems] == [("a.b[1]", True)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("60", Decimal(60)),
        ("1.0", Decimal("1.0")),
        ('"yes"', "yes"),
        ("'0755'", "0755"),
        ("a1b2c3d4e5", "a1b2c3d4e5"),
    ],
)
def test_unambiguous_scalars_read_as_terraform_reads_them(text: str, expected: object) -> None:
    """true/false/null/decimals and quoted strings need no quoting advice."""
    data, problems = read_yaml(f"v: {text}\n", "t.yaml")
    assert problems == []
    assert data == {"v": expected}


@pytest.mark.parametrize(
    ("text", "field", "reason_part"),
    [
        ("a: 1\na: 2\n", "a", "defined twice"),
        ("base: &b {x: 1}\nc:\n  <<: *b\n", "c.<<", "merge keys"),
        ("a: !!binary aGk=\n", "a", "explicit YAML tag"),
        ("yes: 1\n", "yes", "key"),
        ("a: [1\n", "line 2", "not valid YAML"),
        ("", "(document)", "empty"),
    ],
)
def test_yaml_structure_problems(text: str, field: str, reason_part: str) -> None:
    """Duplicate keys, merge keys, tags, non-string keys and syntax errors are problems."""
    _, problems = read_yaml(text, "t.yaml")
    assert any(p.field == field and reason_part in p.reason for p in problems), problems


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1, "a": None}, '{"a":null,"b":1}'),
        ("<a & b>", '"\\u003ca \\u0026 b\\u003e"'),
        ("line\u2028sep", '"line\\u2028sep"'),
        ("é", '"é"'),
        ("tab\tbell\x07", '"tab\\tbell\\u0007"'),
        (Decimal("1.0"), "1"),
        (Decimal("1e3"), "1000"),
        (Decimal("0.0000001"), "0.0000001"),
        (Decimal("1.50"), "1.5"),
        ([True, False], "[true,false]"),
    ],
)
def test_render_json_matches_jsonencode(value: object, expected: str) -> None:
    """Values render as Terraform's jsonencode prints them (keys sorted, Go escaping)."""
    assert render_json(value) == expected


def test_account_document_layout() -> None:
    """An account document holds sorted bindings and embedded tenants without bindings."""
    docs: list[dict[str, Any]] = [
        {
            "tenant_id": "b",
            "description": "dropped",
            "issuers": [],
            "bindings": [{"account_id": "111122223333", "api_ids": ["a1b2c3d4e5"]}],
        },
        {"tenant_id": "a", "token": None, "bindings": [{"account_id": "111122223333"}]},
    ]
    (document,) = render_account_documents(docs).values()
    assert first_choice("111122223333") == "shard-102"  # sha256 mod 256 (a first assignment)
    assert document == (
        '{"account_id":"111122223333","alias":"shard-102","bindings":['
        '{"api_ids":null,"response":"iam","stages":null,"tenant_id":"a"},'
        '{"api_ids":["a1b2c3d4e5"],"response":"iam","stages":null,"tenant_id":"b"}],'
        '"tenants":{"a":{"tenant_id":"a"},"b":{"issuers":[],"tenant_id":"b"}},"version":1}'
    )
    assert ssm_tier(document) == "Standard"


def test_every_problem_of_every_file_is_collected(tmp_path: Path) -> None:
    """Problems of several files (and several per file) are all reported, not just the first."""
    (tmp_path / "one.yaml").write_text(
        "tenant_id: one\nissuers:\n  - issuer: http://one.example\n    audiences: []\n"
        "bindings:\n  - account_id: 111122223333\n    colour: blue\n",
        encoding="utf-8",
    )
    (tmp_path / "two.yaml").write_text("tenant_id: three\nbindings: []\n", encoding="utf-8")
    report = run(tmp_path)
    found = fields(report)
    assert ("one.yaml", "issuers[0].issuer") in found
    assert ("one.yaml", "issuers[0].audiences") in found
    assert ("one.yaml", "bindings[0].account_id") in found
    assert ("one.yaml", "bindings[0].colour") in found
    assert ("two.yaml", "tenant_id") in found
    assert ("two.yaml", "bindings") in found
    assert all(str(p).count(": ") >= 2 for p in report.problems)


def test_duplicate_tenant_ids_across_directories(tmp_path: Path) -> None:
    """The same tenant id in two files is a problem naming the other file."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write(tmp_path / "a", "acme")
    write(tmp_path / "b", "acme", '  - account_id: "444455556666"')
    report = run(tmp_path / "a", tmp_path / "b")
    assert fields(report) == [("acme.yaml", "tenant_id")]
    assert "already used by" in report.problems[0].reason


def test_one_api_bound_by_two_tenants(tmp_path: Path) -> None:
    """An account's API id bound by two tenants is a problem on the second file."""
    binding = '  - account_id: "111122223333"\n    api_ids: [a1b2c3d4e5]'
    write(tmp_path, "acme", binding)
    write(tmp_path, "globex", binding)
    report = run(tmp_path)
    assert fields(report) == [("globex.yaml", "bindings[0].api_ids[0]")]
    assert "acme" in report.problems[0].reason


def test_two_account_wide_bindings_of_one_account(tmp_path: Path) -> None:
    """Two tenants binding every API of the same account is a problem."""
    write(tmp_path, "acme")
    write(tmp_path, "globex")
    report = run(tmp_path)
    assert fields(report) == [("globex.yaml", "bindings[0].api_ids")]


def test_account_wide_and_api_bindings_of_different_tenants_coexist(tmp_path: Path) -> None:
    """An API-specific binding may carve an API out of another tenant's account-wide binding."""
    write(tmp_path, "acme")
    write(tmp_path, "globex", '  - account_id: "111122223333"\n    api_ids: [a1b2c3d4e5]')
    assert run(tmp_path).ok


@pytest.mark.parametrize("same_tenant", [False, True])
def test_pinned_api_with_stages_beside_an_account_wide_binding(
    tmp_path: Path, same_tenant: bool
) -> None:
    """An API pinned to some stages next to an account-wide binding names both places."""
    pinned = '  - account_id: "111122223333"\n    api_ids: [aaaaaaaaaa]\n    stages: [prod]'
    if same_tenant:
        write(tmp_path, "pinned", pinned + '\n  - account_id: "111122223333"')
    else:
        write(tmp_path, "pinned", pinned)
        write(tmp_path, "wide")
    report = run(tmp_path)
    assert fields(report) == [("pinned.yaml", "bindings[0].stages")]
    reason = report.problems[0].reason
    assert "stages prod only" in reason
    assert ("pinned.yaml" if same_tenant else "wide.yaml") in reason
    assert "bindings[1]" in reason if same_tenant else "bindings[0]" in reason


@pytest.mark.parametrize(("region", "ok"), [("eu-west-1", False), (None, True)])
def test_an_api_binding_names_the_region_of_its_account_wide_binding(
    tmp_path: Path, region: str | None, ok: bool
) -> None:
    """The account-wide statement admits one region: an API binding of another is refused."""
    api = '  - account_id: "111122223333"\n    api_ids: [aaaaaaaaaa]'
    write(tmp_path, "regional", api + (f"\n    region: {region}" if region else ""))
    write(tmp_path, "wide")
    report = run(tmp_path)
    assert report.ok is ok
    if not ok:
        assert fields(report) == [("regional.yaml", "bindings[0].region")]
        assert "wide.yaml" in report.problems[0].reason


def test_pinned_api_on_every_stage_beside_an_account_wide_binding_is_fine(tmp_path: Path) -> None:
    """An API pinned without stages (or beside no account-wide binding) needs no warning."""
    write(tmp_path, "pinned", '  - account_id: "111122223333"\n    api_ids: [aaaaaaaaaa]')
    write(tmp_path, "wide")
    write(
        tmp_path,
        "alone",
        '  - account_id: "444455556666"\n    api_ids: [aaaaaaaaaa]\n    stages: [prod]',
    )
    assert run(tmp_path).ok


@pytest.mark.parametrize(
    ("bindings", "ok"),
    [
        ('  - account_id: "111122223333"\n  - account_id: "111122223333"', False),
        (
            '  - account_id: "111122223333"\n    api_ids: [a1b2c3d4e5]\n    stages: [prod]\n'
            '  - account_id: "111122223333"\n    api_ids: [a1b2c3d4e5]',
            False,
        ),
        (
            '  - account_id: "111122223333"\n    api_ids: [a1b2c3d4e5]\n    stages: [prod]\n'
            '  - account_id: "111122223333"\n    api_ids: [a1b2c3d4e5]\n    stages: [dev]',
            True,
        ),
    ],
)
def test_overlapping_bindings_of_one_tenant(tmp_path: Path, bindings: str, ok: bool) -> None:
    """A binding that overlaps an earlier one of the same tenant could never be used."""
    write(tmp_path, "acme", bindings)
    report = run(tmp_path)
    assert report.ok is ok
    assert ok or fields(report) == [("acme.yaml", "bindings[1]")]


def test_document_over_8_kb_names_every_file_of_the_account(tmp_path: Path) -> None:
    """An account document over 8,192 bytes is a problem in every file bound to the account."""
    claims = "\n".join(f"      claim_{i:03d}: {'v' * 40}" for i in range(100))
    for tenant_id, api in (("acme", "a1b2c3d4e5"), ("globex", "f6g7h8i9j0")):
        (tmp_path / f"{tenant_id}.yaml").write_text(
            BASE.format(
                tenant_id=tenant_id,
                bindings=f'  - account_id: "111122223333"\n    api_ids: [{api}]',
            ).replace("audiences: [api]", f"audiences: [api]\n    required_claims:\n{claims}"),
            encoding="utf-8",
        )
    report = run(tmp_path)
    assert report.document_bytes("111122223333") > ADVANCED_TIER_MAX_BYTES
    assert fields(report) == [
        ("acme.yaml", "bindings[0].account_id"),
        ("globex.yaml", "bindings[0].account_id"),
    ]
    assert "8192-byte limit" in report.problems[0].reason


def test_hmac_secret_must_live_under_the_prefix(tmp_path: Path) -> None:
    """HS* secrets outside {prefix}/secrets/ cannot be read by the function."""
    path = tmp_path / "legacy.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            tenant_id: legacy
            issuers:
              - issuer: https://legacy.example
                algorithms: [HS256]
                hmac_secret_parameter: /other/secrets/legacy/hs256
                audiences: [api]
            bindings:
              - account_id: "111122223333"
            """
        ),
        encoding="utf-8",
    )
    assert fields(run(path)) == [("legacy.yaml", "issuers[0].hmac_secret_parameter")]
    assert run(path, ssm_prefix="/other").ok


@pytest.mark.parametrize(
    ("algorithms", "reason_part"),
    [("[none]", "never allowed"), ("[HS256, RS256]", "key confusion"), ("[]", "")],
)
def test_unsafe_algorithm_lists_are_problems(
    tmp_path: Path, algorithms: str, reason_part: str
) -> None:
    """Algorithm lists that allow none, mix HS with RS, or are empty are refused."""
    path = write(tmp_path, "acme")
    path.write_text(
        path.read_text().replace(
            "audiences: [api]", f"audiences: [api]\n    algorithms: {algorithms}"
        )
    )
    report = run(path)
    assert any(
        p.field.startswith("issuers[0].algorithms") and reason_part in p.reason
        for p in report.problems
    )


def test_production_refuses_local_development_issuers() -> None:
    """--production reports local_development issuers, as Terraform's default does."""
    report = run(CONFIGS / "local-dev.yaml", production=True)
    assert fields(report) == [("local-dev.yaml", "issuers[0].local_development")]


def test_local_development_must_stay_on_this_machine(tmp_path: Path) -> None:
    """A local_development issuer on another host would fetch keys over plain HTTP."""
    path = write(tmp_path, "acme")
    path.write_text(
        path.read_text()
        .replace("https://acme.example.com", "http://idp.example.com")
        .replace("audiences: [api]", "audiences: [api]\n    local_development: true")
    )
    assert fields(run(path)) == [("acme.yaml", "issuers[0].issuer")]


def test_file_name_must_be_the_tenant_id(tmp_path: Path) -> None:
    """<tenant_id>.yaml is the one name Terraform and reviewers expect."""
    path = write(tmp_path, "acme")
    path.rename(tmp_path / "other.yaml")
    assert fields(run(tmp_path)) == [("other.yaml", "tenant_id")]


def test_yml_files_are_reported(tmp_path: Path) -> None:
    """A .yml file would be silently skipped by Terraform: it is a problem."""
    write(tmp_path, "acme")
    (tmp_path / "globex.yml").write_text("tenant_id: globex\n")
    assert fields(run(tmp_path)) == [("globex.yml", "(file)")]


def test_missing_path_is_reported(tmp_path: Path) -> None:
    """A path that does not exist is a problem, not a crash."""
    assert fields(run(tmp_path / "nope.yaml")) == [("nope.yaml", "(file)")]


def test_yaml_one_point_zero_becomes_an_integer_like_terraform(tmp_path: Path) -> None:
    """clock_skew_seconds: 30.0 is 30 after Terraform's round trip, so it is accepted."""
    path = write(tmp_path, "acme")
    path.write_text(
        path.read_text().replace(
            "audiences: [api]", "audiences: [api]\n    clock_skew_seconds: 30.0"
        )
    )
    report = run(path)
    assert report.ok
    (document,) = report.documents.values()
    assert '"clock_skew_seconds":30' in document
    assert json.loads(document)["tenants"]["acme"]["issuers"][0]["clock_skew_seconds"] == 30


@pytest.mark.parametrize(
    "binding",
    [
        "  - account_id: |\n      111122223333",
        '  - account_id: "111122223333"\n    api_ids: ["a1b2c3d4e5\\n"]',
    ],
)
def test_line_breaks_in_values_are_problems(tmp_path: Path, binding: str) -> None:
    """A trailing newline slips through the parser's `$` patterns: the validator refuses it."""
    write(tmp_path, "acme", binding)
    report = run(tmp_path)
    assert any("line breaks" in p.reason for p in report.problems), report.problems


def test_one_problem_per_field_with_the_root_cause(tmp_path: Path) -> None:
    """A mistake is reported once, by its root cause (YAML's reading), in words."""
    (tmp_path / "acme.yaml").write_text(
        "tenant_id: acme\n"
        "issuers:\n"
        "  - issuer: https://acme.example.com\n"
        "    audiences: [yes]\n"
        "    algorithms: RS256\n"
        "bindings:\n"
        "  - account_id: 314159265358\n"
        "    stages: [prod, on]\n",
        encoding="utf-8",
    )
    report = run(tmp_path)
    fields = [p.field for p in report.problems]
    assert len(fields) == len(set(fields)), report.problems
    reasons = {p.field: p.reason for p in report.problems}
    assert "quote it" in reasons["issuers[0].audiences[0]"]
    assert "quote it" in reasons["bindings[0].stages[1]"]
    assert "quote it" in reasons["bindings[0].account_id"]
    assert reasons["issuers[0].algorithms"] == "must be a list of strings"


def test_an_unquoted_account_id_says_quote_it(tmp_path: Path) -> None:
    """The one mistake onboarding.md warns about gets the one message that fixes it."""
    (tmp_path / "acme.yaml").write_text(
        "tenant_id: acme\nissuers:\n  - issuer: https://idp.example.com\n    audiences: [api]\n"
        "bindings:\n  - account_id: 111122223333\n",
        encoding="utf-8",
    )
    problems = list(validate([tmp_path], check_aliases=False).problems)
    assert [(p.field, p.reason) for p in problems] == [
        (
            "bindings[0].account_id",
            'is the number 111122223333, not an account id: quote it (account_id: "111122223333"); '
            "YAML reads unquoted digits as a number",
        )
    ]
