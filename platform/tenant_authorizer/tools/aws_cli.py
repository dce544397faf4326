"""What every command that talks to AWS shares: clients that retry, errors as one sentence.

Clients honour the usual environment (``AWS_PROFILE``, ``AWS_DEFAULT_REGION``,
``AWS_ENDPOINT_URL``) and retry throttling adaptively. A failure becomes one sentence
with the fix and exit code 1; never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import click


def clients(*services: str) -> tuple[Any, ...]:
    """One boto3 client per service, with adaptive retries."""
    import boto3  # noqa: PLC0415 - only the AWS commands need it
    from botocore.config import Config  # noqa: PLC0415

    config = Config(retries={"mode": "adaptive", "max_attempts": 10})
    return tuple(boto3.client(service, config=config) for service in services)  # type: ignore[call-overload]


@contextmanager
def aws_errors(
    what: str,
    *,
    exits: Mapping[type[Exception], int] | None = None,
    errors: tuple[type[Exception], ...] = (),
) -> Iterator[None]:
    """AWS failures (and ``errors``, the command's own) as one sentence with the fix.

    ``what`` names the resource for a not-found answer; ``exits`` maps exceptions to an
    exit code of their own (the message still printed).
    """
    from botocore.exceptions import (  # noqa: PLC0415
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        NoRegionError,
    )

    try:
        yield
    except tuple((exits or {}).keys()) as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit((exits or {})[type(exc)]) from exc
    except errors as exc:
        raise click.ClickException(str(exc)) from exc
    except NoRegionError as exc:
        raise click.ClickException(
            "no AWS region: set AWS_DEFAULT_REGION (or a profile with a region in AWS_PROFILE)."
        ) from exc
    except NoCredentialsError as exc:
        raise click.ClickException(
            "no AWS credentials: set AWS_PROFILE or the AWS_ACCESS_KEY_ID variables."
        ) from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", "")
        if code in {"ResourceNotFoundException", "ParameterNotFound"}:
            raise click.ClickException(
                f"{message or 'not found'} ({what}): check the names and the region, and "
                "apply terraform/platform first."
            ) from exc
        raise click.ClickException(
            f"AWS refused the call ({code}: {message}): check the role's permissions."
        ) from exc
    except BotoCoreError as exc:
        raise click.ClickException(f"AWS could not be reached ({exc}): check the network.") from exc
