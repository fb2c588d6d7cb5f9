"""The Runner and ``trialbook run`` on the Ray executor, against a real local Ray.

In-process tests join the session's Ray (``ray_cluster``, 2 CPUs); ``trialbook run``
subprocesses join it with ``--address``, except the one that checks that a run without an
address starts a local Ray of its own and stops it again.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from runner_helpers import Workspace, plan, planned, statuses, wait_until

from trialbook.config import config_hash, group_key
from trialbook.config._plan import PlannedRun
from trialbook.execution import LocalExecutor

#: Entrypoints of these tests beside runner_helpers' tasks.py.
RAY_TASKS = '''
import os, time
from pathlib import Path


def on_worker(config, run):
    """Tells the test which process runs it (and its parent), then waits."""
    Path("on-worker.pid").write_text(f"{os.getpid()} {os.getppid()}")
    time.sleep(120)


def held(config, run):
    """Completes at once for seed 1; the others wait for a release file."""
    if config["seed"] != 1:
        Path(f"held-{config['seed']}").write_text(str(os.getpid()))
        while not Path("release").exists():
            time.sleep(0.02)
    return {"eval_accuracy": float(config["seed"])}
'''


@pytest.fixture
def ray_ws(ws: Workspace, ray_cluster: str) -> Iterator[Workspace]:
    (ws.cwd / "raytasks.py").write_text(textwrap.dedent(RAY_TASKS))
    yield ws


def ray_executor(jobs: int = 2, grace: float = 3.0) -> Any:
    from trialbook.execution._ray import RayExecutor

    return RayExecutor(jobs, grace=grace)


def reshaped(run: PlannedRun, **experiment: Any) -> PlannedRun:
    """``run`` with ``experiment`` keys replaced (an entrypoint, resources)."""
    config = dict(run.config)
    config["experiment"] = {**config["experiment"], **experiment}
    return PlannedRun(
        name=run.name,
        experiment=run.experiment,
        config=config,
        seed=run.seed,
        config_hash=config_hash(config),
        group_key=group_key(config),
    )


def cli(ws: Workspace, *args: str, interruptible: bool = False, **kw: Any) -> subprocess.Popen[str]:
    """``trialbook run ARGS`` in the test's folder, its output piped."""

    def sigint_as_in_a_terminal() -> None:
        # A test run in a background job hands SIGINT down as ignored.
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    return subprocess.Popen(
        [sys.executable, "-m", "trialbook", "run", *args],
        cwd=ws.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_as_in_a_terminal if interruptible else None,
        **kw,
    )


def write_config(ws: Workspace, entrypoint: str) -> str:
    (ws.cwd / "exp.yaml").write_text(f"experiment:\n  name: exp\n  entrypoint: {entrypoint}\n")
    return "exp.yaml"


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def ray_processes() -> set[int]:
    """The pids of every Ray head process (GCS server, raylet) on this machine."""
    found = set()
    for p in psutil.process_iter(["name"]):
        if p.info["name"] in ("gcs_server", "raylet"):
            found.add(p.pid)
    return found


# --------------------------------------------------------------------------- outcomes
def test_a_suite_gives_the_same_runs_statuses_and_metrics_as_the_local_executor(
    ray_ws: Workspace, tmp_path_factory: pytest.TempPathFactory
) -> None:
    runs = [planned("seeds", seed=s) for s in (1, 2, 3)] + [planned("ok", value=0.5)]
    local_root = tmp_path_factory.mktemp("local") / "experiments"
    from trialbook.execution import Runner

    with LocalExecutor(2) as on_this_machine:
        local = Runner(
            root=local_root, cwd=ray_ws.cwd, executor=on_this_machine, progress="quiet"
        ).run(plan(*runs))
    with ray_executor() as executor:
        remote = ray_ws.runner(executor=executor).run(plan(*runs))
    assert remote.exit_code == 0, [(o.status, o.error) for o in remote.outcomes]
    assert [(o.planned.name, o.planned.seed, o.status, o.metrics) for o in remote.outcomes] == [
        (o.planned.name, o.planned.seed, o.status, o.metrics) for o in local.outcomes
    ]
    assert all(o.status == "completed" for o in remote.outcomes)
    # The Tracker's own series reached the Store, and the output the run folders.
    ok = remote.outcomes[3]
    assert ok.metrics["eval_accuracy"] == 0.5 and ok.metrics["loss"] == pytest.approx(1 / 3)
    with ray_ws.store() as db:
        rec = db.get_run(ok.run_id or "")
    assert (ray_ws.root / (rec.folder or "") / "stdout.log").read_text() == "hello from 0.5\n"


def test_a_failing_run_is_failed_with_its_stderr_tail(ray_ws: Workspace) -> None:
    with ray_executor() as executor:
        result = ray_ws.runner(executor=executor).run(
            plan(planned("boom", value=7), planned("ok", value=1))
        )
    failed, ok = result.outcomes
    assert result.exit_code == 1
    assert failed.status == "failed" and "boom at value 7" in (failed.error or "")
    assert ok.status == "completed"


