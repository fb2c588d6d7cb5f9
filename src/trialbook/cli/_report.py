"""``trialbook report`` (self-contained HTML, or Markdown / LaTeX tables) and
``trialbook analyze`` (seed 001's analyze mode)."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

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

__all__ = ["analyze", "report"]


class ReportFormat(str, Enum):
    html = "html"
    md = "md"
    latex = "latex"


def _table(refs: list[Any], db: object, fmt: ReportFormat) -> str:
    """The metrics of the references side by side, one row per entry, as Markdown or LaTeX."""
    import pandas as pd

    from trialbook.reporting._html import _entries, _entry_values
    from trialbook.reporting._tables import to_latex, to_markdown

    rows = []
    for entry in _entries(refs, db):  # type: ignore[arg-type]
        values = _entry_values(db, entry)  # type: ignore[arg-type]
        row: dict[str, object] = {"entry": entry.label, "n": len(entry.runs)}
        for key, (mean, std, _n) in sorted(values.items()):
            row[key] = f"{mean:.3f}" + (f" ± {std:.3f}" if std == std else "")
        rows.append(row)
    frame = pd.DataFrame(rows).fillna("")
    return to_markdown(frame) if fmt is ReportFormat.md else to_latex(frame)


def report(
    ctx: typer.Context,
    refs: Annotated[
        list[str],
        typer.Argument(
            metavar="RUN|GROUP...",
            help="One run for a run report; two or more runs or groups (group:<key prefix>, "
            "or an experiment of one seed group) to compare, the first as the baseline.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="File to write (HTML default: <workspace>/reports/<refs>.html, e.g. "
            "experiments/reports/baseline_vs_label_smoothing.html; md/latex default: stdout).",
        ),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Report title.")] = None,
    fmt: Annotated[
        ReportFormat,
        typer.Option("--format", help="html: the full report; md or latex: a metrics table."),
    ] = ReportFormat.html,
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            metavar="M",
            help="The metric the significance tests compare, on every shared benchmark that "
            "has it (default: each benchmark's accuracy, else its first metric).",
        ),
    ] = None,
    max_curves: Annotated[
        int | None,
        typer.Option(
            "--max-curves",
            metavar="N",
            help="Draw at most N curves (default 12); the report names the ones left out.",
            show_default=False,
        ),
    ] = None,
    suite: SuiteOption = None,
    where: WhereOption = None,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Write a self-contained HTML report of a run, or compare runs and groups.

    The HTML file needs no network: plots are inlined, every name and value is escaped.
    """
    from trialbook.reporting._html import MAX_CURVES
    from trialbook.reporting._html import report as write_report

    if fmt is not ReportFormat.html and metric is not None:
        raise ConfigError(
            f"--metric chooses the significance tests of an HTML report; --format {fmt.value} "
            "prints every metric, so drop --metric."
        )
    if fmt is not ReportFormat.html and max_curves is not None:
        raise ConfigError(
            f"--max-curves limits the curves of an HTML report; --format {fmt.value} draws "
            "none, so drop --max-curves."
        )
    if fmt is ReportFormat.html and out is None:
        out = default_report_path(workspace(ctx, root, store).root, refs)
    with open_store(ctx, root, store) as db:
        entries = resolve_names(ctx, db, refs, suite=suite, where=where, metric=metric)
        if fmt is ReportFormat.html:
            assert out is not None
            path = write_report(
                entries,
                out,
                store=db,
                title=title,
                metric=metric,
                max_curves=MAX_CURVES if max_curves is None else max_curves,
            )
            typer.echo(f"wrote {path}")
            return
        text = _table(entries, db, fmt)
    if out is None:
        typer.echo(text, nl=False)
    else:
        from trialbook._atomic import atomic_write

        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(out, text)
        except OSError as e:
            raise ConfigError(
                f"Cannot write the table to {out} ({e.strerror or e}); choose another --out."
            ) from None
        typer.echo(f"wrote {out}")


def default_report_path(root: Path, refs: list[str]) -> Path:
    """Where an HTML report goes without ``--out``: ``<workspace>/reports/<a>_vs_<b>.html``,
    under the workspace so that following the docs never writes into a source checkout."""
    names = [re.sub(r"[^\w.@-]+", "_", ref).strip("._") or "run" for ref in refs]
    stem = "_vs_".join(names)
    if len(stem) > 120:  # many references: a file name every file system takes
        stem = f"{stem[:100]}_and_{len(refs)}_entries"
    return root / "reports" / f"{stem}.html"


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
    from trialbook.analysis._refs import group_ref
    from trialbook.reporting._analyze import analyze as run_analysis
    from trialbook.reporting._analyze import open_files

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
    # Through Output like every other table (names are never read as rich markup, control
    # characters are escaped), and always laid out by rich: the tables fit the terminal's
    # width (COLUMNS, or 80 when piped) however many metrics and groups there are.
    out = Output(rich=True)
    out.heading("Experiments")
    experiments = result.experiments
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
            for name, row in experiments.iterrows()
        ],
    )
    for m in result.metrics:
        out.heading(f"Seed groups on {m}")
        rows: list[list[Cell]] = []
        for _, g in result.groups.iterrows():
            mean, low, high = (g.get(f"{m}.{s}") for s in ("mean", "ci_low", "ci_high"))
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
        out.table(
            [
                Column("experiment", overflow="fold"),
                Column("name", overflow="fold"),
                Column("group"),
                Column("n", "right"),
                Column("mean", "right"),
                Column("95% CI"),
            ],
            rows,
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
    if show_plots:
        figures = [p for p in result.files if p.suffix == ".png"]
        if not open_files(figures):
            typer.echo(
                "No display to open plots on; the figures are in "
                + ", ".join(str(p) for p in figures)
            )


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
