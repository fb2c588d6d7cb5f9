"""The Store contract: one class of tests every Store backend passes.

A backend's own test suite subclasses :class:`StoreContract` (in a module pytest collects,
under a name starting with ``Test``) and overrides :meth:`StoreContract.make_store`::

    from contextlib import contextmanager

    from trialbook.testing import StoreContract


    class TestMyStore(StoreContract):
        @contextmanager
        def make_store(self, tmp_path, liveness):
            store = MyStore(tmp_path / "db", liveness=liveness)  # empty, schema ready
            try:
                yield store
            finally:
                store.close()

Every test talks to the abstract :class:`~trialbook.store.Store` only. A backend that cannot
be built here raises :class:`~trialbook.testing.BackendUnavailable` from ``make_store`` and
its tests are skipped (failed when ``CI=true``). trialbook's own SQLite backends run through
this class in tests/store/test_store_shared.py. Needs pytest.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

import pytest

from trialbook.config import flatten_config
from trialbook.errors import (
    AmbiguousRunError,
    ConfigError,
    RunNotFoundError,
    StoreError,
    TrialbookError,
)
from trialbook.store import (
    LivenessPolicy,
    MetricCondition,
    NewRun,
    ParamCondition,
    RunQuery,
    Sample,
    Store,
)
from trialbook.store._liveness import process_start_time
from trialbook.testing.stores import BackendUnavailable, skip_unavailable

__all__ = ["GRACE", "StoreContract", "new_run"]

#: Heartbeat grace for runs on other hosts; tests place heartbeats far inside or outside it.
GRACE = 60.0
HOST = socket.gethostname()
NAN = math.nan
INF = math.inf

_ME = (os.getpid(), process_start_time(os.getpid()))


def new_run(
    run_id: str,
    *,
    experiment: str = "exp",
    name: str = "run",
    started_at: float | None = None,
    **fields: Any,
) -> NewRun:
    """A run owned by this (live) test process unless ``fields`` say otherwise."""
    values: dict[str, Any] = {
        "config": {"lr": 0.1},
        "config_hash": "hash",
        "group_key": "group",
        "host": HOST,
        "pid": _ME[0],
        "pid_started_at": _ME[1],
    }
    values.update(fields)
    values.setdefault("params", flatten_config(values["config"]))
    return NewRun(
        id=run_id,
        experiment=experiment,
        name=name,
        started_at=time.time() if started_at is None else started_at,
        **values,
    )


def dead_process() -> tuple[int, float]:
    """The pid and start time of a process of this host that has exited (and been reaped)."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    started = process_start_time(child.pid)
    child.communicate(timeout=30)
    assert started is not None
    return child.pid, started


def same(a: float | None, b: float | None) -> bool:
    """Equality that also holds for NaN == NaN."""
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


def ids(runs: list[Any]) -> list[str]:
    return [r.id for r in runs]


