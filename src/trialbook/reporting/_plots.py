"""Plots for runs and groups: training curves with seed bands, metric bars with intervals,
per-slice bars and the cartography data map; every plot saves as PNG and SVG.

Figures are built with :class:`matplotlib.figure.Figure` directly (never ``pyplot``), so no
window or GUI backend is involved and plotting works the same on a headless machine.
"""

from __future__ import annotations

import base64
import difflib
import io
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as _field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trialbook._atomic import atomic_open
from trialbook._format import natural_key
from trialbook.analysis._samples import INPUT_KEYS
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.figure import Figure

    from trialbook.store import MetricHistory, RunRecord, Sample, Store

__all__ = [
    "DYNAMICS_FILE",
    "REGION_THRESHOLDS",
    "CurvePanel",
    "CurvePanels",
    "TrainingDynamics",
    "curve_order",
    "data_map_regions",
    "figure_data_uri",
    "find_training_dynamics",
    "load_training_dynamics",
    "min_curve_points",
    "plot_curve_panels",
    "plot_curves",
    "plot_data_map",
    "plot_metric_bars",
    "plot_slices",
    "save_figure",
    "slices_from_samples",
]

#: The confidence level of the curves' ``band="ci"`` (a Student-t interval of the mean per step).
CURVE_LEVEL = 0.95
#: The run artifact (or file in the run folder) holding per-example training dynamics.
DYNAMICS_FILE = "training_dynamics.jsonl"

RunsArg = Any  # DataFrame | Sequence[RunRecord | str] | Mapping[str, Sequence[RunRecord | str]]


def _plain(text: object) -> str:
    """``text`` shown literally: matplotlib reads ``$...$`` as math, and a run named
    ``cost $5 or $x^{`` would otherwise fail to draw."""
    return str(text).replace("$", r"\$")


def _new_figure(width: float = 6.4, height: float = 4.0) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``fig`` as ``<path>.png`` and ``<path>.svg`` (any suffix of ``path`` is replaced).

    Each file is written to a temporary name first and renamed, so a reader never sees half a
    plot. Returns the two paths (PNG, SVG).
    """
    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in (".png", ".svg"):
        target = base.with_suffix(suffix)
        with atomic_open(target, "wb") as f:
            fig.savefig(f, format=suffix[1:], dpi=110)
        written.append(target)
    return written[0], written[1]


def figure_data_uri(fig: Figure) -> str:
    """The figure as a ``data:image/png;base64,...`` URI, for self-contained HTML."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _finish(fig: Figure, out: str | os.PathLike[str] | None) -> Figure:
    if out is not None:
        save_figure(fig, out)
    return fig


# --------------------------------------------------------------------------- curves
def _runs_by_label(runs: RunsArg, by_group: bool, db: Store) -> dict[str, list[RunRecord]]:
    """Label -> runs, from a load_runs frame, a list of runs / refs, or a mapping of those."""
    import pandas as pd

    def record(ref: Any) -> RunRecord:
        return ref if hasattr(ref, "group_key") else db.get_run(str(ref))

    if isinstance(runs, Mapping):
        return {str(label): [record(r) for r in refs] for label, refs in runs.items()}
    if isinstance(runs, pd.DataFrame):
        if "run_id" not in runs.columns:
            raise ConfigError(
                "The frame given to plot_curves has no 'run_id' column; pass the frame from "
                "trialbook.load_runs() or a list of runs."
            )
        records = [db.get_run(str(r)) for r in runs["run_id"]]
    else:
        records = [record(r) for r in runs]
    out: dict[str, list[RunRecord]] = {}
    for rec in records:
        if by_group:
            label = f"{rec.experiment}/{rec.group_key[:8]}"
            out.setdefault(label, []).append(rec)
        else:
            out[f"{rec.name} ({rec.id[-6:]})"] = [rec]
    if by_group:
        # A group's label is its runs' name when they share one (seed suites name runs alike).
        renamed: dict[str, list[RunRecord]] = {}
        for label, recs in out.items():
            names = {r.name for r in recs}
            name = next(iter(names))
            nice = (
                label
                if len(names) != 1
                else (name if name == recs[0].experiment else f"{recs[0].experiment}/{name}")
            )
            renamed[nice if nice not in renamed else label] = recs
        out = renamed
    return out


