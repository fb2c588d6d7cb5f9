"""Database files written by earlier trialbook versions still open after `db upgrade`.

Each file in tests/store/data/ was made by the trialbook release whose schema revision it
names, with one run of known content. When the schema changes, add a file for the new
revision: these tests then prove every older file upgrades without losing data.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from trialbook.errors import SchemaVersionError
from trialbook.store import SCHEMA_REVISION, connect, schema_state, upgrade

DATA = Path(__file__).parent / "data"
OLD_FILES = sorted(DATA.glob("trialbook-*.db"))
RUN_ID = "20261123_194902_c4f66a"


def test_there_is_a_file_for_the_current_revision() -> None:
    assert DATA / f"trialbook-{SCHEMA_REVISION}.db" in OLD_FILES


@pytest.mark.parametrize("original", OLD_FILES, ids=lambda p: p.stem)
def test_old_file_upgrades_and_keeps_its_data(original: Path, tmp_path: Path) -> None:
    db = tmp_path / "trialbook.db"
    shutil.copy(original, db)
    url = f"sqlite:///{db}"
    revision = original.stem.removeprefix("trialbook-")
    assert schema_state(url) == (
        "current" if revision == SCHEMA_REVISION else "old",
        revision,
    )

    before, after = upgrade(url)
    assert (before, after) == (revision, SCHEMA_REVISION)

    store = connect(url)
    try:
        run = store.get_run(RUN_ID)
        assert (run.experiment, run.status, run.seed, run.tags) == (
            "fixture",
            "completed",
            1,
            ("old",),
        )
        assert store.params(RUN_ID) == {"training.lr": 0.001, "model": "mlp", "seed": 1}
        loss = store.metric_history(RUN_ID, "loss")
        assert len(loss) == 50 and loss.values[0] == 1.0 and loss.steps[-1] == 49
        assert math.isnan(store.metric_history(RUN_ID, "nan").values[0])
        summary = store.metric_summaries([RUN_ID])[RUN_ID]["acc"]
        assert (summary.max, summary.max_step, summary.count) == (49 / 50, 49, 50)
        samples = store.evaluation_samples(RUN_ID, "gsm8k")
        assert [(s.sample_id, s.correct) for s in samples] == [("a", True), ("b", False)]
        # The fixture's run folder was /tmp/fx/ws/fixture_c4f66a when it was made: after the
        # upgrade it is the folder of that name in the workspace the file now sits in.
        assert run.folder == str(tmp_path / "fixture_c4f66a")
    finally:
        store.close()


def test_upgrade_makes_run_folders_relative_to_the_workspace(tmp_path: Path) -> None:
    """tb0001 kept absolute paths; tb0002 keeps them relative to the workspace root."""
    import sqlite3

    ws = tmp_path / "ws"
    ws.mkdir()
    db = ws / "trialbook.db"
    shutil.copy(DATA / "trialbook-tb0001.db", db)
    conn = sqlite3.connect(db)
    with conn:
        # A second run whose folder the user put outside the workspace, one inside it under
        # another name, and artifacts / checkpoints inside and outside the run folders.
        conn.execute(
            "INSERT INTO runs (id, experiment_id, name, status, config, config_hash, group_key,"
            " tags, folder) SELECT '20261123_194903_bbbbbb', experiment_id, 'x', 'completed',"
            " '{}', 'h', 'g', '[]', '/elsewhere/outside' FROM runs"
        )
        conn.execute(
            "INSERT INTO runs (id, experiment_id, name, status, config, config_hash, group_key,"
            " tags, folder) SELECT '20261123_194904_cccccc', experiment_id, 'y', 'completed',"
            f" '{{}}', 'h', 'g', '[]', '{ws}/mine/y' FROM runs LIMIT 1"
        )
        conn.execute(
            "INSERT INTO artifacts (run_id, path, created_at) VALUES"
            f" ('{RUN_ID}', '/tmp/fx/ws/fixture_c4f66a/artifacts/model.pt', 1),"
            f" ('{RUN_ID}', '/data/train.csv', 1)"
        )
        conn.execute(
            "INSERT INTO checkpoints (run_id, path, metrics, created_at) VALUES"
            f" ('{RUN_ID}', '/tmp/fx/ws/fixture_c4f66a/checkpoints/step_1.pt', '{{}}', 1)"
        )
    conn.close()

    upgrade(f"sqlite:///{db}")

    conn = sqlite3.connect(db)
    stored = dict(conn.execute("SELECT id, folder FROM runs").fetchall())
    paths = sorted(
        r[0]
        for r in conn.execute("SELECT path FROM artifacts UNION ALL SELECT path FROM checkpoints")
    )
    conn.close()
    assert stored == {
        RUN_ID: "fixture_c4f66a",
        "20261123_194903_bbbbbb": "/elsewhere/outside",
        "20261123_194904_cccccc": "mine/y",
    }
    assert paths == [
        "/data/train.csv",
        "fixture_c4f66a/artifacts/model.pt",
        "fixture_c4f66a/checkpoints/step_1.pt",
    ]
    with connect(f"sqlite:///{db}") as store:
        assert store.get_run(RUN_ID).folder == str(ws / "fixture_c4f66a")
        assert store.get_run("20261123_194903_bbbbbb").folder == "/elsewhere/outside"
        assert [a.path for a in store.artifacts(RUN_ID)] == [
            str(ws / "fixture_c4f66a" / "artifacts" / "model.pt"),
            "/data/train.csv",
        ]
        assert [c.path for c in store.checkpoints(RUN_ID)] == [
            str(ws / "fixture_c4f66a" / "checkpoints" / "step_1.pt")
        ]


def test_an_old_database_is_refused_until_upgraded(tmp_path: Path) -> None:
    db = tmp_path / "trialbook.db"
    shutil.copy(DATA / "trialbook-tb0001.db", db)
    with pytest.raises(SchemaVersionError, match=f"trialbook db upgrade --root {tmp_path}"):
        connect(f"sqlite:///{db}")
