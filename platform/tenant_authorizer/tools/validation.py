"""Validation of tenant files, one by one and across files, as ``tenant-authz validate`` runs it.

A tenant file is read the way Terraform reads it (``yamldecode`` then ``jsonencode``), so
that what is validated here is byte for byte what the runtime reads from SSM:

* YAML is composed with PyYAML but resolved with Terraform's rules; plain scalars that
  YAML 1.1 and Terraform read differently (``yes``, ``on``, ``0755``, ``1_000``, dates,
  ``1:30``...) are problems, to be quoted or rewritten;
* numbers keep their decimal text and are printed as Terraform prints them;
* strings are escaped as ``jsonencode`` escapes them (``<``, ``>``, ``&``, U+2028/9).

Then every file is checked against ``tenant_configs/schema.json`` and parsed by
:func:`tenant_authorizer.runtime.tenant_parser.parse_tenant`, and the files are checked together:
duplicate tenant ids, one API bound by two tenants, two account-wide bindings of one
account, overlapping bindings, the size of each account's SSM document, secrets outside
``{prefix}/secrets/``. Every problem reads ``file: field: reason``; all are collected.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import yaml

from ..runtime.errors import ConfigError
from ..runtime.tenant import TenantConfig
from ..runtime.tenant_fields import HMAC_ALGORITHMS, describe_mismatch
from ..runtime.tenant_parser import parse_tenant
from .layout import (
    ADVANCED_TIER_MAX_BYTES,
    as_terraform_value,
    embedded_tenant_json,
    render_account_documents,
)

SCHEMA_PATH: Final = Path(__file__).resolve().parents[3] / "tenant_configs" / "schema.json"
DEFAULT_SSM_PREFIX: Final = "/tenant-authorizer"

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


# --------------------------------------------------------------------------- one file


def _file_display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def check_file(
    path: Path,
    *,
    schema: Mapping[str, Any] | None = None,
    ssm_prefix: str = DEFAULT_SSM_PREFIX,
    production: bool = False,
) -> tuple[TenantFile, list[Problem]]:
    """Check one tenant file on its own: YAML, schema, parser, file name, secrets."""
    display = _file_display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return TenantFile(path, display, None, None), [
            Problem(display, "(document)", f"cannot be read: {exc}")
        ]
    raw, problems = read_yaml(text, display)
    if raw is None:
        return TenantFile(path, display, None, None), problems
    try:
        data = as_terraform_value(raw)
    except TypeError as exc:  # pragma: no cover - read_yaml only yields JSON-able values
        return TenantFile(path, display, None, None), [
            *problems,
            Problem(display, "(document)", str(exc)),
        ]

    config: TenantConfig | None = None
    try:
        config = parse_tenant(data, display)
    except ConfigError as exc:
        problems.append(Problem(display, exc.field, exc.reason))
    problems.extend(schema_problems(data, display, schema))
    # One problem per field, the most telling first: what the YAML reader saw (the root
    # cause of a wrong type), then the runtime parser's reason, then the schema's.
    seen: set[str] = set()
    unique = []
    for problem in problems:
        if problem.field not in seen:
            seen.add(problem.field)
            unique.append(problem)
    problems = unique

    if isinstance(data, Mapping):
        tenant_id = data.get("tenant_id")
        if path.stem != tenant_id:
            problems.append(
                Problem(
                    display, "tenant_id", f"must equal the file name without .yaml ({path.stem!r})"
                )
            )
        problems.extend(
            _issuer_problems(data, display, ssm_prefix=ssm_prefix, production=production)
        )
        problems.extend(_control_character_problems(data, display))
        if config is not None:
            problems.extend(_round_trip_problems(raw, config, display))
    else:
        problems.append(Problem(display, "(document)", "must be a mapping"))
    if problems:
        config = None
    return TenantFile(path, display, data, config, raw), problems


def _issuer_problems(
    data: Mapping[str, Any], display: str, *, ssm_prefix: str, production: bool
) -> Iterator[Problem]:
    issuers = data.get("issuers")
    if not isinstance(issuers, list):
        return
    secrets = f"{ssm_prefix}/secrets/"
    for index, issuer in enumerate(issuers):
        if not isinstance(issuer, Mapping):
            continue
        where = f"issuers[{index}]"
        secret = issuer.get("hmac_secret_parameter")
        if isinstance(secret, str) and not secret.startswith(secrets):
            yield Problem(
                display,
                f"{where}.hmac_secret_parameter",
                f"must be under {secrets} (the only prefix the function may read)",
            )
        algorithms = issuer.get("algorithms")
        if (
            isinstance(algorithms, list)
            and any(a in HMAC_ALGORITHMS for a in algorithms)
            and (issuer.get("local_development") is True)
        ):
            yield Problem(display, f"{where}.local_development", "HS* issuers have no local mode")
        if issuer.get("local_development") is True:
            for key in ("issuer", "jwks_uri"):
                url = issuer.get(key)
                if isinstance(url, str) and url.startswith("http://") and not _is_loopback(url):
                    yield Problem(
                        display,
                        f"{where}.{key}",
                        "plain http:// is only for a development issuer on this machine "
                        "(127.0.0.1, ::1 or localhost)",
                    )
        if production and issuer.get("local_development") is True:
            yield Problem(
                display,
                f"{where}.local_development",
                "is not accepted with --production "
                "(Terraform: allow_local_development_issuers = false)",
            )


def _control_character_problems(data: Mapping[str, Any], display: str) -> Iterator[Problem]:
    # parse_tenant's patterns end in `$`, which Python lets match before a final newline:
    # "111122223333\n" (a YAML block scalar) would pass them and never match at run time.
    def walk(value: Any, path: str) -> Iterator[Problem]:
        if isinstance(value, str):
            if any(ord(c) < 32 or c == "\x7f" for c in value):
                yield Problem(display, path, "must not contain line breaks or control characters")
        elif isinstance(value, Mapping):
            for key, item in value.items():
                yield from walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk(item, f"{path}[{index}]")

    for key, value in data.items():
        if key != "description":
            yield from walk(value, str(key))


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _round_trip_problems(
    raw: Mapping[str, Any], config: TenantConfig, display: str
) -> Iterator[Problem]:
    # The runtime parses the embedded JSON without bindings: it must mean the same tenant.
    embedded = json.loads(embedded_tenant_json(raw))
    try:
        runtime = parse_tenant(embedded, display, require_bindings=False)
    except ConfigError as exc:
        yield Problem(
            display, exc.field, f"is not accepted by the runtime after deployment: {exc.reason}"
        )
        return
    if runtime != _without_bindings(config):
        yield Problem(
            display, "(document)", "changes meaning in the deployed JSON (report this as a bug)"
        )


def _without_bindings(config: TenantConfig) -> TenantConfig:
    return config._replace(bindings=())


# --------------------------------------------------------------------------- across files


def _stages_overlap(a: Sequence[str] | None, b: Sequence[str] | None) -> bool:
    return a is None or b is None or bool(set(a) & set(b))


def cross_file_problems(files: Sequence[TenantFile]) -> list[Problem]:
    """Problems no single file shows: duplicate ids, contested APIs and accounts, overlaps."""
    problems: list[Problem] = []
    seen_ids: dict[str, str] = {}
    api_owner: dict[tuple[str, str], tuple[str, str]] = {}  # (account, api) -> (tenant, file)
    wide_owner: dict[str, tuple[str, str]] = {}  # account -> (tenant, file)
    for tenant in files:
        if tenant.config is None:
            continue
        cfg = tenant.config
        if cfg.tenant_id in seen_ids:
            problems.append(
                Problem(
                    tenant.display,
                    "tenant_id",
                    f"{cfg.tenant_id!r} is already used by {seen_ids[cfg.tenant_id]}",
                )
            )
            continue
        seen_ids[cfg.tenant_id] = tenant.display
        for index, binding in enumerate(cfg.bindings):
            where = f"bindings[{index}]"
            for other_index, other in enumerate(cfg.bindings[:index]):
                same_apis = (binding.api_ids is None and other.api_ids is None) or bool(
                    set(binding.api_ids or ()) & set(other.api_ids or ())
                )
                if (
                    other.account_id == binding.account_id
                    and same_apis
                    and _stages_overlap(binding.stages, other.stages)
                ):
                    problems.append(
                        Problem(
                            tenant.display,
                            where,
                            f"overlaps bindings[{other_index}] (same account, API and stage): "
                            "the later binding would never be used",
                        )
                    )
            if binding.api_ids is None:
                owner = wide_owner.setdefault(binding.account_id, (cfg.tenant_id, tenant.display))
                if owner[0] != cfg.tenant_id:
                    problems.append(
                        Problem(
                            tenant.display,
                            f"{where}.api_ids",
                            f"account {binding.account_id} is already bound account-wide by tenant "
                            f"{owner[0]!r} ({owner[1]}): list this tenant's api_ids",
                        )
                    )
                continue
            for api_index, api_id in enumerate(binding.api_ids):
                key = (binding.account_id, api_id)
                owner = api_owner.setdefault(key, (cfg.tenant_id, tenant.display))
                if owner[0] != cfg.tenant_id:
                    problems.append(
                        Problem(
                            tenant.display,
                            f"{where}.api_ids[{api_index}]",
                            f"API {binding.account_id}/{api_id} is already bound to tenant "
                            f"{owner[0]!r} ({owner[1]}): one API belongs to one tenant",
                        )
                    )
    problems.extend(_pinned_stage_problems(files))
    return problems


def _pinned_stage_problems(files: Sequence[TenantFile]) -> Iterator[Problem]:
    """An API pinned to some stages in an account that also has an account-wide binding.

    The runtime never hands an unlisted stage of a pinned API to the account-wide binding
    (it could belong to another tenant): those stages are not bound at all, which is
    rarely what the author of either file meant.
    """
    wide: dict[str, tuple[str, str]] = {}  # account -> (file, field) of its wide binding
    pinned: dict[tuple[str, str], list[tuple[str, str, tuple[str, ...] | None]]] = {}
    for tenant in files:
        bindings = tenant.config.bindings if tenant.config is not None else ()
        for index, binding in enumerate(bindings):
            if binding.api_ids is None:
                wide.setdefault(binding.account_id, (tenant.display, f"bindings[{index}]"))
                continue
            for api_id in binding.api_ids:
                pinned.setdefault((binding.account_id, api_id), []).append(
                    (tenant.display, f"bindings[{index}].stages", binding.stages)
                )
    for (account, api_id), entries in pinned.items():
        if account not in wide or any(stages is None for _, _, stages in entries):
            continue
        listed = sorted({s for _, _, stages in entries for s in stages or ()})
        wide_file, wide_field = wide[account]
        display, where, _ = entries[0]
        yield Problem(
            display,
            where,
            f"API {account}/{api_id} is bound for stages {', '.join(listed)} only, so its other "
            f"stages are not bound at all: the account-wide binding {wide_field} of "
            f"{wide_file} never covers an API that a binding names. List every stage the API "
            "serves, or omit stages",
        )


def size_problems(files: Sequence[TenantFile], documents: Mapping[str, str]) -> list[Problem]:
    """An account document over 8,192 bytes cannot be written: name every file bound to it."""
    problems: list[Problem] = []
    for account, document in documents.items():
        size = len(document.encode("utf-8"))
        if size <= ADVANCED_TIER_MAX_BYTES:
            continue
        for tenant in files:
            if tenant.config is None:
                continue
            for index, binding in enumerate(tenant.config.bindings):
                if binding.account_id == account:
                    problems.append(
                        Problem(
                            tenant.display,
                            f"bindings[{index}].account_id",
                            f"the SSM document of account {account} would be {size} bytes, over "
                            f"the {ADVANCED_TIER_MAX_BYTES}-byte limit: split the tenants of this "
                            "account or trim their configs",
                        )
                    )
                    break
    return problems


# --------------------------------------------------------------------------- entry point


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    """Tenant files named by ``paths`` (files, or directories holding ``*.yaml``)."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.yaml")))
            for stray in sorted(path.glob("*.yml")):
                problems.append(
                    Problem(
                        _file_display(stray),
                        "(file)",
                        "rename it to .yaml: Terraform reads *.yaml only",
                    )
                )
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), "(file)", "does not exist"))
    unique = sorted({p.resolve(): p for p in files}.values(), key=str)
    return unique, problems


