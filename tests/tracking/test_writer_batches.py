"""How the writer turns logged calls into batches: a fast loop is written while it runs
(before ``flush_interval``), and calls that log different names land under each name."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import trialbook
from trialbook.tracking._writer import EARLY_FLUSH_CALLS

pytestmark = pytest.mark.usefixtures("index_store")

FAST: dict[str, Any] = {"system_metrics": False, "capture_packages": False}


def test_a_fast_loop_is_written_while_it_runs_not_only_after_flush_interval(
    tmp_path: Path,
) -> None:
    n = 3 * EARLY_FLUSH_CALLS
    with trialbook.start_run("e", root=tmp_path, flush_interval=3600.0, **FAST) as run:
        for i in range(n):
            run.log({"loss": i / n}, step=i)
        store = trialbook.open_store(root=tmp_path)
        try:
            deadline = time.monotonic() + 60
            while not len(store.metric_history(run.id, "loss")):
                assert time.monotonic() < deadline, "nothing was written before finish"
                time.sleep(0.02)
            seen = len(store.metric_history(run.id, "loss"))
        finally:
            store.close()
        assert 0 < seen <= n
    store = trialbook.open_store(root=tmp_path)
    try:
        history = store.metric_history(run.id, "loss")
        assert history.steps == tuple(range(n))
        assert store.metric_summaries([run.id])[run.id]["loss"].count == n
    finally:
        store.close()


def test_calls_logging_different_names_of_the_same_count_land_under_each_name(
    tmp_path: Path,
) -> None:
    with trialbook.start_run("e", root=tmp_path, flush_interval=3600.0, **FAST) as run:
        run.log({"a": 1.0}, step=0)
        run.log({"b": 2.0}, step=1)
        run.log({"a": 3.0, "b": 4.0}, step=2)
        run.log({"b": 5.0, "a": 6.0}, step=3)
        run.log({"c": 7.0}, step=4)
        run.flush()  # all five calls in one batch
        run.log({"a": 8.0}, step=5)
    store = trialbook.open_store(root=tmp_path)
    try:
        got = {k: store.metric_history(run.id, k) for k in "abc"}
    finally:
        store.close()
    assert (got["a"].steps, got["a"].values) == ((0, 2, 3, 5), (1.0, 3.0, 6.0, 8.0))
    assert (got["b"].steps, got["b"].values) == ((1, 2, 3), (2.0, 4.0, 5.0))
    assert (got["c"].steps, got["c"].values) == ((4,), (7.0,))
