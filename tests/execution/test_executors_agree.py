"""One suite of the demo, run with ``--executor local``, ``ray`` and ``slurm``, into a SQLite
workspace and into a PostgreSQL store, gives the same runs, statuses and (seeded) metrics: where
a run executes and where it is recorded change nothing about what it computes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import trialbook
from trialbook.testing.stores import new_postgres_database

REPO = Path(__file__).resolve().parents[2]
TINY = ("--seeds", "1", "2", "--train-size", "300", "--test-size", "200", "--epochs", "3")

Finals = dict[tuple[str, int | None], tuple[str, dict[str, float]]]


def _run(root: Path, store: str | None, executor: tuple[str, ...]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOOK_")}
    env["TRIALBOOK_SYSTEM_METRICS"] = "0"
    where = ("--root", str(root), *(("--store", store) if store else ()))
    command = ("run", "examples/demo/suite.yaml", *TINY, "--jobs", "2", *where, *executor)
    proc = subprocess.run(
        [sys.executable, "-m", "trialbook", *command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (executor, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr


def _finals(root: Path, store: str | None) -> Finals:
    with trialbook.open_store(root, store) as db:
        runs = db.list_runs()
        summaries = db.metric_summaries([r.id for r in runs])
    return {
        (r.name, r.seed): (
            r.status,
            {k: s.last for k, s in summaries.get(r.id, {}).items() if not k.startswith("system/")},
        )
        for r in runs
    }


@pytest.mark.slow
@pytest.mark.parametrize("index", ["sqlite", "postgresql"])
def test_the_demo_suite_gives_the_same_runs_on_every_executor_and_store(
    index: str,
    tmp_path: Path,
    ray_cluster: str,
    slurm_cluster: Any,
    request: pytest.FixtureRequest,
) -> None:
    server = request.getfixturevalue("postgres_server") if index == "postgresql" else None
    executors = {
        "local": (),
        "ray": ("--executor", "ray", "--address", ray_cluster),
        "slurm": ("--executor", "slurm"),
    }
    results: dict[str, Finals] = {}
    for name, options in executors.items():
        root = tmp_path / name  # on this one machine, the "shared filesystem" Slurm needs
        store = new_postgres_database(server) if server else None
        _run(root, store, options)
        results[name] = _finals(root, store)

    local = results["local"]
    assert len(local) == 4  # bow and bigrams, seeds 1 and 2
    assert {status for status, _ in local.values()} == {"completed"}
    assert all("test_accuracy" in metrics for _, metrics in local.values())
    assert results["ray"] == local
    assert results["slurm"] == local
