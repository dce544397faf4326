"""``tenant-authz api-key new`` and ``api-key hash``: API keys and the entries that store them.

A key is stored only as ``sha256$<salt>$<SHA-256 of salt || key>`` (decision 0027). ``new``
makes a key that carries its id (``tak_<id>_<secret>``, 256 random bits) and prints the
key alone on stdout, the tenant-file entry on stderr; ``hash`` reads a key chosen
elsewhere from stdin (a static token to migrate) and prints its entry. Adding or removing
an entry is a tenant-file change (an apply, or ``ssm push``): no redeploy.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys

import click

from ..runtime.identifiers import API_KEY_PREFIX
from ..runtime.tenant import API_KEY_ID_RE
from ..runtime.tenant_fields import SCOPE_RE

_SECRET_BYTES = 32
_MIN_BARE_KEY_CHARS = 20


def stored_hash(key: str, salt: bytes | None = None) -> str:
    """The ``hash`` field of an API key entry: a fresh 16-byte salt unless one is given."""
    salt = os.urandom(16) if salt is None else salt
    return f"sha256${salt.hex()}${hashlib.sha256(salt + key.encode()).hexdigest()}"


def new_key(key_id: str) -> str:
    """A key that carries its id: ``tak_<id>_<secret>`` (the secret is 256 random bits)."""
    return f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"


def entry(
    key_id: str, key: str, principal: str, scopes: tuple[str, ...], *, bare: bool = False
) -> str:
    """The tenant file's ``api_keys`` entry (YAML) for ``key``."""
    lines = [
        f"  - id: {key_id}",
        f"    hash: {stored_hash(key)}",
        f"    principal_id: {json.dumps(principal)}",
    ]
    if scopes:
        lines.append(f"    scopes: [{', '.join(json.dumps(s) for s in scopes)}]")
    if bare:
        lines.append("    bare: true")
    return "\n".join(lines)


def _check_id(key_id: str) -> str:
    if not API_KEY_ID_RE.fullmatch(key_id):
        raise click.BadParameter(
            f"{key_id!r}: use 1-32 lower-case letters, digits and '-', starting with a "
            "letter or digit (the id is part of the key, and '_' separates it)",
            param_hint="--id",
        )
    return key_id


def _check_scopes(scopes: tuple[str, ...]) -> tuple[str, ...]:
    for scope in scopes:
        if not SCOPE_RE.fullmatch(scope):
            raise click.BadParameter(
                f"{scope!r} is not a scope (printable ASCII, no space, quote or backslash)",
                param_hint="--scope",
            )
    return scopes


_id = click.option("--id", "key_id", required=True, help="The key's id (logged; part of the key).")
_principal = click.option(
    "--principal", required=True, help="The principal the key stands for (principalId)."
)
_scope = click.option("--scope", "scopes", multiple=True, help="A scope it grants (repeatable).")


@click.group("api-key")
def api_key() -> None:
    """Make API keys and the tenant-file entries that store them (hashed and salted)."""


@api_key.command("new")
@_id
@_principal
@_scope
def new(key_id: str, principal: str, scopes: tuple[str, ...]) -> None:
    """Print a new key on stdout (once: store it now) and its entry on stderr."""
    _check_scopes(scopes)  # every check before the key is printed: no key without an entry
    key = new_key(_check_id(key_id))
    text = entry(key_id, key, principal, scopes)
    click.echo(key)
    click.echo(
        "Add this under api_keys: in the tenant's file, then apply its group (or "
        "tenant-authz ssm push); the key itself goes to the client, never into a file:\n" + text,
        err=True,
    )


@api_key.command("hash")
@_id
@_principal
@_scope
def hash_key(key_id: str, principal: str, scopes: tuple[str, ...]) -> None:
    """Read a key from stdin and print its entry (a static token to migrate, for instance)."""
    key = sys.stdin.readline().rstrip("\r\n")
    _check_id(key_id)
    _check_scopes(scopes)
    prefix = f"{API_KEY_PREFIX}{key_id}_"
    if key.startswith(API_KEY_PREFIX) and not key.startswith(prefix):
        raise click.UsageError(
            f"the key carries another id than {key_id!r}: pass --id with the id in the key."
        )
    secret = key.removeprefix(prefix)
    if len(secret) < _MIN_BARE_KEY_CHARS or not key.isascii() or not key.isprintable():
        raise click.UsageError(
            f"give a key whose secret has at least {_MIN_BARE_KEY_CHARS} printable ASCII "
            "characters on stdin, or make one with tenant-authz api-key new."
        )
    if " " in key or "." in key:
        # A dot sends a token down the JWT path, a space splits it from its scheme.
        raise click.UsageError(
            "the key holds a space or a dot, which the authorizer reads as a JWT or a "
            "scheme: make one with tenant-authz api-key new."
        )
    bare = not key.startswith(prefix)
    click.echo(entry(key_id, key, principal, _check_scopes(scopes), bare=bare))