def _open_db(root: Any, store: Store | None) -> tuple[Store, bool]:
    if store is not None:
        return store, False
    from trialbook._workspace import open_store

    return open_store(root), True


def curve_frame(histories: Sequence[MetricHistory]) -> pd.DataFrame:
    """Steps as the index, one column per run; steps a run did not log are NaN."""
    import pandas as pd

    columns = {
        h.run_id: pd.Series(h.values, index=pd.Index(h.steps, name="step"), dtype=float)
        for h in histories
    }
    frame = pd.DataFrame(columns)
    unique: pd.DataFrame = frame[~frame.index.duplicated(keep="last")].sort_index()
    return unique


def _histories(
    db: Store, labelled: Mapping[str, Sequence[RunRecord]], metric: str
) -> dict[str, list[MetricHistory]]:
    """Label -> the histories of ``metric`` its runs logged (labels without any left out)."""
    series = {
        label: [h for h in (db.metric_history(r.id, metric) for r in recs) if h.steps]
        for label, recs in labelled.items()
    }
    return {label: hs for label, hs in series.items() if hs}


def plot_curves(
    runs_or_df: RunsArg,
    metric: str,
    *,
    by_group: bool = True,
    band: str = "std",
    out: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
    store: Store | None = None,
) -> Figure:
    """Training curves of ``metric`` from the runs' metric histories.

    ``runs_or_df`` is the frame from :func:`trialbook.load_runs`, a list of runs (records or
    references as ``trialbook show`` takes them), or a mapping label -> runs. With ``by_group``
    (the default) runs of one seed group (or one mapping entry) draw one line, the mean over
    seeds at each step, with a band of +/- one standard deviation (``band="std"``), the
    standard error (``band="sem"``) or the 95% t-interval of the mean (``band="ci"``) when the
    group has two or more runs; otherwise one line per
    run. ``out`` also saves the figure (PNG and SVG). Raises ConfigError when no run logged
    ``metric``.
    """
    _check_band(band)
    db, close = _open_db(root, store)
    try:
        labelled = _runs_by_label(runs_or_df, by_group or isinstance(runs_or_df, Mapping), db)
        series = _histories(db, labelled, metric)
        known = sorted({k for recs in labelled.values() for r in recs for k in _keys(db, r.id)})
    finally:
        if close:
            db.close()
    if not series:
        hint = difflib.get_close_matches(metric, known, n=1)
        fix = f"did you mean {hint[0]!r}?" if hint else f"the runs logged: {', '.join(known)}."
        raise ConfigError(f"No run logged the metric {metric!r}; {fix}")
    return _finish(_draw_curves(series, metric, band), out)


def _check_band(band: str) -> None:
    if band not in ("std", "sem", "ci"):
        raise ConfigError(
            f"Unknown band {band!r}; use 'std', 'sem' or 'ci'.", parameter="band", value=band
        )


