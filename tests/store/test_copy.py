"""``copy_store``: a whole workspace index from SQLite to PostgreSQL and back, every row equal,
ids kept, a run logged afterwards getting new ones; refusals and failures that write nothing.

Runs on the session's real PostgreSQL server (``postgres_server`` in tests/conftest.py); without
one the PostgreSQL tests are skipped with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import io
import math
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

import trialbook
from trialbook.errors import ConfigError, SchemaVersionError, StoreError, WorkspaceError
from trialbook.store import connect, copy_store, schema_state, upgrade
from trialbook.store._copy import _verify, store_url_of
from trialbook.store._schema import DERIVED_TABLES, metadata
from trialbook.testing.stores import new_postgres_database

_ENV = ("TRIALBOOK_ROOT", "TRIALBOOK_STORE", "TRIALBOOK_SYSTEM_METRICS")
COPIED = [t for t in metadata.sorted_tables if t.name not in DERIVED_TABLES]


@dataclass(frozen=True)
class Workspace:
    root: Path
    outside: Path  # an artifact logged without copying, outside the root
    runs: tuple[str, ...]


def _samples(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"q{i}",
            "prediction": str(i),
            "reference": "3",
            "correct": i == 3,
            "score": i / n,
            "category": "even" if i % 2 == 0 else "odd",
        }
        for i in range(n)
    ]


def build_workspace(base: Path) -> Workspace:
    """Runs with metrics (NaN, inf, two points at one step), params, tags, notes, evaluations
    with samples, checkpoints, artifacts (one outside the root), a dataset, a failed run."""
    root = base / "experiments"
    common = {"root": root, "system_metrics": False, "capture_packages": False}
    data = base / "train.jsonl"
    data.write_text('{"x": 1}\n{"x": 2}\n', encoding="utf-8")
    outside = base / "notes.txt"
    outside.write_text("kept outside the workspace\n", encoding="utf-8")
    ids = []
    for seed, lr in ((1, 0.001), (2, 0.01)):
        config = {"lr": lr, "optimizer": "adam", "model": {"layers": 2, "act": "relu"}}
        with trialbook.start_run(
            "baseline", config, seed=seed, name="mlp", tags=["sweep"], notes="first try", **common
        ) as run:
            for step in range(300):
                run.log({"loss": 1.0 / (step + 1), "acc": step / 300}, step=step)
            run.log({"loss": 0.25}, step=299)  # a second point at one step: order matters
            run.log_evaluation(
                "gsm8k", {"metrics": {"accuracy": 0.25}, "split": "test", "samples": _samples(8)}
            )
            weights = run.checkpoint_dir / "model.pt"
            weights.write_bytes(b"\0" * 1024)
            run.log_checkpoint(weights, step=299, metrics={"loss": 0.25})
            plot = base / f"curve{seed}.png"
            plot.write_bytes(b"png")
            run.log_artifact(plot, kind="plot")
            run.log_artifact(outside, kind="notes", copy=False)
            run.log_dataset(data, "train")
            ids.append(run.id)
    try:
        with trialbook.start_run("ablation", {"lr": 0.1}, seed=3, name="big-lr", **common) as run:
            for step, loss in enumerate([2.0, math.nan, math.inf]):
                run.log({"loss": loss}, step=step)
            ids.append(run.id)
            raise RuntimeError("diverged")
    except RuntimeError:
        pass
    return Workspace(root, outside, tuple(ids))


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    with pytest.MonkeyPatch.context() as mp:
        for name in _ENV:
            mp.delenv(name, raising=False)
        yield build_workspace(tmp_path_factory.mktemp("copy"))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def pg(postgres_server: str) -> str:
    """A new, empty PostgreSQL database."""
    return new_postgres_database(postgres_server)


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'trialbook.db'}"


def table_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every copied table, sorted, as plain tuples."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return {
                t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=repr)
                for t in COPIED
            }
    finally:
        engine.dispose()


def foreign_keys(url: str) -> list[tuple[Any, ...]]:
    from trialbook.store._copy import _FOREIGN_KEYS

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(_FOREIGN_KEYS))]
    finally:
        engine.dispose()


def histories(url: str, root: Path, run_ids: tuple[str, ...]) -> dict[tuple[str, str], Any]:
    """Every run's loss and acc as read back: (steps, values as repr, so NaN equals NaN)."""
    out: dict[tuple[str, str], Any] = {}
    with trialbook.open_store(root, url) as db:
        for run_id in run_ids:
            for key in ("loss", "acc"):
                h = db.metric_history(run_id, key)
                out[(run_id, key)] = (h.steps, [repr(v) for v in h.values], h.times)
    return out


