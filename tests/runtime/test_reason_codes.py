"""The reason-code table in docs/ lists every code the runtime can emit, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from tenant_authorizer.runtime.errors import Reason

DOC = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"


def test_reason_table_matches_enum() -> None:
    """Every Reason is documented with its status, and the table names no unknown code."""
    rows = re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", DOC.read_text(), flags=re.MULTILINE)
    documented = {code for code, _ in rows}
    assert documented == {r.value for r in Reason}
    statuses = dict(rows)
    assert statuses["ok"] == "200"
    assert statuses["scope_insufficient"] == "403"
    assert statuses["jwks_unavailable"] == "500"