def _draw_curves(series: Mapping[str, Sequence[MetricHistory]], metric: str, band: str) -> Figure:
    import numpy as np
    import pandas as pd

    fig = _new_figure()
    ax = fig.add_subplot()
    for label, histories in series.items():
        frame = curve_frame(histories)
        mean = frame.mean(axis=1)
        # A series of one point draws no line: a marker shows where it is.
        marker = "o" if len(frame.index) == 1 else None
        (line,) = ax.plot(
            frame.index,
            mean.to_numpy(),
            label=_plain(f"{label} (n={frame.shape[1]})"),
            marker=marker,
        )
        if frame.shape[1] >= 2:
            spread = frame.std(axis=1, ddof=1)
            count = frame.count(axis=1)
            if band == "sem":
                spread = spread / np.sqrt(count)
            elif band == "ci":
                from trialbook.analysis import t_half_width

                # A step only some seeds reached has fewer values: its own t quantile.
                spread = pd.Series(t_half_width(spread, count, CURVE_LEVEL), index=frame.index)
            ax.fill_between(
                frame.index,
                (mean - spread).to_numpy(),
                (mean + spread).to_numpy(),
                alpha=0.2,
                color=line.get_color(),
                linewidth=0,
            )
    ax.set_xlabel("step")
    ax.set_ylabel(_plain(metric))
    ax.set_title(_plain(metric))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


#: First words of metric names that are measured on held-out data (``val/loss``,
#: ``eval_accuracy``, ``test_id/exact_match``): drawn after the training curves.
_HELD_OUT = re.compile(r"^(val|valid|validation|eval|evaluation|dev|test)(?=$|[/_.\-])")
_TRAIN = ("", "train", "training")
#: Bookkeeping that grows with the step (``epoch``): drawn after the metrics, before system/*.
_COUNTERS = ("epoch", "step", "global_step", "iteration", "examples_seen")


def min_curve_points(metric: str) -> int:
    """The fewest distinct steps a series of ``metric`` needs to be drawn as a curve: 2, and 3
    for ``system/*`` (the system sampler logs once at the start and once at the end of a
    short run, and a line between those two is not a curve worth a panel)."""
    return 3 if metric.startswith("system/") else 2


def curve_order(metric: str, primary: str | None = None) -> tuple[int, str]:
    """Where ``metric``'s panel goes among a report's curves (sort by this key): the training
    loss, then ``primary`` (the compared metric, matched on the name after the last ``/``),
    then the other training metrics, then held-out ones (``val/``, ``eval/``, ``test``...),
    then counters (``epoch``, ``step``), then ``system/*``; alphabetically within each."""
    if metric.startswith("system/"):
        return 5, metric
    prefix, _, base = metric.rpartition("/")
    if base in _COUNTERS:
        return 4, metric
    if base in ("loss", "train_loss", "training_loss") and prefix in _TRAIN:
        return 0, metric
    if primary is not None and (
        metric == primary or base == primary.rpartition("/")[2].rpartition(".")[2]
    ):
        return 1, metric
    return (3 if _HELD_OUT.match(metric) else 2), metric


@dataclass(frozen=True)
class CurvePanel:
    """One drawn panel: the metric, the distinct steps of each line (label -> points), the
    figure."""

    metric: str
    points: Mapping[str, int]
    figure: Figure


@dataclass(frozen=True)
class CurvePanels:
    """What :func:`plot_curve_panels` drew and what it did not, so a caller can say so.

    ``panels`` are in drawing order; ``single_value`` are the metrics with too few points for
    a curve (:func:`min_curve_points`; their values belong in a table); ``left_out`` are the
    metrics that have a curve but were beyond ``max_panels``, in the order they would follow.
    """

    panels: list[CurvePanel] = _field(default_factory=list)
    single_value: list[str] = _field(default_factory=list)
    left_out: list[str] = _field(default_factory=list)

    @property
    def metrics(self) -> list[str]:
        """The metrics drawn, in order."""
        return [p.metric for p in self.panels]


