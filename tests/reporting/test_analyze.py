"""Issue 10 item 8: ``trialbook analyze`` in a shared workspace -- scoped by experiment,
benchmark and metric, tables that fit the terminal, and a figure of what was asked (asserted
from AnalysisResult.panels, the groups each panel drew)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import trialbook
from trialbook.reporting import analyze

COMMON = {"system_metrics": False, "capture_packages": False}
CLINC = [f"carto_strategy_{i:02d}" for i in range(10)]  # ten experiments, as seed 001's suite
ARITH = ("eval.arithmetic/test_id.exact_match", "eval.arithmetic/test_id.relative_error")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three examples in one workspace: reviews (bow, bigrams x 3 seeds), arithmetic
    (token_only, hybrid x 2 seeds, two metrics), clinc150 (ten experiments of one run), and a
    data step with no evaluation."""
    ws = tmp_path_factory.mktemp("analyze") / "ws"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE", "TRIALBOOK_SYSTEM_METRICS"):
            mp.delenv(name, raising=False)

        def run(name: str, seed: int, benchmark: str | None, metrics: dict[str, float]) -> None:
            with trialbook.start_run(
                name, {"m": name}, seed=seed, name=name, root=ws, **COMMON
            ) as r:
                r.log({"train/loss": 1.0 / seed}, step=0)
                if benchmark:
                    r.log_evaluation(benchmark, {"metrics": metrics})

        for seed in (1, 2, 3):
            run("bow", seed, "reviews", {"accuracy": 0.70 + seed / 100})
            run("bigrams", seed, "reviews", {"accuracy": 0.78 + seed / 100})
        for seed in (1, 2):
            for name, em in (("token_only", 0.0), ("hybrid", 0.2)):
                metrics = {"exact_match": em + seed / 100, "relative_error": 10.0 - 10 * em}
                run(name, seed, "arithmetic/test_id", metrics)
        for i, name in enumerate(CLINC):
            run(name, 42, "clinc150", {"accuracy": 0.8 + i / 100, "in_scope_accuracy": 0.9})
        run("data", 1, None, {})
    return ws


def test_experiments_scope_the_runs_metrics_and_figure(root: Path, tmp_path: Path) -> None:
    result = analyze(root, experiments=["bow", "bigrams"], out_dir=tmp_path)
    assert set(result.runs["experiment"]) == {"bow", "bigrams"}
    # The default metrics come from these runs: no arithmetic or CLINC metric, no empty bar.
    assert result.metrics == ["eval.reviews.accuracy"]
    assert result.panels == {"eval.reviews.accuracy": ["bow", "bigrams"]}
    assert not [c for c in result.runs.columns if "arithmetic" in c or "clinc" in c]
    assert result.left_out == []


def test_benchmark_scopes_runs_and_metrics(root: Path, tmp_path: Path) -> None:
    result = analyze(root, benchmarks=["arithmetic/test_id"], out_dir=tmp_path)
    assert set(result.runs["experiment"]) == {"token_only", "hybrid"}
    assert result.metrics == list(ARITH)
    assert result.panels == {m: ["token_only", "hybrid"] for m in ARITH}
    # A metric named with --benchmark is looked up in that benchmark first.
    named = analyze(root, benchmarks=["clinc150"], metrics=["accuracy"], out_dir=tmp_path)
    assert named.metrics == ["eval.clinc150.accuracy"]
    assert named.panels["eval.clinc150.accuracy"] == CLINC


