"""The Runner: turns a :class:`~trialbook.config.Plan` into tracked runs on an Executor.

For each planned run: a completed run with the same config hash and seed is skipped (unless
``rerun``); a ``queued`` run with the same hash and seed, left by an earlier invocation that
was interrupted, is reused (same id and folder); anything else becomes a new ``queued`` run
with its folder and config.yaml. All of this happens before the first process starts, so the
whole plan is visible in ``trialbook ls``. Then each run gets its own process (see
``_child.py``), and the Runner records what a process that died could not record itself.

Several runners may work on one plan at once (the same suite started twice, or on several
machines sharing one database): queueing re-checks for a run of the same config hash and seed
in the same transaction (:meth:`Store.queue_run`), and a queued run is started only by the
runner that moved it from ``queued`` to ``running`` (:meth:`Store.claim_queued_run`, one
conditional update). A runner waits for the planned runs another runner holds and reports
their outcomes as run by another runner, so that when any of them returns, the whole plan has
ended and its exit status speaks for every run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal, cast

from trialbook._disk import full_disk_cause
from trialbook._redact import hide_passwords
from trialbook._types import FINISHED_STATUSES
from trialbook._workspace import Workspace
from trialbook.config._experiment import experiment_block
from trialbook.config._plan import Plan, PlannedRun
from trialbook.errors import ConfigError, StoreError, TrialbookError, WorkspaceError
from trialbook.execution._child import EXIT_TAKEN
from trialbook.execution._executor import Executor, Task, TaskHandle, TaskResult, check_jobs
from trialbook.execution._local import LocalExecutor
from trialbook.execution._prepare import PreparedPlan, prepare_plan
from trialbook.execution._progress import ProgressReporter, label, make_progress
from trialbook.store._base import Store
from trialbook.store._liveness import JobHolder, process_start_time
from trialbook.store._records import RunQuery, RunRecord, short_run_id
from trialbook.tracking._create import create_run
from trialbook.tracking._folder import RunFolder
from trialbook.tracking._run import write_summary
from trialbook.tracking._settings import (
    LAUNCHED_BY_ENV,
    RUN_DIR_ENV,
    RUN_ID_ENV,
    RUNNER_HOST_ENV,
    RUNNER_PID_ENV,
)

__all__ = [
    "CHILD_MODULE",
    "JOB_FILE",
    "METRICS_FILE",
    "PlanDecision",
    "PreparedPlan",
    "RunOutcome",
    "Runner",
    "SuiteResult",
]

#: The module each run's process executes (``python -m trialbook.execution._child``).
CHILD_MODULE = "trialbook.execution._child"
#: A ``command:`` script that does not use the Tracker API may write its final metrics here
#: (a JSON object of numbers, in the run folder; ``$TRIALBOOK_RUN_DIR/metrics.json``).
METRICS_FILE = "metrics.json"
#: Lines of stderr kept in the error of a run whose process failed without saying why.
_STDERR_TAIL = 20
#: PYTHONHASHSEED of every run (unless set for `trialbook run`): fixed, not the run's seed,
#: so that str/bytes hashes and set order are the same in every run and one fork server
#: forks runs of all seeds (docs/runner.md, "Local").
RUN_HASH_SEED = "0"
#: Seconds between looks at the runs another runner holds.
_WATCH_POLL = 0.5
#: Seconds a run another runner holds stays failed, with no newer attempt, before it counts as
#: failed here (its runner may be about to retry it).
_RETRY_GRACE = 3.0
#: Seconds between two heartbeats of the jobs this runner follows (Store.beat_jobs) and of the
#: runs it claimed whose jobs its backend does not have yet (Store.beat_queued_claims); a
#: runner on another host that stops beating counts as gone after TRIALBOOK_HEARTBEAT_GRACE.
_JOB_BEAT = 5.0
#: Statuses that count as a failure for the exit status and ``--stop-on-error``.
FAILED_STATUSES = frozenset({"failed", "crashed", "killed"})

_PROGRESS = ("auto", "rich", "plain", "quiet")

Action = Literal["run", "resume", "skip", "busy", "duplicate"]
OutcomeStatus = Literal["completed", "failed", "crashed", "killed", "queued", "skipped"]


@dataclass(frozen=True)
class PlanDecision:
    """What the Runner will do with one planned run.

    ``action`` is ``"run"`` (a new run), ``"resume"`` (reuse the queued run ``run_id`` left by
    an interrupted invocation or queued by another runner), ``"skip"`` (a completed run
    ``run_id`` has the same config hash and seed), ``"busy"`` (run ``run_id`` with the same
    hash and seed is running right now, e.g. in another ``trialbook run``: waited for) or
    ``"duplicate"`` (an earlier entry of the same plan has the same config hash and seed).
    """

    planned: PlannedRun
    action: Action
    run_id: str | None = None
    #: Ids of the runs with the same config hash and seed seen when deciding: a run queued
    #: later by another runner is not among them, which is how queueing notices it.
    seen: tuple[str, ...] = ()

    @property
    def will_run(self) -> bool:
        return self.action in ("run", "resume")


@dataclass(frozen=True)
class RunOutcome:
    """How one planned run ended.

    ``status`` is the run's final status, ``"skipped"`` (not run: see ``reason``) or
    ``"queued"`` (never started: ``--stop-on-error`` or Ctrl-C). ``metrics`` holds the last
    value of each metric (system metrics left out). ``attempts`` counts the processes
    started for it (more than one with ``retries``); ``run_id`` is the last attempt's run.
    ``by_another_runner``: another runner working on the same plan ran it (``attempts`` is
    0 here); this runner waited for it.
    """

    planned: PlannedRun
    status: OutcomeStatus
    run_id: str | None = None
    attempts: int = 0
    duration: float | None = None
    error: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    reason: str | None = None
    by_another_runner: bool = False

    @property
    def name(self) -> str:
        return self.planned.name

    @property
    def seed(self) -> int | None:
        return self.planned.seed

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES


@dataclass(frozen=True)
class SuiteResult:
    """Every planned run's outcome, in plan order."""

    outcomes: tuple[RunOutcome, ...]
    interrupted: bool = False
    duration: float = 0.0
    #: The signal that interrupted the suite (SIGINT for Ctrl-C, or SIGTERM), when interrupted.
    signal: int | None = None
    #: The runs were submitted with ``detach``: their jobs run on, unfollowed.
    detached: bool = False

    def _with(self, *statuses: str) -> list[RunOutcome]:
        return [o for o in self.outcomes if o.status in statuses]

    @property
    def completed(self) -> list[RunOutcome]:
        return self._with("completed")

    @property
    def failed(self) -> list[RunOutcome]:
        """Runs that ended failed, crashed or killed (timeout, Ctrl-C)."""
        return self._with(*FAILED_STATUSES)

    @property
    def skipped(self) -> list[RunOutcome]:
        return self._with("skipped")

    @property
    def queued(self) -> list[RunOutcome]:
        """Runs that never started (``--stop-on-error`` or Ctrl-C); they stay queued."""
        return self._with("queued")

    @property
    def by_another_runner(self) -> list[RunOutcome]:
        """Runs of this plan that another runner ran while this one waited for them."""
        return [o for o in self.outcomes if o.by_another_runner]

    @property
    def ok(self) -> bool:
        return not self.interrupted and not self.failed

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 1 when a run failed, 130 after Ctrl-C, 143 after SIGTERM."""
        if self.interrupted:
            return 128 + (self.signal or signal.SIGINT)
        return 1 if self.failed else 0


@dataclass
class _Watched:
    """A planned run another runner holds (``run_id``), which this runner waits for."""

    planned: PlannedRun
    run_id: str
    #: When this runner first saw the run failed with no newer attempt (monotonic clock).
    failed_since: float | None = None


@dataclass
class _Item:
    """One planned run on its way through the Runner."""

    index: int
    planned: PlannedRun
    run_id: str
    folder: Path
    attempt: int = 1
    started_mono: float = 0.0
    #: Its job in a queueing backend (``job.json``), once it has one.
    job: dict[str, Any] | None = None
    #: The job.json of a job this runner adopted (Store.adopt_job) and will follow.
    adopted: dict[str, Any] | None = None


class Runner:
    """Run a plan: skip what is done, queue the rest, execute it, record every outcome.

    Args:
        root, store_url: the workspace folder and store URL (see :class:`trialbook.Workspace`).
        executor: where processes run; default ``LocalExecutor(jobs)``.
        jobs: processes at once on the default local executor.
        timeout: seconds a run may take before it is stopped and marked ``killed``.
        retries: extra attempts for a run that fails, crashes or times out; every attempt
            is a run of its own (tagged ``retry``), so no traceback is lost.
        stop_on_error: after the first run that fails for good, start nothing more; runs
            still running finish, the rest stay ``queued``.
        rerun: run even what already completed with the same config hash and seed.
        progress: ``"auto"`` (rich on a terminal, plain lines otherwise), ``"rich"``,
            ``"plain"`` or ``"quiet"`` (nothing printed; output still saved to files).
        cwd: the working directory of every run (default: the current one); entrypoint
            modules are looked up from it, as ``python -m`` would.
        env: extra environment variables for every run.
        tags: extra tags for every run created (``reproduce`` adds ``reproduces:<id>``).
        grace: seconds between asking a stopped run to end and killing it.
        detach: submit every run to a queueing backend (Slurm) and return without waiting;
            the runs stay ``queued`` (their jobs recorded in ``job.json`` in their folders)
            until a later :meth:`run` of the same plan, or :func:`pick_up_jobs`, follows
            them to the end.
    """

    def __init__(
        self,
        *,
        root: str | os.PathLike[str] | None = None,
        store_url: str | None = None,
        executor: Executor | None = None,
        jobs: int = 1,
        timeout: float | None = None,
        retries: int = 0,
        stop_on_error: bool = False,
        rerun: bool = False,
        progress: Literal["auto", "rich", "plain", "quiet"] | ProgressReporter = "auto",
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        tags: Sequence[str] = (),
        grace: float = 10.0,
        detach: bool = False,
    ) -> None:
        check_jobs(jobs)
        # `not timeout > 0` also refuses NaN, which would stop every run at once.
        if timeout is not None and (not isinstance(timeout, int | float) or not timeout > 0):
            raise ConfigError(
                f"timeout must be a positive number of seconds, got {timeout!r}.",
                parameter="timeout",
                value=timeout,
            )
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigError(
                f"retries must be a whole number of 0 or more, got {retries!r}.",
                parameter="retries",
                value=retries,
            )
        if not isinstance(progress, ProgressReporter) and progress not in _PROGRESS:
            raise ConfigError(
                f"progress must be auto, rich, plain or quiet, not {progress!r}.",
                parameter="progress",
                value=progress,
            )
        self.workspace = Workspace.resolve(root, store_url)
        self._executor = executor
        #: The Runner builds (and closes after each run) its local executor when given none.
        self._owns_executor = executor is None
        self.jobs = jobs
        self.timeout = float(timeout) if timeout is not None else None
        self.retries = retries
        self.stop_on_error = stop_on_error
        self.rerun = rerun
        self.progress = progress
        self.cwd = Path(cwd).absolute() if cwd is not None else Path.cwd()
        self.env = dict(env or {})
        self.tags = tuple(tags)
        self.grace = grace
        self.detach = detach
        self._signal: int = signal.SIGINT  # what interrupted the current run(), if anything

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = LocalExecutor(self.jobs, grace=self.grace)
        return self._executor

    # ----------------------------------------------------------------- checking and planning
    def prepare(self, plan: Plan | PreparedPlan) -> PreparedPlan:
        """Check the plan once (see :func:`~trialbook.execution._prepare.prepare_plan`) from
        this Runner's ``cwd`` and return it ready for :meth:`run` and :meth:`preview`, which
        then check nothing again. A plan already prepared from this ``cwd`` is returned as is.

        Raises:
            ConfigError: the first problem, as one sentence. Nothing has been written.
        """
        prepared = prepare_plan(plan, self.cwd)
        if self._executor is not None and self._executor.name == "slurm":
            from trialbook.execution._slurm import check_slurm_settings

            for planned in prepared.plan.runs:
                check_slurm_settings(experiment_block(planned.config).slurm)
        return prepared

    def check(self, plan: Plan) -> None:
        """Check the plan as :meth:`prepare` does, without keeping the result.

        Raises:
            ConfigError: the first problem, as one sentence. Nothing has been written.
        """
        prepare_plan(plan, self.cwd)

    def preview(self, plan: Plan | PreparedPlan) -> list[PlanDecision]:
        """What :meth:`run` would do with each planned run; writes nothing.

        Raises:
            ConfigError: as :meth:`check` (a :class:`PreparedPlan` is not checked again).
        """
        plan = self.prepare(plan).plan
        try:
            db = self.workspace.open_store(create=False)
        except WorkspaceError:
            return self._decide(None, plan)  # no database yet: everything runs
        try:
            return self._decide(db, plan)
        finally:
            db.close()

    def _decide(self, db: Store | None, plan: Plan) -> list[PlanDecision]:
        decisions: list[PlanDecision] = []
        planned_keys: set[tuple[str, int | None]] = set()
        for planned in plan.runs:
            key = (planned.config_hash, planned.seed)
            if key in planned_keys:
                decisions.append(PlanDecision(planned, "duplicate"))
                continue
            planned_keys.add(key)
            existing = [] if db is None else self._same_runs(db, planned)
            by_status: dict[str, list[RunRecord]] = {}
            for rec in existing:
                by_status.setdefault(rec.status, []).append(rec)
            seen = tuple(r.id for r in existing)
            if by_status.get("completed") and not self.rerun:
                decisions.append(PlanDecision(planned, "skip", by_status["completed"][0].id, seen))
            elif by_status.get("queued"):
                oldest = min(by_status["queued"], key=lambda r: r.id)
                decisions.append(PlanDecision(planned, "resume", oldest.id, seen))
            elif by_status.get("running") and not self.rerun:
                decisions.append(PlanDecision(planned, "busy", by_status["running"][0].id, seen))
            else:
                decisions.append(PlanDecision(planned, "run", seen=seen))
        return decisions

    @staticmethod
    def _same_runs(db: Store, planned: PlannedRun) -> list[RunRecord]:
        runs = db.list_runs(RunQuery(config_hash=planned.config_hash, order_by="id"))
        return [r for r in runs if r.seed == planned.seed]

    # ----------------------------------------------------------------- picking up jobs
    def pick_up(self, patience: float = 0.0) -> list[RunOutcome]:
        """Record how the jobs that detached (or dead) runners left in this Runner's
        queueing backend ended: each unfinished run with such a job (``job.json``) is
        looked at once, then followed for up to ``patience`` seconds; the outcomes of those
        that ended are recorded (as a run of the same plan would) and returned, the rest
        stay as they are. Nothing happens for an executor that does not queue (local).
        """
        executor = self.executor
        if not executor.queues or not callable(getattr(executor, "attach", None)):
            return []
        try:
            db = self.workspace.open_store(create=False)
        except WorkspaceError:
            return []
        try:
            followed: dict[str, tuple[_Item, TaskHandle]] = {}
            for rec in db.list_runs(RunQuery(order_by="id")):
                if rec.status in FINISHED_STATUSES or not rec.folder:
                    continue
                planned = PlannedRun(
                    rec.name, rec.experiment, rec.config, rec.seed, rec.config_hash, rec.group_key
                )
                item = _Item(0, planned, rec.id, Path(rec.folder))
                job = self._adoptable(db, item)
                if job is None:
                    continue
                item.job = job
                handle = executor.attach(self._task(item), job)  # type: ignore[attr-defined]
                followed[rec.id] = (item, handle)
            outcomes: list[RunOutcome] = []
            deadline = time.monotonic() + patience
            while followed:  # one look at least, then until the patience runs out
                handles = [h for _, h in followed.values()]
                left = max(0.0, deadline - time.monotonic())
                for result in executor.wait(handles, timeout=left):
                    item, _ = followed.pop(result.key)
                    outcomes.append(self._finalize(db, item, result))
                if time.monotonic() >= deadline:
                    break
            if hasattr(executor, "detach"):
                executor.detach()  # the rest keep running, unfollowed
            if followed:  # let them go, for the next runner (or ls) to adopt at once
                pid = os.getpid()
                db.hold_jobs(
                    list(followed),
                    host=socket.gethostname(),
                    pid=pid,
                    pid_started_at=process_start_time(pid),
                    detached=True,
                )
            return outcomes
        finally:
            db.close()

    # ----------------------------------------------------------------- running
    def run(self, plan: Plan | PreparedPlan) -> SuiteResult:
        """Execute the plan and return every run's outcome (see :class:`SuiteResult`).

        A plain plan is checked first (see :meth:`prepare`); a prepared one is not checked
        again. Ctrl-C (or SIGTERM) stops launching, stops the running processes, marks their
        runs ``killed`` and returns with ``interrupted`` set; the same plan run again resumes.

        Raises:
            ConfigError: bad code or options (see :meth:`check`); nothing has been written.
            WorkspaceError / StoreError: the workspace or database cannot be used (a full
                disk is a WorkspaceError that says so); runs still running are stopped.
        """
        started = time.monotonic()
        prepared = self.prepare(plan)
        try:
            return self._run(prepared.plan, started)
        except TrialbookError as e:
            if isinstance(e, StoreError | WorkspaceError) and _disk_full(e):
                raise WorkspaceError(self._disk_full_message(e)) from e
            raise
        except OSError as e:
            # The Runner's own writes: run folders, config.yaml.
            if _disk_full(e):
                raise WorkspaceError(self._disk_full_message(e)) from e
            where = f" ({e.filename})" if e.filename else ""
            raise WorkspaceError(
                f"Cannot write to the workspace {self.workspace.root}{where}: "
                f"{e.strerror or e}; fix that and run the same command again to resume."
            ) from e

    def _disk_full_message(self, error: BaseException) -> str:
        return (
            f"The disk holding the workspace {self.workspace.root} is full "
            f"({_disk_full(error)}); free space and run the same command again: completed "
            "runs are kept, and the rest resume."
        )

    def _run(self, plan: Plan, started: float) -> SuiteResult:
        own_executor = self._owns_executor
        # A cluster that cannot be reached fails here, before any run is queued.
        self.executor.start()
        db = self.workspace.open_store(create=True)
        try:
            decisions = self._decide(db, plan)
            outcomes = self._skipped_outcomes(db, decisions)
            items: list[_Item] = []
            # Planned runs another runner holds, by plan index: waited for, not run here;
            # unless that runner left its job (--detach) to be followed by whoever comes next.
            watched: dict[int, _Watched] = {}
            for i, d in enumerate(decisions):
                if d.action == "busy" and d.run_id is not None:
                    folder = Path(db.get_run(d.run_id).folder or "")
                    held = _Item(i, d.planned, d.run_id, folder)
                    held.adopted = self._adoptable(db, held)
                    if held.adopted is not None:
                        items.append(held)
                    else:
                        watched[i] = _Watched(d.planned, d.run_id)
            warm_up = getattr(self.executor, "warm_up", None)
            if callable(warm_up) and not self.detach and any(d.will_run for d in decisions):
                # The local executor's fork server starts (and imports) while runs are queued.
                warm_up(self._runs_env())
            for i, d in enumerate(decisions):
                if d.will_run:
                    queued = self._queue_item(db, i, d)
                    if isinstance(queued, _Item):
                        items.append(queued)
                    else:  # another runner queued it meanwhile, and holds or finished it
                        watched[i] = _Watched(d.planned, queued.id)
            reporter = make_progress(self.progress, self.executor.max_parallel)
            try:
                interrupted = self._execute(db, items, watched, outcomes, reporter, decisions)
            finally:
                if own_executor:
                    # Stops anything a Ctrl-C left between launch and bookkeeping.
                    self.executor.close()
                    self._executor = None
            result = SuiteResult(
                tuple(outcomes[i] for i in range(len(decisions))),
                interrupted=interrupted,
                duration=time.monotonic() - started,
                signal=self._signal if interrupted else None,
                detached=self.detach and not interrupted,
            )
            reporter.close(result)
            return result
        finally:
            db.close()

    def _skipped_outcomes(self, db: Store, decisions: list[PlanDecision]) -> dict[int, RunOutcome]:
        """Outcomes of what will not run, with the metrics of the run that made it so (runs
        another runner holds are waited for instead)."""
        skipped = {i: d for i, d in enumerate(decisions) if not d.will_run and d.action != "busy"}
        ids = [d.run_id for d in skipped.values() if d.run_id is not None]
        metrics = self._live_metrics(db, ids) if ids else {}
        outcomes: dict[int, RunOutcome] = {}
        for i, d in skipped.items():
            duration = db.get_run(d.run_id).duration if d.action == "skip" and d.run_id else None
            outcomes[i] = RunOutcome(
                d.planned,
                "skipped",
                run_id=d.run_id,
                duration=duration,
                metrics=metrics.get(d.run_id or "", {}),
                reason=_reason(d),
            )
        return outcomes

    def _queue_item(self, db: Store, index: int, decision: PlanDecision) -> _Item | RunRecord:
        """The item to run, or the run of another runner that is in the way (see
        :meth:`Store.queue_run`): queued there, it becomes our item, which we may claim."""
        planned = decision.planned
        if decision.action == "resume" and decision.run_id is not None:
            rec = db.get_run(decision.run_id)
            folder = Path(rec.folder or "")
            if not (folder / "config.yaml").exists():
                # The folder went missing while the run waited; write it again.
                RunFolder(folder).path.mkdir(parents=True, exist_ok=True)
                RunFolder(folder).write_config(planned.config)
            return _Item(index, planned, rec.id, folder)
        rec, created = self._queue(db, planned, self.tags, known=decision.seen)
        if not created and rec.status != "queued":
            return rec
        return _Item(index, planned, rec.id, Path(rec.folder or ""))

    def _queue(
        self,
        db: Store,
        planned: PlannedRun,
        tags: Sequence[str],
        notes: str | None = None,
        known: Sequence[str] | None = None,
    ) -> tuple[RunRecord, bool]:
        """A new ``queued`` run with its folder and config.yaml, and True; or, with ``known``
        (the runs of this config hash and seed seen when deciding), the run another runner
        created meanwhile, and False (see :meth:`Store.queue_run`). Without ``known`` (a
        retry) the run is always created."""
        block = experiment_block(planned.config)
        created = create_run(
            db,
            self.workspace.root,
            experiment=planned.experiment,
            name=planned.name,
            config=planned.config,
            config_hash=planned.config_hash,
            group_key=planned.group_key,
            seed=planned.seed,
            status="queued",
            notes=notes,
            tags=tuple(dict.fromkeys((*block.tags, *tags))),
            description=block.description,
            hypothesis=block.hypothesis,
            known=known,
        )
        return created.record, created.created

    def _claim(self, db: Store, item: _Item) -> bool:
        """Move the item's run from ``queued`` to ``running`` on behalf of this process, unless
        another runner did first. The child takes the run over from its parent (see
        ``tracking._attach.claim_run``); a runner that dies before that leaves the run to crash
        detection, like any run whose process died. With a queueing executor the run stays
        ``queued`` (``keep_queued``) until its job starts; a runner that dies before its
        backend has the job leaves the claim to be released by a later runner
        (:meth:`_release_dead_claim`)."""
        pid = os.getpid()
        return db.claim_queued_run(
            item.run_id,
            host=socket.gethostname(),
            pid=pid,
            pid_started_at=process_start_time(pid),
            at=db.now(),  # a heartbeat: the Store's clock
            keep_queued=self.executor.queues,
        )

    def _adoptable(self, db: Store, item: _Item) -> dict[str, Any] | None:
        """The job of a run another runner submitted to our (queueing) backend and no longer
        follows (it detached, or is gone: :meth:`Store.holder_alive`), which this runner now
        follows instead: adopted by one conditional update (:meth:`Store.adopt_job`), so of
        several runners only one follows each job. None when there is no such job, its
        holder lives, or another runner adopted it first."""
        record = read_job_record(item.folder)
        if (
            record is None
            or record.get("executor") != self.executor.name
            or not callable(getattr(self.executor, "attach", None))
        ):
            return None
        row, let_go = job_holder(db, item.run_id, record)
        if not let_go:
            return None
        pid = os.getpid()
        adopted = db.adopt_job(
            item.run_id,
            holder=row,
            host=socket.gethostname(),
            pid=pid,
            pid_started_at=process_start_time(pid),
        )
        return record if adopted else None

    @staticmethod
    def _release_dead_claim(db: Store, rec: RunRecord) -> bool:
        """Release the claim on a queued run (``rec``) whose claimer died before its backend
        had the run's job (:meth:`Store.release_queued_claim`): the run has no job (no
        ``job.json``, no holder in the Store; a job is followed or adopted instead) and the
        claimer is gone (:meth:`Store.claimer_alive`: its pid on this host, its heartbeat
        on another, which a live runner beats). True when this call released it; the run
        then joins this runner's queue and is claimed like any other, so of several runners
        waiting for it one runs it."""
        if rec.folder and read_job_record(rec.folder) is not None:
            return False
        if db.job_holders([rec.id]):
            return False
        claim = db.queued_claims([rec.id]).get(rec.id)
        if claim is None or claim.pid is None or db.claimer_alive(claim):
            return False
        return db.release_queued_claim(
            rec.id,
            host=claim.host or "",
            pid=claim.pid,
            pid_started_at=claim.pid_started_at,
            heartbeat_at=claim.heartbeat_at,
        )

    @staticmethod
    def _job_let_go(db: Store, rec: RunRecord) -> bool:
        record = read_job_record(rec.folder) if rec.folder else None
        return record is not None and job_holder(db, rec.id, record)[1]

    def _record_jobs(
        self, db: Store, inflight: dict[str, tuple[_Item, TaskHandle]], detached: bool
    ) -> None:
        """Keep each new job id in ``job.json`` in its run's folder (a later runner, ``ls``
        and ``trialbook cancel`` find it there), and this runner as its holder in the Store
        (:meth:`Store.hold_jobs`)."""
        job_record = getattr(self.executor, "job_record", None)
        if not callable(job_record):
            return
        held: list[str] = []
        for item, handle in inflight.values():
            if item.job is not None and not detached:
                continue
            record = job_record(handle)
            if record is None:
                continue
            item.job = self._job_entry(record, detached)
            with contextlib.suppress(OSError):
                write_job_record(item.folder, item.job)
            held.append(item.run_id)
        if held:
            pid = os.getpid()
            db.hold_jobs(
                held,
                host=socket.gethostname(),
                pid=pid,
                pid_started_at=process_start_time(pid),
                detached=detached,
            )

    @staticmethod
    def _beat(db: Store, items: Sequence[_Item]) -> None:
        """The heartbeat of this runner for the runs of ``items`` it keeps in its queueing
        backend: as the holder of their jobs (:meth:`Store.beat_jobs`), and, for those whose
        job it does not have yet (a Slurm job not yet submitted), as their claimer
        (:meth:`Store.beat_queued_claims`), so a runner on another host does not take them
        over (:meth:`_release_dead_claim`)."""
        host, pid = socket.gethostname(), os.getpid()
        if any(item.job for item in items):
            db.beat_jobs(host=host, pid=pid)
        if any(item.job is None for item in items):
            db.beat_queued_claims(host=host, pid=pid, pid_started_at=process_start_time(pid))

    def _job_entry(self, record: Mapping[str, Any], detached: bool) -> dict[str, Any]:
        """What job.json holds: the backend's record of the job, and this runner (the
        Store's job_holders row is what counts; these name it for people and for jobs
        submitted before schema tb0005)."""
        pid = os.getpid()
        return {
            **record,
            "executor": self.executor.name,
            "runner_host": socket.gethostname(),
            "runner_pid": pid,
            "runner_started": process_start_time(pid),
            "detached": detached,
        }

    def _task(self, item: _Item) -> Task:
        env = {**self._runs_env(), RUN_ID_ENV: item.run_id, RUN_DIR_ENV: str(item.folder)}
        block = experiment_block(item.planned.config)
        return Task(
            key=item.run_id,
            argv=(sys.executable, "-m", CHILD_MODULE),
            cwd=self.cwd,
            stdout_path=item.folder / "stdout.log",
            stderr_path=item.folder / "stderr.log",
            env=env,
            timeout=self.timeout,
            name=label(item.planned),
            resources=block.resources,
            settings=block.slurm if self.executor.name == "slurm" else {},
        )

    def _runs_env(self) -> dict[str, str]:
        """The environment every run's process gets, besides its run id and folder."""
        env = {
            **self.env,
            "TRIALBOOK_ROOT": str(self.workspace.root),
            "TRIALBOOK_STORE": self.workspace.store_url,
            # Who claimed the run (Store.claim_queued_run): a process that is not our
            # descendant (Ray, Slurm) takes the run over by this identity.
            RUNNER_PID_ENV: str(os.getpid()),
            RUNNER_HOST_ENV: socket.gethostname(),
            # The runner's command line, for meta.json: a --store URL without its password
            # (the child has TRIALBOOK_STORE for that, and keeps it off disk).
            LAUNCHED_BY_ENV: json.dumps([hide_passwords(arg) for arg in sys.argv]),
            # Output reaches the files and the screen line by line, not at exit.
            "PYTHONUNBUFFERED": "1",
        }
        # Every run hashes str and bytes with one fixed seed (the run's seed seeds random,
        # NumPy and torch): a forked run keeps its fork server's hash seed, so one server
        # serves every seed of a suite. PYTHONHASHSEED set for `trialbook run` is kept.
        env.setdefault("PYTHONHASHSEED", os.environ.get("PYTHONHASHSEED") or RUN_HASH_SEED)
        return env

    def _execute(
        self,
        db: Store,
        items: list[_Item],
        watched: dict[int, _Watched],
        outcomes: dict[int, RunOutcome],
        reporter: ProgressReporter,
        decisions: list[PlanDecision],
    ) -> bool:
        executor = self.executor
        queue = deque(items)
        inflight: dict[str, tuple[_Item, TaskHandle]] = {}
        by_key: dict[str, _Item] = {}
        stopping = False
        interrupted = False
        reporter.start(decisions, executor.max_parallel)
        for w in watched.values():
            reporter.message(_waiting(w))

        def on_output(task: Task, stream: Literal["stdout", "stderr"], line: str) -> None:
            item = by_key.get(task.key)
            if item is not None:
                reporter.output(item.planned, stream, line)

        last_refresh = 0.0
        last_watch = 0.0
        last_beat = time.monotonic()
        self._signal = signal.SIGINT

        def on_sigterm() -> None:
            self._signal = signal.SIGTERM

        with _interrupt_on_sigterm(on_sigterm):
            try:
                while inflight or ((queue or watched) and not stopping):
                    # A queueing backend (Slurm) gets every run it may start at once, in one
                    # submit_many (one job array); its own queue runs max_parallel at a time.
                    # --stop-on-error keeps to max_parallel: what is not submitted stays queued.
                    at_once = self.detach or (executor.queues and not self.stop_on_error)
                    fresh: list[_Item] = []
                    while (
                        queue
                        and not stopping
                        and (at_once or len(inflight) + len(fresh) < executor.max_parallel)
                    ):
                        item = queue.popleft()
                        adopt = None
                        if not self._claim(db, item):
                            adopt = item.adopted or self._adoptable(db, item)
                            if adopt is None:
                                # Another runner started it first; wait for it there.
                                watched[item.index] = _Watched(item.planned, item.run_id)
                                reporter.message(_waiting(watched[item.index]))
                                continue
                        item.started_mono = time.monotonic()
                        by_key[item.run_id] = item
                        if adopt is None:
                            fresh.append(item)
                            continue
                        handle = executor.attach(self._task(item), adopt, on_output)  # type: ignore[attr-defined]
                        reporter.message(
                            f"{label(item.planned)} (run {short_run_id(item.run_id)}): "
                            f"following {executor.name} job {adopt.get('job_id')}."
                        )
                        inflight[item.run_id] = (item, handle)
                        reporter.started(item.planned, item.run_id, item.attempt)
                    if fresh:
                        tasks = [self._task(item) for item in fresh]
                        for item, handle in zip(
                            fresh, executor.submit_many(tasks, on_output), strict=True
                        ):
                            inflight[item.run_id] = (item, handle)
                            reporter.started(item.planned, item.run_id, item.attempt)
                    if self.detach:
                        self._detach(db, inflight, outcomes, reporter)
                        inflight.clear()
                        break
                    self._record_jobs(db, inflight, detached=False)
                    if inflight:
                        handles = [h for _, h in inflight.values()]
                        results = executor.wait(handles, timeout=reporter.refresh_interval)
                    else:
                        results = []
                        if watched and not stopping:
                            time.sleep(_WATCH_POLL)  # nothing of ours runs: only waiting
                    for result in results:
                        item = inflight[result.key][0]
                        outcome = self._finalize(db, item, result)
                        del inflight[result.key]
                        if result.output_error:
                            reporter.message(
                                f"{label(item.planned)} (run {short_run_id(item.run_id)}): "
                                f"{result.output_error}."
                            )
                        if outcome.failed and item.attempt <= self.retries:
                            queue.appendleft(self._retry(db, item))
                            reporter.finished(outcome, retrying=True)
                            continue
                        outcomes[item.index] = outcome
                        reporter.finished(outcome)
                        if outcome.failed and self.stop_on_error:
                            stopping = True
                    now = time.monotonic()
                    if watched and not stopping and now - last_watch >= _WATCH_POLL:
                        last_watch = now
                        for index, outcome in self._check_watched(db, watched, queue):
                            outcomes[index] = outcome
                            reporter.finished(outcome)
                            if outcome.failed and self.stop_on_error:
                                stopping = True
                    if now - last_beat >= _JOB_BEAT and inflight and executor.queues:
                        last_beat = now
                        self._beat(db, [item for item, _ in inflight.values()])
                    if inflight and now - last_refresh >= reporter.refresh_interval:
                        last_refresh = now
                        reporter.refresh(self._live_metrics(db, list(inflight)))
            except KeyboardInterrupt:
                interrupted = True
                self._stop_all(db, inflight, outcomes, reporter)
        for item in queue:
            outcomes[item.index] = RunOutcome(
                item.planned,
                "queued",
                run_id=item.run_id,
                attempts=item.attempt - 1,
                reason=f"interrupted ({self._signal_name()})"
                if interrupted
                else "stopped after a failure",
            )
        for index, w in watched.items():
            outcomes[index] = RunOutcome(
                w.planned,
                "skipped",
                run_id=w.run_id,
                reason=f"left to another runner (run {short_run_id(w.run_id)})",
                by_another_runner=True,
            )
        return interrupted

    def _detach(
        self,
        db: Store,
        inflight: dict[str, tuple[_Item, TaskHandle]],
        outcomes: dict[int, RunOutcome],
        reporter: ProgressReporter,
    ) -> None:
        """--detach: hand every submitted job over to the backend and record it."""
        detach = getattr(self.executor, "detach", None)
        if not callable(detach):
            raise ConfigError(
                f"--detach needs a queueing executor such as slurm, not {self.executor.name}.",
                parameter="detach",
                value=True,
            )
        records = detach()
        for item, _ in inflight.values():
            record = records.get(item.run_id)
            if record is None:
                continue
            item.job = self._job_entry(record, detached=True)
            write_job_record(item.folder, item.job)
        pid = os.getpid()
        db.hold_jobs(
            [item.run_id for item, _ in inflight.values() if item.run_id in records],
            host=socket.gethostname(),
            pid=pid,
            pid_started_at=process_start_time(pid),
            detached=True,
        )
        for item, handle in inflight.values():
            if item.run_id not in records:  # the backend refused it (sbatch failed)
                for result in self.executor.wait([handle], timeout=0):
                    outcomes[item.index] = self._finalize(db, item, result)
                    reporter.finished(outcomes[item.index])
                continue
            job = item.job or {}
            outcome = RunOutcome(
                item.planned,
                "queued",
                run_id=item.run_id,
                reason=f"submitted as {self.executor.name} job {job.get('job_id', '?')}; run "
                "the same command again (or trialbook ls) to pick up how it ends",
            )
            outcomes[item.index] = outcome
            reporter.finished(outcome)

    def _check_watched(
        self, db: Store, watched: dict[int, _Watched], queue: deque[_Item]
    ) -> list[tuple[int, RunOutcome]]:
        """The outcomes of watched runs that ended (and stop being watched). A watched run
        found queued (its runner stopped before starting it, or claimed it and died before
        its backend had the job: :meth:`_release_dead_claim`), or whose job its runner let go
        (it detached, or died meanwhile: this runner may adopt the job), joins this runner's
        queue."""
        ended: list[tuple[int, RunOutcome]] = []
        follows_jobs = self.executor.queues
        for index, w in list(watched.items()):
            rec = db.get_run(w.run_id)
            let_go = (
                follows_jobs
                and rec.status in ("queued", "running")
                and rec.pid is not None
                and self._job_let_go(db, rec)
            )
            if (
                rec.status == "queued"
                and rec.pid is not None
                and not let_go
                and not self._release_dead_claim(db, rec)
            ):
                continue  # claimed and waiting in its runner's backend (a Slurm job)
            if rec.status == "queued" or let_go:
                del watched[index]
                queue.append(_Item(index, w.planned, rec.id, Path(rec.folder or "")))
                continue
            if rec.status not in FINISHED_STATUSES:
                continue
            if rec.status != "completed":
                # The other runner may try again (--retries): follow its next attempt, and
                # give it a moment to make one before calling this the outcome.
                newer = [
                    r
                    for r in self._same_runs(db, w.planned)
                    if r.id > rec.id and r.status not in FINISHED_STATUSES
                ]
                if newer:
                    w.run_id, w.failed_since = newer[0].id, None
                    continue
                now = time.monotonic()
                if w.failed_since is None:
                    w.failed_since = now
                if now - w.failed_since < _RETRY_GRACE:
                    continue
            del watched[index]
            ended.append(
                (
                    index,
                    RunOutcome(
                        w.planned,
                        cast(OutcomeStatus, rec.status),
                        run_id=rec.id,
                        duration=rec.duration,
                        error=rec.error,
                        metrics=self._live_metrics(db, [rec.id]).get(rec.id, {}),
                        reason=f"by another runner, run {short_run_id(rec.id)}",
                        by_another_runner=True,
                    ),
                )
            )
        return ended

    def _signal_name(self) -> str:
        return "SIGTERM" if self._signal == signal.SIGTERM else "Ctrl-C"

    def _stop_all(
        self,
        db: Store,
        inflight: dict[str, tuple[_Item, TaskHandle]],
        outcomes: dict[int, RunOutcome],
        reporter: ProgressReporter,
    ) -> None:
        executor = self.executor
        handles = [h for _, h in inflight.values()]
        reporter.message(f"Interrupted: stopping {len(handles)} running run(s)...")
        for handle in handles:
            executor.cancel(handle)
        try:
            results = executor.wait_all(handles)
        except KeyboardInterrupt:
            for handle in handles:
                executor.cancel(handle)  # a second cancel kills at once
            results = executor.wait_all(handles)
        for result in results:
            item = inflight[result.key][0]
            outcome = self._finalize(db, item, result)
            outcomes[item.index] = outcome
            reporter.finished(outcome)

    def _retry(self, db: Store, item: _Item) -> _Item:
        record, _ = self._queue(
            db,
            item.planned,
            (*self.tags, "retry"),
            notes=f"Attempt {item.attempt + 1} of {self.retries + 1}; the previous attempt "
            f"was run {item.run_id}.",
        )
        return _Item(
            item.index, item.planned, record.id, Path(record.folder or ""), item.attempt + 1
        )

    def _live_metrics(self, db: Store, run_ids: list[str]) -> dict[str, dict[str, float]]:
        try:
            summaries = db.metric_summaries(run_ids)
        except StoreError:
            return {}
        return {
            run_id: {k: s.last for k, s in keys.items() if not k.startswith("system/")}
            for run_id, keys in summaries.items()
        }

    # ----------------------------------------------------------------- recording outcomes
    def _finalize(self, db: Store, item: _Item, result: TaskResult) -> RunOutcome:
        """Record what the process could not record itself, and describe the outcome."""
        db.reap_dead_runs(force=True)  # a dead process's run reads as crashed, not running
        rec = db.get_run(item.run_id)
        if result.exit_code == EXIT_TAKEN and rec.status in FINISHED_STATUSES | {"running"}:
            # Another invocation's process has this run (the same plan started twice).
            return RunOutcome(
                item.planned,
                "skipped",
                run_id=rec.id,
                attempts=item.attempt,
                reason=f"taken by another process ({rec.status}, pid {rec.pid})",
            )
        folder = RunFolder(item.folder)
        status: str = rec.status
        claimed = status != "queued"  # its process started the run (and set started_at)
        error = rec.error
        fix: tuple[str, str | None] | None = None
        if result.cancelled or result.timed_out:
            if status != "completed":
                if result.timed_out:
                    reason = f"timed out after {self.timeout or 0:g} s (--timeout)"
                else:
                    reason = (
                        result.reason
                        or f"stopped: the runner was interrupted ({self._signal_name()})"
                    )
                fix = ("killed", reason)
        elif result.reason is not None and status != "completed":
            # The backend ended it by a rule of its own (a Slurm time limit): the run's
            # process may have called itself killed on the SIGTERM; the reason is the backend's.
            fix = ("failed", result.reason)
        elif result.lost is not None and status == "killed":
            # The process recorded the SIGTERM that its executor's death sent it (a Ray
            # worker's fork server died with the worker): the loss is what happened.
            fix = ("crashed", result.lost)
        elif status not in FINISHED_STATUSES or status == "crashed":
            if result.lost is not None:
                fix = ("crashed", result.lost)
            elif result.error is not None:
                fix = ("failed", f"The run's process could not start: {result.error}")
            elif result.signal is not None:
                fix = ("crashed", f"killed by signal {result.signal_name}")
            elif result.exit_code not in (0, None):
                tail = _tail(folder.path / "stderr.log", _STDERR_TAIL)
                message = f"The process exited with status {result.exit_code}."
                fix = ("failed", message + (f"\n{tail}" if tail else ""))
            else:
                # A command that does not use the Tracker API: its exit status is its outcome.
                self._pick_up_metrics(db, rec, folder)
                fix = ("completed", None)
        if fix is not None:
            status, error = fix
            ended = time.time()
            # One definition everywhere (ls, show, reports, this runner's lines): the run's
            # own started -> ended; the process's wall time only for a run it never started.
            if claimed and rec.started_at is not None:
                duration = max(0.0, ended - rec.started_at)
            else:
                duration = result.duration if result.started_at is not None else 0.0
            db.update_run(
                rec.id,
                status=status,
                error=error,
                ended_at=ended,
                duration=duration,
                heartbeat_at=ended,
                started_at=rec.started_at or result.started_at or ended,
            )
            rec = db.get_run(rec.id)
            # The Store has the outcome; a folder removed meanwhile must not stop the suite.
            with contextlib.suppress(OSError):
                write_summary(
                    db, folder, rec, status=status, ended=ended, duration=duration, error=error
                )
        metrics = self._live_metrics(db, [rec.id]).get(rec.id, {})
        # Only a finished status can be left here; anything else would be a bug in the fix-up.
        final = cast(OutcomeStatus, status if status in FINISHED_STATUSES else "failed")
        return RunOutcome(
            item.planned,
            final,
            run_id=rec.id,
            attempts=item.attempt,
            # The duration the Store has (ls, show and reports show the same): the run's own.
            duration=rec.duration if rec.duration is not None else result.duration,
            error=error,
            metrics=metrics,
        )

    @staticmethod
    def _pick_up_metrics(db: Store, rec: RunRecord, folder: RunFolder) -> None:
        path = folder.path / METRICS_FILE
        data = folder.read_json(path) if path.exists() else {}
        now = time.time()
        series = {
            str(k): [(0, float(v), now)]
            for k, v in data.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        if series:
            db.log_metrics(rec.id, series)


#: The file in a run's folder that names its job in a queueing backend (Slurm).
JOB_FILE = "job.json"


def read_job_record(folder: Path | str) -> dict[str, Any] | None:
    """The run's job in a queueing backend (``job.json`` in its folder), if it has one."""
    try:
        data = json.loads((Path(folder) / JOB_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("job_id") else None


def write_job_record(folder: Path | str, record: Mapping[str, Any]) -> None:
    path = Path(folder) / JOB_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(dict(record), indent=2) + "\n")
    os.replace(tmp, path)


def _holder_of_record(run_id: str, record: Mapping[str, Any]) -> JobHolder:
    """The runner a job.json names, for a job with no holder in the Store (submitted before
    schema tb0005): judged by its pid on its host; with no heartbeat, gone on another."""
    pid = record.get("runner_pid")
    started = record.get("runner_started")
    return JobHolder(
        run_id,
        str(record.get("runner_host") or ""),
        pid if isinstance(pid, int) else 0,
        float(started) if isinstance(started, int | float) else None,
        0.0,
        bool(record.get("detached")),
    )


def job_holder(db: Store, run_id: str, record: Mapping[str, Any]) -> tuple[JobHolder | None, bool]:
    """The holder of the run's job in the Store (None for a job submitted before schema
    tb0005: then job.json's ``record`` names it), and whether it let the job go: it detached
    or is gone (:meth:`Store.holder_alive`), so a later runner may adopt the job."""
    row = db.job_holders([run_id]).get(run_id)
    return row, not db.holder_alive(row or _holder_of_record(run_id, record))


def _disk_full(error: BaseException) -> str | None:
    """What the system said, when ``error`` (or an error it was raised from) is a full disk."""
    cause = full_disk_cause(error)
    if cause is None:
        return None
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return "no space left on device"


def _waiting(watched: _Watched) -> str:
    return (
        f"Waiting for {label(watched.planned)}: another runner has it "
        f"(run {short_run_id(watched.run_id)})."
    )


def _reason(decision: PlanDecision) -> str:
    return {
        "skip": f"completed before as run {decision.run_id}",
        "duplicate": "listed twice in the plan (same config and seed)",
    }.get(decision.action, "")


def _tail(path: Path, lines: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@contextmanager
def _interrupt_on_sigterm(on_signal: Callable[[], None]) -> Iterator[None]:
    """Inside the Runner, SIGTERM stops the suite like Ctrl-C does (main thread only);
    ``on_signal`` is called first, so the Runner can tell the two apart."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        on_signal()
        raise KeyboardInterrupt

    previous: Callable[[int, FrameType | None], Any] | int | None = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