def plot_curve_panels(
    runs_or_df: RunsArg,
    metrics: Sequence[str] | None = None,
    *,
    primary: str | None = None,
    max_panels: int | None = None,
    by_group: bool = True,
    band: str = "std",
    root: str | os.PathLike[str] | None = None,
    store: Store | None = None,
) -> CurvePanels:
    """One :func:`plot_curves` figure per metric that has a curve, most telling first.

    ``metrics`` defaults to every metric the runs logged. A metric is drawn when at least one
    of its lines has :func:`min_curve_points` distinct steps; the others are returned as
    ``single_value``. Panels are ordered by :func:`curve_order` (the training loss, then
    ``primary``, then other training metrics, held-out metrics, ``system/*``); beyond
    ``max_panels`` (None: no limit) the rest are returned as ``left_out``, never dropped
    without a trace. Nothing is raised for a metric no run logged: it has no points, so it is
    in ``single_value``.
    """
    _check_band(band)
    if max_panels is not None and max_panels < 0:
        raise ConfigError(f"max_panels is {max_panels}; pass 0 or more, or None for every curve.")
    db, close = _open_db(root, store)
    try:
        labelled = _runs_by_label(runs_or_df, by_group or isinstance(runs_or_df, Mapping), db)
        if metrics is None:
            runs = [r for recs in labelled.values() for r in recs]
            metrics = sorted({k for r in runs for k in _keys(db, r.id)})
        drawable: list[tuple[str, dict[str, list[MetricHistory]], dict[str, int]]] = []
        single: list[str] = []
        for metric in dict.fromkeys(metrics):
            series = _histories(db, labelled, metric)
            points = {label: len(curve_frame(hs).index) for label, hs in series.items()}
            if max(points.values(), default=0) >= min_curve_points(metric):
                drawable.append((metric, series, points))
            else:
                single.append(metric)
    finally:
        if close:
            db.close()
    drawable.sort(key=lambda item: curve_order(item[0], primary))
    keep = len(drawable) if max_panels is None else max_panels
    panels = [
        CurvePanel(metric, points, _draw_curves(series, metric, band))
        for metric, series, points in drawable[:keep]
    ]
    return CurvePanels(panels, single, [metric for metric, _, _ in drawable[keep:]])


def _keys(db: Store, run_id: str) -> list[str]:
    return list(db.metric_summaries([run_id]).get(run_id, {}))


# --------------------------------------------------------------------------- bars
def _mean_column(groups_df: pd.DataFrame, metric: str) -> str:
    """The metric column of a seed_groups frame that ``metric`` names (``.mean`` stripped)."""
    bases = [c[: -len(".mean")] for c in groups_df.columns if str(c).endswith(".mean")]
    for wanted in (metric, f"metrics.{metric}"):
        if wanted in bases:
            return wanted
    matches = [b for b in bases if b.endswith(f".{metric}")]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ConfigError(
            f"The metric {metric!r} is ambiguous; name one of: {', '.join(sorted(matches))}."
        )
    hint = difflib.get_close_matches(metric, bases, n=1)
    fix = f"did you mean {hint[0]!r}?" if hint else f"known: {', '.join(sorted(bases)) or 'none'}."
    raise ConfigError(
        f"Unknown metric {metric!r} in the groups frame; {fix}", parameter="metric", value=metric
    )


def _group_labels(groups_df: pd.DataFrame) -> list[str]:
    """``experiment/name`` per group, or the name alone when it is the experiment's."""
    labels = []
    for _, row in groups_df.iterrows():
        parts = [str(row[c]) for c in ("experiment", "name") if c in row and row[c] == row[c]]
        if len(parts) == 2 and parts[0] == parts[1]:
            parts = parts[:1]
        labels.append("/".join(parts) or str(row.get("group", "?"))[:8])
    # Two groups of one experiment and name (another suite, another config): their key tells
    # them apart, as `group:<key>` names them on the command line.
    repeated = {label for label in labels if labels.count(label) > 1}
    keys = [str(row.get("group", ""))[:6] for _, row in groups_df.iterrows()]
    pairs = zip(labels, keys, strict=True)
    return [f"{label} ({key})" if label in repeated else label for label, key in pairs]


#: plot_metric_bars draws horizontal bars above this many groups (their names stay readable).
HORIZONTAL_ABOVE = 8