def test_a_timeout_kills_the_run(ray_ws: Workspace) -> None:
    with ray_executor() as executor:
        result = ray_ws.runner(executor=executor, timeout=1.0).run(plan(planned("sleepy")))
    [outcome] = result.outcomes
    assert outcome.status == "killed"
    assert outcome.error == "timed out after 1 s (--timeout)"


def test_retries_run_a_failed_run_again(ray_ws: Workspace) -> None:
    with ray_executor() as executor:
        result = ray_ws.runner(executor=executor, retries=1).run(
            plan(planned("flaky", value=1, fail_times=1))
        )
    [outcome] = result.outcomes
    assert outcome.status == "completed" and outcome.attempts == 2
    with ray_ws.store() as db:
        assert statuses(db) == {"failed": 1, "completed": 1}


def test_stop_on_error_leaves_the_rest_queued(ray_ws: Workspace) -> None:
    with ray_executor(jobs=1) as executor:
        result = ray_ws.runner(executor=executor, stop_on_error=True).run(
            plan(planned("boom", value=1), planned("ok", value=2), planned("ok", value=3))
        )
    assert [o.status for o in result.outcomes] == ["failed", "queued", "queued"]


def test_a_run_asking_for_two_cpus_runs_alone_on_two_cpus_even_with_two_jobs(
    ray_ws: Workspace,
) -> None:
    runs = [reshaped(planned("ok", value=v), resources={"cpus": 2}) for v in (1, 2, 3)]
    with ray_executor(jobs=2) as executor:
        result = ray_ws.runner(executor=executor).run(plan(*runs))
    assert [o.status for o in result.outcomes] == ["completed"] * 3
    with ray_ws.store() as db:
        spans = sorted((r.started_at or 0.0, r.ended_at or 0.0) for r in db.list_runs())
    assert len(spans) == 3
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, f"two runs holding 2 CPUs each overlapped: {spans}"


def test_a_task_asking_for_more_cpus_than_the_cluster_has_waits_and_can_be_cancelled(
    ray_ws: Workspace,
) -> None:
    # A Ray this executor joined may grow (an autoscaler), so the task is not refused; a
    # cancel before Ray finds room means its process never starts.
    from trialbook.execution import Task
    from trialbook.execution._executor import Resources

    with ray_executor(jobs=1) as executor:
        handle = executor.submit(
            Task(
                key="big",
                argv=(sys.executable, "-c", "open('big-ran', 'w')"),
                cwd=ray_ws.cwd,
                stdout_path=ray_ws.cwd / "big.out",
                stderr_path=ray_ws.cwd / "big.err",
                resources=Resources(cpus=64),
            )
        )
        assert executor.wait([handle], timeout=2.0) == []
        executor.cancel(handle)
        [result] = executor.wait_all([handle])
    assert result.cancelled and result.started_at is None and result.exit_code is None
    assert not (ray_ws.cwd / "big-ran").exists()


# --------------------------------------------------------------------------- losing a worker
def test_a_killed_ray_worker_marks_its_run_crashed_and_leaves_no_process(
    ray_ws: Workspace,
) -> None:
    marker = ray_ws.cwd / "on-worker.pid"
    pids: list[int] = []

    def kill_the_worker() -> None:
        wait_until(lambda: marker.exists() and " " in marker.read_text(), "the run to start")
        run_pid, _ = map(int, marker.read_text().split())
        # The run's parent is the fork server of the actor's local executor; the Ray worker
        # is the nearest ancestor that Ray named.
        [worker] = [p for p in psutil.Process(run_pid).parents() if p.name().startswith("ray::")][
            :1
        ]
        pids.append(run_pid)
        os.kill(worker.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_worker)
    killer.start()
    try:
        with ray_executor() as executor:
            result = ray_ws.runner(executor=executor).run(
                plan(reshaped(planned(), entrypoint="raytasks:on_worker"))
            )
    finally:
        killer.join()
    [outcome] = result.outcomes
    assert outcome.status == "crashed", outcome
    assert (outcome.error or "").startswith("its Ray worker on 127.0.0.1 died (")
    # Nothing of the run outlives its worker (its fork server dies with the worker, and the
    # executor kills what is left of the run's process group).
    assert pids and not alive(pids[0])


