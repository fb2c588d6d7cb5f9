"""``trialbook report`` (self-contained HTML, or Markdown / LaTeX tables) and
``trialbook analyze`` (per experiment and seed group: a table, results.csv, all_results.json and
a figure)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trialbook.cli._options import (
    RootOption,
    StoreOption,
    SuiteOption,
    WhereOption,
    open_store,
    resolve_names,
    workspace,
)
from trialbook.cli._output import Cell, Column, Output
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.reporting import AnalysisResult

__all__ = ["analyze", "report"]


class ReportFormat(str, Enum):
    html = "html"
    md = "md"
    latex = "latex"


RefsArgument = Annotated[
    list[str],
    typer.Argument(
        metavar="RUN|GROUP...",
        help="One run for a run report; two or more runs or groups (group:<key prefix>, "
        "or an experiment of one seed group) to compare, the first as the baseline.",
        show_default=False,
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="File to write (HTML default: <workspace>/reports/<refs>.html, e.g. "
        "experiments/reports/baseline_vs_label_smoothing.html; md/latex default: stdout).",
    ),
]
TitleOption = Annotated[str | None, typer.Option("--title", help="Report title.")]
FormatOption = Annotated[
    ReportFormat,
    typer.Option("--format", help="html: the full report; md or latex: a metrics table."),
]
ReportMetricOption = Annotated[
    str | None,
    typer.Option(
        "--metric",
        metavar="M",
        help="The metric the significance tests compare, on every shared benchmark that "
        "has it (default: each benchmark's accuracy, else its first metric).",
    ),
]
MaxCurvesOption = Annotated[
    int | None,
    typer.Option(
        "--max-curves",
        metavar="N",
        help="Draw at most N curves (default 12); the report names the ones left out.",
        show_default=False,
    ),
]


def _html_only(fmt: ReportFormat, metric: str | None, max_curves: int | None) -> None:
    """Refuse the options that only an HTML report uses with a table format."""
    if metric is not None:
        raise ConfigError(
            f"--metric chooses the significance tests of an HTML report; --format {fmt.value} "
            "prints every metric, so drop --metric."
        )
    if max_curves is not None:
        raise ConfigError(
            f"--max-curves limits the curves of an HTML report; --format {fmt.value} draws "
            "none, so drop --max-curves."
        )


def report(
    ctx: typer.Context,
    refs: RefsArgument,
    out: OutOption = None,
    title: TitleOption = None,
    fmt: FormatOption = ReportFormat.html,
    metric: ReportMetricOption = None,
    max_curves: MaxCurvesOption = None,
    suite: SuiteOption = None,
    where: WhereOption = None,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Write a self-contained HTML report of a run, or compare runs and groups.

    The HTML file needs no network: plots are inlined, every name and value is escaped.
    """
    from trialbook.reporting import MAX_CURVES, metrics_table
    from trialbook.reporting import report as write_report

    if fmt is not ReportFormat.html:
        _html_only(fmt, metric, max_curves)
    elif out is None:
        from trialbook.reporting import default_report_path

        out = default_report_path(workspace(ctx, root, store).root, refs)
    with open_store(ctx, root, store) as db:
        entries = resolve_names(ctx, db, refs, suite=suite, where=where, metric=metric)
        if fmt is ReportFormat.html:
            assert out is not None
            out = write_report(
                entries,
                out,
                store=db,
                title=title,
                metric=metric,
                max_curves=MAX_CURVES if max_curves is None else max_curves,
            )
        else:
            text = metrics_table(entries, fmt.value, out=out, store=db)
            if out is None:
                typer.echo(text, nl=False)
                return
    typer.echo(f"wrote {out}")