def metric_bar_labels(groups_df: pd.DataFrame, metric: str) -> list[str]:
    """The groups :func:`plot_metric_bars` draws for ``metric``: those with a value, labelled
    as on the plot (in ``groups_df`` order)."""
    col = _mean_column(groups_df, metric)
    return _group_labels(groups_df[groups_df[f"{col}.mean"].notna()])


def plot_metric_bars(
    groups_df: pd.DataFrame,
    metric: str,
    out: str | os.PathLike[str] | None = None,
    *,
    ax: Any = None,
    horizontal: bool | None = None,
) -> Figure:
    """One bar per seed group that has a value of ``metric``: its mean with its confidence
    interval.

    ``groups_df`` is the frame from :func:`trialbook.seed_groups` (columns ``<col>.mean``,
    ``<col>.ci_low``, ``<col>.ci_high``); ``metric`` may omit the ``metrics.`` or
    ``eval.<benchmark>.`` prefix when that is unambiguous. A group without a value (it never
    logged the metric) gets no bar at all; groups of one run have no interval and show a bare
    bar. Bars are horizontal when ``horizontal`` is true, or by default above
    :data:`HORIZONTAL_ABOVE` groups. ``ax`` draws into an existing Axes (its figure is
    returned). Raises ConfigError when no group has a value.
    """
    import numpy as np

    col = _mean_column(groups_df, metric)
    # One colour per experiment, so the groups of an experiment read as a block; the colours
    # come from the whole frame, so an experiment keeps its colour in every panel.
    experiments = (
        list(groups_df["experiment"]) if "experiment" in groups_df else [""] * len(groups_df)
    )
    palette = {e: f"C{i % 10}" for i, e in enumerate(dict.fromkeys(experiments))}
    has_value = groups_df[f"{col}.mean"].notna().to_numpy()
    if not has_value.any():
        raise ConfigError(f"No group has a value of {col!r}; choose a metric the groups logged.")
    rows = groups_df[has_value]
    colors = [palette[e] for e, keep in zip(experiments, has_value, strict=True) if keep]
    means = rows[f"{col}.mean"].to_numpy(dtype=float)
    low = rows.get(f"{col}.ci_low")
    high = rows.get(f"{col}.ci_high")
    lows = low.to_numpy(dtype=float) if low is not None else np.full_like(means, np.nan)
    highs = high.to_numpy(dtype=float) if high is not None else np.full_like(means, np.nan)
    # matplotlib draws no error bar for NaN, which is what a group of one run should show.
    err = np.vstack([means - lows, highs - means])
    if horizontal is None:
        horizontal = len(means) > HORIZONTAL_ABOVE
    if ax is None:
        size = bar_panel_size(len(means), horizontal)
        fig = _new_figure(*size)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    labels = [_plain(t) for t in _group_labels(rows)]
    at = np.arange(len(means))
    # eval.<benchmark>.<metric>: the benchmark on the title's first line, the metric below.
    source, name = (
        col[len("eval.") :].rpartition(".")[::2] if col.startswith("eval.") else ("", col)
    )
    if horizontal:
        bars = ax.barh(at, means, xerr=err, capsize=3, color=colors, alpha=0.85)
        ax.set_yticks(at, labels)
        ax.invert_yaxis()  # the first group on top, as in the tables
        ax.set_xlabel(_plain(name))
        ax.grid(axis="x", alpha=0.3)
    else:
        bars = ax.bar(at, means, yerr=err, capsize=4, color=colors, alpha=0.85)
        long = len(labels) > 3 or max(len(t) for t in labels) > 12
        ax.set_xticks(at, labels, rotation=30 if long else 0, ha="right" if long else "center")
        ax.set_ylabel(_plain(name))
        ax.grid(axis="y", alpha=0.3)
    # The value on each bar: a mean of 0 is a bar too, not a missing one.
    ax.bar_label(bars, labels=[f"{m:.3g}" for m in means], fontsize="small", padding=2)
    title = f"{source}\n{name} (mean, 95% CI)" if source else f"{name}\n(mean, 95% CI)"
    ax.set_title(_plain(title), fontsize="medium")
    return _finish(fig, out)


