"""``trialbook run --executor slurm`` from the command line, on the real test cluster
(tests/conftest.py ``slurm_cluster``): the same table as local, --detach then ls, cancel."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Cli

import trialbook

TASKS = """
import random, time
from pathlib import Path


def train(config, run):
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    if config.get("seed") == config.get("fail_on_seed"):
        raise ValueError(f"seed {config['seed']} diverged")
    return {"eval_accuracy": round(random.random(), 6)}


def sleepy(config, run):
    Path("sleepy-started").touch()
    time.sleep(120)
"""

CONFIG = """
experiment:
  name: exp
  entrypoint: tasks:train
  slurm: {partition: debug, time: 5}
seed: 1
fail_on_seed: null
"""


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slurm_cluster: Any) -> Path:
    del slurm_cluster
    monkeypatch.chdir(tmp_path)
    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRIALBOOK_SYSTEM_METRICS", "0")
    monkeypatch.setenv("TRIALBOOK_FLUSH_INTERVAL", "0.05")
    (tmp_path / "tasks.py").write_text(textwrap.dedent(TASKS))
    (tmp_path / "exp.yaml").write_text(textwrap.dedent(CONFIG))
    return tmp_path


@pytest.fixture
def cli() -> Cli:
    return Cli()


def _ls(cli: Cli, root: Path) -> list[dict[str, Any]]:
    result = cli("ls", "--json", "--root", root)
    assert result.exit_code == 0, result.stderr
    listed: list[dict[str, Any]] = json.loads(result.stdout)
    return listed


def _table(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (r["seed"], r["status"], (r.get("metrics") or {}).get("eval_accuracy")) for r in rows
    )


def test_slurm_gives_the_same_runs_statuses_and_metrics_as_local(cli: Cli, cwd: Path) -> None:
    args = ["run", "exp.yaml", "--seeds", "1", "2", "3", "fail_on_seed=2"]
    local = cli(*args, "--root", cwd / "local")
    on_slurm = cli(*args, "--root", cwd / "slurm", "--executor", "slurm", "--jobs", "3")
    assert local.exit_code == on_slurm.exit_code == 1, on_slurm.stdout + on_slurm.stderr
    assert "3 run(s): 2 completed, 1 failed" in on_slurm.stdout
    assert _table(_ls(cli, cwd / "slurm")) == _table(_ls(cli, cwd / "local"))


def test_detach_returns_at_once_and_ls_picks_up_the_outcomes(cli: Cli, cwd: Path) -> None:
    root = cwd / "experiments"
    result = cli("run", "exp.yaml", "--seeds", "1", "2", "--executor", "slurm", "--detach")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "2 still queued" in result.stdout and "Detached" in result.stdout
    deadline = time.monotonic() + 90
    while {r["status"] for r in _ls(cli, root)} != {"completed"}:
        assert time.monotonic() < deadline, _ls(cli, root)
        time.sleep(0.5)
    again = cli("run", "exp.yaml", "--seeds", "1", "2", "--executor", "slurm")
    assert again.exit_code == 0 and "2 skipped" in again.stdout


def test_cancel_scancels_a_detached_run_and_marks_it_killed(cli: Cli, cwd: Path) -> None:
    root = cwd / "experiments"
    result = cli(
        "run", "exp.yaml", "experiment.entrypoint=tasks:sleepy", "--executor", "slurm", "--detach"
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    [run] = _ls(cli, root)
    cancelled = cli("cancel", run["id"], "--root", root)
    assert cancelled.exit_code == 0, cancelled.stderr
    assert "cancelled Slurm job" in cancelled.stdout
    with trialbook.open_store(root) as db:
        after = db.get_run(run["id"])
    assert after.status == "killed" and "trialbook cancel" in (after.error or "")
    deadline = time.monotonic() + 60
    while subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout.strip():
        assert time.monotonic() < deadline, "the job stayed in the queue"
        time.sleep(0.2)
    assert "already killed" in cli("cancel", run["id"], "--root", root).stdout
