"""The generic Store implementations of the dashboard's reads (what a new backend inherits)
agree with the SQL backend's own queries on the same data."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import trialbook
from trialbook.store import RunQuery, Store
from trialbook.testing.store_contract import new_run


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    root = tmp_path / "experiments"
    with trialbook.open_store(root, create=True) as store:
        t = 1_800_000_000.0
        for i in range(6):
            rid = f"20260101_120000_d{i}"
            config = {"lr": 0.1 * (i % 2 + 1), "opt": "adam", **({"extra": i} if i < 2 else {})}
            store.create_run(
                new_run(
                    rid,
                    experiment="a" if i < 4 else "b",
                    config=config,
                    tags=("x",) if i % 2 else ("y", "suite:demo"),
                    started_at=t + i,
                )
            )
            store.log_metrics(rid, {f"m{j}": [(1, float(i), t)] for j in range(i + 1)})
            store.log_evaluation(rid, "bench", {"accuracy": i / 10, "by": {"easy": 1.0}})
        store.finish_run("20260101_120000_d1", "completed", t + 20, 19.0)
        store.update_run("20260101_120000_d3", heartbeat_at=t + 30)
        yield store


@pytest.mark.parametrize(
    "options",
    [
        {"kind": "params"},
        {"kind": "params", "experiment": "a", "varying": True},
        {
            "kind": "params",
            "run_ids": ["20260101_120000_d2", "20260101_120000_d4"],
            "varying": True,
        },
        {"kind": "metrics", "experiment": "a", "limit": 2},
        {"kind": "metrics", "search": "M5"},
        {"kind": "metrics", "run_ids": ["20260101_120000_d0", "20260101_120000_d5"]},
    ],
)
def test_column_keys_default_matches_the_sql_query(store: Store, options: dict) -> None:  # type: ignore[type-arg]
    kind = options.pop("kind")
    assert Store.column_keys(store, kind, **options) == store.column_keys(kind, **options)


def test_counts_evaluations_and_changes_defaults_match_the_sql_queries(store: Store) -> None:
    query = RunQuery.parse(["m0>0.5"], experiment="a", tags=("x",))
    assert Store.count_runs(store, query) == store.count_runs(query) == 2
    for by in ("experiment", "status", "tag"):
        assert Store.run_counts(store, by) == store.run_counts(by)  # type: ignore[arg-type]
    for experiment in (None, "a", "nope"):
        assert Store.evaluation_metrics(store, experiment) == store.evaluation_metrics(experiment)
    assert Store.last_change(store) == store.last_change() == 1_800_000_030.0
    for since in (1_800_000_000.5, 1_800_000_004.0, time.time()):
        for watch in ((), ("20260101_120000_d1",)):
            default = Store.changed_runs(store, since, watch=watch, limit=3)
            assert [r.id for r in default] == [
                r.id for r in store.changed_runs(since, watch=watch, limit=3)
            ]


@pytest.mark.parametrize(("field", "value"), [("offset", 1 << 63), ("offset", -1), ("limit", -1)])
def test_a_page_bound_the_database_cannot_hold_is_one_sentence(
    store: Store, field: str, value: int
) -> None:
    from trialbook.errors import ConfigError

    sentence = rf"^{field} must be between 0 and 2\*\*62, got {value}\.$"
    with pytest.raises(ConfigError, match=sentence):
        store.list_runs(RunQuery(**{field: value}))