def test_the_whole_workspace_draws_only_groups_with_a_value(root: Path, tmp_path: Path) -> None:
    result = analyze(root, out_dir=tmp_path)
    # Each benchmark's headline metric first (the most-run first), then the others, then the
    # logged metrics of the runs never evaluated (the data step): nothing is dropped unsaid.
    assert result.metrics == [
        "eval.clinc150.accuracy",
        "eval.reviews.accuracy",
        "eval.arithmetic/test_id.exact_match",
        "eval.clinc150.in_scope_accuracy",
        "eval.arithmetic/test_id.relative_error",
        "metrics.train/loss",
    ]
    assert result.panels == {
        "eval.clinc150.accuracy": CLINC,
        "eval.reviews.accuracy": ["bow", "bigrams"],
        "eval.arithmetic/test_id.exact_match": ["token_only", "hybrid"],
        "eval.clinc150.in_scope_accuracy": CLINC,
        "eval.arithmetic/test_id.relative_error": ["token_only", "hybrid"],
        # every group logged it, the data step among them
        "metrics.train/loss": ["bow", "bigrams", "token_only", "hybrid", *CLINC, "data"],
    }
    # Ten groups in a panel: horizontal bars, one per group; the figure stays a sensible size.
    width, height = _png_size(tmp_path / "experiment_results.png")
    assert width <= 16 * 110 and height <= 3 * 14 * 110
    assert result.left_out == []


def test_default_panels_are_capped_and_the_rest_named(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trialbook.reporting import _analyze

    monkeypatch.setattr(_analyze, "MAX_PANELS", 2)
    result = analyze(root, out_dir=tmp_path)
    assert list(result.panels) == result.metrics[:2]
    assert result.left_out == result.metrics[2:]
    # Named metrics are all drawn, whatever the cap.
    named = analyze(root, metrics=[*ARITH, "reviews.accuracy"], out_dir=tmp_path)
    assert list(named.panels) == [*ARITH, "eval.reviews.accuracy"] and not named.left_out


def test_scoping_mistakes_are_sentences_and_write_nothing(root: Path, tmp_path: Path) -> None:
    with pytest.raises(trialbook.ConfigError, match="'reviws'; did you mean 'reviews'"):
        analyze(root, benchmarks=["reviws"], out_dir=tmp_path)
    with pytest.raises(
        trialbook.ConfigError,
        match=r"None of the runs to analyze was evaluated on 'clinc150'; they were evaluated on "
        r"reviews\.",
    ):
        analyze(root, experiments=["bow"], benchmarks=["clinc150"], out_dir=tmp_path)
    # A metric only other experiments logged is not one of these runs' metrics.
    with pytest.raises(trialbook.ConfigError, match="Unknown metric 'relative_error'"):
        analyze(root, experiments=["bow"], metrics=["relative_error"], out_dir=tmp_path)
    with pytest.raises(trialbook.ConfigError, match="none of them was evaluated"):
        analyze(root, experiments=["data"], benchmarks=["reviews"], out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_terminal_output_fits_80_columns(root: Path, tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "80"}
    args = [sys.executable, "-m", "trialbook", "analyze", "--root", str(root), "--out-dir", "out"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    # One table per metric, rows only for the groups that have it.
    block = done.stdout.split("Seed groups on eval.reviews.accuracy")[1].split("Seed groups")[0]
    assert [line.split()[0] for line in block.strip().splitlines()[2:]] == ["bow", "bigrams"]
    assert "wrote out/experiment_results.png" in done.stdout
    scoped = subprocess.run(
        [*args, "-b", "clinc150", "-e", "bow"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert scoped.returncode == 2 and scoped.stdout == ""
    assert scoped.stderr.strip().splitlines() == [
        "error: None of the runs to analyze was evaluated on 'clinc150'; they were evaluated on "
        "reviews."
    ]


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return int(width), int(height)


def test_groups_of_one_name_are_told_apart_by_their_key() -> None:
    import pandas as pd

    from trialbook.reporting._plots import metric_bar_labels

    groups = pd.DataFrame(
        {
            "group": ["aaaaaa111", "bbbbbb222", "cccccc333"],
            "experiment": ["baseline", "baseline", "other"],
            "name": ["baseline", "baseline", "other"],
            "metrics.acc.mean": [0.8, 0.9, 0.7],
        }
    )
    labels = metric_bar_labels(groups, "acc")
    assert labels == ["baseline (aaaaaa)", "baseline (bbbbbb)", "other"]