SecretReader = Callable[[str], bytes | None]


def secret_problems(files: Sequence[TenantFile], read: SecretReader) -> Iterator[Problem]:
    """Each HS* issuer's secret, read where it lives, checked as the runtime checks it.

    ``read`` returns the secret of a parameter name, or None when there is none; it may
    raise :class:`~tenant_authorizer.runtime.registry.SourceUnavailable`.
    """
    from ..runtime.verification import hmac_secret_problem  # noqa: PLC0415 - pulls the runtime in

    for tenant in files:
        if tenant.config is None:
            continue
        for index, issuer in enumerate(tenant.config.issuers):
            name = issuer.hmac_secret_parameter
            if name is None:
                continue
            where = f"issuers[{index}].hmac_secret_parameter"
            secret = read(name)
            if secret is None:
                yield Problem(
                    tenant.display,
                    where,
                    f"{name} does not exist: write it with aws ssm put-parameter "
                    "--type SecureString (docs/onboarding.md)",
                )
                continue
            for alg in issuer.algorithms:
                problem = hmac_secret_problem(secret, alg)
                if problem is not None:
                    yield Problem(tenant.display, where, f"{name}: {problem}")
                    break


def validate(
    paths: Iterable[Path],
    *,
    ssm_prefix: str = DEFAULT_SSM_PREFIX,
    production: bool = False,
    secrets: SecretReader | None = None,
) -> Report:
    """Validate tenant files and directories; collect every problem of every file.

    ``secrets`` reads HS* secrets (from SSM with ``--check-secrets``); without it their
    length and form are checked at run time only (``secret_invalid``).
    """
    report = Report()
    files, problems = collect_files(paths)
    report.problems.extend(problems)
    schema = load_schema()
    for path in files:
        tenant, file_problems = check_file(
            path, schema=schema, ssm_prefix=ssm_prefix, production=production
        )
        report.files.append(tenant)
        report.problems.extend(file_problems)
    report.problems.extend(cross_file_problems(report.files))
    valid = [f for f in report.files if f.config is not None]
    unique: dict[str, TenantFile] = {}
    for tenant in valid:
        unique.setdefault(tenant.data["tenant_id"], tenant)
    report.documents = render_account_documents([t.raw for t in unique.values()])
    report.problems.extend(size_problems(list(unique.values()), report.documents))
    report.problems.extend(_runtime_problems(report.documents))
    if secrets is not None:
        report.problems.extend(secret_problems(list(unique.values()), secrets))
    return report


def _runtime_problems(documents: Mapping[str, str]) -> Iterator[Problem]:
    # Last line of defence: the runtime's own reader must accept every rendered document.
    from ..runtime.account import parse_account_document  # noqa: PLC0415 - pulls the runtime in

    for account, document in documents.items():
        source = f"{{prefix}}/accounts/{account}"
        try:
            parse_account_document(document, source, account)
        except ConfigError as exc:
            yield Problem(
                exc.source, exc.field, f"the runtime rejects the rendered document: {exc.reason}"
            )
