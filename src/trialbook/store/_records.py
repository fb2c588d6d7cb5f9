"""Frozen records the Store hands back, and the small value objects it takes in."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from trialbook._types import MetricAgg, RunStatus
from trialbook.store._query import MetricCondition, ParamCondition, RunQuery

__all__ = [
    "Artifact",
    "Checkpoint",
    "Dataset",
    "Evaluation",
    "Experiment",
    "MetricCondition",
    "MetricHistory",
    "MetricSummary",
    "NewRun",
    "ParamCondition",
    "RunQuery",
    "RunRecord",
    "Sample",
    "StoreStats",
    "latest_by_benchmark",
    "short_run_id",
]


def short_run_id(run_id: str) -> str:
    """The random tail of a run id (``20260101_120000_9fbcd2`` -> ``9fbcd2``): the short id
    in run folder names and tables."""
    return run_id.rsplit("_", 1)[-1]


def to_datetime(ts: float | None) -> datetime | None:
    """Convert a stored epoch time (seconds) to an aware UTC datetime."""
    return None if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc)


@dataclass(frozen=True)
class Experiment:
    """A named family of runs."""

    id: int
    name: str
    description: str | None
    hypothesis: str | None
    created_at: float


@dataclass(frozen=True)
class RunRecord:
    """One run as stored: identity, status, config and provenance summary.

    Times are epoch seconds (UTC); :attr:`started` and :attr:`ended` give datetimes.

    ``duration`` is the run's own time, ``ended_at - started_at`` in seconds: from when its
    process started it (for a run ``trialbook run`` queued, when a process claimed it, so the
    time it waited for a free job is not in it) to when it finished; for a crashed run, to its
    last heartbeat. None while it runs. ``trialbook run``, ``ls``, ``show`` and reports all
    show this one number, through ``trialbook._format.fmt_duration``.
    """

    id: str
    experiment: str
    name: str
    status: RunStatus
    config: Mapping[str, Any]
    config_hash: str
    group_key: str
    seed: int | None
    notes: str | None
    tags: tuple[str, ...]
    host: str | None
    pid: int | None
    heartbeat_at: float | None
    started_at: float | None
    ended_at: float | None
    duration: float | None
    git_commit: str | None
    git_branch: str | None
    git_dirty: bool | None
    folder: str | None
    error: str | None = None

    @property
    def short_id(self) -> str:
        """The random tail of the id, used in folder names and tables."""
        return short_run_id(self.id)

    @property
    def started(self) -> datetime | None:
        return to_datetime(self.started_at)

    @property
    def ended(self) -> datetime | None:
        return to_datetime(self.ended_at)

    def _repr_html_(self) -> str:
        """The run in a notebook: identity, status, timings, git, tags, notes and config."""
        from trialbook._html import record_html

        return record_html(self)


@dataclass(frozen=True)
class MetricSummary:
    """Per-run, per-key summary kept up to date as points arrive.

    ``min`` and ``max`` ignore NaN; they are ``None`` when every value was NaN.
    ``last`` is the value at the highest step (the latest logged on ties).
    """

    run_id: str
    key: str
    last: float
    last_step: int
    min: float | None
    min_step: int | None
    max: float | None
    max_step: int | None
    count: int

    def get(self, agg: MetricAgg) -> float | None:
        """The value for ``agg`` ('last', 'min' or 'max')."""
        return {"last": self.last, "min": self.min, "max": self.max}[agg]


@dataclass(frozen=True)
class MetricHistory:
    """The time series of one metric of one run, in step order, as parallel tuples."""

    run_id: str
    key: str
    steps: tuple[int, ...]
    values: tuple[float, ...]
    times: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.steps)

    def finite_values(self) -> list[float]:
        return [v for v in self.values if not math.isnan(v)]

    def _repr_html_(self) -> str:
        """The series in a notebook: its range, last/min/max and a plot over steps."""
        from trialbook._html import history_html

        return history_html(self)


@dataclass(frozen=True)
class Evaluation:
    """A benchmark evaluation of a run: summary metrics and how many samples."""

    id: int
    run_id: str
    benchmark: str
    split: str | None
    metrics: Mapping[str, Any]
    n: int | None
    duration: float | None
    created_at: float


def latest_by_benchmark(evaluations: Iterable[Evaluation]) -> dict[str, Evaluation]:
    """``{benchmark: its latest evaluation}``: per benchmark the evaluation created last, the
    larger id breaking a tie (the later recorded). The one rule for "a run's latest result on
    a benchmark", whatever order the evaluations come in."""
    latest: dict[str, Evaluation] = {}
    for ev in evaluations:
        held = latest.get(ev.benchmark)
        if held is None or (ev.created_at, ev.id) >= (held.created_at, held.id):
            latest[ev.benchmark] = ev
    return latest


@dataclass(frozen=True)
class Sample:
    """One evaluated example: what the model said, what was expected, how it scored."""

    sample_id: str
    prediction: str | None
    reference: str | None
    score: float | None
    correct: bool | None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkpoint:
    """A saved model state."""

    run_id: str
    path: str
    step: int | None
    size: int | None
    sha256: str | None
    metrics: Mapping[str, Any]
    created_at: float


@dataclass(frozen=True)
class Artifact:
    """Any other file a run saved."""

    run_id: str
    path: str
    kind: str | None
    size: int | None
    sha256: str | None
    created_at: float


@dataclass(frozen=True)
class Dataset:
    """A data file a run declared, with its checksum and lineage."""

    id: int
    name: str
    path: str
    sha256: str | None
    size: int | None
    rows: int | None
    parent: str | None
    transform: str | None
    created_at: float


@dataclass(frozen=True)
class NewRun:
    """What the Store needs to create a run.

    ``params`` are the flattened config the run is found by (``params.lr > 0.01``), as
    :func:`trialbook.config.flatten_config` makes them from ``config``; the caller computes
    them (the Store does not interpret configs).
    """

    id: str
    experiment: str
    name: str
    config: Mapping[str, Any]
    config_hash: str
    group_key: str
    status: RunStatus = "running"
    seed: int | None = None
    notes: str | None = None
    tags: tuple[str, ...] = ()
    host: str | None = None
    pid: int | None = None
    pid_started_at: float | None = None
    started_at: float | None = None
    git_commit: str | None = None
    git_branch: str | None = None
    git_dirty: bool | None = None
    folder: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoreStats:
    """Counts for ``trialbook stats``; ``url`` names the database with its password masked."""

    runs_by_status: Mapping[str, int]
    runs_by_experiment: Mapping[str, int]
    metric_points: int
    evaluations: int
    samples: int
    database_bytes: int | None
    url: str
