"""A run claimed by a runner that died before its backend had the run's job.

With a queueing executor (Slurm) the Runner claims a run but leaves it ``queued`` until its
job starts (``Store.claim_queued_run(keep_queued=True)``). A runner killed between that claim
and the submission leaves a queued run with its pid and no job; a later runner releases the
claim (``Store.release_queued_claim``) and runs it, once. A claimer on another host is judged
by its heartbeat, which a live runner beats. With the local executor the claim makes the run
``running``, and crash detection has it.

The queueing backend here is :class:`LocalProcessesAsQueueingBackend`: local processes, but
the Runner treats them as a queueing backend's jobs (``queues = True``). Each test runs with
the workspace's SQLite index and with PostgreSQL (``index_store``); the other hosts are rows
written with another host name.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from runner_helpers import Workspace, plan, planned, wait_until

import trialbook
from trialbook.config._plan import PlannedRun
from trialbook.execution import LocalExecutor, RunOutcome
from trialbook.execution import _runner as runner_module
from trialbook.store._liveness import process_start_time


class LocalProcessesAsQueueingBackend(LocalExecutor):
    """Local processes that the Runner treats as jobs of a queueing backend: it claims their
    runs and leaves them ``queued`` until each process starts it, as it does for Slurm."""

    name = "local-queueing"
    queues = True


#: A runner whose executor never returns from submitting: the test kills it there, after
#: it claimed the run and before its backend had the job.
KILLED_RUNNER = """
import sys, time
from pathlib import Path

sys.path.insert(0, {tests!r})
from runner_helpers import plan, planned
from trialbook.execution import LocalExecutor, Runner


class SubmitNeverReturns(LocalExecutor):
    queues = {queues!r}

    def submit_many(self, tasks, on_output=None):
        Path("submitting").touch()
        time.sleep(600)
        raise SystemExit("the test did not kill this runner")