def bar_panel_size(bars: int, horizontal: bool) -> tuple[float, float]:
    """Width and height in inches of one panel of ``bars`` bars: it grows with the bars up to
    a cap (8 inches wide, 14 tall), so a figure stays readable and of sensible size."""
    if horizontal:
        return 6.5, min(14.0, max(3.0, 1.4 + 0.32 * bars))
    return min(8.0, max(3.6, 1.4 + 0.75 * bars)), 4.2


# --------------------------------------------------------------------------- slices
def slices_from_samples(
    samples: Sequence[Sample], fields: Sequence[str] | None = None, *, max_values: int = 30
) -> dict[str, dict[str, dict[str, float]]]:
    """Per-slice scores recomputed from stored samples: field -> value -> {"accuracy", "score",
    "n"}.

    ``fields`` defaults to the slice fields a benchmark declared (``SampleResult.fields``,
    stored under ``extra["fields"]``) when the samples have them, else to every key of the
    samples' ``extra`` whose values are text or integers (a true/false field such as
    ``correct_strict`` is a per-sample result, not a slice) taking 2 to ``max_values``
    distinct values, two samples or more per value on average, and that is not an input
    (:data:`INPUT_KEYS`): a sample id or free text is not a slice. Named ``fields`` are looked
    up in both places, whatever their values.
    """
    declared = any(isinstance(s.extra.get("fields"), Mapping) for s in samples)
    values: dict[str, dict[str, list[Sample]]] = {}
    for s in samples:
        own = s.extra.get("fields")
        own = own if isinstance(own, Mapping) else {}
        candidates: Iterable[tuple[str, Any]]
        if fields is not None:
            candidates = {**s.extra, **own}.items()
        elif declared:
            candidates = own.items()
        else:
            candidates = ((k, v) for k, v in s.extra.items() if not isinstance(v, bool))
        for key, value in candidates:
            if (fields is None or key in fields) and isinstance(value, str | int | bool):
                values.setdefault(key, {}).setdefault(str(value), []).append(s)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for key, groups in values.items():
        if fields is None and (
            key in INPUT_KEYS
            or not 2 <= len(groups) <= max_values
            or 2 * len(groups) > sum(len(members) for members in groups.values())
        ):
            continue
        out[key] = {}
        for value, members in sorted(groups.items(), key=lambda item: natural_key(item[0])):
            row: dict[str, float] = {"n": float(len(members))}
            correct = [m.correct for m in members if m.correct is not None]
            scores = [m.score for m in members if m.score is not None]
            if correct:
                row["accuracy"] = sum(correct) / len(correct)
            if scores:
                row["score"] = sum(scores) / len(scores)
            out[key][value] = row
    return out


def plot_slices(
    evaluation_result_or_slices: Any,
    metric: str,
    out: str | os.PathLike[str] | None = None,
) -> Figure:
    """Bars of ``metric`` per slice value, one panel per slicing field.

    Takes an :class:`~trialbook.EvaluationResult` (its ``slices``) or the same mapping field ->
    value -> metric -> number (e.g. from :func:`slices_from_samples`). Raises ConfigError when
    there are no slices or none has ``metric``.
    """
    slices = getattr(evaluation_result_or_slices, "slices", evaluation_result_or_slices)
    if not isinstance(slices, Mapping) or not slices:
        raise ConfigError(
            "There are no slices to plot; evaluate with slice fields (e.g. slice_by) or pass "
            "slices_from_samples(samples)."
        )
    panels = {
        field: {v: float(m[metric]) for v, m in vals.items() if metric in m}
        for field, vals in slices.items()
    }
    panels = {field: bars for field, bars in panels.items() if bars}
    if not panels:
        known = sorted({k for vals in slices.values() for m in vals.values() for k in m})
        raise ConfigError(
            f"No slice has the metric {metric!r}; the slices have: {', '.join(known) or 'none'}."
        )
    width = max(4.0, 0.6 * sum(len(b) for b in panels.values()) + 2.0)
    fig = _new_figure(width, 3.6)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (field, bars) in zip(axes, panels.items(), strict=True):
        x = list(range(len(bars)))
        ax.bar(x, list(bars.values()), color="#55a868")
        ax.set_xticks(x, [_plain(v) for v in bars], rotation=30 if len(bars) > 4 else 0)
        ax.set_title(_plain(field))
        ax.set_ylabel(_plain(metric))
        ax.grid(axis="y", alpha=0.3)
    return _finish(fig, out)