def analyze(
    ctx: typer.Context,
    experiment: Annotated[
        list[str] | None,
        typer.Option("--experiment", "-e", help="Only this experiment (repeatable)."),
    ] = None,
    benchmark: Annotated[
        list[str] | None,
        typer.Option(
            "--benchmark",
            "-b",
            metavar="NAME",
            help="Only runs evaluated on this benchmark, and its metrics (repeatable).",
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            help="Metric to summarise and draw (repeatable; default: the evaluation metrics "
            "of the runs analysed, else their final training metrics).",
        ),
    ] = None,
    ci: Annotated[str, typer.Option("--ci", help="Interval: t (Student t) or bootstrap.")] = "t",
    suite: SuiteOption = None,
    where: WhereOption = None,
    show_plots: Annotated[
        bool, typer.Option("--show-plots", help="Open the figure when done.")
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", help="Where to write the files (default: the workspace root)."),
    ] = None,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Summarise runs per experiment and seed group; write results.csv, all_results.json and
    experiment_results.png to the workspace."""
    from trialbook.reporting import analyze as run_analysis
    from trialbook.reporting import open_files

    if ci != "t" and ci != "bootstrap":
        raise ConfigError(f"Unknown --ci {ci!r}; use 't' or 'bootstrap'.")
    ws = workspace(ctx, root, store)
    with open_store(ctx, root, store) as db:
        result = run_analysis(
            ws.root,
            db,
            experiments=experiment,
            benchmarks=benchmark,
            metrics=metric,
            out_dir=out_dir if out_dir is not None else ws.root,
            ci="t" if ci == "t" else "bootstrap",
            suite=suite,
            where=where,
        )
    _render_analysis(result)
    if show_plots:
        figures = [p for p in result.files if p.suffix == ".png"]
        if not open_files(figures):
            typer.echo(
                "No display to open plots on; the figures are in "
                + ", ".join(str(p) for p in figures)
            )


def _render_analysis(result: AnalysisResult) -> None:
    """The experiments table, a seed-group table per metric, what was not drawn, the files.

    Through Output like every other table (names are never read as rich markup, control
    characters are escaped), and always laid out by rich: the tables fit the terminal's width
    (COLUMNS, or 80 when piped) however many metrics and groups there are."""
    out = Output(rich=True)
    out.heading("Experiments")
    out.table(
        [
            Column("experiment", overflow="fold"),
            Column("runs", "right"),
            Column("completed", "right"),
            Column("groups", "right"),
        ],
        [
            [
                str(name),
                str(int(row["n"])),
                str(int(row["completed"])) if "completed" in row else "",
                str(int((result.groups["experiment"] == name).sum())),
            ]
            for name, row in result.experiments.iterrows()
        ],
    )
    for m in result.metrics:
        out.heading(f"Seed groups on {m}")
        out.table(
            [
                Column("experiment", overflow="fold"),
                Column("name", overflow="fold"),
                Column("group"),
                Column("n", "right"),
                Column("mean", "right"),
                Column("95% CI"),
            ],
            _group_rows(result, m),
        )
    out.line()
    if result.left_out:
        _say(
            out,
            f"experiment_results.png draws {len(result.panels)} of {len(result.metrics)} "
            f"metrics; not drawn: {', '.join(result.left_out)}. Choose what to draw with "
            "--metric M (repeatable).",
        )
    for path in result.files:
        typer.echo(f"wrote {path}")


def _group_rows(result: AnalysisResult, metric: str) -> list[list[Cell]]:
    """One row per seed group with a value of ``metric``: its mean and interval."""
    from trialbook.analysis import group_ref

    rows: list[list[Cell]] = []
    for _, g in result.groups.iterrows():
        mean, low, high = (g.get(f"{metric}.{s}") for s in ("mean", "ci_low", "ci_high"))
        if mean is None or mean != mean:
            continue  # the group has no value of this metric
        interval = f"[{_cell(low)}, {_cell(high)}]" if low == low and low is not None else ""
        rows.append(
            [
                str(g.get("experiment", "")),
                str(g.get("name", "")),
                group_ref(str(g.get("group", ""))),
                str(g.get("n", "")),
                _cell(mean),
                interval,
            ]
        )
    return rows


def _say(out: Output, text: str) -> None:
    """A sentence wrapped to the terminal's width (between words only)."""
    import textwrap

    for line in textwrap.wrap(
        text, width=out.console.width, break_long_words=False, break_on_hyphens=False
    ):
        out.line(line)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.4g}"
    return "" if value is None else str(value)
