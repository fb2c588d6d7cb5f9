"""``trialbook ls --by group``: one row per seed group with n, seeds, mean ± std and an interval."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import Cli, assert_user_error
from scipy import stats

import trialbook
from trialbook.analysis import bootstrap_interval

LOSSES = {0.1: [0.5, 0.3, 0.4], 0.01: [0.2, 0.25]}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("groups") / "experiments"
    common = {"root": root, "system_metrics": False, "capture_packages": False}
    for lr, losses in LOSSES.items():
        for seed, loss in enumerate(losses, start=1):
            with trialbook.start_run(
                "sweep", {"lr": lr}, seed=seed, name=f"lr{lr}", **common
            ) as run:
                run.log({"loss": loss, "acc": 1 - loss}, step=0)
                run.log_evaluation("gsm8k", {"metrics": {"accuracy": 1 - loss}})
    with trialbook.start_run("solo", {"lr": 0.5}, seed=7, name="once", **common) as run:
        run.log({"loss": 0.9}, step=0)
    # A seed of lr0.1 that diverged: a failed run, which is no part of the group's numbers.
    with (
        pytest.raises(FloatingPointError),
        trialbook.start_run("sweep", {"lr": 0.1}, seed=4, name="lr0.1", **common) as run,
    ):
        run.log({"loss": 9.9}, step=0)
        raise FloatingPointError("diverged")
    yield root


def _groups(cli: Cli, root: Path, *args: str) -> list[dict[str, object]]:
    result = cli("ls", "--root", root, "--by", "group", "--json", *args)
    assert result.exit_code == 0, result.stderr
    data: list[dict[str, object]] = json.loads(result.stdout)
    return data


def test_json_has_one_entry_per_group_with_scipy_intervals(cli: Cli, root: Path) -> None:
    groups = {g["name"]: g for g in _groups(cli, root, "--sort", "loss")}

    assert set(groups) == {"lr0.1", "lr0.01", "once"}
    g = groups["lr0.1"]
    assert (g["experiment"], g["n"], g["seeds"]) == ("sweep", 3, [1, 2, 3])
    loss = g["metrics"]["metrics.loss"]  # type: ignore[index]
    assert loss["mean"] == pytest.approx(0.4)
    assert loss["std"] == pytest.approx(0.1)
    expected = stats.t.interval(0.95, 2, loc=0.4, scale=stats.sem(LOSSES[0.1]))
    assert (loss["ci_low"], loss["ci_high"]) == pytest.approx(expected)
    # One seed: a mean, but no spread and no interval.
    once = groups["once"]["metrics"]["metrics.loss"]  # type: ignore[index]
    assert once == {"mean": 0.9, "std": None, "ci_low": None, "ci_high": None}


def test_failed_runs_count_only_when_asked_for(cli: Cli, root: Path) -> None:
    groups = {g["name"]: g for g in _groups(cli, root, "--status", "completed,failed")}
    g = groups["lr0.1"]
    assert (g["n"], g["seeds"]) == (4, [1, 2, 3, 4])
    assert g["metrics"]["metrics.loss"]["mean"] == pytest.approx(2.775)  # type: ignore[index]
    failed = {g["name"]: g for g in _groups(cli, root, "--status", "failed")}
    assert set(failed) == {"lr0.1"} and failed["lr0.1"]["n"] == 1


def test_groups_sort_best_first_by_their_mean_and_limit_counts_groups(cli: Cli, root: Path) -> None:
    assert [g["name"] for g in _groups(cli, root, "--sort", "loss")] == ["lr0.01", "lr0.1", "once"]
    assert [g["name"] for g in _groups(cli, root, "--sort", "loss", "--desc")] == [
        "once",
        "lr0.1",
        "lr0.01",
    ]
    assert [g["name"] for g in _groups(cli, root, "--sort", "loss", "-n", "1")] == ["lr0.01"]
    assert [g["name"] for g in _groups(cli, root, "-e", "solo")] == ["once"]


def test_bootstrap_and_level_options_change_the_interval(cli: Cli, root: Path) -> None:
    def interval(*args: str) -> tuple[float, float]:
        g = next(g for g in _groups(cli, root, "--sort", "loss", *args) if g["name"] == "lr0.1")
        loss = g["metrics"]["metrics.loss"]  # type: ignore[index]
        return (loss["ci_low"], loss["ci_high"])

    boot = interval("--ci", "bootstrap")
    assert boot == interval("--ci", "bootstrap")
    assert boot == pytest.approx(bootstrap_interval(LOSSES[0.1], 0.95, 10000, 0))
    low80, high80 = interval("--level", "0.8")
    low95, high95 = interval()
    assert low95 < low80 < high80 < high95


def test_table_shows_mean_std_and_interval_of_the_sorted_metric(cli: Cli, root: Path) -> None:
    result = cli("ls", "--root", root, "--by", "group", "--sort", "loss")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "group", "experiment", "name", "n", "seeds", "loss", "mean", "±", "std", "95%", "CI",
    ]  # fmt: skip
    row = next(line for line in lines if " lr0.1 " in line)
    lo, hi = stats.t.interval(0.95, 2, loc=0.4, scale=stats.sem(LOSSES[0.1]))
    assert "1,2,3" in row and "0.4 ± 0.1" in row
    assert f"[{lo:.4g}, {hi:.4g}]" in row
    assert next(line for line in lines if " once " in line).rstrip().endswith("n=1")


def test_table_without_a_metric_sort_shows_the_main_metrics(cli: Cli, root: Path) -> None:
    result = cli("ls", "--root", root, "--by", "group")

    assert result.exit_code == 0, result.stderr
    header = result.stdout.splitlines()[0]
    for name in ("loss mean ± std", "acc mean ± std", "gsm8k.accuracy mean ± std"):
        assert name in header


def test_bad_options_are_one_sentence(cli: Cli, root: Path) -> None:
    assert_user_error(cli("ls", "--root", root, "--by", "group", "--sort", "f1"), "'f1'", "--sort")
    assert_user_error(cli("ls", "--root", root, "--by", "group", "--level", "95"), "95")
    assert_user_error(cli("ls", "--root", root, "--ci", "bootstrap"), "--by group")
    assert_user_error(cli("ls", "--root", root, "--level", "0.9"), "--by group")
    result = cli("ls", "--root", root, "--by", "team")
    assert result.exit_code == 2 and "team" in result.stderr


def test_no_matching_runs_say_so(cli: Cli, root: Path) -> None:
    # An experiment that exists, with a seed none of its runs has.
    result = cli("ls", "--root", root, "--by", "group", "-e", "solo", "--seed", "99")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No runs match." in result.stderr
    assert _groups(cli, root, "-e", "solo", "--seed", "99") == []
