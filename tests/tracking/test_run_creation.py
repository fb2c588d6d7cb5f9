"""One way to create a run: ``start_run`` and the Runner's queue both go through create_run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import trialbook
from trialbook.config import config_hash, group_key
from trialbook.store import short_run_id
from trialbook.tracking._create import CreatedRun, create_run

CONFIG = {"experiment": {"name": "exp"}, "lr": 0.1, "seed": 3}

#: Each test twice: into the workspace's SQLite file and into a PostgreSQL database.
pytestmark = pytest.mark.usefixtures("index_store")


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIALBOOK_RUN_ID", raising=False)
    monkeypatch.setenv("TRIALBOOK_SYSTEM_METRICS", "0")


def _queue(store: trialbook.Store, root: Path, **options: Any) -> CreatedRun:
    return create_run(
        store,
        root,
        experiment="exp",
        name="queued one",
        config=CONFIG,
        config_hash=config_hash(CONFIG),
        group_key=group_key(CONFIG),
        seed=3,
        status="queued",
        tags=("a", "b"),
        **options,
    )


def test_a_queued_run_gets_its_folder_config_and_row_but_no_provenance(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    with trialbook.open_store(root, create=True) as store:
        created = _queue(store, root)
        record = created.record
        folder = created.folder.path
        assert created.created and created.meta is None
        assert record.status == "queued" and record.pid is None and record.started_at is None
        assert folder.name == f"queued-one_{short_run_id(record.id)}"
        assert short_run_id(record.id) == record.short_id
        assert (folder / "config.yaml").exists() and not (folder / "meta.json").exists()
        assert record.tags == ("a", "b") and record.seed == 3


def test_a_started_run_is_made_the_same_way_with_its_provenance(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    options: dict[str, Any] = {"name": "queued one", "root": root, "capture_packages": False}
    with trialbook.start_run("exp", CONFIG, **options) as run:
        folder = Path(run.folder.path)
        assert folder.name == f"queued-one_{short_run_id(run.id)}"
        assert (folder / "config.yaml").exists() and (folder / "meta.json").exists()
    with trialbook.open_store(root) as store:
        record = store.get_run(run.id)
        queued = _queue(store, root).record
    assert record.pid is not None and record.started_at is not None
    # Same config, same experiment: the same identity whoever created the run.
    assert (record.config_hash, record.group_key) == (queued.config_hash, queued.group_key)


def test_a_run_another_runner_queued_meanwhile_is_returned_and_nothing_is_left(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ws"
    with trialbook.open_store(root, create=True) as store:
        first = _queue(store, root).record
        again = _queue(store, root, known=())
        assert not again.created and again.record.id == first.id
        kept = Path(first.folder or "")
        assert again.folder.path == kept
        assert sorted(p.name for p in root.iterdir() if p.is_dir()) == [kept.name]
