"""compare(): config differences, metrics side by side, change, winner; runs and groups."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stats_workspace

import trialbook
from trialbook.analysis import compare
from trialbook.errors import ConfigError


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("cmp") / "experiments"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TRIALBOOK_STORE", raising=False)
        yield root, stats_workspace.build(root)


def _acc(root: Path, run_id: str) -> float:
    with trialbook.open_store(root) as db:
        return float(db.evaluations(run_id, "gsm8k")[-1].metrics["accuracy"])


def test_groups_side_by_side(ws: tuple[Path, dict[str, Any]]) -> None:
    root, ids = ws
    c = compare(["base", "tuned"], root=root)
    assert c.entries == ("base", "tuned") and c.kinds == ("group", "group")
    # Only the keys that differ; the seed differs within each group, so it is left out.
    assert c.config == {"lora.rank": (8, 16), "lr": (0.0001, 0.0003)}
    (acc,) = c.tables["gsm8k"]
    base = sum(_acc(root, i) for i in ids["base"]) / 3
    tuned = sum(_acc(root, i) for i in ids["tuned"]) / 3
    assert acc.metric == "accuracy" and acc.n == (3, 3)
    assert acc.values == pytest.approx((base, tuned))
    assert acc.change[1] == pytest.approx(tuned - base)
    assert acc.relative[1] == pytest.approx((tuned - base) / base)
    assert acc.best == 1
    assert c.winner["gsm8k"] == "tuned"
    assert c.margin["gsm8k"] == pytest.approx(tuned - base)
    (loss,) = c.tables["logged metrics"]
    assert loss.goal == "min" and loss.best == 1 and c.winner["logged metrics"] == "tuned"
    json.dumps(c.to_dict())  # JSON-ready


def test_three_runs_and_a_missing_table(ws: tuple[Path, dict[str, Any]]) -> None:
    root, ids = ws
    a, b = ids["base"][0], ids["tuned"][0]
    c = compare([a, b, "mmlu-only"], root=root)
    assert c.kinds == ("run", "run", "run")
    assert c.config["lr"] == (0.0001, 0.0003, 0.001)
    # Single runs show their seed (part of what differs); a key one lacks shows None.
    assert c.config["seed"] == (1, 1, None)
    assert c.config["steps"] == (100, 100, None) and "lora.rank" in c.config
    (acc,) = c.tables["gsm8k"]
    assert acc.values[2] is None and acc.change[2] is None and acc.best == 1
    assert "mmlu" not in c.tables  # one entry alone compares nothing
    assert c.margin["gsm8k"] == pytest.approx(_acc(root, b) - _acc(root, a))


def test_no_common_measurement_and_too_few_refs(ws: tuple[Path, dict[str, Any]]) -> None:
    root, _ = ws
    with pytest.raises(
        ConfigError,
        match=r"no benchmark in common \(graded-a: summ; mmlu-only: mmlu\) and no logged metric",
    ):
        compare(["graded-a", "mmlu-only"], root=root)
    with pytest.raises(ConfigError, match=r"at least two runs or groups, got 1"):
        compare(["base"], root=root)


def test_single_runs_with_per_sample_scores_get_the_paired_test(
    ws: tuple[Path, dict[str, Any]],
) -> None:
    from trialbook.analysis import significance

    root, ids = ws
    a, b = ids["base"][0], ids["tuned"][0]
    v = compare([a, b], root=root).verdicts["gsm8k"]
    (r,) = significance([b, a], root=root)  # the test compare runs: the entry ahead first
    assert v.test == r.test == "mcnemar" and v.p_value == r.p_value < 0.05
    assert v.winner == b and v.n == (1, 1)
    assert v.text.startswith(f"winner: {b} (accuracy, by ") and "exact McNemar test" in v.text
    assert v.text.endswith(", n=300 samples)")
    # Graded scores: the paired bootstrap, seed 0, 10,000 resamples.
    v = compare(["graded-a", "graded-b"], root=root).verdicts["summ"]
    (r,) = significance(["graded-b", "graded-a"], root=root)
    assert v.test == r.test and v.p_value == r.p_value and v.winner == "graded-b"
