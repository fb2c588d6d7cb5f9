"""Runs exported for analysis elsewhere: JSON run documents, or flat tables (one row per run,
per evaluated sample or per logged metric point) as CSV, JSON or Parquet, written atomically.

:func:`export_runs` is what ``trialbook export`` calls; the flat run row has the column names
of :func:`trialbook.load_runs` (``params.<key>``, ``metrics.<key>``,
``eval.<benchmark>.<metric>``).
"""

from __future__ import annotations

import csv
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TypeAlias

from trialbook._atomic import atomic_open, current_umask
from trialbook._values import json_text, jsonable
from trialbook.errors import ConfigError
from trialbook.store._documents import (
    flat_values,
    iso,
    load_details,
    run_document,
    sample_fields,
)

if TYPE_CHECKING:
    from trialbook.store import RunRecord, Store

__all__ = [
    "EXPORT_FORMATS",
    "ExportFormat",
    "ExportRows",
    "Progress",
    "Table",
    "check_output",
    "export_format",
    "export_runs",
    "export_table",
]

ExportFormat: TypeAlias = Literal["json", "csv", "parquet"]
ExportRows: TypeAlias = Literal["runs", "samples", "metrics"]
#: A table: its header, and one dict per row keyed by the header's names.
Table: TypeAlias = tuple[list[str], list[dict[str, Any]]]

EXPORT_FORMATS: tuple[ExportFormat, ...] = ("json", "csv", "parquet")

#: Output suffixes that choose a format when none is given.
_SUFFIX_FORMATS: dict[str, ExportFormat] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

_RUN_FIXED = ["id", "experiment", "name", "status", "seed", "started_at", "duration"]
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

Advance: TypeAlias = "Callable[[], object] | None"
#: Called with the number of runs; its context manager yields the per-run callback (or None).
Progress: TypeAlias = "Callable[[int], AbstractContextManager[Advance]]"

#: With ``progress=True``, an export of at least this many runs to a file draws a bar.
PROGRESS_MIN_RUNS = 20


@contextmanager
def _bar(total: int) -> Iterator[Advance]:
    """The library's progress bar (on a terminal) over ``total`` runs, when there are many."""
    from trialbook._progress import progress_bar

    with progress_bar(total >= PROGRESS_MIN_RUNS) as stages:
        if stages is None:
            yield None
            return
        with stages("Exporting runs", total) as advance:
            yield lambda: advance(1)


def export_format(output: Path | None, fmt: ExportFormat | None = None) -> ExportFormat:
    """``fmt``, else the format ``output``'s suffix names (``.csv``, ``.parquet``, ``.pq``),
    else JSON."""
    if fmt is not None:
        return fmt
    suffix = output.suffix.lower() if output is not None else ""
    return _SUFFIX_FORMATS.get(suffix, "json")


# --------------------------------------------------------------------------- tables
def _run_table(store: Store, records: Sequence[RunRecord], advance: Advance) -> Table:
    """One flat row per run: the fixed fields, params, last metric values, evaluations."""
    ids = [r.id for r in records]
    # Bulk reads: a handful of queries whatever the number of runs.
    summaries = store.metric_summaries(ids) if ids else {}
    params = store.bulk_params(ids) if ids else {}
    evaluations = store.bulk_evaluations(ids) if ids else {}
    rows: list[dict[str, Any]] = []
    keys: set[str] = set()
    for r in records:
        values = flat_values(
            params.get(r.id, {}), summaries.get(r.id, {}), evaluations.get(r.id, ())
        )
        keys.update(values)
        fixed = [r.id, r.experiment, r.name, r.status, r.seed, iso(r.started_at), r.duration]
        rows.append({**dict(zip(_RUN_FIXED, fixed, strict=True)), **values})
        if advance is not None:
            advance()
    rank = {"params": 0, "metrics": 1, "eval": 2}
    header = [*_RUN_FIXED, *sorted(keys, key=lambda k: (rank[k.split(".", 1)[0]], k))]
    return header, rows


def _sample_table(store: Store, records: Sequence[RunRecord], advance: Advance) -> Table:
    """One row per evaluated sample of every evaluation of the runs (oldest first)."""
    evaluations = store.bulk_evaluations([r.id for r in records]) if records else {}
    rows: list[dict[str, Any]] = []
    for r in records:
        for e in evaluations.get(r.id, ()):
            for s in store.samples(e.id):
                fields = sample_fields(s)
                rows.append(
                    {
                        "run_id": r.id,
                        "experiment": r.experiment,
                        "name": r.name,
                        "evaluation_id": e.id,
                        "benchmark": e.benchmark,
                        "split": e.split,
                        "sample_id": fields.pop("id"),
                        **fields,
                    }
                )
        if advance is not None:
            advance()
    return list(_SAMPLE_COLUMNS), rows


