"""Curves drawn without their envelope (many curves on one chart, a seed group's mean): the
same points as the full read, each bucket's last point found without reading every point."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import trialbook
from trialbook.analysis import group_curve, read_curve
from trialbook.store import MetricHistory, NewRun, Store


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    root = tmp_path / "experiments"
    with trialbook.start_run("e", {}, root=root, system_metrics=False, capture_packages=False):
        pass
    with trialbook.open_store(root) as db:
        yield db


def _long_run(store: Store, n: int = 20_000, spike_at: int = 777) -> str:
    run_id = uuid.uuid4().hex
    store.create_run(
        NewRun(
            id=run_id,
            experiment="e",
            name=run_id[:6],
            config={},
            config_hash="h" * 64,
            group_key="g" * 64,
        )
    )
    steps = list(range(n))
    values = [100.0 if s == spike_at else 1.0 / (s + 1) for s in steps]
    store.log_metric_columns(run_id, {"loss": (steps, values, [1000.0 + s for s in steps])})
    return run_id


@pytest.mark.parametrize("x", ["step", "time"])
def test_a_curve_without_envelope_has_the_same_points_and_its_y_as_bounds(
    store: Store, x: str
) -> None:
    run_id = _long_run(store)
    full = read_curve(store, run_id, "loss", x=x, max_points=100)  # type: ignore[arg-type]
    bare = read_curve(store, run_id, "loss", x=x, max_points=100, envelope=False)  # type: ignore[arg-type]

    assert bare.points.x == full.points.x and bare.points.y == full.points.y
    assert bare.points.y_min == bare.points.y == bare.points.y_max
    assert max(full.points.y_max) == 100.0  # the spike is in the envelope only
    assert (bare.points.total, bare.points.sampled, bare.last_step) == (20_000, True, 19_999)


def test_relative_axis_and_live_reads_keep_the_envelope(store: Store) -> None:
    run_id = _long_run(store)
    rel = read_curve(store, run_id, "loss", x="relative", max_points=100, envelope=False)
    assert max(rel.points.y_max) == 100.0 and rel.points.x[0] >= 0.0
    live = read_curve(store, run_id, "loss", max_points=100, after_step=19_000, envelope=False)
    assert live.points.total == 999


def test_group_curve_seeks_bucket_points_and_never_reads_whole_histories(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [_long_run(store, spike_at=s) for s in (5, 6, 7)]
    expected = group_curve(store, runs, "loss", max_points=50)
    read: list[int] = []
    decimated = store.metric_decimated

    def whole(run_id: str, key: str) -> MetricHistory:
        raise AssertionError("a whole history was read")

    def spy(run_id: str, key: str, buckets: int) -> MetricHistory:
        h = decimated(run_id, key, buckets)
        read.append(len(h))
        return h

    monkeypatch.setattr(store, "metric_history", whole)
    monkeypatch.setattr(store, "metric_decimated", spy)
    again = group_curve(store, runs, "loss", max_points=50)

    assert read == [50, 50, 50]
    assert again == expected
