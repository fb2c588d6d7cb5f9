"""The Runner on a real single-node Slurm cluster (tests/conftest.py ``slurm_cluster``):
the same runs, statuses and metrics as the local executor; failures, Slurm's time limit,
a job cancelled from outside, Ctrl-C, --detach and pick-up, ``trialbook cancel``."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runner_helpers import Workspace, plan, planned, wait_until

from trialbook.errors import ConfigError
from trialbook.execution._jobs import cancel_runs, pick_up_jobs
from trialbook.execution._runner import JOB_FILE, read_job_record
from trialbook.execution._slurm import SlurmExecutor


@pytest.fixture(autouse=True)
def _cluster(slurm_cluster: Any) -> None:
    del slurm_cluster


def _slurm(ws: Workspace, jobs: int = 2, **overrides: Any) -> SlurmExecutor:
    return SlurmExecutor(jobs, grace=3.0, overrides=overrides, folder=ws.root / ".slurm")


@contextlib.contextmanager
def _sleepy_job(ws: Workspace, executor: SlurmExecutor) -> Iterator[tuple[str, list[Any]]]:
    """A runner thread running the one run "sleepy" on ``executor``: yields its Slurm job id
    once the job has started, and the list the SuiteResult lands in once the thread ended
    (after the block, which ends the job somehow; waited for up to 120 s)."""
    runner = ws.runner(executor=executor)
    done: list[Any] = []
    thread = threading.Thread(target=lambda: done.append(runner.run(plan(planned("sleepy")))))
    thread.start()
    try:
        wait_until(lambda: (ws.cwd / "sleepy-started").exists(), "the job to start", 60)
        with ws.store() as db:
            [run] = db.list_runs()
        record = read_job_record(run.folder or "")
        assert record is not None
        yield str(record["job_id"]), done
        thread.join(120)
    finally:
        runner.executor.close()


def _seeded_suite() -> list[Any]:
    return [planned("seeds", name="seeds", seed=s) for s in (1, 2)] + [
        planned("ok", name=f"ok{v}", value=v) for v in (1, 2)
    ]


def _summary(ws: Workspace) -> dict[tuple[str, int | None], tuple[str, dict[str, float]]]:
    with ws.store() as db:
        runs = db.list_runs()
        metrics = db.metric_summaries([r.id for r in runs])
        return {
            (r.name, r.seed): (
                r.status,
                {k: s.last for k, s in metrics.get(r.id, {}).items() if not k.startswith("system")},
            )
            for r in runs
        }


def test_a_seeded_suite_gives_the_same_runs_statuses_and_metrics_as_local(
    ws: Workspace, tmp_path: Path
) -> None:
    local = ws.runner().run(plan(*_seeded_suite()))
    assert local.ok, local.failed
    expected = _summary(ws)

    other = Workspace(ws.cwd, tmp_path / "on-slurm")
    with _slurm(other) as executor:
        result = other.runner(executor=executor).run(plan(*_seeded_suite()))
    assert result.ok, [o.error for o in result.failed]
    assert _summary(other) == expected
    assert [o.metrics for o in result.outcomes] == [o.metrics for o in local.outcomes]
    with other.store() as db:
        records = [read_job_record(run.folder or "") for run in db.list_runs()]
    assert all(r is not None and r["executor"] == "slurm" for r in records), records
    # The four runs ask for the same job settings: one job array, one element each.
    job_ids = sorted(str(r["job_id"]) for r in records if r is not None)
    assert len({j.split("_")[0] for j in job_ids}) == 1, job_ids
    assert sorted(j.split("_")[1] for j in job_ids) == ["0", "1", "2", "3"]


def test_a_failing_run_fails_with_its_traceback(ws: Workspace) -> None:
    with _slurm(ws) as executor:
        result = ws.runner(executor=executor).run(plan(planned("boom", value=7)))
    [outcome] = result.outcomes
    assert outcome.status == "failed" and "boom at value 7" in (outcome.error or "")
    assert result.exit_code == 1


def test_a_run_stays_queued_while_its_job_waits_for_a_node(ws: Workspace) -> None:
    # One job at a time on the cluster's 2 CPUs: the second asks for both CPUs and waits.
    (ws.cwd / "release").unlink(missing_ok=True)
    runs = [
        planned("gate", name="first", index=1, block_from=0),
        planned("gate", name="second", index=2, block_from=10),
    ]
    for r in runs:
        r.config["experiment"]["resources"] = {"cpus": 2}
    runner = ws.runner(executor=_slurm(ws))
    done: list[Any] = []
    thread = threading.Thread(target=lambda: done.append(runner.run(plan(*runs))))
    thread.start()
    try:
        wait_until(lambda: (ws.cwd / "blocked-1").exists(), "the first job to start", 60)
        with ws.store() as db:
            by_name = {r.name: r for r in db.list_runs()}
        assert by_name["first"].status == "running"
        assert by_name["second"].status == "queued"
        assert by_name["second"].pid is not None, "a queued run in Slurm is claimed"
        squeue = subprocess.run(
            ["squeue", "-h", "-o", "%j %T"], capture_output=True, text=True, check=True
        ).stdout
        assert "PENDING" in squeue
    finally:
        (ws.cwd / "release").touch()
        thread.join(120)
        runner.executor.close()
    assert done and done[0].ok, done and [o.error for o in done[0].failed]


def test_a_second_runner_submits_nothing_another_runner_holds_in_slurm(ws: Workspace) -> None:
    (ws.cwd / "release").unlink(missing_ok=True)
    runs = [
        planned("gate", name="first", index=1, block_from=0),
        planned("gate", name="second", index=2, block_from=10),
    ]
    for r in runs:
        r.config["experiment"]["resources"] = {"cpus": 2}  # one job at a time
    first, second = ws.runner(executor=_slurm(ws)), ws.runner(executor=_slurm(ws))
    results: dict[str, Any] = {}
    threads = [
        threading.Thread(target=lambda: results.update(a=first.run(plan(*runs)))),
        threading.Thread(target=lambda: results.update(b=second.run(plan(*runs)))),
    ]
    threads[0].start()
    try:
        wait_until(lambda: (ws.cwd / "blocked-1").exists(), "the first job to start", 60)
        threads[1].start()
        time.sleep(3)  # the second runner has decided, and would have submitted by now
        squeue = subprocess.run(
            ["squeue", "-h", "-o", "%j"], capture_output=True, text=True, check=True
        ).stdout.split("\n")
        # The first runner's two runs, one job array (named after both), and nothing else.
        assert [line for line in squeue if line] == ["first seed=1, second seed=1"] * 2
    finally:
        (ws.cwd / "release").touch()
        for thread in threads:
            if thread.is_alive() or thread.ident is not None:
                thread.join(120)
        first.executor.close()
        second.executor.close()
    assert results["a"].ok and [o.attempts for o in results["a"].outcomes] == [1, 1]
    assert all(o.by_another_runner for o in results["b"].outcomes), results["b"].outcomes
    assert [o.status for o in results["b"].outcomes] == ["completed", "completed"]
    with ws.store() as db:
        assert sorted(r.status for r in db.list_runs()) == ["completed", "completed"]


def test_a_too_short_slurm_time_fails_the_run_as_timed_out(ws: Workspace) -> None:
    """The run asks for Slurm's shortest limit, one minute. Slurm checks limits every 30 s, so
    that minute would end 60 to 90 s after the start: once the job runs its end time is moved
    to now (``scontrol update EndTime``, the limit an administrator shortens), and Slurm times
    it out at its next check."""
    with _sleepy_job(ws, _slurm(ws, time=1)) as (job_id, done):
        shown = subprocess.run(
            ["scontrol", "show", "job", job_id], capture_output=True, text=True, check=True
        ).stdout
        assert "TimeLimit=00:01:00" in shown  # the run's slurm time reached Slurm
        subprocess.run(
            ["scontrol", "update", f"JobId={job_id}", "EndTime=now+2seconds"], check=True
        )
    [outcome] = done[0].outcomes
    assert outcome.status == "failed"
    assert outcome.error == "timed out (TIMEOUT)"


def test_scancel_from_outside_marks_the_run_killed(ws: Workspace) -> None:
    with _sleepy_job(ws, _slurm(ws)) as (job_id, done):
        subprocess.run(["scancel", job_id], check=True)
    [outcome] = done[0].outcomes
    assert outcome.status == "killed"
    assert (outcome.error or "").startswith("cancelled in Slurm (CANCELLED")


def test_ctrl_c_cancels_the_jobs_and_marks_the_runs_killed(ws: Workspace) -> None:
    runner = ws.runner(executor=_slurm(ws, jobs=2))
    done: list[Any] = []
    # Two CPUs: a and b run, c pends in the array; all three are cancelled.
    runs = [
        planned("sleepy", name="a"),
        planned("sleepy", name="b", value=2),
        planned("sleepy", name="c", value=3),
    ]
    thread = threading.Thread(target=lambda: done.append(runner.run(plan(*runs))))
    thread.start()
    try:
        wait_until(lambda: (ws.cwd / "sleepy-started").exists(), "a job to start", 60)
        # The Runner's Ctrl-C: a KeyboardInterrupt in its thread.
        import ctypes

        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident or 0), ctypes.py_object(KeyboardInterrupt)
        )
        thread.join(120)
    finally:
        runner.executor.close()
    result = done[0]
    assert result.interrupted
    assert {o.status for o in result.outcomes} == {"killed"}
    assert {o.error for o in result.outcomes} == {"stopped: the runner was interrupted (Ctrl-C)"}

    def queue_empty() -> bool:
        out = subprocess.run(["squeue", "-h"], capture_output=True, text=True, check=True)
        return out.stdout.strip() == ""

    # The jobs end right after their processes (submitit's wrapper exits last).
    wait_until(queue_empty, "the jobs to leave the queue", 30)


def test_detach_then_run_again_picks_up_the_outcomes(ws: Workspace) -> None:
    runs = [planned("ok", name="a", value=1), planned("boom", name="b", value=2)]
    with _slurm(ws) as executor:
        first = ws.runner(executor=executor, detach=True).run(plan(*runs))
    assert [o.status for o in first.outcomes] == ["queued", "queued"]
    assert all("submitted as slurm job" in (o.reason or "") for o in first.outcomes)
    with ws.store() as db:
        assert {r.status for r in db.list_runs()} <= {"queued", "running", "completed", "failed"}
    with _slurm(ws) as executor:
        second = ws.runner(executor=executor).run(plan(*runs))
    assert [o.status for o in second.outcomes] == ["completed", "failed"]
    assert second.outcomes[0].metrics["eval_accuracy"] == 1.0
    with ws.store() as db:
        assert sorted(r.status for r in db.list_runs()) == ["completed", "failed"]


def test_ls_picks_up_the_jobs_of_a_detached_run(ws: Workspace) -> None:
    from trialbook import Workspace as TbWorkspace

    with _slurm(ws) as executor:
        ws.runner(executor=executor, detach=True).run(plan(planned("ok", value=3)))
    workspace = TbWorkspace.resolve(ws.root)

    def picked() -> bool:
        pick_up_jobs(workspace)
        with ws.store() as db:
            return db.list_runs()[0].status == "completed"

    wait_until(picked, "ls to pick up the job's outcome", 90)


def test_trialbook_cancel_scancels_and_marks_killed(ws: Workspace) -> None:
    from trialbook import Workspace as TbWorkspace

    with _slurm(ws) as executor:
        ws.runner(executor=executor, detach=True).run(plan(planned("sleepy")))
    wait_until(lambda: (ws.cwd / "sleepy-started").exists(), "the job to start", 60)
    with ws.store() as db:
        [run] = db.list_runs()
    record = read_job_record(run.folder or "")
    assert record is not None
    [outcome] = cancel_runs(TbWorkspace.resolve(ws.root), [run.id])
    assert outcome.action == "cancelled" and outcome.job_id == record["job_id"]
    with ws.store() as db:
        after = db.get_run(run.id)
    assert after.status == "killed" and "trialbook cancel" in (after.error or "")

    def job_gone() -> bool:
        out = subprocess.run(["squeue", "-h"], capture_output=True, text=True, check=True)
        return out.stdout.strip() == ""

    wait_until(job_gone, "the job to leave the queue", 60)


def test_an_unknown_slurm_setting_is_one_sentence_before_anything_is_written(
    ws: Workspace,
) -> None:
    run = planned("ok")
    run.config["experiment"]["slurm"] = {"partiton": "debug"}
    with _slurm(ws) as executor, pytest.raises(ConfigError) as info:
        ws.runner(executor=executor).run(plan(run))
    assert "'partiton'" in str(info.value) and "did you mean 'partition'?" in str(info.value)
    assert not (ws.root / "trialbook.db").exists() or not list(ws.root.glob("*/" + JOB_FILE))


def test_a_job_over_its_memory_crashes_the_run_as_out_of_memory(ws: Workspace) -> None:
    run = planned("hog", megabytes=400)
    run.config["experiment"]["slurm"] = {"mem_gb": 0.15}
    (ws.cwd / "tasks.py").write_text(
        (ws.cwd / "tasks.py").read_text()
        + "\n\ndef hog(config, run):\n"
        + "    data = b'x' * (config['megabytes'] * 1024 * 1024)\n"
        + "    time.sleep(30)\n"
        + "    return {'size': len(data)}\n"
    )
    with _slurm(ws) as executor:
        result = ws.runner(executor=executor).run(plan(run))
    [outcome] = result.outcomes
    # Without cgroups Slurm kills the job from its accounting and reports FAILED (not
    # OUT_OF_MEMORY); slurmstepd says why in the job's log.
    assert outcome.status == "crashed"
    assert outcome.error == "the Slurm job ran out of memory (Exceeded job memory limit)"


def test_a_node_failure_crashes_the_run(ws: Workspace) -> None:
    """A cluster of its own whose slurmd is killed: a few seconds later the node is down and
    the job NODE_FAIL (JobRequeue=0, so Slurm does not run it again)."""
    import psutil

    from trialbook.testing.slurm import local_slurm

    # Slurm pings a node every SlurmdTimeout/3 s and sets it down SlurmdTimeout s after its
    # last answer; a ping to a dead slurmd fails after MessageTimeout.
    conf = "SlurmdTimeout=3\nMessageTimeout=2\nJobRequeue=0\n"
    with local_slurm(extra_conf=conf) as cluster, _sleepy_job(ws, _slurm(ws)) as (_, done):
        psutil.Process(int((cluster.folder / "slurmd.pid").read_text())).kill()
    # The job's processes outlive slurmd; stopping the cluster killed them.
    started = json.loads(next(iter((ws.root / ".slurm").glob("*.started"))).read_text())

    def gone() -> bool:
        try:
            return psutil.Process(started["pid"]).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_until(gone, "the job's process to end with its cluster", 10)
    [outcome] = done[0].outcomes
    assert outcome.status == "crashed"
    assert outcome.error == "the Slurm job's node failed (NODE_FAIL)"
