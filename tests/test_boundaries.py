"""The three floors: runtime imports neither tools nor dev, tools never dev (walked by AST).

Every import of every module is resolved to its absolute name, lazy imports inside
functions included, so a floor cannot reach upwards even on a slow path.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "platform" / "tenant_authorizer"
TOOLS_ONLY = frozenset({"click", "yaml", "jsonschema", "requests", "urllib3"})


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> Iterator[str]:
    """The absolute names of every module ``path`` imports, wherever in the file."""
    package = (
        _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module_name(path)
    )
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("runtime"), ids=lambda p: p.name)
def test_the_runtime_reaches_into_neither_tools_nor_dev(path: Path) -> None:
    """What the Lambda zip carries never imports the tools, the local stack or their deps."""
    for name in imports_of(path):
        assert not name.startswith(("tenant_authorizer.tools", "tenant_authorizer.dev")), name
        assert name not in ("tenant_authorizer.cli", "tenant_authorizer.handler"), name
        assert name.split(".")[0] not in TOOLS_ONLY, name


@pytest.mark.parametrize("path", _modules("tools"), ids=lambda p: p.name)
def test_the_tools_never_reach_into_dev(path: Path) -> None:
    """The platform team's commands import the runtime, never the local stack."""
    for name in imports_of(path):
        assert not name.startswith("tenant_authorizer.dev"), name


def test_the_handler_imports_only_the_runtime() -> None:
    """handler.py, the path Terraform names, sits on the runtime alone."""
    for name in imports_of(PACKAGE / "handler.py"):
        if name.startswith("tenant_authorizer"):
            assert name.startswith("tenant_authorizer.runtime"), name


def test_platform_is_a_source_root_not_a_package() -> None:
    """platform/ has no __init__.py: it would shadow the standard library's platform."""
    assert not (PACKAGE.parent / "__init__.py").exists()
