"""Attach mode: a process launched by the Runner tracks into the run the Runner queued for it.

The Runner creates every run of a suite as ``queued`` (with its folder and config.yaml) before
anything starts, and launches each process with ``TRIALBOOK_RUN_ID`` set. When such a process
calls :func:`trialbook.start_run` (directly or through ``ExperimentTracker``), it gets a
:class:`~trialbook.Run` bound to that record instead of a second run:

* the run becomes ``running`` with this process's pid, host and start time; meta.json is
  written with this process's provenance (git state, packages, command line);
* the Runner's config stays the run's config. Keys of the script's own ``config`` that the
  Runner's config lacks are logged as params; keys whose value differs are logged as
  ``script.<key>`` params and named in a warning, because config.yaml (what ``trialbook run``
  and ``reproduce`` use) is the Runner's;
* the variable is removed from ``os.environ`` once a process has attached, so that its own
  subprocesses and later ``start_run`` calls create runs of their own. A process that does
  not attach (a shell wrapper, ``python -m``) passes it on to the script it starts.

When the run is not in the workspace ``start_run`` resolves, or is already finished,
``start_run`` warns and creates a new run as usual.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trialbook._redact import hide_passwords
from trialbook._workspace import Workspace
from trialbook.config._hash import flatten_config, same_setting
from trialbook.errors import RunNotFoundError, RunStateError, TrialbookError
from trialbook.store._base import Store
from trialbook.store._liveness import process_start_time
from trialbook.store._records import RunRecord
from trialbook.tracking._create import build_meta
from trialbook.tracking._folder import RunFolder
from trialbook.tracking._open import open_run
from trialbook.tracking._provenance import GitProbe, collect_environment, git_info
from trialbook.tracking._run import Run
from trialbook.tracking._settings import (
    LAUNCHED_BY_ENV,
    RUN_ID_ENV,
    RUNNER_HOST_ENV,
    RUNNER_PID_ENV,
    tracking_settings,
)

__all__ = [
    "AttachedRun",
    "attach_run",
    "claim_run",
    "config_differences",
    "try_attach",
]

_ATTACHABLE = ("queued", "running")


class AttachedRun:
    """What :func:`claim_run` returns: the record (now ``running``), its folder and meta.json."""

    def __init__(self, record: RunRecord, folder: RunFolder, meta: dict[str, Any]) -> None:
        self.record = record
        self.folder = folder
        self.meta = meta


def claim_run(
    db: Store,
    workspace: Workspace,
    run_id: str,
    *,
    capture_packages: bool = True,
    notes: str | None = None,
    tags: tuple[str, ...] = (),
    git_probe: GitProbe | None = None,
) -> AttachedRun:
    """Mark the queued (or already running) run ``run_id`` as running in this process.

    Writes meta.json (and diff.patch for a dirty work tree) into the run's folder and
    records this process's pid, host and git state in the Store. A run claimed again (the
    Runner's child, then the script it starts) keeps its first start time. ``git_probe``,
    started before the Store was opened, gives the git state (default: asked here).

    Raises:
        RunNotFoundError: no run has this id in the Store.
        RunStateError: the run is finished, or has no folder.
    """
    record = db.get_run(run_id)
    if record.id != run_id:
        from trialbook.store._dialect import safe_url

        raise RunNotFoundError(f"No run with id {run_id!r} in {safe_url(workspace.store_url)}.")
    if record.status not in _ATTACHABLE:
        raise RunStateError(
            f"Run {run_id} is {record.status}; only a queued or running run can be attached "
            f"to. Unset {RUN_ID_ENV} to start a new run."
        )
    if record.status == "running" and not (
        _claimed_by_our_runner(record) or _owned_by_this_process_tree(record)
    ):
        raise RunStateError(
            f"Run {run_id} is running in process {record.pid} on {record.host}, which is not "
            "this process or one of its parents; two processes must not track one run."
        )
    if (
        record.status == "queued"
        and record.pid is not None
        and not (_claimed_by_our_runner(record) or _owned_by_this_process_tree(record))
    ):
        # Claimed for a queueing backend by a runner, which is not the one that launched this
        # process: e.g. the job of a runner that died before it recorded the job, whose claim
        # a later runner then took over and holds now.
        raise RunStateError(
            f"Run {run_id} is held by the runner in process {record.pid} on {record.host}, "
            "not by the one that launched this process; two processes must not track one run."
        )
    if not record.folder:
        raise RunStateError(f"Run {run_id} has no run folder; it cannot be attached to.")
    folder = RunFolder(Path(record.folder))
    now = time.time()
    # A run's duration is its own started -> ended: a queued run starts when a process claims
    # it, not when the runner planned it (the time it waited for a free job is not its own).
    started = now if record.status == "queued" else (record.started_at or now)
    env = collect_environment(include_packages=capture_packages)
    git = git_probe.result() if git_probe is not None else git_info(exclude=[workspace.root])
    meta = build_meta(record.id, record.experiment, record.name, record.seed, started, git, env)
    launched_by = _launched_by()
    if launched_by is not None:
        meta["launched_by"] = launched_by  # e.g. the `trialbook run ...` that queued this run
    for path in (folder.path, folder.checkpoint_dir, folder.artifacts_dir):
        path.mkdir(parents=True, exist_ok=True)
    # Synced in the background: the Run waits for it when it finishes (an unfinished run
    # after a power cut may show the queued run's meta.json).
    folder.write_meta(meta, sync=False)
    written = [folder.meta_path]
    if git is not None and git.dirty and git.diff:
        folder.write_diff(git.diff, sync=False)
        written.append(folder.diff_path)
    folder.sync_later(written)
    pid = os.getpid()
    fields: dict[str, Any] = {
        "status": "running",
        "host": env.get("host"),
        "pid": pid,
        "pid_started_at": process_start_time(pid),
        "started_at": started,
        "heartbeat_at": db.now(),  # the Store's clock, as every heartbeat (Store.now)
        "git_commit": git.commit if git else None,
        "git_branch": git.branch if git else None,
        "git_dirty": git.dirty if git else None,
    }
    new_tags = tuple(t for t in tags if t not in record.tags)
    if new_tags:
        fields["tags"] = (*record.tags, *new_tags)
    if notes and not record.notes:
        fields["notes"] = notes
    db.update_run(run_id, **fields)
    return AttachedRun(db.get_run(run_id), folder, meta)


def _owned_by_this_process_tree(record: RunRecord) -> bool:
    """The running run was claimed by this process (the Runner's child, which then ``exec``s
    the command and keeps its pid) or by one of its parents (a wrapper script's child)."""
    import socket

    import psutil

    if record.pid is None or record.host != socket.gethostname():
        return False
    if record.pid == os.getpid():
        return True
    try:
        return any(parent.pid == record.pid for parent in psutil.Process().parents())
    except psutil.Error:
        return False


def _claimed_by_our_runner(record: RunRecord) -> bool:
    """The running run was claimed by the runner that launched this process, which is not
    this process's parent (a Ray worker, a Slurm step, another host): the runner's host and
    pid, passed in the environment, are the ones the Store recorded. Only a Runner sets
    them, next to the run id it claimed."""
    host = os.environ.get(RUNNER_HOST_ENV)
    pid = os.environ.get(RUNNER_PID_ENV, "")
    return bool(host) and pid.isdigit() and record.pid == int(pid) and record.host == host


def config_differences(
    runner_config: Mapping[str, Any], script_config: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(extra, conflicting)``: flattened keys of the script's config that the Runner's
    config lacks, and keys present in both with different values (script's values)."""
    ours = flatten_config(runner_config)
    extra: dict[str, Any] = {}
    conflicting: dict[str, Any] = {}
    for key, value in flatten_config(script_config).items():
        if key not in ours:
            extra[key] = value
        elif not same_setting(ours[key], value):
            conflicting[key] = value
    return extra, conflicting


def try_attach(
    run_id: str,
    script_config: Mapping[str, Any],
    *,
    workspace: Workspace,
    capture_packages: bool,
    notes: str | None,
    tags: tuple[str, ...],
    git_probe: GitProbe | None = None,
) -> tuple[Store, AttachedRun] | None:
    """Claim ``run_id`` for :func:`~trialbook.start_run`, or warn and return None.

    ``script_config`` is the config the script passed (empty when none); see the module
    docstring for what happens to its keys. On success the variable is removed from
    ``os.environ`` and the open Store is returned with the claimed run.
    """
    db = workspace.open_store(create=True)
    try:
        attached = claim_run(
            db,
            workspace,
            run_id,
            capture_packages=capture_packages,
            notes=notes,
            tags=tags,
            git_probe=git_probe,
        )
    except (RunNotFoundError, RunStateError) as e:
        db.close()
        warnings.warn(
            f"{RUN_ID_ENV}={run_id} was not attached to ({e}); starting a new run instead.",
            stacklevel=3,
        )
        return None
    except TrialbookError:
        db.close()
        raise
    try:
        if script_config:
            extra, conflicting = config_differences(attached.record.config, script_config)
            params = {**extra, **{f"script.{k}": v for k, v in conflicting.items()}}
            if params:
                db.log_params(run_id, params)
            if conflicting:
                shown = ", ".join(sorted(conflicting)[:5])
                more = f" and {len(conflicting) - 5} more" if len(conflicting) > 5 else ""
                warnings.warn(
                    f"The script's config differs from the Runner's config.yaml in {shown}"
                    f"{more}; the run keeps the Runner's values and records the script's as "
                    "script.<key> params.",
                    stacklevel=3,
                )
    except BaseException:
        db.close()
        raise
    os.environ.pop(RUN_ID_ENV, None)
    return db, attached


def attach_run(
    run_id: str,
    *,
    root: str | os.PathLike[str] | None = None,
    store_url: str | None = None,
    system_metrics: bool | None = None,
    capture_packages: bool = True,
    metric_goals: Mapping[str, str] | None = None,
    db: Store | None = None,
    git_probe: GitProbe | None = None,
) -> Run:
    """The live :class:`~trialbook.Run` of the queued run ``run_id`` (the Runner's child
    process uses this); unlike ``start_run`` it never falls back to a new run.

    ``db``, an open Store of the workspace, is used (and owned by the run from then on)
    instead of opening another; ``git_probe``, started before it was opened, gives the git
    state.

    Raises:
        RunNotFoundError / RunStateError: the run is not there or not attachable.
        WorkspaceError / StoreError: the workspace or database cannot be used.
    """
    settings = tracking_settings(system_metrics=system_metrics)
    workspace = Workspace.resolve(root, store_url)
    if db is None:
        db = workspace.open_store()
    try:
        attached = claim_run(
            db, workspace, run_id, capture_packages=capture_packages, git_probe=git_probe
        )
    except BaseException:
        db.close()
        raise
    return open_run(
        attached.record,
        db,
        attached.folder,
        attached.meta,
        settings=settings,
        metric_goals=metric_goals,
    )


def _launched_by() -> list[str] | None:
    raw = os.environ.get(LAUNCHED_BY_ENV)
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return [hide_passwords(str(v)) for v in value] if isinstance(value, list) else None
