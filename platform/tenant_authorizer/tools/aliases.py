"""Which alias serves each tenant account: a committed assignment that never moves (0020).

``tenant_configs/aliases.json`` maps every bound account to an alias of the shared
function, ``{"111122223333": "shard-017"}`` (the shape of the old ``terraform output
account_aliases``). ``tenant-authz aliases`` keeps it: existing accounts keep their alias
(a tenant's authorizer names the alias's ARN), unbound accounts leave, and a new account
takes the first alias from ``sha256(account) % alias_count`` on whose resource policy its
statements still fit with room to spare. Validation projects every alias's policy from
the assignment and the bindings, with the longest ARNs a platform can have, and fails
before Lambda's 20 KB limit would fail the apply.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from .report import Problem

ALIASES_FILE: Final = "aliases.json"
DEFAULT_ALIAS_COUNT: Final = 256
MAX_ALIAS_COUNT: Final = 1000
POLICY_LIMIT: Final = 20480  # Lambda's resource policy limit per function or alias
# New accounts are assigned so that each alias keeps this much room: an account can
# gain APIs (more statements) without its alias overflowing.
HEADROOM: Final = 2048
_ALIAS_RE: Final = re.compile(r"^shard-([0-9]{3})$")
# The longest ARN parts a platform can have: partition aws-us-gov, a 14-character region.
_PARTITION, _REGION, _PLATFORM_ACCOUNT = "aws-us-gov", "ap-southeast-5", "123456789012"
# And the longest function name Lambda allows, whatever terraform/platform function_name is.
LONGEST_FUNCTION: Final = "f" * 64
_ENVELOPE: Final = len('{"Version":"2012-10-17","Id":"default","Statement":[]}')

Accounts = Mapping[str, tuple[str, ...] | None]  # account -> API ids (None: every API)


def alias_name(number: int) -> str:
    """``shard-NNN``."""
    return f"shard-{number:03d}"


def first_choice(account: str, alias_count: int = DEFAULT_ALIAS_COUNT) -> str:
    """The alias a new account is offered first: ``sha256(account)[:8] % alias_count``."""
    return alias_name(int(hashlib.sha256(account.encode()).hexdigest()[:8], 16) % alias_count)


def statements(account: str, api_ids: tuple[str, ...] | None, alias: str, function: str) -> int:
    """Bytes the account's invoke statements add to its alias's policy (as GetPolicy shows)."""
    function_arn = f"arn:{_PARTITION}:lambda:{_REGION}:{_PLATFORM_ACCOUNT}:function:{function}"
    total = 0
    for api in api_ids or ("*",):
        sid = f"tenant-{account}-{alias}" if api == "*" else f"tenant-{account}-{api}-{alias}"
        source = (
            f"arn:{_PARTITION}:execute-api:{_REGION}:{account}:"
            f"{'??????????' if api == '*' else api}/authorizers/*"
        )
        statement = {
            "Action": "lambda:InvokeFunction",
            "Condition": {"ArnLike": {"AWS:SourceArn": source}},
            "Effect": "Allow",
            "Principal": {"Service": "apigateway.amazonaws.com"},
            "Resource": f"{function_arn}:{alias}",
            "Sid": sid,
        }
        total += len(json.dumps(statement, separators=(",", ":"))) + 1  # and its comma
    return total


def policy_bytes(
    assignment: Mapping[str, str], accounts: Accounts, function: str
) -> dict[str, int]:
    """Each alias's projected resource-policy size, by alias."""
    sizes: dict[str, int] = {}
    for account, alias in assignment.items():
        if account in accounts:
            grown = sizes.get(alias, _ENVELOPE - 1) + statements(
                account, accounts[account], alias, function
            )
            sizes[alias] = grown
    return sizes


def load(directory: Path) -> tuple[dict[str, str], list[Problem]]:
    """The assignment in ``directory``; problems naming the file when it is not one."""
    path = directory / ALIASES_FILE
    display = str(path)
    if not path.exists():
        return {}, []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {}, [Problem(display, "(document)", f"is not a JSON object: {exc}")]
    if not isinstance(data, dict):
        return {}, [Problem(display, "(document)", "must map account ids to aliases")]
    problems = [
        Problem(display, str(account), "must map a 12-digit account id to an alias shard-NNN")
        for account, alias in data.items()
        if not (re.fullmatch(r"[0-9]{12}", str(account)) and _ALIAS_RE.match(str(alias)))
    ]
    return ({} if problems else {str(k): str(v) for k, v in data.items()}), problems


def assign(
    current: Mapping[str, str],
    accounts: Accounts,
    *,
    alias_count: int = DEFAULT_ALIAS_COUNT,
    function: str = LONGEST_FUNCTION,
) -> dict[str, str]:
    """The new assignment: bound accounts keep theirs, unbound ones leave, new ones join.

    Raises ValueError when no alias has room for an account (raise ``alias_count``).
    """
    kept = {a: alias for a, alias in current.items() if a in accounts}
    sizes = policy_bytes(kept, accounts, function)
    for account in sorted(set(accounts) - set(kept)):
        start = int(first_choice(account, alias_count)[len("shard-") :])
        for step in range(alias_count):
            alias = alias_name((start + step) % alias_count)
            grown = sizes.get(alias, _ENVELOPE - 1) + statements(
                account, accounts[account], alias, function
            )
            if grown <= POLICY_LIMIT - HEADROOM:
                kept[account], sizes[alias] = alias, grown
                break
        else:
            raise ValueError(
                f"no alias of {alias_count} has room for account {account}: raise "
                "alias_count in terraform/platform, apply it, and assign again with "
                "--alias-count"
            )
    return dict(sorted(kept.items()))


def problems(
    assignment: Mapping[str, str],
    accounts: Accounts,
    files: Mapping[str, str],
    *,
    directory: Path,
    alias_count: int = DEFAULT_ALIAS_COUNT,
    function: str = LONGEST_FUNCTION,
) -> list[Problem]:
    """Accounts without an alias, aliases past ``alias_count``, policies over the limit.

    ``files`` names the tenant file (and field) that binds each account.
    """
    display = str(directory / ALIASES_FILE)
    fix = f"run .venv/bin/tenant-authz aliases {directory}"
    out = [
        Problem(files[a], "bindings", f"account {a} has no alias in {display}: {fix}")
        for a in sorted(set(accounts) - set(assignment))
    ]
    for account, alias in sorted(assignment.items()):
        match = _ALIAS_RE.match(alias)
        if account in accounts and match and int(match[1]) >= alias_count:
            out.append(
                Problem(
                    display,
                    account,
                    f"{alias} is past the platform's {alias_count} aliases: raise alias_count "
                    "(terraform/platform) or run tenant-authz aliases --alias-count",
                )
            )
    for alias, size in sorted(policy_bytes(assignment, accounts, function).items()):
        if size > POLICY_LIMIT:
            out.append(
                Problem(
                    display,
                    alias,
                    f"its resource policy would be {size} bytes, over Lambda's {POLICY_LIMIT}: "
                    f"move one of its accounts to another alias in {ALIASES_FILE} (the tenant "
                    "must then change its authorizer ARN)",
                )
            )
    return out
