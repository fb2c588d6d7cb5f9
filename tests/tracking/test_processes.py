"""A Run used in other processes: forked and spawned ``multiprocessing`` children and torch
DataLoader workers log through it, their points are stored, and only the process that opened
the run finishes it.

Each scenario is a real script run in a fresh interpreter (spawned children import it as
``__main__``), then the workspace is read back.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import trialbook
from trialbook.errors import RunStateError

#: Each test twice: into the workspace's SQLite file and into a PostgreSQL database.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("index_store")]

SCRIPT = textwrap.dedent(
    """
    import multiprocessing as mp
    import os
    import sys

    import trialbook

    mode, root = sys.argv[1], sys.argv[2]


    def child(run, index):
        for i in range(100):
            run.log({f"child{index}": float(i)}, step=i)


    class Logged:
        # A dataset whose items are logged through the run, from whichever process loads them.
        def __init__(self, run, n):
            self.run, self.n = run, n

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            self.run.log({"item": float(i), "pid": float(os.getpid())}, step=i)
            return i


    def main():
        with trialbook.start_run(
            "procs", root=root, system_metrics=False, capture_packages=False,
            flush_interval=0.01 if mode == "manyforks" else 0.05,
        ) as run:
            print(run.id, flush=True)
            run.log({"parent": 1.0}, step=0)
            if mode in ("fork", "spawn"):
                ctx = mp.get_context(mode)
                procs = [ctx.Process(target=child, args=(run, k)) for k in range(2)]
                for p in procs:
                    p.start()
                for p in procs:
                    p.join()
                    assert p.exitcode == 0, p.exitcode
                # The children did not finish the run.
                assert trialbook.open_store(root).get_run(run.id).status == "running"
            elif mode.startswith("loader"):
                import torch.utils.data

                context = mode.split("-")[1]
                loader = torch.utils.data.DataLoader(
                    Logged(run, 64), batch_size=4, num_workers=2,
                    multiprocessing_context=context,
                )
                seen = sorted(int(i) for batch in loader for i in batch)
                assert seen == list(range(64))
            elif mode == "manyforks":
                # Forks while the writer is busy flushing: no child may hang in the database.
                ctx = mp.get_context("fork")
                for k in range(20):
                    for i in range(3000):
                        run.log({"busy": float(i)}, step=k * 3000 + i)
                    p = ctx.Process(target=child, args=(run, k))
                    p.start()
                    p.join(60)
                    assert p.exitcode == 0, (k, p.exitcode)
            elif mode == "osfork":
                pid = os.fork()
                if pid == 0:
                    child(run, 0)
                    sys.exit(0)  # a normal exit: atexit hooks run in this child
                _, status = os.waitpid(pid, 0)
                assert os.waitstatus_to_exitcode(status) == 0
                assert trialbook.open_store(root).get_run(run.id).status == "running"
                run.log({"parent": 2.0}, step=1)


    if __name__ == "__main__":
        main()
    """
)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "procs.py"
    path.write_text(SCRIPT)
    return path


def _run(script: Path, mode: str, root: Path) -> str:
    env = {**os.environ, "TRIALBOOK_SYSTEM_METRICS": "0"}
    proc = subprocess.run(
        [sys.executable, str(script), mode, str(root)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=script.parent,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout.split()[0]


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_multiprocessing_children_log_into_the_run(script: Path, tmp_path: Path, mode: str) -> None:
    root = tmp_path / "ws"
    run_id = _run(script, mode, root)
    store = trialbook.open_store(root)
    run = store.get_run(run_id)
    assert run.status == "completed"
    for key in ("child0", "child1"):
        history = store.metric_history(run_id, key)
        assert history.steps == tuple(range(100))
        assert history.values == tuple(float(i) for i in range(100))
    assert store.metric_history(run_id, "parent").values == (1.0,)
    summary = json.loads((Path(run.folder or "") / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["metrics"]["child1"] == 99.0
    assert len(store.list_runs()) == 1


def test_forks_made_while_the_writer_is_flushing_never_hang(script: Path, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    run_id = _run(script, "manyforks", root)
    store = trialbook.open_store(root)
    for k in range(20):
        assert store.metric_history(run_id, f"child{k}").steps == tuple(range(100))
    assert store.metric_history(run_id, "busy").steps == tuple(range(60_000))


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers_log_every_item(script: Path, tmp_path: Path, context: str) -> None:
    pytest.importorskip("torch")
    root = tmp_path / "ws"
    run_id = _run(script, f"loader-{context}", root)
    store = trialbook.open_store(root)
    assert store.get_run(run_id).status == "completed"
    items = store.metric_history(run_id, "item")
    assert sorted(items.steps) == list(range(64))
    pids = set(store.metric_history(run_id, "pid").values)
    assert len(pids) == 2  # both workers logged, none of it from the main process


def test_a_plain_fork_that_exits_normally_does_not_finish_the_run(
    script: Path, tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    run_id = _run(script, "osfork", root)
    store = trialbook.open_store(root)
    assert store.get_run(run_id).status == "completed"
    assert store.metric_history(run_id, "child0").steps == tuple(range(100))
    assert store.metric_history(run_id, "parent").values == (1.0, 2.0)


def test_a_pickled_run_refuses_to_log_once_the_run_has_finished(tmp_path: Path) -> None:
    run = trialbook.start_run("p", root=tmp_path, system_metrics=False, capture_packages=False)
    handle = pickle.loads(pickle.dumps(run))
    finished_copy_run = trialbook.start_run(
        "p", root=tmp_path, system_metrics=False, capture_packages=False
    )
    finished_copy_run.finish()
    finished_copy = pickle.loads(pickle.dumps(finished_copy_run))
    run.finish()
    with pytest.raises(RunStateError, match=r"is completed; another process can log"):
        handle.log({"x": 1.0})
    with pytest.raises(RunStateError, match="has finished"):
        finished_copy.log({"x": 1.0})
    assert trialbook.open_store(tmp_path).metric_summaries([run.id]).get(run.id, {}) == {}


def test_a_pickled_run_logs_through_its_own_connection(tmp_path: Path) -> None:
    with trialbook.start_run(
        "p", root=tmp_path, system_metrics=False, capture_packages=False
    ) as run:
        handle = pickle.loads(pickle.dumps(run))
        handle.log({"x": 1.0}, step=5)
        handle.finish()  # flushes this handle's points; the run stays open
        assert trialbook.open_store(tmp_path).get_run(run.id).status == "running"
        assert handle.config == run.config and handle.id == run.id
    store = trialbook.open_store(tmp_path)
    assert store.metric_history(run.id, "x").steps == (5,)
    assert store.get_run(run.id).status == "completed"
