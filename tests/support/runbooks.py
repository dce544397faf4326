"""The runbooks' commands, as the tests walk them: each fenced ``sh`` block of a page.

A block runs with bash (``-euo pipefail``) from the directory the page names, with the
variables the page asks the reader to set passed in the environment, exactly as pasted.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO / "docs" / "runbooks"


def blocks(page: str) -> list[str]:
    """The commands of ``docs/runbooks/<page>``: its fenced ``sh`` blocks, in order."""
    text = (RUNBOOKS / page).read_text(encoding="utf-8")
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def run(
    block: str, cwd: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run one block as pasted into a shell at ``cwd``; output captured, exit not checked."""
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
