"""LocalExecutor: tasks as local processes, ``max_jobs`` at a time.

Every task is started by the executor's fork server (``_forkserver.py``): a run of the Runner
(``python -m trialbook.execution._child``) is forked from a process that has already imported
trialbook, which saves ~0.25 s per run; any other program is forked and ``exec``'d. Each task
gets its own session either way, so a timeout or a cancel reaches every process it started,
and Ctrl-C at the terminal reaches only the Runner, which decides what to stop. Two threads per
task copy its stdout and stderr, line by line, to the task's files and to the output callback;
a third waits for the server to report how it ended and records its result.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import IO, Any, Literal

from trialbook.execution._executor import OutputCallback, TaskHandle, TaskResult
from trialbook.execution._forkserver import ForkServer, forkable, start_key
from trialbook.execution._queued import QueuedExecutor, QueuedJob

__all__ = ["FORK_SERVER_ENV", "LocalExecutor"]

#: ``TRIALBOOK_FORK_SERVER=0`` starts every run in a fresh interpreter instead of forking it.
FORK_SERVER_ENV = "TRIALBOOK_FORK_SERVER"
#: Fork servers kept at most (one per set of start-time variables such as PYTHONHASHSEED; the
#: Runner gives all its runs the same); the least recently used idle one is stopped to make room.
MAX_SERVERS = 6


class _Job(QueuedJob):
    """The executor's private state of one task."""

    def __init__(self, number: int, handle: TaskHandle, on_output: OutputCallback | None) -> None:
        super().__init__(number, handle, on_output)
        #: The process (and its process group), once the fork server has started it.
        self.pid: int | None = None
        self.started_at: float | None = None
        self.started_mono = 0.0
        #: Set when the fork server reports the end: ``code`` (negative: a signal), ``error``
        #: (it never started) or ``lost`` (the server died first).
        self.ended = threading.Event()
        self.code: int | None = None
        self.ended_mono = 0.0
        self.error: str | None = None
        self.lost: str | None = None
        self.timed_out = False
        self.cancelled = False
        self.stopping = False
        self.timers: list[threading.Timer] = []
        #: Why part of the output never reached its file (a full disk), by stream.
        self.output_errors: dict[str, str] = {}


