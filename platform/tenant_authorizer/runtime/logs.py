"""The standard ``logging`` module for the rare operational line, imported only then.

Importing ``logging`` (with ``traceback`` and ``textwrap``) costs about 4 ms of a cold
start that no warm instance needs: key fetches and skipped JWKS entries log, decisions
never do (they write their one telemetry line).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging


def logger(name: str) -> logging.Logger:
    """The logger called ``name``, importing ``logging`` on first use."""
    import logging  # noqa: PLC0415  (lazy on purpose, see the module docstring)

    return logging.getLogger(name)
