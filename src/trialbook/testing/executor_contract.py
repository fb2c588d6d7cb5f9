"""The Executor contract: one class of tests every Executor backend passes.

A backend's own test suite subclasses :class:`ExecutorContract` (in a module pytest
collects, under a name starting with ``Test``) and overrides
:meth:`ExecutorContract.make_executor`; see :mod:`trialbook.testing` for an example. The
tests use the :class:`~trialbook.execution.Executor` interface only and run real processes
(this Python, ``sys.executable``). trialbook's own LocalExecutor runs through this class in
tests/execution/test_executor_shared.py. Needs pytest (and psutil, a trialbook dependency).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import pytest

from trialbook.execution import Executor, Task, TaskResult
from trialbook.testing.stores import BackendUnavailable, skip_unavailable

__all__ = ["ExecutorContract"]

#: How long a test waits for a file a task writes before it fails.
DEADLINE = 30.0


def task(tmp_path: Path, key: str, code: str, timeout: float | None = None) -> Task:
    """A task running ``code`` in this Python, its output in ``tmp_path/<key>.out|.err``."""
    return Task(
        key=key,
        argv=(sys.executable, "-c", code),
        cwd=tmp_path,
        stdout_path=tmp_path / f"{key}.out",
        stderr_path=tmp_path / f"{key}.err",
        env={"TB_TEST_KEY": key},
        timeout=timeout,
    )


def wait_for_file(path: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class ExecutorContract:
    """The tests every Executor backend passes; subclass it and override
    :meth:`make_executor`. The ``executor`` fixture runs two tasks at once and gives a
    cancelled task 2 seconds between SIGTERM and SIGKILL."""

    def make_executor(
        self, tmp_path: Path, *, max_parallel: int, grace: float
    ) -> AbstractContextManager[Executor]:
        """A context manager yielding a ready Executor that runs up to ``max_parallel``
        tasks at once and waits ``grace`` seconds after SIGTERM before SIGKILL when it
        cancels one; on exit it is closed (whatever still runs is stopped).

        Args:
            tmp_path: a new folder the backend may use.
            max_parallel: how many tasks run at once.
            grace: seconds between a cancelled task's SIGTERM and its SIGKILL.

        Raises:
            BackendUnavailable: the backend cannot be built here (the test is skipped; with
                ``CI=true`` it fails).
        """
        raise NotImplementedError(
            f"{type(self).__name__} must override make_executor(tmp_path, max_parallel=, grace=)."
        )

    @pytest.fixture
    def executor(self, tmp_path: Path) -> Iterator[Executor]:
        with ExitStack() as stack:
            try:
                built = stack.enter_context(self.make_executor(tmp_path, max_parallel=2, grace=2.0))
            except BackendUnavailable as e:
                skip_unavailable(e)
            yield built

    def test_exit_codes_output_files_and_env(self, executor: Executor, tmp_path: Path) -> None:
        lines: list[tuple[str, str, str]] = []
        lock = threading.Lock()

        def on_output(t: Task, stream: str, line: str) -> None:
            with lock:
                lines.append((t.key, stream, line))

        code = (
            "import os, sys\n"
            "print('hello', os.environ['TB_TEST_KEY'])\n"
            "print('second line')\n"
            "print('oops', file=sys.stderr)\n"
            "sys.exit(3)\n"
        )
        result = executor.run(task(tmp_path, "a", code), on_output)
        assert result.key == "a" and result.exit_code == 3 and result.signal is None
        assert not result.ok and not result.timed_out and not result.cancelled
        assert result.started_at is not None and result.duration > 0
        assert (tmp_path / "a.out").read_text() == "hello a\nsecond line\n"
        assert (tmp_path / "a.err").read_text() == "oops\n"
        assert [x for x in lines if x[1] == "stdout"] == [
            ("a", "stdout", "hello a"),
            ("a", "stdout", "second line"),
        ]
        assert ("a", "stderr", "oops") in lines

        ok = executor.run(task(tmp_path, "b", "pass"))
        assert ok.ok and ok.exit_code == 0

    def test_output_files_are_appended_to(self, executor: Executor, tmp_path: Path) -> None:
        (tmp_path / "a.out").write_text("earlier\n")
        executor.run(task(tmp_path, "a", "print('later')"))
        assert (tmp_path / "a.out").read_text() == "earlier\nlater\n"

    def test_death_by_signal_is_reported(self, executor: Executor, tmp_path: Path) -> None:
        code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
        result = executor.run(task(tmp_path, "k", code))
        assert result.exit_code is None and result.signal == signal.SIGKILL
        assert result.signal_name == "SIGKILL" and not result.ok
        assert not result.timed_out and not result.cancelled

    def test_timeout_stops_the_task_and_says_so(self, executor: Executor, tmp_path: Path) -> None:
        result = executor.run(task(tmp_path, "slow", "import time; time.sleep(60)", timeout=0.3))
        assert result.timed_out and not result.ok and not result.cancelled
        assert result.signal == signal.SIGTERM or result.exit_code not in (0, None)

    def test_a_task_ignoring_sigterm_is_killed_after_grace(self, tmp_path: Path) -> None:
        ready = tmp_path / "ready"
        code = (
            "import signal, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            f"open({str(ready)!r}, 'w').close()\n"
            "time.sleep(60)\n"
        )
        try:
            with self.make_executor(tmp_path, max_parallel=1, grace=0.2) as executor:
                handle = executor.submit(task(tmp_path, "stubborn", code))
                wait_for_file(ready)
                executor.cancel(handle)
                [result] = executor.wait_all([handle])
        except BackendUnavailable as e:
            skip_unavailable(e)
        assert result.cancelled and result.signal == signal.SIGKILL

    def test_cancel_stops_a_running_task_and_its_children(
        self, executor: Executor, tmp_path: Path
    ) -> None:
        marker = tmp_path / "grandchild.pid"
        code = (
            "import subprocess, sys, time\n"
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            f"open({str(marker)!r}, 'w').write(str(p.pid))\n"
            "time.sleep(60)\n"
        )
        handle = executor.submit(task(tmp_path, "c", code))
        wait_for_file(marker)
        while not marker.read_text():
            time.sleep(0.01)
        executor.cancel(handle)
        [result] = executor.wait_all([handle])
        assert result.cancelled and not result.ok
        grandchild = int(marker.read_text())
        deadline = time.monotonic() + DEADLINE
        while _alive(grandchild):
            assert time.monotonic() < deadline, "the task's child outlived it"
            time.sleep(0.01)

    def test_tasks_beyond_max_parallel_wait_their_turn_and_can_be_cancelled(
        self, executor: Executor, tmp_path: Path
    ) -> None:
        n = executor.max_parallel
        release = tmp_path / "release"
        blockers = [
            executor.submit(
                task(
                    tmp_path,
                    f"block{i}",
                    f"import os, time\nopen('started{i}', 'w')\n"
                    f"while not os.path.exists({str(release)!r}): time.sleep(0.01)\n",
                )
            )
            for i in range(n)
        ]
        queued = executor.submit(task(tmp_path, "queued", "open('queued-ran', 'w')"))
        never = executor.submit(task(tmp_path, "never", "open('never-ran', 'w')"))
        for i in range(n):
            wait_for_file(tmp_path / f"started{i}")
        assert executor.wait([queued, never], timeout=0.2) == []
        assert not (tmp_path / "queued-ran").exists()

        executor.cancel(never)
        [cancelled] = executor.wait([never])
        assert cancelled.cancelled and cancelled.started_at is None and cancelled.exit_code is None

        release.touch()
        results = executor.wait_all([*blockers, queued])
        assert all(r.ok for r in results)
        assert (tmp_path / "queued-ran").exists() and not (tmp_path / "never-ran").exists()

    def test_submit_many_gives_each_task_its_own_handle_result_and_cancel(
        self, executor: Executor, tmp_path: Path
    ) -> None:
        release = tmp_path / "release"
        held_code = (
            "import os, time\nopen('held-started', 'w')\n"
            f"while not os.path.exists({str(release)!r}): time.sleep(0.01)\n"
        )
        tasks = [
            task(tmp_path, "held", held_code),
            task(tmp_path, "ok", "pass"),
            task(tmp_path, "bad", "raise SystemExit(4)"),
        ]
        handles = executor.submit_many(tasks)
        assert [h.key for h in handles] == ["held", "ok", "bad"]
        wait_for_file(tmp_path / "held-started")
        executor.cancel(handles[0])
        held, ok, bad = executor.wait_all(handles)
        assert (ok.exit_code, ok.cancelled, bad.exit_code, bad.cancelled) == (0, False, 4, False)
        assert held.cancelled and not held.ok
        # A key used twice refuses the whole call: neither task was queued.
        with pytest.raises(ValueError):
            executor.submit_many([task(tmp_path, "x", "pass"), task(tmp_path, "x", "pass")])
        assert executor.run(task(tmp_path, "x", "pass")).ok

    def test_wait_returns_finished_results_in_order_and_again(
        self, executor: Executor, tmp_path: Path
    ) -> None:
        a = executor.submit(task(tmp_path, "a", "pass"))
        b = executor.submit(task(tmp_path, "b", "raise SystemExit(1)"))
        results = executor.wait_all([b, a])
        assert [r.key for r in results] == ["b", "a"]
        assert [r.exit_code for r in results] == [1, 0]
        again: list[TaskResult] = executor.wait([a, b])
        assert [r.key for r in again] == ["a", "b"]

    def test_a_program_that_cannot_start_gives_a_result(
        self, executor: Executor, tmp_path: Path
    ) -> None:
        missing = Task(
            key="m",
            argv=(str(tmp_path / "no-such-program"),),
            cwd=tmp_path,
            stdout_path=tmp_path / "m.out",
            stderr_path=tmp_path / "m.err",
        )
        result = executor.run(missing)
        assert not result.ok and result.error and "no-such-program" in result.error

    def test_duplicate_keys_are_refused(self, executor: Executor, tmp_path: Path) -> None:
        executor.run(task(tmp_path, "dup", "pass"))
        with pytest.raises(ValueError, match="dup"):
            executor.submit(task(tmp_path, "dup", "pass"))

    def test_cancelling_a_finished_task_changes_nothing(
        self, executor: Executor, tmp_path: Path
    ) -> None:
        handle = executor.submit(task(tmp_path, "f", "pass"))
        [first] = executor.wait_all([handle])
        executor.cancel(handle)
        assert executor.wait([handle]) == [first]
