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
