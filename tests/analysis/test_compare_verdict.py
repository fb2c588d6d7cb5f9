"""Issue 10 item 9: the relative change is n/a where a percentage would mislead (one owner,
relative_change), and compare names a winner only when a test says the difference is not
noise; otherwise "no clear difference (n=3)" -- in Python, the CLI, --json and reports."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import trialbook
from trialbook.analysis import compare, holm
from trialbook.analysis._compare import format_relative, relative_change

# Three seeds each: "close" is 0.01 above "base" (Welch p ~ 0.57), "far" is 0.2 above.
ACCURACY = {"base": (0.70, 0.72, 0.74), "close": (0.71, 0.73, 0.75), "far": (0.90, 0.92, 0.94)}
# A loss near zero and a log-likelihood (negative) that a percentage would distort.
LOGGED = {
    "base": {"loss": 0.0001, "log_likelihood": -2.0},
    "close": {"loss": 0.0201, "log_likelihood": -1.0},
    "far": {"loss": 0.00005, "log_likelihood": -1.5},
}


@pytest.mark.parametrize(
    ("base", "value", "text"),
    [
        (0.5, 0.6, "+20.0%"),
        (0.5, 0.4, "-20.0%"),
        (1.0, 0.01, "-99.0%"),
        (1.0, 0.0, "-100.0%"),
        (1.0, 10.0, "+900.0%"),
        (1.0, 10.01, "n/a"),  # more than 10x the baseline: the baseline is near zero
        (0.0001, 0.02, "n/a"),  # the "+19900.0%" of a loss near zero
        (0.0, 0.1, "n/a"),
        (-2.0, -1.0, "n/a"),  # a negative baseline has no meaningful ratio
        (0.5, -0.1, "n/a"),  # a change of sign is not a percentage
        (math.nan, 0.5, "n/a"),
        (0.5, math.inf, "n/a"),
        (None, 0.5, "n/a"),
    ],
)
def test_relative_change_only_where_a_percentage_means_something(
    base: float | None, value: float | None, text: str
) -> None:
    assert format_relative(relative_change(base, value)) == text


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, list[str]]]]:
    root = tmp_path_factory.mktemp("cmp_verdict") / "experiments"
    common: dict[str, Any] = {"root": root, "system_metrics": False, "capture_packages": False}
    ids: dict[str, list[str]] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TRIALBOOK_STORE", raising=False)
        for name, accs in ACCURACY.items():
            for seed, acc in enumerate(accs, start=1):
                config = {"model": name}
                with trialbook.start_run("x", config, seed=seed, name=name, **common) as run:
                    # Seeds differ a little, as real ones do.
                    run.log({k: v + seed * 1e-5 for k, v in LOGGED[name].items()}, step=0)
                    run.log_evaluation("quiz", {"accuracy": acc})
                    ids.setdefault(name, []).append(run.id)
        yield root, ids


def _welch_p(a: str, b: str) -> float:
    return float(stats.ttest_ind(ACCURACY[a], ACCURACY[b], equal_var=False).pvalue)


def test_no_clear_difference_within_the_noise(ws: tuple[Path, dict[str, list[str]]]) -> None:
    root, _ = ws
    c = compare(["base", "close"], root=root)
    v = c.verdicts["quiz"]
    p = _welch_p("close", "base")
    assert 0.5 < p < 0.6
    assert (v.metric, v.ahead, v.winner, v.test, v.n) == (
        "accuracy",
        "close",
        None,
        "welch",
        (3, 3),
    )
    assert v.p_value == pytest.approx(p, rel=1e-12) and v.margin == pytest.approx(0.01)
    assert c.winner["quiz"] is None and c.margin["quiz"] == pytest.approx(0.01)
    assert v.text == (
        f"no clear difference (n=3): close is ahead on accuracy by 0.01, within the noise "
        f"(Welch's t-test p = {p:.2f})"
    )
    assert v.text.endswith("(Welch's t-test p = 0.57)")


def test_a_winner_when_the_test_is_significant(ws: tuple[Path, dict[str, list[str]]]) -> None:
    root, _ = ws
    c = compare(["base", "far"], root=root)
    v = c.verdicts["quiz"]
    assert v.winner == "far" == c.winner["quiz"] and v.p_value == pytest.approx(
        _welch_p("base", "far")
    )
    assert v.text == (
        "winner: far (accuracy, by 0.2 over the next best; Welch's t-test p < 0.001, n=3)"
    )


def test_three_entries_need_every_holm_adjusted_test(
    ws: tuple[Path, dict[str, list[str]]],
) -> None:
    root, _ = ws
    # far beats both, but against close alone is it clear? Both tests, Holm-adjusted.
    c = compare(["base", "close", "far"], root=root)
    v = c.verdicts["quiz"]
    adjusted = holm([_welch_p("far", "base"), _welch_p("far", "close")])
    assert v.p_value == pytest.approx(max(adjusted), rel=1e-12)
    assert v.winner == "far" and v.text.endswith("(Holm), n=3)")
    # base vs close vs nothing clear: close is ahead of base, within the noise.
    c = compare(["close", "base"], root=root)
    assert c.winner["quiz"] is None and c.verdicts["quiz"].ahead == "close"


def test_change_column_is_n_a_near_zero_and_for_negative_baselines(
    ws: tuple[Path, dict[str, list[str]]],
) -> None:
    root, _ = ws
    c = compare(["base", "close"], root=root)
    rows = {r.metric: r for r in c.tables["logged metrics"]}
    assert rows["loss"].change[1] == pytest.approx(0.02) and rows["loss"].relative[1] is None
    assert rows["log_likelihood"].change[1] == pytest.approx(1.0)
    assert rows["log_likelihood"].relative[1] is None
    (acc,) = c.tables["quiz"]
    assert acc.relative[1] == pytest.approx(0.01 / 0.72)


def test_cli_and_json_show_the_same(
    ws: tuple[Path, dict[str, list[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from trialbook.cli import app

    root, _ = ws
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    runner = CliRunner()
    res = runner.invoke(app, ["compare", "base", "close", "--root", str(root)])
    assert res.exit_code == 0, res.output
    out = res.output
    p = _welch_p("close", "base")
    assert (
        f"  no clear difference (n=3): close is ahead on accuracy by 0.01, within the noise "
        f"(Welch's t-test p = {p:.2f})\n"
    ) in out
    quiz, logged = out.split("logged metrics")
    assert "winner" not in quiz and "0.73 (n=3) [+0.01, +1.4%] *" in quiz
    assert "0.02012 (n=3) [+0.02, n/a]" in logged  # the loss near zero: not +16667%
    assert "-1 (n=3) [+1, n/a] *" in logged  # the log-likelihood: no ratio of negatives
    # log_likelihood differs by 1 with seeds 1e-5 apart: that one is clear.
    assert "  winner: close (log_likelihood, by 1 over the next best; " in logged
    doc = json.loads(
        runner.invoke(app, ["compare", "base", "close", "--root", str(root), "--json"]).output
    )
    assert doc["winner"] == {"quiz": None, "logged metrics": "close"}
    verdict = doc["verdicts"]["quiz"]
    assert verdict["text"].startswith("no clear difference (n=3): close is ahead")
    assert (verdict["ahead"], verdict["winner"], verdict["n"]) == ("close", None, [3, 3])
    loss = next(r for r in doc["tables"]["logged metrics"] if r["metric"] == "loss")
    assert loss["relative"] == [0.0, None]


@given(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
)
def test_relative_change_is_bounded_or_none(base: float, value: float) -> None:
    rel = relative_change(base, value)
    if rel is None:
        assert not (math.isfinite(base) and math.isfinite(value)) or not (
            base > 0 and 0 <= value <= 10 * base
        )
        assert format_relative(rel) == "n/a"
    else:
        assert -1.0 <= rel <= 9.0 and rel == (value - base) / base
        assert format_relative(rel).endswith("%") and "e" not in format_relative(rel)
