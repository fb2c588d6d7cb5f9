"""Starting a run: identity, run folder, provenance, the Store row, the writer thread."""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trialbook._seeds import check_seed
from trialbook._workspace import Workspace
from trialbook.config._hash import config_hash, flatten_config, group_key, to_plain_config
from trialbook.errors import ConfigError
from trialbook.store._base import Store
from trialbook.store._liveness import process_start_time
from trialbook.store._records import NewRun, RunRecord
from trialbook.tracking._attach import RUN_ID_ENV, try_attach
from trialbook.tracking._folder import RunFolder, folder_name
from trialbook.tracking._provenance import GitInfo, collect_environment, git_info
from trialbook.tracking._run import Run
from trialbook.tracking._settings import TrackingSettings, tracking_settings

__all__ = ["build_meta", "check_config_shape", "new_run_id", "normalize_tags", "start_run"]

#: Deeper configs are refused: nobody writes one, and walking it would exhaust the stack.
MAX_CONFIG_DEPTH = 100


def new_run_id(now: float | None = None) -> str:
    """A sortable id: UTC ``YYYYmmdd_HHMMSS`` and six random hex digits."""
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
        "command": list(sys.argv),
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


def start_run(
    experiment: str | None = None,
    config: Any = None,
    *,
    seed: int | None = None,
    name: str | None = None,
    notes: str | None = None,
    tags: Iterable[str] | Mapping[str, Any] = (),
    description: str | None = None,
    hypothesis: str | None = None,
    root: str | os.PathLike[str] | None = None,
    store_url: str | None = None,
    system_metrics: bool | None = None,
    capture_packages: bool = True,
    metric_goals: Mapping[str, str] | None = None,
    flush_interval: float | None = None,
) -> Run:
    """Start tracking a run and return it (use it as a context manager).

    Args:
        experiment: the experiment the run belongs to (created if new); defaults to the
            config's ``experiment.name`` or ``"default"``.
        config: the run's configuration (mapping, dataclass or pydantic model); saved as
            config.yaml, hashed, and flattened into params.
        seed: the run's seed; stored in the config as ``seed`` (runs that differ only by
            seed form a seed group).
        name: a display name; defaults to the experiment name.
        notes, tags: free text and labels, searchable with ``trialbook ls``. ``tags`` is a
            list of strings, or a mapping stored as ``key=value`` tags.
        root, store_url: the workspace folder and store URL (see :class:`trialbook.Workspace`).
        system_metrics: sample CPU %, RSS and GPU memory in the background
            (default on; ``TRIALBOOK_SYSTEM_METRICS=0`` turns it off).
        capture_packages: record installed package versions in meta.json.
        metric_goals: ``{"acc": "max"}`` overrides which way is "best" for summary.json.
        flush_interval: seconds between writer flushes (``TRIALBOOK_FLUSH_INTERVAL``).

    In a process launched by ``trialbook run`` (``TRIALBOOK_RUN_ID`` set), the run the
    Runner queued is returned instead of a new one; see :mod:`trialbook.tracking._attach`.

    Raises:
        ConfigError: a bad config, seed or option. WorkspaceError / StoreError: the
        workspace or database cannot be used. Nothing is created when these are raised.
    """
    check_config_shape(config)
    try:
        plain = to_plain_config(config)
    except RecursionError:  # a dataclass or model nested past Python's stack
        raise ConfigError(
            f"The config nests deeper than {MAX_CONFIG_DEPTH} levels; flatten it."
        ) from None
    raw_block = plain.get("experiment")
    exp_block: Mapping[str, Any] = raw_block if isinstance(raw_block, Mapping) else {}
    experiment = experiment or exp_block.get("name") or "default"
    if not isinstance(experiment, str) or not experiment.strip():
        raise ConfigError(f"experiment must be a non-empty name, got {experiment!r}.")
    description = description or exp_block.get("description")
    hypothesis = hypothesis or exp_block.get("hypothesis")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"seed must be an integer, got {seed!r}; pass seed=42.")
        check_seed(seed, "start_run")
        if "seed" in plain and plain["seed"] != seed:
            raise ConfigError(
                f"seed={seed} disagrees with the config's seed {plain['seed']!r}; pass one of them."
            )
        plain["seed"] = seed
    elif "seed" in plain:
        cfg_seed = plain["seed"]
        if cfg_seed is not None and (isinstance(cfg_seed, bool) or not isinstance(cfg_seed, int)):
            raise ConfigError(f"The config's seed must be an integer, got {cfg_seed!r}.")
        if cfg_seed is not None:
            check_seed(cfg_seed, "The config")
        seed = cfg_seed
    tag_tuple = normalize_tags(tags)
    settings = tracking_settings(flush_interval=flush_interval, system_metrics=system_metrics)
    for key, goal in (metric_goals or {}).items():
        if goal not in ("min", "max"):
            raise ConfigError(f"metric_goals[{key!r}] is {goal!r}; use 'min' or 'max'.")

    # Runs of different experiments never share a hash or a seed group, even with identical
    # configs: the experiment's name counts as part of the config (as it does in a config's own
    # experiment: block, which the Runner's plans always have).
    identity = {**plain, "experiment": {**exp_block, "name": experiment}}
    workspace = Workspace.resolve(root, store_url)
    attach_id = os.environ.get(RUN_ID_ENV)
    if attach_id:
        # Launched by the Runner: track into its queued run (see tracking/_attach.py).
        attached = try_attach(
            attach_id,
            plain if config is not None or seed is not None else {},
            workspace=workspace,
            capture_packages=capture_packages,
            notes=notes,
            tags=tag_tuple,
        )
        if attached is not None:
            db, claimed = attached
            return _open_run(
                claimed.record,
                db,
                claimed.folder,
                claimed.meta,
                settings=settings,
                metric_goals=metric_goals,
            )
    db = workspace.open_store(create=True)
    try:
        started = time.time()
        run_id = new_run_id(started)
        run_name = name or experiment
        folder = RunFolder(workspace.root / folder_name(run_name, run_id.rsplit("_", 1)[-1]))
        git = git_info(exclude=[workspace.root])
        env = collect_environment(include_packages=capture_packages)
        pid = os.getpid()
        folder.create()
        try:
            folder.write_config(plain)
            meta = build_meta(run_id, experiment, run_name, seed, started, git, env)
            folder.write_meta(meta)
            if git is not None and git.dirty and git.diff:
                folder.write_diff(git.diff)
            record = db.create_run(
                NewRun(
                    id=run_id,
                    experiment=experiment,
                    name=run_name,
                    config=plain,
                    config_hash=config_hash(identity),
                    group_key=group_key(identity),
                    seed=seed,
                    notes=notes,
                    tags=tag_tuple,
                    host=env.get("host"),
                    pid=pid,
                    pid_started_at=process_start_time(pid),
                    started_at=started,
                    git_commit=git.commit if git else None,
                    git_branch=git.branch if git else None,
                    git_dirty=git.dirty if git else None,
                    folder=str(folder.path),
                    params=flatten_config(plain),
                )
            )
            if description or hypothesis:
                db.ensure_experiment(experiment, description, hypothesis)
        except BaseException:
            _remove_folder(folder.path)
            raise
        return _open_run(
            record,
            db,
            folder,
            meta,
            settings=settings,
            metric_goals=metric_goals,
        )
    except BaseException:
        db.close()
        raise