# ------------------------------------------------------------------------------ round trip
def test_sqlite_to_postgres_to_sqlite_keeps_every_row(ws: Workspace, pg: str, tmp_path: Path):
    source = sqlite_url(ws.root)
    there = copy_store(ws.root, pg)
    back = copy_store(pg, tmp_path / "back", source_root=ws.root)

    original = table_rows(source)
    assert table_rows(pg) == original
    assert table_rows(sqlite_url(tmp_path / "back")) == original
    assert there.rows == back.rows == {name: len(rows) for name, rows in original.items()}
    assert there.rows["metrics"] == 2 * (2 * 300 + 1) + 3
    assert there.rows["samples"] == 16
    # Blocks are rebuilt from the points: every point is in exactly one block.
    assert there.blocks > 0 and back.blocks == there.blocks
    # The SQLite copy is in WAL mode, like every database trialbook creates.
    with sqlite3.connect(tmp_path / "back" / "trialbook.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_postgres_to_another_postgres_database_on_the_same_server(
    ws: Workspace, pg: str, postgres_server: str
):
    copy_store(ws.root, pg)
    other = new_postgres_database(postgres_server)
    report = copy_store(pg, other)
    assert table_rows(other) == table_rows(sqlite_url(ws.root))
    assert report.root is None  # no SQLite file, no TRIALBOOK_ROOT: not known
    with pytest.raises(ConfigError, match="the same database"):
        copy_store(other, other.replace("postgres@", "someone@"))


def test_metric_histories_read_back_the_same_in_logging_order(
    ws: Workspace, pg: str, tmp_path: Path
):
    copy_store(ws.root, pg)
    copy_store(pg, tmp_path / "back")
    want = histories(sqlite_url(ws.root), ws.root, ws.runs)
    assert want[(ws.runs[0], "loss")][1][-2:] == [repr(1.0 / 300), repr(0.25)]
    assert want[(ws.runs[2], "loss")][1] == ["2.0", "nan", "inf"]
    assert histories(pg, ws.root, ws.runs) == want
    assert histories(sqlite_url(tmp_path / "back"), ws.root, ws.runs) == want


def test_postgres_gets_every_foreign_key_a_new_database_has(
    ws: Workspace, pg: str, postgres_server: str
):
    copy_store(ws.root, pg)
    fresh = new_postgres_database(postgres_server)
    connect(fresh, create=True).close()
    assert foreign_keys(pg) == foreign_keys(fresh)
    # Every foreign key of the metadata but the two of metrics (SQLite only, schema tb0004)
    # and the two of metric_blocks (tb0006).
    assert len(foreign_keys(pg)) == sum(len(t.foreign_keys) for t in metadata.sorted_tables) - 4
    assert not [key for key in foreign_keys(pg) if key[0] == "metrics"]