# --------------------------------------------------------------------------- data map
class TrainingDynamics:
    """Per-example training dynamics read from ``training_dynamics.jsonl``.

    Each line is ``{"id": ..., "gold_prob": [p_epoch1, p_epoch2, ...]}`` with, optionally,
    ``"correct": [bool per epoch]``. Confidence is the mean gold-label probability, variability
    its standard deviation over epochs (population std, as in dataset cartography), correctness
    the fraction of epochs the example was predicted right (``gold_prob > 0.5`` when ``correct``
    is missing).
    """

    def __init__(self, ids: list[str], probs: list[list[float]], correct: list[list[bool]]):
        import numpy as np

        self.ids = ids
        self.confidence: np.ndarray[Any, Any] = np.array([np.mean(p) for p in probs])
        self.variability: np.ndarray[Any, Any] = np.array([np.std(p) for p in probs])
        self.correctness: np.ndarray[Any, Any] = np.array([np.mean(c) for c in correct])


def load_training_dynamics(path: str | os.PathLike[str]) -> TrainingDynamics:
    """Read a ``training_dynamics.jsonl`` file; ConfigError names the first bad line."""
    ids: list[str] = []
    probs: list[list[float]] = []
    correct: list[list[bool]] = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                p = [float(v) for v in row["gold_prob"]]
                if not p:
                    raise ValueError("empty gold_prob")
                c = [bool(v) for v in row["correct"]] if "correct" in row else [v > 0.5 for v in p]
                ids.append(str(row["id"]))
            except (ValueError, KeyError, TypeError) as e:
                raise ConfigError(
                    f"Line {number} of {path} is not a training-dynamics record ({e}); each line "
                    'must be {"id": ..., "gold_prob": [one probability per epoch]}.'
                ) from None
            probs.append(p)
            correct.append(c)
    return TrainingDynamics(ids, probs, correct)


def find_training_dynamics(record: RunRecord, store: Store) -> Path | None:
    """The run's ``training_dynamics.jsonl``: a logged artifact of that name, else the file in
    the run folder (or its ``artifacts/``); None when the run has none."""
    for artifact in store.artifacts(record.id):
        if Path(artifact.path).name == DYNAMICS_FILE and Path(artifact.path).is_file():
            return Path(artifact.path)
    if record.folder:
        for candidate in (
            Path(record.folder) / DYNAMICS_FILE,
            Path(record.folder) / "artifacts" / DYNAMICS_FILE,
        ):
            if candidate.is_file():
                return candidate
    return None


def data_map_regions(
    confidence: Sequence[float] | np.ndarray[Any, Any],
    variability: Sequence[float] | np.ndarray[Any, Any],
) -> dict[str, int]:
    """How many examples fall in each region of the data map (region -> count, in the order
    easy-to-learn, ambiguous, hard-to-learn), by :func:`trialbook.cartography.assign_regions`
    with its default thresholds (:data:`REGION_THRESHOLDS`)."""
    import pandas as pd

    from trialbook.cartography import REGIONS, assign_regions

    frame = pd.DataFrame({"confidence": confidence, "variability": variability})
    counts = assign_regions(frame, **REGION_THRESHOLDS).value_counts()
    return {region: int(counts.get(region, 0)) for region in REGIONS}


