"""Store.latest_evaluations, the leaderboard's one bulk read: the SQL query returns what the
base class's default (list_runs + bulk_evaluations) returns."""

from __future__ import annotations

from pathlib import Path

import pytest

import trialbook
from trialbook.store import NewRun, Store


def _run(db: Store, i: int, experiment: str, status: str = "completed") -> str:
    run_id = f"20260101_000000_{i:06x}"
    db.create_run(
        NewRun(
            id=run_id,
            experiment=experiment,
            name=f"r{i}",
            config={"i": i},
            config_hash=f"{i:016x}",
            group_key=f"{i:016x}",
            status=status,  # type: ignore[arg-type]
        )
    )
    return run_id


def test_latest_evaluations_match_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    with trialbook.open_store(tmp_path / "ws", create=True) as db:
        a = _run(db, 1, "x")
        b = _run(db, 2, "y")
        c = _run(db, 3, "x", status="failed")
        d = _run(db, 4, "x")
        db.log_evaluation(a, "gsm8k", {"accuracy": 0.1})
        db.log_evaluation(a, "mmlu", {"accuracy": 0.9})
        db.log_evaluation(a, "gsm8k", {"accuracy": 0.3})  # the latest wins
        db.log_evaluation(b, "gsm8k", {"accuracy": 0.2})
        db.log_evaluation(c, "gsm8k", {"accuracy": 0.5})
        del d  # no evaluation at all

        got = db.latest_evaluations("gsm8k")
        assert got == Store.latest_evaluations(db, "gsm8k")
        assert {rid: e.metrics["accuracy"] for rid, e in got.items()} == {a: 0.3, b: 0.2}
        only_x = db.latest_evaluations("gsm8k", experiment="x")
        assert only_x == Store.latest_evaluations(db, "gsm8k", experiment="x")
        assert list(only_x) == [a]
        failed = db.latest_evaluations("gsm8k", statuses=("failed",))
        assert failed == Store.latest_evaluations(db, "gsm8k", statuses=("failed",))
        assert list(failed) == [c]
        assert db.latest_evaluations("nothing") == {}
