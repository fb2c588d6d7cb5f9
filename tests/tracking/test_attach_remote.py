"""A run claimed by a Runner is taken over by the process the Runner launched through a remote
executor (Ray, Slurm), which is not the Runner's descendant: by the Runner's host and pid in
the environment, and by nothing else."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_attach import _queue

import trialbook
from trialbook.tracking._settings import RUN_ID_ENV, RUNNER_HOST_ENV, RUNNER_PID_ENV

FAST = {"system_metrics": False, "capture_packages": False}
CONFIG = {"experiment": {"name": "exp"}, "lr": 0.1, "seed": 7}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in (RUN_ID_ENV, RUNNER_HOST_ENV, RUNNER_PID_ENV, "TRIALBOOK_ROOT", "TRIALBOOK_STORE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def runner() -> Any:
    """A live process standing in for the Runner that claimed the run: not our parent."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def _claimed(root: Path, pid: int, host: str) -> str:
    """A run the Runner (``pid`` on ``host``) moved from queued to running."""
    run_id = _queue(root, CONFIG)
    with trialbook.open_store(root) as db:
        assert db.claim_queued_run(run_id, host=host, pid=pid, pid_started_at=None, at=time.time())
    return run_id


def test_the_process_a_remote_executor_launched_takes_the_run_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runner: Any
) -> None:
    host = socket.gethostname()
    run_id = _claimed(tmp_path, runner.pid, host)
    monkeypatch.setenv(RUN_ID_ENV, run_id)
    monkeypatch.setenv(RUNNER_PID_ENV, str(runner.pid))
    monkeypatch.setenv(RUNNER_HOST_ENV, host)
    with trialbook.start_run("exp", root=tmp_path, **FAST) as run:
        assert run.id == run_id
        run.log({"loss": 0.5}, step=1)
    with trialbook.open_store(tmp_path) as db:
        rec = db.get_run(run_id)
        assert rec.status == "completed"
        assert rec.pid not in (None, runner.pid)  # this process's pid replaced the runner's
        assert list(db.metric_history(run_id, "loss").values) == [0.5]


@pytest.mark.parametrize(
    ("pid_of", "host"),
    [
        ("other", "this"),  # another runner on this host claimed it
        ("runner", "elsewhere"),  # same pid, but a runner on another machine
    ],
)
def test_a_run_claimed_by_another_runner_is_not_taken_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runner: Any, pid_of: str, host: str
) -> None:
    this = socket.gethostname()
    run_id = _claimed(tmp_path, runner.pid, this if host == "this" else "gpu-node-7")
    monkeypatch.setenv(RUN_ID_ENV, run_id)
    claimed_pid = runner.pid if pid_of == "runner" else runner.pid + 1
    monkeypatch.setenv(RUNNER_PID_ENV, str(claimed_pid if pid_of == "other" else runner.pid))
    monkeypatch.setenv(RUNNER_HOST_ENV, this)
    with (
        pytest.warns(UserWarning, match="is running in process"),
        trialbook.start_run("exp", root=tmp_path, **FAST) as run,
    ):
        assert run.id != run_id  # a new run of its own; the claimed one is left alone
    with trialbook.open_store(tmp_path) as db:
        assert db.get_run(run_id).status == "running"
