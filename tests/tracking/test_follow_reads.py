"""Following a long run reads only what is new at each poll, not the whole history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import trialbook
from trialbook.store import MetricHistory, Store
from trialbook.tracking import follow_run

FAST: dict[str, Any] = {"system_metrics": False, "capture_packages": False}


@pytest.fixture(autouse=True)
def _outside_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_each_poll_reads_only_the_points_after_the_last_step_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = trialbook.start_run("exp", {}, root=tmp_path, **FAST)
    for step in range(5000):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    run.flush()
    actions = iter(
        [
            lambda: (run.log({"loss": 0.5}, step=5000), run.flush()),
            lambda: (run.log({"loss": 0.25}, step=5001), run.flush()),
            lambda: run.finish(),
        ]
    )
    read: list[tuple[str, int]] = []

    with trialbook.open_store(tmp_path) as store:
        whole, after = store.metric_history, store.metric_history_after

        def spy_whole(run_id: str, key: str) -> MetricHistory:
            h = whole(run_id, key)
            read.append(("whole", len(h)))
            return h

        def spy_after(run_id: str, key: str, after_step: int) -> MetricHistory:
            h = after(run_id, key, after_step)
            read.append(("after", len(h)))
            return h

        monkeypatch.setattr(store, "metric_history", spy_whole)
        monkeypatch.setattr(store, "metric_history_after", spy_after)
        updates = list(
            follow_run(store, run.id, interval=0.01, sleep=lambda _: next(actions, lambda: None)())
        )

    assert read == [("whole", 5000), ("after", 1), ("after", 1)]
    steps = [p.step for u in updates for p in u.points]
    assert steps == [*range(5000), 5000, 5001]
    assert updates[-1].finished


def test_the_default_points_after_a_step_filters_the_whole_history(tmp_path: Path) -> None:
    with trialbook.start_run("exp", {}, root=tmp_path, **FAST) as run:
        for step in (0, 1, 2, 2, 3):
            run.log({"loss": float(step)}, step=step)
    with trialbook.open_store(tmp_path) as store:
        default = Store.metric_history_after(store, run.id, "loss", 1)  # the base version
        assert default == store.metric_history_after(run.id, "loss", 1)
        assert default.steps == (2, 2, 3)
        assert len(Store.metric_history_after(store, run.id, "loss", 3)) == 0


def test_following_from_now_reads_no_history_and_reports_what_comes_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = trialbook.start_run("exp", {}, root=tmp_path, **FAST)
    for step in range(3000):
        run.log({"loss": 1.0, "acc": 0.5}, step=step)
    run.flush()
    actions = iter([lambda: (run.log({"loss": 0.5}, step=3000), run.flush()), lambda: run.finish()])
    with trialbook.open_store(tmp_path) as store:

        def whole(run_id: str, key: str) -> MetricHistory:
            raise AssertionError("a whole history was read")

        monkeypatch.setattr(store, "metric_history", whole)
        updates = list(
            follow_run(
                store,
                run.id,
                from_start=False,
                interval=0.01,
                sleep=lambda _: next(actions, lambda: None)(),
            )
        )
    assert [(p.key, p.step, p.value) for u in updates for p in u.points] == [("loss", 3000, 0.5)]
    assert updates[-1].finished
