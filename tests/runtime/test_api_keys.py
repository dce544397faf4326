"""API keys (issue 18): salted hashes, found by the id the key carries, or bare; per tenant.

Every event kind allows a tenant's key and refuses a wrong, unknown or removed one; one
tenant's key never opens another tenant's API; a key is never logged; the stored form
``tenant-authz api-key`` writes is the one the runtime checks.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from click.testing import CliRunner

from support.events import EVENT_KINDS, event
from support.harness import Harness, tenant_doc
from tenant_authorizer.cli import main
from tenant_authorizer.runtime.errors import ConfigError, Reason
from tenant_authorizer.runtime.tenant_parser import parse_tenant
from tenant_authorizer.tools.api_keys import new_key, stored_hash

KEYED, OTHER = "777777777777", "888888888888"
CI_KEY = new_key("ci")
OPS_KEY = new_key("ops")
OTHER_KEY = new_key("ci")  # the same id in another tenant
BARE_KEY = "a-key-chosen-elsewhere-0123456789"


def _entry(key_id: str, key: str, **extra: Any) -> dict[str, Any]:
    return {"id": key_id, "hash": stored_hash(key), "principal_id": f"{key_id}-bot", **extra}


def _docs(kind: str, keyed_keys: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    # WebSocket clients send the key in the query string (browsers cannot set headers).
    token = {"query": "access_token"} if kind == "websocket_connect" else None
    extra: dict[str, Any] = {"token": token} if token else {}
    keys = keyed_keys or [
        _entry("ci", CI_KEY, scopes=["orders:read"]),
        _entry("ops", OPS_KEY),
        _entry("website", BARE_KEY, bare=True),
    ]
    return [
        tenant_doc("keyed", KEYED, api_keys=keys, **extra),
        tenant_doc("other", OTHER, api_keys=[_entry("ci", OTHER_KEY)], **extra),
    ]


def _decide(harness: Harness, kind: str, key: str, account: str = KEYED) -> tuple[str, Reason]:
    result = harness.evaluate(event(kind, key, account=account))
    return result.outcome, result.reason


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_each_event_kind_allows_the_tenants_keys_and_refuses_others(kind: str) -> None:
    harness = Harness(_docs(kind))
    result = harness.evaluate(event(kind, CI_KEY, account=KEYED))
    assert (result.outcome, result.reason) == ("allow", Reason.OK)
    assert result.response is not None
    context = result.response["context"]
    assert (context["principal_id"], context["scopes"], context["client_id"]) == (
        "ci-bot",
        "orders:read",
        "ci",
    )
    assert context["issuer"] == "api_key:ci"
    assert _decide(harness, kind, BARE_KEY)[0] == "allow"

    wrong_secret = CI_KEY[:-4] + ("AAAA" if not CI_KEY.endswith("AAAA") else "BBBB")
    assert _decide(harness, kind, wrong_secret) == ("unauthorized", Reason.API_KEY_UNKNOWN)
    assert _decide(harness, kind, new_key("nobody")) == ("unauthorized", Reason.API_KEY_UNKNOWN)
    assert _decide(harness, kind, BARE_KEY + "x") == ("unauthorized", Reason.STATIC_TOKEN_UNKNOWN)
    # Cross-tenant: the other tenant's key for the same id, on this tenant's API, and back.
    assert _decide(harness, kind, OTHER_KEY) == ("unauthorized", Reason.API_KEY_UNKNOWN)
    assert _decide(harness, kind, CI_KEY, OTHER) == ("unauthorized", Reason.API_KEY_UNKNOWN)
    assert _decide(harness, kind, BARE_KEY, OTHER) == ("unauthorized", Reason.TOKEN_MALFORMED)
    assert _decide(harness, kind, OTHER_KEY, OTHER)[0] == "allow"

    text = "\n".join(harness.lines)
    for key in (CI_KEY, OPS_KEY, OTHER_KEY, BARE_KEY, wrong_secret):
        assert key not in text and key.rsplit("_", 1)[-1] not in text
    assert '"principal":"ci-bot"' in text and "nobody" not in text


def test_a_removed_key_is_refused_once_the_config_changes() -> None:
    """Removing an entry (an apply, or keys revoke --api-key) ends the key's cached answer."""
    harness = Harness(_docs("rest_token"))
    assert _decide(harness, "rest_token", OPS_KEY) == ("allow", Reason.OK)
    assert harness.evaluate(event("rest_token", OPS_KEY, account=KEYED)).cache_hit
    harness.replace_docs(_docs("rest_token", [_entry("ci", CI_KEY)]))
    harness.registry.invalidate()
    assert _decide(harness, "rest_token", OPS_KEY) == ("unauthorized", Reason.API_KEY_UNKNOWN)
    assert _decide(harness, "rest_token", CI_KEY) == ("allow", Reason.OK)