#: The thresholds the reports' data map draws and counts regions by: assign_regions' defaults.
REGION_THRESHOLDS: Mapping[str, float] = {"variability_threshold": 0.2, "confidence_threshold": 0.5}


def plot_data_map(
    confidence: Sequence[float] | np.ndarray[Any, Any],
    variability: Sequence[float] | np.ndarray[Any, Any],
    correctness: Sequence[float] | np.ndarray[Any, Any] | None = None,
    out: str | os.PathLike[str] | None = None,
    *,
    regions: bool = False,
) -> Figure:
    """The dataset-cartography data map: variability (x) against confidence (y), one point per
    example, coloured by correctness (the fraction of epochs predicted right) when given.

    ``regions`` also draws the region boundaries of :data:`REGION_THRESHOLDS` (ambiguous right
    of the variability line; easy-to-learn above and hard-to-learn below the confidence line)
    with each region's count (:func:`data_map_regions`). Raises ConfigError when the arrays
    differ in length or are empty.
    """
    import numpy as np

    conf = np.asarray(confidence, dtype=float)
    var = np.asarray(variability, dtype=float)
    lengths = {"confidence": len(conf), "variability": len(var)}
    if correctness is not None:
        lengths["correctness"] = len(np.asarray(correctness))
    if len(set(lengths.values())) != 1 or not len(conf):
        sizes = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise ConfigError(
            f"The data map needs arrays of one non-zero length, got {sizes}; pass one value "
            "per example."
        )
    fig = _new_figure(5.5, 4.5)
    ax = fig.add_subplot()
    size = 12 if len(conf) < 5000 else 3
    if correctness is None:
        ax.scatter(var, conf, s=size, alpha=0.6)
    else:
        points = ax.scatter(
            var,
            conf,
            c=np.asarray(correctness, dtype=float),
            cmap="coolwarm_r",
            vmin=0.0,
            vmax=1.0,
            s=size,
            alpha=0.7,
        )
        fig.colorbar(points, ax=ax, label="correctness")
    ax.set_xlabel("variability")
    ax.set_ylabel("confidence")
    ax.set_title("Data map")
    ax.set_xlim(left=0.0)
    ax.set_ylim(0.0, 1.0 if math.isfinite(float(conf.max())) and conf.max() <= 1 else None)
    if regions:
        _draw_regions(ax, data_map_regions(conf, var), float(np.nanmax(var)))
    ax.grid(alpha=0.3)
    return _finish(fig, out)


def _draw_regions(ax: Any, counts: Mapping[str, int], widest: float) -> None:
    v_line = REGION_THRESHOLDS["variability_threshold"]
    c_line = REGION_THRESHOLDS["confidence_threshold"]
    # The ambiguous side stays in view even when no example reaches it (a model that
    # converged in one epoch): an empty region is drawn and counted as 0.
    right = max(widest, v_line) * 1.1 or 1.0
    ax.set_xlim(0.0, right)
    ax.axvline(v_line, color="0.3", linestyle="--", linewidth=1)
    ax.plot([0.0, v_line], [c_line, c_line], color="0.3", linestyle="--", linewidth=1)
    style = {"fontsize": "small", "bbox": {"facecolor": "white", "alpha": 0.8, "linewidth": 0}}
    ax.text(0.01 * right, 0.97, f"easy-to-learn: {counts['easy-to-learn']}", va="top", **style)
    ax.text(0.01 * right, 0.03, f"hard-to-learn: {counts['hard-to-learn']}", va="bottom", **style)
    ax.text(v_line + 0.01 * right, 0.5, f"ambiguous: {counts['ambiguous']}", va="center", **style)
