"""leaderboard(): ranking direction, group intervals, and the tie rule."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stats_workspace
from scipy import stats

import trialbook
from trialbook.analysis import holm, leaderboard, significance, t_interval
from trialbook.errors import ConfigError


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("lb") / "experiments"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TRIALBOOK_STORE", raising=False)
        yield root, stats_workspace.build(root)


def test_runs_ranked_descending_with_ties_tested_against_the_leader(
    ws: tuple[Path, dict[str, Any]],
) -> None:
    root, ids = ws
    lb = leaderboard(benchmark="gsm8k", root=root)
    # The ranked rows, best first; the run without per-sample scores after them, unranked.
    ranked = lb[lb["rank"].notna()]
    assert list(ranked["value"]) == sorted(ranked["value"], reverse=True)
    assert list(lb[lb["rank"].isna()]["entry"]) == ["no-samples"]
    assert lb["rank"].iloc[0] == 1 and bool(lb["tied"].iloc[0])
    leader = lb["id"].iloc[0]
    tested = lb[lb["test"] != ""]
    # Every run with per-sample scores on the same ids was tested against the leader, with
    # McNemar (0/1 correctness), and the p-values Holm-corrected together.
    assert set(tested["id"]) == set(ids["base"] + ids["tuned"]) - {leader}
    assert set(tested["test"]) == {"mcnemar"}
    assert list(tested["p_adjusted"]) == pytest.approx(holm(list(tested["p_value"])))
    for _, row in tested.iterrows():
        (r,) = significance([leader, row["id"]], root=root)
        assert row["p_value"] == pytest.approx(r.p_value)
        assert bool(row["tied"]) == (row["p_adjusted"] >= 0.05)
    # The base runs are far behind; untestable runs (other sample ids, no samples) are not tied.
    assert not lb[lb["entry"] == "base"]["tied"].any()
    assert not lb[lb["entry"].isin(["shifted", "no-samples"])]["tied"].any()
    assert lb[lb["entry"] == "shifted"]["test"].iloc[0] == ""


def test_groups_have_t_intervals_and_welch_ties(ws: tuple[Path, dict[str, Any]]) -> None:
    root, ids = ws
    lb = leaderboard(benchmark="gsm8k", by="group", root=root)
    assert list(lb["entry"][:1]) == ["tuned"]
    with trialbook.open_store(root) as db:
        tuned = [db.evaluations(i, "gsm8k")[-1].metrics["accuracy"] for i in ids["tuned"]]
        base = [db.evaluations(i, "gsm8k")[-1].metrics["accuracy"] for i in ids["base"]]
    top = lb.iloc[0]
    assert top["n"] == 3 and top["value"] == pytest.approx(sum(tuned) / 3)
    assert (top["ci_low"], top["ci_high"]) == pytest.approx(t_interval(tuned))
    row = lb[lb["entry"] == "base"].iloc[0]
    assert row["test"] == "welch"
    assert row["p_value"] == pytest.approx(stats.ttest_ind(tuned, base, equal_var=False).pvalue)
    one_seed = lb[lb["n"] == 1]
    assert one_seed["ci_low"].isna().all() and not one_seed["tied"].any()


def test_lower_is_better_for_losses_and_top(ws: tuple[Path, dict[str, Any]]) -> None:
    root, _ = ws
    lb = leaderboard(metric="loss", root=root, top=2)
    assert len(lb) == 2
    assert list(lb["entry"]) == ["tuned", "tuned"]
    assert lb["value"].iloc[0] == pytest.approx(0.26)
    assert lb["value"].iloc[0] < lb["value"].iloc[1]
    # Runs without per-sample scores cannot be tested: untested (None) unless equal.
    assert list(lb["tied"]) == [True, None]
    assert list(lb["status"]) == ["leader", "untested"]
    assert math.isnan(lb["p_value"].iloc[1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, r"Choose what to rank by: runs are evaluated on gsm8k, mmlu, summ"),
        ({"benchmark": "gsm8"}, r"No run is evaluated on 'gsm8'; did you mean 'gsm8k'\?"),
        ({"benchmark": "gsm8k", "metric": "acuracy"}, r"Unknown metric 'acuracy' on gsm8k"),
        ({"metric": "accuracy"}, r"'accuracy' is a metric of 2 benchmarks \(gsm8k, mmlu\)"),
        ({"metric": "nothing"}, r"No run logged 'nothing'"),
        ({"benchmark": "gsm8k", "top": 0}, r"^top=0 must be at least 1\.$"),
        ({"benchmark": "gsm8k", "by": "seed"}, r"^by='seed' must be 'run' or 'group'\.$"),
    ],
)
def test_bad_input(ws: tuple[Path, dict[str, Any]], kwargs: dict[str, Any], message: str) -> None:
    root, _ = ws
    with pytest.raises(ConfigError, match=message):
        leaderboard(root=root, **kwargs)
