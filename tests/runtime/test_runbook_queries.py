"""The runbooks' Logs Insights queries work on the decision lines of the refusals they seek.

Each query in docs/runbooks/ is read from the page itself; a small evaluator of the
commands the runbooks use (``filter`` with ``=``, ``!=``, ``in``, ``ispresent``, ``and``,
``or``; ``stats ... by``) runs it over the lines the real authorizer writes in the
situation the runbook is for. The query must select the lines it is for, and every field
it groups on or shows must be present, with the value the runbook expects, on each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.events import event
from support.harness import Harness, issuer_entry, tenant_doc
from support.issuers import FakeClock, FaultyIssuer

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks"
ACCOUNT = "123456789012"
Line = dict[str, Any]


def queries(page: str) -> list[str]:
    """The Logs Insights queries of a runbook: fenced blocks that start with ``fields``."""
    text = (RUNBOOKS / page).read_text(encoding="utf-8")
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)
    return [b for b in blocks if b.lstrip().startswith("fields ")]


def _condition(expr: str, line: Line) -> bool:
    expr = expr.strip()
    if " or " in expr:
        return any(_condition(part, line) for part in expr.split(" or "))
    if " and " in expr:
        return all(_condition(part, line) for part in expr.split(" and "))
    if match := re.fullmatch(r"ispresent\((\w+)\)", expr):
        return line.get(match[1]) is not None
    if match := re.fullmatch(r"(\w+) in \[(.*)\]", expr):
        return line.get(match[1]) in json.loads(f"[{match[2]}]")
    if match := re.fullmatch(r"(\w+) (!=|=) (.+)", expr):
        value = json.loads(match[3])
        return (line.get(match[1]) == value) is (match[2] == "=")
    raise AssertionError(f"the evaluator does not know {expr!r}: extend it")


def run(query: str, lines: list[Line]) -> tuple[list[Line], set[str]]:
    """The lines ``query`` selects (its filters), and the fields it groups or shows.

    A field a filter tests is by construction right on a selected line; the fields the
    query groups on (``stats ... by``) or shows (``fields``) must carry a value there.
    """
    selected, used = list(lines), set()
    for command in (part.strip() for part in query.split("|")):
        if command.startswith("filter "):
            expr = command.removeprefix("filter ")
            selected = [line for line in selected if _condition(expr, line)]
        elif command.startswith("stats ") and " by " in command:
            used |= {f.strip() for f in command.split(" by ", 1)[1].split(",")}
        elif command.startswith("fields "):
            used |= {f.strip() for f in command.removeprefix("fields ").split(",")}
    # @timestamp is CloudWatch's; detail is there only on refusals
    return selected, used - {"@timestamp", "detail"}


def _check(query: str, lines: list[Line], expect: dict[str, Any]) -> list[Line]:
    selected, used = run(query, lines)
    assert selected, f"the query selects none of the lines it is for:\n{query}"
    for line in selected:
        missing = sorted(f for f in used if line.get(f) is None)
        assert not missing, f"{missing} null on {line['reason']} lines:\n{query}"
        for field, value in expect.items():
            if field in used:
                assert line[field] in value if isinstance(value, set) else line[field] == value
    return selected


@pytest.fixture
def outage_lines(dev_issuer: FaultyIssuer, signing_keys: dict[str, Any]) -> Iterator[list[Line]]:
    """An IdP outage: stale serves, then jwks_unavailable, then an open circuit."""
    clock = FakeClock()
    kwargs = {"clock": clock, "max_max_age": 60, "min_max_age": 1, "stale_window": 300}
    with FaultyIssuer(keys=signing_keys) as cold:
        docs = [
            tenant_doc("acme", ACCOUNT, [issuer_entry(dev_issuer)]),
            tenant_doc("cold", "210987654321", [issuer_entry(cold)]),
        ]
        harness = Harness(docs, jwks_kwargs=kwargs, fetch_timeout=0.3, network_budget=0.3)
        harness.evaluate(event("rest_token", dev_issuer.mint()))
        dev_issuer.set_mode("down")
        cold.set_mode("down")
        clock.advance(120)
        harness.evaluate(event("rest_token", dev_issuer.mint()))  # stale serve
        for _ in range(4):  # jwks_unavailable three times, then the circuit is open
            harness.evaluate(event("rest_token", cold.mint(), account="210987654321"))
        yield harness.records()


def test_idp_outage_query(outage_lines: list[Line], dev_issuer: FaultyIssuer) -> None:
    """The IdP-outage query finds the issuer, tenant and reason of every affected line."""
    (query,) = queries("idp-outage.md")
    selected = _check(
        query, outage_lines, {"reason": {"ok", "jwks_unavailable", "issuer_circuit_open"}}
    )
    assert {line["reason"] for line in selected} == {
        "ok",
        "jwks_unavailable",
        "issuer_circuit_open",
    }
    assert {(line["tenant_id"], line["iss"] == dev_issuer.issuer) for line in selected} >= {
        ("acme", True)
    }


def test_deny_spike_query(dev_issuer: FaultyIssuer) -> None:
    """The deny-spike query groups every refusal by tenant, outcome and reason."""
    rules = {"rules": [{"path": "/admin/*", "scopes_any": ["admin"]}]}
    harness = Harness([tenant_doc("acme", ACCOUNT, [issuer_entry(dev_issuer)], routes=rules)])
    for token in (
        dev_issuer.mint(audience="https://other.example"),
        dev_issuer.mint(expires_in=-600),
        dev_issuer.mint(kid="not-published"),
        dev_issuer.mint({"iss": "https://elsewhere.example"}),
        "not-a-jwt",
    ):
        harness.evaluate(event("rest_token", token))
    harness.evaluate(event("rest_token", dev_issuer.mint(), path="/admin/users"))
    harness.evaluate(event("rest_token", dev_issuer.mint()))  # allowed: not selected
    (query,) = queries("deny-spike.md")
    selected = _check(query, harness.records(), {"tenant_id": "acme"})
    assert {line["outcome"] for line in selected} == {"unauthorized", "deny"}
    assert len(selected) == 6


def test_emergency_revocation_query(dev_issuer: FaultyIssuer) -> None:
    """The revocation query finds the tenant's tokens refused by the revocation, by kid."""
    now = [1000.0]
    entry = issuer_entry(dev_issuer)
    harness = Harness([tenant_doc("acme", ACCOUNT, [entry])], config_clock=lambda: now[0])
    leaked = dev_issuer.current_kid()
    token = dev_issuer.mint()
    assert harness.evaluate(event("rest_token", token)).outcome == "allow"
    harness.replace_docs(
        [tenant_doc("acme", ACCOUNT, [{**entry, "revocation": {"kids": [leaked]}}])]
    )
    now[0] += 61  # the config TTL: the instance reads the revocation
    harness.evaluate(event("rest_token", token))
    (query,) = [q for q in queries("emergency-key-revocation.md") if "key_revoked" in q]
    selected = _check(query, harness.records(), {"kid": leaked, "tenant_id": "acme"})
    assert {line["reason"] for line in selected} == {"key_revoked"}


def test_ssm_outage_query(dev_issuer: FaultyIssuer) -> None:
    """The SSM query finds the warm account decided on stale config and the cold one refused."""
    now = [1000.0]
    docs = [
        tenant_doc("acme", ACCOUNT, [issuer_entry(dev_issuer)]),
        tenant_doc("cold", "210987654321", [issuer_entry(dev_issuer)]),
    ]
    harness = Harness(docs, config_clock=lambda: now[0])
    harness.evaluate(event("rest_token", dev_issuer.mint()))
    harness.source.down = True
    now[0] += 61
    harness.evaluate(event("rest_token", dev_issuer.mint()))  # stale serve
    harness.evaluate(event("rest_token", dev_issuer.mint(), account="210987654321"))
    harness.evaluate(event("rest_token", dev_issuer.mint(), account="210987654321"))
    (query, *_) = queries("ssm-outage.md")
    selected = _check(query, harness.records(), {})
    assert {(line["account_id"], line["reason"]) for line in selected} == {
        (ACCOUNT, "ok"),
        ("210987654321", "tenant_config_unavailable"),
    }
