"""docs/configuration.md names every field of tenant_configs/schema.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "tenant_configs" / "schema.json").read_text(encoding="utf-8"))


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _concrete(node: Any) -> Any:
    node = _resolve(node)
    if "type" not in node:
        for option in node.get("anyOf", []):
            alt = _resolve(option)
            if alt.get("type") != "null":
                return alt
    return node


def fields(node: Any, path: str = "") -> list[str]:
    """Every property path of the schema: issuers[].audiences, routes.rules[].path, ..."""
    node = _concrete(node)
    out: list[str] = []
    if node.get("type") == "object":
        for name, child in (node.get("properties") or {}).items():
            here = f"{path}.{name}" if path else name
            out.append(here)
            out += fields(child, here)
    elif node.get("type") == "array":
        out += fields(node.get("items", {}), path + "[]")
    return out


def test_every_schema_field_is_documented() -> None:
    """Each field has its row (`field` | default | meaning | example)."""
    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([^`]+)` \|", text, flags=re.MULTILINE))
    schema_fields = fields(SCHEMA)
    assert len(schema_fields) > 40
    assert sorted(set(schema_fields) - documented) == []
    assert sorted(documented - set(schema_fields)) == [], "rows for fields the schema lacks"
