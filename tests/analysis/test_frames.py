"""load_runs and the seed 001 helpers against a small workspace built through start_run."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import trialbook
from trialbook.analysis import (
    compare_experiments,
    load_experiment_results,
    load_runs,
    print_results_summary,
    resolve_metric,
)
from trialbook.analysis._frames import BASE_COLUMNS
from trialbook.errors import ConfigError


@dataclass(frozen=True)
class Ws:
    root: Path
    ids: dict[str, str]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ws]:
    root = tmp_path_factory.mktemp("frames") / "experiments"
    ids: dict[str, str] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRIALBOOK_SYSTEM_METRICS", "0")
        common = {"root": root, "capture_packages": False}
        for seed, (loss, acc) in enumerate([(0.5, 0.8), (0.3, 0.9)], start=1):
            config = {"lr": 0.01, "model": {"layers": 2}}
            with trialbook.start_run(
                "baseline", config, seed=seed, name="base", tags=["sweep"], **common
            ) as run:
                run.log({"loss": 1.0, "acc": 0.1}, step=0)
                run.log({"loss": loss, "acc": acc}, step=1)
                run.log_evaluation("gsm8k", {"metrics": {"accuracy": 0.1}})
                run.log_evaluation(
                    "gsm8k", {"metrics": {"accuracy": acc - 0.1, "per_type": {"math": acc}}}
                )
                run.log_params({"batch": 32})
                ids[f"base{seed}"] = run.id
        with trialbook.start_run("ablation", {"lr": 0.1}, seed=1, name="abl", **common) as run:
            run.log({"loss": 2.0}, step=0)
            run.log({"loss": 0.2}, step=1)
            run.log({"loss": 0.9}, step=2)
            ids["abl"] = run.id
        try:
            with trialbook.start_run("ablation", {"lr": 1.0}, seed=1, name="bad", **common) as run:
                run.log({"loss": math.nan}, step=0)
                ids["bad"] = run.id
                raise RuntimeError("diverged")
        except RuntimeError:
            pass
    yield Ws(root, ids)


def test_one_row_per_run_oldest_first_with_the_base_columns(ws: Ws) -> None:
    df = load_runs(ws.root)

    assert list(df.columns[: len(BASE_COLUMNS)]) == list(BASE_COLUMNS)
    assert list(df["run_id"]) == [ws.ids[k] for k in ("base1", "base2", "abl", "bad")]
    assert list(df["experiment"]) == ["baseline", "baseline", "ablation", "ablation"]
    assert list(df["status"]) == ["completed", "completed", "completed", "failed"]
    assert list(df["success"]) == [True, True, True, False]
    assert list(df["seed"]) == [1, 2, 1, 1]
    assert df["group"].iloc[0] == df["group"].iloc[1] != df["group"].iloc[2]
    assert df["config_hash"].iloc[0] != df["config_hash"].iloc[1]
    assert str(df["started_at"].dt.tz) == "UTC"
    assert (df["duration"] >= 0).all()


def test_params_metrics_best_and_latest_evaluation_columns(ws: Ws) -> None:
    df = load_runs(ws.root).set_index("run_id")
    base2, abl = df.loc[ws.ids["base2"]], df.loc[ws.ids["abl"]]

    assert base2["params.lr"] == 0.01
    assert base2["params.model.layers"] == 2
    assert base2["params.batch"] == 32
    assert math.isnan(abl["params.batch"])
    # Final value, and the best by the metric's goal (min for loss, max for acc).
    assert (abl["metrics.loss"], abl["best.loss"]) == (0.9, 0.2)
    assert (base2["metrics.acc"], base2["best.acc"]) == (0.9, 0.9)
    assert base2["best.loss"] == 0.3
    # The later of the two gsm8k evaluations wins; nested metrics become dotted columns.
    assert base2["eval.gsm8k.accuracy"] == pytest.approx(0.8)
    assert base2["eval.gsm8k.per_type.math"] == 0.9
    assert math.isnan(df.loc[ws.ids["bad"], "metrics.loss"])
    assert math.isnan(df.loc[ws.ids["bad"], "best.loss"])


def test_filters_narrow_the_runs(ws: Ws) -> None:
    assert list(load_runs(ws.root, experiment="ablation")["name"]) == ["abl", "bad"]
    assert list(load_runs(ws.root, statuses="failed")["name"]) == ["bad"]
    assert list(load_runs(ws.root, statuses=["completed"], tags=["sweep"])["name"]) == [
        "base",
        "base",
    ]
    query = trialbook.RunQuery(order_by="name", descending=False, limit=2)
    assert list(load_runs(ws.root, query=query)["name"]) == ["abl", "bad"]


def test_an_open_store_is_used_and_left_open(ws: Ws) -> None:
    with trialbook.open_store(ws.root) as db:
        df = load_runs(store=db, experiment="baseline")
        assert len(df) == 2
        assert len(db.list_runs()) == 4


def test_an_empty_workspace_gives_an_empty_frame_with_the_base_columns(tmp_path: Path) -> None:
    trialbook.open_store(tmp_path / "empty", create=True).close()

    df = load_runs(tmp_path / "empty")

    assert df.empty
    assert list(df.columns) == list(BASE_COLUMNS)


def test_load_experiment_results_is_load_runs_of_the_folder(ws: Ws) -> None:
    pd.testing.assert_frame_equal(load_experiment_results(ws.root), load_runs(ws.root))


def test_resolve_metric_finds_short_names_and_refuses_unknown_or_ambiguous(ws: Ws) -> None:
    df = load_runs(ws.root)

    assert resolve_metric(df, "loss") == "metrics.loss"
    assert resolve_metric(df, "best.loss") == "best.loss"
    assert resolve_metric(df, "accuracy") == "eval.gsm8k.accuracy"
    assert resolve_metric(df, "gsm8k.accuracy") == "eval.gsm8k.accuracy"
    with pytest.raises(ConfigError, match=r"Unknown metric 'los'; did you mean 'loss'"):
        resolve_metric(df, "los")
    df["eval.mmlu.accuracy"] = 0.5
    ambiguous = r"ambiguous.*eval\.gsm8k\.accuracy, eval\.mmlu\.accuracy"
    with pytest.raises(ConfigError, match=ambiguous):
        resolve_metric(df, "accuracy")


def test_compare_experiments_gives_n_mean_and_std_per_experiment(ws: Ws) -> None:
    df = load_runs(ws.root)

    out = compare_experiments(df, experiment_names=["baseline", "ablation"], metrics=["loss"])

    assert list(out.index) == ["baseline", "ablation"]
    assert list(out["n"]) == [2, 2]
    assert list(out["completed"]) == [2, 1]  # ablation's second run failed
    assert out.loc["baseline", "metrics.loss.mean"] == pytest.approx(0.4)
    assert out.loc["baseline", "metrics.loss.std"] == pytest.approx(pd.Series([0.5, 0.3]).std())
    # NaN (the diverged run) is left out of the mean.
    assert out.loc["ablation", "metrics.loss.mean"] == pytest.approx(0.9)
    assert math.isnan(out.loc["ablation", "metrics.loss.std"])
    everything = compare_experiments(df)
    assert "eval.gsm8k.accuracy.mean" in everything.columns
    assert not any(c.startswith("best.") for c in everything.columns)


def test_compare_experiments_names_an_unknown_experiment(ws: Ws) -> None:
    with pytest.raises(ConfigError, match="Unknown experiment 'baselin'; did you mean 'baseline'"):
        compare_experiments(load_runs(ws.root), experiment_names=["baselin"])


def test_print_results_summary_prints_one_row_per_experiment(
    ws: Ws, capsys: pytest.CaptureFixture[str]
) -> None:
    print_results_summary(load_runs(ws.root), metrics=["loss"])

    out = capsys.readouterr().out
    assert "4 runs in 2 experiments" in out
    assert "baseline" in out and "ablation" in out
    assert "0.4 ± 0.1414" in out


def test_print_results_summary_keeps_whole_cells_when_piped(
    ws: Ws, capsys: pytest.CaptureFixture[str]
) -> None:
    df = load_runs(ws.root)
    # Many wide columns: rich would squeeze them into 80 columns on a pipe.
    for i in range(8):
        df[f"metrics.a_rather_long_metric_name_{i}"] = 0.123456
    print_results_summary(df)

    out = capsys.readouterr().out
    for i in range(8):
        assert f"a_rather_long_metric_name_{i}" in out
    assert "…" not in out


def test_where_and_sort_read_the_ls_grammar(ws: Ws) -> None:
    df = load_runs(ws.root, where=["params.lr<0.05", "max(acc)>=0.85"])
    assert list(df["run_id"]) == [ws.ids["base2"]]

    best_first = load_runs(ws.root, sort="min(loss)", statuses="completed")
    assert list(best_first["run_id"]) == [ws.ids[k] for k in ("abl", "base2", "base1")]

    query = trialbook.RunQuery(experiment="ablation")
    assert list(load_runs(ws.root, query=query, where="loss>0.5")["run_id"]) == [ws.ids["abl"]]


def test_a_where_typo_names_the_parameter(ws: Ws) -> None:
    with pytest.raises(ConfigError, match=r"Cannot read where='lr'") as info:
        load_runs(ws.root, where="lr")
    assert info.value.parameter == "where"
