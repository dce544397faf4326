"""terraform/README.md lists every input and output of the two roots, so the page a
platform team reads first is never behind the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"


@pytest.mark.parametrize("root", ["platform", "tenants"])
@pytest.mark.parametrize(("kind", "file"), [("variable", "variables.tf"), ("output", "outputs.tf")])
def test_every_input_and_output_of_a_root_is_in_the_readme(root: str, kind: str, file: str) -> None:
    """A `kind "name"` of the root is a row of the README's table for that root."""
    names = re.findall(rf'^{kind} "([a-z0-9_]+)"', (TERRAFORM / root / file).read_text(), re.M)
    readme = (TERRAFORM / "README.md").read_text(encoding="utf-8")
    heading = f"## terraform/{root} {'inputs' if kind == 'variable' else 'outputs'}"
    section = readme.split(heading, 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", section, re.M))
    assert names and set(names) - documented == set(), f"missing from {heading}"


MODULES = sorted(
    p.parent for p in TERRAFORM.glob("modules/*/README.md") if "## Inputs" in p.read_text()
)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
@pytest.mark.parametrize(("kind", "file"), [("variable", "variables.tf"), ("output", "outputs.tf")])
def test_every_input_and_output_of_a_module_is_in_its_readme(
    module: Path, kind: str, file: str
) -> None:
    """A module's README tables (## Inputs, ## Outputs) list each of its variables and outputs."""
    names = re.findall(rf'^{kind} "([a-z0-9_]+)"', (module / file).read_text(), re.M)
    readme = (module / "README.md").read_text(encoding="utf-8")
    heading = "## Inputs" if kind == "variable" else "## Outputs"
    section = readme.split(heading, 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", section, re.M))
    assert names and set(names) - documented == set(), f"missing from {module.name}: {heading}"
