"""``trialbook export``: runs as JSON documents or one CSV row each, written atomically.

The run document built here is also what ``trialbook show --json`` prints.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from trialbook._atomic import atomic_open, current_umask
from trialbook.cli._options import RootOption, StoreOption, open_store
from trialbook.cli._output import dumps, iso
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.store import (
        Artifact,
        Checkpoint,
        Dataset,
        Evaluation,
        MetricHistory,
        MetricSummary,
        RunRecord,
        Sample,
        Store,
    )

__all__ = ["RunDetails", "export", "load_details", "run_document", "run_fields"]

#: Exports of at least this many runs to a file show a progress bar (on a terminal).
_PROGRESS_MIN_RUNS = 20


class ExportFormat(str, Enum):
    json = "json"
    csv = "csv"
    parquet = "parquet"


#: Output suffixes that choose a format when --format is not given.
_SUFFIX_FORMATS = {
    ".csv": ExportFormat.csv,
    ".parquet": ExportFormat.parquet,
    ".pq": ExportFormat.parquet,
}


# --------------------------------------------------------------------------- documents
@dataclass(frozen=True)
class RunDetails:
    """Everything the Store knows about one run; history and samples only when asked for."""

    record: RunRecord
    params: dict[str, Any]
    metrics: dict[str, MetricSummary]
    evaluations: list[Evaluation]
    checkpoints: list[Checkpoint]
    artifacts: list[Artifact]
    datasets: list[Dataset]
    history: dict[str, MetricHistory] | None = None
    samples: dict[int, list[Sample]] | None = None


def load_details(db: Store, record: RunRecord, *, history: bool, samples: bool) -> RunDetails:
    summaries = db.metric_summaries([record.id]).get(record.id, {})
    metrics = {key: summaries[key] for key in sorted(summaries)}
    evaluations = db.evaluations(record.id)
    return RunDetails(
        record=record,
        params=db.params(record.id),
        metrics=metrics,
        evaluations=evaluations,
        checkpoints=db.checkpoints(record.id),
        artifacts=db.artifacts(record.id),
        datasets=db.datasets(record.id),
        history={key: db.metric_history(record.id, key) for key in metrics} if history else None,
        samples={e.id: db.samples(e.id) for e in evaluations} if samples else None,
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


def _sample(s: Sample) -> dict[str, Any]:
    return {
        "id": s.sample_id,
        "prediction": s.prediction,
        "reference": s.reference,
        "score": s.score,
        "correct": s.correct,
        "extra": dict(s.extra),
    }


def run_document(d: RunDetails) -> dict[str, Any]:
    """One run as a JSON-ready dict (NaN and infinities still floats; see ``jsonable``)."""
    evaluations = []
    for e in d.evaluations:
        entry: dict[str, Any] = {
            "id": e.id,
            "benchmark": e.benchmark,
            "split": e.split,
            "n": e.n,
            "metrics": dict(e.metrics),
            "duration": e.duration,
            "created_at": iso(e.created_at),
        }
        if d.samples is not None:
            entry["samples"] = [_sample(s) for s in d.samples.get(e.id, [])]
        evaluations.append(entry)
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
    doc["evaluations"] = evaluations
    doc["checkpoints"] = [
        {
            "path": c.path,
            "step": c.step,
            "size": c.size,
            "sha256": c.sha256,
            "metrics": dict(c.metrics),
            "created_at": iso(c.created_at),
        }
        for c in d.checkpoints
    ]
    doc["artifacts"] = [
        {
            "path": a.path,
            "kind": a.kind,
            "size": a.size,
            "sha256": a.sha256,
            "created_at": iso(a.created_at),
        }
        for a in d.artifacts
    ]
    doc["datasets"] = [
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
    ]
    return doc


# --------------------------------------------------------------------------- CSV
def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, int | str):
        return str(value)
    return dumps(value, indent=None)


_CSV_FIXED = ("id", "experiment", "name", "status", "seed", "started_at", "duration")

Table = tuple[list[str], list[dict[str, Any]]]


def _write_csv(db: Store, records: Sequence[RunRecord], out: IO[str], advance: Any = None) -> None:
    _write_table_csv(_run_table(db, records, advance), out)


def _write_table_csv(table: Table, out: IO[str]) -> None:
    header, rows = table
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_value(row.get(col)) for col in header])


def _run_table(db: Store, records: Sequence[RunRecord], advance: Any = None) -> Table:
    """One flat row per run: the fixed fields, params, last metric values, evaluations."""
    ids = [r.id for r in records]
    # Bulk reads: a handful of queries whatever the number of runs.
    summaries = db.metric_summaries(ids) if ids else {}
    all_params = db.bulk_params(ids) if ids else {}
    all_evaluations = db.bulk_evaluations(ids) if ids else {}
    rows: list[dict[str, Any]] = []
    param_keys: set[str] = set()
    metric_keys: set[str] = set()
    eval_keys: set[str] = set()
    for record in records:
        row: dict[str, Any] = {
            "id": record.id,
            "experiment": record.experiment,
            "name": record.name,
            "status": record.status,
            "seed": record.seed,
            "started_at": iso(record.started_at),
            "duration": record.duration,
        }
        for key, value in all_params.get(record.id, {}).items():
            row[f"params.{key}"] = value
            param_keys.add(f"params.{key}")
        for key, s in summaries.get(record.id, {}).items():
            row[f"metrics.{key}"] = s.last
            metric_keys.add(f"metrics.{key}")
        # Evaluations come oldest first, so the latest of each benchmark wins.
        for e in all_evaluations.get(record.id, ()):
            for key, value in e.metrics.items():
                row[f"{e.benchmark}.{key}"] = value
                eval_keys.add(f"{e.benchmark}.{key}")
        rows.append(row)
        if advance is not None:
            advance()
    header = [*_CSV_FIXED, *sorted(param_keys), *sorted(metric_keys), *sorted(eval_keys)]
    return header, rows


# --------------------------------------------------------------------------- samples, metrics
_SAMPLE_COLUMNS = [
    "run_id",
    "experiment",
    "name",
    "evaluation_id",
    "benchmark",
    "split",
    "sample_id",
    "prediction",
    "reference",
    "score",
    "correct",
    "extra",
]
_METRIC_COLUMNS = ["run_id", "experiment", "name", "key", "step", "value", "time"]


def _sample_table(db: Store, records: Sequence[RunRecord], advance: Any = None) -> Table:
    """One row per evaluated sample of every evaluation of the runs (oldest first)."""
    evaluations = db.bulk_evaluations([r.id for r in records]) if records else {}
    rows: list[dict[str, Any]] = []
    for record in records:
        for e in evaluations.get(record.id, ()):
            for s in db.samples(e.id):
                rows.append(
                    {
                        "run_id": record.id,
                        "experiment": record.experiment,
                        "name": record.name,
                        "evaluation_id": e.id,
                        "benchmark": e.benchmark,
                        "split": e.split,
                        "sample_id": s.sample_id,
                        "prediction": s.prediction,
                        "reference": s.reference,
                        "score": s.score,
                        "correct": s.correct,
                        "extra": dict(s.extra),
                    }
                )
        if advance is not None:
            advance()
    return list(_SAMPLE_COLUMNS), rows


def _metric_table(db: Store, records: Sequence[RunRecord], advance: Any = None) -> Table:
    """One row per logged metric point (by run, key, then step)."""
    summaries = db.metric_summaries([r.id for r in records]) if records else {}
    rows: list[dict[str, Any]] = []
    for record in records:
        for key in sorted(summaries.get(record.id, {})):
            h = db.metric_history(record.id, key)
            for step, value, at in zip(h.steps, h.values, h.times, strict=True):
                rows.append(
                    {
                        "run_id": record.id,
                        "experiment": record.experiment,
                        "name": record.name,
                        "key": key,
                        "step": step,
                        "value": value,
                        "time": iso(at),
                    }
                )
        if advance is not None:
            advance()
    return list(_METRIC_COLUMNS), rows


def _write_table_json(table: Table, out: IO[str]) -> None:
    """A JSON list of row objects, one per line (valid JSON that line tools can split)."""
    header, rows = table
    out.write("[")
    for i, row in enumerate(rows):
        doc = {col: row.get(col) for col in header}
        out.write(("\n" if i == 0 else ",\n") + dumps(doc, indent=None))
    out.write("\n]\n" if rows else "]\n")


# --------------------------------------------------------------------------- Parquet
def _require_pyarrow() -> None:
    import importlib

    try:
        importlib.import_module("pyarrow")
    except ImportError:
        raise ConfigError(
            "Parquet export needs pyarrow, which is not installed; install it with "
            "pip install 'trialbook[parquet]', or export --format csv or json."
        ) from None


def _parquet_frame(table: Table) -> Any:
    """The rows as a DataFrame Parquet can store: each column keeps one type."""
    import pandas as pd

    header, rows = table
    columns: dict[str, list[Any]] = {col: [row.get(col) for row in rows] for col in header}
    for col, values in columns.items():
        kinds = {type(v) for v in values if v is not None}
        if kinds <= {int, float} and float in kinds:
            columns[col] = [None if v is None else float(v) for v in values]
        elif len(kinds) > 1 or kinds & {dict, list, tuple}:
            # Mixed or nested values (a param that is a list in one run and a number in
            # another, sample extras) are stored as their JSON text.
            columns[col] = [
                v if v is None or isinstance(v, str) else dumps(v, indent=None) for v in values
            ]
    return pd.DataFrame(columns, columns=header)


@contextmanager
def _atomic_file(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed over it only when the block succeeds."""
    target = path.absolute()
    _make_parent(path)
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        raise ConfigError(
            f"Cannot write --output {path} ({e.strerror or e}); choose a path in a writable folder."
        ) from e
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
        try:
            os.replace(tmp, target)
        except OSError as e:
            raise ConfigError(
                f"Cannot write --output {path} ({e.strerror or e}); choose another path."
            ) from e
    finally:
        tmp.unlink(missing_ok=True)


