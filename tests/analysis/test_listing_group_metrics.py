"""Seed groups summarising the metrics a caller names (the dashboard's ``metric=``)."""

from __future__ import annotations

from pathlib import Path

import pytest

import trialbook
from trialbook.analysis import list_groups
from trialbook.errors import ConfigError
from trialbook.store import RunQuery


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("group_metrics") / "experiments"
    common = {"root": root, "system_metrics": False, "capture_packages": False}
    for lr, losses in ((0.1, (0.5, 0.4)), (0.01, (0.3, 0.2))):
        for seed, loss in enumerate(losses, start=1):
            with trialbook.start_run("e", {"lr": lr}, seed=seed, **common) as run:
                run.log({"loss": loss, "acc": 1 - loss})
    return root


def test_named_metrics_are_summarised_after_the_sorted_one(root: Path) -> None:
    query = RunQuery.parse(sort="loss", statuses=("completed",))
    with trialbook.open_store(root) as store:
        listing = list_groups(store, query, metrics=["metrics.acc", "loss"])

    assert listing.metrics == [("loss", "metrics.loss"), ("metrics.acc", "metrics.acc")]
    assert [round(m, 6) for m in listing.groups["metrics.acc.mean"]] == [0.75, 0.55]


def test_a_named_metric_no_run_has_is_a_did_you_mean(root: Path) -> None:
    with trialbook.open_store(root) as store, pytest.raises(ConfigError, match="'accc'"):
        list_groups(store, RunQuery(statuses=("completed",)), metrics=["accc"])
