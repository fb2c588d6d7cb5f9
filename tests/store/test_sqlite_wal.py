"""WAL mode is switched on even while another process is writing to a new database."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from trialbook.store import _dialect


def test_enable_wal_waits_for_another_writer_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "trialbook.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.execute("INSERT INTO t VALUES (1)")
    # Another process inside a write transaction (as while it creates the same workspace):
    # switching to WAL is refused at once, SQLite calls no busy handler for it.
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("SELECT * FROM t").fetchall()
    other = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        other.execute("PRAGMA journal_mode = WAL")
        raise AssertionError("expected the switch to be refused while the writer holds a lock")
    except sqlite3.OperationalError as e:
        assert "locked" in str(e)
    finally:
        other.close()

    release = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    release.start()
    engine = _dialect.make_engine(f"sqlite:///{path}")
    try:
        _dialect.enable_wal(engine)
    finally:
        release.join()
        engine.dispose()
        writer.close()
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