def _open_run(
    record: RunRecord,
    db: Store,
    folder: RunFolder,
    meta: dict[str, Any],
    *,
    settings: TrackingSettings,
    metric_goals: Mapping[str, str] | None,
) -> Run:
    """The live Run over a record this process owns (created or attached to)."""
    try:
        monitor = None
        if settings.system_metrics:
            from trialbook.tracking._system import SystemMonitor

            monitor = SystemMonitor(os.getpid())
            monitor.sample()  # primes cpu_percent
        return Run(
            record,
            db,
            folder,
            meta=meta,
            flush_interval=settings.flush_interval,
            heartbeat_interval=settings.heartbeat_interval,
            store_retry=settings.store_retry,
            system_monitor=monitor,
            metric_goals=metric_goals,
        )
    except BaseException:
        db.close()
        raise


def normalize_tags(tags: Any) -> tuple[str, ...]:
    """Tags as stored: a list of non-empty strings (duplicates dropped, order kept), or a
    mapping turned into ``key=value`` tags (the key/value tags MLflow and W&B users know).

    Raises:
        ConfigError: a single string, or a tag that is not a non-empty string (or, in a
            mapping, a key that is not a string or a value that is not a scalar).
    """
    if isinstance(tags, str | bytes):
        raise ConfigError(
            f"tags={tags!r} is a single string, which would become one tag per character; "
            f"pass a list, e.g. tags=[{tags!r}]."
        )
    if isinstance(tags, Mapping):
        items: list[str] = []
        for key, value in tags.items():
            if not isinstance(key, str) or not key.strip() or "=" in key:
                raise ConfigError(
                    f"Tag key {key!r} must be a non-empty string without '='; "
                    "pass tags={'team': 'nlp'}."
                )
            if value is None:
                items.append(key)
            elif isinstance(value, str | int | float) and not isinstance(value, bool):
                items.append(f"{key}={value}")
            elif isinstance(value, bool):
                items.append(f"{key}={str(value).lower()}")
            else:
                raise ConfigError(
                    f"Tag {key!r} has the value {value!r} ({type(value).__name__}); tag "
                    "values must be strings or numbers."
                )
        return tuple(dict.fromkeys(items))
    try:
        values = list(tags)
    except TypeError:
        raise ConfigError(
            f"tags={tags!r} is not a list of strings; pass e.g. tags=['baseline']."
        ) from None
    for tag in values:
        if not isinstance(tag, str) or not tag.strip():
            raise ConfigError(
                f"Tag {tag!r} ({type(tag).__name__}) is not a non-empty string; pass tags "
                f"as strings, e.g. tags=['baseline', 'lr-{1e-4:g}']."
            )
    return tuple(dict.fromkeys(values))


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


def _remove_folder(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
