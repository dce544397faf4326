"""``tenant-authz local``: start-up, banner, errors, ``local token``/``rotate`` and ``--ssm``."""

from __future__ import annotations

import json
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from support.aws import aws_env, moto_server, ssm_client
from tenant_authorizer.cli import main
from tenant_authorizer.dev.issuer import DevIssuer
from tenant_authorizer.dev.local.commands import local
from tenant_authorizer.dev.local.options import DEFAULT_TENANT, LocalOptions, api_for
from tenant_authorizer.dev.local.stack import LocalStack, start_local
from tenant_authorizer.dev.tenant_files import TenantFiles
from tenant_authorizer.runtime.settings import Settings
from tenant_authorizer.tools.documents import render_account_documents

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "tenant-authz"
ACCOUNT = "123456789012"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _tenant_doc(issuer_url: str, tenant_id: str = "shop") -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "issuers": [
            {
                "issuer": issuer_url,
                "jwks_uri": f"{issuer_url}/jwks.json",
                "local_development": True,
                "algorithms": ["RS256", "ES256"],
                "audiences": ["https://api.example.test"],
            }
        ],
        "routes": {"default": "allow", "rules": [{"path": "/admin/*", "scopes_any": ["admin"]}]},
        "bindings": [{"account_id": ACCOUNT}],
    }


@pytest.fixture
def issuer_port() -> int:
    """A port that was free a moment ago, for the issuer the command starts itself."""
    return _free_port()


@pytest.fixture
def tenants(tmp_path: Path, issuer_port: int) -> Path:
    """A tenant directory whose one tenant trusts a development issuer on ``issuer_port``."""
    directory = tmp_path / "tenants"
    directory.mkdir()
    doc = _tenant_doc(f"http://127.0.0.1:{issuer_port}")
    (directory / "shop.yaml").write_text(json.dumps(doc, indent=2))
    return directory


@pytest.fixture
def stack(tenants: Path) -> Iterator[LocalStack]:
    """``tenant-authz local`` started in-process on ephemeral gateway port, tenant ``shop``."""
    lines: list[str] = []
    started = start_local(
        LocalOptions(port=0, tenants_dir=tenants, tenant="shop", watch=False),
        settings=Settings(kid_cooldown=0),
        out=lines.append,
    )
    yield started
    started.stop()


def _run_curl(line: str) -> requests.Response:
    """Run a banner curl line with requests: -X, -H and the URL are all it uses."""
    args = shlex.split(line)
    assert args[0] == "curl"
    method, headers, url = "GET", {}, ""
    rest = iter(args[1:])
    for arg in rest:
        if arg == "-X":
            method = next(rest)
        elif arg == "-H":
            name, _, value = next(rest).partition(": ")
            headers[name] = value
        elif arg != "-i":
            url = arg
    return requests.request(method, url, headers=headers, timeout=5)


