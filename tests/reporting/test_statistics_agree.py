"""One definition each, and every place that shows it agrees: the Student-t interval (seed groups,
``t_interval``, ``group_interval``, the leaderboard, the curves' ci band, ``ls --by group``),
"mean ± std" (``ls --by group``, the HTML report, the Markdown table, ``summary_table``) and
"the latest evaluation of a run on a benchmark" (compare, significance, the leaderboard, the
reports, the Store)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from scipy import stats

import trialbook
from trialbook.analysis import (
    compare,
    group_interval,
    leaderboard,
    load_runs,
    seed_groups,
    t_half_width,
    t_interval,
)
from trialbook.reporting import (
    fmt_mean_std,
    metrics_table,
    plot_curves,
    render_report,
    summary_table,
)
from trialbook.store import Evaluation, latest_by_benchmark

#: Final loss and accuracy of the three seeds of each group.
LOSS = {"a": [0.31, 0.52, 0.44], "b": [0.21, 0.27, 0.25]}
ACC = {"a": [0.7, 0.8, 0.75], "b": [0.8, 0.9, 0.86]}


def _samples(acc: float, n: int = 20) -> list[dict[str, Any]]:
    right = round(acc * n)
    return [{"id": f"s{i}", "correct": i < right} for i in range(n)]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("agree") / "experiments"
    common: dict[str, Any] = {"root": root, "system_metrics": False, "capture_packages": False}
    for name, lr in (("a", 0.1), ("b", 0.2)):
        for i, seed in enumerate((1, 2, 3)):
            with trialbook.start_run("exp", {"lr": lr}, seed=seed, name=name, **common) as run:
                run.log({"loss": 1.0}, step=0)
                run.log({"loss": LOSS[name][i]}, step=1)
                run.log_evaluation(
                    "bench", {"metrics": {"accuracy": ACC[name][i]}, "samples": _samples(0.5)}
                )
    return root


def _expected(values: list[float], level: float = 0.95) -> tuple[float, float]:
    mean = float(np.mean(values))
    return stats.t.interval(level, len(values) - 1, loc=mean, scale=stats.sem(values))


def _cli(root: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "trialbook", *args, "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# --------------------------------------------------------------------------- t interval
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_every_t_interval_of_a_seed_group_is_the_same(root: Path, level: float) -> None:
    expected = _expected(LOSS["a"], level)
    assert t_interval(LOSS["a"], level) == pytest.approx(expected, rel=1e-12)
    df = load_runs(root)
    groups = seed_groups(df, ["loss"], level=level)
    row = groups[groups["name"] == "a"].iloc[0]
    got = (row["metrics.loss.ci_low"], row["metrics.loss.ci_high"])
    assert got == pytest.approx(expected, rel=1e-12)
    key = str(row["group"])
    assert group_interval(df, key, "loss", level=level) == pytest.approx(expected, rel=1e-12)
    board = leaderboard(metric="loss", by="group", level=level, root=root)
    line = board[board["entry"] == "a"].iloc[0]
    assert (line["ci_low"], line["ci_high"]) == pytest.approx(expected, rel=1e-12)


def test_the_curves_ci_band_is_the_groups_t_interval(root: Path) -> None:
    with trialbook.open_store(root) as db:
        runs = [r for r in db.list_runs() if r.name == "a"]
        fig = plot_curves({"a": runs}, "loss", store=db, band="ci")
    (band,) = [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    vertices = band.get_paths()[0].vertices
    at_last = vertices[vertices[:, 0] == 1][:, 1]
    assert (min(at_last), max(at_last)) == pytest.approx(_expected(LOSS["a"]), rel=1e-12)


def test_ls_by_group_prints_the_same_interval(root: Path) -> None:
    low, high = _expected(LOSS["a"])
    out = _cli(root, "ls", "--by", "group", "--sort", "loss")
    line = next(x for x in out.splitlines() if re.search(r"\sa\s", x))
    fmt = trialbook.reporting.fmt_number
    assert f"[{fmt(low)}, {fmt(high)}]" in line


def test_a_half_width_is_nan_for_one_value_and_zero_for_no_spread() -> None:
    got = t_half_width(np.array([0.1, 0.0, 0.2]), np.array([1, 3, 3]), 0.95)
    assert math.isnan(got[0]) and got[1] == 0.0
    assert got[2] == pytest.approx(stats.t.ppf(0.975, 2) * 0.2 / math.sqrt(3))
    assert t_interval([2.0, 2.0, 2.0]) == (2.0, 2.0)


# --------------------------------------------------------------------------- mean ± std
def test_fmt_mean_std_is_one_rule() -> None:
    assert fmt_mean_std(0.4, 0.1) == "0.4 ± 0.1"
    assert fmt_mean_std(0.6, 0.05, digits=3) == "0.600 ± 0.050"
    assert fmt_mean_std(0.5, math.nan) == "0.5"  # one run: no spread to show
    assert fmt_mean_std(0.5, None, digits=3) == "0.500"
    assert fmt_mean_std(math.nan, 0.1) == "-"
    assert fmt_mean_std(None, None, missing="") == ""
    assert fmt_mean_std(0.7, 1e-17) == "0.7 ± 0"  # identical seeds: rounding, not a spread


def test_every_table_writes_mean_and_std_alike(root: Path) -> None:
    mean, std = float(np.mean(LOSS["a"])), float(np.std(LOSS["a"], ddof=1))
    screen, paper = fmt_mean_std(mean, std), fmt_mean_std(mean, std, digits=3)
    assert screen == "0.4233 ± 0.106" and paper == "0.423 ± 0.106"
    ls = _cli(root, "ls", "--by", "group", "--sort", "loss")
    assert screen in ls
    with trialbook.open_store(root) as db:
        html = render_report(["a", "b"], db, images=False)
        table = metrics_table(["a", "b"], "md", store=db)
    assert f'<td class="num">{screen}</td>' in html
    assert f"| a | 3 | 0.750 ± 0.050 | {paper} |" in table
    groups = seed_groups(load_runs(root), ["loss"])
    assert paper in summary_table(groups)["metrics.loss"].to_list()


# --------------------------------------------------------------------------- latest evaluation
def _ev(id_: int, created: float, value: float, bench: str = "x") -> Evaluation:
    return Evaluation(id_, "r", bench, None, {"accuracy": value}, None, None, created)


def test_the_latest_evaluation_is_the_one_created_last_whatever_the_order() -> None:
    older, newer, other = _ev(1, 10.0, 0.1), _ev(2, 20.0, 0.2), _ev(3, 5.0, 0.3, "y")
    for order in ([older, newer, other], [newer, other, older]):
        assert latest_by_benchmark(order) == {"x": newer, "y": other}
    # Created in the same instant: the later recorded (larger id) is the latest.
    tie_a, tie_b = _ev(4, 30.0, 0.4), _ev(5, 30.0, 0.5)
    assert latest_by_benchmark([tie_b, tie_a])["x"] is tie_b
    assert latest_by_benchmark([tie_a, tie_b])["x"] is tie_b


def test_a_re_evaluated_run_counts_with_its_latest_result_everywhere(tmp_path: Path) -> None:
    root = tmp_path / "experiments"
    common: dict[str, Any] = {"root": root, "system_metrics": False, "capture_packages": False}
    ids = {}
    for name, first, last in (("old", 0.5, 0.9), ("new", 0.6, 0.6)):
        with trialbook.start_run("e", {"name": name}, name=name, **common) as run:
            for acc in (first, last):
                result = {"metrics": {"accuracy": acc}, "samples": _samples(acc)}
                run.log_evaluation("bench", result)
            ids[name] = run.id
    with trialbook.open_store(root) as db:
        assert db.latest_evaluations("bench")[ids["old"]].metrics["accuracy"] == 0.9
        samples = db.evaluation_samples(ids["old"], "bench")
        assert sum(bool(s.correct) for s in samples) == 18
        (row,) = compare(["old", "new"], store=db).tables["bench"]
        assert row.values == (0.9, 0.6)
        board = leaderboard(benchmark="bench", store=db)
        assert list(board["entry"]) == ["old", "new"] and board["value"].iloc[0] == 0.9
        assert "| old | 1 | 0.900 |" in metrics_table(["old", "new"], "md", store=db)
        html = render_report(["old"], db, images=False)
    df = load_runs(root)
    assert df.set_index("name").loc["old", "eval.bench.accuracy"] == 0.9
    assert "0.9" in html
    shown = json.loads(_cli(root, "compare", "old", "new", "--json"))
    assert shown["tables"]["bench"][0]["values"] == [0.9, 0.6]
