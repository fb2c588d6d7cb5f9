"""``analyze()``: seed 001's analyze mode -- summary statistics per experiment and seed group,
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
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from trialbook.store import Store

__all__ = ["AnalysisResult", "analyze", "default_metrics", "open_files"]

#: Metrics drawn in experiment_results.png at most (one panel each).
MAX_PANELS = 6


@dataclass
class AnalysisResult:
    """What :func:`analyze` computed and wrote."""

    runs: pd.DataFrame
    groups: pd.DataFrame
    experiments: pd.DataFrame
    metrics: list[str]
    files: list[Path] = field(default_factory=list)


def default_metrics(df: pd.DataFrame) -> list[str]:
    """Evaluation metrics when any run has one, else the final training metrics (numeric)."""
    import pandas as pd

    def numeric(cols: list[str]) -> list[str]:
        return [c for c in cols if pd.api.types.is_numeric_dtype(df[c]) and df[c].notna().any()]

    evals = numeric([c for c in df.columns if str(c).startswith("eval.")])
    return evals or numeric([c for c in df.columns if str(c).startswith("metrics.")])


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [_jsonable(row) for row in df.to_dict(orient="records")]


def _figure(groups: pd.DataFrame, metrics: Sequence[str]) -> Any:
    from matplotlib.figure import Figure

    from trialbook.reporting._plots import plot_metric_bars

    shown = list(metrics)[:MAX_PANELS]
    width = max(5.0, 0.9 * len(groups) + 2.0)
    fig = Figure(figsize=(width * min(len(shown), 2), 4.0 * math.ceil(len(shown) / 2)))
    fig.set_layout_engine("constrained")
    axes = fig.subplots(math.ceil(len(shown) / 2), min(len(shown), 2), squeeze=False).ravel()
    for ax, metric in zip(axes, shown, strict=False):
        plot_metric_bars(groups, metric, ax=ax)
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    return fig


def analyze(
    root: str | os.PathLike[str] | None = None,
    store: Store | None = None,
    *,
    experiments: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    ci: Literal["t", "bootstrap"] = "t",
    suite: str | None = None,
    where: Sequence[str] | str | None = None,
) -> AnalysisResult:
    """Summarise a workspace's runs and write ``results.csv`` (one row per run),
    ``all_results.json`` (runs, seed groups and per-experiment summaries) and
    ``experiment_results.png`` / ``.svg`` (metric bars with 95% intervals per seed group).

    Files go to ``out_dir`` (default: the workspace root). ``experiments`` keeps those
    experiments only; ``metrics`` are metric names as :func:`trialbook.resolve_metric` takes
    them (default: every evaluation metric, else every final training metric). Raises
    ConfigError for an unknown experiment or metric, or when there are no runs; then nothing
    is written. ``suite`` and ``where`` (the ``ls --where`` grammar) keep the runs of that
    suite where the conditions hold (a suite or key no run has: ConfigError).
    """
    from trialbook._workspace import Workspace
    from trialbook.analysis import compare_experiments, load_runs, resolve_metric, seed_groups
    from trialbook.analysis._scope import Scope, check_names
    from trialbook.analysis._significance import store_scope

    scope = Scope.of(suite, where)
    if not scope.empty:
        with store_scope(root, store) as db:
            check_names(db, scope=scope)
    query = None if scope.empty else scope.query(order_by="started_at", descending=False)
    df = load_runs(root, store, query=query)
    if df.empty and not scope.empty:
        raise ConfigError(f"No run of {scope.describe()} to analyze; widen --suite/--where.")
    if df.empty:
        raise ConfigError(
            "There are no runs to analyze in this workspace; run experiments first or pass "
            "--root for another workspace."
        )
    if experiments:
        known = sorted(set(df["experiment"]))
        for name in experiments:
            if name not in known:
                hint = difflib.get_close_matches(name, known, n=1)
                fix = f"did you mean {hint[0]!r}?" if hint else f"known: {', '.join(known)}."
                raise ConfigError(f"Unknown experiment {name!r}; {fix}")
        df = df[df["experiment"].isin(list(experiments))].reset_index(drop=True)
    columns = [resolve_metric(df, m) for m in metrics] if metrics else default_metrics(df)
    if not columns:
        raise ConfigError(
            "The runs have no numeric metrics to analyze; log metrics with run.log() or "
            "evaluate the runs first."
        )
    groups = seed_groups(df, columns, ci=ci)
    summary = compare_experiments(df, metrics=columns)

    folder = Path(out_dir) if out_dir is not None else Workspace.resolve(root).root
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(13, "permission denied")
    except OSError as e:
        raise ConfigError(
            f"Cannot write the analysis to {folder} ({e.strerror or e}); choose another --out-dir."
        ) from None
    csv_path = folder / "results.csv"
    json_path = folder / "all_results.json"
    document = {
        "metrics": columns,
        "runs": _records(df),
        "groups": _records(groups),
        "experiments": _records(summary.reset_index()),
    }
    figure = _figure(groups, columns)
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
            "there. Free some space or choose another --out-dir (out_dir=...)."
        ) from e
    return AnalysisResult(df, groups, summary, columns, [csv_path, json_path, png, svg])


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
