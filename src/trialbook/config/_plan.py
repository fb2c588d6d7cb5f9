"""The plan: what a ``trialbook run`` invocation will execute, before anything runs.

The config layer (YAML files, suites, sweeps, seeds, overrides) produces a :class:`Plan`; the
Runner (``trialbook.execution``) only consumes it. Keeping this record small and frozen is what
lets the two sides evolve separately.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "MISSING",
    "SUITE_TAG_PREFIX",
    "Plan",
    "PlannedRun",
    "suite_name",
    "suite_of",
    "suite_tag",
]


@dataclass(frozen=True)
class PlannedRun:
    """One run the plan asks for: a fully resolved config and its seed.

    Attributes:
        name: the display name (the experiment's name, plus sweep values when swept,
            e.g. ``"baseline"`` or ``"lr_sweep[training.learning_rate=1e-05]"``).
        experiment: the experiment it belongs to (``experiment.name`` in the config).
        config: the resolved config exactly as it will be saved to config.yaml, with the
            top-level ``seed`` set and the ``experiment:`` block included.
        seed: the run's seed, or None when the config has none.
        config_hash: :func:`trialbook.config.config_hash` of ``config`` (includes the seed).
        group_key: :func:`trialbook.config.group_key` of ``config`` (the seed left out).
        changes: flattened key -> (base value, this run's value) for every key where this
            run differs from its suite's base config (or from the file it was loaded from);
            a missing side is represented by :data:`MISSING`. The seed is not listed.
        source: the file the run was planned from (a config or a suite file).
    """

    name: str
    experiment: str
    config: Mapping[str, Any]
    seed: int | None
    config_hash: str
    group_key: str
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    source: Path | None = None


@dataclass(frozen=True)
class Plan:
    """Every run of one invocation, in the order they will be launched.

    Attributes:
        runs: the planned runs (experiments × sweep points × seeds), in launch order.
        shortcuts: option name -> config key declared by the suite (e.g.
            ``{"max-train-samples": "training.max_train_samples"}``).
        suite: the named suite selected (``plan_runs(suite=...)``), if any.
        notes: sentences worth showing before running, e.g. that a run listed twice (the
            same config and seed) is planned once.
    """

    runs: tuple[PlannedRun, ...]
    shortcuts: Mapping[str, str] = field(default_factory=dict)
    suite: str | None = None
    notes: tuple[str, ...] = ()


#: Runs planned from a suite file carry the tag ``suite:<name>`` (see :func:`suite_tag`).
SUITE_TAG_PREFIX = "suite:"

#: File stems too generic to name a suite: ``examples/demo/suite.yaml`` is the ``demo`` suite.
_GENERIC_STEMS = frozenset({"suite", "suites", "config", "configs", "experiments"})


def suite_name(declared: str | None, path: Path | None) -> str:
    """The name a suite's runs are tagged with: the file's own ``suite:`` name, else its file
    stem, else (for a generic stem such as ``suite.yaml``) the name of its folder."""
    if declared:
        return declared
    if path is None:
        return "suite"
    if path.stem.lower() in _GENERIC_STEMS and path.parent.name:
        return path.parent.name
    return path.stem


def suite_tag(name: str) -> str:
    """The tag of the runs planned from the suite ``name``: ``suite:<name>``."""
    return f"{SUITE_TAG_PREFIX}{name}"


def suite_of(tags: Iterable[str]) -> tuple[str, ...]:
    """The suites a run's tags name (usually one; none for a run not planned from a suite)."""
    return tuple(t[len(SUITE_TAG_PREFIX) :] for t in tags if t.startswith(SUITE_TAG_PREFIX))


class _Missing:
    """The absent side of a change (a key added or removed by an override)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<missing>"

    def __reduce__(self) -> str:
        return "MISSING"


#: Marks the absent side of a change in :attr:`PlannedRun.changes`.
MISSING: Any = _Missing()
