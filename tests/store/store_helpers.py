"""Helpers shared by the store tests: the CLI in a fresh process, and its one-line errors; a
run to log points into, and how to read the metric blocks back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any


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


#: The run ``add_run`` makes by default (the ``pg`` and ``lite`` fixtures hold it).
RUN = "20260101_120000_aaaaaa"
#: Every metric block with its metric's name, in a stable order.
BLOCKS_SELECT = (
    'SELECT k.name, b.block, b.first_step, b.last_step, b."min", b."max", b."count", b."last", '
    "b.last_time FROM metric_blocks b JOIN metric_keys k ON k.id = b.key_id "
    "ORDER BY k.name, b.block"
)
#: A batch of points, as ``Store.log_metric_columns`` takes it.
Batch = dict[str, tuple[list[int], list[float], list[float]]]


def add_run(store: Any, run_id: str = RUN) -> None:
    """Create a run to log points into."""
    from trialbook.store import NewRun

    store.create_run(
        NewRun(id=run_id, experiment="e", name=run_id[-6:], config={}, config_hash="h",
               group_key="g", started_at=1000.0)
    )  # fmt: skip


def log_calls(writer: Any, steps: range) -> None:
    """What ``run.log({"loss": ...}, step=i)`` hands a run's writer, for each step."""
    from trialbook.tracking._writer import STEP_KEY, TIME_KEY

    for i in steps:
        writer.buffer.append({"loss": i * 0.5, STEP_KEY: i, TIME_KEY: 1000.0 + i * 1e-3})


def kill_other_connections(store: Any) -> int:
    """Terminate every other connection to the store's PostgreSQL database (as a server
    restart would); returns how many."""
    from sqlalchemy import text

    with store.engine.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    return int(killed)