def test_a_worker_that_cannot_create_the_actor_gives_an_error_not_a_crash(
    ray_ws: Workspace,
) -> None:
    # What a node with another trialbook (or none) gives: the actor's creation fails there.
    # Here the actor's own check fails it: a grace period below zero, set behind the
    # executor's back.
    from trialbook.execution import Task

    with ray_executor(jobs=1) as executor:
        executor.grace = -1.0
        result = executor.run(
            Task(
                key="x",
                argv=(sys.executable, "-c", "open('x-ran', 'w')"),
                cwd=ray_ws.cwd,
                stdout_path=ray_ws.cwd / "x.out",
                stderr_path=ray_ws.cwd / "x.err",
            )
        )
        executor.grace = 1.0
    assert result.lost is None and result.exit_code is None and result.started_at is None
    assert result.error is not None
    assert result.error.startswith("the Ray worker on 127.0.0.1 could not create the run's actor (")
    assert "grace must be zero or more seconds, got -1.0" in result.error
    assert not (ray_ws.cwd / "x-ran").exists()


def _parent_task(ws: Workspace, key: str, **resources: Any) -> Any:
    from trialbook.execution import Task
    from trialbook.execution._executor import Resources

    return Task(
        key=key,
        argv=(sys.executable, "-c", "import os; print(os.getppid())"),
        cwd=ws.cwd,
        stdout_path=ws.cwd / f"{key}.out",
        stderr_path=ws.cwd / f"{key}.err",
        resources=Resources(**resources),
    )


def test_tasks_asking_for_the_same_resources_reuse_one_worker_and_others_get_room(
    ray_ws: Workspace,
) -> None:
    with ray_executor(jobs=2) as executor:
        first = executor.run(_parent_task(ray_ws, "a"))
        second = executor.run(_parent_task(ray_ws, "b"))
        # Two actors holding a CPU each, then idle: a task asking for both CPUs still runs.
        both = [executor.submit(_parent_task(ray_ws, k)) for k in ("c", "d")]
        assert all(r.ok for r in executor.wait_all(both))
        big = executor.run(_parent_task(ray_ws, "e", cpus=2))
    assert first.ok and second.ok and big.ok
    worker = {k: (ray_ws.cwd / f"{k}.out").read_text() for k in "abcde"}
    assert worker["a"] == worker["b"]  # no new worker process for the second task
    assert worker["e"] not in (worker["c"], worker["d"])


def test_a_kept_worker_that_died_while_idle_does_not_lose_the_next_task(
    ray_ws: Workspace,
) -> None:
    with ray_executor(jobs=1) as executor:
        assert executor.run(_parent_task(ray_ws, "a")).ok
        worker = int((ray_ws.cwd / "a.out").read_text())
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: not alive(worker), "the idle worker to die")
        result = executor.run(_parent_task(ray_ws, "b"))
    assert result.ok and result.lost is None
    assert int((ray_ws.cwd / "b.out").read_text()) != worker


def test_fractional_cpus_and_memory_are_reserved_while_the_task_runs(
    ray_ws: Workspace,
) -> None:
    import ray

    from trialbook.execution import Task
    from trialbook.execution._executor import Resources

    code = (
        "import os, time\n"
        "open('small-started', 'w')\n"
        "while not os.path.exists('small-release'): time.sleep(0.01)\n"
    )
    total = ray.cluster_resources()
    held = {"CPU": total["CPU"] - 0.5, "memory": total["memory"] - 256 * 1024**2}

    def reserved() -> bool:
        free = ray.available_resources()
        return all(free.get(k) == v for k, v in held.items())

    with ray_executor(jobs=1) as executor:
        handle = executor.submit(
            Task(
                key="small",
                argv=(sys.executable, "-c", code),
                cwd=ray_ws.cwd,
                stdout_path=ray_ws.cwd / "small.out",
                stderr_path=ray_ws.cwd / "small.err",
                resources=Resources(cpus=0.5, memory=256 * 1024**2),
            )
        )
        wait_until(lambda: (ray_ws.cwd / "small-started").exists(), "the task to start")
        wait_until(reserved, "Ray to show half a CPU and 256 MB reserved")
        (ray_ws.cwd / "small-release").touch()
        [result] = executor.wait_all([handle])
    assert result.ok


def test_a_task_ray_refuses_to_take_fails_with_the_reason_and_frees_its_slot(
    ray_ws: Workspace,
) -> None:
    # What Ray cannot serialize is refused where the call is made (through Ray Client: what
    # the cluster cannot unpickle); the run fails instead of holding its slot and close().
    from trialbook.execution import Task

    def task(key: str, **settings: Any) -> Task:
        return Task(
            key=key,
            argv=(sys.executable, "-c", f"open('{key}-ran', 'w')"),
            cwd=ray_ws.cwd,
            stdout_path=ray_ws.cwd / f"{key}.out",
            stderr_path=ray_ws.cwd / f"{key}.err",
            settings=settings,
        )

    with ray_executor(jobs=1) as executor:
        refused = executor.run(task("odd", lock=threading.Lock()))
        after = executor.run(task("fine"))
    assert refused.error is not None and refused.started_at is None
    assert refused.error.startswith("Ray could not start the run's actor (")
    assert "Could not serialize the argument Task(key='odd'" in refused.error
    assert not (ray_ws.cwd / "odd-ran").exists()
    assert after.ok and (ray_ws.cwd / "fine-ran").exists()
