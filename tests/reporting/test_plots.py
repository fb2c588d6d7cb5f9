"""Plots: the expected lines, bands and bars, PNG and SVG files, and sentences for bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from report_helpers import Workspace

import trialbook
from trialbook.analysis import load_runs
from trialbook.evaluation import Timing
from trialbook.reporting import (
    find_training_dynamics,
    load_training_dynamics,
    plot_curves,
    plot_data_map,
    plot_metric_bars,
    plot_slices,
    save_figure,
    slices_from_samples,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _bands(ax: object) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]  # type: ignore[attr-defined]


def test_curves_by_group_draw_one_mean_line_and_band_per_group(
    ws: Workspace, db: trialbook.Store, tmp_path: Path
) -> None:
    fig = plot_curves(ws.base + ws.treat, "loss", store=db, out=tmp_path / "loss")
    ax = fig.axes[0]
    assert len(ax.lines) == 2
    assert len(_bands(ax)) == 2
    labels = sorted(t.get_text() for t in ax.get_legend().get_texts())
    # A group named like its experiment is labelled once (not "base/base").
    assert labels == ["base (n=3)", "treat (n=3)"]
    # The line is the mean over the three seeds at each step.
    base = next(line for line in ax.lines if line.get_label().startswith("base"))
    expected = [np.mean([1 / (s + 1) + 0.01 * seed + 0.1 for seed in (1, 2, 3)]) for s in range(5)]
    assert np.allclose(base.get_ydata(), expected)
    assert (tmp_path / "loss.png").read_bytes().startswith(PNG_MAGIC)
    assert (tmp_path / "loss.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_curves_per_run_and_from_a_load_runs_frame(ws: Workspace, db: trialbook.Store) -> None:
    fig = plot_curves(ws.base, "acc", by_group=False, store=db)
    assert len(fig.axes[0].lines) == 3
    assert not _bands(fig.axes[0])
    frame = load_runs(store=db, experiment="treat")
    fig = plot_curves(frame, "acc", store=db)
    assert len(fig.axes[0].lines) == 1 and len(_bands(fig.axes[0])) == 1


def test_curves_of_a_single_run_have_no_band(ws: Workspace, db: trialbook.Store) -> None:
    fig = plot_curves({"one": [ws.base[0]]}, "loss", store=db, band="sem")
    assert len(fig.axes[0].lines) == 1 and not _bands(fig.axes[0])


def test_curves_of_an_unknown_metric_suggest_the_logged_one(
    ws: Workspace, db: trialbook.Store
) -> None:
    with pytest.raises(trialbook.ConfigError, match="logged the metric 'los'; did you mean 'loss'"):
        plot_curves(ws.base, "los", store=db)
    with pytest.raises(trialbook.ConfigError, match="Unknown band 'iqr'; use 'std', 'sem' or 'ci'"):
        plot_curves(ws.base, "loss", store=db, band="iqr")


def _groups() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "group": ["g1", "g2", "g3"],
            "experiment": ["base", "treat", "solo"],
            "name": ["a", "b", "c"],
            "n": [3, 3, 1],
            "eval.quiz.accuracy.mean": [0.6, 0.8, 0.7],
            "eval.quiz.accuracy.std": [0.05, 0.02, math.nan],
            "eval.quiz.accuracy.ci_low": [0.5, 0.75, math.nan],
            "eval.quiz.accuracy.ci_high": [0.7, 0.85, math.nan],
        }
    )


def test_metric_bars_have_one_bar_per_group_and_intervals(tmp_path: Path) -> None:
    fig = plot_metric_bars(_groups(), "accuracy", out=tmp_path / "bars.png")
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([0.6, 0.8, 0.7])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["base/a", "treat/b", "solo/c"]
    assert len({p.get_facecolor() for p in ax.patches}) == 3  # a colour per experiment
    # The error bar segments: from ci_low to ci_high; the group of one run has none (NaN).
    (segments,) = [c for c in ax.collections if c.__class__.__name__ == "LineCollection"]
    spans = [tuple(np.round(s[:, 1], 6)) if len(s) else () for s in segments.get_segments()]
    assert spans == [(0.5, 0.7), (0.75, 0.85), ()]
    assert (tmp_path / "bars.png").read_bytes().startswith(PNG_MAGIC)
    assert (tmp_path / "bars.svg").exists()


def test_metric_bars_refuse_unknown_and_ambiguous_metrics() -> None:
    groups = _groups()
    with pytest.raises(trialbook.ConfigError, match=r"did you mean 'eval\.quiz\.accuracy'"):
        plot_metric_bars(groups, "eval.quiz.acuracy")
    groups["eval.other.accuracy.mean"] = 0.1
    with pytest.raises(trialbook.ConfigError, match=r"name one of: eval\.other\.accuracy"):
        plot_metric_bars(groups, "accuracy")


def test_slices_from_samples_and_their_bars(ws: Workspace, db: trialbook.Store) -> None:
    (ev,) = db.evaluations(ws.base[0])
    slices = slices_from_samples(db.samples(ev.id))
    assert set(slices) == {"difficulty"}
    assert slices["difficulty"]["easy"]["n"] == 10
    assert slices["difficulty"]["hard"]["accuracy"] == pytest.approx(
        sum((i + 1) % 3 != 0 for i in range(1, 20, 2)) / 10
    )
    fig = plot_slices(slices, "accuracy")
    assert len(fig.axes[0].patches) == 2
    with pytest.raises(trialbook.ConfigError, match="No slice has the metric 'f1'"):
        plot_slices(slices, "f1")
    with pytest.raises(trialbook.ConfigError, match="no slices to plot"):
        plot_slices({}, "accuracy")


def test_slices_from_an_evaluation_result_one_panel_per_field() -> None:
    result = trialbook.EvaluationResult(
        benchmark="b",
        split=None,
        metrics={"accuracy": 0.5},
        samples=(),
        timing=Timing(0.0, 0.0, 0.0, 0.0),
        slices={
            "level": {"1": {"accuracy": 0.9}, "2": {"accuracy": 0.4}, "3": {"accuracy": 0.1}},
            "topic": {"math": {"accuracy": 0.5}, "code": {"accuracy": 0.6}},
        },
    )
    fig = plot_slices(result, "accuracy")
    assert [len(ax.patches) for ax in fig.axes] == [3, 2]
    assert [ax.get_title() for ax in fig.axes] == ["level", "topic"]


def test_data_map_from_arrays(tmp_path: Path) -> None:
    fig = plot_data_map([0.9, 0.5, 0.1], [0.05, 0.3, 0.1], [1.0, 0.5, 0.0], out=tmp_path / "map")
    ax = fig.axes[0]
    (points,) = ax.collections
    assert np.allclose(points.get_offsets(), [[0.05, 0.9], [0.3, 0.5], [0.1, 0.1]])
    assert np.allclose(points.get_array(), [1.0, 0.5, 0.0])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("variability", "confidence")
    assert len(fig.axes) == 2  # the colour bar
    assert (tmp_path / "map.png").exists() and (tmp_path / "map.svg").exists()
    with pytest.raises(trialbook.ConfigError, match="confidence=2, variability=1"):
        plot_data_map([0.1, 0.2], [0.1])


def test_training_dynamics_found_in_the_run_folder_and_read(
    ws: Workspace, db: trialbook.Store, tmp_path: Path
) -> None:
    path = find_training_dynamics(db.get_run(ws.base[0]), db)
    assert path is not None and path.name == "training_dynamics.jsonl"
    assert find_training_dynamics(db.get_run(ws.base[1]), db) is None
    dyn = load_training_dynamics(path)
    assert len(dyn.ids) == 30
    assert dyn.confidence[3] == pytest.approx((0.3 + 0.5) / 2)
    assert dyn.variability[3] == pytest.approx(0.1)
    assert dyn.correctness[3] == pytest.approx(0.0)  # 0.3 and 0.5 are not above 0.5
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": 1, "gold_prob": [0.5]}) + "\n{}\n", encoding="utf-8")
    with pytest.raises(trialbook.ConfigError, match=r"Line 2 of .*bad\.jsonl"):
        load_training_dynamics(bad)


def test_save_figure_replaces_the_suffix_and_leaves_no_temp_files(tmp_path: Path) -> None:
    fig = plot_data_map([0.5], [0.1])
    png, svg = save_figure(fig, tmp_path / "sub" / "figure.pdf")
    assert (png.name, svg.name) == ("figure.png", "figure.svg")
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["figure.png", "figure.svg"]


def test_user_strings_with_dollars_are_drawn_literally(
    ws: Workspace, db: trialbook.Store, tmp_path: Path
) -> None:
    # matplotlib reads $...$ as math: "a$b^{$" would be a parse error when the figure is saved.
    odd = "a$b^{$"
    fig = plot_curves({odd: ws.base}, "loss", store=db)
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == r"a\$b^{\$ (n=3)"
    groups = _groups()
    groups["name"] = [odd, "b", "c"]
    fig2 = plot_metric_bars(groups, "accuracy")
    fig3 = plot_slices({odd: {odd: {"accuracy": 0.5}}}, "accuracy")
    for i, f in enumerate((fig, fig2, fig3)):
        save_figure(f, tmp_path / f"odd{i}")
    assert len(list(tmp_path.iterdir())) == 6


def test_curve_band_is_the_t_interval_with_band_ci(ws: Workspace, db: trialbook.Store) -> None:
    from scipy import stats

    fig = plot_curves({"base": ws.base}, "loss", store=db, band="ci")
    (band,) = _bands(fig.axes[0])
    vertices = band.get_paths()[0].vertices
    at_step_0 = vertices[vertices[:, 0] == 0][:, 1]
    values = [1.0 + 0.01 * seed + 0.1 for seed in (1, 2, 3)]  # step 0 of the three seeds
    low, high = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert (min(at_step_0), max(at_step_0)) == pytest.approx((low, high))