executor = SubmitNeverReturns(1, fork_server=False)
Runner(root="experiments", cwd=".", executor=executor, progress="quiet").run(
    plan(planned("ok", value=1))
)
"""


def _kill_after_claim(ws: Workspace, *, queues: bool) -> int:
    """Start a runner of ``planned("ok", value=1)`` in a process of its own, SIGKILL it once
    it has claimed the run and is submitting it, and return its pid."""
    script = ws.cwd / "killed_runner.py"
    tests = str(Path(__file__).parent)
    script.write_text(textwrap.dedent(KILLED_RUNNER.format(tests=tests, queues=queues)))
    proc = subprocess.Popen(
        [sys.executable, str(script)], cwd=ws.cwd, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_until(
            lambda: (ws.cwd / "submitting").exists() or proc.poll() is not None,
            "the first runner to claim its run and submit it",
            60,
        )
        assert proc.poll() is None, f"the first runner ended: {proc.communicate()[1]}"
    finally:
        proc.kill()  # SIGKILL: nothing of the runner's own clean-up runs
        proc.communicate()
    return proc.pid


def _run_in_threads(ws: Workspace, runners: int, *runs: PlannedRun) -> list[Any]:
    """Results of ``runners`` Runners (each with its own queueing backend) running the same
    plan at once in threads of this process."""
    results: list[Any] = [None] * runners
    errors: list[BaseException] = []
    start = threading.Barrier(runners)

    def run(i: int) -> None:
        try:
            with LocalProcessesAsQueueingBackend(1, fork_server=False) as executor:
                start.wait(30)
                results[i] = ws.runner(executor=executor).run(plan(*runs))
        except BaseException as e:  # reported in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert all(r is not None for r in results), "a runner did not return"
    return results


def _own(outcomes: list[RunOutcome]) -> list[RunOutcome]:
    return [o for o in outcomes if not o.by_another_runner]


def test_a_queued_run_whose_runner_was_killed_before_submitting_is_run_once_by_a_later_runner(
    ws: Workspace, index_store: str | None
) -> None:
    del index_store  # the runs' store: SQLite, then PostgreSQL
    dead = _kill_after_claim(ws, queues=True)
    with ws.store() as db:
        [left] = db.list_runs()
        # Claimed, still queued, no job: without the release it would wait forever.
        assert (left.status, left.host, left.pid) == ("queued", socket.gethostname(), dead)
        assert list(db.queued_claims([left.id])) == [left.id]
        assert db.job_holders([left.id]) == {}

    # Two later runners both find it; one releases the claim and runs it, the other waits.
    results = _run_in_threads(ws, 2, planned("ok", value=1))

    outcomes = [result.outcomes[0] for result in results]
    [own] = _own(outcomes)
    assert (own.status, own.run_id, own.attempts) == ("completed", left.id, 1)
    assert [(o.status, o.run_id) for o in outcomes if o.by_another_runner] == [
        ("completed", left.id)
    ]
    with ws.store() as db:
        [run] = db.list_runs()
        assert (run.id, run.status) == (left.id, "completed")
        assert db.queued_claims([run.id]) == {}
    stdout = (Path(run.folder or "") / "stdout.log").read_text()
    assert stdout.count("hello from 1") == 1, stdout


def test_a_local_runner_killed_after_claiming_leaves_a_crashed_run_that_the_next_runner_redoes(
    ws: Workspace,
) -> None:
    """The local executor's claim makes the run ``running`` under the runner's pid: the
    runner's death is a crash like any process's, and the next runner runs a new attempt."""
    dead = _kill_after_claim(ws, queues=False)
    with ws.store() as db:
        [left] = db.list_runs()  # read after the death: crash detection has marked it
        assert (left.status, left.pid) == ("crashed", dead)
        assert db.queued_claims([left.id]) == {}

    result = ws.runner().run(plan(planned("ok", value=1)))

    [outcome] = result.outcomes
    assert outcome.status == "completed" and outcome.run_id != left.id
    with ws.store() as db:
        assert {r.id: r.status for r in db.list_runs()} == {
            left.id: "crashed",
            outcome.run_id: "completed",
        }


def _queued_elsewhere(
    ws: Workspace,
    run: PlannedRun,
    host: str,
    age: float,
    pid: int = 4242,
    pid_started_at: float | None = None,
) -> str:
    """Queue ``run`` as a Runner does and claim it (kept queued) for process ``pid`` on
    ``host``, whose heartbeat is ``age`` seconds old by the Store's clock; its id."""
    with trialbook.open_store(ws.root, create=True) as db:
        record, _ = ws.runner()._queue(db, run, ())
        run_id = record.id
        assert db.claim_queued_run(
            run_id,
            host=host,
            pid=pid,
            pid_started_at=pid_started_at,
            at=db.now() - age,
            keep_queued=True,
        )
    return run_id


def test_a_claim_on_another_host_is_taken_over_only_once_its_heartbeat_is_older_than_the_grace(
    ws: Workspace, index_store: str | None
) -> None:
    """And on this host, a claim whose pid now belongs to another process (a reused pid:
    another start time) is taken over whatever its heartbeat."""
    del index_store
    with trialbook.open_store(ws.root, create=True) as db:
        grace = db.liveness.grace
    silent, beating = planned("ok", name="silent", value=1), planned("ok", name="beating", value=2)
    reused = planned("ok", name="reused", value=3)
    silent_id = _queued_elsewhere(ws, silent, "gpu-7", grace + 30)
    beating_id = _queued_elsewhere(ws, beating, "gpu-8", 0.0)
    born = process_start_time(os.getpid())
    assert born is not None
    reused_id = _queued_elsewhere(
        ws, reused, socket.gethostname(), 0.0, pid=os.getpid(), pid_started_at=born - 100
    )

    results: list[Any] = []
    with LocalProcessesAsQueueingBackend(1, fork_server=False) as executor:
        thread = threading.Thread(
            target=lambda: results.append(
                ws.runner(executor=executor).run(plan(silent, beating, reused))
            )
        )
        thread.start()
        try:
            with ws.store() as db:

                def taken_over() -> bool:
                    return {db.get_run(i).status for i in (silent_id, reused_id)} == {"completed"}

                wait_until(taken_over, "the runner to take over the silent and reused claims", 60)
                # Judged in the same looks as those: the claim that beat is kept.
                kept = db.queued_claims([beating_id])
                assert [(c.host, c.pid) for c in kept.values()] == [("gpu-8", 4242)]
                assert db.get_run(beating_id).status == "queued"
                # Now that runner dies too (its heartbeat ages): the waiting runner runs it.
                db.update_run(beating_id, heartbeat_at=db.now() - grace - 30)
        finally:
            thread.join(120)

    [result] = results
    assert [(o.name, o.status, o.run_id, o.by_another_runner) for o in result.outcomes] == [
        ("silent", "completed", silent_id, False),
        ("beating", "completed", beating_id, False),
        ("reused", "completed", reused_id, False),
    ]
    with ws.store() as db:
        assert {r.id: r.status for r in db.list_runs()} == {
            silent_id: "completed",
            beating_id: "completed",
            reused_id: "completed",
        }


