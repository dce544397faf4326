"""Where account documents, index markers and secrets come from: SSM in Lambda, memory in tests.

:class:`ConfigSource` is the seam: :meth:`~ConfigSource.read` returns up to ten
parameters by name under the prefix in one call (SSM ``GetParameters``: one transaction
of the account's throughput for all ten), :meth:`~ConfigSource.load_secret` one
decrypted secret. :class:`SsmSource` signs its calls itself where Lambda's credentials
are in the environment (:mod:`.ssm_client`: boto3's import was most of a cold start),
and imports boto3 on the first read elsewhere (a laptop's profile); it leaves retries to the
registry's reader, which backs off with jitter within a decision's budget;
:class:`StaticSource` holds rendered parameters in memory. A source only fetches:
caching is the registry's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

MAX_NAMES: Final = 10  # GetParameters takes at most ten names

# SSM error codes worth another attempt: throttling, and the service's own trouble.
_THROTTLED: Final = frozenset({"ThrottlingException", "TooManyRequestsException", "Throttling"})
_TRANSIENT: Final = _THROTTLED | {"InternalServerError", "ServiceUnavailable", "InternalFailure"}


class SourceUnavailable(Exception):
    """The backing store cannot be read now (network, throttling, permissions)."""

    def __init__(self, message: str, *, throttled: bool = False, transient: bool = True) -> None:
        super().__init__(message)
        self.throttled = throttled  # SSM said slow down (counted as SsmThrottles)
        self.transient = transient  # another attempt may succeed (False: access denied...)


class ConfigSource(Protocol):
    """Where account documents, index markers and secrets come from."""

    def read(self, names: Sequence[str]) -> dict[str, str | None]:
        """Up to :data:`MAX_NAMES` values by name under the prefix (None: no such parameter)."""
        ...

    def load_secret(self, name: str) -> bytes | None:
        """A decrypted secret by its absolute name, or None when it does not exist."""
        ...


class StaticSource:
    """Parameters held in memory (local gateway, tests): account documents by account id,
    other parameters (the index markers) by name under the prefix, secrets by name."""

    __slots__ = ("accounts", "parameters", "secrets")

    def __init__(
        self,
        accounts: dict[str, str] | None = None,
        secrets: dict[str, bytes] | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self.accounts = {} if accounts is None else accounts
        self.secrets = {} if secrets is None else secrets
        self.parameters = dict(parameters or {})

    def read(self, names: Sequence[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for name in names:
            kind, _, key = name.partition("/")
            out[name] = self.accounts.get(key) if kind == "accounts" else self.parameters.get(name)
        return out

    def load_secret(self, name: str) -> bytes | None:
        return self.secrets.get(name)


class SsmSource:
    """Reads parameters under ``prefix`` from SSM Parameter Store.

    One attempt per call, of at most 1 s to connect and 1 s to read: the registry's reader
    decides whether and when to try again (``docs/decisions/0019-change-index.md``).
    """

    def __init__(self, prefix: str, *, client: Any = None) -> None:
        self.prefix = prefix.rstrip("/")
        self._client = client

    def _ssm(self) -> Any:
        if self._client is None:
            from .ssm_client import Credentials, SignedSsmClient  # noqa: PLC0415

            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            credentials = Credentials.from_env(os.environ)
            # In Lambda (AWS_LAMBDA_FUNCTION_NAME is set there) two signed calls, no boto3
            # import (decision 0025); elsewhere boto3, with its profiles and test mocks.
            choice = os.environ.get("TENANT_AUTHZ_SSM_CLIENT", "auto")
            in_lambda = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
            if (
                region
                and credentials is not None
                and (choice == "signed" or (choice == "auto" and in_lambda))
            ):
                self._client = SignedSsmClient(region, credentials)
                return self._client
            import boto3  # noqa: PLC0415  (lazy on purpose, see the module docstring)
            from botocore.config import Config  # noqa: PLC0415

            self._client = boto3.client(
                "ssm",
                # Some boto3 versions read only AWS_DEFAULT_REGION; Lambda sets AWS_REGION.
                region_name=os.environ.get("AWS_REGION") or None,
                config=Config(
                    connect_timeout=1,
                    read_timeout=1,
                    retries={"total_max_attempts": 1, "mode": "standard"},
                ),
            )
        return self._client

    def _call(self, what: str, call: Any, **kwargs: Any) -> Any:
        """``call(**kwargs)``; None for ParameterNotFound; SourceUnavailable otherwise."""
        from .ssm_client import SignedSsmClient, SsmError  # noqa: PLC0415

        if isinstance(self._client, SignedSsmClient):
            try:
                return call(**kwargs)
            except SsmError as exc:
                if exc.code == "ParameterNotFound":
                    return None
                raise SourceUnavailable(
                    f"SSM {exc.code} reading {what}",
                    throttled=exc.code in _THROTTLED,
                    transient=exc.code in _TRANSIENT | {"Unreachable", "InvalidResponse"},
                ) from exc
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            return call(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "")) or "error"
            if code == "ParameterNotFound":
                return None
            raise SourceUnavailable(
                f"SSM {code} reading {what}",
                throttled=code in _THROTTLED,
                transient=code in _TRANSIENT,
            ) from exc
        except BotoCoreError as exc:
            raise SourceUnavailable(
                f"SSM unreachable reading {what}: {type(exc).__name__}"
            ) from exc

    def read(self, names: Sequence[str]) -> dict[str, str | None]:
        if len(names) > MAX_NAMES:
            raise ValueError(f"at most {MAX_NAMES} names per read")
        full = {f"{self.prefix}/{name}": name for name in names}
        what = names[0] if len(names) == 1 else f"{len(names)} parameters"
        response = self._call(
            what, self._ssm().get_parameters, Names=list(full), WithDecryption=False
        )
        out: dict[str, str | None] = dict.fromkeys(names)
        for parameter in response.get("Parameters", []):
            name = full.get(str(parameter.get("Name")))
            if name is not None:
                out[name] = str(parameter["Value"])
        return out

    def load_secret(self, name: str) -> bytes | None:
        if not name.startswith(f"{self.prefix}/secrets/"):
            # The role can only read its own prefix anyway; refuse early and clearly.
            raise SourceUnavailable(
                f"secret {name} is outside {self.prefix}/secrets/", transient=False
            )
        response = self._call(name, self._ssm().get_parameter, Name=name, WithDecryption=True)
        return None if response is None else str(response["Parameter"]["Value"]).encode()