class LocalExecutor(QueuedExecutor[_Job]):
    """Run tasks as local processes, at most ``max_jobs`` at once.

    Runs of the Runner are forked from a fork server that has trialbook imported (see
    :mod:`trialbook.execution._forkserver`); other programs are started as they are. Queued
    tasks start from the thread that calls ``submit`` or ``wait``: the fork server's
    parent-death signal follows the thread that started it, and the Runner's outlives them.

    Args:
        max_jobs: how many processes run at the same time.
        grace: seconds between SIGTERM and SIGKILL when a task is stopped.
        fork_server: fork the Runner's runs from a pre-imported server (default: on, unless
            ``TRIALBOOK_FORK_SERVER=0``); off, each starts a fresh interpreter (~0.25 s more).
    """

    name = "local"

    def __init__(
        self, max_jobs: int = 1, *, grace: float = 10.0, fork_server: bool | None = None
    ) -> None:
        super().__init__(max_jobs, grace=grace)
        if fork_server is None:
            fork_server = os.environ.get(FORK_SERVER_ENV, "1").strip() not in ("0", "false", "no")
        self.fork_server = fork_server
        self._numbered: dict[int, _Job] = {}
        #: Live servers, least recently used first; stopped ones wait in ``_retired``.
        self._servers: list[ForkServer] = []
        self._retired: list[ForkServer] = []
        #: How many tasks asked for each set of start-time variables.
        self._seen: dict[tuple[tuple[str, str], ...], int] = {}

    # ----------------------------------------------------------------- interface
    def warm_up(self, env: dict[str, str]) -> None:
        """Start, now, the fork server that will fork the Runner's runs whose environment is
        ``env`` (their run ids aside): it starts Python and imports trialbook while the caller
        does other work (the Runner queues its runs), instead of when the first run is
        submitted. Does nothing without the fork server, or when that server runs already."""
        if not self.fork_server:
            return
        full = {**os.environ, **env}
        key = start_key(full)
        with self._cond:
            if any(s.alive and s.key == key for s in self._servers):
                return
        server = ForkServer(full, self._on_event, warm=True)
        with self._cond:
            self._servers.append(server)

    # ----------------------------------------------------------------- queue hooks
    def _new_job(self, number: int, handle: TaskHandle, on_output: OutputCallback | None) -> _Job:
        job = _Job(number, handle, on_output)
        self._numbered[number] = job
        return job

    def _cancel_launched(self, job: _Job) -> None:
        self._stop(job, "cancel")

    def _release(self) -> None:
        with self._cond:
            servers = self._servers + self._retired
            self._servers, self._retired = [], []
        for server in servers:
            server.close()

    # ----------------------------------------------------------------- internals
    def _server(self, env: dict[str, str], forkable: bool) -> tuple[ForkServer, bool]:
        """The server to start a task with environment ``env``, and whether it forks the task
        (``forkable``: it runs ``CHILD_MODULE``) or ``exec``s it.

        A task is forked by a server started with its start-time variables (``start_key``).
        A key seen for the first time while other servers run is ``exec``'d by one of them,
        as fast as a server of its own would be (both start an interpreter); its second task
        starts that server, and every later one is forked. (The Runner's runs all have one
        set: every seed gets the same PYTHONHASHSEED.)
        """
        key = start_key(env)
        with self._cond:
            seen = self._seen.get(key, 0)
            self._seen[key] = seen + 1
            alive = [s for s in self._servers if s.alive]
            match = [s for s in alive if s.key == key]
            if forkable and match:
                server, fork = match[-1], True
            elif alive and not (forkable and seen):
                server, fork = alive[-1], False
            else:
                server, fork = None, forkable
            if server is not None:
                self._servers.remove(server)
                self._servers.append(server)
                return server, fork
        server = ForkServer(env, self._on_event)
        with self._cond:
            gone = [s for s in self._retired if s.proc.poll() is not None]
            self._retired = [s for s in self._retired if s not in gone]
            self._servers.append(server)
            idle = [s for s in self._servers[:-1] if not s.busy or not s.alive]
            while len(self._servers) > MAX_SERVERS and idle:
                old = idle.pop(0)
                self._servers.remove(old)
                self._retired.append(old)
                old.stop()  # it exits on its own; reaped later
        for old in gone:
            old.close()
        return server, fork

    def _launch(self, job: _Job) -> None:
        task = job.task
        try:
            out = open(task.stdout_path, "ab")  # noqa: SIM115 - closed by its pump thread
            err = open(task.stderr_path, "ab")  # noqa: SIM115
        except OSError as e:
            self._finish(job, error=f"cannot open the output files of {task.key}: {e}")
            return
        env = {**os.environ, **task.env}
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            server, fork = self._server(env, self.fork_server and forkable(task.argv))
            server.launch(
                job.number,
                fork=fork,
                argv=task.argv,
                cwd=str(task.cwd),
                env=env,
                fds=(out_w, err_w),
            )
        except OSError as e:
            for fd in (out_r, err_r):
                os.close(fd)
            out.close()
            err.close()
            self._finish(job, error=f"cannot start {task.argv[0]!r}: {e.strerror or e}")
            return
        finally:
            # The server holds its own copies now; the pipes close when the task's do.
            os.close(out_w)
            os.close(err_w)
        pumps = [
            threading.Thread(
                target=self._pump, args=(job, os.fdopen(out_r, "rb"), out, "stdout"), daemon=True
            ),
            threading.Thread(
                target=self._pump, args=(job, os.fdopen(err_r, "rb"), err, "stderr"), daemon=True
            ),
        ]
        for pump in pumps:
            pump.start()
        threading.Thread(target=self._watch, args=(job, pumps), daemon=True).start()

    def _on_event(self, number: int, message: dict[str, Any]) -> None:
        """A fork server's report on task ``number`` (from its reader thread)."""
        with self._cond:
            job = self._numbered.get(number)
        if job is None:
            return
        if "pid" in message:
            with self._cond:
                job.started_at = float(message["at"])
                job.started_mono = float(message["mono"])
                job.pid = int(message["pid"])  # last: a reader that sees the pid sees the rest
                stopping = job.stopping
            if stopping:  # cancelled while the server was starting it
                job.stopping = False
                self._stop(job, "cancel")
            elif job.task.timeout is not None:
                remaining = job.task.timeout - (time.monotonic() - job.started_mono)
                timer = threading.Timer(max(remaining, 0.0), self._stop, args=(job, "timeout"))
                timer.daemon = True
                job.timers.append(timer)
                timer.start()
            return
        if "code" in message:
            job.code = int(message["code"])
            job.ended_mono = float(message["mono"])
        elif "error" in message:
            job.error = str(message["error"])
        else:
            job.lost = str(message.get("lost"))
            if job.pid is not None:
                _killpg(job.pid, signal.SIGKILL)
        job.ended.set()

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
        job.ended.wait()
        for timer in job.timers:
            timer.cancel()
        for pump in pumps:
            pump.join(timeout=max(self.grace, 1.0))
        code = job.code
        self._finish(
            job,
            exit_code=code if code is not None and code >= 0 else None,
            signum=-code if code is not None and code < 0 else None,
            duration=max(job.ended_mono - job.started_mono, 0.0) if code is not None else 0.0,
            error=job.error,
            lost=job.lost,
        )

    def _finish(
        self,
        job: _Job,
        *,
        exit_code: int | None = None,
        signum: int | None = None,
        duration: float = 0.0,
        error: str | None = None,
        lost: str | None = None,
    ) -> None:
        with self._cond:  # timed_out and cancelled are set under it
            result = TaskResult(
                job.task.key,
                exit_code,
                signal=signum,
                timed_out=job.timed_out,
                cancelled=job.cancelled,
                started_at=job.started_at,
                duration=duration,
                error=error,
                output_error="; ".join(job.output_errors.values()) or None,
                lost=lost,
            )
        self._done(job, result)

    def _stop(self, job: _Job, reason: Literal["timeout", "cancel"]) -> None:
        with self._cond:
            if job.result is not None or job.ended.is_set():
                return
            if reason == "timeout":
                job.timed_out = True
            else:
                job.cancelled = True
            again = job.stopping
            job.stopping = True
            pid = job.pid
        if pid is None:
            return  # the server is starting it: stopped as soon as its pid is known
        if again:
            _killpg(pid, signal.SIGKILL)
            return
        _killpg(pid, signal.SIGTERM)
        timer = threading.Timer(self.grace, self._kill, args=(job,))
        timer.daemon = True
        job.timers.append(timer)
        timer.start()

    @staticmethod
    def _kill(job: _Job) -> None:
        if job.pid is not None and not job.ended.is_set():
            _killpg(job.pid, signal.SIGKILL)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
