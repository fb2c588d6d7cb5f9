"""Helpers shared by the store tests: the CLI in a fresh process, and its one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cli(cwd: Path, *args: str | Path, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """`trialbook ARGS` in a fresh process; ``prelude`` runs first (e.g. to hide a module)."""
    env = {**os.environ, "TRIALBOOK_SYSTEM_METRICS": "0"}
    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE", "TRIALBOOK_RUN_ID"):
        env.pop(name, None)
    code = (
        f"{prelude}\nimport sys\nfrom trialbook.cli import main\nsys.argv[0] = 'trialbook'\nmain()"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *(str(a) for a in args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_error_line(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 2, no traceback, one line on stderr naming every fragment; returns that line."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]
