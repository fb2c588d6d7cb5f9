"""Issue 10 item 6: a report draws the metrics that have curves, most telling first, and says
what it did not draw. Asserted from plot_curve_panels' return value (which panels, how many
points), and from the report's text, never from pixels."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import trialbook
from trialbook.reporting import curve_order, min_curve_points, plot_curve_panels, render_report

COMMON = {"system_metrics": False, "capture_packages": False}


@dataclass(frozen=True)
class Shared:
    root: Path
    demo: dict[str, list[str]]  # group name -> run ids (the demo's 2 groups x 3 seeds)
    arith: dict[str, list[str]]  # the arithmetic-like groups: 31 metrics, 15 of them curves


def _demo_like(root: Path, name: str, seed: int, better: bool) -> str:
    """What examples/demo logs: train/loss per batch, val/* per epoch, one test_accuracy and
    the system sampler's two points."""
    with trialbook.start_run(
        name, {"bigrams": better}, seed=seed, name=name, root=root, **COMMON
    ) as run:
        for step in range(40):
            run.log({"train/loss": 1.0 / (step + 1) + 0.01 * seed}, step=step)
        for epoch in range(3):
            acc = 0.6 + 0.05 * epoch + (0.1 if better else 0.0)
            run.log({"val/accuracy": acc, "val/loss": 1 - acc}, step=(epoch + 1) * 10)
        run.log({"test_accuracy": 0.7 + (0.1 if better else 0.0)}, step=40)
        run.log({"system/cpu_percent": 50.0 + seed, "system/rss_mb": 60.0}, step=0)
        run.log({"system/cpu_percent": 70.0, "system/rss_mb": 61.0}, step=1)
        return run.id


def _arith_like(root: Path, name: str, seed: int) -> str:
    """What examples/arithmetic logs, and more: 16 final values (split/metric, one step each)
    that sort before train/loss, and 14 other per-epoch curves, 15 curves in all."""
    with trialbook.start_run(
        name, {"model": name}, seed=seed, name=name, root=root, **COMMON
    ) as run:
        for step in range(8):
            run.log({"train/loss": 2.0 / (step + 1) + seed / 10}, step=step)
        for epoch in range(3):
            run.log({f"train/m{i:02d}": i + epoch + seed for i in range(7)}, step=epoch)
            run.log({f"val/m{i:02d}": i - epoch for i in range(7)}, step=epoch)
        for split in ("test_id", "test_ood_length", "test_ood_magnitude", "test_x"):
            for metric in ("exact_match", "relative_error", "median_relative_error", "n"):
                run.log({f"{split}/{metric}": 0.5 + seed}, step=9)
        return run.id


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Shared:
    root = tmp_path_factory.mktemp("curves") / "ws"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE", "TRIALBOOK_SYSTEM_METRICS"):
            mp.delenv(name, raising=False)
        demo = {
            name: [_demo_like(root, name, seed, better) for seed in (1, 2, 3)]
            for name, better in (("bow", False), ("bigrams", True))
        }
        arith = {
            name: [_arith_like(root, name, seed) for seed in (1, 2)]
            for name in ("token_only", "hybrid")
        }
    return Shared(root, demo, arith)


def _captions(html: str) -> list[str]:
    return re.findall(r'<figure><img alt="([^"]+)"', html.split('id="curves"')[1])


def test_the_demo_report_draws_the_curves_and_tables_the_single_values(shared: Shared) -> None:
    with trialbook.open_store(shared.root) as db:
        drawn = plot_curve_panels(shared.demo, store=db, primary="accuracy")
        html = render_report(["bow", "bigrams"], db)
    # The training loss, then the compared metric, then the other held-out curve.
    assert drawn.metrics == ["train/loss", "val/accuracy", "val/loss"]
    assert [dict(p.points) for p in drawn.panels] == [
        {"bow": 40, "bigrams": 40},
        {"bow": 3, "bigrams": 3},
        {"bow": 3, "bigrams": 3},
    ]
    assert all(
        line.get_xydata().shape[0] >= 2 for p in drawn.panels for line in p.figure.axes[0].lines
    )
    # One value per run, or two system samples: not curves, and said so.
    assert drawn.single_value == ["system/cpu_percent", "system/rss_mb", "test_accuracy"]
    assert drawn.left_out == []
    assert _captions(html) == drawn.metrics
    assert (
        "One value per run, in the metrics table rather than drawn: system/cpu_percent, "
        "system/rss_mb, test_accuracy." in html
    )
    # ... and the metrics table has them.
    metrics = html.split('id="metrics"')[1].split("</section>")[0]
    assert "metrics.test_accuracy" in metrics and "metrics.system/rss_mb" in metrics


def test_the_arithmetic_report_draws_train_loss_first_and_names_what_it_left_out(
    shared: Shared,
) -> None:
    with trialbook.open_store(shared.root) as db:
        drawn = plot_curve_panels(shared.arith, store=db, max_panels=12)
        everything = plot_curve_panels(shared.arith, store=db, max_panels=None)
        html = render_report(["token_only", "hybrid"], db)
        full = render_report(["token_only", "hybrid"], db, max_curves=None)
    assert drawn.metrics[0] == "train/loss"
    assert drawn.metrics[1:8] == [f"train/m{i:02d}" for i in range(7)]
    assert len(drawn.panels) == 12
    assert all(min(p.points.values()) >= 2 for p in drawn.panels)  # no empty panel
    assert drawn.left_out == ["val/m04", "val/m05", "val/m06"]
    assert len(drawn.single_value) == 16 and "test_id/exact_match" in drawn.single_value
    assert everything.metrics == drawn.metrics + drawn.left_out and not everything.left_out
    # The report draws the same panels in the same order and says what is missing and how.
    assert _captions(html) == drawn.metrics
    assert (
        "12 of 15 curves drawn; 3 more not drawn: val/m04, val/m05, val/m06. Draw them with "
        "<code>--max-curves 15</code> (<code>max_curves=15</code> in Python)." in html
    )
    assert _captions(full) == everything.metrics and "more not drawn" not in full


def test_a_report_of_single_values_only_says_there_are_no_curves(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    for name in ("lead3", "textrank"):
        with trialbook.start_run(name, {"k": name}, root=root, **COMMON) as run:
            run.log({"rouge1": 0.3, "rougeL": 0.2})
    with trialbook.open_store(root) as db:
        drawn = plot_curve_panels(["lead3", "textrank"], store=db)
        html = render_report(["lead3", "textrank"], db)
    assert drawn.panels == [] and drawn.single_value == ["rouge1", "rougeL"]
    assert "<img" not in html.split('id="curves"')[1]
    assert "No curves: every metric has too few steps to draw." in html


def test_curve_order_and_point_thresholds() -> None:
    names = [
        "system/cpu_percent",
        "epoch",
        "val/loss",
        "test_id/exact_match",
        "train/grad_norm",
        "val/accuracy",
        "lr",
        "train/loss",
    ]
    assert sorted(names, key=lambda m: curve_order(m, "accuracy")) == [
        "train/loss",
        "val/accuracy",
        "lr",
        "train/grad_norm",
        "test_id/exact_match",
        "val/loss",
        "epoch",
        "system/cpu_percent",
    ]
    assert curve_order("loss") < curve_order("val/loss")
    assert (min_curve_points("val/loss"), min_curve_points("system/rss_mb")) == (2, 3)


def test_max_curves_is_checked_before_anything_is_written(shared: Shared, tmp_path: Path) -> None:
    out = tmp_path / "r.html"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "trialbook", *args, "--root", str(shared.root)],
            capture_output=True,
            text=True,
            check=False,
        )

    bad = cli("report", "bow", "bigrams", "--out", str(out), "--max-curves", "-1")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "--max-curves -1 is negative; pass 0 or more" in bad.stderr
    md = cli("report", "bow", "bigrams", "--format", "md", "--max-curves", "3")
    assert md.returncode == 2 and "drop --max-curves" in md.stderr
    assert not out.exists()
    done = cli("report", "bow", "bigrams", "--out", str(out), "--max-curves", "1")
    assert done.returncode == 0, done.stderr
    html = out.read_text(encoding="utf-8")
    assert _captions(html) == ["train/loss"]
    assert "1 of 3 curves drawn; 2 more not drawn: val/accuracy, val/loss." in html


def test_a_report_of_evaluations_only_says_why_there_are_no_curves(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    for name, accuracy in (("calculator", 0.75), ("oracle", 0.99)):
        with trialbook.start_run(name, {"model": name}, root=root, **COMMON) as run:
            run.log_evaluation("quiz", {"accuracy": accuracy})
    with trialbook.open_store(root) as db:
        drawn = plot_curve_panels(["calculator", "oracle"], store=db)
        html = render_report(["calculator", "oracle"], db)
    assert drawn.panels == [] and drawn.single_value == [] and drawn.left_out == []
    curves = html.split('id="curves"')[1].split("</section>")[0]
    assert "<img" not in curves
    assert "No curves: no metric was logged over steps (only evaluations" in curves
