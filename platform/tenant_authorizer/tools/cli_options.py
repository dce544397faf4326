"""Options the platform team's commands share, so each says the same thing the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import click

# Where the commands look for tenant files when not told: the repository's samples.
DEFAULT_CONFIGS: Final = Path("tenant_configs")

tenant_directory = click.argument(
    "directory",
    required=False,
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_CONFIGS,
)

# The platform's index layout (terraform/platform tenant_groups and index_shard_count), for
# the commands that name a tenant's workspace. A platform with other values exports them
# once, as it does its function name and prefix.
tenant_groups = click.option(
    "--groups",
    type=click.IntRange(1, 9),
    default=8,
    show_default=True,
    envvar="TENANT_AUTHZ_TENANT_GROUPS",
    show_envvar=True,
    help="Tenant groups of the platform (terraform/platform tenant_groups).",
)
index_shards = click.option(
    "--shard-count",
    type=click.IntRange(1, 256),
    default=128,
    show_default=True,
    envvar="TENANT_AUTHZ_INDEX_SHARDS",
    show_envvar=True,
    help="Index shards of the platform (terraform/platform index_shard_count).",
)
