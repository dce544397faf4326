"""A minimal SSM client: SigV4-signed JSON calls over http.client (decision 0025).

Importing boto3 and building its SSM client is most of a cold start (about 175 ms of a
first decision on this project's machines); the function needs two read-only calls,
``GetParameters`` and ``GetParameter``, with the Lambda environment's credentials. This
client signs them as botocore's ``SigV4Auth`` does (a test compares the two signatures
for the same request), sends them on one kept-alive connection with a 1 s connect and
1 s read timeout, and maps SSM's errors to their codes. Without credentials in the
environment (a laptop with a profile), :class:`~tenant_authorizer.runtime.sources.SsmSource`
uses boto3 instead.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import ssl
import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

_SERVICE: Final = "ssm"
_CONTENT_TYPE: Final = "application/x-amz-json-1.1"
_MAX_BODY: Final = 1 << 20  # ten 8 KB parameters and their metadata fit many times over


class SsmError(Exception):
    """SSM answered with an error (``code``: ThrottlingException, ParameterNotFound, ...),
    or could not be reached (``code`` "Unreachable")."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class Credentials:
    """An access key, its secret and the session token, as Lambda puts them in the
    environment."""

    __slots__ = ("access_key", "secret_key", "token")

    def __init__(self, access_key: str, secret_key: str, token: str | None) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.token = token

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials | None:
        access, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        if not access or not secret:
            return None
        return cls(access, secret, env.get("AWS_SESSION_TOKEN") or None)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign(
    credentials: Credentials,
    region: str,
    host: str,
    target: str,
    body: bytes,
    *,
    amz_date: str,
) -> dict[str, str]:
    """The headers of a signed ``POST /`` JSON-protocol call (SigV4, service ssm).

    Signed headers: content-type, host, x-amz-date, x-amz-security-token (when there is a
    session token) and x-amz-target, as botocore signs them.
    """
    headers = {
        "content-type": _CONTENT_TYPE,
        "host": host,
        "x-amz-date": amz_date,
        "x-amz-target": target,
    }
    if credentials.token is not None:
        headers["x-amz-security-token"] = credentials.token
    names = sorted(headers)
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            "".join(f"{n}:{' '.join(headers[n].split())}\n" for n in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    day = amz_date[:8]
    scope = f"{day}/{region}/{_SERVICE}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + credentials.secret_key).encode(), day)
    for part in (region, _SERVICE, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return headers


def endpoint_for(region: str, env: Mapping[str, str]) -> str:
    """SSM's endpoint: AWS_ENDPOINT_URL_SSM or AWS_ENDPOINT_URL if set (as botocore
    reads them), else the regional endpoint of the region's partition."""
    configured = env.get("AWS_ENDPOINT_URL_SSM") or env.get("AWS_ENDPOINT_URL")
    if configured:
        return configured.rstrip("/")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://ssm.{region}.{suffix}"


class SignedSsmClient:
    """``get_parameters`` and ``get_parameter`` as boto3's client answers them (the
    response dicts), from SSM's JSON API. One call, one attempt: retries are the
    registry reader's."""

    def __init__(
        self,
        region: str,
        credentials: Credentials,
        *,
        endpoint: str | None = None,
        timeout: float = 1.0,
    ) -> None:
        url = urlsplit(endpoint or endpoint_for(region, os.environ))
        self.region = region
        self.credentials = credentials
        self._https = url.scheme == "https"
        self._host = url.hostname or ""
        self._port = url.port
        self._host_header = url.netloc
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            if self._https:
                self._connection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout,
                    context=ssl.create_default_context(),
                )  # fmt: skip
            else:
                self._connection = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._timeout
                )
        return self._connection

    def _call(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, separators=(",", ":")).encode()
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        headers = sign(
            self.credentials,
            self.region,
            self._host_header,
            f"AmazonSSM.{operation}",
            body,
            amz_date=amz_date,
        )
        # A kept-alive connection the endpoint has closed while idle (between two TTL
        # checks) fails on first use: that one is retried at once on a new connection.
        for attempt in (1, 2):
            reused = self._connection is not None
            try:
                connection = self._connect()
                connection.request("POST", "/", body=body, headers=headers)
                response = connection.getresponse()
                raw = response.read(_MAX_BODY + 1)
                status = response.status
                break
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if attempt == 1 and reused and not isinstance(exc, TimeoutError):
                    continue
                raise SsmError("Unreachable", type(exc).__name__) from exc
        if len(raw) > _MAX_BODY:
            self.close()
            raise SsmError("InvalidResponse", "response over 1 MiB")
        try:
            data = json.loads(raw) if raw else {}
        except ValueError as exc:
            raise SsmError("InvalidResponse", f"HTTP {status}, not JSON") from exc
        if not isinstance(data, dict):
            raise SsmError("InvalidResponse", f"HTTP {status}, not a JSON object")
        if status >= 300:
            kind = str(data.get("__type") or data.get("code") or f"HTTP{status}")
            code = kind.rsplit("#", 1)[-1].rsplit(":", 1)[-1]
            if status >= 500 and code.startswith("HTTP"):
                code = "ServiceUnavailable"
            raise SsmError(code, str(data.get("message") or data.get("Message") or ""))
        return data

    def get_parameters(self, *, Names: list[str], WithDecryption: bool) -> dict[str, Any]:
        return self._call("GetParameters", {"Names": Names, "WithDecryption": WithDecryption})

    def get_parameter(self, *, Name: str, WithDecryption: bool) -> dict[str, Any]:
        return self._call("GetParameter", {"Name": Name, "WithDecryption": WithDecryption})

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
