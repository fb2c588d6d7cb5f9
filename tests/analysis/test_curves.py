"""group_curve: a seed group's metric as the mean over seeds with a Student-t band on a common
x grid; curve_points: how many points each of many curves gets."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import trialbook
from trialbook.analysis import curve_points, group_curve
from trialbook.errors import TrialbookError
from trialbook.store import NewRun, Store


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    root = tmp_path / "experiments"
    with trialbook.start_run("e", {}, root=root, system_metrics=False, capture_packages=False):
        pass
    with trialbook.open_store(root) as db:
        yield db


def _new(name: str) -> NewRun:
    return NewRun(
        id=uuid.uuid4().hex,
        experiment="e",
        name=name,
        config={},
        config_hash="h" * 64,
        group_key="g" * 64,
    )


def _run(store: Store, name: str, points: dict[int, float], t0: float = 1000.0) -> str:
    record = store.create_run(_new(name))
    steps = sorted(points)
    store.log_metric_columns(
        record.id,
        {"loss": (steps, [points[s] for s in steps], [t0 + 10.0 * s for s in steps])},
    )
    return record.id


def test_mean_and_band_match_a_t_interval_at_each_step(store: Store) -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(1.0, 0.2, size=(4, 20))
    ids = [_run(store, f"s{i}", dict(enumerate(values[i].tolist()))) for i in range(4)]
    curve = group_curve(store, ids, "loss")
    assert curve.x == tuple(float(s) for s in range(20))
    assert curve.n == 4 and curve.counts == (4,) * 20
    np.testing.assert_allclose(curve.mean, values.mean(axis=0))
    low, high = stats.t.interval(0.95, 3, loc=values.mean(axis=0), scale=stats.sem(values, axis=0))
    np.testing.assert_allclose(curve.low, low)
    np.testing.assert_allclose(curve.high, high)


def test_a_seed_that_stopped_early_does_not_pull_the_mean(store: Store) -> None:
    a = _run(store, "long", {s: 1.0 for s in range(10)})
    b = _run(store, "short", {s: 3.0 for s in range(5)})
    curve = group_curve(store, [a, b], "loss")
    assert curve.mean[:5] == (2.0,) * 5
    assert curve.mean[5:] == (1.0,) * 5
    assert curve.counts == (2,) * 5 + (1,) * 5
    assert all(math.isnan(v) for v in curve.low[5:])


def test_seeds_logged_at_different_steps_are_interpolated_on_one_grid(store: Store) -> None:
    a = _run(store, "even", {0: 0.0, 2: 2.0, 4: 4.0})
    b = _run(store, "odd", {1: 10.0, 3: 30.0})
    curve = group_curve(store, [a, b], "loss")
    assert curve.x == (0.0, 1.0, 2.0, 3.0, 4.0)
    # At step 2, "even" has 2.0 and "odd" interpolates 20.0; at 0 and 4 only "even" counts.
    assert curve.mean == pytest.approx((0.0, 5.5, 11.0, 16.5, 4.0))
    assert curve.counts == (1, 2, 2, 2, 1)


def test_long_histories_are_put_on_a_grid_of_max_points(store: Store) -> None:
    ids = [_run(store, f"s{i}", {s: float(s + i) for s in range(1000)}) for i in range(3)]
    curve = group_curve(store, ids, "loss", max_points=50)
    assert len(curve.x) == 50
    assert curve.x[0] <= 20.0 and curve.x[-1] >= 979.0
    assert list(curve.x) == sorted(curve.x)
    # Each run is reduced to 50 points first (a bucket spans 20 steps), then interpolated.
    np.testing.assert_allclose(curve.mean, np.asarray(curve.x) + 1.0, atol=21)


def test_relative_and_wall_time_axes(store: Store) -> None:
    a = _run(store, "a", {0: 1.0, 1: 2.0}, t0=5000.0)
    rel = group_curve(store, [a], "loss", x="relative")
    assert rel.x == (0.0, 10.0)
    wall = group_curve(store, [a], "loss", x="time")
    assert wall.x == (5000.0, 5010.0)


def test_nan_points_are_ignored_and_runs_without_the_key_left_out(store: Store) -> None:
    a = _run(store, "a", {0: float("nan"), 1: 2.0, 2: 4.0})
    empty = store.create_run(_new("none"))
    curve = group_curve(store, [a, empty.id], "loss")
    assert curve.run_ids == (a,) and curve.n == 1
    assert curve.x == (1.0, 2.0)
    nothing = group_curve(store, [empty.id], "loss")
    assert nothing.n == 0 and nothing.x == ()


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [({"x": "epoch"}, "x"), ({"max_points": 1}, "max_points"), ({"level": 1.5}, "level")],
)
def test_bad_arguments_name_the_parameter(
    store: Store, kwargs: dict[str, object], parameter: str
) -> None:
    a = _run(store, "a", {0: 1.0})
    with pytest.raises(TrialbookError, match=parameter):
        group_curve(store, [a], "loss", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TrialbookError, match="run_ids"):
        group_curve(store, [], "loss")


def test_curve_points_keep_the_total_bounded() -> None:
    assert curve_points(1) == 20_000
    assert curve_points(200) == 100
    assert curve_points(1000) == 50
    assert curve_points(10, budget=1000, floor=5) == 100