def _metric_table(store: Store, records: Sequence[RunRecord], advance: Advance) -> Table:
    """One row per logged metric point (by run, key, then step)."""
    summaries = store.metric_summaries([r.id for r in records]) if records else {}
    rows: list[dict[str, Any]] = []
    for r in records:
        for key in sorted(summaries.get(r.id, {})):
            h = store.metric_history(r.id, key)
            for step, value, at in zip(h.steps, h.values, h.times, strict=True):
                rows.append(
                    {
                        "run_id": r.id,
                        "experiment": r.experiment,
                        "name": r.name,
                        "key": key,
                        "step": step,
                        "value": value,
                        "time": iso(at),
                    }
                )
        if advance is not None:
            advance()
    return list(_METRIC_COLUMNS), rows


_TABLES = {"runs": _run_table, "samples": _sample_table, "metrics": _metric_table}


def export_table(
    store: Store, records: Sequence[RunRecord], rows: ExportRows = "runs", advance: Advance = None
) -> Table:
    """The flat table of ``records``: one row per run (``"runs"``), per evaluated sample
    (``"samples"``) or per logged metric point (``"metrics"``); ``advance`` is called once per
    run read."""
    return _TABLES[rows](store, records, advance)


# --------------------------------------------------------------------------- writers
def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(jsonable(value))
    if isinstance(value, int | str):
        return str(value)
    return json_text(value, indent=None)


def _write_csv(table: Table, out: IO[str]) -> None:
    header, rows = table
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_value(row.get(col)) for col in header])


def _write_json_rows(table: Table, out: IO[str]) -> None:
    """A JSON list of row objects, one per line (valid JSON that line tools can split)."""
    header, rows = table
    _write_json_list(({col: row.get(col) for col in header} for row in rows), out)


def _write_json_list(docs: Iterator[dict[str, Any]], out: IO[str]) -> None:
    out.write("[")
    first = True
    for doc in docs:
        out.write(("\n" if first else ",\n") + json_text(doc, indent=None))
        first = False
    out.write("]\n" if first else "\n]\n")


def _documents(store: Store, records: Sequence[RunRecord], advance: Advance) -> Iterator[Any]:
    for record in records:
        yield run_document(load_details(store, record, history=True, samples=True))
        if advance is not None:
            advance()


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
                v if v is None or isinstance(v, str) else json_text(v, indent=None) for v in values
            ]
    return pd.DataFrame(columns, columns=header)


def _require_pyarrow() -> None:
    import importlib

    try:
        importlib.import_module("pyarrow")
    except ImportError:
        raise ConfigError(
            "Parquet export needs pyarrow, which is not installed; install it with "
            "pip install 'trialbook[parquet]', or export with fmt=csv or fmt=json.",
            parameter="fmt",
            value="parquet",
        ) from None


# --------------------------------------------------------------------------- output file
def _cannot_write(output: Path, error: OSError) -> ConfigError:
    return ConfigError(
        f"Cannot write output={output} ({error.strerror or error}); "
        "choose a path in a writable folder.",
        parameter="output",
        value=output,
    )


def check_output(output: Path | None, fmt: ExportFormat) -> None:
    """Refuse, before anything is read, an output the export cannot write: a folder, or
    Parquet (binary) without a file.

    Raises:
        ConfigError: naming ``output`` and the fix.
    """
    if fmt == "parquet" and output is None:
        raise ConfigError(
            "Parquet is a binary format and is not written to stdout; pass output=FILE.parquet.",
            parameter="output",
        )
    if output is not None and output.is_dir():
        example = "runs.parquet" if fmt == "parquet" else "runs.json"
        raise ConfigError(
            f"output={output} is a folder; give a file name such as {example}.",
            parameter="output",
            value=output,
        )
    if fmt == "parquet":
        _require_pyarrow()


def _make_parent(output: Path) -> None:
    try:
        output.absolute().parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"Cannot create the folder of output={output} ({e.strerror or e}); "
            "choose a path in a writable folder.",
            parameter="output",
            value=output,
        ) from e


