"""The emulated API: its kind, account, id and stage, and its authorizer's settings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

ApiKind = Literal["rest-token", "rest-request", "http-v1", "http-v2"]
API_KINDS: Final[tuple[ApiKind, ...]] = ("rest-token", "rest-request", "http-v1", "http-v2")
MAX_TTL: Final = 3600
PLACEHOLDER_API_ID: Final = "local00001"
PLACEHOLDER_STAGE: Final = "local"
_NAME_RE: Final = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
_SOURCE_RE: Final = re.compile(
    r"^(?:method\.request|\$request|route\.request)\.(header|querystring)\.(.+)$"
)


@dataclass(frozen=True, slots=True)
class IdentitySource:
    """One identity source: a request header or query-string parameter."""

    location: Literal["header", "querystring"]
    name: str

    @classmethod
    def parse(cls, expression: str) -> IdentitySource:
        """Parse ``method.request.header.Authorization`` or ``$request.querystring.token``."""
        match = _SOURCE_RE.match(expression.strip())
        if match is None or not _NAME_RE.match(match.group(2)):
            raise ValueError(
                f"identity source {expression!r} is not a header or query string, e.g. "
                "method.request.header.Authorization or $request.querystring.token"
            )
        if match.group(1) == "header":
            return cls("header", match.group(2))
        return cls("querystring", match.group(2))

    def expression(self, kind: ApiKind) -> str:
        """The mapping expression as the API kind spells it."""
        prefix = "method.request" if kind.startswith("rest") else "$request"
        return f"{prefix}.{self.location}.{self.name}"


@dataclass(frozen=True, slots=True)
class ApiSpec:
    """The API being emulated: where it lives, its authorizer's settings."""

    kind: ApiKind
    account_id: str
    api_id: str = PLACEHOLDER_API_ID
    stage: str = PLACEHOLDER_STAGE
    identity_sources: tuple[IdentitySource, ...] = (IdentitySource("header", "Authorization"),)
    ttl: float = 300
    simple_responses: bool = False
    identity_validation: str | None = None  # REST TOKEN only: a regex the token must match
    region: str = "us-east-1"
    partition: str = "aws"

    def __post_init__(self) -> None:
        if self.kind not in API_KINDS:
            raise ValueError(f"unknown API kind {self.kind!r}; choose from {', '.join(API_KINDS)}")
        if not 0 <= self.ttl <= MAX_TTL:
            raise ValueError(f"the authorizer cache TTL must be between 0 and {MAX_TTL} seconds")
        if self.kind == "rest-token":
            sources = self.identity_sources
            if len(sources) != 1 or sources[0].location != "header":
                raise ValueError("a REST TOKEN authorizer reads exactly one header")
        elif self.identity_validation is not None:
            raise ValueError("an identity validation expression applies to REST TOKEN only")
        if not self.identity_sources and self.ttl > 0:
            raise ValueError("identity sources are the cache key: set some, or set the TTL to 0")
        if self.simple_responses and self.kind != "http-v2":
            raise ValueError("simple responses exist only for HTTP APIs with payload 2.0")
        if self.identity_validation is not None:
            try:
                re.compile(self.identity_validation)
            except re.error as exc:
                raise ValueError(
                    f"the identity validation expression is not a regex: {exc}"
                ) from exc

    @property
    def family(self) -> Literal["rest", "http"]:
        """REST APIs and HTTP APIs answer refusals with different bodies."""
        return "rest" if self.kind.startswith("rest") else "http"

    @property
    def arn_prefix(self) -> str:
        """``arn:aws:execute-api:region:account:api/stage/``."""
        return (
            f"arn:{self.partition}:execute-api:{self.region}:{self.account_id}:"
            f"{self.api_id}/{self.stage}/"
        )

    def method_arn(self, method: str, path: str) -> str:
        """A request's method ARN (``routeArn`` for payload 2.0), as API Gateway builds it."""
        return f"{self.arn_prefix}{method}{path}"

    @property
    def domain_name(self) -> str:
        """The execute-api host name the API would have in AWS."""
        return f"{self.api_id}.execute-api.{self.region}.amazonaws.com"
