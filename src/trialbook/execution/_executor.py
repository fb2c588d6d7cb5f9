"""The Executor interface: where the Runner's processes run (local processes, Ray, Slurm).

A backend implements :meth:`Executor.submit`, :meth:`Executor.wait` and :meth:`Executor.cancel`
over the frozen records :class:`Task` and :class:`TaskResult`; the Runner knows nothing else
about it. :class:`trialbook.testing.ExecutorContract` holds the tests every backend must pass.
"""

from __future__ import annotations

import abc
import signal
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeAlias

from trialbook.config._experiment import Resources
from trialbook.errors import ConfigError

__all__ = [
    "Executor",
    "OutputCallback",
    "Resources",
    "Task",
    "TaskHandle",
    "TaskResult",
    "check_jobs",
]


def check_jobs(jobs: object, name: str = "jobs") -> int:
    """``jobs``, how many runs execute at once (``--jobs``, the Runner's ``jobs``, an
    executor's ``max_jobs``: ``name``), when it is a whole number of at least 1.

    Raises:
        ConfigError: anything else, in one sentence naming the value.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(
            f"{name} must be a whole number of at least 1, got {jobs!r}.",
            parameter=name,
            value=jobs,
        )
    return jobs


#: Called with the task, ``"stdout"`` or ``"stderr"``, and one line of output (no newline).
OutputCallback: TypeAlias = Callable[["Task", Literal["stdout", "stderr"], str], None]


@dataclass(frozen=True)
class Task:
    """One process to run.

    Attributes:
        key: the caller's name for the task (the Runner uses the run id); unique among the
            tasks of one executor.
        argv: the program and its arguments.
        env: variables set on top of the environment the executor inherits.
        cwd: the working directory of the process.
        stdout_path, stderr_path: files that receive the process's output, appended to,
            line by line as it arrives.
        timeout: seconds after the start after which the process is stopped (None: never).
        name: a label for people (the run's name and seed), e.g. a Slurm job name.
        resources: what the process asks of its machine (``experiment.resources``); a
            scheduling backend (Ray, Slurm) reserves it, the local one ignores it.
        settings: the backend's own settings for this task (``experiment.slurm`` for
            Slurm), as written in the config; each backend checks the keys it takes.
    """

    key: str
    argv: tuple[str, ...]
    cwd: Path
    stdout_path: Path
    stderr_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None
    name: str = ""
    resources: Resources = field(default_factory=Resources)
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskHandle:
    """What :meth:`Executor.submit` returns; pass it to ``wait`` and ``cancel``."""

    task: Task
    id: str

    @property
    def key(self) -> str:
        return self.task.key


@dataclass(frozen=True)
class TaskResult:
    """How a task ended.

    Attributes:
        key: the task's key.
        exit_code: the process's exit status, or None when a signal ended it or it never ran.
        signal: the number of the signal that ended the process, if one did.
        timed_out: the executor stopped it because its timeout passed.
        cancelled: :meth:`Executor.cancel` stopped it (or it never started).
        started_at: epoch seconds when the process started; None if it never started.
        duration: seconds from start to exit (0 if it never started).
        error: why the executor could not start the process (e.g. the program is missing).
        output_error: what of the process's output never reached ``stdout_path`` /
            ``stderr_path`` and why (a full disk); the output was still drained and passed
            to the callback, so the process never blocked on it.
        lost: the backend lost the process without an exit status of its own (its node
            failed, it ran out of memory, its Ray worker died), and why, in a sentence; the
            Runner marks such a run crashed with this reason.
        reason: how the backend itself ended the task, when it did, in a few words (a
            Slurm time limit: ``"timed out (TIMEOUT)"``; a job cancelled outside trialbook:
            ``"cancelled in Slurm (CANCELLED by 0)"``). The Runner marks the run killed
            with this reason when ``cancelled`` is set, and failed with it otherwise.
    """

    key: str
    exit_code: int | None
    signal: int | None = None
    timed_out: bool = False
    cancelled: bool = False
    started_at: float | None = None
    duration: float = 0.0
    error: str | None = None
    output_error: str | None = None
    lost: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """The process exited with status 0 on its own."""
        return self.exit_code == 0 and not (
            self.timed_out or self.cancelled or self.error or self.lost or self.reason
        )

    @property
    def signal_name(self) -> str | None:
        """``"SIGKILL"`` etc. for :attr:`signal`."""
        if self.signal is None:
            return None
        try:
            return signal.Signals(self.signal).name
        except ValueError:
            return f"signal {self.signal}"


class Executor(abc.ABC):
    """Runs tasks (processes) somewhere and reports how they ended.

    Rules every backend follows:

    * ``submit``, ``wait`` and ``cancel`` are called from one thread (the Runner's); they are
      not required to be thread-safe. Output callbacks may be called from any thread, in
      order per stream of one task.
    * ``submit`` returns at once. The task starts as soon as fewer than :attr:`max_parallel`
      tasks of this executor are running; until then it waits in the backend's queue.
    * Each task's output goes, line by line, to its ``stdout_path`` / ``stderr_path`` (opened
      for appending) and to the ``on_output`` callback given to ``submit``. When a file cannot
      be written (a full disk), the output is still read to the end and passed to the
      callback, and the result's ``output_error`` says what was lost.
    * A task that runs longer than its ``timeout`` is stopped: the backend asks it to stop
      (SIGTERM to its whole process group locally) and kills it after :attr:`grace` seconds.
      Its result has ``timed_out=True``.
    * ``cancel`` stops a task the same way and returns at once; a task that has not started
      never starts. Its result has ``cancelled=True``. Cancelling again kills it at once;
      cancelling a finished task does nothing.
    * ``wait`` blocks until at least one of the given tasks has finished (or ``timeout``
      seconds pass) and returns the results of all of them that have finished, in the order
      given. A finished task's result is returned by every later ``wait`` that names it.
    * When a task's process ends, any process it left behind in its group is killed: no
      process of a task outlives its result.
    * Results are frozen :class:`TaskResult` records. A process that cannot be started gives
      a result with ``error`` set; ``submit`` raises only for a task the backend can never
      run (``ValueError``, e.g. a key already used).
    """

    #: Seconds between asking a task to stop and killing it.
    grace: float = 10.0

    #: The backend's name, as ``trialbook run --executor`` spells it.
    name: ClassVar[str] = "custom"

    #: True when the processes do not run as descendants of this process (another host, a
    #: Ray worker, a Slurm step). The run's process takes the run over from the Runner by
    #: the Runner's identity (``TRIALBOOK_RUNNER_HOST`` and ``TRIALBOOK_RUNNER_PID``, always
    #: set), not by process tree.
    remote: ClassVar[bool] = False

    #: True when a submitted task may wait in the backend's own queue (a Slurm job pending):
    #: the Runner then leaves the run ``queued`` (claimed, so no other runner takes it) until
    #: its process starts and moves it to ``running`` itself.
    queues: ClassVar[bool] = False

    @property
    @abc.abstractmethod
    def max_parallel(self) -> int:
        """How many tasks this executor runs at once."""

    @abc.abstractmethod
    def submit(self, task: Task, on_output: OutputCallback | None = None) -> TaskHandle:
        """Queue ``task`` and return its handle."""

    def submit_many(
        self, tasks: Sequence[Task], on_output: OutputCallback | None = None
    ) -> list[TaskHandle]:
        """Queue several tasks at once; their handles, in the order given.

        The Runner calls it with every run it may start in one go. Each task keeps its own
        handle, result and cancel, exactly as if it had been given to :meth:`submit`; a
        backend may only hand them to its scheduler together (Slurm: one job array for the
        tasks that ask for the same job settings). Every task is checked before any is
        queued: one that ``submit`` would refuse (``ValueError``) queues none. The default
        checks the keys and calls :meth:`submit` for each.
        """
        keys = [t.key for t in tasks]
        if len(set(keys)) != len(keys):
            raise ValueError(f"Two tasks share one key among {keys!r}.")
        return [self.submit(task, on_output) for task in tasks]

    @abc.abstractmethod
    def wait(self, handles: Sequence[TaskHandle], timeout: float | None = None) -> list[TaskResult]:
        """Results of the finished tasks among ``handles``; blocks until there is one."""

    @abc.abstractmethod
    def cancel(self, handle: TaskHandle) -> None:
        """Stop the task (see the class docstring)."""

    # ----------------------------------------------------------------- conveniences
    def wait_all(self, handles: Iterable[TaskHandle]) -> list[TaskResult]:
        """Block until every task has finished; results in the order given."""
        pending = list(handles)
        done: dict[str, TaskResult] = {}
        while len(done) < len(pending):
            for result in self.wait([h for h in pending if h.key not in done]):
                done[result.key] = result
        return [done[h.key] for h in pending]

    def run(self, task: Task, on_output: OutputCallback | None = None) -> TaskResult:
        """Submit one task and wait for it."""
        return self.wait_all([self.submit(task, on_output)])[0]

    def start(self) -> None:
        """Make the backend ready now (join a cluster, start a local one) instead of at the
        first ``submit``. The Runner calls it before it writes anything, so a backend that
        cannot be reached fails with nothing written. Calling it again does nothing; the
        default does nothing.

        Raises:
            ConfigError: the backend cannot be used as configured (its library is missing,
                no cluster answers at the address given), in one sentence.
        """
        return None

    @abc.abstractmethod
    def close(self) -> None:
        """Cancel every unfinished task, wait for them, and release the backend's resources."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
