"""Runs as documents: what ``trialbook show --json``, ``trialbook export``,
:func:`trialbook.load_runs` and the dashboard say about a run, built in one place.

:func:`run_document` is one run as a JSON-ready dict; :func:`flat_values` is the flat part of a
run's table row, with one set of column names everywhere: ``params.<key>`` (flattened),
``metrics.<key>`` (last value) and ``eval.<benchmark>.<metric>`` (the latest evaluation per
benchmark, nested metrics as dotted keys).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trialbook._values import flatten, read_json_object

if TYPE_CHECKING:
    from trialbook.store._base import Store
    from trialbook.store._records import (
        Artifact,
        Checkpoint,
        Dataset,
        Evaluation,
        MetricHistory,
        MetricSummary,
        RunRecord,
        Sample,
    )

__all__ = [
    "RunDetails",
    "flat_values",
    "iso",
    "load_details",
    "run_document",
    "run_fields",
    "sample_fields",
]


def iso(ts: float | None) -> str | None:
    """An epoch time as ISO 8601 in UTC (``2026-11-23T19:33:01.123456+00:00``)."""
    return None if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


@dataclass(frozen=True)
class RunDetails:
    """Everything the Store knows about one run; history and samples only when asked for,
    and ``provenance``: the run folder's meta.json (git, host, device, environment, command,
    data checksums), None when the folder or file is gone."""

    record: RunRecord
    params: dict[str, Any]
    metrics: dict[str, MetricSummary]
    evaluations: list[Evaluation]
    checkpoints: list[Checkpoint]
    artifacts: list[Artifact]
    datasets: list[Dataset]
    history: dict[str, MetricHistory] | None = None
    samples: dict[int, list[Sample]] | None = None
    provenance: dict[str, Any] | None = None


def load_details(
    store: Store, record: RunRecord, *, history: bool = False, samples: bool = False
) -> RunDetails:
    """Read what ``store`` holds about ``record``: params, metric summaries (by key),
    evaluations (oldest first), checkpoints, artifacts and datasets; with ``history`` every
    metric's points, with ``samples`` every evaluation's per-sample results."""
    summaries = store.metric_summaries([record.id]).get(record.id, {})
    metrics = {key: summaries[key] for key in sorted(summaries)}
    evaluations = store.evaluations(record.id)
    return RunDetails(
        record=record,
        params=store.params(record.id),
        metrics=metrics,
        evaluations=evaluations,
        checkpoints=store.checkpoints(record.id),
        artifacts=store.artifacts(record.id),
        datasets=store.datasets(record.id),
        history={k: store.metric_history(record.id, k) for k in metrics} if history else None,
        samples={e.id: store.samples(e.id) for e in evaluations} if samples else None,
        # The folder's meta.json is the one record of provenance (the Store indexes only git).
        provenance=read_json_object(Path(record.folder) / "meta.json") if record.folder else None,
    )


def run_fields(record: RunRecord) -> dict[str, Any]:
    """The stored fields of a run, times as ISO 8601 (UTC)."""
    return {
        "id": record.id,
        "short_id": record.short_id,
        "experiment": record.experiment,
        "name": record.name,
        "status": record.status,
        "seed": record.seed,
        "tags": list(record.tags),
        "notes": record.notes,
        "config": dict(record.config),
        "config_hash": record.config_hash,
        "group_key": record.group_key,
        "started_at": iso(record.started_at),
        "ended_at": iso(record.ended_at),
        "heartbeat_at": iso(record.heartbeat_at),
        "duration": record.duration,
        "host": record.host,
        "pid": record.pid,
        "git_commit": record.git_commit,
        "git_branch": record.git_branch,
        "git_dirty": record.git_dirty,
        "folder": record.folder,
        "error": record.error,
    }


def _summary(s: MetricSummary) -> dict[str, Any]:
    return {
        "last": s.last,
        "last_step": s.last_step,
        "min": s.min,
        "min_step": s.min_step,
        "max": s.max,
        "max_step": s.max_step,
        "count": s.count,
    }


def sample_fields(s: Sample) -> dict[str, Any]:
    """One evaluated sample as a dict (its id, prediction, reference, score, correct, extra)."""
    return {
        "id": s.sample_id,
        "prediction": s.prediction,
        "reference": s.reference,
        "score": s.score,
        "correct": s.correct,
        "extra": dict(s.extra),
    }


def _evaluation(e: Evaluation, samples: Mapping[int, list[Sample]] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": e.id,
        "benchmark": e.benchmark,
        "split": e.split,
        "n": e.n,
        "metrics": dict(e.metrics),
        "duration": e.duration,
        "created_at": iso(e.created_at),
    }
    if samples is not None:
        entry["samples"] = [sample_fields(s) for s in samples.get(e.id, [])]
    return entry


def _files(d: RunDetails) -> dict[str, list[dict[str, Any]]]:
    return {
        "checkpoints": [
            {
                "path": c.path,
                "step": c.step,
                "size": c.size,
                "sha256": c.sha256,
                "metrics": dict(c.metrics),
                "created_at": iso(c.created_at),
            }
            for c in d.checkpoints
        ],
        "artifacts": [
            {
                "path": a.path,
                "kind": a.kind,
                "size": a.size,
                "sha256": a.sha256,
                "created_at": iso(a.created_at),
            }
            for a in d.artifacts
        ],
        "datasets": [
            {
                "name": ds.name,
                "path": ds.path,
                "sha256": ds.sha256,
                "size": ds.size,
                "rows": ds.rows,
                "parent": ds.parent,
                "transform": ds.transform,
            }
            for ds in d.datasets
        ],
    }


def run_document(d: RunDetails) -> dict[str, Any]:
    """One run as a JSON-ready dict: its fields, params, metric summaries, history (when
    loaded), evaluations (with samples when loaded), checkpoints, artifacts, datasets and
    provenance (meta.json; null when the run folder is gone). ``trialbook show --json``,
    ``trialbook export`` (json) and the dashboard all write this document.

    NaN and infinities are still floats; :func:`trialbook.store.json_text` writes them."""
    doc: dict[str, Any] = {
        **run_fields(d.record),
        "params": d.params,
        "metrics": {key: _summary(s) for key, s in d.metrics.items()},
    }
    if d.history is not None:
        doc["history"] = {
            key: {"steps": list(h.steps), "values": list(h.values), "times": list(h.times)}
            for key, h in d.history.items()
        }
    doc["evaluations"] = [_evaluation(e, d.samples) for e in d.evaluations]
    doc.update(_files(d))
    doc["provenance"] = d.provenance
    return doc


def flat_values(
    params: Mapping[str, Any],
    summaries: Mapping[str, MetricSummary],
    evaluations: Iterable[Evaluation],
) -> dict[str, Any]:
    """A run's ``params.<key>``, ``metrics.<key>`` (last value) and
    ``eval.<benchmark>.<metric>`` columns; ``evaluations`` oldest first, so the latest of each
    benchmark wins, and nested evaluation metrics become dotted keys."""
    row: dict[str, Any] = {f"params.{key}": value for key, value in params.items()}
    for key, s in summaries.items():
        row[f"metrics.{key}"] = s.last
    for e in evaluations:
        row.update(flatten(e.metrics, f"eval.{e.benchmark}."))
    return row
