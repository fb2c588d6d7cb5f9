"""``trialbook export``: runs as JSON documents or one CSV row each, written atomically.

The documents and tables are :func:`trialbook.analysis.export_runs`'s; ``show --json`` prints
the same run document.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from trialbook.cli._options import RootOption, StoreOption, open_store
from trialbook.errors import ConfigError

__all__ = ["export"]


class ExportFormat(str, Enum):
    json = "json"
    csv = "csv"
    parquet = "parquet"


RunArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="RUN",
        help="Run id, unique id prefix, short id or unique name; or pass --all.",
        show_default=False,
    ),
]
FormatOption = Annotated[
    ExportFormat | None,
    typer.Option(
        "--format",
        "-f",
        metavar="json|csv|parquet",
        help="json, csv or parquet (default: from the --output suffix .csv/.parquet, "
        "else json). Parquet needs pyarrow (pip install 'trialbook[parquet]') and --output.",
        show_default=False,
    ),
]
SamplesOption = Annotated[
    bool,
    typer.Option(
        "--samples",
        help="Export the per-sample results of the runs' evaluations instead: one row per "
        "sample (run_id, experiment, name, evaluation_id, benchmark, split, sample_id, "
        "prediction, reference, score, correct, extra).",
    ),
]
MetricsOption = Annotated[
    bool,
    typer.Option(
        "--metrics",
        help="Export the metric histories instead: one row per logged point (run_id, "
        "experiment, name, key, step, value, time).",
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="Write here instead of stdout (- is stdout); the file appears only when the "
        "export succeeds.",
    ),
]


def export(
    ctx: typer.Context,
    run: RunArgument = None,
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
    fmt: FormatOption = None,
    samples: SamplesOption = False,
    metrics: MetricsOption = False,
    output: OutputOption = None,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Export runs for analysis elsewhere.

    JSON: one object for RUN, or a list for --all, each with the run's fields, params, metric
    summaries, full metric history (steps, values, epoch times), evaluations with per-sample
    results, checkpoints, artifacts and datasets. NaN and infinities are written as the strings
    "NaN", "Infinity" and "-Infinity" so the file is strict JSON.

    CSV and Parquet: one row per run: id, experiment, name, status, seed, started_at,
    duration, then params.<key>, metrics.<key> (last value) and eval.<benchmark>.<metric>
    columns (the names load_runs gives them).

    --samples and --metrics export per-sample results or metric points as rows instead, in
    any of the three formats (JSON: a list of row objects).
    """
    from trialbook.analysis import export_runs

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
    with open_store(ctx, root, store) as db:
        count = export_runs(
            db,
            run,
            experiment=experiment,
            fmt=None if fmt is None else fmt.value,
            rows="samples" if samples else "metrics" if metrics else None,
            output=output,
            progress=True,
        )
    if output is not None and sys.stderr.isatty():
        typer.echo(f"Exported {count} run(s) to {output}.", err=True)
