"""The corpus's own checks can fail: the snapshot sees each kind of change it guards against,
and the one-line check refuses what click and a traceback print."""

from __future__ import annotations

import pytest
from hostile_helpers import Case, Outcome, assert_one_line_error, assert_unchanged, cli

import trialbook


def test_snapshot_is_stable_across_a_reading_command(case: Case) -> None:
    before = case.snap()
    assert cli(["ls", "--root", case.ws]).exit_code == 0
    assert cli(["show", "alpha", "--root", case.ws]).exit_code == 0
    assert_unchanged(before, case.snap())


def test_snapshot_sees_a_new_empty_folder(case: Case) -> None:
    before = case.snap()
    (case.tmp / "experiments").mkdir()
    with pytest.raises(AssertionError, match="experiments"):
        assert_unchanged(before, case.snap())


def test_snapshot_sees_a_byte_changed_in_place(case: Case) -> None:
    weights = next(case.base.root.glob("alpha_*/checkpoint/model.pt"))
    before = case.snap()
    original = weights.read_bytes()
    try:
        weights.write_bytes(b"\1" + original[1:])
        with pytest.raises(AssertionError, match=r"model\.pt"):
            assert_unchanged(before, case.snap())
    finally:
        weights.write_bytes(original)


def test_snapshot_sees_one_metric_point_in_an_open_run(case: Case) -> None:
    with trialbook.start_run(
        "hostile", {"lr": 0.1}, root=case.ws, system_metrics=False, capture_packages=False
    ) as run:
        run.flush()
        before = case.snap()
        run.log({"loss": 0.5}, step=1)
        run.flush()
        after = case.snap()
    with pytest.raises(AssertionError):
        assert_unchanged(before, after)
    db = str(case.ws / "trialbook.db")
    counts = [snap.rows[db] for snap in (before, after)]
    assert [c["metrics"] for c in counts if isinstance(c, dict)] == [30, 31]


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(
            2,
            "",
            "Usage: trialbook ls [OPTIONS]\nTry 'trialbook ls -h' for help.\n\n"
            "Error: No such option: --limt\n",
        ),
        Outcome(1, "", "Traceback (most recent call last):\n  ...\nValueError: x\n"),
        Outcome(2, "", "error: Traceback in one line\n"),
        Outcome(0, "", ""),
        Outcome(2, "", "Error: not our prefix\n"),
    ],
    ids=["click-usage-block", "traceback", "traceback-word", "success", "wrong-prefix"],
)
def test_one_line_check_refuses_what_is_not_one_error_line(outcome: Outcome) -> None:
    with pytest.raises(AssertionError):
        assert_one_line_error(outcome)


def test_snapshot_skips_sqlite_journal_files_but_sees_a_row_only_in_the_wal(case: Case) -> None:
    import sqlite3

    db = case.ws / "trialbook.db"
    before = case.snap()
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        con.execute("PRAGMA wal_autocheckpoint = 0")  # the row stays in trialbook.db-wal
        con.execute("CREATE TABLE scratch (x)")
        con.execute("INSERT INTO scratch VALUES (1)")
        con.commit()
        after = case.snap()
        assert (case.ws / "trialbook.db-wal").stat().st_size > 0
    finally:
        con.close()
    assert (str(db) + "-wal") not in after.files and (str(db) + "-shm") not in after.files
    assert after.files[str(db)] == before.files[str(db)]  # the database file itself: untouched
    with pytest.raises(AssertionError, match="scratch"):
        assert_unchanged(before, after)
