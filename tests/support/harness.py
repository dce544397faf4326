"""A harness around :class:`Authorizer`: tenant documents in memory, captured logs, events."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.runtime.authorizer import Authorizer, Evaluation
from tenant_authorizer.runtime.fetch import HttpFetcher
from tenant_authorizer.runtime.jwks import JwksCache
from tenant_authorizer.runtime.registry import TenantRegistry
from tenant_authorizer.runtime.sources import SourceUnavailable, StaticSource
from tenant_authorizer.runtime.telemetry import Telemetry
from tenant_authorizer.tools.documents import render_account_documents


def issuer_entry(issuer: DevIssuer, **overrides: Any) -> dict[str, Any]:
    """An ``issuers[]`` item trusting a local DevIssuer (explicit JWKS URI, no discovery)."""
    entry: dict[str, Any] = {
        "issuer": issuer.issuer,
        "jwks_uri": issuer.jwks_uri,
        "audiences": ["https://api.example.test"],
        "algorithms": ["RS256", "ES256"],
        "local_development": True,
    }
    entry.update(overrides)
    return entry


def tenant_doc(
    tenant_id: str,
    account_id: str,
    issuers: Iterable[Mapping[str, Any]] = (),
    *,
    api_ids: list[str] | None = None,
    stages: list[str] | None = None,
    response: str = "iam",
    **fields: Any,
) -> dict[str, Any]:
    """A tenant document as a YAML file in ``tenant_configs/`` would hold it."""
    binding: dict[str, Any] = {"account_id": account_id, "response": response}
    if api_ids is not None:
        binding["api_ids"] = api_ids
    if stages is not None:
        binding["stages"] = stages
    doc: dict[str, Any] = {"tenant_id": tenant_id, "bindings": [binding]}
    issuers = list(issuers)
    if issuers:
        doc["issuers"] = issuers
    doc.update(fields)
    return doc


class FlakySource(StaticSource):
    """A StaticSource that can be made to fail (``down``) or to answer slowly (``delay``)."""

    def __init__(self, accounts: dict[str, str], secrets: dict[str, bytes]) -> None:
        super().__init__(accounts, secrets)
        self.down = False
        self.delay = 0.0
        self.reads: list[tuple[str, ...]] = []

    def read(self, names: Sequence[str]) -> dict[str, str | None]:
        self.reads.append(tuple(names))
        if self.delay:
            time.sleep(self.delay)
        if self.down:
            raise SourceUnavailable("SSM ThrottlingException", throttled=True)
        return super().read(names)

    def load_secret(self, name: str) -> bytes | None:
        if self.down:
            raise SourceUnavailable("SSM ThrottlingException", throttled=True)
        return super().load_secret(name)


@dataclass
class Harness:
    """An Authorizer over in-memory tenant documents, with its log lines captured."""

    docs: list[dict[str, Any]]
    secrets: dict[str, bytes] = field(default_factory=dict)
    config_ttl: float = 60.0
    jwks_kwargs: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    clock: Callable[[], float] = time.time  # the wall clock tokens' exp/nbf/iat are read on
    network_budget: float = 3.0  # all network time of one decision
    fetch_timeout: float = 1.0  # any one fetch
    config_clock: Callable[[], float] = time.monotonic  # the registry's TTL clock
    config_budget: float = 0.3  # how long a cold SSM read retries (production: 2 s)

    def __post_init__(self) -> None:
        self.source = FlakySource(render_account_documents(self.docs), dict(self.secrets))
        self.registry = TenantRegistry(
            self.source, ttl=self.config_ttl, clock=self.config_clock, budget=self.config_budget
        )
        self.jwks = JwksCache(
            HttpFetcher(timeout=self.fetch_timeout),
            **self.jwks_kwargs,
        )
        self.telemetry = Telemetry(write=self.lines.append)
        self.authorizer = Authorizer(
            self.registry,
            self.jwks,
            self.telemetry,
            clock=self.clock,
            network_budget=self.network_budget,
        )

    def replace_docs(self, docs: list[dict[str, Any]]) -> None:
        """Publish new tenant documents (as a `terraform apply` would)."""
        self.docs = copy.deepcopy(docs)
        self.source.accounts = render_account_documents(self.docs)

    def evaluate(self, event_: dict[str, Any]) -> Evaluation:
        return self.authorizer.evaluate(event_)

    def records(self) -> list[dict[str, Any]]:
        """The decision log lines, parsed."""
        return [json.loads(line) for line in self.lines]

    def last(self) -> dict[str, Any]:
        return self.records()[-1]
