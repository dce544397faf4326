"""What ``tenant-authz local`` tells the user to fix: one sentence each, one exit code each."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO, Any

import click


class LocalError(click.ClickException):
    """A problem the user can fix: one sentence with the fix, no traceback (exit 1).

    Each subclass owns an exit code, so that scripts can tell the problems apart.
    """

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)

    def show(self, file: IO[Any] | None = None) -> None:
        """Every detail line (e.g. ``file: field: reason``), then the sentence."""
        stream = file if file is not None else sys.stderr
        for line in self.details:
            click.echo(line, file=stream)
        click.echo(f"Error: {self.format_message()}", file=stream)


class LocalUsageError(LocalError):
    """An option names something that does not exist or cannot work together (exit 2)."""

    exit_code = 2


class TenantsError(LocalError):
    """The tenant files (or SSM documents) have problems, listed one per line (exit 3)."""

    exit_code = 3


class PortInUse(LocalError):
    """The gateway's or the issuer's port cannot be listened on (exit 4)."""

    exit_code = 4


class SsmError(LocalError):
    """``--ssm`` and SSM cannot be read (exit 5)."""

    exit_code = 5


class IssuerUnreachable(LocalError):
    """``local token``/``rotate`` found no development issuer answering (exit 6)."""

    exit_code = 6
