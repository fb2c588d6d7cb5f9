"""LocalExecutor: tasks as subprocesses of this process, ``max_jobs`` at a time.

Each task gets its own session (``start_new_session=True``), so a timeout or a cancel reaches
every process it started, and Ctrl-C at the terminal reaches only the Runner, which decides
what to stop. Two threads per task copy its stdout and stderr, line by line, to the task's
files and to the output callback; a third waits for the process and records its result.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import IO, Literal

from trialbook.errors import ConfigError
from trialbook.execution._executor import Executor, OutputCallback, Task, TaskHandle, TaskResult

__all__ = ["LocalExecutor"]


class _Job:
    """The executor's private state of one task."""

    def __init__(self, handle: TaskHandle, on_output: OutputCallback | None) -> None:
        self.handle = handle
        self.on_output = on_output
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at: float | None = None
        self.started_mono = 0.0
        self.result: TaskResult | None = None
        self.timed_out = False
        self.cancelled = False
        self.stopping = False
        self.timers: list[threading.Timer] = []
        #: Why part of the output never reached its file (a full disk), by stream.
        self.output_errors: dict[str, str] = {}

    @property
    def task(self) -> Task:
        return self.handle.task


class LocalExecutor(Executor):
    """Run tasks as local subprocesses, at most ``max_jobs`` at once.

    Args:
        max_jobs: how many processes run at the same time.
        grace: seconds between SIGTERM and SIGKILL when a task is stopped.
    """

    name = "local"

    def __init__(self, max_jobs: int = 1, *, grace: float = 10.0) -> None:
        if isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or max_jobs < 1:
            raise ConfigError(
                f"max_jobs must be a whole number of at least 1, got {max_jobs!r}.",
                parameter="max_jobs",
                value=max_jobs,
            )
        if grace < 0:
            raise ConfigError(
                f"grace must be zero or more seconds, got {grace!r}.",
                parameter="grace",
                value=grace,
            )
        self._max_jobs = max_jobs
        self.grace = grace
        self._cond = threading.Condition()
        self._jobs: dict[str, _Job] = {}
        self._pending: deque[_Job] = deque()
        self._running = 0
        self._ids = itertools.count(1)

    @property
    def max_parallel(self) -> int:
        return self._max_jobs

    # ----------------------------------------------------------------- interface
    def submit(self, task: Task, on_output: OutputCallback | None = None) -> TaskHandle:
        if not task.argv:
            raise ValueError(f"task {task.key!r} has an empty argv")
        with self._cond:
            if task.key in self._jobs:
                raise ValueError(f"a task with key {task.key!r} was already submitted")
            handle = TaskHandle(task, f"local-{next(self._ids)}")
            job = _Job(handle, on_output)
            self._jobs[task.key] = job
            self._pending.append(job)
        self._start_pending()
        return handle

    def wait(self, handles: Sequence[TaskHandle], timeout: float | None = None) -> list[TaskResult]:
        jobs = [self._job(h) for h in handles]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            # Queued tasks start from the caller's thread: a child's parent-death signal
            # follows the thread that started it, and the Runner's thread outlives them all.
            self._start_pending()
            with self._cond:
                done = [j.result for j in jobs if j.result is not None]
                if done or not jobs:
                    return done
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return []
                self._cond.wait(remaining)

    def cancel(self, handle: TaskHandle) -> None:
        job = self._job(handle)
        with self._cond:
            if job.result is not None:
                return
            if job in self._pending:
                self._pending.remove(job)
                job.cancelled = True
                job.result = TaskResult(handle.key, None, cancelled=True)
                self._cond.notify_all()
                return
        self._stop(job, "cancel")

    def close(self) -> None:
        with self._cond:
            handles = [j.handle for j in self._jobs.values() if j.result is None]
        for handle in handles:
            self.cancel(handle)
        self.wait_all(handles)

    # ----------------------------------------------------------------- internals
    def _job(self, handle: TaskHandle) -> _Job:
        job = self._jobs.get(handle.key)
        if job is None or job.handle.id != handle.id:
            raise ValueError(f"{handle!r} was not submitted to this executor")
        return job

    def _start_pending(self) -> None:
        while True:
            with self._cond:
                if not self._pending or self._running >= self._max_jobs:
                    return
                job = self._pending.popleft()
                self._running += 1
            self._launch(job)

    def _launch(self, job: _Job) -> None:
        task = job.task
        try:
            out = open(task.stdout_path, "ab")  # noqa: SIM115 - closed by its pump thread
            err = open(task.stderr_path, "ab")  # noqa: SIM115
        except OSError as e:
            self._finish(job, error=f"cannot open the output files of {task.key}: {e}")
            return
        try:
            proc = subprocess.Popen(
                list(task.argv),
                cwd=task.cwd,
                env={**os.environ, **task.env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as e:
            out.close()
            err.close()
            self._finish(job, error=f"cannot start {task.argv[0]!r}: {e.strerror or e}")
            return
        job.proc = proc
        job.started_at = time.time()
        job.started_mono = time.monotonic()
        assert proc.stdout is not None and proc.stderr is not None
        pumps = [
            threading.Thread(
                target=self._pump, args=(job, proc.stdout, out, "stdout"), daemon=True
            ),
            threading.Thread(
                target=self._pump, args=(job, proc.stderr, err, "stderr"), daemon=True
            ),
        ]
        for pump in pumps:
            pump.start()
        if task.timeout is not None:
            timer = threading.Timer(task.timeout, self._stop, args=(job, "timeout"))
            timer.daemon = True
            job.timers.append(timer)
            timer.start()
        threading.Thread(target=self._watch, args=(job, pumps), daemon=True).start()

    @staticmethod
    def _pump(
        job: _Job, pipe: IO[bytes], sink: IO[bytes], stream: Literal["stdout", "stderr"]
    ) -> None:
        lost = 0
        try:
            for line in iter(pipe.readline, b""):
                # The pipe is drained to the end whatever happens to the file: a child whose
                # pipe fills up would block forever.
                if lost:
                    lost += len(line)
                else:
                    try:
                        sink.write(line)
                        sink.flush()
                    except OSError as e:
                        lost = len(line)
                        job.output_errors[stream] = e.strerror or str(e)
                if job.on_output is not None:
                    text = line.decode("utf-8", errors="replace").rstrip("\r\n")
                    # A failing callback must not stop the copy: the child would block on a
                    # full pipe.
                    with contextlib.suppress(Exception):
                        job.on_output(job.task, stream, text)
        finally:
            with contextlib.suppress(OSError):  # the same full disk, already recorded
                sink.close()
            pipe.close()
            if lost:
                path = job.task.stdout_path if stream == "stdout" else job.task.stderr_path
                job.output_errors[stream] = (
                    f"{path} is incomplete: the last {lost:,} bytes of the run's {stream} "
                    f"could not be written ({job.output_errors[stream]})"
                )

    def _watch(self, job: _Job, pumps: list[threading.Thread]) -> None:
        assert job.proc is not None
        code = job.proc.wait()
        for timer in job.timers:
            timer.cancel()
        # Whatever the task left running in its group goes with it, and its pipes close.
        _killpg(job.proc.pid, signal.SIGKILL)
        for pump in pumps:
            pump.join(timeout=max(self.grace, 1.0))
        self._finish(
            job,
            exit_code=code if code >= 0 else None,
            signum=-code if code < 0 else None,
            duration=time.monotonic() - job.started_mono,
        )

    def _finish(
        self,
        job: _Job,
        *,
        exit_code: int | None = None,
        signum: int | None = None,
        duration: float = 0.0,
        error: str | None = None,
    ) -> None:
        with self._cond:
            job.result = TaskResult(
                job.task.key,
                exit_code,
                signal=signum,
                timed_out=job.timed_out,
                cancelled=job.cancelled,
                started_at=job.started_at,
                duration=duration,
                error=error,
                output_error="; ".join(job.output_errors.values()) or None,
            )
            self._running -= 1
            self._cond.notify_all()

    def _stop(self, job: _Job, reason: Literal["timeout", "cancel"]) -> None:
        with self._cond:
            if job.result is not None or job.proc is None:
                return
            if reason == "timeout":
                job.timed_out = True
            else:
                job.cancelled = True
            again = job.stopping
            job.stopping = True
        proc = job.proc
        if proc.returncode is not None:
            return
        if again:
            _killpg(proc.pid, signal.SIGKILL)
            return
        _killpg(proc.pid, signal.SIGTERM)
        timer = threading.Timer(self.grace, self._kill, args=(job,))
        timer.daemon = True
        job.timers.append(timer)
        timer.start()

    @staticmethod
    def _kill(job: _Job) -> None:
        if job.proc is not None and job.proc.returncode is None:
            _killpg(job.proc.pid, signal.SIGKILL)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
