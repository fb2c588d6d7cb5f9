"""Runs whose process is a job in a queueing backend (Slurm): picking up how the jobs of a
detached ``trialbook run`` ended, and cancelling them (``trialbook cancel``).

A run's job is named in ``job.json`` in its folder (written by the Runner when the backend
took the job), and the runner that follows it in the Store (``job_holders``: see
:meth:`Store.adopt_job`); the Store keeps the run ``queued`` while the job waits, and its
process moves it to ``running``. One owner for the outcome of a job: the Runner's
``_finalize``, reached here through :meth:`Runner.pick_up`.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trialbook._types import FINISHED_STATUSES
from trialbook._workspace import Workspace
from trialbook.errors import ConfigError
from trialbook.execution._runner import read_job_record
from trialbook.store._records import RunQuery, RunRecord, short_run_id
from trialbook.tracking._folder import RunFolder
from trialbook.tracking._run import write_summary

__all__ = ["CancelOutcome", "cancel_runs", "pick_up_jobs", "runs_with_jobs", "unfinished_runs"]


def runs_with_jobs(records: Sequence[RunRecord]) -> list[tuple[RunRecord, dict[str, object]]]:
    """The unfinished runs among ``records`` that have a job in a queueing backend."""
    found = []
    for rec in records:
        if rec.status in FINISHED_STATUSES or not rec.folder:
            continue
        job = read_job_record(rec.folder)
        if job is not None:
            found.append((rec, job))
    return found


@dataclass(frozen=True)
class CancelOutcome:
    """What ``trialbook cancel`` did with one run: ``cancelled`` (its job was cancelled and
    the run marked killed) or ``finished`` (it had ended already: nothing done)."""

    run_id: str
    action: str
    job_id: str | None = None
    status: str | None = None


def cancel_runs(workspace: Workspace, run_ids: Sequence[str]) -> list[CancelOutcome]:
    """Cancel the Slurm jobs of the given runs (``scancel``) and mark the runs killed.

    Every id is checked before anything is cancelled.

    Raises:
        ConfigError: an id matches no run, or names an unfinished run without a job (a run
            of the local executor: stop it with Ctrl-C where it runs).
    """
    db = workspace.open_store(create=False)
    try:
        targets: list[tuple[RunRecord, dict[str, object] | None]] = []
        for run_id in run_ids:
            rec = db.get_run(run_id)  # RunNotFoundError names the id
            job = read_job_record(rec.folder) if rec.folder else None
            if job is None and rec.status not in FINISHED_STATUSES:
                raise ConfigError(
                    f"Run {short_run_id(rec.id)} is {rec.status} but has no Slurm job "
                    f"(no {rec.folder}/job.json); stop it with Ctrl-C where it runs.",
                    parameter="run",
                    value=run_id,
                )
            targets.append((rec, job))
        outcomes = []
        for rec, job in targets:
            if rec.status in FINISHED_STATUSES:
                outcomes.append(CancelOutcome(rec.id, "finished", status=rec.status))
                continue
            assert job is not None
            job_id = str(job["job_id"])
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(["scancel", job_id], capture_output=True, timeout=30, check=False)
            now = time.time()
            fresh = db.get_run(rec.id)
            if fresh.status not in FINISHED_STATUSES:
                reason = f"cancelled with trialbook cancel (Slurm job {job_id})"
                duration = max(0.0, now - fresh.started_at) if fresh.started_at else 0.0
                db.update_run(
                    rec.id,
                    status="killed",
                    error=reason,
                    ended_at=now,
                    duration=duration,
                    heartbeat_at=now,
                    started_at=fresh.started_at or now,
                )
                with contextlib.suppress(OSError):
                    write_summary(
                        db,
                        RunFolder(Path(fresh.folder or "")),
                        db.get_run(rec.id),
                        status="killed",
                        ended=now,
                        duration=duration,
                        error=reason,
                    )
            outcomes.append(CancelOutcome(rec.id, "cancelled", job_id, "killed"))
        return outcomes
    finally:
        db.close()


def unfinished_runs(workspace: Workspace) -> list[RunRecord]:
    """The queued and running runs of the workspace."""
    db = workspace.open_store(create=False)
    try:
        return [
            r for r in db.list_runs(RunQuery(order_by="id")) if r.status not in FINISHED_STATUSES
        ]
    finally:
        db.close()


def pick_up_jobs(workspace: Workspace, patience: float = 0.0) -> int:
    """Record how the Slurm jobs of detached (or dead) runners ended, for ``trialbook ls``:
    a no-op (no Slurm, no submitit imported) unless an unfinished run has such a job.
    Returns how many runs got their outcome.

    Raises:
        ConfigError: such a job exists but submitit is not installed.
    """
    from trialbook.errors import WorkspaceError
    from trialbook.execution._runner import Runner, job_holder

    try:
        runs = unfinished_runs(workspace)
    except WorkspaceError:
        return 0
    with_jobs = [(rec, job) for rec, job in runs_with_jobs(runs) if job.get("executor") == "slurm"]
    if not with_jobs:
        return 0
    db = workspace.open_store(create=False)
    try:
        left = [job for rec, job in with_jobs if job_holder(db, rec.id, job)[1]]
    finally:
        db.close()
    if not left:
        return 0
    from trialbook.execution._slurm import SlurmExecutor

    folder = str(left[0].get("folder") or workspace.root / ".slurm")
    with SlurmExecutor(1, folder=folder) as executor:
        runner = Runner(
            root=workspace.root,
            store_url=workspace.store_url,
            executor=executor,
            progress="quiet",
        )
        return len(runner.pick_up(patience))
