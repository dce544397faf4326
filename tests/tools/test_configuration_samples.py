"""Every tenant file shown in docs/configuration.md and docs/tenant-guide.md parses.

Each fenced ``yaml`` block that names a ``tenant_id`` is read as ``validate`` reads a file:
the schema, then the runtime's parser. A sample that would not deploy fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from support.tenants import assign_aliases
from tenant_authorizer.runtime.tenant_parser import parse_tenant
from tenant_authorizer.tools.schema import schema_problems
from tenant_authorizer.tools.validation import validate

REPO = Path(__file__).resolve().parents[2]
PAGES = ("configuration.md", "tenant-guide.md")


def _samples() -> list[tuple[str, str]]:
    out = []
    for page in PAGES:
        text = (REPO / "docs" / page).read_text(encoding="utf-8")
        for block in re.findall(r"^```yaml\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE):
            if re.search(r"^tenant_id:", block, flags=re.MULTILINE):
                out.append((page, block))
    return out


SAMPLES = _samples()


def test_the_pages_show_each_kind_of_credential() -> None:
    text = "\n".join(block for _, block in SAMPLES)
    for field in ("introspection:", "api_keys:", "hmac_previous_secret_parameter:"):
        assert field in text
    assert len(SAMPLES) >= 6


@pytest.mark.parametrize(
    ("page", "block"), SAMPLES, ids=[f"{p}-{n}" for n, (p, _) in enumerate(SAMPLES)]
)
def test_a_sample_tenant_file_parses(page: str, block: str, tmp_path: Path) -> None:
    """As pasted into a file of a tenant directory: schema, parser, then validate."""
    data = yaml.safe_load(block)
    assert schema_problems(data, page) == []
    parse_tenant(data, page)
    (tmp_path / f"{data['tenant_id']}.yaml").write_text(block, encoding="utf-8")
    assign_aliases(tmp_path)
    report = validate([tmp_path])
    assert [str(p) for p in report.problems] == []
