"""The dashboard's per-tenant views, checked against the decision lines the authorizer writes.

moto stores Contributor Insights rules but cannot evaluate them, and has no API for saved
queries: so the definitions (terraform/modules/observability/*.json) are evaluated here,
on real decision lines, with the semantics CloudWatch documents (a rule's ``Keys`` are
JSON paths; a filter ``{"Match": path, "In": [...]}`` keeps the events whose value is one
of those).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from support.events import event
from support.harness import Harness, issuer_entry, tenant_doc
from support.issuers import FaultyIssuer

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "terraform" / "modules" / "observability"
RUNBOOKS = REPO / "docs" / "runbooks"
ACCOUNT = "123456789012"


def _path(line: dict[str, Any], path: str) -> Any:
    assert path.startswith("$."), path
    value: Any = line
    for part in path[2:].split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def contributors(rule: dict[str, Any], lines: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    """What a Contributor Insights rule counts over ``lines``: key tuple -> count."""
    counted: Counter[tuple[Any, ...]] = Counter()
    for line in lines:
        if all(_path(line, f["Match"]) in f["In"] for f in rule["filters"]):
            counted[tuple(_path(line, k) for k in rule["keys"])] += 1
    return counted


def decision_lines(issuer: FaultyIssuer) -> list[dict[str, Any]]:
    """One allow, one deny (403), one 401 and one fault (500) of tenant acme."""
    rules = {"rules": [{"path": "/admin/*", "scopes_any": ["admin"]}]}
    harness = Harness([tenant_doc("acme", ACCOUNT, [issuer_entry(issuer)], routes=rules)])
    harness.evaluate(event("rest_token", issuer.mint(), account=ACCOUNT))
    harness.evaluate(event("rest_token", issuer.mint(), account=ACCOUNT, path="/admin/x"))
    harness.evaluate(event("rest_token", issuer.mint(audience="other"), account=ACCOUNT))
    harness.evaluate(event("rest_token", issuer.mint(), account=ACCOUNT, stage="dev"))
    with_dev = [tenant_doc("acme", ACCOUNT, [issuer_entry(issuer)], stages=["prod"])]
    harness.replace_docs(with_dev)
    harness.registry.invalidate()
    harness.evaluate(event("rest_token", issuer.mint(), account=ACCOUNT, stage="dev"))
    return harness.records()


def test_the_rules_count_the_refusals_by_tenant_and_reason(dev_issuer: FaultyIssuer) -> None:
    """refusals-by-tenant counts the 401s and 403s, faults-by-account the 500s by calling
    account (an unbound one has no tenant), reasons-by-tenant splits by reason; an allow
    counts nowhere."""
    lines = decision_lines(dev_issuer)
    outcomes = Counter(line["outcome"] for line in lines)
    assert outcomes["allow"] >= 1 and outcomes["deny"] == 1 and outcomes["unauthorized"] == 1
    assert outcomes["fault"] >= 1
    rules = json.loads((MODULE / "insight_rules.json").read_text(encoding="utf-8"))
    refusals = contributors(rules["refusals-by-tenant"], lines)
    assert refusals == Counter({("acme",): 2}), "the 403 and the 401"
    faults = contributors(rules["faults-by-account"], lines)
    assert faults == Counter({(ACCOUNT, None): outcomes["fault"]}), "unbound: the account shows"
    reasons = contributors(rules["reasons-by-tenant"], lines)
    assert reasons[("acme", "scope_insufficient")] == 1
    assert reasons[("acme", "audience_mismatch")] == 1
    assert reasons[(None, "tenant_not_bound")] >= 1
    assert all(k[1] != "ok" for k in reasons)


def test_every_runbook_query_is_saved_as_written() -> None:
    """queries.json holds each runbook's Logs Insights query, character for character."""
    saved = json.loads((MODULE / "queries.json").read_text(encoding="utf-8"))
    in_runbooks = {}
    for page in sorted(RUNBOOKS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)
        queries = [b.strip() for b in blocks if b.lstrip().startswith("fields ")]
        for number, query in enumerate(queries, 1):
            in_runbooks[f"{page.stem}-{number}"] = query
    assert saved == in_runbooks
