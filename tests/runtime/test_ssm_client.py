"""The signed SSM client (decision 0025): botocore's signature, moto's answers, SSM's errors."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from support.aws import REGION, aws_env, moto_server, ssm_client
from tenant_authorizer.runtime.sources import SourceUnavailable, SsmSource
from tenant_authorizer.runtime.ssm_client import Credentials, SignedSsmClient, sign

AMZ_DATE = "20261201T221500Z"
WHEN = datetime.datetime(2026, 12, 1, 22, 15, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize("token", [None, "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJ"])
@pytest.mark.parametrize("host", ["ssm.us-east-1.amazonaws.com", "127.0.0.1:4566"])
def test_the_signature_is_botocores(token: str | None, host: str) -> None:
    """moto accepts any signature: the same request signed by botocore's SigV4Auth must
    carry the same Authorization header."""
    body = json.dumps({"Names": ["/p/index/layout"], "WithDecryption": False}).encode()
    ours = sign(
        Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token),
        "us-east-1",
        host,
        "AmazonSSM.GetParameters",
        body,
        amz_date=AMZ_DATE,
    )
    scheme = "https" if host.endswith("amazonaws.com") else "http"
    request = AWSRequest(
        method="POST",
        url=f"{scheme}://{host}/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonSSM.GetParameters",
            "User-Agent": "not signed",
        },
    )
    credentials = BotoCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    with mock.patch("botocore.auth.get_current_datetime", return_value=WHEN):
        SigV4Auth(credentials, "ssm", "us-east-1").add_auth(request)
    assert ours["authorization"] == request.headers["Authorization"]
    assert ours["x-amz-date"] == request.headers["X-Amz-Date"] == AMZ_DATE
    if token is not None:
        assert ours["x-amz-security-token"] == request.headers["X-Amz-Security-Token"]


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server with the environment Lambda gives the function (credentials, region)."""
    with moto_server() as endpoint:
        for name, value in aws_env(endpoint).items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("TENANT_AUTHZ_SSM_CLIENT", raising=False)
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "tenant-authorizer")
        yield endpoint


def test_reads_documents_and_secrets_without_boto3(moto: str) -> None:
    """Values, missing names (None), a decrypted secret, a missing secret."""
    boto = ssm_client(moto)
    boto.put_parameter(Name="/p/accounts/111122223333", Value='{"a":1}', Type="String")
    boto.put_parameter(Name="/p/secrets/acme/hs256", Value="s3cr3t", Type="SecureString")
    source = SsmSource("/p")
    assert source.read(["accounts/111122223333", "accounts/444455556666"]) == {
        "accounts/111122223333": '{"a":1}',
        "accounts/444455556666": None,
    }
    assert isinstance(source._ssm(), SignedSsmClient)
    assert source.load_secret("/p/secrets/acme/hs256") == b"s3cr3t"
    assert source.load_secret("/p/secrets/acme/missing") is None


def test_a_cold_read_imports_no_boto3(moto: str) -> None:
    """The point of the client: the first read of a cold instance loads no boto3."""
    ssm_client(moto).put_parameter(Name="/p/index/layout", Value="{}", Type="String")
    code = (
        "import sys; from tenant_authorizer.runtime.sources import SsmSource; "
        "assert SsmSource('/p').read(['index/layout']) == {'index/layout': '{}'}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "[]"


class _Canned(BaseHTTPRequestHandler):
    answer: tuple[int, bytes] = (200, b"{}")

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, body = self.answer
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def canned() -> Iterator[tuple[str, type[_Canned]]]:
    """An SSM endpoint on 127.0.0.1 that gives the answer a test sets."""
    handler = type("Handler", (_Canned,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "body", "throttled", "transient"),
    [
        (400, b'{"__type":"ThrottlingException","message":"Rate exceeded"}', True, True),
        (400, b'{"__type":"com.amazon.coral.service#AccessDeniedException"}', False, False),
        (500, b'{"__type":"InternalServerError"}', False, True),
        (503, b"", False, True),
        (200, b"<html>proxy</html>", False, True),
    ],
)
def test_ssm_errors_become_their_codes(
    canned: tuple[str, type[_Canned]],
    status: int,
    body: bytes,
    throttled: bool,
    transient: bool,
) -> None:
    """Throttling counts as throttling, access denied is not retried, 5xx and garbage are."""
    url, handler = canned
    handler.answer = (status, body)
    source = SsmSource(
        "/p", client=SignedSsmClient(REGION, Credentials("a", "b", None), endpoint=url)
    )
    with pytest.raises(SourceUnavailable) as raised:
        source.read(["index/layout"])
    assert (raised.value.throttled, raised.value.transient) == (throttled, transient)


def test_an_unreachable_endpoint_is_transient() -> None:
    """Nothing listens: one attempt, a transient SourceUnavailable, no traceback upward."""
    client = SignedSsmClient(
        REGION, Credentials("a", "b", None), endpoint="http://127.0.0.1:9", timeout=0.5
    )
    with pytest.raises(SourceUnavailable) as raised:
        SsmSource("/p", client=client).read(["index/layout"])
    assert raised.value.transient and "Unreachable" in str(raised.value)


def test_outside_lambda_boto3_keeps_profiles_and_mocks(
    moto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tools and a laptop (no AWS_LAMBDA_FUNCTION_NAME) use boto3, unless told."""
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    assert not isinstance(SsmSource("/p")._ssm(), SignedSsmClient)
    monkeypatch.setenv("TENANT_AUTHZ_SSM_CLIENT", "signed")
    assert isinstance(SsmSource("/p")._ssm(), SignedSsmClient)


def test_a_connection_closed_while_idle_is_reopened_at_once(
    canned: tuple[str, type[_Canned]],
) -> None:
    """The endpoint drops the kept-alive connection between two reads: the second read
    succeeds on a new connection, without an error for the registry to back off on."""
    url, handler = canned
    handler.protocol_version = "HTTP/1.1"  # keep-alive, as SSM's endpoints
    handler.answer = (200, b'{"Parameters":[{"Name":"/p/index/layout","Value":"{}"}]}')
    client = SignedSsmClient(REGION, Credentials("a", "b", None), endpoint=url)
    source = SsmSource("/p", client=client)
    assert source.read(["index/layout"]) == {"index/layout": "{}"}
    assert client._connection is not None and client._connection.sock is not None
    client._connection.sock.close()  # what an idle timeout at the endpoint leaves behind
    assert source.read(["index/layout"]) == {"index/layout": "{}"}
