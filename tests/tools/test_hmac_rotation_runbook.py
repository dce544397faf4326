"""docs/runbooks/key-rotation.md, "Rotating an HS* shared secret": its blocks as pasted.

Against a moto server on 127.0.0.1: the new secret is stored next to the old one, the
file naming both validates with ``--check-secrets``, and once the overlap ends the old
parameter is deleted. The authorizer's side (either secret verifies during the overlap,
only the current one after) is tests/runtime/test_authorizer.py's rotation tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support import runbooks
from support.aws import aws_env, moto_server, ssm_client
from support.tenants import assign_aliases

OLD = "/tenant-authorizer/secrets/legacy/hs256"
NEW = "/tenant-authorizer/secrets/legacy/hs256-2027-01"
TENANT = """\
tenant_id: legacy
issuers:
  - issuer: https://auth.legacy.example
    algorithms: [HS256]
    hmac_secret_parameter: {current}
{previous}    audiences: [legacy-api]
bindings:
  - account_id: "666666666666"
"""


def _write(tenants: Path, current: str, previous: str | None = None) -> None:
    line = f"    hmac_previous_secret_parameter: {previous}\n" if previous else ""
    (tenants / "legacy.yaml").write_text(
        TENANT.format(current=current, previous=line), encoding="utf-8"
    )


def test_the_hmac_rotation_runbook_as_pasted(tmp_path: Path) -> None:
    store, check, check_again, finish = runbooks.blocks("key-rotation.md")[1:]
    _write(tmp_path, OLD)
    assign_aliases(tmp_path)
    with moto_server() as endpoint:
        ssm = ssm_client(endpoint)
        ssm.put_parameter(Name=OLD, Value="o" * 64, Type="SecureString", Overwrite=True)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "TENANTS": str(tmp_path),
            "TENANT": "legacy",
            "OLD_SECRET": OLD,
            "NEW_SECRET": NEW,
            **aws_env(endpoint),
        }

        stored = runbooks.run(store, runbooks.REPO, env, timeout=120)
        assert stored.returncode == 0, stored.stdout + stored.stderr
        value = ssm.get_parameter(Name=NEW, WithDecryption=True)["Parameter"]["Value"]
        assert len(value) == 64 and value not in stored.stdout + stored.stderr

        # Step 2 as the reader edits the file: the new secret current, the old previous.
        _write(tmp_path, NEW, OLD)
        checked = runbooks.run(check, runbooks.REPO, env, timeout=120)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "OK: 1 tenant(s)" in checked.stdout

        # A previous secret that does not exist is named before anything is applied.
        _write(tmp_path, NEW, OLD + "-typo")
        typo = runbooks.run(check, runbooks.REPO, env, timeout=120)
        assert typo.returncode == 1
        assert "issuers[0].hmac_previous_secret_parameter" in typo.stdout
        assert "does not exist" in typo.stdout

        # Step 4: the overlap ends (validated, applied), the old parameter goes.
        _write(tmp_path, NEW)
        again = runbooks.run(check_again, runbooks.REPO, env, timeout=120)
        assert again.returncode == 0 and "OK: 1 tenant(s)" in again.stdout, again.stderr
        done = runbooks.run(finish, runbooks.REPO, env, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert ssm.get_parameter(Name=NEW, WithDecryption=True)["Parameter"]["Value"] == value
        with pytest.raises(ssm.exceptions.ParameterNotFound):
            ssm.get_parameter(Name=OLD)
