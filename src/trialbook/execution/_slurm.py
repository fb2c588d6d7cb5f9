"""SlurmExecutor: each task is a Slurm job, submitted through submitit; the tasks given to
:meth:`SlurmExecutor.submit_many` that ask for the same job settings are the elements of one
job array (one ``sbatch``), each still its own job for sacct, ``scancel`` and its result.

The job runs :func:`_job_main` on the compute node (submitit pickles the call into its folder,
which must be on a filesystem the nodes share): it starts the task's process in a session of
its own with its output appended to the task's files, writes a start marker, and returns how
the process ended (submitit pickles that back). The executor reads the markers and results
from the folder, follows the files to pass output lines to ``on_output``, and asks ``sacct``
how a job that left no result ended (a time limit, a node failure, ``scancel``).

Stopping a running task goes through the shared folder too: a ``.stop`` file asks the job to
send SIGTERM to the process's group, and to kill it :attr:`grace` seconds later (a ``.kill``
file kills at once); a job that does not answer is cancelled with ``scancel``. A task that has
not started is cancelled with ``scancel`` at once.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trialbook._redact import hide_passwords
from trialbook.config._suggest import did_you_mean
from trialbook.errors import ConfigError
from trialbook.execution._executor import (
    Executor,
    OutputCallback,
    Task,
    TaskHandle,
    TaskResult,
    check_jobs,
)

__all__ = [
    "SLURM_SETTINGS",
    "SlurmExecutor",
    "check_slurm_settings",
    "parse_slurm_time",
    "slurm_job_state",
]

#: The keys ``experiment.slurm`` (and the ``--slurm-*`` options) take.
SLURM_SETTINGS = (
    "partition",
    "time",
    "cpus_per_task",
    "gpus_per_node",
    "mem_gb",
    "account",
    "qos",
    "constraint",
    "exclude",
    "nodelist",
    "comment",
    "setup",
    "additional_parameters",
)
_INT_SETTINGS = ("cpus_per_task", "gpus_per_node")
_TEXT_SETTINGS = ("partition", "account", "qos", "constraint", "exclude", "nodelist", "comment")
#: sacct states of a job that has not ended.
_ACTIVE_STATES = frozenset(
    {
        "PENDING",
        "RUNNING",
        "REQUEUED",
        "RESIZING",
        "SUSPENDED",
        "CONFIGURING",
        "COMPLETING",
        "STAGE_OUT",
        "SIGNALING",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "SPECIAL_EXIT",
        "RESV_DEL_HOLD",
        "PREEMPTED",
    }
)
#: Seconds between two looks at the shared folder.
_POLL = 0.1
#: Seconds between two ``sacct`` calls for jobs that may have ended without a result.
_SACCT_EVERY = 2.0
#: Seconds a COMPLETED job's result may take to show on the shared filesystem.
_RESULT_LAG = 10.0
#: Seconds a job may take to answer a ``.stop`` / ``.kill`` file before ``scancel``.
_ANSWER = 5.0
_EXTRA = "pip install 'trialbook[slurm]'"


def _submitit() -> Any:
    try:
        import submitit
    except ImportError as e:
        raise ConfigError(
            f"--executor slurm needs submitit, which is not installed; run {_EXTRA}."
        ) from e
    return submitit


def parse_slurm_time(value: Any) -> int:
    """Minutes (rounded up) of a Slurm time limit: a number of minutes, or ``MM``,
    ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM`` or ``D-HH:MM:SS``.

    Raises:
        ConfigError: anything else.
    """
    bad = ConfigError(
        f"experiment.slurm.time must be minutes or a Slurm time such as '2:00:00' or "
        f"'1-12:00:00', not {value!r}.",
        parameter="slurm.time",
        value=value,
    )
    if isinstance(value, bool):
        raise bad
    if isinstance(value, int | float):
        if not value > 0 or value == math.inf:
            raise bad
        return math.ceil(value)
    if not isinstance(value, str):
        raise bad
    match = re.fullmatch(r"\s*(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?\s*", value)
    if match is None:
        raise bad
    days, a, b, c = match.groups()
    parts = [int(x) for x in (a, b, c) if x is not None]
    if days is not None:  # D-HH, D-HH:MM, D-HH:MM:SS
        hours, minutes, seconds = [*parts, 0, 0][:3]
        total = int(days) * 86400 + hours * 3600 + minutes * 60 + seconds
    elif len(parts) == 1:
        total = parts[0] * 60
    elif len(parts) == 2:
        total = parts[0] * 60 + parts[1]
    else:
        total = parts[0] * 3600 + parts[1] * 60 + parts[2]
    if total <= 0:
        raise bad
    return math.ceil(total / 60)


def check_slurm_settings(settings: Mapping[str, Any], where: str = "experiment.slurm") -> None:
    """Check ``experiment.slurm`` (or the ``--slurm-*`` options): known keys, right types.

    Raises:
        ConfigError: the first problem, in one sentence naming the key and the fix.
    """
    for key, value in settings.items():
        if key not in SLURM_SETTINGS:
            fix = did_you_mean(str(key), SLURM_SETTINGS) or "."
            raise ConfigError(
                f"Unknown key {key!r} in {where}: it takes {', '.join(SLURM_SETTINGS)}{fix}",
                parameter=f"slurm.{key}",
                value=value,
            )
        if value is None:
            continue
        if key == "time":
            parse_slurm_time(value)
        elif key in _INT_SETTINGS and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise ConfigError(
                f"{where}.{key} must be a whole number of 0 or more, not {value!r}.",
                parameter=f"slurm.{key}",
                value=value,
            )
        elif key == "mem_gb" and (
            isinstance(value, bool) or not isinstance(value, int | float) or not value > 0
        ):
            raise ConfigError(
                f"{where}.mem_gb must be a positive number of gigabytes, not {value!r}.",
                parameter="slurm.mem_gb",
                value=value,
            )
        elif key in _TEXT_SETTINGS and not isinstance(value, str | int):
            raise ConfigError(
                f"{where}.{key} must be a string, not {value!r}.",
                parameter=f"slurm.{key}",
                value=value,
            )
        elif key == "setup" and not (
            isinstance(value, list | tuple) and all(isinstance(x, str) for x in value)
        ):
            raise ConfigError(
                f"{where}.setup must be a list of shell lines, not {value!r}.",
                parameter="slurm.setup",
                value=value,
            )
        elif key == "additional_parameters" and not isinstance(value, Mapping):
            raise ConfigError(
                f"{where}.additional_parameters must be a mapping of sbatch options such as "
                f"{{gres: 'gpu:1'}}, not {value!r}.",
                parameter="slurm.additional_parameters",
                value=value,
            )


def _sbatch_parameters(task: Task, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """submitit's SlurmExecutor parameters for ``task``: its settings, then ``overrides``,
    then ``task.resources`` for what neither gives."""
    settings = {**task.settings, **{k: v for k, v in overrides.items() if v is not None}}
    check_slurm_settings(settings)
    params: dict[str, Any] = {
        # No srun step: the job's process runs in the batch step, so submitit's USR2
        # (sent to steps before the time limit) reaches no one; Slurm's TIMEOUT decides.
        "use_srun": False,
        "job_name": (task.name or task.key)[:100],
        "stderr_to_stdout": True,
    }
    for key in _TEXT_SETTINGS + _INT_SETTINGS + ("setup",):
        if settings.get(key) is not None:
            params[key] = list(settings[key]) if key == "setup" else settings[key]
    params["time"] = parse_slurm_time(settings["time"]) if settings.get("time") else 60
    if settings.get("additional_parameters"):
        params["additional_parameters"] = dict(settings["additional_parameters"])
    res = task.resources
    if "cpus_per_task" not in params and res.cpus is not None:
        params["cpus_per_task"] = max(1, math.ceil(res.cpus))
    if "gpus_per_node" not in params and res.gpus:
        params["gpus_per_node"] = math.ceil(res.gpus)
    if settings.get("mem_gb") is not None:
        params["mem"] = f"{math.ceil(float(settings['mem_gb']) * 1024)}M"
    elif res.memory is not None:
        params["mem"] = f"{math.ceil(res.memory / 1024**2)}M"
    return params


def _secret_env(task: Task) -> dict[str, str]:
    """The task's variables that hold a password (kept out of submitit's pickles)."""
    return {k: v for k, v in task.env.items() if hide_passwords(v) != v}


def _array_key(task: Task, overrides: Mapping[str, Any]) -> str:
    """Tasks with equal keys may be elements of one job array: the same sbatch options
    (but for the job's name) and the same password-holding variables, which sbatch passes
    from this process's environment to every element alike."""
    params = {k: v for k, v in _sbatch_parameters(task, overrides).items() if k != "job_name"}
    return json.dumps([params, sorted(_secret_env(task).items())], sort_keys=True, default=str)


def _array_name(tasks: Sequence[Task]) -> str:
    """The job name of an array: its tasks' names (Slurm keeps one name per array)."""
    names = list(dict.fromkeys(t.name or t.key for t in tasks))
    return ", ".join(names)[:100]


@contextlib.contextmanager
def _exported(variables: Mapping[str, str]) -> Iterator[None]:
    """Set ``variables`` in this process's environment while sbatch is called (it passes the
    caller's environment to the job), then put the environment back."""
    before = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ----------------------------------------------------------------- on the compute node
def _job_main(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str,
    stdout_path: str,
    stderr_path: str,
    control: str,
    grace: float,
) -> dict[str, Any]:
    """Run one task's process inside a Slurm job and return how it ended.

    ``control`` is the path prefix of the files the executor and the job share:
    ``.started`` (written here at the start), ``.stop`` and ``.kill`` (written by the
    executor to stop the process).
    """
    started_at = time.time()
    full_env = {**os.environ, **env}
    try:
        with open(stdout_path, "ab") as out, open(stderr_path, "ab") as err:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
    except OSError as e:
        return {"error": f"{e.strerror or e}: {e.filename or argv[0]}", "started_at": None}
    Path(control + ".started").write_text(json.dumps({"at": started_at, "pid": proc.pid}))
    stop_at: float | None = None
    killed = False
    while True:
        try:
            code = proc.wait(_POLL)
            break
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if not killed and (
            Path(control + ".kill").exists() or (stop_at is not None and now >= stop_at)
        ):
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            killed = True
        elif stop_at is None and Path(control + ".stop").exists():
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGTERM)
            stop_at = now + grace
    duration = time.time() - started_at
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)  # nothing of the task outlives it
    return {
        "exit_code": code if code >= 0 else None,
        "signal": -code if code < 0 else None,
        "started_at": started_at,
        "duration": duration,
    }


