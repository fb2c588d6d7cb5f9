"""QueuedExecutor: the submit/wait/cancel queue that the local and Ray executors share.

A backend that starts each task itself (a local process, a Ray actor) holds at most
``max_jobs`` of them at once and queues the rest; the queue, the handles and the waiting
live here once, and the backend writes how a task is launched and stopped.
"""

from __future__ import annotations

import abc
import itertools
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import ClassVar, Generic, TypeVar

from trialbook.errors import ConfigError
from trialbook.execution._executor import (
    Executor,
    OutputCallback,
    Task,
    TaskHandle,
    TaskResult,
    check_jobs,
)

__all__ = ["QueuedExecutor", "QueuedJob"]


class QueuedJob:
    """What a :class:`QueuedExecutor` knows of one task; backends subclass it for their own
    state. ``result`` is set once, under the executor's lock, when the task has ended."""

    def __init__(self, number: int, handle: TaskHandle, on_output: OutputCallback | None) -> None:
        self.number = number
        self.handle = handle
        self.on_output = on_output
        self.result: TaskResult | None = None

    @property
    def task(self) -> Task:
        return self.handle.task


JobT = TypeVar("JobT", bound=QueuedJob)


class QueuedExecutor(Executor, Generic[JobT]):
    """An executor that launches at most ``max_jobs`` tasks at once and queues the others.

    Subclasses implement :meth:`_new_job` (their job record), :meth:`_launch` (start a task
    whose turn came; it ends by calling :meth:`_done`), :meth:`_cancel_launched` (ask a
    launched task to stop; called again, kill it) and :meth:`_release` (free what is left at
    ``close``).

    Rules kept here:

    * Queued tasks are launched from the thread that calls ``submit`` or ``wait`` (and from
      wherever a backend calls :meth:`_start_pending`), in submission order.
    * A task cancelled while queued never launches; its result has ``cancelled=True`` and no
      start.
    * :meth:`_done` records a launched task's result once, frees its slot and wakes ``wait``.

    Args:
        max_jobs: how many tasks run at the same time.
        grace: seconds between asking a task to stop and killing it.
    """

    #: At most this many seconds between two looks at the queue while ``wait`` blocks
    #: (None: only when a task ends).
    _wait_slice: ClassVar[float | None] = None

    def __init__(self, max_jobs: int = 1, *, grace: float = 10.0) -> None:
        check_jobs(max_jobs, "max_jobs")
        if grace < 0:
            raise ConfigError(
                f"grace must be zero or more seconds, got {grace!r}.",
                parameter="grace",
                value=grace,
            )
        self._max_jobs = max_jobs
        self.grace = grace
        self._cond = threading.Condition()
        self._jobs: dict[str, JobT] = {}
        self._pending: deque[JobT] = deque()
        self._running = 0
        self._ids = itertools.count(1)

    @property
    def max_parallel(self) -> int:
        return self._max_jobs

    # ----------------------------------------------------------------- for backends
    @abc.abstractmethod
    def _new_job(self, number: int, handle: TaskHandle, on_output: OutputCallback | None) -> JobT:
        """The backend's record of a task just submitted (called under the lock)."""

    @abc.abstractmethod
    def _launch(self, job: JobT) -> None:
        """Start ``job`` (its slot is taken); :meth:`_done` records how it ended."""

    @abc.abstractmethod
    def _cancel_launched(self, job: JobT) -> None:
        """Ask a launched ``job`` to stop, or kill it when asked before; return at once."""

    def _release(self) -> None:
        """Free the backend's resources once every task has ended (``close``)."""

    # ----------------------------------------------------------------- interface
    def submit(self, task: Task, on_output: OutputCallback | None = None) -> TaskHandle:
        if not task.argv:
            raise ValueError(f"task {task.key!r} has an empty argv")
        self.start()
        with self._cond:
            if task.key in self._jobs:
                raise ValueError(f"a task with key {task.key!r} was already submitted")
            number = next(self._ids)
            handle = TaskHandle(task, f"{self.name}-{number}")
            job = self._new_job(number, handle, on_output)
            self._jobs[task.key] = job
            self._pending.append(job)
        self._start_pending()
        return handle

    def wait(self, handles: Sequence[TaskHandle], timeout: float | None = None) -> list[TaskResult]:
        jobs = [self._job(h) for h in handles]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._start_pending()
            with self._cond:
                done = [j.result for j in jobs if j.result is not None]
                if done or not jobs:
                    return done
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return []
                if self._wait_slice is not None:
                    remaining = (
                        self._wait_slice if remaining is None else min(remaining, self._wait_slice)
                    )
                self._cond.wait(remaining)

    def cancel(self, handle: TaskHandle) -> None:
        job = self._job(handle)
        with self._cond:
            if job.result is not None:
                return
            if job in self._pending:
                self._pending.remove(job)
                job.result = TaskResult(handle.key, None, cancelled=True)
                self._cond.notify_all()
                return
        self._cancel_launched(job)

    def close(self) -> None:
        with self._cond:
            handles = [j.handle for j in self._jobs.values() if j.result is None]
        for handle in handles:
            self.cancel(handle)
        self.wait_all(handles)
        self._release()

    # ----------------------------------------------------------------- internals
    def _job(self, handle: TaskHandle) -> JobT:
        job = self._jobs.get(handle.key)
        if job is None or job.handle.id != handle.id:
            raise ValueError(f"{handle!r} was not submitted to this executor")
        return job

    def _start_pending(self) -> None:
        """Launch queued tasks while slots are free."""
        while True:
            with self._cond:
                if not self._pending or self._running >= self._max_jobs:
                    return
                job = self._pending.popleft()
                self._running += 1
            self._launch(job)

    def _done(self, job: JobT, result: TaskResult) -> None:
        """Record how a launched ``job`` ended and free its slot."""
        with self._cond:
            job.result = result
            self._running -= 1
            self._cond.notify_all()
