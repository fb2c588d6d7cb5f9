"""Attach mode: with TRIALBOOK_RUN_ID set, start_run tracks into the Runner's queued run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import trialbook
from trialbook.config import config_hash, flatten_config, group_key
from trialbook.store import NewRun
from trialbook.tracking._attach import config_differences
from trialbook.tracking._create import new_run_id
from trialbook.tracking._folder import RunFolder, folder_name
from trialbook.tracking._settings import RUN_ID_ENV

FAST = {"system_metrics": False, "capture_packages": False}
CONFIG = {"experiment": {"name": "exp"}, "lr": 0.1, "model": {"layers": 2}, "seed": 7}

#: Each test twice: into the workspace's SQLite file and into a PostgreSQL database.
pytestmark = pytest.mark.usefixtures("index_store")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in (RUN_ID_ENV, "TRIALBOOK_ROOT", "TRIALBOOK_STORE"):
        monkeypatch.delenv(name, raising=False)


def _queue(root: Path, config: dict[str, Any] = CONFIG) -> str:
    """A queued run with its folder and config.yaml, as the Runner leaves it."""
    run_id = new_run_id()
    folder = RunFolder(root / folder_name("exp", run_id.rsplit("_", 1)[-1]))
    with trialbook.open_store(root, create=True) as db:
        folder.create()
        folder.write_config(config)
        db.create_run(
            NewRun(
                id=run_id,
                experiment="exp",
                name="exp",
                config=config,
                config_hash=config_hash(config),
                group_key=group_key(config),
                status="queued",
                seed=config.get("seed"),
                folder=str(folder.path),
                params=flatten_config(config),
            )
        )
    return run_id


def test_start_run_attaches_to_the_queued_run(tmp_path: Path, monkeypatch: Any) -> None:
    run_id = _queue(tmp_path)
    monkeypatch.setenv(RUN_ID_ENV, run_id)
    with trialbook.start_run(root=tmp_path, **FAST) as run:
        assert run.id == run_id
        assert RUN_ID_ENV not in os.environ  # consumed: nested runs are runs of their own
        with trialbook.open_store(tmp_path) as db:
            live = db.get_run(run_id)
        assert live.status == "running" and live.pid == os.getpid()
        assert live.started_at is not None and live.host
        run.log({"loss": 0.5}, step=0)
    with trialbook.open_store(tmp_path) as db:
        runs = db.list_runs()
        assert [r.id for r in runs] == [run_id]
        assert runs[0].status == "completed"
        assert runs[0].config == CONFIG
    folder = Path(runs[0].folder or "")
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["run_id"] == run_id and meta["pid"] == os.getpid() and meta["seed"] == 7
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["metrics"] == {"loss": 0.5}


def test_a_second_start_run_in_the_same_process_creates_a_new_run(
    tmp_path: Path, monkeypatch: Any
) -> None:
    run_id = _queue(tmp_path)
    monkeypatch.setenv(RUN_ID_ENV, run_id)
    with (
        trialbook.start_run(root=tmp_path, **FAST) as first,
        trialbook.start_run("inner", root=tmp_path, **FAST) as second,
    ):
        assert first.id == run_id and second.id != first.id
    with trialbook.open_store(tmp_path) as db:
        assert len(db.list_runs()) == 2


def test_script_config_is_kept_as_params_and_conflicts_warn(
    tmp_path: Path, monkeypatch: Any
) -> None:
    run_id = _queue(tmp_path)
    monkeypatch.setenv(RUN_ID_ENV, run_id)
    script_config = {**CONFIG, "lr": 0.5, "batch": 16}
    with (
        pytest.warns(UserWarning, match=r"differs .* in lr; the run keeps"),
        trialbook.start_run(config=script_config, root=tmp_path, tags=["mine"], **FAST) as run,
    ):
        pass
    with trialbook.open_store(tmp_path) as db:
        rec = db.get_run(run.id)
        params = db.params(run.id)
    assert rec.config == CONFIG  # the Runner's config.yaml stays the record
    assert params["lr"] == 0.1 and params["script.lr"] == 0.5 and params["batch"] == 16
    assert rec.tags == ("mine",)


def test_identical_script_config_attaches_silently(
    tmp_path: Path, monkeypatch: Any, recwarn: pytest.WarningsRecorder
) -> None:
    run_id = _queue(tmp_path)
    monkeypatch.setenv(RUN_ID_ENV, run_id)
    with trialbook.start_run(config=dict(CONFIG), seed=7, root=tmp_path, **FAST) as run:
        assert run.id == run_id
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize("problem", ["finished", "unknown", "other-workspace"])
def test_unattachable_run_warns_and_starts_a_new_run(
    problem: str, tmp_path: Path, monkeypatch: Any
) -> None:
    run_id = _queue(tmp_path)
    root = tmp_path
    if problem == "finished":
        with trialbook.open_store(tmp_path) as db:
            db.finish_run(run_id, "completed", 1.0, 1.0)
    elif problem == "unknown":
        run_id = new_run_id()
    else:
        root = tmp_path / "elsewhere"
        # Another workspace has its own index (not the PostgreSQL one index_store shares).
        monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    monkeypatch.setenv(RUN_ID_ENV, run_id)
    with (
        pytest.warns(UserWarning, match="starting a new run instead"),
        trialbook.start_run("e", root=root, **FAST) as run,
    ):
        assert run.id != run_id
    with trialbook.open_store(root) as db:
        assert db.get_run(run.id).status == "completed"


def test_tracker_api_attaches_too(tmp_path: Path, monkeypatch: Any) -> None:
    run_id = _queue(tmp_path)
    monkeypatch.setenv(RUN_ID_ENV, run_id)
    tracker = trialbook.ExperimentTracker(root=tmp_path)
    assert tracker.start_experiment(notes="from tracker", system_metrics=False) == run_id
    tracker.log_metrics({"acc": 0.9}, 0)
    tracker.finish_experiment()
    with trialbook.open_store(tmp_path) as db:
        rec = db.get_run(run_id)
    assert rec.status == "completed" and rec.notes == "from tracker"


def test_script_process_attaches_and_a_crash_is_failed_with_traceback(tmp_path: Path) -> None:
    run_id = _queue(tmp_path)
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import trialbook
            with trialbook.start_run(system_metrics=False, capture_packages=False) as run:
                run.log({"loss": 1.0})
                raise ValueError("boom")
            """
        )
    )
    env = {**os.environ, RUN_ID_ENV: run_id, "TRIALBOOK_ROOT": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and "ValueError: boom" in proc.stderr
    with trialbook.open_store(tmp_path) as db:
        runs = db.list_runs()
    assert [r.id for r in runs] == [run_id]
    assert runs[0].status == "failed" and "ValueError: boom" in (runs[0].error or "")


def test_a_run_running_in_another_process_is_not_attached_to(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import socket

    run_id = _queue(tmp_path)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with trialbook.open_store(tmp_path) as db:
            db.update_run(run_id, status="running", pid=sleeper.pid, host=socket.gethostname())
        monkeypatch.setenv(RUN_ID_ENV, run_id)
        with (
            pytest.warns(UserWarning, match=f"is running in process {sleeper.pid}"),
            trialbook.start_run("e", root=tmp_path, **FAST) as run,
        ):
            assert run.id != run_id
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_child_of_the_claiming_process_may_attach(tmp_path: Path) -> None:
    """A wrapper (the Runner's child exec'd into `sh -c ...`) starts the script that attaches."""
    run_id = _queue(tmp_path)
    script = tmp_path / "train.py"
    script.write_text(
        "import trialbook\n"
        "with trialbook.start_run(system_metrics=False, capture_packages=False) as run:\n"
        "    print(run.id)\n"
    )
    claim = (
        "import os, sys, trialbook\n"
        "from trialbook._workspace import Workspace\n"
        "from trialbook.tracking._attach import claim_run\n"
        "ws = Workspace.resolve()\n"
        "with ws.open_store() as db:\n"
        "    claim_run(db, ws, os.environ['TRIALBOOK_RUN_ID'], capture_packages=False)\n"
        "import subprocess\n"
        "sys.exit(subprocess.call([sys.executable, sys.argv[1]]))\n"
    )
    env = {**os.environ, RUN_ID_ENV: run_id, "TRIALBOOK_ROOT": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", claim, str(script)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == run_id
    with trialbook.open_store(tmp_path) as db:
        assert [r.id for r in db.list_runs()] == [run_id]


def test_a_second_sigterm_does_not_interrupt_finishing(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, signal, time, trialbook
            run = trialbook.start_run("e", system_metrics=False, capture_packages=False)
            finish = run.finish

            def finish_under_fire(*args, **kwargs):
                os.kill(os.getpid(), signal.SIGTERM)  # arrives while the run is finishing
                time.sleep(0.05)
                finish(*args, **kwargs)

            run.finish = finish_under_fire
            with run:
                print(run.id, flush=True)
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(30)
            """
        )
    )
    env = {**os.environ, "TRIALBOOK_ROOT": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
    assert proc.returncode == 143, proc.stderr
    with trialbook.open_store(tmp_path) as db:
        rec = db.get_run(proc.stdout.strip())
    assert rec.status == "killed"


@pytest.mark.parametrize(
    ("runner", "script", "conflict"),
    [(1, True, True), (1, 1.0, False), (True, 1, True), (0.5, 0.5, False), ("1", 1, True)],
)
def test_config_differences_use_the_config_hash_rule(
    runner: Any, script: Any, conflict: bool
) -> None:
    extra, conflicting = config_differences({"lr": runner}, {"lr": script, "new": 2})
    assert extra == {"new": 2}
    assert conflicting == ({"lr": script} if conflict else {})
    nan = float("nan")
    assert config_differences({"lr": nan}, {"lr": nan}) == ({}, {})


def test_a_boolean_over_an_integer_setting_warns_when_attaching(
    tmp_path: Path, monkeypatch: Any, recwarn: pytest.WarningsRecorder
) -> None:
    queued = {**CONFIG, "lr": 1}
    monkeypatch.setenv(RUN_ID_ENV, _queue(tmp_path, queued))
    with (
        pytest.warns(UserWarning, match=r"differs .* in lr; the run keeps"),
        trialbook.start_run(config={**queued, "lr": True}, root=tmp_path, **FAST) as run,
    ):
        pass
    with trialbook.open_store(tmp_path) as db:
        assert db.params(run.id)["script.lr"] is True
    monkeypatch.setenv(RUN_ID_ENV, _queue(tmp_path, queued))
    recwarn.clear()
    with trialbook.start_run(config={**queued, "lr": 1.0}, root=tmp_path, **FAST):
        pass
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]
