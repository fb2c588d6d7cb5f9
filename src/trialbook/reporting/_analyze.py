"""``analyze()``: a workspace at a glance -- summary statistics per experiment and seed group,
``results.csv``, ``all_results.json`` and ``experiment_results.png`` in the workspace.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import shutil
import sys
import webbrowser
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from trialbook._atomic import atomic_open
from trialbook._values import jsonable
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from trialbook.store import Store

__all__ = ["AnalysisResult", "analyze", "default_metrics", "open_files"]

#: Metrics drawn in experiment_results.png at most when none are named (one panel each); the
#: result names the others (``left_out``). Metrics named with ``metrics=`` are all drawn.
MAX_PANELS = 6
#: The widest experiment_results.png gets, in inches (panels wrap onto more rows instead).
MAX_FIGURE_WIDTH = 16.0


@dataclass
class AnalysisResult:
    """What :func:`analyze` computed and wrote."""

    runs: pd.DataFrame
    groups: pd.DataFrame
    experiments: pd.DataFrame
    metrics: list[str]
    files: list[Path] = field(default_factory=list)
    #: The panels of experiment_results.png: metric -> the groups drawn (those with a value),
    #: in drawing order.
    panels: dict[str, list[str]] = field(default_factory=dict)
    #: Metrics summarised but not drawn (beyond MAX_PANELS when none were named).
    left_out: list[str] = field(default_factory=list)


def default_metrics(df: pd.DataFrame) -> list[str]:
    """The metrics to analyze when none are named, from the runs of ``df`` only: the
    evaluation metrics, plus the final training metrics (numeric, not ``system/*``) of the runs
    that were never evaluated on a benchmark (so a workspace of evaluated and logged-only runs
    shows both).

    Ordered by what to look at first: each benchmark's headline metric (``accuracy``, else
    its first metric by name) and the logged-only runs' accuracies
    (:func:`~trialbook._metrics.is_accuracy`), then the other evaluation metrics, then the other
    logged metrics; each part by how many runs have it (most first), then by name.
    """
    import pandas as pd

    from trialbook._metrics import is_accuracy

    def numeric(frame: pd.DataFrame, cols: list[str]) -> list[str]:
        return [c for c in cols if pd.api.types.is_numeric_dtype(df[c]) and frame[c].notna().any()]

    evals = numeric(df, [c for c in df.columns if str(c).startswith("eval.")])
    unevaluated = df[df[evals].isna().all(axis=1)] if evals else df
    logged = numeric(
        unevaluated,
        [
            c
            for c in df.columns
            if str(c).startswith("metrics.") and not str(c).startswith("metrics.system/")
        ],
    )
    by_benchmark: dict[str, list[str]] = {}
    for col in sorted(evals):
        by_benchmark.setdefault(_benchmark_of(col), []).append(col)
    headline = {
        cols[0] if f"eval.{b}.accuracy" not in cols else f"eval.{b}.accuracy"
        for b, cols in by_benchmark.items()
    }
    headline |= {c for c in logged if is_accuracy(c)}

    def order(c: str) -> tuple[int, int, str]:
        part = 0 if c in headline else (1 if c in evals else 2)
        return (part, -int(df[c].notna().sum()), c)

    return sorted([*evals, *logged], key=order)


def _benchmark_of(column: str) -> str:
    """``eval.<benchmark>.<metric>`` -> ``<benchmark>`` (a benchmark name may hold dots)."""
    return column[len("eval.") :].rpartition(".")[0]


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [jsonable(row) for row in df.to_dict(orient="records")]


def _figure(groups: pd.DataFrame, metrics: Sequence[str]) -> tuple[Any, dict[str, list[str]]]:
    """One bar panel per metric, each with the groups that have a value; panels wrap onto
    rows so the figure is at most MAX_FIGURE_WIDTH inches wide. Returns the figure and its
    panels (metric -> the groups drawn)."""
    from matplotlib.figure import Figure

    from trialbook.reporting._plots import (
        HORIZONTAL_ABOVE,
        bar_panel_size,
        metric_bar_labels,
        plot_metric_bars,
    )

    panels = {m: metric_bar_labels(groups, m) for m in metrics}
    panels = {m: labels for m, labels in panels.items() if labels}
    if not panels:
        fig = Figure(figsize=(6.0, 2.0), layout="constrained")
        fig.text(0.5, 0.5, "No group has a value of the metrics analysed.", ha="center")
        return fig, panels
    # Each panel lies the way its own bars read best; the grid's cells fit the largest.
    sizes = [
        bar_panel_size(len(labels), len(labels) > HORIZONTAL_ABOVE) for labels in panels.values()
    ]
    width, height = max(w for w, _ in sizes), max(h for _, h in sizes)
    columns = max(1, min(len(panels), 3, int(MAX_FIGURE_WIDTH // width)))
    rows = math.ceil(len(panels) / columns)
    fig = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, metric in zip(axes, panels, strict=False):
        plot_metric_bars(groups, metric, ax=ax)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    return fig, panels


def _scope_benchmarks(df: pd.DataFrame, benchmarks: Sequence[str]) -> pd.DataFrame:
    """The runs of ``df`` evaluated on any of ``benchmarks``; ConfigError names a benchmark
    none of them was evaluated on."""
    import pandas as pd

    evaluated: dict[str, pd.Series] = {}  # benchmark -> which runs have one of its values
    for col in df.columns:
        if str(col).startswith("eval."):
            has = df[col].notna()
            name = _benchmark_of(str(col))
            evaluated[name] = evaluated[name] | has if name in evaluated else has
    evaluated = {name: has for name, has in evaluated.items() if has.any()}
    for name in benchmarks:
        if name not in evaluated:
            known = sorted(evaluated)
            hint = difflib.get_close_matches(name, known, n=1)
            fix = (
                f"did you mean {hint[0]!r}?"
                if hint
                else f"they were evaluated on {', '.join(known)}."
                if known
                else "none of them was evaluated; run `trialbook evaluate` first."
            )
            raise ConfigError(f"None of the runs to analyze was evaluated on {name!r}; {fix}")
    keep = pd.concat([evaluated[name] for name in benchmarks], axis=1).any(axis=1)
    scoped: pd.DataFrame = df[keep].reset_index(drop=True)
    return scoped


def _resolve(df: pd.DataFrame, metric: str, benchmarks: Sequence[str] | None) -> str:
    """A metric name as the user gave it -> its column, looked up in ``benchmarks`` first."""
    from trialbook.analysis import resolve_metric

    for name in benchmarks or ():
        if f"eval.{name}.{metric}" in df.columns:
            return f"eval.{name}.{metric}"
    return resolve_metric(df, metric)


def analyze(
    root: str | os.PathLike[str] | None = None,
    store: Store | None = None,
    *,
    experiments: Sequence[str] | None = None,
    benchmarks: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    ci: Literal["t", "bootstrap"] = "t",
    suite: str | None = None,
    where: Sequence[str] | str | None = None,
) -> AnalysisResult:
    """Summarise a workspace's runs and write ``results.csv`` (one row per run),
    ``all_results.json`` (runs, seed groups and per-experiment summaries) and
    ``experiment_results.png`` / ``.svg`` (metric bars with 95% intervals per seed group).

    Scope: ``experiments`` keeps those experiments' runs, ``benchmarks`` the runs evaluated on
    any of those benchmarks; metric columns no scoped run has are dropped. ``metrics`` are
    metric names as :func:`trialbook.resolve_metric` takes them (looked up in ``benchmarks``
    first); by default :func:`default_metrics` of the scoped runs (with ``benchmarks``, their
    metrics only). The figure has one panel per metric with the groups that have a value
    (no empty bars): every named metric, or the first :data:`MAX_PANELS` defaults (the
    others are in ``left_out``).

    ``suite`` and ``where`` (the ``ls --where`` grammar) keep the runs of that suite where the
    conditions hold (a suite or key no run has: ConfigError).

    Files go to ``out_dir`` (default: the workspace root). Raises ConfigError for an unknown
    experiment, benchmark or metric, or when there are no runs; then nothing is written.
    """
    from trialbook._workspace import Workspace
    from trialbook.analysis import compare_experiments, load_runs, seed_groups
    from trialbook.analysis._scope import Scope, check_names
    from trialbook.analysis._significance import store_scope

    scope = Scope.of(suite, where)
    if not scope.empty:
        with store_scope(root, store) as db:
            check_names(db, scope=scope)
    query = None if scope.empty else scope.query(order_by="started_at", descending=False)
    df = load_runs(root, store, query=query)
    if df.empty and not scope.empty:
        raise ConfigError(
            f"No run of {scope.describe()} to analyze; widen suite= / where=.",
            parameter="where" if scope.where else "suite",
        )
    if df.empty:
        raise ConfigError(
            "There are no runs to analyze in this workspace; run experiments first or pass "
            "root=PATH for another workspace.",
            parameter="root",
        )
    if experiments:
        known = sorted(set(df["experiment"]))
        for name in experiments:
            if name not in known:
                hint = difflib.get_close_matches(name, known, n=1)
                fix = f"did you mean {hint[0]!r}?" if hint else f"known: {', '.join(known)}."
                raise ConfigError(
                    f"Unknown experiment {name!r}; {fix}", parameter="experiments", value=name
                )
        df = df[df["experiment"].isin(list(experiments))].reset_index(drop=True)
    if benchmarks:
        df = _scope_benchmarks(df, benchmarks)
    # Metrics only other runs logged are not this analysis' (and would be empty bars).
    empty = [
        c
        for c in df.columns
        if str(c).startswith(("metrics.", "eval.", "best.")) and df[c].isna().all()
    ]
    df = df.drop(columns=empty)
    if metrics:
        columns = list(dict.fromkeys(_resolve(df, m, benchmarks) for m in metrics))
        drawn = columns
    else:
        scoped = df
        if benchmarks:
            own = tuple(f"eval.{b}." for b in benchmarks)
            scoped = df[
                [c for c in df.columns if not str(c).startswith("eval.") or str(c).startswith(own)]
            ]
        columns = default_metrics(scoped)
        drawn = columns[:MAX_PANELS]
    if not columns:
        raise ConfigError(
            "The runs have no numeric metrics to analyze; log metrics with run.log() or "
            "evaluate the runs first."
        )
    groups = seed_groups(df, columns, ci=ci)
    summary = compare_experiments(df, metrics=columns)
    figure, panels = _figure(groups, drawn)

    folder = Path(out_dir) if out_dir is not None else Workspace.resolve(root).root
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(13, "permission denied")
    except OSError as e:
        raise ConfigError(
            f"Cannot write the analysis to {folder} ({e.strerror or e}); choose another "
            "out_dir=PATH.",
            parameter="out_dir",
            value=str(folder),
        ) from None
    csv_path = folder / "results.csv"
    json_path = folder / "all_results.json"
    document = {
        "metrics": columns,
        "runs": _records(df),
        "groups": _records(groups),
        "experiments": _records(summary.reset_index()),
    }
    png, svg = folder / "experiment_results.png", folder / "experiment_results.svg"
    writers: list[tuple[Path, str, Any]] = [
        (csv_path, "w", lambda f: df.to_csv(f, index=False)),
        (json_path, "w", lambda f: json.dump(document, f, indent=2, default=str)),
        (png, "wb", lambda f: figure.savefig(f, format="png", dpi=110)),
        (svg, "wb", lambda f: figure.savefig(f, format="svg", dpi=110)),
    ]
    # All four or none: each goes to a temporary file, and they are renamed into place only
    # when every one was written (a full disk leaves the previous analysis as it was).
    try:
        with ExitStack() as stack:
            for path, mode, write in writers:
                write(
                    stack.enter_context(
                        atomic_open(path, mode, newline="" if mode == "w" else None)
                    )
                )
    except OSError as e:
        raise ConfigError(
            f"Cannot write the analysis to {folder} ({e.strerror or e}); nothing was written "
            "there. Free some space or choose another out_dir=PATH.",
            parameter="out_dir",
            value=str(folder),
        ) from e
    return AnalysisResult(
        df,
        groups,
        summary,
        columns,
        [csv_path, json_path, png, svg],
        panels,
        [c for c in columns if c not in panels],
    )


def has_display() -> bool:
    """Whether opening a file can show a window: always on macOS and Windows, on other systems
    when ``DISPLAY`` or ``WAYLAND_DISPLAY`` is set."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_files(paths: Sequence[Path]) -> bool:
    """Open each file in the desktop's viewer; False (opening nothing) without a display."""
    if not has_display():
        return False
    opener = shutil.which("xdg-open") if sys.platform.startswith("linux") else None
    for path in paths:
        if opener is None:
            if not webbrowser.open(path.resolve().as_uri()):
                return False
        else:
            import subprocess

            subprocess.Popen(
                [opener, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
    return True
