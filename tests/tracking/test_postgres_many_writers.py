"""Many machines, one PostgreSQL store: eight processes logging 50,000 points each at once lose
none, and a run is judged alive by its heartbeat when it runs on another host (its pid means
nothing there) and by its pid on this one.

(Three ``trialbook run`` processes sharing one suite on PostgreSQL: see
tests/execution/test_concurrent_runners.py, which runs on both stores.)

Runs on the session's real PostgreSQL server (tests/conftest.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import trialbook
from trialbook.store import LivenessPolicy, NewRun, connect
from trialbook.store._liveness import process_start_time
from trialbook.testing.stores import new_postgres_database

PROCESSES = 8
POINTS = 50_000

#: One writer: a run of its own, ready, then (at the parent's word) POINTS points at once.
WRITER = textwrap.dedent(
    """
    import sys
    import trialbook

    url, root, index, points = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    run = trialbook.start_run(
        "writers", {"index": index}, name=f"proc{index}", root=root, store_url=url,
        system_metrics=False, capture_packages=False,
    )
    print("ready", run.id, flush=True)
    sys.stdin.readline()
    with run:
        for step in range(points):
            run.log({"loss": index * 1e6 + step + 0.25}, step=step)
    print("done", flush=True)
    """
)

#: A run that stays alive (beating every 0.1 s) until it is killed.
ALIVE = textwrap.dedent(
    """
    import sys, time
    import trialbook

    run = trialbook.start_run(
        "alive", root=sys.argv[2], store_url=sys.argv[1], system_metrics=False,
        capture_packages=False,
    )
    run.log({"x": 1.0}, step=0)
    run.flush()
    print(run.id, flush=True)
    while True:
        time.sleep(1)
    """
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOOK_")}
    src = str(Path(trialbook.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["TRIALBOOK_HEARTBEAT_INTERVAL"] = "0.1"
    return env


@pytest.fixture
def url(postgres_server: str) -> str:
    return new_postgres_database(postgres_server)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=60)


@pytest.mark.slow
def test_eight_processes_logging_fifty_thousand_points_each_lose_none(
    url: str, tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    root = tmp_path / "ws"
    for i in range(PROCESSES):
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", WRITER, url, str(root), str(i), str(POINTS)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_env(),
                text=True,
            )
        )
    for proc in processes:  # every process has its run and waits
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("ready "), proc.communicate(timeout=60)[1]
    for proc in processes:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in processes:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert out.strip() == "done" and "Traceback" not in err and "trialbook:" not in err, err

    with trialbook.open_store(root, url) as store:
        runs = store.list_runs(experiment="writers")
        assert sorted(r.name for r in runs) == sorted(f"proc{i}" for i in range(PROCESSES))
        assert {r.status for r in runs} == {"completed"}
        summaries = store.metric_summaries([r.id for r in runs])
        for run in runs:
            index = int(run.name.removeprefix("proc"))
            loss = store.metric_history(run.id, "loss")
            assert loss.steps == tuple(range(POINTS))
            assert loss.values == tuple(index * 1e6 + s + 0.25 for s in range(POINTS))
            summary = summaries[run.id]["loss"]
            assert summary.count == POINTS
            assert (summary.min, summary.max) == (index * 1e6 + 0.25, index * 1e6 + POINTS - 0.75)
        assert store.stats().metric_points == PROCESSES * POINTS


def _running(run_id: str, *, host: str, pid: int, heartbeat: float) -> NewRun:
    return NewRun(
        id=run_id,
        experiment="hosts",
        name=run_id[-5:],
        config={},
        config_hash=run_id,
        group_key="g",
        host=host,
        pid=pid,
        pid_started_at=process_start_time(pid),
        started_at=heartbeat,
    )


def test_a_run_on_another_host_lives_by_its_heartbeat_and_one_here_by_its_pid(url: str) -> None:
    here = socket.gethostname()
    me = os.getpid()  # a live process on this host: its pid proves nothing for node-a
    now = time.time()
    with connect(url, create=True, liveness=LivenessPolicy(grace=60.0, host=here)) as store:
        stale = store.create_run(
            _running("20260101_000000_stale", host="node-a", pid=me, heartbeat=now - 600)
        )
        fresh = store.create_run(
            _running("20260101_000000_fresh", host="node-a", pid=me, heartbeat=now - 600)
        )
        store.update_run(fresh.id, heartbeat_at=now)
        # This host: a live pid keeps its run alive whatever its heartbeat says.
        mine = store.create_run(
            _running("20260101_000000_mine0", host=here, pid=me, heartbeat=now - 600)
        )

        assert sorted(store.reap_dead_runs(force=True)) == [stale.id]
        statuses = {r.id: r.status for r in store.list_runs()}
        assert statuses == {stale.id: "crashed", fresh.id: "running", mine.id: "running"}
        assert store.get_run(stale.id).ended_at == stale.heartbeat_at  # when last seen alive

    # The same database read from node-a: its own runs by pid, this host's by heartbeat.
    with connect(url, liveness=LivenessPolicy(grace=60.0, host="node-a")) as node_a:
        assert node_a.reap_dead_runs(force=True) == [mine.id]
        assert node_a.get_run(fresh.id).status == "running"  # pid alive on "node-a" too


@pytest.mark.slow
def test_another_host_finds_a_killed_run_crashed_once_its_heartbeat_is_older_than_the_grace(
    url: str, tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    grace = 5.0
    connect(url, create=True).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", ALIVE, url, str(tmp_path / "ws")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        text=True,
    )
    processes.append(proc)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert run_id, proc.communicate(timeout=60)[1]
    elsewhere = connect(url, liveness=LivenessPolicy(grace=grace, host="node-b"))
    here = connect(url, liveness=LivenessPolicy(grace=grace))
    try:
        # Alive: node-b sees the heartbeat move, so it never reaps the run.
        first = elsewhere.get_run(run_id).heartbeat_at
        deadline = time.monotonic() + 60
        while elsewhere.get_run(run_id).heartbeat_at == first:
            assert time.monotonic() < deadline, "the heartbeat never moved"
            time.sleep(0.05)
        assert elsewhere.reap_dead_runs(force=True) == []
        assert here.reap_dead_runs(force=True) == []

        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        last = elsewhere.get_run(run_id).heartbeat_at
        assert last is not None

        # node-b cannot check a pid on this host: the run is crashed once its last heartbeat
        # is older than the grace, and not before.
        deadline = time.monotonic() + 120
        while not elsewhere.reap_dead_runs(force=True):
            assert time.time() - last < grace + 60, "node-b never reaped the run"
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert time.time() - last >= grace
        crashed = here.get_run(run_id)
        assert (crashed.status, crashed.ended_at) == ("crashed", last)
    finally:
        elsewhere.close()
        here.close()


@pytest.mark.slow
def test_this_host_finds_its_killed_run_crashed_by_its_pid(
    url: str, tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    connect(url, create=True).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", ALIVE, url, str(tmp_path / "ws")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        text=True,
    )
    processes.append(proc)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert run_id, proc.communicate(timeout=60)[1]
    # A grace far longer than the test: only the pid can tell.
    with connect(url, liveness=LivenessPolicy(grace=3600.0)) as here:
        assert here.reap_dead_runs(force=True) == []
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert here.reap_dead_runs(force=True) == [run_id]
        assert here.get_run(run_id).status == "crashed"
