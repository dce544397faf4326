"""The JSON Schema of a tenant file (``tenant_configs/schema.json``) and its problems.

jsonschema's errors are turned into one problem per field, in the words of a tenant
file's author: the field that is unknown or missing, the type YAML read, the most
specific alternative that failed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from ..runtime.tenant_fields import describe_mismatch
from .report import Problem

SCHEMA_PATH: Final = Path(__file__).resolve().parents[3] / "tenant_configs" / "schema.json"


def load_schema() -> dict[str, Any]:
    """The JSON Schema of a tenant file."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def _json_path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def schema_problems(
    data: Any, display: str, schema: Mapping[str, Any] | None = None
) -> list[Problem]:
    """Every place where ``data`` breaks the schema, as problems (jsonschema imported lazily)."""
    import jsonschema  # noqa: PLC0415 - a tools dependency, not needed by the runtime

    validator = jsonschema.Draft202012Validator(schema if schema is not None else load_schema())
    problems: list[Problem] = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        problems.extend(_describe(error, display))
    return problems


def _describe(error: Any, display: str) -> Iterator[Problem]:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = set(error.schema.get("properties", {}))
        for key in sorted(set(error.instance) - allowed):
            yield Problem(display, _json_path([*path, key]), "is not a known field")
        return
    if error.validator == "required" and isinstance(error.instance, Mapping):
        for key in error.validator_value:
            if key not in error.instance:
                yield Problem(display, _json_path([*path, key]), "is required")
        return
    if error.validator == "anyOf" and error.context:
        # A nullable field: the value is not null, so say what is wrong with the value.
        alternatives = [
            e for e in error.context if not (e.validator == "type" and e.validator_value == "null")
        ]
        if alternatives and len(alternatives) < len(error.context):
            for alternative in alternatives:
                yield from _describe(alternative, display)
            return
    if error.validator in {"anyOf", "oneOf"} and error.context:
        # Name the most specific alternative that failed rather than "is not valid under any".
        best = max(error.context, key=lambda e: len(e.absolute_path))
        if len(best.absolute_path) > len(error.absolute_path):
            yield from _describe(best, display)
            return
    yield Problem(display, _json_path(path) or "(document)", _short_message(error))


_JSON_TYPES: Final = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
}


def _short_message(error: Any) -> str:
    message = str(error.message)
    instance = error.instance
    if error.validator == "pattern":
        return describe_mismatch(instance, str(error.validator_value))
    if error.validator == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_JSON_TYPES.get(n, n) for n in names if n != "null")
        if "string" in names and isinstance(instance, bool | int | float):
            kind = "boolean" if isinstance(instance, bool) else "number"
            return f"must be {wanted}: YAML read {instance!r} as a {kind}, quote it"
        return f"must be {wanted}, not {_JSON_TYPES.get(_json_type(instance), 'null')}"
    if error.validator == "enum":
        choices = ", ".join(str(c) for c in error.validator_value if c is not None)
        return f"must be one of {choices}, got {instance!r}"
    if error.validator == "not" and list(error.absolute_path)[-1:] == ["algorithms"]:
        return "must not mix HS* with RS/PS/ES/EdDSA (key confusion)"
    return message if len(message) <= 200 else message[:197] + "..."


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, Mapping) else "null"
