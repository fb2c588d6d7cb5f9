"""``trialbook report`` (self-contained HTML, or Markdown / LaTeX tables) and
``trialbook analyze`` (seed 001's analyze mode)."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from trialbook.cli._options import RootOption, StoreOption, open_store, workspace
from trialbook.cli._output import Cell, Column, Output
from trialbook.errors import ConfigError

__all__ = ["analyze", "report"]


class ReportFormat(str, Enum):
    html = "html"
    md = "md"
    latex = "latex"


def _table(refs: list[str], db: object, fmt: ReportFormat) -> str:
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
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Write a self-contained HTML report of a run, or compare runs and groups.

    The HTML file needs no network: plots are inlined, every name and value is escaped.
    """
    from trialbook.reporting._html import report as write_report

    if fmt is not ReportFormat.html and metric is not None:
        raise ConfigError(
            f"--metric chooses the significance tests of an HTML report; --format {fmt.value} "
            "prints every metric, so drop --metric."
        )
    if fmt is ReportFormat.html and out is None:
        out = default_report_path(workspace(ctx, root, store).root, refs)
    with open_store(ctx, root, store) as db:
        if fmt is ReportFormat.html:
            assert out is not None
            path = write_report(refs, out, store=db, title=title, metric=metric)
            typer.echo(f"wrote {path}")
            return
        text = _table(refs, db, fmt)
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
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            help="Metric to summarise (repeatable; default every evaluation metric, else every "
            "final training metric).",
        ),
    ] = None,
    ci: Annotated[str, typer.Option("--ci", help="Interval: t (Student t) or bootstrap.")] = "t",
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
            metrics=metric,
            out_dir=out_dir if out_dir is not None else ws.root,
            ci="t" if ci == "t" else "bootstrap",
        )
    # Through Output like every other table: names are never read as rich markup, control
    # characters are escaped and 10,000-character names cut.
    out = Output()
    out.heading("Experiments")
    frame = result.experiments.reset_index()
    out.table(
        [Column(str(col)) for col in frame.columns],
        [[_cell(v) for v in row] for row in frame.itertuples(index=False)],
    )
    out.heading("Seed groups (mean [95% CI])")
    rows: list[list[Cell]] = []
    for _, g in result.groups.iterrows():
        cells: list[Cell] = [
            str(g.get("experiment", "")),
            str(g.get("name", "")),
            str(g.get("n", "")),
        ]
        for m in result.metrics:
            mean, low, high = (g.get(f"{m}.{s}") for s in ("mean", "ci_low", "ci_high"))
            text = _cell(mean)
            if low == low and low is not None:
                text += f" [{_cell(low)}, {_cell(high)}]"
            cells.append(text)
        rows.append(cells)
    out.table([Column(col) for col in ("experiment", "name", "n", *result.metrics)], rows)
    for path in result.files:
        typer.echo(f"wrote {path}")
    if show_plots:
        figures = [p for p in result.files if p.suffix == ".png"]
        if not open_files(figures):
            typer.echo(
                "No display to open plots on; the figures are in "
                + ", ".join(str(p) for p in figures)
            )


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.4g}"
    return "" if value is None else str(value)
