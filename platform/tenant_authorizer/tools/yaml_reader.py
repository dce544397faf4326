"""Reading a tenant file's YAML the way Terraform's ``yamldecode`` reads it.

YAML is composed with PyYAML but resolved with Terraform's rules (go-cty-yaml); plain
scalars that YAML 1.1 and Terraform read differently (``yes``, ``on``, ``0755``,
``1_000``, dates, ``1:30``...) are problems, to be quoted or rewritten; numbers keep
their decimal text (:class:`~decimal.Decimal`), to be printed as Terraform prints them.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import yaml

from .report import Problem

# Plain scalars Terraform's YAML reader (go-cty-yaml) turns into booleans; YAML 1.1 tools
# such as PyYAML disagree on several of them, so only true/false (any case form) are
# accepted unquoted.
_TF_TRUE: Final = frozenset(
    {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}
)
_TF_FALSE: Final = frozenset(
    {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}
)
_UNAMBIGUOUS_BOOLS: Final = frozenset({"true", "True", "TRUE", "false", "False", "FALSE"})
_TF_NULL: Final = frozenset({"", "~", "null", "Null", "NULL"})
_DECIMAL_RE: Final = re.compile(
    r"^[-+]?(0|[1-9][0-9]*)(\.[0-9]*)?([eE][-+]?[0-9]+)?$|^[-+]?\.[0-9]+([eE][-+]?[0-9]+)?$"
)
# Plain scalars whose meaning differs between readers: leading zeros, other bases,
# digit separators, sexagesimal, dates and times, infinities and NaN.
_AMBIGUOUS_RE: Final = re.compile(
    r"^[-+]?0[0-9]|^[-+]?0[xXoObB]|^[-+]?[0-9][0-9_]*_|^[-+]?[0-9]+(:[0-9]+)+(\.[0-9]*)?$"
    r"|^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|^[-+]?\.(inf|Inf|INF|nan|NaN|NAN)$"
)
_STR_TAG: Final = "tag:yaml.org,2002:str"


class _Composer(yaml.SafeLoader):
    """PyYAML's parser, remembering which scalars carried an explicit tag."""

    def compose_scalar_node(self, anchor: Any) -> yaml.ScalarNode:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        node = super().compose_scalar_node(anchor)
        explicit = getattr(event, "tag", None)
        node.explicit_tag = None if explicit in (None, "!") else explicit  # type: ignore[attr-defined]
        return node


# --------------------------------------------------------------------------- reading YAML


class _Reader:
    """Turns a composed YAML node tree into Terraform's value, collecting problems."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.problems: list[Problem] = []
        self._depth = 0

    def problem(self, path: str, reason: str) -> None:
        self.problems.append(Problem(self.display, path or "(document)", reason))

    def value(self, node: yaml.Node, path: str) -> Any:
        self._depth += 1
        try:
            if self._depth > 64:
                self.problem(path, "is nested too deeply (recursive YAML alias?)")
                return None
            if isinstance(node, yaml.ScalarNode):
                return self._scalar(node, path)
            if isinstance(node, yaml.SequenceNode):
                return [self.value(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            self.problem(path, f"unsupported YAML node {type(node).__name__}")  # pragma: no cover
            return None
        finally:
            self._depth -= 1

    def _mapping(self, node: yaml.MappingNode, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(path, "mapping keys must be plain strings")
                continue
            key = key_node.value
            child = f"{path}.{key}" if path else key
            if key == "<<" and key_node.style is None:
                self.problem(child, "YAML merge keys are not supported: write the fields out")
                continue
            if key_node.style is None and self._plain_kind(key) != "string":
                self.problem(
                    child, f"the key {key!r} is not read as a string by Terraform: quote it"
                )
            if key in out:
                self.problem(child, "is defined twice (Terraform would silently keep the last one)")
            out[key] = self.value(value_node, child)
        return out

    @staticmethod
    def _plain_kind(text: str) -> str:
        if text in _TF_TRUE or text in _TF_FALSE:
            return "bool"
        if text in _TF_NULL:
            return "null"
        if _DECIMAL_RE.match(text) and not _AMBIGUOUS_RE.match(text):
            return "number"
        if _AMBIGUOUS_RE.match(text):
            return "ambiguous"
        return "string"

    def _scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        text: str = node.value
        explicit = getattr(node, "explicit_tag", None)
        if explicit is not None:
            if explicit != _STR_TAG:
                self.problem(path, f"explicit YAML tag {explicit} is not supported: drop it")
            return text
        if node.style is not None:  # quoted or block scalar: always a string
            return text
        kind = self._plain_kind(text)
        if kind == "bool":
            if text not in _UNAMBIGUOUS_BOOLS:
                self.problem(
                    path,
                    f"{text!r} is a boolean to Terraform but not to every YAML reader: "
                    "write true or false, or quote it",
                )
            return text in _TF_TRUE
        if kind == "null":
            return None
        if kind == "number":
            try:
                return Decimal(text)
            except InvalidOperation:  # pragma: no cover - the regex admits only decimals
                return text
        if kind == "ambiguous":
            self.problem(
                path,
                f"{text!r} is read differently by Terraform and other YAML readers "
                "(number base, digit separator, date or time): quote it",
            )
        return text


def read_yaml(text: str, display: str) -> tuple[Any, list[Problem]]:
    """Read one YAML document the way Terraform's ``yamldecode`` does; also return problems."""
    reader = _Reader(display)
    try:
        loader = _Composer(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(document)"
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(display, where, f"not valid YAML: {reason}")]
    if node is None:
        return None, [Problem(display, "(document)", "is empty")]
    return reader.value(node, ""), reader.problems


# --------------------------------------------------------------------------- schema