class StoreContract:
    """The tests every Store backend passes; subclass it and override :meth:`make_store`.

    The ``store`` fixture hands each test a new, empty Store whose liveness policy gives
    runs on other hosts a heartbeat grace of :data:`GRACE` seconds.
    """

    def make_store(self, tmp_path: Path, liveness: LivenessPolicy) -> AbstractContextManager[Store]:
        """A context manager yielding an empty, schema-ready Store that uses ``liveness``
        for crash detection, and closing (and removing) it on exit.

        Args:
            tmp_path: a new folder the backend may use for its files.
            liveness: the crash-detection policy the Store must use.

        Raises:
            BackendUnavailable: the backend cannot be built here (the test is skipped; with
                ``CI=true`` it fails).
        """
        raise NotImplementedError(
            f"{type(self).__name__} must override make_store(tmp_path, liveness)."
        )

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        with ExitStack() as stack:
            try:
                built = stack.enter_context(self.make_store(tmp_path, LivenessPolicy(grace=GRACE)))
            except BackendUnavailable as e:
                skip_unavailable(e)
            yield built

    # ------------------------------------------------------------------ experiments
    def test_ensure_experiment_is_idempotent(self, store: Store) -> None:
        first = store.ensure_experiment("mnist")
        again = store.ensure_experiment("mnist")

        assert again == first
        assert [e.name for e in store.list_experiments()] == ["mnist"]

    def test_ensure_experiment_fills_a_missing_description_but_keeps_one_set(
        self, store: Store
    ) -> None:
        store.ensure_experiment("mnist")
        filled = store.ensure_experiment("mnist", description="digits", hypothesis="lr matters")
        kept = store.ensure_experiment("mnist", description="other", hypothesis="other")

        assert (filled.description, filled.hypothesis) == ("digits", "lr matters")
        assert (kept.description, kept.hypothesis) == ("digits", "lr matters")
        assert kept.id == filled.id

    def test_list_experiments_is_by_name_and_includes_those_create_run_made(
        self, store: Store
    ) -> None:
        store.ensure_experiment("zeta")
        store.create_run(new_run("20260101_000000_aaaaaa", experiment="alpha"))

        assert [e.name for e in store.list_experiments()] == ["alpha", "zeta"]

    # ------------------------------------------------------------------ create / get
    def test_create_run_returns_what_it_stored(self, store: Store) -> None:
        started = time.time()
        created = store.create_run(
            new_run(
                "20260101_000000_aaaaaa",
                experiment="mnist",
                name="baseline",
                started_at=started,
                config={"training": {"lr": 0.001, "epochs": 3}, "seed": 7},
                config_hash="c" * 64,
                group_key="g" * 16,
                seed=7,
                notes="first try",
                tags=("smoke", "cpu"),
                git_commit="abc123",
                git_branch="main",
                git_dirty=True,
                folder="/runs/baseline_aaaaaa",
            )
        )

        assert created == store.get_run("20260101_000000_aaaaaa")
        assert created.id == "20260101_000000_aaaaaa"
        assert (created.experiment, created.name, created.status) == (
            "mnist",
            "baseline",
            "running",
        )
        assert created.config == {"training": {"lr": 0.001, "epochs": 3}, "seed": 7}
        assert (created.config_hash, created.group_key, created.seed) == ("c" * 64, "g" * 16, 7)
        assert (created.notes, created.tags) == ("first try", ("smoke", "cpu"))
        assert (created.host, created.pid) == (HOST, os.getpid())
        assert created.started_at == started
        assert created.heartbeat_at == started
        assert (created.ended_at, created.duration, created.error) == (None, None, None)
        assert (created.git_commit, created.git_branch, created.git_dirty) == (
            "abc123",
            "main",
            True,
        )
        assert created.folder == "/runs/baseline_aaaaaa"
        assert created.short_id == "aaaaaa"

    def test_create_run_stores_the_flattened_config_as_params(self, store: Store) -> None:
        run = store.create_run(
            new_run(
                "20260101_000000_aaaaaa",
                config={"training": {"lr": 0.001, "schedule": {"warmup": 10}}, "seed": 7},
            )
        )

        assert store.params(run.id) == {
            "training.lr": 0.001,
            "training.schedule.warmup": 10,
            "seed": 7,
        }

    def test_create_run_rejects_an_unknown_status(self, store: Store) -> None:
        with pytest.raises(ConfigError, match="'paused'"):
            store.create_run(new_run("20260101_000000_aaaaaa", status="paused"))

    def test_create_run_with_a_taken_id_changes_nothing(self, store: Store) -> None:
        original = store.create_run(new_run("20260101_000000_aaaaaa", experiment="first"))

        with pytest.raises(StoreError):
            store.create_run(new_run("20260101_000000_aaaaaa", experiment="second", tags=("x",)))

        # Atomic: the experiment the failed call would have created is not there either.
        assert [e.name for e in store.list_experiments()] == ["first"]
        assert store.get_run(original.id) == original

    def test_get_run_by_full_id_prefix_short_id_and_name(self, store: Store) -> None:
        a = store.create_run(new_run("20260101_120000_a1b2c3", name="alpha"))
        b = store.create_run(new_run("20260102_120000_d4e5f6", name="beta"))

        assert store.get_run(a.id) == a
        assert store.get_run("20260101") == a
        assert store.get_run("20260102_12") == b
        assert store.get_run("d4e5f6") == b
        assert store.get_run("alpha") == a

    def test_get_run_prefers_an_exact_id_to_a_longer_id_it_prefixes(self, store: Store) -> None:
        short = store.create_run(new_run("run_1"))
        store.create_run(new_run("run_12"))

        assert store.get_run("run_1") == short

    def test_get_run_prefix_treats_underscore_literally(self, store: Store) -> None:
        under = store.create_run(new_run("20260101_120000_aaaaaa"))
        # Under a LIKE wildcard, "20260101_" would match this id too ('_' matches 'X').
        store.create_run(new_run("20260101X120000_bbbbbb"))

        assert store.get_run("20260101_") == under
        assert store.get_run("20260101_1") == under

    def test_get_run_prefix_treats_percent_literally(self, store: Store) -> None:
        store.create_run(new_run("20260101_120000_aaaaaa"))

        with pytest.raises(RunNotFoundError):
            store.get_run("2026%")

    def test_get_run_of_nothing_raises_run_not_found(self, store: Store) -> None:
        store.create_run(new_run("20260101_120000_aaaaaa", name="alpha"))

        with pytest.raises(RunNotFoundError, match="'nope'") as caught:
            store.get_run("nope")
        assert not isinstance(caught.value, AmbiguousRunError)

    def test_get_run_with_an_ambiguous_prefix_names_the_candidates(self, store: Store) -> None:
        a = store.create_run(new_run("20260101_120000_aaaaaa"))
        b = store.create_run(new_run("20260101_130000_bbbbbb"))
        store.create_run(new_run("20260202_120000_cccccc"))

        with pytest.raises(AmbiguousRunError) as caught:
            store.get_run("20260101_1")
        message = str(caught.value)
        assert a.id in message
        assert b.id in message
        assert "20260202_120000_cccccc" not in message

    def test_get_run_with_a_shared_name_names_the_candidates(self, store: Store) -> None:
        a = store.create_run(new_run("20260101_120000_aaaaaa", name="dup"))
        b = store.create_run(new_run("20260101_130000_bbbbbb", name="dup"))

        with pytest.raises(AmbiguousRunError) as caught:
            store.get_run("dup")
        assert a.id in str(caught.value)
        assert b.id in str(caught.value)

    # ------------------------------------------------------------------ update / finish
    def test_update_run_changes_the_given_fields_only(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa", notes="old", tags=("a",)))
        beat = time.time() + 5

        store.update_run(run.id, notes="new", tags=("b", "c"), heartbeat_at=beat, git_dirty=False)

        got = store.get_run(run.id)
        assert (got.notes, got.tags, got.heartbeat_at, got.git_dirty) == (
            "new",
            ("b", "c"),
            beat,
            False,
        )
        unchanged: dict[str, Any] = {
            "notes": run.notes,
            "tags": run.tags,
            "heartbeat_at": run.heartbeat_at,
        }
        assert dataclasses.replace(got, git_dirty=run.git_dirty, **unchanged) == run
        # The tag index follows the new tags.
        assert ids(store.list_runs(tags=("a",))) == []
        assert ids(store.list_runs(tags=("c",))) == [run.id]

    def test_update_run_refuses_fields_it_may_not_change(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))

        with pytest.raises(TypeError, match="config"):
            store.update_run(run.id, config={"lr": 1.0})
        assert store.get_run(run.id) == run

    def test_update_run_of_an_unknown_run_raises_run_not_found(self, store: Store) -> None:
        with pytest.raises(RunNotFoundError):
            store.update_run("20260101_120000_ffffff", notes="x")

    def test_update_run_rejects_an_unknown_status(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))

        with pytest.raises(ConfigError, match="'paused'"):
            store.update_run(run.id, status="paused")

    def test_finish_run_changes_the_run_once(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))
        ended = time.time() + 10

        assert store.finish_run(run.id, "failed", ended, 10.0, error="Traceback: boom") is True
        assert store.finish_run(run.id, "completed", ended + 5, 15.0) is False

        got = store.get_run(run.id)
        assert (got.status, got.ended_at, got.duration, got.error) == (
            "failed",
            ended,
            10.0,
            "Traceback: boom",
        )

    def test_finish_run_overwrites_crashed(self, store: Store) -> None:
        # On another host with a heartbeat older than the grace: readers mark it crashed.
        run = store.create_run(
            new_run("20260101_120000_aaaaaa", host="elsewhere", started_at=time.time() - 10_000)
        )
        assert store.get_run(run.id).status == "crashed"
        ended = time.time()

        assert store.finish_run(run.id, "completed", ended, 3.0) is True

        got = store.get_run(run.id)
        assert (got.status, got.ended_at, got.duration, got.error) == (
            "completed",
            ended,
            3.0,
            None,
        )

    def test_finish_run_of_an_unknown_run_raises_run_not_found(self, store: Store) -> None:
        with pytest.raises(RunNotFoundError):
            store.finish_run("20260101_120000_ffffff", "completed", time.time(), 1.0)

    def test_finish_run_rejects_an_unknown_status(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))

        with pytest.raises(ConfigError, match="'done'"):
            store.finish_run(run.id, "done", time.time(), 1.0)  # type: ignore[arg-type]
        assert store.get_run(run.id).status == "running"

    # ------------------------------------------------------------------ params
    def test_params_round_trip_every_json_type(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))
        params = {
            "training.lr": 1e-4,
            "training.epochs": 3,
            "training.big": 2**53 + 1,
            "model.name": "resnet",
            "model.numeric_text": "12",
            "model.pretrained": True,
            "model.frozen": False,
            "model.head": None,
            "data.splits": [0.8, 0.1, 0.1],
            "data.augment": {"flip": True, "crop": 32},
        }

        store.log_params(run.id, params)

        got = store.params(run.id)
        assert got == {**flatten_config(run.config), **params}
        for key, value in params.items():
            assert type(got[key]) is type(value), key

    def test_log_params_replaces_existing_keys(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))
        store.log_params(run.id, {"lr": 0.1, "opt": "sgd"})

        store.log_params(run.id, {"lr": 0.01, "wd": 0.0})

        assert store.params(run.id) == {"lr": 0.01, "opt": "sgd", "wd": 0.0}

    def test_bulk_params_match_params_for_many_runs(self, store: Store) -> None:
        ids = [f"20260101_120000_{i:06d}" for i in range(3)]
        for i, run_id in enumerate(ids):
            store.create_run(new_run(run_id, config={"lr": 0.1 * i, "model": {"depth": i}}))
        store.log_params(ids[1], {"note": "x", "flag": True})

        got = store.bulk_params([*ids, "20260101_120000_ffffff"])

        assert got == {
            **{run_id: store.params(run_id) for run_id in ids},
            "20260101_120000_ffffff": {},
        }
        assert got[ids[1]]["flag"] is True
        assert store.bulk_params([]) == {}

    def test_log_params_of_an_unknown_run_raises_run_not_found(self, store: Store) -> None:
        with pytest.raises(RunNotFoundError):
            store.log_params("20260101_120000_ffffff", {"lr": 0.1})

    def test_param_conditions_compare_numbers_text_and_bools(self, store: Store) -> None:
        runs: dict[str, dict[str, Any]] = {
            "slow": {"lr": 0.001, "layers": 12, "opt": "adam", "amp": True},
            "fast": {"lr": 0.1, "layers": 12.0, "opt": "sgd", "amp": False},
            "text": {"lr": "0.0001", "layers": "12", "opt": "adam", "amp": "true"},
        }
        for name, params in runs.items():
            store.create_run(new_run(f"20260101_120000_{name}", name=name))
            store.log_params(f"20260101_120000_{name}", params)

        def names(*conditions: ParamCondition) -> set[str]:
            return {r.name for r in store.list_runs(params=conditions)}

        assert names(ParamCondition("lr", "<", 0.01)) == {"slow"}
        assert names(ParamCondition("lr", ">=", 0.001)) == {"slow", "fast"}
        # 12 and 12.0 are the same number; the text "12" is not a number.
        assert names(ParamCondition("layers", "=", 12)) == {"slow", "fast"}
        assert names(ParamCondition("opt", "=", "adam")) == {"slow", "text"}
        assert names(ParamCondition("opt", "!=", "adam")) == {"fast"}
        assert names(ParamCondition("amp", "=", True)) == {"slow"}
        assert names(ParamCondition("amp", "=", False)) == {"fast"}
        # A bool is not the number 1.
        assert names(ParamCondition("amp", "=", 1)) == set()
        assert names(ParamCondition("lr", "<", 0.01), ParamCondition("opt", "=", "adam")) == {
            "slow"
        }
        assert names(ParamCondition("missing", "=", 1)) == set()

    def test_param_conditions_refuse_ordering_text_and_unknown_operators(
        self, store: Store
    ) -> None:
        with pytest.raises(ConfigError, match="'adam'"):
            store.list_runs(params=(ParamCondition("opt", "<", "adam"),))
        with pytest.raises(ConfigError, match="'~'"):
            store.list_runs(params=(ParamCondition("lr", "~", 1),))

    # ------------------------------------------------------------------ metrics
    def test_nan_and_infinities_come_back_as_given(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))
        values = [1.5, NAN, INF, -INF, 0.0, -0.25]

        store.log_metrics(run.id, {"loss": [(i, v, 100.0 + i) for i, v in enumerate(values)]})

        history = store.metric_history(run.id, "loss")
        assert history.steps == (0, 1, 2, 3, 4, 5)
        assert all(same(got, want) for got, want in zip(history.values, values, strict=True))
        assert history.times == (100.0, 101.0, 102.0, 103.0, 104.0, 105.0)
        assert history.finite_values() == [1.5, INF, -INF, 0.0, -0.25]

        store.log_metrics(run.id, {"loss": [(6, NAN, 106.0)]})
        summary = store.metric_summaries([run.id])[run.id]["loss"]
        assert math.isnan(summary.last)
        assert (summary.last_step, summary.count) == (6, 7)
        assert (summary.min, summary.min_step, summary.max, summary.max_step) == (-INF, 3, INF, 2)

    def test_history_is_by_step_then_logging_order(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))

        store.log_metrics(run.id, {"acc": [(5, 0.5, 1.0), (1, 0.1, 2.0), (3, 0.3, 3.0)]})
        store.log_metrics(run.id, {"acc": [(2, 0.2, 4.0), (3, 0.33, 5.0), (0, 0.0, 6.0)]})

        history = store.metric_history(run.id, "acc")
        assert history.steps == (0, 1, 2, 3, 3, 5)
        assert history.values == (0.0, 0.1, 0.2, 0.3, 0.33, 0.5)
        assert history.times == (6.0, 2.0, 4.0, 3.0, 5.0, 1.0)
        assert len(history) == 6

    def test_history_of_an_unknown_key_or_run_is_empty(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))
        store.log_metrics(run.id, {"acc": [(0, 1.0, 1.0)]})

        assert len(store.metric_history(run.id, "loss")) == 0
        assert len(store.metric_history("20260101_120000_ffffff", "acc")) == 0

    def test_metrics_of_several_keys_and_runs_stay_apart(self, store: Store) -> None:
        a = store.create_run(new_run("20260101_120000_aaaaaa"))
        b = store.create_run(new_run("20260101_120000_bbbbbb"))

        store.log_metrics(a.id, {"loss": [(0, 1.0, 1.0)], "acc": [(0, 0.5, 1.0)]})
        store.log_metrics(b.id, {"loss": [(0, 9.0, 1.0), (1, 8.0, 2.0)]})

        assert store.metric_history(a.id, "loss").values == (1.0,)
        assert store.metric_history(a.id, "acc").values == (0.5,)
        assert store.metric_history(b.id, "loss").values == (9.0, 8.0)
        assert len(store.metric_history(b.id, "acc")) == 0

    def test_summary_tracks_last_min_max_and_count_across_batches(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))

        store.log_metrics(run.id, {"loss": [(0, 3.0, 1.0), (1, 2.0, 2.0), (2, 2.5, 3.0)]})
        store.log_metrics(run.id, {"loss": [(3, 0.5, 4.0), (4, 4.0, 5.0)]})
        store.log_metrics(run.id, {"loss": [(5, 1.0, 6.0), (6, 0.5, 7.0)]})

        s = store.metric_summaries([run.id])[run.id]["loss"]
        assert (s.run_id, s.key) == (run.id, "loss")
        assert (s.last, s.last_step) == (0.5, 6)
        # Ties keep the first step that reached the extreme.
        assert (s.min, s.min_step) == (0.5, 3)
        assert (s.max, s.max_step) == (4.0, 4)
        assert s.count == 7
        assert (s.get("last"), s.get("min"), s.get("max")) == (0.5, 0.5, 4.0)

    def test_summary_last_is_the_value_at_the_highest_step_whatever_the_order(
        self, store: Store
    ) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))

        store.log_metrics(run.id, {"acc": [(10, 0.9, 1.0), (12, 0.7, 2.0), (11, 0.8, 3.0)]})
        store.log_metrics(run.id, {"acc": [(0, 0.1, 4.0), (2, 0.2, 5.0)]})

        s = store.metric_summaries([run.id])[run.id]["acc"]
        assert (s.last, s.last_step, s.count) == (0.7, 12, 5)
        assert (s.min, s.min_step, s.max, s.max_step) == (0.1, 0, 0.9, 10)

        # A later point at the same highest step wins the tie.
        store.log_metrics(run.id, {"acc": [(12, 0.75, 6.0)]})
        s = store.metric_summaries([run.id])[run.id]["acc"]
        assert (s.last, s.last_step, s.count) == (0.75, 12, 6)

    def test_summary_min_and_max_ignore_nan(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))

        store.log_metrics(
            run.id,
            {
                "loss": [(0, NAN, 1.0), (1, 2.0, 2.0), (2, NAN, 3.0), (3, 1.0, 4.0)],
                "grad": [(0, NAN, 1.0), (1, NAN, 2.0)],
            },
        )

        summaries = store.metric_summaries([run.id])[run.id]
        loss, grad = summaries["loss"], summaries["grad"]
        assert (loss.min, loss.min_step, loss.max, loss.max_step) == (1.0, 3, 2.0, 1)
        assert (loss.last, loss.count) == (1.0, 4)
        assert (grad.min, grad.min_step, grad.max, grad.max_step) == (None, None, None, None)
        assert math.isnan(grad.last)
        assert (grad.last_step, grad.count) == (1, 2)
        assert grad.get("min") is None

        # All-NaN so far, then finite values: min and max appear.
        store.log_metrics(run.id, {"grad": [(2, 5.0, 3.0), (3, NAN, 4.0), (4, -1.0, 5.0)]})
        grad = store.metric_summaries([run.id])[run.id]["grad"]
        assert (grad.min, grad.min_step, grad.max, grad.max_step) == (-1.0, 4, 5.0, 2)
        assert (grad.last, grad.last_step, grad.count) == (-1.0, 4, 5)

        # And a later all-NaN batch leaves them alone.
        store.log_metrics(run.id, {"grad": [(5, NAN, 6.0)]})
        grad = store.metric_summaries([run.id])[run.id]["grad"]
        assert (grad.min, grad.max, grad.count) == (-1.0, 5.0, 6)
        assert math.isnan(grad.last)

    def test_metric_summaries_filters_keys_and_lists_every_run_asked(self, store: Store) -> None:
        a = store.create_run(new_run("20260101_120000_aaaaaa"))
        b = store.create_run(new_run("20260101_120000_bbbbbb"))
        store.log_metrics(a.id, {"loss": [(0, 1.0, 1.0)], "acc": [(0, 0.5, 1.0)]})

        assert set(store.metric_summaries([a.id, b.id])[a.id]) == {"loss", "acc"}
        assert store.metric_summaries([a.id, b.id])[b.id] == {}
        assert set(store.metric_summaries([a.id], keys=["acc"])[a.id]) == {"acc"}
        assert store.metric_summaries([]) == {}

    def test_log_metric_columns_matches_log_metrics(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))

        store.log_metric_columns(
            run.id, {"loss": ([0, 1, 2], [1.0, NAN, 0.5], [10.0, 11.0, 12.0]), "none": ([], [], [])}
        )

        history = store.metric_history(run.id, "loss")
        assert history.steps == (0, 1, 2)
        assert history.values[0] == 1.0
        assert math.isnan(history.values[1])
        assert history.values[2] == 0.5
        s = store.metric_summaries([run.id])[run.id]
        assert set(s) == {"loss"}
        assert (s["loss"].min, s["loss"].max, s["loss"].count) == (0.5, 1.0, 3)

    def test_metric_buckets_keep_each_buckets_last_point_and_envelope(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))
        # steps 0..9, step 4 logged twice (the second one is the last), a spike at 6, NaN at 8
        points = [(i, float(i), 100.0 + i) for i in range(10)]
        points[6] = (6, 99.0, 106.0)
        points[8] = (8, NAN, 108.0)
        points.insert(5, (4, -7.0, 104.5))
        store.log_metrics(run.id, {"loss": points})

        b = store.metric_buckets(run.id, "loss", 5)  # width 2: [0,1] [2,3] [4,5] [6,7] [8,9]
        assert b.steps == (1, 3, 5, 7, 9)
        assert b.values == (1.0, 3.0, 5.0, 7.0, 9.0)
        assert b.times == (101.0, 103.0, 105.0, 107.0, 109.0)
        assert b.mins == (0.0, 2.0, -7.0, 7.0, 9.0)
        assert b.maxs == (1.0, 3.0, 5.0, 99.0, 9.0)
        assert b.counts == (2, 2, 3, 2, 2)
        assert (b.total, b.first_time, b.last_step, b.sampled) == (11, 100.0, 9, True)

        whole = store.metric_buckets(run.id, "loss", 20)
        assert whole.steps == (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
        assert whole.values[4] == -7.0  # the last point logged at step 4
        assert (whole.mins[4], whole.maxs[4], whole.counts[4]) == (-7.0, 4.0, 2)
        assert math.isnan(whole.values[8]) and math.isnan(whole.mins[8])

        after = store.metric_buckets(run.id, "loss", 20, after_step=7)
        assert (after.steps, after.total) == ((8, 9), 2)
        assert (after.first_time, after.last_step) == (100.0, 9)
        done = store.metric_buckets(run.id, "loss", 20, after_step=9)
        assert (done.steps, done.total, done.last_step) == ((), 0, 9)

        assert store.metric_buckets(run.id, "acc", 20).total == 0
        assert store.metric_buckets("20260101_120000_ffffff", "loss", 20).steps == ()
        with pytest.raises(TrialbookError, match="buckets must be"):
            store.metric_buckets(run.id, "loss", 1)

    def test_metric_history_after_returns_exactly_the_points_above_a_step(
        self, store: Store
    ) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))
        points = [(i, float(i), 100.0 + i) for i in range(6)]
        points.insert(4, (3, -3.0, 103.5))  # step 3 logged twice: both come back, in order
        points[1] = (1, NAN, 101.0)
        store.log_metrics(run.id, {"loss": points})

        after = store.metric_history_after(run.id, "loss", 2)
        assert after.steps == (3, 3, 4, 5)
        assert after.values == (3.0, -3.0, 4.0, 5.0)
        assert after.times == (103.0, 103.5, 104.0, 105.0)
        every = store.metric_history_after(run.id, "loss", -1)
        assert every.steps == store.metric_history(run.id, "loss").steps
        assert math.isnan(every.values[1])
        assert len(store.metric_history_after(run.id, "loss", 5)) == 0
        assert len(store.metric_history_after(run.id, "acc", 0)) == 0
        assert len(store.metric_history_after("20260101_120000_ffffff", "loss", 0)) == 0

    def test_metric_decimated_returns_the_last_point_of_each_bucket(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))
        # 3,000 points over steps 0..5999 (odd steps missing, a gap 2000..2999), step 10
        # logged twice, NaN at 4000: long enough for a store to seek instead of reading all
        points = [(s, float(s % 7), 1000.0 + s) for s in range(0, 6000, 2) if not 2000 <= s < 3000]
        points.insert(6, (10, -1.0, 1010.5))
        points = [(s, NAN if s == 4000 else v, t) for s, v, t in points]
        points += [(s, 1.0, 1000.0 + s) for s in range(6000, 7000)]
        store.log_metrics(run.id, {"loss": points})

        for buckets in (2, 7, 40, 500):
            d = store.metric_decimated(run.id, "loss", buckets)
            b = store.metric_buckets(run.id, "loss", buckets)
            assert d.steps == b.steps
            assert d.times == b.times
            assert [v if v == v else "nan" for v in d.values] == [
                v if v == v else "nan" for v in b.values
            ]
        assert store.metric_decimated(run.id, "loss", 20_000).steps == tuple(
            sorted({p[0] for p in points})
        )
        assert len(store.metric_decimated(run.id, "acc", 10)) == 0
        assert len(store.metric_decimated("20260101_120000_ffffff", "loss", 10)) == 0
        with pytest.raises(TrialbookError, match="buckets must be"):
            store.metric_decimated(run.id, "loss", 1)

    def test_log_metrics_of_an_unknown_run_raises_run_not_found(self, store: Store) -> None:
        with pytest.raises(RunNotFoundError):
            store.log_metrics("20260101_120000_ffffff", {"loss": [(0, 1.0, 1.0)]})

    def test_a_failed_log_metrics_stores_nothing_and_the_store_stays_usable(
        self, store: Store
    ) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))
        bad_time: Any = None  # the time column is NOT NULL: the insert fails mid-transaction

        with pytest.raises(StoreError):
            store.log_metrics(run.id, {"fresh": [(0, 1.0, 1.0)], "other": [(0, 2.0, bad_time)]})

        assert len(store.metric_history(run.id, "fresh")) == 0
        assert store.metric_summaries([run.id])[run.id] == {}
        # A new key may now get the id the failed call's key had before its rollback; the
        # keys the failed call introduced still work, each with its own points.
        store.log_metrics(run.id, {"third": [(1, 5.0, 2.0)]})
        store.log_metrics(run.id, {"fresh": [(1, 3.0, 2.0)], "other": [(1, 4.0, 2.0)]})
        assert store.metric_history(run.id, "third").values == (5.0,)
        assert store.metric_history(run.id, "fresh").values == (3.0,)
        assert store.metric_history(run.id, "other").values == (4.0,)
        assert store.stats().metric_points == 3

    # ------------------------------------------------------------------ list_runs
    def test_list_runs_filters_by_experiment_status_tags_group_and_seed(self, store: Store) -> None:
        now = time.time()
        specs = [
            ("20260101_120000_r1", "a", ("x", "y"), "g1", "h1", 1),
            ("20260101_120000_r2", "a", ("x",), "g1", "h1", 2),
            ("20260101_120000_r3", "b", (), "g2", "h2", 1),
        ]
        for i, (rid, exp, tags, group, chash, seed) in enumerate(specs):
            store.create_run(
                new_run(
                    rid,
                    experiment=exp,
                    tags=tags,
                    group_key=group,
                    config_hash=chash,
                    seed=seed,
                    started_at=now + i,
                )
            )
        store.finish_run("20260101_120000_r2", "completed", now + 10, 10.0)

        def found(**filters: Any) -> set[str]:
            return {r.id.rsplit("_", 1)[-1] for r in store.list_runs(**filters)}

        assert found() == {"r1", "r2", "r3"}
        assert found(experiment="a") == {"r1", "r2"}
        assert found(experiment="nope") == set()
        assert found(statuses=("running",)) == {"r1", "r3"}
        assert found(statuses=("completed", "failed")) == {"r2"}
        assert found(tags=("x",)) == {"r1", "r2"}
        assert found(tags=("x", "y")) == {"r1"}
        assert found(tags=("z",)) == set()
        assert found(group_key="g1") == {"r1", "r2"}
        assert found(config_hash="h1", seed=2) == {"r2"}
        assert found(config_hash="h1", seed=3) == set()
        assert found(seed=1) == {"r1", "r3"}
        assert found(experiment="a", statuses=("running",), tags=("x",)) == {"r1"}
        assert {r.id for r in store.list_runs(RunQuery(experiment="b"))} == {"20260101_120000_r3"}

    def test_list_runs_rejects_an_unknown_status(self, store: Store) -> None:
        with pytest.raises(ConfigError, match="'finished'"):
            store.list_runs(statuses=("completed", "finished"))

    def test_list_runs_rejects_a_query_and_keywords_together(self, store: Store) -> None:
        with pytest.raises(TypeError):
            store.list_runs(RunQuery(), experiment="a")

    def test_list_runs_rejects_an_unknown_order(self, store: Store) -> None:
        with pytest.raises(ConfigError, match="'colour'"):
            store.list_runs(order_by="colour")

    def test_list_runs_orders_by_start_time_newest_first_and_limits(self, store: Store) -> None:
        now = time.time()
        for i, tail in enumerate(["c", "a", "b"]):
            store.create_run(new_run(f"20260101_120000_{tail}", name=tail, started_at=now + i))

        assert [r.name for r in store.list_runs()] == ["b", "a", "c"]
        assert [r.name for r in store.list_runs(descending=False)] == ["c", "a", "b"]
        assert [r.name for r in store.list_runs(limit=2)] == ["b", "a"]
        assert [r.name for r in store.list_runs(order_by="name", descending=False)] == [
            "a",
            "b",
            "c",
        ]

    def test_list_runs_filters_by_metric_aggregates(self, store: Store) -> None:
        curves = {
            "good": [0.9, 0.2, 0.3],  # last 0.3, min 0.2, max 0.9
            "bad": [0.5, 0.6, 0.8],  # last 0.8, min 0.5, max 0.8
        }
        for name, values in curves.items():
            store.create_run(new_run(f"20260101_120000_{name}", name=name))
            store.log_metrics(
                f"20260101_120000_{name}",
                {"loss": [(i, v, float(i)) for i, v in enumerate(values)]},
            )
        store.create_run(new_run("20260101_120000_none", name="none"))

        def names(*conditions: MetricCondition) -> set[str]:
            return {r.name for r in store.list_runs(metrics=conditions)}

        assert names(MetricCondition("loss", "<", 0.5)) == {"good"}
        assert names(MetricCondition("loss", "<", 0.5, agg="last")) == {"good"}
        assert names(MetricCondition("loss", "<=", 0.5, agg="min")) == {"good", "bad"}
        assert names(MetricCondition("loss", ">", 0.85, agg="max")) == {"good"}
        assert names(MetricCondition("loss", "=", 0.8, agg="last")) == {"bad"}
        # A run without the metric never matches, whichever way the comparison goes.
        assert names(MetricCondition("loss", "!=", 12.0)) == {"good", "bad"}
        assert names(MetricCondition("acc", ">", -1.0)) == set()
        assert (
            names(MetricCondition("loss", "<", 0.5, agg="min"), MetricCondition("loss", ">", 0.5))
            == set()
        )

    def test_list_runs_orders_by_a_metric_with_runs_lacking_it_last(self, store: Store) -> None:
        curves = {"a": [0.1, 0.9], "b": [0.5, 0.4], "c": [0.3, 0.6]}
        for name, values in curves.items():
            store.create_run(new_run(f"20260101_120000_{name}", name=name))
            store.log_metrics(
                f"20260101_120000_{name}",
                {"acc": [(i, v, float(i)) for i, v in enumerate(values)]},
            )
        store.create_run(new_run("20260101_120000_m", name="missing"))

        def order(**options: Any) -> list[str]:
            return [r.name for r in store.list_runs(order_by="metrics.acc", **options)]

        assert order() == ["a", "c", "b", "missing"]
        assert order(descending=False) == ["b", "c", "a", "missing"]
        assert order(order_agg="min") == ["b", "c", "a", "missing"]
        assert order(order_agg="min", descending=False) == ["a", "c", "b", "missing"]
        assert order(order_agg="max", descending=False) == ["b", "c", "a", "missing"]
        assert order(limit=2) == ["a", "c"]
        assert order(descending=False, limit=4) == ["b", "c", "a", "missing"]

    # ------------------------------------------------------------------ evaluations
    # ------------------------------------------------------------------ paging, keys, changes
    def test_count_runs_counts_every_match_whatever_the_page(self, store: Store) -> None:
        now = time.time()
        for i in range(7):
            store.create_run(
                new_run(
                    f"20260101_120000_p{i}", experiment="a" if i < 5 else "b", started_at=now + i
                )
            )
            store.log_metrics(f"20260101_120000_p{i}", {"loss": [(1, float(i), now)]})
        query = RunQuery.parse(["loss<4"], sort="loss", experiment="a", limit=2, offset=1)

        assert store.count_runs(query) == 4
        assert store.count_runs() == 7
        assert [r.name for r in store.list_runs(query)] == ["run", "run"]
        assert [r.id[-2:] for r in store.list_runs(query)] == ["p1", "p2"]
        assert [r.id[-2:] for r in store.list_runs(dataclasses.replace(query, offset=3))] == ["p3"]

    def test_column_keys_count_search_cap_and_keep_varying_params(self, store: Store) -> None:
        now = time.time()
        for i in range(3):
            rid = f"20260101_120000_k{i}"
            config = {"lr": 0.1 * (i + 1), "opt": "adam", **({"extra": 1} if i == 0 else {})}
            store.create_run(new_run(rid, experiment="a", config=config, started_at=now + i))
            store.log_metrics(rid, {f"m{j}": [(1, 1.0, now)] for j in range(i + 1)})
        store.create_run(new_run("20260101_120000_other", experiment="b", config={"z": 1}))

        params = store.column_keys("params", experiment="a")
        assert (params.keys, params.total) == (("lr", "opt", "extra"), 3)
        varying = store.column_keys("params", experiment="a", varying=True)
        assert varying.keys == ("lr", "extra")
        metrics = store.column_keys("metrics", experiment="a", limit=2)
        assert (metrics.keys, metrics.total) == (("m0", "m1"), 3)
        assert store.column_keys("metrics", run_ids=["20260101_120000_k2"], search="M2").keys == (
            "m2",
        )
        assert store.column_keys("params").total == 4
        assert store.column_keys("params", run_ids=[]).total == 0
        with pytest.raises(ConfigError, match="'columns'"):
            store.column_keys("columns")  # type: ignore[arg-type]

    def test_evaluation_metrics_name_each_benchmarks_metrics(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_ev", experiment="a"))
        store.log_evaluation(run.id, "gsm8k", {"accuracy": 0.5, "by": {"easy": 0.7}})
        store.log_evaluation(run.id, "mmlu", {"acc": 0.3})

        expected = {"gsm8k": ["accuracy", "by.easy"], "mmlu": ["acc"]}
        assert store.evaluation_metrics() == expected
        assert store.evaluation_metrics("a") == expected
        assert store.evaluation_metrics("nope") == {}

    def test_run_counts_by_experiment_status_and_tag(self, store: Store) -> None:
        store.create_run(new_run("20260101_120000_t1", experiment="a", tags=("x", "y")))
        store.create_run(new_run("20260101_120000_t2", experiment="a", tags=("x",)))
        store.create_run(new_run("20260101_120000_t3", experiment="b"))
        store.finish_run("20260101_120000_t3", "failed", time.time(), 1.0)

        assert store.run_counts("experiment") == {"a": 2, "b": 1}
        assert store.run_counts("status") == {"failed": 1, "running": 2}
        assert store.run_counts("tag") == {"x": 2, "y": 1}
        with pytest.raises(ConfigError, match="'colour'"):
            store.run_counts("colour")  # type: ignore[arg-type]

    def test_change_tags_adds_and_removes_keeping_order(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_tg", tags=("a", "b")))

        assert store.change_tags(run.id, add=["c", "a", "c"], remove=["b"]) == ("a", "c")
        assert store.get_run(run.id).tags == ("a", "c")
        assert store.list_runs(tags=("c",))[0].id == run.id
        with pytest.raises(ConfigError, match="non-empty"):
            store.change_tags(run.id, add=[" "])
        with pytest.raises(RunNotFoundError):
            store.change_tags("nothing-here", add=["x"])

    def test_changed_runs_are_those_started_beaten_or_ended_after_since(self, store: Store) -> None:
        assert store.last_change() is None
        t = 1_800_000_000.0
        for i in range(3):
            store.create_run(new_run(f"20260101_120000_c{i}", started_at=t + i))
        assert store.last_change() == t + 2

        assert [r.id[-2:] for r in store.changed_runs(t)] == ["c1", "c2"]
        assert store.changed_runs(t + 2) == []
        store.update_run("20260101_120000_c0", heartbeat_at=t + 5)
        store.finish_run("20260101_120000_c1", "completed", t + 4, 3.0)
        assert [r.id[-2:] for r in store.changed_runs(t + 2)] == ["c1", "c0"]
        assert [r.id[-2:] for r in store.changed_runs(t + 2, limit=1)] == ["c1"]
        assert store.last_change() == t + 5
        # A watched run that stopped running is reported even when its times are older.
        assert [r.id[-2:] for r in store.changed_runs(t + 10, watch=["20260101_120000_c1"])] == [
            "c1"
        ]
        assert store.changed_runs(None, watch=["20260101_120000_c2", "unknown"]) == []

    def test_evaluations_and_samples_round_trip(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))
        samples = [
            Sample("q10", "4", "4", 1.0, True, {"tokens": 12, "trace": ["a", {"b": None}]}),
            Sample("q2", "five", "6", 0.0, False),
            Sample("q1", None, None, None, None, {"skipped": True}),
            Sample("q3", "7", "7", 0.5, None),
        ]

        first = store.log_evaluation(
            run.id,
            "gsm8k",
            {"accuracy": 0.5, "per_type": {"math": 0.5}},
            split="test",
            duration=12.5,
            samples=samples,
        )
        second = store.log_evaluation(run.id, "mmlu", {"accuracy": 0.7}, n=1000)

        assert (first.run_id, first.benchmark, first.split, first.n, first.duration) == (
            run.id,
            "gsm8k",
            "test",
            4,
            12.5,
        )
        assert first.metrics == {"accuracy": 0.5, "per_type": {"math": 0.5}}
        assert (second.n, second.split, second.duration) == (1000, None, None)
        assert first.id != second.id
        assert store.evaluations(run.id) == [first, second]
        assert store.evaluations(run.id, "mmlu") == [second]
        assert store.evaluations(run.id, "hellaswag") == []
        assert store.samples(first.id) == samples
        assert store.samples(second.id) == []

    def test_bulk_evaluations_match_evaluations_for_many_runs(self, store: Store) -> None:
        a = store.create_run(new_run("20260101_120000_aaaaaa"))
        b = store.create_run(new_run("20260101_120000_bbbbbb"))
        c = store.create_run(new_run("20260101_120000_cccccc"))
        store.log_evaluation(a.id, "gsm8k", {"accuracy": 0.1})
        store.log_evaluation(b.id, "gsm8k", {"accuracy": 0.2})
        store.log_evaluation(a.id, "gsm8k", {"accuracy": 0.3}, split="test")

        got = store.bulk_evaluations([a.id, b.id, c.id])

        assert got == {rid: store.evaluations(rid) for rid in (a.id, b.id, c.id)}
        assert [e.metrics["accuracy"] for e in got[a.id]] == [0.1, 0.3]
        assert got[c.id] == []

    def test_evaluation_samples_are_those_of_the_latest_evaluation(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))
        store.log_evaluation(
            run.id, "gsm8k", {"accuracy": 0.0}, samples=[Sample("1", "a", "b", 0.0, False)]
        )
        newer = [Sample("1", "b", "b", 1.0, True), Sample("2", "c", "c", 1.0, True)]
        store.log_evaluation(run.id, "gsm8k", {"accuracy": 1.0}, samples=newer)

        assert store.evaluation_samples(run.id, "gsm8k") == newer
        with pytest.raises(RunNotFoundError, match="'mmlu'"):
            store.evaluation_samples(run.id, "mmlu")

    def test_log_evaluation_of_an_unknown_run_stores_nothing(self, store: Store) -> None:
        with pytest.raises(RunNotFoundError):
            store.log_evaluation(
                "20260101_120000_ffffff",
                "gsm8k",
                {"a": 1.0},
                samples=[Sample("1", "a", "a", 1, True)],
            )
        stats = store.stats()
        assert (stats.evaluations, stats.samples) == (0, 0)

    # ------------------------------------------------------------------ files
    def test_checkpoints_round_trip_oldest_first(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))

        one = store.log_checkpoint(
            run.id, "/ckpt/step1.pt", step=1, size=10, sha256="a" * 64, metrics={"loss": 0.5}
        )
        two = store.log_checkpoint(run.id, "/ckpt/step2.pt")

        assert (one.run_id, one.path, one.step, one.size, one.sha256, one.metrics) == (
            run.id,
            "/ckpt/step1.pt",
            1,
            10,
            "a" * 64,
            {"loss": 0.5},
        )
        assert (two.step, two.size, two.sha256, two.metrics) == (None, None, None, {})
        assert store.checkpoints(run.id) == [one, two]

    def test_artifacts_round_trip_oldest_first(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))

        plot = store.log_artifact(run.id, "/a/plot.png", kind="figure", size=3, sha256="b" * 64)
        log = store.log_artifact(run.id, "/a/train.log")

        assert (plot.run_id, plot.path, plot.kind, plot.size, plot.sha256) == (
            run.id,
            "/a/plot.png",
            "figure",
            3,
            "b" * 64,
        )
        assert (log.kind, log.size, log.sha256) == (None, None, None)
        assert store.artifacts(run.id) == [plot, log]
        assert store.artifacts("20260101_120000_ffffff") == []

    def test_datasets_reuse_one_row_per_file_and_keep_lineage(self, store: Store) -> None:
        a = store.create_run(new_run("20260101_120000_aaaaaa"))
        b = store.create_run(new_run("20260101_120000_bbbbbb"))

        raw = store.log_dataset(a.id, "train", "/d/train.csv", sha256="1" * 64, size=100, rows=9)
        clean = store.log_dataset(
            a.id, "train-clean", "/d/clean.csv", sha256="2" * 64, parent="train", transform="dedup"
        )
        raw_again = store.log_dataset(b.id, "train", "/d/train.csv", sha256="1" * 64)
        store.log_dataset(a.id, "train", "/d/train.csv", sha256="1" * 64)  # declared twice
        changed = store.log_dataset(b.id, "train", "/d/train.csv", sha256="3" * 64)

        assert raw_again == raw
        assert (raw.name, raw.path, raw.sha256, raw.size, raw.rows) == (
            "train",
            "/d/train.csv",
            "1" * 64,
            100,
            9,
        )
        assert (raw.parent, raw.transform) == (None, None)
        assert (clean.parent, clean.transform) == ("train", "dedup")
        assert changed.id not in (raw.id, clean.id)
        assert store.datasets(a.id) == [raw, clean]
        assert store.datasets(b.id) == [raw, changed]

    def test_file_records_of_an_unknown_run_raise_run_not_found(self, store: Store) -> None:
        missing = "20260101_120000_ffffff"

        with pytest.raises(RunNotFoundError):
            store.log_checkpoint(missing, "/c.pt")
        with pytest.raises(RunNotFoundError):
            store.log_artifact(missing, "/a.png")
        with pytest.raises(RunNotFoundError):
            store.log_dataset(missing, "train", "/d.csv")
        assert store.checkpoints(missing) == []
        assert store.datasets(missing) == []

    # ------------------------------------------------------------------ stats
    def test_stats_count_runs_points_evaluations_and_samples(self, store: Store) -> None:
        store.ensure_experiment("empty")
        a = store.create_run(new_run("20260101_120000_aaaaaa", experiment="a"))
        b = store.create_run(new_run("20260101_120000_bbbbbb", experiment="a"))
        c = store.create_run(new_run("20260101_120000_cccccc", experiment="b"))
        store.finish_run(b.id, "completed", time.time(), 1.0)
        store.finish_run(c.id, "completed", time.time(), 1.0)
        store.log_metrics(a.id, {"loss": [(0, 1.0, 1.0), (1, NAN, 2.0)], "acc": [(0, 0.1, 1.0)]})
        store.log_metrics(c.id, {"loss": [(0, 1.0, 1.0)]})
        store.log_evaluation(
            a.id, "gsm8k", {"acc": 1.0}, samples=[Sample("1", "x", "x", 1.0, True)]
        )
        store.log_evaluation(b.id, "gsm8k", {"acc": 0.0})

        stats = store.stats()

        assert dict(stats.runs_by_status) == {"running": 1, "completed": 2}
        assert dict(stats.runs_by_experiment) == {"a": 2, "b": 1, "empty": 0}
        assert (stats.metric_points, stats.evaluations, stats.samples) == (4, 2, 1)
        assert isinstance(stats.url, str)
        assert stats.url
        assert stats.database_bytes is None or stats.database_bytes > 0

    # ------------------------------------------------------------------ crash detection
    def test_a_run_whose_process_died_on_this_host_is_crashed_on_the_next_read(
        self, store: Store
    ) -> None:
        pid, started = dead_process()
        run = store.create_run(
            new_run("20260101_120000_aaaaaa", pid=pid, pid_started_at=started, started_at=started)
        )
        assert run.status == "running"

        got = store.get_run(run.id)  # the Store's first read reaps

        assert got.status == "crashed"
        assert got.ended_at is not None
        assert got.started_at is not None and got.ended_at >= got.started_at
        assert got.error
        assert store.list_runs(statuses=("running",)) == []

    def test_list_runs_also_reaps(self, store: Store) -> None:
        pid, started = dead_process()
        run = store.create_run(new_run("20260101_120000_aaaaaa", pid=pid, pid_started_at=started))

        assert [(r.id, r.status) for r in store.list_runs()] == [(run.id, "crashed")]

    def test_a_reused_pid_does_not_keep_a_dead_run_alive(self, store: Store) -> None:
        # This process is alive, but it started long after the recorded start time.
        assert _ME[1] is not None
        run = store.create_run(
            new_run("20260101_120000_aaaaaa", pid=os.getpid(), pid_started_at=_ME[1] - 3600)
        )

        assert store.reap_dead_runs(force=True) == [run.id]
        assert store.get_run(run.id).status == "crashed"

    def test_a_run_whose_process_lives_stays_running(self, store: Store) -> None:
        run = store.create_run(
            new_run(
                "20260101_120000_aaaaaa",
                pid=os.getpid(),
                pid_started_at=process_start_time(os.getpid()),
                started_at=time.time() - 10_000,  # an old heartbeat does not matter on this host
            )
        )

        assert store.reap_dead_runs(force=True) == []
        assert store.get_run(run.id).status == "running"
        assert [r.status for r in store.list_runs()] == ["running"]

    def test_runs_on_other_hosts_live_by_their_heartbeat(self, store: Store) -> None:
        now = time.time()
        stale = store.create_run(
            new_run("20260101_120000_stale", host="gpu-07", pid=4242, started_at=now - 10_000)
        )
        fresh = store.create_run(
            new_run("20260101_120000_fresh", host="gpu-07", pid=4242, started_at=now - 10_000)
        )
        store.update_run(fresh.id, heartbeat_at=now)
        no_pid = store.create_run(
            new_run("20260101_120000_nopid", pid=None, pid_started_at=None, started_at=now - 10_000)
        )

        assert sorted(store.reap_dead_runs(force=True)) == sorted([stale.id, no_pid.id])

        got = store.get_run(stale.id)
        assert got.status == "crashed"
        # The run ended when it was last known alive.
        assert got.ended_at == stale.heartbeat_at
        assert store.get_run(fresh.id).status == "running"
        assert store.get_run(no_pid.id).status == "crashed"

    def test_reaping_leaves_finished_and_queued_runs_alone(self, store: Store) -> None:
        pid, started = dead_process()
        done = store.create_run(new_run("20260101_120000_done", pid=pid, pid_started_at=started))
        store.finish_run(done.id, "completed", started + 1, 1.0)
        queued = store.create_run(
            new_run("20260101_120000_queued", status="queued", pid=pid, pid_started_at=started)
        )

        assert store.reap_dead_runs(force=True) == []
        assert store.get_run(done.id).status == "completed"
        assert store.get_run(queued.id).status == "queued"

    # ------------------------------------------------------------------ records
    def test_records_are_frozen(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))
        store.log_metrics(run.id, {"loss": [(0, 1.0, 1.0)]})
        evaluation = store.log_evaluation(
            run.id, "gsm8k", {"acc": 1.0}, samples=[Sample("1", "a", "a", 1.0, True)]
        )
        store.log_checkpoint(run.id, "/c.pt")
        store.log_artifact(run.id, "/a.png")
        store.log_dataset(run.id, "train", "/d.csv")
        records: list[Any] = [
            store.ensure_experiment("exp"),
            store.get_run(run.id),
            store.metric_history(run.id, "loss"),
            store.metric_summaries([run.id])[run.id]["loss"],
            store.evaluations(run.id)[0],
            store.samples(evaluation.id)[0],
            store.checkpoints(run.id)[0],
            store.artifacts(run.id)[0],
            store.datasets(run.id)[0],
            store.stats(),
            store.list_experiments()[0],
            store.list_runs()[0],
        ]

        for record in records:
            field = dataclasses.fields(record)[0].name
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(record, field, None)

    def test_records_handed_out_do_not_change_with_the_store(self, store: Store) -> None:
        config = {"lr": 0.1}
        run = store.create_run(new_run("20260101_120000_aaaaaa", notes="before", config=config))
        config["lr"] = 99.0
        store.log_metrics(run.id, {"loss": [(0, 1.0, 1.0)]})
        summary = store.metric_summaries([run.id])[run.id]["loss"]
        history = store.metric_history(run.id, "loss")

        store.update_run(run.id, notes="after")
        store.finish_run(run.id, "completed", time.time(), 1.0)
        store.log_metrics(run.id, {"loss": [(1, 0.5, 2.0)]})

        assert (run.notes, run.status, run.config) == ("before", "running", {"lr": 0.1})
        assert (summary.last, summary.count, len(history)) == (1.0, 1, 1)
        assert store.get_run(run.id).config == {"lr": 0.1}

    # ------------------------------------------------------------------ threads
    def test_threads_may_write_and_read_at_once(self, store: Store) -> None:
        run = store.create_run(new_run("20260101_120000_aaaaaa"))
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def work(key: str) -> None:
            try:
                start.wait(timeout=30)
                for step in range(40):
                    store.log_metrics(run.id, {key: [(step, float(step), float(step))]})
                    store.log_params(run.id, {key: step})
                    store.get_run(run.id)
                    store.list_runs(order_by="metrics.k0")
                    store.metric_history(run.id, key)
            except BaseException as e:  # collected and re-raised by the main thread
                errors.append(e)

        threads = [threading.Thread(target=work, args=(f"k{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)

        assert errors == []
        summaries = store.metric_summaries([run.id])[run.id]
        assert {k: s.count for k, s in summaries.items()} == {f"k{i}": 40 for i in range(4)}
        params = store.params(run.id)
        assert {k: v for k, v in params.items() if k.startswith("k")} == {
            f"k{i}": 39 for i in range(4)
        }
        for i in range(4):
            assert store.metric_history(run.id, f"k{i}").steps == tuple(range(40))

    def test_errors_are_trialbook_errors(self, store: Store) -> None:
        # Whatever goes wrong in a backend reaches callers as one of ours.
        with pytest.raises(TrialbookError):
            store.get_run("nothing-here")
