"""Reading one tenant document field by field: the patterns, and errors naming the field.

:class:`Node` wraps a mapping being parsed with the path used in error messages; every
accessor checks one field's type and pattern and raises
:class:`~tenant_authorizer.runtime.errors.ConfigError` naming the source, the field and
the reason in words (:data:`PATTERN_MEANINGS`), so that ``tenant-authz validate`` and the
runtime say the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from . import identifiers
from .errors import ConfigError
from .tenant import ClaimValue

# Shared with the warm path, which does not import this parser: defined in .identifiers.
ASYMMETRIC_ALGORITHMS: Final = identifiers.ASYMMETRIC_ALGORITHMS
HMAC_ALGORITHMS: Final = identifiers.HMAC_ALGORITHMS
REQUEST_METHODS: Final = identifiers.REQUEST_METHODS
SUPPORTED_ALGORITHMS: Final = ASYMMETRIC_ALGORITHMS | HMAC_ALGORITHMS
RESERVED_CONTEXT_KEYS: Final = frozenset(
    {"tenant_id", "principal_id", "scopes", "issuer", "client_id", "token_hash"}
)
HTTP_METHODS: Final = frozenset({*REQUEST_METHODS, "*", "$connect"})
TENANT_ID_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
ACCOUNT_ID_RE: Final = re.compile(identifiers.ACCOUNT_ID_PATTERN)
API_ID_RE: Final = re.compile(r"^[a-z0-9]{10}$")
STAGE_RE: Final = re.compile(identifiers.STAGE_PATTERN)
REGION_RE: Final = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$")
CLAIM_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_:.\-/]{1,128}$")
HEADER_NAME_RE: Final = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
SHA256_HEX_RE: Final = re.compile(r"^[0-9a-f]{64}$")
# A rule path: "/"-separated segments of path characters, each possibly a whole "{name}"
# or "{name+}" (read as "*"), or "*" alone. No "$": route keys are not paths.
PATH_RE: Final = re.compile(r"^(/([A-Za-z0-9._~!&'()+,;=:@*-]*|\{[A-Za-z0-9._-]+\+?\}))+$|^\*$")
SSM_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_.\-/]{1,512}$")
# RFC 6749 3.3 scope-token: printable ASCII without space, '"' and '\'.
SCOPE_RE: Final = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,256}$")

# What each pattern means, for error messages (the schema uses the same patterns).
PATTERN_MEANINGS: Final = {
    TENANT_ID_RE.pattern: "a lower-case id of 2-63 letters, digits and '-'",
    ACCOUNT_ID_RE.pattern: "a 12-digit AWS account id, quoted in YAML",
    API_ID_RE.pattern: "a 10-character API Gateway API id",
    STAGE_RE.pattern: "a stage name (letters, digits, '-', '_') or $default",
    CLAIM_NAME_RE.pattern: "a claim name (letters, digits and _:.-/)",
    HEADER_NAME_RE.pattern: "an HTTP header name",
    SHA256_HEX_RE.pattern: "64 lower-case hex digits (a SHA-256)",
    PATH_RE.pattern: "a path starting with '/' whose '{name}' parameters are whole segments "
    "(or '*')",
    SSM_NAME_RE.pattern: "an SSM parameter name",
    SCOPE_RE.pattern: "a scope (printable ASCII without spaces, quotes or backslashes)",
    "^https://": "an https:// URL (http:// only with local_development: true)",
    "^https?://": "an http:// or https:// URL",
}


def describe_mismatch(value: object, pattern: str) -> str:
    """The reason a value failed ``pattern``, in words when the pattern is a known one."""
    meaning = PATTERN_MEANINGS.get(pattern)
    if pattern == SHA256_HEX_RE.pattern:
        # What was pasted here may be the token itself: never repeat it.
        return f"is not {meaning} of the token (never the token itself)"
    if meaning is None:
        return f"{value!r} does not match {pattern}"
    return f"{value!r} is not {meaning}"


class Node:
    """A mapping being parsed, with the path used in error messages."""

    def __init__(self, source: str, path: str, value: object) -> None:
        if not isinstance(value, Mapping):
            raise ConfigError(source, path or "(document)", "must be a mapping")
        self.source = source
        self.path = path
        self.data: Mapping[str, Any] = value
        self.seen: set[str] = set()

    def _field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, reason: str) -> ConfigError:
        return ConfigError(self.source, self._field(key), reason)

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def raw(self, key: str) -> object:
        self.seen.add(key)
        return self.data.get(key)

    def string(
        self, key: str, *, pattern: re.Pattern[str] | None = None, default: str | None = None
    ) -> str:
        value = self.raw(key)
        if value is None:
            if default is not None:
                return default
            raise self.error(key, "is required")
        if not isinstance(value, str) or not value:
            raise self.error(key, "must be a non-empty string")
        if pattern is not None and not pattern.fullmatch(value):
            raise self.error(key, describe_mismatch(value, pattern.pattern))
        return value

    def optional_string(self, key: str, *, pattern: re.Pattern[str] | None = None) -> str | None:
        if not self.has(key):
            self.seen.add(key)
            return None
        return self.string(key, pattern=pattern)

    def optional_integer(self, key: str, *, low: int, high: int) -> int | None:
        if not self.has(key):
            self.seen.add(key)
            return None
        return self.integer(key, default=low, low=low, high=high)

    def integer(self, key: str, *, default: int, low: int, high: int) -> int:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, "must be an integer")
        if not low <= value <= high:
            raise self.error(key, f"must be between {low} and {high}, got {value}")
        return value

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, "must be true or false")
        return value

    def choice(self, key: str, choices: Sequence[str], *, default: str) -> str:
        value = self.raw(key)
        if value is None:
            return default
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return str(value)

    def strings(
        self,
        key: str,
        *,
        pattern: re.Pattern[str] | None = None,
        allow_empty: bool = False,
    ) -> tuple[str, ...] | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self.error(key, "must be a list of strings")
        if not value and not allow_empty:
            raise self.error(key, "must not be empty (omit it instead)")
        out: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise self.error(f"{key}[{index}]", "must be a non-empty string")
            if pattern is not None and not pattern.fullmatch(item):
                raise self.error(f"{key}[{index}]", describe_mismatch(item, pattern.pattern))
            if item in out:
                raise self.error(f"{key}[{index}]", f"{item!r} is listed twice")
            out.append(item)
        return tuple(out)

    def nodes(self, key: str) -> list[Node]:
        value = self.raw(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, "must be a list")
        return [Node(self.source, f"{self._field(key)}[{i}]", item) for i, item in enumerate(value)]

    def node(self, key: str) -> Node | None:
        value = self.raw(key)
        if value is None:
            return None
        return Node(self.source, self._field(key), value)

    def claim_map(self, key: str) -> dict[str, tuple[ClaimValue, ...]]:
        value = self.raw(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping) or not value:
            raise self.error(key, "must be a non-empty mapping of claim name to value(s)")
        out: dict[str, tuple[ClaimValue, ...]] = {}
        for name, expected in value.items():
            if not isinstance(name, str) or not CLAIM_NAME_RE.fullmatch(name):
                raise self.error(key, f"claim name {name!r} is not valid")
            values = expected if isinstance(expected, list) else [expected]
            if not values or not all(isinstance(v, str | int | float | bool) for v in values):
                raise self.error(f"{key}.{name}", "must be a string, number, boolean or a list")
            out[name] = tuple(values)
        return out

    def done(self) -> None:
        """Reject fields the model does not know: a typo must not silently weaken a rule."""
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise self.error(unknown[0], "is not a known field")


def url(node: Node, key: str, *, local_development: bool) -> str:
    value = node.string(key)
    if value.startswith("https://"):
        return value
    if value.startswith("http://") and local_development:
        return value
    raise node.error(key, "must be an https:// URL (http:// only with local_development: true)")
