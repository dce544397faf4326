"""Where account documents and secrets come from: SSM in Lambda, memory in tests.

:class:`ConfigSource` is the seam; :class:`SsmSource` reads ``{prefix}/accounts/*`` and
``{prefix}/secrets/*`` with boto3, imported on the first read (a warm instance never
needs it, and its import is most of a cold start); :class:`StaticSource` holds rendered
documents in memory. A source only fetches: caching is the registry's.
"""

from __future__ import annotations

import os
from typing import Any, Protocol


class SourceUnavailable(Exception):
    """Raised by a config source when the backing store cannot be read (network, throttling)."""


class ConfigSource(Protocol):
    """Where account documents and secrets come from (SSM in Lambda, files locally)."""

    def load_account(self, account_id: str) -> str | None:
        """The raw account document, or None when the account has none."""
        ...

    def load_secret(self, name: str) -> bytes | None:
        """A decrypted secret, or None when it does not exist."""
        ...


class StaticSource:
    """Account documents and secrets held in memory (local gateway, tests)."""

    __slots__ = ("accounts", "secrets")

    def __init__(
        self, accounts: dict[str, str] | None = None, secrets: dict[str, bytes] | None = None
    ) -> None:
        self.accounts = {} if accounts is None else accounts
        self.secrets = {} if secrets is None else secrets

    def load_account(self, account_id: str) -> str | None:
        return self.accounts.get(account_id)

    def load_secret(self, name: str) -> bytes | None:
        return self.secrets.get(name)


class SsmSource:
    """Reads account documents and secrets from SSM Parameter Store under ``prefix``.

    boto3 is imported on the first read, not at module import: a warm instance never
    needs it, and its import is most of a cold start.
    """

    def __init__(self, prefix: str, *, client: Any = None) -> None:
        self.prefix = prefix.rstrip("/")
        self._client = client

    def _ssm(self) -> Any:
        if self._client is None:
            import boto3  # noqa: PLC0415  (lazy on purpose, see class docstring)
            from botocore.config import Config  # noqa: PLC0415

            self._client = boto3.client(
                "ssm",
                # Some boto3 versions read only AWS_DEFAULT_REGION; Lambda sets AWS_REGION.
                region_name=os.environ.get("AWS_REGION") or None,
                # At most 2 x (1 s + 1 s) = 4 s (SSM answers in tens of ms): with the key
                # fetch budget, one decision stays well inside the function timeout.
                config=Config(
                    connect_timeout=1,
                    read_timeout=1,
                    retries={"max_attempts": 2, "mode": "standard"},
                ),
            )
        return self._client

    def _get(self, name: str, *, decrypt: bool) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            response = self._ssm().get_parameter(Name=name, WithDecryption=decrypt)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ParameterNotFound":
                return None
            raise SourceUnavailable(f"SSM {code or 'error'} reading {name}") from exc
        except BotoCoreError as exc:
            raise SourceUnavailable(
                f"SSM unreachable reading {name}: {type(exc).__name__}"
            ) from exc
        value = response["Parameter"]["Value"]
        return str(value)

    def load_account(self, account_id: str) -> str | None:
        return self._get(f"{self.prefix}/accounts/{account_id}", decrypt=False)

    def load_secret(self, name: str) -> bytes | None:
        if not name.startswith(f"{self.prefix}/secrets/"):
            # The role can only read its own prefix anyway; refuse early and clearly.
            raise SourceUnavailable(f"secret {name} is outside {self.prefix}/secrets/")
        value = self._get(name, decrypt=True)
        return None if value is None else value.encode()