def test_a_run_logged_after_the_copy_gets_new_ids_on_postgres(
    ws: Workspace, pg: str, tmp_path: Path
):
    root = tmp_path / "ws"  # the new run's folder goes here, not into the shared workspace
    shutil.copytree(ws.root, root)
    copy_store(root, pg)
    before = table_rows(pg)
    with trialbook.start_run(
        "baseline",
        {"lr": 0.5},
        seed=9,
        root=root,
        store_url=pg,
        system_metrics=False,
        capture_packages=False,
    ) as run:
        run.log({"loss": 0.5, "new_metric": 1.0}, step=0)
        run.log_evaluation("gsm8k", {"metrics": {"accuracy": 1.0}, "samples": _samples(2)})
        weights = run.checkpoint_dir / "w.pt"
        weights.write_bytes(b"1")
        run.log_checkpoint(weights, step=0)
        new_id = run.id
    engine = create_engine(pg)
    try:
        with engine.connect() as conn:
            nums = dict(conn.execute(text("SELECT id, num FROM runs")).all())
            keys = dict(conn.execute(text("SELECT name, id FROM metric_keys")).all())
            evals = conn.execute(text("SELECT run_id, id FROM evaluations")).all()
            experiments = conn.execute(
                select(func.count()).select_from(metadata.tables["experiments"])
            ).scalar()
    finally:
        engine.dispose()
    old_nums = [num for run_id, num in nums.items() if run_id != new_id]
    assert nums[new_id] > max(old_nums)
    assert keys["new_metric"] > max(v for k, v in keys.items() if k != "new_metric")
    new_eval = [e for run_id, e in evals if run_id == new_id]
    assert len(new_eval) == 1 and new_eval[0] > max(e for r, e in evals if r != new_id)
    assert experiments == len(before["experiments"])  # "baseline" was found, not re-created
    with trialbook.open_store(root, pg) as db:
        assert db.get_run(new_id).status == "completed"
        assert db.metric_summaries([new_id])[new_id]["loss"].last == 0.5
        assert [p.sample_id for p in db.samples(db.evaluations(new_id)[0].id)] == ["q0", "q1"]
        # The copied runs are untouched by the new one.
        assert db.get_run(ws.runs[0]).status == "completed"


def test_folders_are_copied_under_a_new_root_and_found_there(ws: Workspace, tmp_path: Path):
    shared = tmp_path / "shared" / "experiments"
    report = copy_store(ws.root, tmp_path / "index.db", folders=shared)

    assert report.root == shared
    assert report.folders_copied == len(ws.runs)
    assert report.missing == ()
    assert report.outside_root == (str(ws.outside),)
    with trialbook.open_store(shared, f"sqlite:///{tmp_path / 'index.db'}") as db:
        for run_id in ws.runs:
            record = db.get_run(run_id)
            assert record.folder is not None and Path(record.folder).parent == shared
            assert (Path(record.folder) / "config.yaml").is_file()
        checkpoint = db.checkpoints(ws.runs[0])[0]
        assert Path(checkpoint.path).is_relative_to(shared)
        assert Path(checkpoint.path).read_bytes() == b"\0" * 1024
        paths = {a.kind: a.path for a in db.artifacts(ws.runs[0])}
        assert Path(paths["plot"]).is_relative_to(shared) and Path(paths["plot"]).is_file()
        assert paths["notes"] == str(ws.outside)  # outside the root: kept as it was


