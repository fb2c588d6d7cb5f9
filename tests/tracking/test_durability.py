"""Tracking survives what real jobs do: several processes at once, kill -9, SIGTERM, crashes.

Each test runs child Python processes (the script below) against one workspace and then reads
the workspace back the way a user would, with ``trialbook.open_store``.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

import trialbook
from trialbook.store import RunRecord, Store

pytestmark = pytest.mark.slow

CHILD = textwrap.dedent(
    """
    import sys
    import time

    import trialbook

    mode, root = sys.argv[1], sys.argv[2]


    def say(*parts):
        print(*parts, flush=True)


    if mode == "parallel":
        index, steps = int(sys.argv[3]), int(sys.argv[4])
        run = trialbook.start_run("parallel", {"index": index}, name=f"proc{index}", root=root)
        say("ready", run.id)
        sys.stdin.readline()  # the parent's "go": every process logs at the same time
        first = time.time()
        with run:
            for start in range(0, steps, 500):
                for step in range(start, min(start + 500, steps)):
                    run.log({"loss": index * 1e6 + step, "acc": step / steps}, step=step)
                time.sleep(0.02)  # spread the logging over about a second
            last = time.time()
        say("logged", first, last)

    elif mode == "loop":
        every = int(sys.argv[3])
        run = trialbook.start_run("loop", root=root)
        say("run", run.id)
        i = 0
        while True:
            t = time.time()
            run.log({"x": float(i)}, step=i)
            if i % every == 0:
                say(i, t)
            i += 1
            if every <= 1000:
                time.sleep(0.001)
            elif i % 1000 == 0:
                # ~100,000 points/s: flushes of ~20,000 points (a kill lands inside one), yet
                # below what the writer stores per second, so no backlog builds up.
                time.sleep(0.01)

    elif mode in ("raise", "exit"):
        run = trialbook.start_run(mode, root=root)
        for i in range(100):
            run.log({"x": float(i)}, step=i)
        if mode == "raise":
            raise ValueError("boom-42")
    """
)


class Child:
    """A child process running CHILD, its stdout read line by line with deadlines."""

    def __init__(self, script: Path, tmp_path: Path, *args: object) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOOK_")}
        env["TRIALBOOK_SYSTEM_METRICS"] = "0"
        self.stderr_path = tmp_path / f"stderr-{args[0]}-{id(self)}.txt"
        with self.stderr_path.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(script), *map(str, args)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=tmp_path,
                env=env,
                text=True,
            )
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert self.proc.stdout is not None
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def line(self, timeout: float = 60.0) -> str:
        """The next complete line of stdout; fails if none comes in time."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"the child printed nothing for {timeout} s; stderr:\n{self.stderr}")
        if line is None or not line.endswith("\n"):
            pytest.fail(
                f"the child stopped early (exit {self.proc.poll()}); stderr:\n{self.stderr}"
            )
        return line

    def rest(self) -> list[str]:
        """Every complete line still to come, once the process has exited."""
        self.proc.wait(timeout=60)
        lines = []
        while (line := self._lines.get(timeout=60)) is not None:
            if line.endswith("\n"):
                lines.append(line)
        return lines

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def wait(self, timeout: float = 60.0) -> int:
        return self.proc.wait(timeout=timeout)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Any]:
    """Start children of CHILD; any still running when the test ends are killed."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    children: list[Child] = []

    def start(*args: object) -> Child:
        child = Child(script, tmp_path, *args)
        children.append(child)
        return child

    yield start
    for child in children:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.wait(timeout=30)
        for stream in (child.proc.stdin, child.proc.stdout):
            if stream is not None:
                stream.close()


def open_store(root: Path) -> Store:
    store: Store = trialbook.open_store(root)
    return store


def only_run(store: Store, experiment: str) -> RunRecord:
    runs = store.list_runs(experiment=experiment)
    assert len(runs) == 1, runs
    return runs[0]


def summary_json(run: RunRecord) -> dict[str, Any]:
    assert run.folder is not None
    data: dict[str, Any] = json.loads((Path(run.folder) / "summary.json").read_text())
    return data


def test_four_processes_log_into_one_workspace_at_once(spawn: Any, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    procs, steps = 4, 25_000  # two metrics: 50,000 points per process
    # A fresh workspace: the processes also race to create the database.
    children = [spawn("parallel", root, i, steps) for i in range(procs)]
    for child in children:
        assert child.line().startswith("ready ")
    for child in children:
        child.send("go\n")

    spans = []
    for child in children:
        assert child.wait(timeout=120) == 0, child.stderr
        stderr = child.stderr
        assert "database is locked" not in stderr
        assert "Traceback" not in stderr
        assert "trialbook:" not in stderr  # the writer's retry warning
        word, first, last = child.rest()[-1].split()
        assert word == "logged"
        spans.append((float(first), float(last)))
    # The logging really overlapped: every process was still logging when the last began.
    assert max(first for first, _ in spans) < min(last for _, last in spans)

    with open_store(root) as store:
        runs = store.list_runs(experiment="parallel")
        assert sorted(r.name for r in runs) == [f"proc{i}" for i in range(procs)]
        assert {r.status for r in runs} == {"completed"}
        summaries = store.metric_summaries([r.id for r in runs])
        for run in runs:
            index = int(run.name.removeprefix("proc"))
            loss = store.metric_history(run.id, "loss")
            acc = store.metric_history(run.id, "acc")
            assert len(loss) + len(acc) == 2 * steps
            assert loss.steps == acc.steps == tuple(range(steps))
            assert loss.values == tuple(index * 1e6 + s for s in range(steps))
            assert acc.values == tuple(s / steps for s in range(steps))
            by_key = summaries[run.id]
            assert set(by_key) == {"loss", "acc"}
            assert by_key["loss"].count == by_key["acc"].count == steps
            assert (by_key["loss"].last, by_key["loss"].last_step) == (
                index * 1e6 + steps - 1,
                steps - 1,
            )
            assert (by_key["loss"].min, by_key["loss"].max) == (index * 1e6, index * 1e6 + 24_999)
        assert store.stats().metric_points == procs * 2 * steps


@pytest.mark.parametrize(
    "every", [20, 20_000], ids=["1000 points per second", "100000 points per second"]
)
def test_kill_9_loses_at_most_the_last_second_and_the_run_reads_as_crashed(
    spawn: Any, tmp_path: Path, every: int
) -> None:
    root = tmp_path / "ws"
    child = spawn("loop", root, every)
    run_id = child.line().split()[1]
    logged: list[tuple[int, float]] = []
    while not logged or logged[-1][1] - logged[0][1] < 2.5:
        step, at = child.line().split()
        logged.append((int(step), float(at)))

    killed_at = time.time()
    child.proc.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL

    db = root / "trialbook.db"
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    with open_store(root) as store:
        run = store.get_run(run_id)
        stored = store.metric_history(run_id, "x").steps
    # Every point logged more than a second before the kill is there; the points form one
    # unbroken prefix, because each flush is one transaction.
    must_have = max(step for step, at in logged if at < killed_at - 1.0)
    assert len(stored) > must_have
    assert stored == tuple(range(len(stored)))
    assert run.status == "crashed"
    assert run.ended_at is not None
    assert run.started_at is not None
    assert run.started_at <= run.ended_at <= killed_at


def test_sigterm_flushes_and_marks_the_run_killed(spawn: Any, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    child = spawn("loop", root, 1)
    run_id = child.line().split()[1]
    first = last = int(child.line().split()[0])
    while last - first < 300:  # logging for about a third of a second
        last = int(child.line().split()[0])

    child.proc.send_signal(signal.SIGTERM)
    assert child.wait() == 128 + signal.SIGTERM, child.stderr
    printed = [last] + [int(line.split()[0]) for line in child.rest()]

    with open_store(root) as store:
        run = store.get_run(run_id)
        stored = store.metric_history(run_id, "x").steps
    # Everything logged before the signal is stored: the child logs a step, then prints it,
    # so the signal may land after the last step it logged but before it printed it.
    assert stored == tuple(range(len(stored)))
    assert max(printed) <= stored[-1] <= max(printed) + 1
    assert run.status == "killed"
    assert run.ended_at is not None
    assert "SIGTERM" in (run.error or "")
    summary = summary_json(run)
    assert summary["status"] == "killed"
    assert summary["metrics"]["x"] == float(stored[-1])
    assert "Traceback" not in child.stderr


def test_an_uncaught_exception_fails_the_run_and_a_normal_exit_completes_it(
    spawn: Any, tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    # One at a time: the first creates the workspace, so the second does not race it.
    raising = spawn("raise", root)
    assert raising.wait() == 1
    exiting = spawn("exit", root)
    assert exiting.wait() == 0, exiting.stderr

    assert "ValueError: boom-42" in raising.stderr
    with open_store(root) as store:
        failed = only_run(store, "raise")
        completed = only_run(store, "exit")
        for run in (failed, completed):
            assert store.metric_history(run.id, "x").steps == tuple(range(100))

    assert failed.status == "failed"
    assert failed.ended_at is not None
    assert failed.error is not None
    assert "Traceback (most recent call last)" in failed.error
    assert "ValueError: boom-42" in failed.error
    failed_summary = summary_json(failed)
    assert failed_summary["status"] == "failed"
    assert "ValueError: boom-42" in failed_summary["error"]

    assert completed.status == "completed"
    assert (completed.ended_at is not None, completed.error) == (True, None)
    assert summary_json(completed)["status"] == "completed"
    assert completed.ended_at >= completed.started_at  # type: ignore[operator]