def test_a_runner_beats_the_runs_it_claimed_while_they_wait_in_its_backend(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What keeps a live runner's claims from being taken over by runners on other hosts:
    one run blocks the backend's only slot, the other waits there, queued and claimed, and
    its heartbeat is refreshed."""
    monkeypatch.setattr(runner_module, "_JOB_BEAT", 0.05)
    (ws.cwd / "release").unlink(missing_ok=True)
    first, waiting = planned("gate", index=1, block_from=0), planned("gate", index=2)
    results: list[Any] = []
    with LocalProcessesAsQueueingBackend(1, fork_server=False) as executor:
        thread = threading.Thread(
            target=lambda: results.append(ws.runner(executor=executor).run(plan(first, waiting)))
        )
        thread.start()
        try:
            wait_until(lambda: (ws.cwd / "blocked-1").exists(), "the first run to start", 60)
            with ws.store() as db:
                [queued] = db.list_runs(statuses=("queued",))
                assert queued.config["index"] == 2 and queued.pid == os.getpid()
                stale = db.now() - 10 * db.liveness.grace
                db.update_run(queued.id, heartbeat_at=stale)

                def beaten() -> bool:
                    claim = db.queued_claims([queued.id])[queued.id]
                    return (claim.heartbeat_at or 0.0) > stale + db.liveness.grace

                wait_until(beaten, "the runner to beat the claim of its waiting run", 30)
        finally:
            (ws.cwd / "release").touch()
            thread.join(120)
    [result] = results
    assert [o.status for o in result.outcomes] == ["completed", "completed"]


def test_a_job_of_a_runner_whose_claim_was_taken_over_does_not_start_the_run(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trialbook._workspace import Workspace as TrialbookWorkspace
    from trialbook.errors import RunStateError
    from trialbook.tracking._attach import claim_run
    from trialbook.tracking._settings import RUNNER_HOST_ENV, RUNNER_PID_ENV

    run_id = _queued_elsewhere(ws, planned("ok", value=1), "gpu-7", 0.0)
    # The job that the runner which claimed it first had submitted before it died here.
    monkeypatch.setenv(RUNNER_HOST_ENV, "gpu-9")
    monkeypatch.setenv(RUNNER_PID_ENV, "999")
    with ws.store() as db, pytest.raises(RunStateError):
        claim_run(db, TrialbookWorkspace.resolve(ws.root), run_id, capture_packages=False)
    with ws.store() as db:
        rec = db.get_run(run_id)
        assert (rec.status, rec.host, rec.pid) == ("queued", "gpu-7", 4242)  # left as it was

    # The job of the runner that holds the claim starts the run.
    monkeypatch.setenv(RUNNER_HOST_ENV, "gpu-7")
    monkeypatch.setenv(RUNNER_PID_ENV, "4242")
    with ws.store() as db:
        attached = claim_run(
            db, TrialbookWorkspace.resolve(ws.root), run_id, capture_packages=False
        )
        assert attached.record.status == "running" and attached.record.pid == os.getpid()
