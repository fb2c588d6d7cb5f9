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
    finally:
        store.close()
