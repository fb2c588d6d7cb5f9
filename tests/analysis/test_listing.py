"""Listing runs and seed groups from Python: what ``trialbook ls`` shows, as data."""

from __future__ import annotations

from pathlib import Path

import pytest

import trialbook
from trialbook.analysis import Scope, list_groups, list_runs
from trialbook.errors import ConfigError
from trialbook.store import RunQuery


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("listing") / "experiments"
    common = {"root": root, "system_metrics": False, "capture_packages": False}
    for lr, losses in ((0.1, (0.5, 0.4)), (0.01, (0.3, 0.2))):
        for seed, loss in enumerate(losses, start=1):
            with trialbook.start_run("e", {"lr": lr}, seed=seed, **common) as run:
                run.log({"loss": loss})
    return root


def test_list_runs_orders_by_a_metric_and_carries_summaries(root: Path) -> None:
    with trialbook.open_store(root) as store:
        listing = list_runs(store, RunQuery.parse(sort="loss"), Scope.of(where="params.lr<0.05"))

    assert [listing.summaries[r.id]["loss"].last for r in listing.records] == [0.2, 0.3]
    docs = listing.documents()
    assert [d["metrics"] for d in docs] == [{"loss": 0.2}, {"loss": 0.3}]
    assert docs[0]["id"] == listing.records[0].id


def test_list_groups_puts_the_best_mean_first(root: Path) -> None:
    with trialbook.open_store(root) as store:
        listing = list_groups(store, RunQuery.parse(sort="loss", statuses=("completed",)))

    assert [round(m, 6) for m in listing.groups["metrics.loss.mean"]] == [0.25, 0.45]
    assert listing.metrics == [("loss", "metrics.loss")]
    docs = listing.documents()
    assert [d["n"] for d in docs] == [2, 2]
    assert docs[0]["ref"].startswith("group:")


def test_a_sort_metric_no_run_logged_names_the_parameter(root: Path) -> None:
    with trialbook.open_store(root) as store, pytest.raises(ConfigError) as info:
        list_runs(store, RunQuery.parse(sort="los"))

    assert "'los' (sort=...); did you mean 'loss'?" in str(info.value)
    assert info.value.parameter == "sort"


def test_a_where_key_no_run_has_names_the_parameter_and_its_text(root: Path) -> None:
    with trialbook.open_store(root) as store, pytest.raises(ConfigError) as info:
        list_runs(store, RunQuery(), Scope.of(where="params.lrr<1"))

    assert "(where='params.lrr<1'); did you mean 'params.lr'?" in str(info.value)
    assert (info.value.parameter, info.value.value) == ("where", "params.lrr<1")
