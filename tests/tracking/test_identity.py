"""Which runs share a config hash and a seed group."""

from __future__ import annotations

from pathlib import Path

import pytest

import trialbook

#: Each test twice: into the workspace's SQLite file and into a PostgreSQL database.
pytestmark = pytest.mark.usefixtures("index_store")


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIALBOOK_SYSTEM_METRICS", "0")
    monkeypatch.delenv("TRIALBOOK_RUN_ID", raising=False)


def test_experiments_with_identical_configs_form_separate_groups(tmp_path: Path) -> None:
    records = {}
    for experiment in ("resnet", "vit"):
        for seed in (1, 2):
            with trialbook.start_run(experiment, {"lr": 0.1}, seed=seed, root=tmp_path) as run:
                run.log({"acc": 0.5})
            records[experiment, seed] = run.record

    assert records["resnet", 1].group_key == records["resnet", 2].group_key
    assert records["vit", 1].group_key == records["vit", 2].group_key
    assert records["resnet", 1].group_key != records["vit", 1].group_key
    assert records["resnet", 1].config_hash != records["vit", 1].config_hash
    assert records["resnet", 1].config_hash != records["resnet", 2].config_hash


def test_the_hash_matches_a_config_that_names_its_experiment(tmp_path: Path) -> None:
    from trialbook.config import config_hash

    named = {"experiment": {"name": "resnet", "description": "x"}, "lr": 0.1, "seed": 1}
    with trialbook.start_run(config=named, root=tmp_path) as a:
        pass
    with trialbook.start_run("resnet", {"lr": 0.1}, seed=1, root=tmp_path) as b:
        pass

    assert a.record.config_hash == b.record.config_hash == config_hash(named)
