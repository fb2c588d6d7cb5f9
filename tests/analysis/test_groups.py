"""Seed groups and the t / bootstrap intervals, checked against SciPy and by properties."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from trialbook.analysis import (
    bootstrap_interval,
    group_interval,
    load_runs,
    seed_groups,
    t_interval,
)
from trialbook.errors import ConfigError
from trialbook.store import NewRun


def _frame(groups: dict[str, list[float]]) -> pd.DataFrame:
    """A runs frame: one run per value, one group per key, seeds 0..n-1."""
    rows = [
        {
            "run_id": f"{key}-{i}",
            "experiment": "exp",
            "name": f"name-{key}",
            "seed": i,
            "group": key,
            "metrics.loss": value,
        }
        for key, values in groups.items()
        for i, value in enumerate(values)
    ]
    return pd.DataFrame(rows)


samples = st.lists(
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False), min_size=2, max_size=12
).filter(lambda xs: max(xs) - min(xs) > 1e-6)


# --------------------------------------------------------------------------- t interval
@pytest.mark.parametrize("level", [0.8, 0.95, 0.99])
def test_t_interval_matches_scipy(level: float) -> None:
    values = [0.71, 0.74, 0.69, 0.77, 0.73]
    expected = stats.t.interval(
        level, len(values) - 1, loc=np.mean(values), scale=stats.sem(values)
    )

    assert t_interval(values, level) == pytest.approx(expected, rel=1e-12)


def test_t_interval_leaves_nan_out_and_collapses_for_equal_values() -> None:
    assert t_interval([1.0, math.nan, 3.0]) == pytest.approx(
        stats.t.interval(0.95, 1, loc=2.0, scale=stats.sem([1.0, 3.0]))
    )
    assert t_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)


@pytest.mark.parametrize("values", [[], [0.7], [0.7, math.nan]])
def test_intervals_need_two_values_and_say_n(values: list[float]) -> None:
    n = sum(not math.isnan(v) for v in values)
    with pytest.raises(ConfigError, match=f"at least 2 values, got n={n}"):
        t_interval(values)
    with pytest.raises(ConfigError, match=f"at least 2 values, got n={n}"):
        bootstrap_interval(values)


@pytest.mark.parametrize("level", [0, 1, 95, -0.5, math.nan])
def test_intervals_refuse_a_level_outside_0_1(level: float) -> None:
    with pytest.raises(ConfigError, match=f"level {level!r} is not between 0 and 1"):
        t_interval([1.0, 2.0], level)
    with pytest.raises(ConfigError, match="not between 0 and 1"):
        seed_groups(_frame({"a": [1.0, 2.0]}), level=level)


def test_bootstrap_refuses_zero_resamples() -> None:
    with pytest.raises(ConfigError, match="resamples=0"):
        bootstrap_interval([1.0, 2.0], resamples=0)


@settings(max_examples=60, deadline=None)
@given(samples)
def test_t_interval_contains_the_mean_and_widens_with_the_level(xs: list[float]) -> None:
    mean = float(np.mean(xs))
    low90, high90 = t_interval(xs, 0.90)
    low99, high99 = t_interval(xs, 0.99)

    assert low90 <= mean <= high90
    assert low99 < low90 and high90 < high99


@settings(max_examples=60, deadline=None)
@given(samples, st.floats(min_value=-100, max_value=100))
def test_t_interval_moves_with_a_shift(xs: list[float], shift: float) -> None:
    low, high = t_interval(xs)
    shifted = t_interval([x + shift for x in xs])

    assert shifted == pytest.approx((low + shift, high + shift), rel=1e-9, abs=1e-6)


# --------------------------------------------------------------------------- bootstrap
def test_bootstrap_is_deterministic_for_a_seed_and_close_to_the_normal_answer() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(10.0, 2.0, size=200)

    first = bootstrap_interval(values, 0.95, resamples=4000, seed=3)

    assert bootstrap_interval(values, 0.95, resamples=4000, seed=3) == first
    assert bootstrap_interval(values, 0.95, resamples=4000, seed=4) != first
    # For 200 normal values the percentile bootstrap is close to mean +- 1.96 sem.
    sem = values.std(ddof=1) / math.sqrt(values.size)
    assert first[0] == pytest.approx(values.mean() - 1.96 * sem, abs=0.1 * sem * 1.96 + 0.05)
    assert first[1] == pytest.approx(values.mean() + 1.96 * sem, abs=0.1 * sem * 1.96 + 0.05)


@settings(max_examples=40, deadline=None)
@given(samples, st.floats(min_value=-100, max_value=100))
def test_bootstrap_lies_within_the_values_and_moves_with_a_shift(
    xs: list[float], shift: float
) -> None:
    low, high = bootstrap_interval(xs, 0.95, resamples=500, seed=1)
    moved = bootstrap_interval([x + shift for x in xs], 0.95, resamples=500, seed=1)

    eps = 1e-9 * max(1.0, *map(abs, xs))  # the mean of equal values may be off by an ulp
    assert min(xs) - eps <= low <= high <= max(xs) + eps
    assert moved == pytest.approx((low + shift, high + shift), rel=1e-9, abs=1e-6)


# --------------------------------------------------------------------------- seed groups
def test_seed_groups_summarise_each_group_like_scipy() -> None:
    df = _frame({"a": [0.5, 0.3, 0.4], "b": [1.0], "c": [2.0, math.nan, 4.0]})

    g = seed_groups(df, ["loss"]).set_index("group")

    assert list(g.index) == ["a", "b", "c"]
    assert list(g["n"]) == [3, 1, 3]
    assert g.loc["a", "seeds"] == [0, 1, 2]
    assert g.loc["a", "name"] == "name-a"
    assert g.loc["a", "metrics.loss.mean"] == pytest.approx(0.4)
    assert g.loc["a", "metrics.loss.std"] == pytest.approx(0.1)
    assert (g.loc["a", "metrics.loss.ci_low"], g.loc["a", "metrics.loss.ci_high"]) == (
        pytest.approx(stats.t.interval(0.95, 2, loc=0.4, scale=stats.sem([0.5, 0.3, 0.4])))
    )
    # One seed: a mean but no spread or interval.
    assert g.loc["b", "metrics.loss.mean"] == 1.0
    for stat in ("std", "ci_low", "ci_high"):
        assert math.isnan(g.loc["b", f"metrics.loss.{stat}"])
    # NaN (a run without the value) is left out: the interval is that of [2, 4].
    assert g.loc["c", "metrics.loss.ci_low"] == pytest.approx(t_interval([2.0, 4.0])[0])


def test_seed_groups_bootstrap_uses_the_seeded_bootstrap_per_group() -> None:
    df = _frame({"a": [0.5, 0.3, 0.4, 0.45], "b": [1.0]})

    g = seed_groups(df, "metrics.loss", ci="bootstrap", resamples=2000, seed=5)

    expected = bootstrap_interval([0.5, 0.3, 0.4, 0.45], 0.95, 2000, 5)
    assert (g["metrics.loss.ci_low"][0], g["metrics.loss.ci_high"][0]) == expected
    assert math.isnan(g["metrics.loss.ci_low"][1])


def test_seed_groups_refuse_unknown_intervals_and_metrics() -> None:
    df = _frame({"a": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="Unknown interval 'normal'"):
        seed_groups(df, ci="normal")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="Unknown metric 'acc'"):
        seed_groups(df, ["acc"])


def test_seed_groups_of_an_empty_frame_have_the_columns() -> None:
    df = _frame({}).reindex(columns=["run_id", "experiment", "name", "seed", "group"])
    df["metrics.loss"] = pd.Series(dtype=float)

    g = seed_groups(df, ["loss"])

    assert g.empty
    assert list(g.columns)[:5] == ["group", "experiment", "name", "n", "seeds"]
    assert "metrics.loss.ci_high" in g.columns


def test_group_interval_names_the_group_and_its_n() -> None:
    df = _frame({"abc123": [0.5, 0.3], "def456": [1.0]})

    assert group_interval(df, "abc", "loss") == pytest.approx(t_interval([0.5, 0.3]))
    with pytest.raises(ConfigError, match="needs at least 2 seeds; group def456 has n=1"):
        group_interval(df, "def4", "loss")
    with pytest.raises(ConfigError, match="No seed group 'zzz'"):
        group_interval(df, "zzz", "loss")
    with pytest.raises(ConfigError, match="'' matches 2 groups"):
        group_interval(df, "", "loss")


def test_groups_from_a_real_store_split_by_config_not_seed(tmp_path: Path) -> None:
    import trialbook

    with trialbook.open_store(tmp_path, create=True) as db:
        for i, (group, value) in enumerate([("g1", 0.1), ("g1", 0.3), ("g2", 0.7)]):
            run_id = f"20260101_000000_{i:06d}"
            db.create_run(
                NewRun(
                    id=run_id,
                    experiment="exp",
                    name=group,
                    config={"lr": group},
                    config_hash=f"h{i}",
                    group_key=group,
                    status="completed",
                    seed=i,
                    started_at=1e9 + i,
                )
            )
            db.log_metrics(run_id, {"acc": [(0, value, 0.0)]})
        df = load_runs(store=db)

    g = seed_groups(df).set_index("group")

    assert g.loc["g1", "seeds"] == [0, 1]
    assert g.loc["g1", "metrics.acc.mean"] == pytest.approx(0.2)
    assert g.loc["g2", "n"] == 1