def test_scopes_of_a_key_drive_the_route_rules() -> None:
    routes = {"default": "deny", "rules": [{"path": "/orders/*", "scopes_any": ["orders:read"]}]}
    docs = [tenant_doc("keyed", KEYED, api_keys=_docs("rest_token")[0]["api_keys"], routes=routes)]
    harness = Harness(docs)
    assert _decide(harness, "rest_request", CI_KEY) == ("allow", Reason.OK)
    assert _decide(harness, "rest_request", OPS_KEY)[0] == "deny"


def test_the_stored_form_is_a_salted_sha256() -> None:
    """sha256$<salt>$<SHA-256 of salt || key>: two entries of one key differ (the salt)."""
    first, second = stored_hash(CI_KEY), stored_hash(CI_KEY)
    assert first != second
    scheme, salt, digest = first.split("$")
    assert scheme == "sha256" and len(bytes.fromhex(salt)) == 16
    assert digest == hashlib.sha256(bytes.fromhex(salt) + CI_KEY.encode()).hexdigest()
    assert hashlib.sha256(CI_KEY.encode()).hexdigest() not in first


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        ([_entry("ci", CI_KEY), _entry("ci", OPS_KEY)], "key ids must be unique"),
        ([{"id": "ci", "hash": "0" * 64, "principal_id": "x"}], "api_keys[0].hash"),
        ([_entry("CI_1", CI_KEY)], "api_keys[0].id"),
        ([_entry(f"b{n}", f"{BARE_KEY}{n}", bare=True) for n in range(17)], "17 bare keys"),
    ],
)
def test_bad_api_key_entries_name_the_field(keys: list[dict[str, Any]], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_tenant(tenant_doc("keyed", KEYED, api_keys=keys), "keyed.yaml")
    assert says in str(caught.value)


def test_the_cli_entries_verify_the_keys_they_were_made_for() -> None:
    """api-key new: the key on stdout, its entry on stderr; api-key hash: a bare entry."""
    import yaml

    runner = CliRunner()
    made = runner.invoke(main, ["api-key", "new", "--id", "deploy", "--principal", "ci-bot"])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    assert key.startswith("tak_deploy_") and key not in made.stderr
    (entry,) = yaml.safe_load(made.stderr.split("never into a file:\n", 1)[1])
    hashed = runner.invoke(
        main, ["api-key", "hash", "--id", "site", "--principal", "web"], input=BARE_KEY + "\n"
    )
    assert hashed.exit_code == 0, hashed.output
    (bare,) = yaml.safe_load(hashed.stdout)
    assert bare["bare"] is True and BARE_KEY not in hashed.stdout
    harness = Harness([tenant_doc("keyed", KEYED, api_keys=[entry, bare])])
    assert _decide(harness, "rest_token", key) == ("allow", Reason.OK)
    assert _decide(harness, "rest_token", BARE_KEY) == ("allow", Reason.OK)


def test_a_key_without_its_id_never_reaches_the_log() -> None:
    """tak_<secret> (the id left out): what stands where the id should is the secret."""
    harness = Harness(_docs("rest_token"))
    secret = CI_KEY.split("_", 2)[2]
    for sent in (f"tak_{secret}", f"tak_{secret.replace('_', '-')}_x", "tak_ab_" + secret):
        assert _decide(harness, "rest_token", sent) == ("unauthorized", Reason.API_KEY_UNKNOWN)
        assert harness.last()["detail"] == "no API key with that id"
    text = "\n".join(harness.lines)
    assert secret[:8] not in text and secret.replace("_", "-")[:8] not in text


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (["new", "--id", "ci", "--principal", "p", "--scope", "bad scope"], "", "--scope"),
        (["hash", "--id", "ci", "--principal", "p"], "tak_ci_short\n", "at least 20"),
        (["hash", "--id", "site", "--principal", "p"], "a.key.with.dots-0123456789\n", "dot"),
        (
            ["hash", "--id", "site", "--principal", "p"],
            "tak_other_" + "x" * 30 + "\n",
            "another id",
        ),
    ],
)
def test_api_key_command_mistakes_print_no_key(args: list[str], stdin: str, says: str) -> None:
    result = CliRunner().invoke(main, ["api-key", *args], input=stdin)
    assert result.exit_code == 2
    assert result.stdout == "", "nothing a script could store as a key"
    assert says in result.stderr and "Traceback" not in result.output
