"""Starting a run: identity, run folder, provenance, the Store row, the writer thread."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from trialbook._seeds import check_seed
from trialbook._workspace import Workspace
from trialbook.config._hash import config_hash, group_key, to_plain_config
from trialbook.errors import ConfigError
from trialbook.tracking._attach import try_attach
from trialbook.tracking._create import MAX_CONFIG_DEPTH, check_config_shape, create_run
from trialbook.tracking._open import open_run
from trialbook.tracking._provenance import GitProbe
from trialbook.tracking._run import Run
from trialbook.tracking._settings import RUN_ID_ENV, tracking_settings

__all__ = ["normalize_tags", "start_run"]


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
        raise ConfigError(
            f"experiment must be a non-empty name, got {experiment!r}.",
            parameter="experiment",
            value=experiment,
        )
    description = description or exp_block.get("description")
    hypothesis = hypothesis or exp_block.get("hypothesis")
    seed = _run_seed(plain, seed)
    tag_tuple = normalize_tags(tags)
    settings = tracking_settings(flush_interval=flush_interval, system_metrics=system_metrics)
    for key, goal in (metric_goals or {}).items():
        if goal not in ("min", "max"):
            raise ConfigError(
                f"metric_goals[{key!r}] is {goal!r}; use 'min' or 'max'.",
                parameter="metric_goals",
                value=goal,
            )

    # Runs of different experiments never share a hash or a seed group, even with identical
    # configs: the experiment's name counts as part of the config (as it does in a config's own
    # experiment: block, which the Runner's plans always have).
    identity = {**plain, "experiment": {**exp_block, "name": experiment}}
    workspace = Workspace.resolve(root, store_url)
    # git runs while the Store opens and the folder is made.
    git_probe = GitProbe(exclude=[workspace.root])
    try:
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
                git_probe=git_probe,
            )
            if attached is not None:
                db, claimed = attached
                return open_run(
                    claimed.record,
                    db,
                    claimed.folder,
                    claimed.meta,
                    settings=settings,
                    metric_goals=metric_goals,
                )
        db = workspace.open_store(create=True)
        try:
            created = create_run(
                db,
                workspace.root,
                experiment=experiment,
                name=name or experiment,
                config=plain,
                config_hash=config_hash(identity),
                group_key=group_key(identity),
                seed=seed,
                notes=notes,
                tags=tag_tuple,
                description=description,
                hypothesis=hypothesis,
                capture_packages=capture_packages,
                git_probe=git_probe,
            )
        except BaseException:
            db.close()
            raise
        return open_run(
            created.record,
            db,
            created.folder,
            created.meta or {},
            settings=settings,
            metric_goals=metric_goals,
        )
    finally:
        git_probe.close()  # git is stopped if its answer was not needed


def _run_seed(plain: dict[str, Any], seed: Any) -> int | None:
    """The run's seed from ``seed=`` or the config's ``seed`` (set in ``plain`` as well).

    Raises:
        ConfigError: not an integer, out of range, or the two disagree.
    """
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(
                f"seed must be an integer, got {seed!r}; pass seed=42.",
                parameter="seed",
                value=seed,
            )
        check_seed(seed, "start_run")
        if "seed" in plain and plain["seed"] != seed:
            raise ConfigError(
                f"seed={seed} disagrees with the config's seed {plain['seed']!r}; "
                "pass one of them.",
                parameter="seed",
                value=seed,
            )
        plain["seed"] = seed
        return seed
    cfg_seed = plain.get("seed")
    if cfg_seed is None:
        return None
    if isinstance(cfg_seed, bool) or not isinstance(cfg_seed, int):
        raise ConfigError(f"The config's seed must be an integer, got {cfg_seed!r}.")
    check_seed(cfg_seed, "The config")
    return cfg_seed


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
            f"pass a list, e.g. tags=[{tags!r}].",
            parameter="tags",
            value=tags,
        )
    if isinstance(tags, Mapping):
        items: list[str] = []
        for key, value in tags.items():
            if not isinstance(key, str) or not key.strip() or "=" in key:
                raise ConfigError(
                    f"Tag key {key!r} must be a non-empty string without '='; "
                    "pass tags={'team': 'nlp'}.",
                    parameter="tags",
                    value=key,
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
                    "values must be strings or numbers.",
                    parameter="tags",
                    value=value,
                )
        return tuple(dict.fromkeys(items))
    try:
        values = list(tags)
    except TypeError:
        raise ConfigError(
            f"tags={tags!r} is not a list of strings; pass e.g. tags=['baseline'].",
            parameter="tags",
            value=tags,
        ) from None
    for tag in values:
        if not isinstance(tag, str) or not tag.strip():
            raise ConfigError(
                f"Tag {tag!r} ({type(tag).__name__}) is not a non-empty string; pass tags "
                f"as strings, e.g. tags=['baseline', 'lr-{1e-4:g}'].",
                parameter="tags",
                value=tag,
            )
    return tuple(dict.fromkeys(values))
