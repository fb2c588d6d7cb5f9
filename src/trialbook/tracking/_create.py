"""Creating a run: its id, folder, config.yaml, meta.json and Store row, in one place.

Two callers create runs: :func:`trialbook.start_run` (a ``running`` run owned by the calling
process) and the Runner (a ``queued`` run that the process it launches claims later, see
``tracking/_attach.py``). Both go through :func:`create_run`, so a run's id, short id, folder
name, config.yaml and Store row are made the same way whoever creates it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from trialbook._redact import hide_passwords
from trialbook.config._hash import flatten_config
from trialbook.errors import ConfigError
from trialbook.store._base import Store
from trialbook.store._liveness import process_start_time
from trialbook.store._records import NewRun, RunRecord, short_run_id
from trialbook.tracking._folder import RunFolder, folder_name
from trialbook.tracking._provenance import GitInfo, GitProbe, collect_environment, git_info

__all__ = [
    "MAX_CONFIG_DEPTH",
    "CreatedRun",
    "build_meta",
    "check_config_shape",
    "create_run",
    "new_run_id",
]

#: Deeper configs are refused: nobody writes one, and walking it would exhaust the stack.
MAX_CONFIG_DEPTH = 100


def new_run_id(now: float | None = None) -> str:
    """A sortable id: UTC ``YYYYmmdd_HHMMSS`` and six random hex digits (the short id)."""
    stamp = datetime.fromtimestamp(now or time.time(), tz=timezone.utc).strftime("%Y%m%d_%H%M%S")
    return f"{stamp}_{secrets.token_hex(3)}"


def build_meta(
    run_id: str,
    experiment: str,
    name: str,
    seed: int | None,
    started: float,
    git: GitInfo | None,
    env: Mapping[str, Any],
) -> dict[str, Any]:
    """The content of meta.json: when, where and from which code and command a run started."""
    return {
        "run_id": run_id,
        "experiment": experiment,
        "name": name,
        "start_time": datetime.fromtimestamp(started, tz=timezone.utc).isoformat(),
        "seed": seed,
        "host": env.get("host"),
        "pid": os.getpid(),
        "device": env.get("device"),
        "command": [hide_passwords(str(arg)) for arg in sys.argv],  # no password of a URL
        "git": None
        if git is None
        else {
            "commit": git.commit,
            "branch": git.branch,
            "dirty": git.dirty,
            "remote": git.remote,
        },
        "environment": dict(env),
        "data": [],
    }


@dataclass(frozen=True)
class CreatedRun:
    """What :func:`create_run` returns.

    ``created`` is False when another runner's run with the same config hash and seed was in
    the way (see :meth:`Store.queue_run`): ``record`` is then that run, ``folder`` its folder,
    and nothing was written. ``meta`` is meta.json's content for a ``running`` run (None for
    a queued one: the process that claims it writes meta.json).
    """

    record: RunRecord
    folder: RunFolder
    created: bool = True
    meta: dict[str, Any] | None = None


def create_run(
    store: Store,
    root: Path,
    *,
    experiment: str,
    name: str,
    config: Mapping[str, Any],
    config_hash: str,
    group_key: str,
    seed: int | None = None,
    status: Literal["running", "queued"] = "running",
    notes: str | None = None,
    tags: Sequence[str] = (),
    description: str | None = None,
    hypothesis: str | None = None,
    capture_packages: bool = True,
    known: Sequence[str] | None = None,
    git_probe: GitProbe | None = None,
) -> CreatedRun:
    """Create a run: a new id, its folder under ``root`` with config.yaml, and its Store row.

    A ``running`` run belongs to this process: its provenance (git state, packages, command
    line) is collected first and written to meta.json (and diff.patch for a dirty work tree)
    and to the row. A ``queued`` run gets no meta.json until a process claims it.

    With ``known`` (the ids of the runs of this config hash and seed the caller saw when it
    decided to create one), the row is inserted with :meth:`Store.queue_run`, so that a run
    another runner created meanwhile is returned instead (``created`` False). A description
    or hypothesis is recorded on the experiment. ``git_probe``, started by the caller before
    it opened the Store, gives the git state of a ``running`` run (default: asked here).

    Raises:
        StoreError / OSError: the row or the folder cannot be written; nothing is left behind
            but what the Store itself committed.
    """
    started = time.time()
    run_id = new_run_id(started)
    git: GitInfo | None = None
    env: dict[str, Any] = {}
    meta: dict[str, Any] | None = None
    pid: int | None = None
    if status == "running":
        env = collect_environment(include_packages=capture_packages)
        pid = os.getpid()
    folder = RunFolder(root / folder_name(name, short_run_id(run_id)))
    folder.create()
    try:
        # The folder is new: it is synced once, after its files are written. A running run's
        # files are synced in the background (its Run waits for that when it finishes), so
        # that start_run does not wait for the disk; a queued run's before its row exists.
        now = status != "running"
        folder.write_config(config, sync_folder=False, sync=now)
        written = [folder.config_path]
        if status == "running":
            # Asked for git's answer only now: git runs while the folder is written.
            git = git_probe.result() if git_probe is not None else git_info(exclude=[root])
            meta = build_meta(run_id, experiment, name, seed, started, git, env)
        if meta is not None:
            folder.write_meta(meta, sync_folder=False, sync=now)
            written.append(folder.meta_path)
        if git is not None and git.dirty and git.diff:
            folder.write_diff(git.diff, sync_folder=False, sync=now)
            written.append(folder.diff_path)
        if now:
            folder.sync()
        else:
            folder.sync_later(written)
        new = NewRun(
            id=run_id,
            experiment=experiment,
            name=name,
            config=config,
            config_hash=config_hash,
            group_key=group_key,
            status=status,
            seed=seed,
            notes=notes,
            tags=tuple(tags),
            host=env.get("host"),
            pid=pid,
            pid_started_at=None if pid is None else process_start_time(pid),
            started_at=started if status == "running" else None,
            git_commit=git.commit if git else None,
            git_branch=git.branch if git else None,
            git_dirty=git.dirty if git else None,
            folder=str(folder.path),
            params=flatten_config(config),
        )
        if known is None:
            record, created = store.create_run(new), True
        else:
            record, created = store.queue_run(new, known=known)
    except BaseException:
        shutil.rmtree(folder.path, ignore_errors=True)
        raise
    if not created:
        shutil.rmtree(folder.path, ignore_errors=True)  # another runner's run is used
        return CreatedRun(record, RunFolder(Path(record.folder or "")), created=False)
    if description or hypothesis:
        store.ensure_experiment(experiment, description, hypothesis)
    return CreatedRun(record, folder, meta=meta)


def check_config_shape(config: Any) -> None:
    """Refuse config mappings with non-string keys or nested past :data:`MAX_CONFIG_DEPTH`.

    Walks plain mappings, lists and tuples without recursion, so a config thousands of levels
    deep (or one that contains itself) is one sentence, not a RecursionError. Dataclasses and
    pydantic models have string field names and are checked by ``to_plain_config``.

    Raises:
        ConfigError: names the key, or the depth.
    """
    stack: list[tuple[Any, tuple[Any, ...]]] = [(config, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_CONFIG_DEPTH:
            shown = ".".join(str(p) for p in path[:5])
            raise ConfigError(
                f"The config nests deeper than {MAX_CONFIG_DEPTH} levels (under {shown}...); "
                "flatten it."
            )
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    where = ".".join(str(p) for p in path) or "the top level"
                    raise ConfigError(
                        f"Config key {key!r} (type {type(key).__name__}, at {where}) is not a "
                        f"string; config keys must be strings, e.g. {str(key)!r}."
                    )
                if isinstance(item, Mapping | list | tuple):
                    stack.append((item, (*path, key)))
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, Mapping | list | tuple):
                    stack.append((item, (*path, i)))
