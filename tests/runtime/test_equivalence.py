"""Every recorded event answers as it did when the corpus was recorded (issue 17).

tests/data/equivalence.json holds events of every kind (REST TOKEN and REQUEST, HTTP 1.0
and 2.0, WebSocket) and every outcome and reason the corpus covers, with the responses
and decision lines of the handler at the commit that recorded it (see
tests/support/equivalence.py). A change to the decision path that drops a check, a log
field or a cache answer fails here, naming the case.
"""

from __future__ import annotations

import json
from pathlib import Path

from support.equivalence import run

CORPUS = Path(__file__).resolve().parents[1] / "data" / "equivalence.json"


def test_every_recorded_event_answers_as_recorded() -> None:
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    expected = corpus["expected"]
    got = run(corpus)
    assert [g["name"] for g in got] == [e["name"] for e in expected]
    for now, then in zip(got, expected, strict=True):
        assert now == then, f"{then['name']} answers differently from the recorded corpus"


def test_the_corpus_covers_every_kind_and_outcome() -> None:
    """What the corpus holds, so that a re-recording cannot quietly shrink it."""
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    outcomes = {
        (e["name"].split("/")[0], e["lines"][-1]["outcome"], e["lines"][-1]["reason"])
        for e in corpus["expected"]
    }
    kinds = {k for k, _, _ in outcomes}
    assert kinds == {"rest_token", "rest_request", "http_v1", "http_v2", "websocket_connect"}
    reasons = {r for _, _, r in outcomes}
    assert reasons >= {
        "ok", "scope_insufficient", "token_expired", "token_not_yet_valid",
        "audience_mismatch", "issuer_not_allowed", "kid_unknown", "signature_invalid",
        "token_malformed", "token_missing", "tenant_not_bound",
    }  # fmt: skip
    caches = {e["lines"][-1]["cache"] for e in corpus["expected"]}
    assert caches == {"hit", "miss"}
