"""Metric histories for display: downsample, read_curve and load_history."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import trialbook
from trialbook.analysis import _history, downsample, load_history, read_curve
from trialbook.errors import RunNotFoundError, TrialbookError
from trialbook.store import NewRun, SQLStore, Store, _dialect


# ------------------------------------------------------------------ downsample
def test_downsample_keeps_a_single_spike_among_a_million_points() -> None:
    n = 1_000_000
    x = np.arange(n, dtype=float)
    y = np.sin(x / 5000.0)
    y[777_777] = 1e6
    y[123_456] = -1e6

    d = downsample(x, y, 2000)

    assert len(d.x) == len(d.y) == len(d.y_min) == len(d.y_max) == 2000
    assert (d.total, d.sampled) == (n, True)
    assert max(d.y_max) == 1e6
    assert min(d.y_min) == -1e6
    assert max(d.y) <= 1.0  # the drawn points are bucket ends, the spike is in the envelope


def test_downsample_returns_at_most_max_points_with_x_ascending_and_taken_from_the_input() -> None:
    x = np.cumsum(np.random.default_rng(1).uniform(0.1, 2.0, 10_007))
    y = np.random.default_rng(2).normal(size=x.size)

    for max_points in (2, 3, 999, 5000, 10_006):
        d = downsample(x, y, max_points)
        assert len(d.x) <= max_points
        assert list(d.x) == sorted(d.x)
        assert set(d.x) <= set(x.tolist())
        assert all(lo <= v <= hi for lo, v, hi in zip(d.y_min, d.y, d.y_max, strict=True))
        assert d.x[-1] == x[-1]


def test_downsample_of_a_short_series_keeps_every_point() -> None:
    d = downsample([1, 2, 3], [0.5, math.nan, 0.25], 3)

    assert d.x == (1.0, 2.0, 3.0)
    assert d.y[0] == 0.5 and math.isnan(d.y[1])
    assert d.y_min[0] == d.y_max[0] == 0.5
    assert (d.total, d.sampled) == (3, False)
    assert downsample([], [], 10).x == ()


def test_downsample_ignores_nan_in_a_bucket_and_keeps_nan_for_an_all_nan_bucket() -> None:
    y = [math.nan, 2.0, math.nan, 4.0, math.nan, math.nan, math.inf, 1.0]

    d = downsample(range(8), y, 4)  # buckets of two points

    assert d.y_min[0] == d.y_max[0] == 2.0
    assert d.y_min[1] == d.y_max[1] == 4.0
    assert math.isnan(d.y_min[2]) and math.isnan(d.y_max[2])
    assert (d.y_min[3], d.y_max[3]) == (1.0, math.inf)


@pytest.mark.parametrize("bad", [0, 1, 20_001, 2.5, True, "100"])
def test_downsample_rejects_a_max_points_out_of_range(bad: Any) -> None:
    with pytest.raises(TrialbookError, match="max_points must be") as e:
        downsample([1.0, 2.0], [1.0, 2.0], bad)

    assert e.value.parameter == "max_points"


def test_downsample_rejects_x_and_y_of_different_lengths() -> None:
    with pytest.raises(TrialbookError, match="same length"):
        downsample([1.0, 2.0, 3.0], [1.0, 2.0])


# ------------------------------------------------------------------ read_curve
@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with trialbook.open_store(root=tmp_path, create=True) as s:
        yield s


def _run(store: Store, run_id: str = "20260101_120000_aaaaaa") -> str:
    store.create_run(
        NewRun(
            id=run_id,
            experiment="e",
            name=run_id[-6:],
            config={},
            config_hash="h",
            group_key="g",
            started_at=1000.0,
        )
    )
    return run_id


def _log(store: Store, run_id: str, steps: np.ndarray, values: np.ndarray) -> None:
    times = 1000.0 + steps * 0.5
    for a in range(0, steps.size, 100_000):
        part = slice(a, a + 100_000)
        store.log_metric_columns(
            run_id,
            {"loss": (steps[part].tolist(), values[part].tolist(), times[part].tolist())},
        )


def test_read_curve_of_a_run_logged_by_start_run_on_each_x_axis(tmp_path: Path) -> None:
    with trialbook.start_run("exp", config={"lr": 0.1}, root=tmp_path) as run:
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1)}, step=step * 10)
    with trialbook.open_store(root=tmp_path) as store:
        step = read_curve(store, run.id, "loss")
        time = read_curve(store, run.id, "loss", x="time")
        relative = read_curve(store, run.id, "loss", x="relative")
        history = store.metric_history(run.id, "loss")

    assert step.points.x == (0.0, 10.0, 20.0, 30.0, 40.0)
    assert step.points.y == history.values
    assert (step.points.total, step.points.sampled, step.last_step) == (5, False, 40)
    assert time.points.x == history.times
    assert relative.points.x[0] == 0.0
    assert relative.points.x == tuple(t - history.times[0] for t in history.times)
    assert (step.x_axis, time.x_axis, relative.x_axis) == ("step", "time", "relative")


def test_read_curve_after_step_returns_only_newer_points_and_the_last_step(
    store: Store,
) -> None:
    run_id = _run(store)
    _log(store, run_id, np.arange(100), np.arange(100, dtype=float))

    newer = read_curve(store, run_id, "loss", after_step=94)
    relative = read_curve(store, run_id, "loss", x="relative", after_step=94)
    none = read_curve(store, run_id, "loss", after_step=99)

    assert newer.points.x == (95.0, 96.0, 97.0, 98.0, 99.0)
    assert newer.last_step == 99
    assert relative.points.x[0] == 95 * 0.5  # still relative to the metric's first point
    assert (none.points.x, none.points.total, none.last_step) == ((), 0, 99)


def test_read_curve_of_a_million_points_keeps_the_spike_within_max_points(store: Store) -> None:
    run_id = _run(store)
    steps = np.arange(1_000_000)
    values = np.cos(steps / 1000.0)
    values[654_321] = 1e9
    values[1000] = math.nan
    _log(store, run_id, steps, values)

    curve = read_curve(store, run_id, "loss", max_points=2000)

    assert len(curve.points.x) == 2000
    assert (curve.points.total, curve.points.sampled, curve.last_step) == (1_000_000, True, 999_999)
    assert max(curve.points.y_max) == 1e9
    assert list(curve.points.x) == sorted(curve.points.x)
    assert curve.points.x[-1] == 999_999.0
    assert not any(math.isnan(v) for v in curve.points.y_min)


def test_read_curve_reduced_in_the_database_equals_the_reduction_in_python(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _run(store)
    rng = np.random.default_rng(3)
    steps = np.sort(rng.integers(0, 50_000, 3000))  # gaps and repeated steps
    values = rng.normal(size=steps.size)
    values[::97] = math.nan
    _log(store, run_id, steps, values)
    python = store.metric_buckets(run_id, "loss", 150)

    monkeypatch.setattr(SQLStore, "BUCKETS_READ_WHOLE", 10)
    by_range = store.metric_buckets(run_id, "loss", 150)
    reduce = _dialect.bucket_reduce
    monkeypatch.setattr(
        _dialect,
        "bucket_reduce",
        lambda *a, **k: reduce(*a, **{**k, "by_range": False}),
    )
    grouped = store.metric_buckets(run_id, "loss", 150)

    def same(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
        return np.array_equal(np.array(a), np.array(b), equal_nan=True)

    for got in (by_range, grouped):
        assert got.steps == python.steps
        assert got.counts == python.counts
        assert got.times == python.times
        assert same(got.values, python.values)
        assert same(got.mins, python.mins)
        assert same(got.maxs, python.maxs)
        assert (got.total, got.first_time, got.last_step) == (
            3000,
            1000.0 + steps[0] * 0.5,
            steps[-1],
        )


def test_read_curve_caches_a_long_history_until_it_gets_a_new_point(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_history, "_CACHE_FROM", 10)
    run_id = _run(store)
    _log(store, run_id, np.arange(50), np.zeros(50))
    first = read_curve(store, run_id, "loss", max_points=10)

    assert read_curve(store, run_id, "loss", max_points=10) is first
    assert read_curve(store, run_id, "loss", max_points=20) is not first

    store.log_metrics(run_id, {"loss": [(50, 5.0, 2000.0)]})
    grown = read_curve(store, run_id, "loss", max_points=10)

    assert grown is not first
    assert (grown.last_step, grown.points.total, max(grown.points.y_max)) == (50, 51, 5.0)


def test_read_curve_cache_stays_within_its_point_budget(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_history, "_CACHE_FROM", 10)
    monkeypatch.setattr(_history, "_CACHE_POINTS", 100)
    run_id = _run(store)
    _log(store, run_id, np.arange(50), np.zeros(50))

    for max_points in range(20, 45):
        read_curve(store, run_id, "loss", max_points=max_points)

    entries = _history._cache[store]
    assert sum(len(c.points.x) for _, c in entries.values()) <= 100
    assert list(entries)[-1][3] == 44  # the most recent read is kept


def test_read_curve_of_an_unknown_key_or_run_is_empty(store: Store) -> None:
    run_id = _run(store)

    curve = read_curve(store, run_id, "nothing")
    assert (curve.points.x, curve.points.total, curve.last_step) == ((), 0, None)
    assert read_curve(store, "20990101_000000_ffffff", "loss").points.total == 0


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"x": "epoch"}, "x"),
        ({"max_points": 1}, "max_points"),
        ({"max_points": 10**6}, "max_points"),
    ],
)
def test_read_curve_rejects_a_bad_axis_or_point_count(
    store: Store, kwargs: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(TrialbookError) as e:
        read_curve(store, _run(store), "loss", **kwargs)

    assert e.value.parameter == parameter


# ------------------------------------------------------------------ load_history
def test_load_history_is_one_tidy_row_per_point_for_several_runs_and_keys(tmp_path: Path) -> None:
    runs = []
    for seed in (1, 2):
        with trialbook.start_run("exp", config={"seed": seed}, root=tmp_path, name=f"s{seed}") as r:
            for step in range(3):
                r.log({"loss": step * seed, "acc": 0.5}, step=step)
        runs.append(r.id)

    frame = load_history(runs, ["loss", "acc"], root=tmp_path)
    every = load_history(runs[0], root=tmp_path)
    by_name = load_history(["s2"], "loss", root=tmp_path)

    assert list(frame.columns) == [
        "run_id",
        "run_name",
        "key",
        "step",
        "value",
        "time",
        "relative_time",
    ]
    assert len(frame) == 12
    loss2 = frame[(frame.run_id == runs[1]) & (frame.key == "loss")]
    assert loss2.step.tolist() == [0, 1, 2]
    assert loss2.value.tolist() == [0.0, 2.0, 4.0]
    assert loss2.run_name.unique().tolist() == ["s2"]
    assert loss2.relative_time.iloc[0] == 0.0
    assert (loss2.relative_time == loss2.time - loss2.time.iloc[0]).all()
    assert {"acc", "loss"} <= set(every.key)  # every key, system metrics included
    assert set(every.run_id) == {runs[0]}
    assert by_name.value.tolist() == [0.0, 2.0, 4.0]


def test_load_history_of_a_key_nobody_logged_is_an_empty_frame_with_the_columns(
    tmp_path: Path,
) -> None:
    with trialbook.start_run("exp", config={}, root=tmp_path) as r:
        r.log({"loss": 1.0}, step=0)

    frame = load_history(r.id, "missing", root=tmp_path)

    assert frame.empty
    assert "relative_time" in frame.columns


def test_load_history_of_an_unknown_run_raises_run_not_found(tmp_path: Path) -> None:
    with trialbook.start_run("exp", config={}, root=tmp_path):
        pass

    with pytest.raises(RunNotFoundError):
        load_history("nope", root=tmp_path)
