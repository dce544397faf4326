"""IAM wildcard matching: exact like a regex oracle, and linear on hostile paths."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tenant_authorizer.runtime.caller import parse_arn
from tenant_authorizer.runtime.rules import compile_rules, decide, grant_for
from tenant_authorizer.runtime.tenant_parser import parse_tenant
from tenant_authorizer.runtime.wildcards import match

_ALPHABET = "ab/*?"


def _oracle(glob: str, text: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.fullmatch(regex, text, re.DOTALL) is not None


@settings(max_examples=2000, deadline=None)
@given(glob=st.text(alphabet=_ALPHABET, max_size=8), text=st.text(alphabet="ab/", max_size=10))
def test_match_agrees_with_regex_semantics(glob: str, text: str) -> None:
    """match() answers exactly as IAM's wildcard semantics (here: a regex) would."""
    assert match(glob, text) == _oracle(glob, text)


def test_many_wildcards_on_a_long_path_are_decided() -> None:
    """A rule with four parameters against a 2,000-character path is answered (no backtracking)."""
    tenant = parse_tenant(
        {
            "tenant_id": "acme",
            "static_tokens": [{"id": "t", "sha256": "0" * 64, "principal_id": "p"}],
            "routes": {"rules": [{"path": "/{a}/{b}/{c}/{d}/x", "scopes_any": ["s"]}]},
        },
        "t.yaml",
        require_bindings=False,
    )
    rules = compile_rules(tenant)
    caller = parse_arn("arn:aws:execute-api:us-east-1:111122223333:a1b2c3d4e5/p/GET" + "/a" * 990)
    decision = decide(rules, grant_for(rules, frozenset(), {}), caller)
    assert decision.allowed  # not covered (no trailing /x), default allow
    covered = parse_arn(
        "arn:aws:execute-api:us-east-1:111122223333:a1b2c3d4e5/p/GET" + "/a" * 990 + "/x"
    )
    assert not decide(rules, grant_for(rules, frozenset(), {}), covered).allowed