def _write_parquet(table: Table, output: Path) -> None:
    frame = _parquet_frame(table)
    with _atomic_file(output) as tmp:
        try:
            frame.to_parquet(tmp, index=False)
        except OSError as e:
            raise ConfigError(
                f"Cannot write --output {output} ({e.strerror or e}); choose another path."
            ) from e


def _write_json(
    db: Store, records: Sequence[RunRecord], out: IO[str], single: bool, advance: Any = None
) -> None:
    if single:
        out.write(dumps(run_document(load_details(db, records[0], history=True, samples=True))))
        out.write("\n")
        return
    # One run per line: valid JSON that streams, and that line-oriented tools can still split.
    out.write("[")
    for i, record in enumerate(records):
        doc = run_document(load_details(db, record, history=True, samples=True))
        out.write(("\n" if i == 0 else ",\n") + dumps(doc, indent=None))
        if advance is not None:
            advance()
    out.write("\n]\n" if records else "]\n")


# --------------------------------------------------------------------------- output file
def _make_parent(path: Path) -> None:
    """Create the folders above ``--output`` (as ``report --out`` does)."""
    try:
        path.absolute().parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"Cannot create the folder of --output {path} ({e.strerror or e}); "
            "choose a path in a writable folder."
        ) from e


@contextmanager
def _atomic_output(path: Path | None) -> Iterator[IO[str]]:
    """stdout, or a temporary file beside ``path`` renamed over it only when all went well."""
    if path is None:
        yield sys.stdout
        return
    if path.is_dir():
        raise ConfigError(f"--output {path} is a folder; give a file name such as runs.json.")
    _make_parent(path)
    try:
        with atomic_open(path.absolute(), newline="") as f:
            yield f
    except OSError as e:
        raise ConfigError(
            f"Cannot write --output {path} ({e.strerror or e}); choose a path in a writable folder."
        ) from e


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Any]:
    """A transient progress bar on stderr, yielding its ``advance`` callable (or None)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("Exporting runs", total=total)
        yield lambda: progress.advance(task)


# --------------------------------------------------------------------------- command
def export(
    ctx: typer.Context,
    run: Annotated[
        str | None,
        typer.Argument(
            metavar="RUN",
            help="Run id, unique id prefix, short id or unique name; or pass --all.",
            show_default=False,
        ),
    ] = None,
    all_runs: Annotated[
        bool, typer.Option("--all", help="Export every run (oldest first).")
    ] = False,
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment",
            "-e",
            metavar="NAME",
            help="Export every run of this experiment (implies --all).",
        ),
    ] = None,
    fmt: Annotated[
        ExportFormat | None,
        typer.Option(
            "--format",
            "-f",
            metavar="json|csv|parquet",
            help="json, csv or parquet (default: from the --output suffix .csv/.parquet, "
            "else json). Parquet needs pyarrow (pip install 'trialbook[parquet]') and --output.",
            show_default=False,
        ),
    ] = None,
    samples: Annotated[
        bool,
        typer.Option(
            "--samples",
            help="Export the per-sample results of the runs' evaluations instead: one row per "
            "sample (run_id, experiment, name, evaluation_id, benchmark, split, sample_id, "
            "prediction, reference, score, correct, extra).",
        ),
    ] = False,
    metrics: Annotated[
        bool,
        typer.Option(
            "--metrics",
            help="Export the metric histories instead: one row per logged point (run_id, "
            "experiment, name, key, step, value, time).",
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write here instead of stdout (- is stdout); the file appears only when the "
            "export succeeds.",
        ),
    ] = None,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Export runs for analysis elsewhere.

    JSON: one object for RUN, or a list for --all, each with the run's fields, params, metric
    summaries, full metric history (steps, values, epoch times), evaluations with per-sample
    results, checkpoints, artifacts and datasets. NaN and infinities are written as the strings
    "NaN", "Infinity" and "-Infinity" so the file is strict JSON.

    CSV and Parquet: one row per run: id, experiment, name, status, seed, started_at,
    duration, then params.<key>, metrics.<key> (last value) and <benchmark>.<metric> columns.

    --samples and --metrics export per-sample results or metric points as rows instead, in
    any of the three formats (JSON: a list of row objects).
    """
    if output is not None and str(output) == "-":
        output = None
    if experiment is not None:
        all_runs = True
    if run is not None and all_runs:
        raise typer.BadParameter(
            "pass either a RUN or --all/--experiment, not both.", param_hint="RUN"
        )
    if run is None and not all_runs:
        raise typer.BadParameter("pass a RUN to export, or --all.", param_hint="RUN")
    if samples and metrics:
        raise ConfigError(
            "--samples and --metrics export different rows; pass one of them per export."
        )
    if fmt is None:
        suffix = output.suffix.lower() if output is not None else ""
        fmt = _SUFFIX_FORMATS.get(suffix, ExportFormat.json)
    if fmt is ExportFormat.parquet:
        if output is None:
            raise ConfigError(
                "Parquet is a binary format and is not written to stdout; pass --output "
                "FILE.parquet."
            )
        if output.is_dir():
            raise ConfigError(
                f"--output {output} is a folder; give a file name such as runs.parquet."
            )
        _require_pyarrow()

    with open_store(ctx, root, store) as db:
        if run is not None:
            records = [db.get_run(run)]
        else:
            from trialbook.analysis._scope import check_names
            from trialbook.store import RunQuery

            # A misspelt experiment is a did-you-mean, not an empty export.
            check_names(db, experiment=experiment)
            records = db.list_runs(
                RunQuery(experiment=experiment, order_by="started_at", descending=False)
            )
        show_progress = (
            output is not None and len(records) >= _PROGRESS_MIN_RUNS and sys.stderr.isatty()
        )
        if samples or metrics or fmt is ExportFormat.parquet:
            build = _sample_table if samples else _metric_table if metrics else _run_table
            with _progress(show_progress, len(records)) as advance:
                table = build(db, records, advance)
            if fmt is ExportFormat.parquet:
                assert output is not None
                _write_parquet(table, output)
            else:
                with _atomic_output(output) as out:
                    if fmt is ExportFormat.csv:
                        _write_table_csv(table, out)
                    else:
                        _write_table_json(table, out)
        else:
            with (
                _atomic_output(output) as out,
                _progress(show_progress, len(records)) as advance,
            ):
                if fmt is ExportFormat.csv:
                    _write_csv(db, records, out, advance)
                else:
                    _write_json(db, records, out, single=run is not None, advance=advance)
    if output is not None and sys.stderr.isatty():
        typer.echo(f"Exported {len(records)} run(s) to {output}.", err=True)