@contextmanager
def _atomic_output(output: Path) -> Iterator[IO[str]]:
    """A temporary text file beside ``output`` (its folders created), renamed over it only
    when the block succeeds."""
    _make_parent(output)
    try:
        with atomic_open(output.absolute(), newline="") as f:
            yield f
    except OSError as e:
        raise _cannot_write(output, e) from e


@contextmanager
def _atomic_path(output: Path) -> Iterator[Path]:
    """A temporary path beside ``output`` for a writer that takes a path (Parquet), renamed
    over ``output`` only when the block succeeds."""
    _make_parent(output)
    target = output.absolute()
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        raise _cannot_write(output, e) from e
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, target)
    except OSError as e:
        raise _cannot_write(output, e) from e
    finally:
        tmp.unlink(missing_ok=True)


def export_runs(
    store: Store,
    run: str | None = None,
    *,
    experiment: str | None = None,
    fmt: ExportFormat | None = None,
    rows: ExportRows | None = None,
    output: Path | None = None,
    file: IO[str] | None = None,
    progress: Progress | bool | None = None,
) -> int:
    """Write one run, or every run (of ``experiment``), oldest first, to ``output``
    (atomically: the file appears, or replaces the old one, only when the whole export
    succeeded) or to ``file`` (default stdout); return the number of runs written.

    Args:
        store: The Store the runs are in.
        run: A run id, unique id prefix, short id or name; ``None`` for every run.
        experiment: With ``run=None``, only the runs of this experiment.
        fmt: ``"json"``, ``"csv"`` or ``"parquet"`` (default: from ``output``'s suffix, else
            JSON). Parquet needs pyarrow and an ``output``.
        rows: ``None`` for run documents in JSON (one object for ``run``, else a list) and the
            flat run table in CSV and Parquet; ``"runs"`` for the flat run table in every
            format; ``"samples"`` or ``"metrics"`` for one row per evaluated sample or logged
            metric point.
        output: The file to write (its folders are created).
        file: Where text goes without ``output``.
        progress: True for a progress bar on stderr when it is a terminal and at least
            :data:`PROGRESS_MIN_RUNS` runs go to ``output``; or a callable, called with the
            number of runs, whose context manager gives a callable (or None) called once per
            run read.

    Raises:
        ConfigError: ``output`` cannot be written or is a folder, Parquet is asked for
            without pyarrow or without ``output``, or ``experiment`` is unknown; nothing is
            written then.
        RunNotFoundError: ``run`` matches no run.
    """
    fmt = export_format(output, fmt)
    check_output(output, fmt)
    if run is not None:
        records = [store.get_run(run)]
    else:
        from trialbook.analysis._scope import check_names
        from trialbook.store import RunQuery

        # A misspelt experiment is a did-you-mean, not an empty export.
        check_names(store, experiment=experiment)
        query = RunQuery(experiment=experiment, order_by="started_at", descending=False)
        records = store.list_runs(query)
    if progress is True:
        progress = _bar if output is not None else None
    with progress(len(records)) if callable(progress) else nullcontext() as advance:
        _export(store, records, fmt, rows, output, file or sys.stdout, run is not None, advance)
    return len(records)


def _export(
    store: Store,
    records: Sequence[RunRecord],
    fmt: ExportFormat,
    rows: ExportRows | None,
    output: Path | None,
    file: IO[str],
    single: bool,
    advance: Advance,
) -> None:
    if fmt == "json" and rows is None:

        def write(out: IO[str]) -> None:
            _write_json_documents(store, records, out, single, advance)

    else:
        table = export_table(store, records, rows or "runs", advance)
        if fmt == "parquet":
            assert output is not None
            frame = _parquet_frame(table)
            with _atomic_path(output) as tmp:
                frame.to_parquet(tmp, index=False)
            return

        def write(out: IO[str]) -> None:
            (_write_csv if fmt == "csv" else _write_json_rows)(table, out)

    if output is None:
        write(file)
        return
    with _atomic_output(output) as f:
        write(f)


def _write_json_documents(
    store: Store, records: Sequence[RunRecord], out: IO[str], single: bool, advance: Advance
) -> None:
    if single:
        details = load_details(store, records[0], history=True, samples=True)
        out.write(json_text(run_document(details)) + "\n")
        return
    # One run per line: valid JSON that streams, and that line-oriented tools can still split.
    _write_json_list(_documents(store, records, advance), out)