def test_a_postgres_source_finds_its_folders_under_trialbook_root(
    ws: Workspace, pg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    copy_store(ws.root, pg)
    monkeypatch.setenv("TRIALBOOK_ROOT", str(ws.root))
    report = copy_store(pg, tmp_path / "laptop", folders=tmp_path / "laptop")
    assert report.root == tmp_path / "laptop"
    assert report.folders_copied == len(ws.runs) and report.missing == ()
    with trialbook.open_store(tmp_path / "laptop") as db:
        assert all(Path(str(db.get_run(r).folder)).is_dir() for r in ws.runs)


def test_folders_that_would_be_overwritten_are_refused_before_anything_is_written(
    ws: Workspace, tmp_path: Path
):
    shared = tmp_path / "shared"
    with trialbook.open_store(ws.root) as db:
        folder = db.get_run(ws.runs[1]).folder
    assert folder is not None
    first = Path(folder)
    (shared / first.name).mkdir(parents=True)
    with pytest.raises(WorkspaceError, match=f"already holds {first.name}"):
        copy_store(ws.root, tmp_path / "dst", folders=shared)
    assert not (tmp_path / "dst").exists()
    assert sorted(p.name for p in shared.iterdir()) == [first.name]


def test_a_missing_run_folder_is_reported(ws: Workspace, tmp_path: Path):
    moved = tmp_path / "ws"
    shutil.copytree(ws.root, moved)
    gone = next(p for p in moved.iterdir() if p.is_dir())
    shutil.rmtree(gone)
    report = copy_store(moved, tmp_path / "copy")
    assert report.missing == (gone.name,)
    assert report.root == moved


# --------------------------------------------------------------------------- refusals
def test_a_destination_that_holds_runs_is_refused_and_left_alone(
    ws: Workspace, pg: str, tmp_path: Path
):
    copy_store(ws.root, pg)
    before = table_rows(pg)
    with pytest.raises(ConfigError, match=r"already holds a trialbook index with 3 run\(s\)"):
        copy_store(ws.root, pg)
    assert table_rows(pg) == before

    other = tmp_path / "other"
    shutil.copytree(ws.root, other)
    with pytest.raises(ConfigError, match="already holds a trialbook index"):
        copy_store(pg, other)


def test_a_database_with_only_the_schema_is_empty_enough(ws: Workspace, pg: str):
    upgrade(pg)  # `trialbook db upgrade` on the new database first, as docs/team.md allows
    report = copy_store(ws.root, pg)
    assert not report.created_schema
    assert table_rows(pg) == table_rows(sqlite_url(ws.root))


def test_a_foreign_destination_is_refused(ws: Workspace, pg: str):
    engine = create_engine(pg)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE theirs (x integer)"))
    engine.dispose()
    with pytest.raises(ConfigError, match="tables that are not trialbook's"):
        copy_store(ws.root, pg)


@pytest.mark.parametrize(
    "destination",
    ["sqlite:///{root}/trialbook.db", "{root}", "{root}/trialbook.db", "{root}/../experiments"],
)
def test_the_same_database_twice_is_refused(ws: Workspace, destination: str):
    with pytest.raises(ConfigError, match="the same database"):
        copy_store(ws.root, destination.format(root=ws.root))


def test_bad_sources_and_destinations_are_one_sentence(ws: Workspace, tmp_path: Path):
    with pytest.raises(WorkspaceError, match=r"no trialbook database at .*nowhere"):
        copy_store(tmp_path / "nowhere", tmp_path / "dst")
    with pytest.raises(ConfigError, match="mysql URL, which trialbook cannot store runs in"):
        copy_store(ws.root, "mysql://user@localhost/db")
    with pytest.raises(ConfigError, match="in-memory SQLite database"):
        copy_store(ws.root, "sqlite://")
    with pytest.raises(ConfigError, match="is not a database URL"):
        copy_store(ws.root, "postgresql://user@host:notaport/db")
    with pytest.raises(ConfigError, match="needs the folder they are in now"):
        copy_store("postgresql://user@localhost/db", tmp_path / "dst", folders=tmp_path / "x")
    (tmp_path / "empty.db").touch()
    with pytest.raises(StoreError, match="no trialbook tables; nothing to copy"):
        copy_store(tmp_path / "empty.db", tmp_path / "dst")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


def test_an_old_source_is_refused_with_the_upgrade_command(tmp_path: Path):
    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(Path(__file__).parent / "data" / "trialbook-tb0001.db", old / "trialbook.db")
    with pytest.raises(SchemaVersionError, match="db upgrade"):
        copy_store(old, tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_store_url_of_reads_folders_db_files_and_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    assert store_url_of(tmp_path) == f"sqlite:///{tmp_path / 'trialbook.db'}"
    assert store_url_of(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"
    assert store_url_of("postgresql://u@h/db") == "postgresql://u@h/db"
    monkeypatch.chdir(tmp_path)
    assert store_url_of("ws") == f"sqlite:///{tmp_path / 'ws' / 'trialbook.db'}"


# ----------------------------------------------------------------- failures write nothing
class Interrupted(BaseException):
    """What Ctrl-C raises in the middle of a copy (KeyboardInterrupt would stop pytest)."""


@contextmanager
def _stop_at(stage: str, label: str, total: int | None) -> Iterator[Any]:
    def advance(n: int) -> None:
        if label == stage:
            raise Interrupted

    yield advance


def test_a_copy_interrupted_part_way_leaves_postgres_empty(ws: Workspace, pg: str):
    with pytest.raises(Interrupted):
        copy_store(ws.root, pg, progress=lambda label, total: _stop_at("samples", label, total))
    assert schema_state(pg) == ("empty", None)


def test_a_copy_interrupted_part_way_leaves_no_sqlite_file(ws: Workspace, tmp_path: Path):
    dst = tmp_path / "new" / "ws"
    with pytest.raises(Interrupted):
        copy_store(
            ws.root,
            dst,
            folders=tmp_path / "shared",
            progress=lambda label, total: _stop_at("run folders", label, total),
        )
    assert sorted(tmp_path.iterdir()) == []


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_true_draws_each_stage_on_a_terminal_and_nothing_elsewhere(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    report = copy_store(ws.root, tmp_path / "a.db", folders=tmp_path / "a", progress=True)
    assert report.rows["runs"] == len(ws.runs)
    for stage in ("runs", "metrics", "samples", "metric_blocks", "run folders"):
        assert stage in terminal.getvalue(), stage
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    copy_store(ws.root, tmp_path / "b.db", progress=True)
    assert pipe.getvalue() == ""


def test_a_row_postgres_cannot_hold_fails_the_copy_whole(ws: Workspace, pg: str, tmp_path: Path):
    """PostgreSQL's text holds no NUL character; SQLite's does. The copy stops at that table
    and rolls back everything before it."""
    nul = tmp_path / "nul"
    shutil.copytree(ws.root, nul)
    engine = create_engine(sqlite_url(nul))
    with engine.begin() as conn:
        conn.execute(text("UPDATE samples SET prediction = 'a' || char(0) || 'b'"))
    engine.dispose()
    with pytest.raises(StoreError, match=r"Writing the samples table into .* nothing was written"):
        copy_store(nul, pg)
    assert schema_state(pg) == ("empty", None)


def test_points_of_a_run_deleted_by_hand_on_postgres_stop_a_copy_into_sqlite_until_deleted(
    ws: Workspace, pg: str, tmp_path: Path
):
    """On PostgreSQL, metrics has no foreign keys (tb0004): a hand-written DELETE FROM runs
    leaves the run's points behind. SQLite's keys refuse them: the copy fails whole, and
    goes through once they are deleted (the statement docs/workspace.md gives)."""
    copy_store(ws.root, pg)
    engine = create_engine(pg)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM runs WHERE id = :id"), {"id": ws.runs[0]})
            orphans = conn.execute(
                text("SELECT count(*) FROM metrics WHERE run_num NOT IN (SELECT num FROM runs)")
            ).scalar_one()
        assert orphans == 2 * 300 + 1
        with pytest.raises(StoreError, match=r"Writing the metrics table into .* nothing was"):
            copy_store(pg, tmp_path / "back")
        assert not (tmp_path / "back" / "trialbook.db").exists()

        with engine.begin() as conn:
            conn.execute(text("DELETE FROM metrics WHERE run_num NOT IN (SELECT num FROM runs)"))
    finally:
        engine.dispose()
    report = copy_store(pg, tmp_path / "back")
    assert report.rows["runs"] == len(ws.runs) - 1
    assert ws.runs[0] not in {r[1] for r in table_rows(sqlite_url(tmp_path / "back"))["runs"]}


def test_counts_that_differ_are_named_and_refused(ws: Workspace):
    engine = create_engine(sqlite_url(ws.root))
    try:
        with engine.connect() as conn:
            counts = {name: len(rows) for name, rows in table_rows(sqlite_url(ws.root)).items()}
            _verify(conn, counts, "here")  # equal: passes
            wrong = {**counts, "samples": counts["samples"] + 1}
            with pytest.raises(StoreError, match=r"samples: 17 in the source, 16 in the copy"):
                _verify(conn, wrong, "here")
    finally:
        engine.dispose()
