"""What a process keeps between runs (one Engine per database, the parsed pyproject.toml, the
workspace's write test) never hides a change: a closed Store leaves the others working, a
forked child gets its own connections, and a database replaced or changed between two runs is
noticed as it is on a first open."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import trialbook
from trialbook import Workspace
from trialbook.errors import ConfigError, NotATrialbookDatabase, SchemaVersionError
from trialbook.store._schema import KNOWN_REVISIONS, SCHEMA_REVISION

COMMON = {"system_metrics": False, "capture_packages": False}


@pytest.fixture(autouse=True)
def _no_env_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    monkeypatch.delenv("TRIALBOOK_ROOT", raising=False)


def _run(root: Path, lr: float) -> str:
    with trialbook.start_run("exp", {"lr": lr}, root=root, **COMMON) as run:
        run.log({"loss": lr}, step=0)
    return run.id


def test_closing_one_store_leaves_another_of_the_same_database_working(tmp_path: Path) -> None:
    root = tmp_path / "experiments"
    first_id = _run(root, 1.0)
    first = trialbook.open_store(root)
    second = trialbook.open_store(root)
    assert second.engine is first.engine  # one Engine (and statement cache) per database
    second.close()
    assert first.get_run(first_id).status == "completed"
    later_id = _run(root, 2.0)  # a new Store opens and closes while `first` is open
    assert first.get_run(later_id).status == "completed"
    first.change_tags(later_id, add=["kept"])  # and `first` still writes
    first.close()
    with trialbook.open_store(root) as again:
        assert again.get_run(later_id).tags == ("kept",)


def _child(root: str, queue: multiprocessing.Queue[str], engine: Any) -> None:
    try:
        # The parent's pooled connection is not the child's: SQLite connections must not
        # cross a fork (the child would use the parent's file locks).
        queue.put(f"inherited connections: {engine.pool.checkedin()}")
        queue.put(_run(Path(root), 3.0))
    except BaseException as e:  # reported to the parent, which fails the test
        queue.put(f"error: {e!r}")


def test_a_forked_child_tracks_a_run_through_the_engine_its_parent_shares(
    tmp_path: Path,
) -> None:
    root = tmp_path / "experiments"
    parent_id = _run(root, 1.0)
    held = trialbook.open_store(root)  # the parent holds a pooled connection meanwhile
    try:
        held.get_run(parent_id)
        ctx = multiprocessing.get_context("fork")
        queue: multiprocessing.Queue[str] = ctx.Queue()
        assert held.engine.pool.checkedin() == 1
        child = ctx.Process(target=_child, args=(str(root), queue, held.engine))
        child.start()
        assert queue.get(timeout=120) == "inherited connections: 0"
        child_id = queue.get(timeout=120)
        child.join(timeout=120)
        assert child.exitcode == 0
        assert not child_id.startswith("error"), child_id
        assert held.get_run(child_id).status == "completed"
        assert held.get_run(parent_id).status == "completed"
    finally:
        held.close()


def _foreign_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("keep_open", [False, True], ids=["none-open", "one-open"])
def test_a_database_file_replaced_between_two_runs_is_refused(
    tmp_path: Path, keep_open: bool
) -> None:
    root = tmp_path / "experiments"
    _run(root, 1.0)
    held = trialbook.open_store(root) if keep_open else None
    try:
        db = root / "trialbook.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        _foreign_database(db)
        with pytest.raises(NotATrialbookDatabase, match="did not create"):
            _run(root, 2.0)
    finally:
        if held is not None:
            held.close()


def test_a_database_set_back_to_an_older_schema_between_two_runs_is_refused(
    tmp_path: Path,
) -> None:
    root = tmp_path / "experiments"
    _run(root, 1.0)
    older = next(r for r in KNOWN_REVISIONS if r != SCHEMA_REVISION)
    with trialbook.open_store(root) as held:  # the shared Engine is in use meanwhile
        conn = sqlite3.connect(root / "trialbook.db")
        conn.execute("UPDATE alembic_version SET version_num = ?", (older,))
        conn.commit()
        conn.close()
        with pytest.raises(SchemaVersionError, match=f"has schema {older}"):
            _run(root, 2.0)
        assert held.url.endswith("trialbook.db")


def test_a_deleted_database_is_created_again_by_the_next_run(tmp_path: Path) -> None:
    root = tmp_path / "experiments"
    _run(root, 1.0)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{root / 'trialbook.db'}{suffix}").unlink(missing_ok=True)
    run_id = _run(root, 2.0)
    with trialbook.open_store(root) as db:
        assert [r.id for r in db.list_runs()] == [run_id]


def test_an_edited_pyproject_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.trialbook]\nroot = "first"\n')
    assert Workspace.resolve().root == tmp_path / "first"
    pyproject.write_text('[tool.trialbook]\nroot = "second-root"\n')
    assert Workspace.resolve().root == tmp_path / "second-root"
    pyproject.write_text("[tool.trialbook\n")
    with pytest.raises(ConfigError, match="fix its TOML"):
        Workspace.resolve()
