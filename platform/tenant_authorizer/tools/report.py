"""What validation reports: a problem (``file: field: reason``), a tenant file, a run.

Every check of ``tenant-authz validate`` (:mod:`.yaml_reader`, :mod:`.schema`,
:mod:`.tenant_file`, :mod:`.cross_file`) speaks in :class:`Problem`; a run collects all
of them into a :class:`Report`, never stopping at the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..runtime.tenant import TenantConfig


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One problem of one file: printed as ``file: field: reason``."""

    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"


@dataclass(frozen=True, slots=True)
class TenantFile:
    """A tenant file as Terraform reads it, and its parsed config when it is valid."""

    path: Path
    display: str
    data: Any  # the document after Terraform's yamldecode/jsonencode round trip
    config: TenantConfig | None
    raw: Any = None  # the document as yamldecode reads it (numbers keep their decimal text)


@dataclass(slots=True)
class Report:
    """Everything one validation run found and rendered."""

    files: list[TenantFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    documents: dict[str, str] = field(default_factory=dict)  # account id -> SSM value
    accounts: dict[str, tuple[str, ...] | None] = field(default_factory=dict)  # -> API ids
    aliases: dict[str, str] = field(default_factory=dict)  # account id -> alias (aliases.json)

    @property
    def ok(self) -> bool:
        """True when no file has a problem."""
        return not self.problems

    @property
    def tenant_ids(self) -> list[str]:
        """Ids of the valid tenants, sorted."""
        return sorted(f.config.tenant_id for f in self.files if f.config is not None)

    def document_bytes(self, account_id: str) -> int:
        """Size of an account's SSM document in bytes, as SSM counts it."""
        return len(self.documents[account_id].encode("utf-8"))


def file_display(path: Path) -> str:
    """How a file is named in a problem: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
