"""A damaged trialbook.db is noticed, refused for writes, checked and recovered.

Real files damaged the way disks and careless copies damage them: 8 KB of random bytes in the
middle of the file, or over the page holding a table. Real `trialbook` processes read them.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import textwrap
from pathlib import Path

import pytest
from store_helpers import cli, one_error_line

import trialbook
from trialbook.errors import NotATrialbookDatabase
from trialbook.store import connect
from trialbook.store._integrity import file_identity, stamp_path

COMMON = {"system_metrics": False, "capture_packages": False}
POINTS = 20_000
RUNS = 4


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace of RUNS completed runs, each with POINTS points of two metrics and an
    evaluation with samples (a database of a few MB)."""
    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE", "TRIALBOOK_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "ws"
    for i in range(RUNS):
        with trialbook.start_run("exp", {"lr": 0.1 * (i + 1)}, name=f"r{i}", root=root, seed=i,
                                 **COMMON) as run:  # fmt: skip
            for step in range(POINTS // 2):
                run.log({"loss": (i + 1) / (step + 1), "acc": step / POINTS}, step=step)
            run.log_evaluation(
                "bench",
                {
                    "metrics": {"acc": 0.25 * i},
                    "samples": [
                        {"id": "a", "prediction": "1", "reference": "1", "correct": True},
                        {"id": "b", "prediction": "2", "reference": "1", "correct": False},
                    ],
                },
            )
    return root


def garbage_at_half(db: Path, size: int = 8192) -> None:
    """``size`` random bytes at the middle of the file (page-aligned, as a bad sector is)."""
    n = db.stat().st_size
    with db.open("r+b") as f:
        f.seek(n // 2 // 4096 * 4096)
        f.write(random.Random(9).randbytes(size))


def garbage_over_table(db: Path, table: str) -> None:
    """Random bytes over the root page of ``table`` (a small table: all of its rows)."""
    conn = sqlite3.connect(db)
    (page,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    with db.open("r+b") as f:
        f.seek((page - 1) * page_size)
        f.write(random.Random(page).randbytes(page_size))


def listing(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


def test_a_clean_close_records_the_file_as_checked(ws: Path) -> None:
    db = ws / "trialbook.db"
    assert stamp_path(db).read_text().strip() == file_identity(db)


def test_writes_keep_the_stamp_current_while_the_store_stays_open(ws: Path) -> None:
    """A suite's writers move the WAL into the file (checkpoints) while other processes keep
    it open: each write re-stamps, so the next open is not made to check the whole file."""
    db = ws / "trialbook.db"
    reader = connect(f"sqlite:///{db}")  # keeps the database open, as a runner does
    writer = connect(f"sqlite:///{db}")
    try:
        run_id = reader.get_run("r0").id
        size = db.stat().st_size
        for i in range(30):  # ~6 MB of points: past SQLite's 1000-page autocheckpoint
            steps = list(range(POINTS + i * 10_000, POINTS + (i + 1) * 10_000))
            writer.log_metric_columns(
                run_id, {"loss": (steps, [1.0] * len(steps), [0.0] * len(steps))}
            )
        assert db.stat().st_size > size  # the file itself changed, not only the WAL
        assert stamp_path(db).read_text().strip() == file_identity(db)
    finally:
        writer.close()
        reader.close()
    assert stamp_path(db).read_text().strip() == file_identity(db)


def test_garbage_in_the_middle_is_noticed_and_ls_and_run_write_nothing(ws: Path) -> None:
    db = ws / "trialbook.db"
    garbage_at_half(db)
    before, files = sha(db), listing(ws)
    (ws.parent / "tasks.py").write_text("def train(config, run):\n    return {'acc': 1.0}\n")
    (ws.parent / "exp.yaml").write_text(
        textwrap.dedent("""
        experiment:
          name: exp
          entrypoint: tasks:train
        seed: 1
        """)
    )

    for args in (["ls"], ["run", "exp.yaml"], ["show", "r1"]):
        one_error_line(
            cli(ws.parent, *args, "--root", ws),
            f"The database {db} is damaged",
            f"trialbook db check --root {ws}",
            f"trialbook db recover --root {ws}",
        )
    with pytest.raises(NotATrialbookDatabase, match="db recover"):
        trialbook.start_run("exp", {}, root=ws, **COMMON)

    assert sha(db) == before
    assert listing(ws) == [f for f in files if not f.endswith("-checked")]


def test_damage_met_by_a_read_is_one_sentence_and_forgets_the_clean_stamp(ws: Path) -> None:
    """Damage done while the stamp still matches (as when it happens while a trialbook process
    has the file open) is not seen at open; the read that meets it says so, the Store does not
    record the file as clean when it closes, and the next open checks the whole file again."""
    db = ws / "trialbook.db"
    garbage_over_table(db, "metrics")
    stamp_path(db).write_text(f"{file_identity(db)}\n")  # as if found clean

    store = connect(f"sqlite:///{db}")  # the stamp matches: no check
    try:
        run = store.get_run("r2")
        with pytest.raises(NotATrialbookDatabase) as caught:
            store.metric_history(run.id, "loss")
    finally:
        store.close()

    message = str(caught.value)
    assert f"The database {db} is damaged" in message and "trialbook db recover" in message
    assert "\n" not in message
    assert not stamp_path(db).exists()
    one_error_line(cli(ws.parent, "ls", "--root", ws), "is damaged")


def test_db_check_exits_0_when_clean_and_1_naming_recover_when_damaged(ws: Path) -> None:
    clean = cli(ws.parent, "db", "check", "--root", ws)
    assert clean.returncode == 0, clean.stderr
    assert "passed SQLite's integrity check" in clean.stdout

    garbage_at_half(ws / "trialbook.db")
    damaged = cli(ws.parent, "db", "check", "--root", ws)

    assert damaged.returncode == 1
    assert damaged.stdout.strip()  # SQLite's own findings
    (line,) = damaged.stderr.strip().splitlines()
    assert "is damaged" in line and f"trialbook db recover --root {ws}" in line


def test_recover_copies_every_readable_row_and_keeps_the_damaged_file(ws: Path) -> None:
    db = ws / "trialbook.db"
    garbage_at_half(db)
    damaged_sha = sha(db)

    result = cli(ws.parent, "db", "recover", "--root", ws)

    assert result.returncode == 0, result.stdout + result.stderr
    (aside,) = ws.glob("trialbook.db.damaged-*[0-9]")
    assert sha(aside) == damaged_sha  # kept, byte for byte
    assert str(aside) in result.stdout and "unreadable in" in result.stdout
    assert cli(ws.parent, "db", "check", "--root", ws).returncode == 0
    with connect(f"sqlite:///{db}") as store:
        runs = store.list_runs()
        assert sorted(r.name for r in runs) == [f"r{i}" for i in range(RUNS)]
        points = sum(len(store.metric_history(r.id, k)) for r in runs for k in ("loss", "acc"))
        evaluations = [e for r in runs for e in store.evaluations(r.id)]
    # 8 KB of garbage costs a page or two of points, never everything.
    assert RUNS * POINTS - 1000 < points < RUNS * POINTS
    assert len(evaluations) == RUNS
    # The blocks long curves are drawn from are recomputed from the points that survived.
    conn = sqlite3.connect(db)
    per_metric = "SELECT run_num, key_id, {} FROM {} GROUP BY run_num, key_id ORDER BY 1, 2"
    held = conn.execute(per_metric.format('sum("count"), min(first_step), max(last_step)',
                                          "metric_blocks")).fetchall()  # fmt: skip
    stored = conn.execute(per_metric.format("count(*), min(step), max(step)", "metrics")).fetchall()
    conn.close()
    assert held == stored and sum(row[2] for row in held) == points
    # And the workspace takes new runs again.
    with trialbook.start_run("exp", {"lr": 9}, name="after", root=ws, **COMMON) as run:
        run.log({"loss": 1.0}, step=0)
    with connect(f"sqlite:///{db}") as store:
        assert store.get_run("after").status == "completed"


def test_recover_rebuilds_lost_runs_and_evaluations_from_their_folders(ws: Path) -> None:
    db = ws / "trialbook.db"
    with connect(f"sqlite:///{db}") as store:
        original = {r.id: r for r in store.list_runs()}
        summaries = store.metric_summaries(list(original))
        params = {run_id: store.params(run_id) for run_id in original}
    garbage_over_table(db, "runs")
    garbage_over_table(db, "evaluations")

    result = cli(ws.parent, "db", "recover", "--root", ws)

    assert result.returncode == 0, result.stdout + result.stderr
    # metric_summary survived, so every run's points are matched back to it.
    assert f"rebuilt from their folders: {RUNS} run(s) ({RUNS} with their metric points" in (
        result.stdout
    )
    with connect(f"sqlite:///{db}") as store:
        rebuilt = {r.id: r for r in store.list_runs()}
        assert set(rebuilt) == set(original)
        for run_id, before in original.items():
            after = rebuilt[run_id]
            assert (after.name, after.experiment, after.status, after.seed) == (
                before.name, before.experiment, before.status, before.seed,
            )  # fmt: skip
            assert after.config == before.config and after.config_hash == before.config_hash
            assert after.folder == before.folder and "recovered" in after.tags
            assert store.params(run_id) == params[run_id]
            (evaluation,) = store.evaluations(run_id)
            assert evaluation.benchmark == "bench"
            samples = store.samples(evaluation.id)
            assert [(s.sample_id, s.correct) for s in samples] == [("a", True), ("b", False)]
            final = store.metric_summaries([run_id])[run_id]["loss"]
            assert final == summaries[run_id]["loss"]
            history = store.metric_history(run_id, "loss")
            assert len(history) == POINTS // 2 and history.values[-1] == final.last


def test_recover_never_gives_a_rebuilt_run_points_it_cannot_identify(ws: Path) -> None:
    """With metric_summary lost too, nothing tells which lost run the points belonged to:
    they are dropped (and said so), not guessed."""
    db = ws / "trialbook.db"
    garbage_over_table(db, "runs")
    garbage_over_table(db, "metric_summary")

    result = cli(ws.parent, "db", "recover", "--root", ws)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{RUNS} run(s) (0 with their metric points" in result.stdout
    assert f"dropped from metrics: {RUNS * POINTS} row(s)" in result.stdout
    with connect(f"sqlite:///{db}") as store:
        for run in store.list_runs():
            assert len(store.metric_history(run.id, "loss")) == 0
            # The final metrics come back from summary.json.
            index = int(run.name[1:])
            last = store.metric_summaries([run.id])[run.id]["loss"].last
            assert last == (index + 1) / (POINTS // 2)


def test_recover_of_a_clean_database_changes_nothing_without_force(ws: Path) -> None:
    db = ws / "trialbook.db"
    before = sha(db)
    result = cli(ws.parent, "db", "recover", "--root", ws)
    assert result.returncode == 0 and "nothing to recover" in result.stdout
    assert sha(db) == before and not list(ws.glob("*.damaged-*"))


def test_db_check_and_recover_refuse_a_missing_database(tmp_path: Path) -> None:
    for command in ("check", "recover"):
        one_error_line(
            cli(tmp_path, "db", command, "--root", tmp_path / "nope"), "No database file at"
        )
    assert listing(tmp_path) == []


def test_a_file_that_is_no_longer_sqlite_at_all_is_rebuilt_from_the_run_folders(
    ws: Path,
) -> None:
    db = ws / "trialbook.db"
    with connect(f"sqlite:///{db}") as store:
        names = sorted(r.name for r in store.list_runs())
    db.write_bytes(random.Random(1).randbytes(100_000))
    one_error_line(
        cli(ws.parent, "ls", "--root", ws), "is not a SQLite database", "trialbook db recover"
    )

    result = cli(ws.parent, "db", "recover", "--root", ws)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "unreadable in runs: rowids all" in result.stdout
    (aside,) = ws.glob("trialbook.db.damaged-*[0-9]")
    assert aside.read_bytes() == random.Random(1).randbytes(100_000)
    with connect(f"sqlite:///{db}") as store:
        runs = store.list_runs()
        assert sorted(r.name for r in runs) == names
        assert all(len(store.evaluations(r.id)) == 1 for r in runs)
