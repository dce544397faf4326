"""Tenant directories as a platform team keeps them: the alias assignment kept current."""

from __future__ import annotations

import json
from pathlib import Path

from tenant_authorizer.tools import aliases
from tenant_authorizer.tools.validation import validate


def assign_aliases(
    directory: Path,
    alias_count: int = aliases.DEFAULT_ALIAS_COUNT,
    ssm_prefix: str = "/tenant-authorizer",
) -> dict[str, str]:
    """Write ``directory/aliases.json`` as ``tenant-authz aliases`` would, and return it."""
    report = validate([directory], check_aliases=False, ssm_prefix=ssm_prefix)
    current, _ = aliases.load(directory)
    updated = aliases.assign(current, report.accounts, alias_count=alias_count)
    text = json.dumps(updated, indent=2, sort_keys=True) + "\n"
    (directory / aliases.ALIASES_FILE).write_text(text, encoding="utf-8")
    return updated