def test_the_banner_curl_lines_behave_as_printed(tmp_path: Path, tenants: Path) -> None:
    """The real command's two curl lines answer 200 and 403, and Ctrl-C stops it cleanly."""
    process = subprocess.Popen(
        [str(CLI), "local", "--port", "0", "--tenants-dir", str(tenants), "--tenant", "shop"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        banner: list[str] = []
        for line in process.stdout:
            banner.append(line.rstrip("\n"))
            if line.startswith("Access log:"):
                break
        text = "\n".join(banner)
        assert "tenant-authz local: API Gateway on http://127.0.0.1:" in text
        assert f"account {ACCOUNT}, api local00001, stage local" in text
        assert "tenants     1 from" in text
        says = [b.strip() for b in banner if b.strip().startswith("# ")]
        curls = [b.strip() for b in banner if b.strip().startswith("curl ")]
        assert len(curls) == 2
        assert says[0].startswith("# passes: 200")
        assert says[1].startswith("# refused: 403")
        passed = _run_curl(curls[0])
        assert passed.status_code == 200
        assert passed.json()["authorizer"]["tenant_id"] == "shop"
        refused = _run_curl(curls[1])
        assert refused.status_code == 403
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert out.rstrip().splitlines()[-1] == "tenant-authz local: stopped."
    assert " -> 200 allow reason=ok tenant=shop cache=miss " in out
    assert " -> 403 deny reason=explicit_deny tenant=shop cache=hit " in out
    assert "Traceback" not in err


def test_sigterm_stops_it_with_exit_zero(tmp_path: Path, tenants: Path) -> None:
    """SIGTERM (docker stop, kill) stops the servers and exits 0 with one line."""
    process = subprocess.Popen(
        [str(CLI), "local", "--port", "0", "--tenants-dir", str(tenants), "--tenant", "shop"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Access log:"):
            break
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=10)
    assert (process.returncode, out.strip(), err) == (0, "tenant-authz local: stopped.", "")


def test_the_in_process_banner_examples_behave_as_printed(stack: LocalStack) -> None:
    """The examples start_local computes are the ones printed, and they hold."""
    assert [e.status for e in stack.examples] == [200, 403]
    for example in stack.examples:
        assert example.curl in stack.banner
        assert _run_curl(example.curl).status_code == example.status


def test_edited_tenant_files_are_reloaded_and_broken_edits_ignored(tenants: Path) -> None:
    """An edit takes effect without a restart; a broken edit keeps the last good config."""
    lines: list[str] = []
    started = start_local(
        LocalOptions(port=0, tenants_dir=tenants, tenant="shop", reload_interval=0.05),
        settings=Settings(kid_cooldown=0),
        out=lines.append,
    )
    try:
        assert started.issuer is not None
        token = started.issuer.mint()
        url = started.server.url + "/admin/x"
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(url, headers=headers, timeout=5).status_code == 403
        path = tenants / "shop.yaml"
        doc = json.loads(path.read_text())
        doc["routes"]["rules"] = []
        path.write_text(json.dumps(doc))
        _wait_for(lines, "tenant files reloaded (1 tenants)")
        assert requests.get(url, headers=headers, timeout=5).status_code == 200
        path.write_text("tenant_id: shop\n")
        _wait_for(lines, "still serving the previous ones")
        assert requests.get(url, headers=headers, timeout=5).status_code == 200
    finally:
        started.stop()


def _wait_for(lines: list[str], text: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in lines):
        assert time.monotonic() < deadline, f"never logged {text!r}: {lines}"
        time.sleep(0.02)


def _runner_output(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


def test_a_port_in_use_exits_4_with_one_sentence(tenants: Path) -> None:
    """A taken gateway port is exit 4 and one line naming the port and the fix."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = _runner_output(
            [
                "local",
                "--port",
                str(port),
                "--tenants-dir",
                str(tenants),
                "--tenant",
                "shop",
                "--no-issuer",
            ]
        )
    assert code == 4
    assert output.strip().splitlines() == [
        f"Error: port {port} on 127.0.0.1 (gateway) is already in use: stop what holds it "
        "(another tenant-authz local?) or pick another with --port (make run PORT=8081)"
    ]


def test_an_issuer_port_in_use_exits_4_with_one_sentence(tenants: Path, issuer_port: int) -> None:
    """A taken development-issuer port is exit 4, naming --issuer-port as the fix."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", issuer_port))
        taken.listen()
        code, output = _runner_output(
            ["local", "--port", "0", "--tenants-dir", str(tenants), "--tenant", "shop"]
        )
    assert code == 4
    lines = output.strip().splitlines()
    assert len(lines) == 1
    assert f"port {issuer_port} on 127.0.0.1 (development issuer) is already in use" in lines[0]
    assert "--issuer-port" in lines[0]
    assert "make run ISSUER_PORT=" in lines[0], "the fix make run users can pass"


def test_a_broken_tenant_file_exits_3_listing_every_problem(tmp_path: Path) -> None:
    """Every ``file: field: reason`` is printed, then one sentence; no server starts."""
    (tmp_path / "shop.yaml").write_text(
        "tenant_id: shop\nissuers: []\nbindings:\n  - account_id: '12345'\nsurprise: 1\n"
    )
    code, output = _runner_output(["local", "--port", "0", "--tenants-dir", str(tmp_path)])
    assert code == 3
    lines = output.strip().splitlines()
    assert any("shop.yaml: surprise: is not a known field" in line for line in lines)
    assert any("shop.yaml: bindings[0].account_id:" in line for line in lines)
    assert lines[-1].startswith("Error: ")
    assert "problem(s) in the tenant files of" in lines[-1]
    assert "Traceback" not in output


def test_an_unknown_tenant_exits_2_naming_the_known_ones(tenants: Path) -> None:
    """--tenant naming no tenant is exit 2 and lists the tenants there are."""
    code, output = _runner_output(
        ["local", "--port", "0", "--tenants-dir", str(tenants), "--tenant", "nope", "--no-issuer"]
    )
    assert code == 2
    assert output.strip().splitlines() == [
        f"Error: unknown tenant 'nope' in {tenants}/: choose one of shop (--tenant)"
    ]


def test_local_token_prints_a_token_the_gateway_accepts(stack: LocalStack, tenants: Path) -> None:
    """``local token --tenant T --scope S`` prints only a token, and it opens the scoped route."""
    assert stack.issuer is not None
    result = CliRunner().invoke(
        main,
        ["local", "token", "--tenant", "shop", "--tenants-dir", str(tenants), "--scope", "admin"],
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert len(result.stdout.splitlines()) == 1 and token.count(".") == 2
    response = requests.get(
        stack.server.url + "/admin/x", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 200
    assert response.json()["authorizer"]["scopes"] == "admin"


def test_local_token_without_a_running_issuer_exits_6() -> None:
    """No issuer at --issuer-url is exit 6 and one sentence saying to start it."""
    url = f"http://127.0.0.1:{_free_port()}"
    code, output = _runner_output(["local", "token", "--issuer-url", url])
    assert code == 6
    assert output.strip().splitlines() == [
        f"Error: no development issuer answers at {url}: start it with make run "
        "(tenant-authz local) or pass --issuer-url"
    ]


def test_local_rotate_revokes_the_old_key_of_the_running_issuer(stack: LocalStack) -> None:
    """``local rotate --revoke`` prints new kids; old tokens then fail and new ones pass."""
    assert stack.issuer is not None
    stack.gateway.flush()
    old = stack.issuer.mint()
    url = stack.server.url + "/orders"
    assert requests.get(url, headers={"Authorization": f"Bearer {old}"}, timeout=5).ok
    result = CliRunner().invoke(
        local, ["rotate", "--issuer-url", stack.issuer.issuer, "--alg", "RS256", "--revoke"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == stack.issuer.current_kid("RS256")
    new = stack.issuer.mint()
    stack.gateway.flush()  # what a TTL running out does: the next request asks the authorizer
    assert requests.get(url, headers={"Authorization": f"Bearer {new}"}, timeout=5).ok
    stack.gateway.flush()
    refused = requests.get(url, headers={"Authorization": f"Bearer {old}"}, timeout=5)
    assert refused.status_code == 401


def test_the_defaults_parse_and_name_the_shipped_local_tenant() -> None:
    """``make run``'s defaults: port 8080, tenant_configs/, tenant local-dev on issuer 8090."""
    context = local.make_context("local", [])
    assert (context.params["port"], context.params["tenant"]) == (8080, DEFAULT_TENANT)
    loaded = TenantFiles(ROOT / "tenant_configs").load()
    tenant = loaded.tenants[DEFAULT_TENANT]
    api = api_for(LocalOptions(), tenant)
    assert (api.kind, api.account_id, api.api_id, api.stage) == (
        "rest-token",
        ACCOUNT,
        "local00001",
        "local",
    )
    assert tenant.config.issuers[0].issuer == "http://127.0.0.1:8090"


def test_ssm_mode_serves_the_documents_in_a_moto_server(
    monkeypatch: pytest.MonkeyPatch, dev_issuer: DevIssuer
) -> None:
    """--ssm reads the account documents from SSM (AWS_ENDPOINT_URL) and decides with them."""
    with moto_server() as endpoint:
        for name, value in aws_env(endpoint).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("TENANT_AUTHZ_SSM_PREFIX", "/authz-test")
        documents = render_account_documents([_tenant_doc(dev_issuer.issuer)])
        ssm = ssm_client(endpoint)
        for account, document in documents.items():
            ssm.put_parameter(Name=f"/authz-test/accounts/{account}", Value=document, Type="String")
        started = start_local(
            LocalOptions(port=0, tenant="shop", ssm=True, no_issuer=True),
            settings=Settings.from_env(),
            out=lambda line: None,
        )
        try:
            assert "SSM /authz-test" in started.banner
            url = started.server.url
            token = dev_issuer.mint(scope="admin")
            response = requests.get(
                url + "/admin/x", headers={"Authorization": f"Bearer {token}"}, timeout=5
            )
            assert response.status_code == 200
            assert response.json()["authorizer"]["tenant_id"] == "shop"
        finally:
            started.stop()


def test_ssm_mode_with_no_ssm_answering_exits_5(monkeypatch: pytest.MonkeyPatch) -> None:
    """--ssm with nothing at AWS_ENDPOINT_URL is exit 5 and one sentence with the fix."""
    for name, value in aws_env(f"http://127.0.0.1:{_free_port()}").items():
        monkeypatch.setenv(name, value)
    code, output = _runner_output(["local", "--port", "0", "--ssm", "--no-issuer"])
    assert code == 5
    lines = output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: SSM is unreachable")
    assert "AWS_ENDPOINT_URL" in lines[0]


def test_the_same_port_for_gateway_and_issuer_is_refused(tenants: Path) -> None:
    """--port equal to --issuer-port is a usage error naming both flags, before binding."""
    code, output = _runner_output(
        [
            *("local", "--port", "18555", "--issuer-port", "18555"),
            *("--tenants-dir", str(tenants), "--tenant", "shop"),
        ]
    )
    assert code == 2
    assert output.strip().splitlines() == [
        "Error: the gateway and the development issuer cannot share port 18555: "
        "give --port and --issuer-port different values"
    ]


def test_an_hs_tenant_from_files_is_announced_as_it_will_answer() -> None:
    """Served from files there is no HS* secret: the banner says 500, and it is 500."""
    import jwt

    repo = Path(__file__).resolve().parents[2]
    started = start_local(
        LocalOptions(
            port=0, tenants_dir=repo / "tenant_configs", tenant="hello-hmac", no_issuer=True
        ),
        out=lambda _: None,
    )
    try:
        first = started.examples[0]
        assert first.status == 500 and "secret_unavailable" in first.says
        assert "--ssm" in first.says
        token = jwt.encode(
            {"iss": "https://auth.hello.example", "aud": "hello-api", "sub": "u",
             "iat": int(time.time()), "exp": int(time.time()) + 60},
            "s" * 32, algorithm="HS256",
        )  # fmt: skip
        answer = requests.get(
            started.server.url + "/hello", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert answer.status_code == 500
    finally:
        started.stop()