# ----------------------------------------------------------------- on the submitting side
def slurm_job_state(job_ids: Sequence[str]) -> dict[str, str]:
    """The sacct state of each job (``COMPLETED``, ``TIMEOUT``, ``CANCELLED by 0``, ...);
    jobs sacct does not know yet are left out."""
    if not job_ids:
        return {}
    try:
        done = subprocess.run(
            ["sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", ",".join(job_ids)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    states: dict[str, str] = {}
    for line in done.stdout.splitlines():
        job_id, _, state = line.partition("|")
        if job_id in job_ids:
            states[job_id] = state.strip()
    missing = [j for j in job_ids if j not in states]
    if missing:
        # sacct may not know a job yet (or the cluster keeps no accounting): squeue knows
        # the jobs slurmctld holds (-r: an array's pending elements one by one, JOBID_INDEX,
        # not as JOBID_[2-3]); one it no longer holds has ended, how is unknown.
        try:
            queue = subprocess.run(
                ["squeue", "-h", "-r", "-o", "%i|%T", "-j", ",".join(missing)],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            return states
        if queue.returncode != 0 and "Invalid job id" not in queue.stderr:
            return states
        held = dict(line.split("|", 1) for line in queue.stdout.splitlines() if "|" in line)
        for job_id in missing:
            states[job_id] = held.get(job_id, "").strip() or "UNKNOWN"
    return states


def outcome_of_state(state: str) -> dict[str, Any]:
    """The :class:`TaskResult` fields for a job that ended in sacct state ``state`` without
    a result of its own."""
    word = state.split()[0] if state else "UNKNOWN"
    if word == "TIMEOUT":
        return {"reason": "timed out (TIMEOUT)"}
    if word == "CANCELLED":
        return {"cancelled": True, "reason": f"cancelled in Slurm ({state})"}
    if word == "OUT_OF_MEMORY":
        return {"lost": "the Slurm job ran out of memory (OUT_OF_MEMORY)"}
    if word == "NODE_FAIL":
        return {"lost": "the Slurm job's node failed (NODE_FAIL)"}
    if word == "PREEMPTED":
        return {"lost": "the Slurm job was preempted (PREEMPTED)"}
    if word == "BOOT_FAIL":
        return {"lost": "the Slurm job's node did not boot (BOOT_FAIL)"}
    if word == "DEADLINE":
        return {"reason": "reached its deadline (DEADLINE)"}
    return {"lost": f"the Slurm job ended {state or 'UNKNOWN'} without a result"}


@dataclass
class _Tail:
    """Follows one output file from where it ended at submit time."""

    path: Path
    stream: str
    offset: int = 0
    partial: bytes = b""

    def read(self, final: bool = False) -> list[str]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            data = b""
        self.offset += len(data)
        data = self.partial + data
        *lines, self.partial = data.split(b"\n")
        if final and self.partial:
            lines.append(self.partial)
            self.partial = b""
        return [line.decode("utf-8", errors="replace") for line in lines]


@dataclass
class _Job:
    task: Task
    on_output: OutputCallback | None
    control: Path
    tails: list[_Tail]
    job: Any = None  # submitit.Job once submitted
    result: TaskResult | None = None
    stop_sent: float | None = None
    timed_out: bool = False
    cancelled: bool = False
    kill_sent: bool = False
    started_at: float | None = None
    scancelled: bool = False
    gone_since: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class SlurmExecutor(Executor):
    """Runs each task as a Slurm job, through submitit.

    Args:
        max_jobs: how many of its jobs run at once: the limit of each job array
            (:meth:`submit_many`, ``--array=...%max_jobs``), and how many single jobs
            (:meth:`submit`) are in Slurm, pending or running; the rest wait here, unsubmitted.
        grace: seconds between asking a task's process to stop (SIGTERM) and killing it.
        overrides: settings that override every task's ``settings``
            (``experiment.slurm``; the CLI's ``--slurm-*`` options).
        folder: submitit's folder for job scripts, logs and results; it must be on a
            filesystem the compute nodes share (default ``.trialbook-slurm`` in the current
            folder).

    Raises:
        ConfigError: a bad ``max_jobs`` or override, or submitit is not installed.
    """

    name = "slurm"
    remote = True
    queues = True

    def __init__(
        self,
        max_jobs: int = 1,
        *,
        grace: float = 10.0,
        overrides: Mapping[str, Any] | None = None,
        folder: str | os.PathLike[str] | None = None,
    ) -> None:
        check_jobs(max_jobs, "max_jobs")
        self._submitit = _submitit()
        self.overrides = dict(overrides or {})
        check_slurm_settings(self.overrides, "the --slurm-* options")
        self.grace = grace
        self._max = max_jobs
        self.folder = Path(folder if folder is not None else ".trialbook-slurm").absolute()
        self._jobs: dict[str, _Job] = {}
        self._waiting: deque[str] = deque()
        self._last_sacct = 0.0
        self._lock = threading.Lock()

    @property
    def max_parallel(self) -> int:
        return self._max

    # ----------------------------------------------------------------- the interface
    def submit(self, task: Task, on_output: OutputCallback | None = None) -> TaskHandle:
        if task.key in self._jobs:
            raise ValueError(f"A task with key {task.key!r} was already submitted.")
        self._jobs[task.key] = self._new_job(task, on_output)
        self._waiting.append(task.key)
        self._pump()
        return TaskHandle(task, task.key)

    def submit_many(
        self, tasks: Sequence[Task], on_output: OutputCallback | None = None
    ) -> list[TaskHandle]:
        """Submit the tasks that ask for the same job settings (partition, time, CPUs,
        memory, ...) as one Slurm job array, at most ``max_jobs`` of its elements running at
        once; a task whose settings no other shares is one job, as with :meth:`submit`.
        Each task is its own array element: its own sacct state, ``scancel``, result and
        :meth:`job_record`."""
        keys = [t.key for t in tasks]
        if len(set(keys)) != len(keys) or any(k in self._jobs for k in keys):
            raise ValueError(f"A task key among {keys!r} is used twice.")
        groups: dict[str, list[_Job]] = {}
        for task in tasks:  # every setting is checked before anything is submitted
            groups.setdefault(_array_key(task, self.overrides), []).append(
                self._new_job(task, on_output)
            )
        for group in groups.values():
            for job in group:
                self._jobs[job.task.key] = job
            if len(group) == 1:
                self._waiting.append(group[0].task.key)
            else:
                self._sbatch(group)
        self._pump()
        return [TaskHandle(task, task.key) for task in tasks]

    def _new_job(self, task: Task, on_output: OutputCallback | None) -> _Job:
        _sbatch_parameters(task, self.overrides)  # a bad setting raises before anything
        self.folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", task.key)
        control = self.folder / f"task-{safe}-{time.time_ns()}"
        return _Job(task, on_output, control, self._tails(task))

    def attach(
        self, task: Task, record: Mapping[str, Any], on_output: OutputCallback | None = None
    ) -> TaskHandle:
        """Follow a job submitted earlier (by a runner that detached, or died) as if this
        executor had submitted it; ``record`` is what :meth:`job_record` gave then. ``wait``
        and ``cancel`` work on it; its output is passed on from where the files end now."""
        if task.key in self._jobs:
            raise ValueError(f"A task with key {task.key!r} was already submitted.")
        job = _Job(task, on_output, Path(str(record["control"])), self._tails(task))
        job.job = self._submitit.SlurmJob(
            folder=Path(str(record.get("folder") or self.folder)), job_id=str(record["job_id"])
        )
        self._jobs[task.key] = job
        return TaskHandle(task, task.key)

    def job_record(self, handle: TaskHandle) -> dict[str, str] | None:
        """What :meth:`attach` needs to follow the task's job later (its Slurm job id, the
        submitit folder, the control files' prefix); None while it waits here, unsubmitted."""
        job = self._jobs[handle.key]
        if job.job is None:
            return None
        return {
            "job_id": str(job.job.job_id),
            "folder": str(self.folder),
            "control": str(job.control),
        }

    def detach(self) -> dict[str, dict[str, str]]:
        """Submit every task still waiting here, then let go of all of them: ``close`` no
        longer cancels them, and they run to their end in Slurm unfollowed. Returns each
        task's :meth:`job_record`, by key (a task sbatch refused is left out)."""
        self._max = max(self._max, len(self._jobs))
        self._pump()
        records = {}
        for key, job in self._jobs.items():
            record = self.job_record(TaskHandle(job.task, key))
            if record is not None and job.result is None:
                records[key] = record
        self._jobs = {k: j for k, j in self._jobs.items() if k not in records}
        return records

    def wait(self, handles: Sequence[TaskHandle], timeout: float | None = None) -> list[TaskResult]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._poll()
            done = [
                self._jobs[h.key].result for h in handles if self._jobs[h.key].result is not None
            ]
            if done or (deadline is not None and time.monotonic() >= deadline):
                return [r for r in done if r is not None]
            time.sleep(_POLL)

    def cancel(self, handle: TaskHandle) -> None:
        job = self._jobs[handle.key]
        if job.result is not None:
            return
        if not job.cancelled and not job.timed_out:
            job.cancelled = True
        self._stop(job)

    def close(self) -> None:
        live = [TaskHandle(j.task, k) for k, j in self._jobs.items() if j.result is None]
        for h in live:
            self.cancel(h)
        if live:
            self.wait_all(live)

    # ----------------------------------------------------------------- the work
    @staticmethod
    def _tails(task: Task) -> list[_Tail]:
        tails = []
        for path, stream in ((task.stdout_path, "stdout"), (task.stderr_path, "stderr")):
            try:
                offset = path.stat().st_size
            except OSError:
                offset = 0
            tails.append(_Tail(path, stream, offset))
        return tails

    def _stop(self, job: _Job) -> None:
        if job.job is None:  # still waiting here: it never starts
            self._waiting.remove(job.task.key)
            job.result = TaskResult(job.task.key, None, cancelled=job.cancelled)
            return
        if job.stop_sent is None and self._started(job) is None:
            self._scancel(job)  # pending in Slurm: never starts
            job.stop_sent = time.monotonic()
            return
        if job.stop_sent is None:
            job.control.with_name(job.control.name + ".stop").touch()
            job.stop_sent = time.monotonic()
        elif not job.kill_sent:  # asked a second time: kill at once
            job.control.with_name(job.control.name + ".kill").touch()
            job.kill_sent = True

    def _scancel(self, job: _Job) -> None:
        job.scancelled = True
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                ["scancel", str(job.job.job_id)], capture_output=True, timeout=30, check=False
            )

    def _pump(self) -> None:
        """Submit waiting tasks while fewer than ``max_jobs`` are in Slurm."""
        in_slurm = sum(1 for j in self._jobs.values() if j.job is not None and j.result is None)
        while self._waiting and in_slurm < self._max:
            job = self._jobs[self._waiting.popleft()]
            self._sbatch([job])
            if job.job is not None:
                in_slurm += 1

    def _sbatch(self, jobs: Sequence[_Job]) -> None:
        """Submit ``jobs`` (tasks with the same job settings) in one sbatch call: one job, or
        one job array of which each task is an element (``JOBID_INDEX``) running at most
        ``max_jobs`` at once. A refusal (a partition that does not exist) is each task's
        result."""
        tasks = [job.task for job in jobs]
        params = _sbatch_parameters(tasks[0], self.overrides)
        if len(tasks) > 1:
            params["job_name"] = _array_name(tasks)
            params["array_parallelism"] = self._max
        ex = self._submitit.SlurmExecutor(folder=self.folder)
        ex.update_parameters(**params)
        # A variable holding a password (TRIALBOOK_STORE with one in its URL) must not be
        # pickled into the shared folder: sbatch hands it to the job from this process's
        # environment instead (Slurm's default --export=ALL), and _job_main reads it there.
        # The tasks of one array share these variables (see _array_key).
        secret = _secret_env(tasks[0])
        try:
            with _exported(secret), contextlib.ExitStack() as stack:
                if len(tasks) > 1:
                    stack.enter_context(ex.batch())
                submitted = [
                    ex.submit(
                        _job_main,
                        list(task.argv),
                        {k: v for k, v in task.env.items() if k not in secret},
                        str(task.cwd),
                        str(task.stdout_path),
                        str(task.stderr_path),
                        str(job.control),
                        float(self.grace),
                    )
                    for job, task in zip(jobs, tasks, strict=True)
                ]
        except Exception as e:  # sbatch refused it (a partition that does not exist)
            message = str(e).strip().splitlines()
            for job in jobs:
                job.result = TaskResult(
                    job.task.key,
                    None,
                    error=f"sbatch refused the job: {message[-1] if message else e}",
                )
            return
        for job, handle in zip(jobs, submitted, strict=True):
            job.job = handle

    def _started(self, job: _Job) -> float | None:
        if job.started_at is None:
            marker = job.control.with_name(job.control.name + ".started")
            try:
                job.started_at = float(json.loads(marker.read_text())["at"])
            except (OSError, ValueError, KeyError):
                return None
        return job.started_at

    def _emit(self, job: _Job, final: bool = False) -> None:
        for tail in job.tails:
            for line in tail.read(final):
                if job.on_output is not None:
                    job.on_output(job.task, tail.stream, line)  # type: ignore[arg-type]

    def _poll(self) -> None:
        self._pump()
        live = [j for j in self._jobs.values() if j.result is None and j.job is not None]
        now = time.monotonic()
        for job in live:
            self._emit(job)
            started = self._started(job)
            timeout = job.task.timeout
            if (
                started is not None
                and timeout is not None
                and not job.timed_out
                and not job.cancelled
                and time.time() - started > timeout
            ):
                job.timed_out = True
                self._stop(job)
            if (
                job.stop_sent is not None
                and not job.scancelled
                and now - job.stop_sent > self.grace + _ANSWER
            ):
                self._scancel(job)  # the job does not answer its files
            if job.job.paths.result_pickle.exists():
                self._finish_from_pickle(job)
        unresolved = [j for j in live if j.result is None]
        if unresolved and now - self._last_sacct >= _SACCT_EVERY:
            self._last_sacct = now
            states = slurm_job_state([str(j.job.job_id) for j in unresolved])
            for job in unresolved:
                state = states.get(str(job.job.job_id), "")
                word = state.split()[0] if state else ""
                if not word or word in _ACTIVE_STATES:
                    continue
                if job.job.paths.result_pickle.exists():
                    self._finish_from_pickle(job)
                    continue
                # Ended without a result: sacct says how. A job that COMPLETED did write
                # one; give the shared filesystem a few seconds to show it. UNKNOWN (neither
                # sacct nor squeue has it) is an array element that just ended before its
                # accounting record arrived: give sacct the same few seconds (an element we
                # scancelled while it pended never gets a record: no wait for it).
                if word == "COMPLETED" or (word == "UNKNOWN" and not job.scancelled):
                    if job.gone_since is None:
                        job.gone_since = now
                    if now - job.gone_since < _RESULT_LAG:
                        continue
                self._finish(job, self._outcome_without_result(job, state), state)
        self._pump()

    def _outcome_without_result(self, job: _Job, state: str) -> dict[str, Any]:
        """How a job that left no result ended: sacct's state, or what slurmstepd wrote to
        the job's log when it killed the job for its memory (without cgroups, Slurm then
        reports FAILED rather than OUT_OF_MEMORY)."""
        word = state.split()[0] if state else ""
        if word in ("FAILED", "CANCELLED") and not (job.cancelled or job.timed_out):
            try:
                log = Path(job.job.paths.stdout).read_text(errors="replace")[-20000:]
            except OSError:
                log = ""
            for line in log.splitlines():
                if "Exceeded job memory limit" in line or "exceeded memory limit" in line:
                    return {"lost": "the Slurm job ran out of memory (Exceeded job memory limit)"}
        return outcome_of_state(state)

    def _finish_from_pickle(self, job: _Job) -> None:
        try:
            outcome, value = self._submitit.core.utils.pickle_load(job.job.paths.result_pickle)
        except Exception:  # half-written: read it on the next poll
            return
        if outcome != "success" or not isinstance(value, dict):
            self._finish(job, {"error": f"the Slurm job failed: {str(value).strip()[-500:]}"}, "")
            return
        fields: dict[str, Any] = {
            "exit_code": value.get("exit_code"),
            "signal": value.get("signal"),
            "started_at": value.get("started_at"),
            "duration": float(value.get("duration") or 0.0),
        }
        if value.get("error"):
            fields["error"] = value["error"]
        if not (job.cancelled or job.timed_out) and (
            fields["exit_code"] not in (0, None) or fields["signal"] is not None
        ):
            # The process may have been stopped by Slurm (a time limit, scancel): ask.
            fields.update(self._ended_state(job))
        self._finish(job, fields, "")

    def _ended_state(self, job: _Job) -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            state = slurm_job_state([str(job.job.job_id)]).get(str(job.job.job_id), "")
            word = state.split()[0] if state else ""
            if word and word not in _ACTIVE_STATES and word != "UNKNOWN":  # see _poll
                if word in ("COMPLETED", "FAILED"):
                    return {}
                return outcome_of_state(state)
            time.sleep(0.5)
        return {}

    def _finish(self, job: _Job, fields: dict[str, Any], state: str) -> None:
        self._emit(job, final=True)
        base = TaskResult(job.task.key, None)
        fields = dict(fields)
        if job.cancelled:
            fields["cancelled"] = True
            fields.pop("reason", None)  # we stopped it: not Slurm's doing
        if job.timed_out:
            fields["timed_out"] = True
            fields.pop("reason", None)
            fields.pop("cancelled", None)
        if fields.get("started_at") is None and self._started(job) is not None:
            fields["started_at"] = job.started_at
        if fields.get("started_at") is None:
            fields.pop("duration", None)
        job.result = replace(base, **fields)
