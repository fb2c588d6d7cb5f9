"""Later runners adopting the jobs of a detached (or gone) runner on the real test Slurm
cluster, with the workspace's SQLite index and with PostgreSQL (``index_store``): each job
is followed, and its outcome recorded, by exactly one runner; a runner on another host is
judged by its heartbeat: one that still beats there keeps its job, one that stopped (before
the later runners started, or while they wait) loses it to one of them. The other hosts
are rows written with another host name."""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from runner_helpers import Workspace, plan, planned, wait_until
from sqlalchemy import text

from trialbook.execution._progress import ProgressReporter
from trialbook.execution._runner import PlanDecision, read_job_record, write_job_record
from trialbook.execution._slurm import SlurmExecutor
from trialbook.store import SQLStore


@pytest.fixture(autouse=True)
def _cluster(slurm_cluster: Any) -> None:
    del slurm_cluster


def _slurm(ws: Workspace) -> SlurmExecutor:
    return SlurmExecutor(2, grace=3.0, folder=ws.root / ".slurm")


class _Decided(ProgressReporter):
    """Sets ``decided`` when its Runner has decided about every planned run."""

    def __init__(self) -> None:
        self.decided = threading.Event()

    def start(self, decisions: Sequence[PlanDecision], jobs: int) -> None:
        self.decided.set()


def _held_elsewhere(db: SQLStore, run_id: str, folder: str, host: str, age: float) -> None:
    """Make ``run_id``'s job look held by a runner on ``host`` that last beat ``age``
    seconds ago (by the Store's clock), and say so in its job.json."""
    db.hold_jobs([run_id], host=host, pid=4242, pid_started_at=None)
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE job_holders SET heartbeat_at = :at WHERE run_id = :id"),
            {"at": db.now() - age, "id": run_id},
        )
    job = read_job_record(folder)
    assert job is not None
    write_job_record(folder, {**job, "runner_host": host, "runner_pid": 4242, "detached": False})


def test_two_later_runners_adopt_each_left_job_once(ws: Workspace, index_store: str | None) -> None:
    del index_store  # the runs' store: SQLite, then PostgreSQL
    (ws.cwd / "release").unlink(missing_ok=True)
    # Two CPUs: "left" and "dead" run (and wait for the release file), "kept" pends.
    sweep = [
        planned("gate", name="left", index=1, block_from=0),
        planned("gate", name="dead", index=2, block_from=0),
        planned("gate", name="kept", index=3, block_from=0),
    ]
    with _slurm(ws) as executor:
        ws.runner(executor=executor, detach=True).run(plan(*sweep))
    wait_until(lambda: (ws.cwd / "blocked-1").exists(), "the first element to start", 60)
    wait_until(lambda: (ws.cwd / "blocked-2").exists(), "the second element to start", 60)
    with ws.store() as db:
        assert isinstance(db, SQLStore)
        runs = {r.name: r for r in db.list_runs()}
        grace = db.liveness.grace
        # "dead": its runner died on another host; "kept": its runner there still beats.
        _held_elsewhere(db, runs["dead"].id, runs["dead"].folder or "", "gpu-7", grace + 30)
        _held_elsewhere(db, runs["kept"].id, runs["kept"].folder or "", "gpu-8", 0.0)

    decided = [_Decided(), _Decided()]
    runners = [ws.runner(executor=_slurm(ws), progress=d) for d in decided]
    results: list[Any] = [None, None]
    start = threading.Barrier(2)

    def run(i: int) -> None:
        start.wait(30)
        results[i] = runners[i].run(plan(*sweep))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    try:
        for d in decided:  # both have decided about every run, adopting or waiting
            assert d.decided.wait(60), "a runner never started"
        with ws.store() as db:
            assert isinstance(db, SQLStore)
            # The runner on gpu-8 still beats: neither took its (pending) job.
            assert db.job_holders([runs["kept"].id])[runs["kept"].id].host == "gpu-8"
            # Now it dies there: after the grace, one of the two waiting runners adopts it.
            _held_elsewhere(db, runs["kept"].id, runs["kept"].folder or "", "gpu-8", grace + 30)

            def kept_adopted() -> bool:
                return db.job_holders([runs["kept"].id])[runs["kept"].id].host != "gpu-8"

            wait_until(kept_adopted, "a waiting runner to adopt the dead runner's job", 30)
    finally:
        (ws.cwd / "release").touch()
        for thread in threads:
            thread.join(120)
        for runner in runners:
            runner.executor.close()

    by_name = [{o.name: o for o in result.outcomes} for result in results]
    for name in ("left", "dead", "kept"):
        own = [r[name] for r in by_name if not r[name].by_another_runner]
        assert len(own) == 1, f"{name}: {[r[name] for r in by_name]}"
        assert (own[0].status, own[0].run_id, own[0].attempts) == ("completed", runs[name].id, 1)
    with ws.store() as db:
        after = {r.name: r for r in db.list_runs()}
        holders = db.job_holders([r.id for r in after.values()])
    assert {n: r.status for n, r in after.items()} == dict.fromkeys(
        ("left", "dead", "kept"), "completed"
    )
    assert {holders[r.id].host for r in after.values()} == {socket.gethostname()}
