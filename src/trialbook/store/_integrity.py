"""Noticing a damaged SQLite file cheaply at open, and checking one thoroughly.

A full ``PRAGMA quick_check`` reads every page (seconds per GB, see bench/README.md), far
too slow for every ``trialbook ls``. So it runs only when the file is not the one last found
clean: after a clean check, after each write transaction of a Store that opened a clean file,
and when such a Store closes, the file's identity (inode, size, modification time) is written
to ``<db>-checked`` beside it (only when it changed: a stat and a 40-byte read otherwise). An
open whose file still matches that stamp skips the check; any other change (a crash, a copy,
a stray write) makes the next open check again.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path
from urllib.parse import quote

__all__ = [
    "check_at_open",
    "file_identity",
    "forget_check",
    "integrity_problems",
    "is_sqlite_file",
    "open_readonly",
    "record_clean",
    "stamp_path",
]

_SUFFIX = "-checked"


def stamp_path(db: Path) -> Path:
    """Where the identity of the file last found clean is kept."""
    return db.with_name(db.name + _SUFFIX)


def file_identity(db: Path) -> str | None:
    """inode, size and mtime (ns) of the database file; None when it cannot be read."""
    try:
        st = os.stat(db)
    except OSError:
        return None
    return f"{st.st_ino} {st.st_size} {st.st_mtime_ns}"


def record_clean(db: Path, identity: str | None = None) -> None:
    """Remember that ``db`` (as it is now, or as ``identity``) was found clean; best effort."""
    identity = identity or file_identity(db)
    if identity is None or _stamped(db, identity):
        return
    stamp = stamp_path(db)
    tmp = stamp.with_name(f".{stamp.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        tmp.write_text(identity + "\n", encoding="ascii")
        os.replace(tmp, stamp)
    except OSError:
        # Read-only folder or full disk: the next open checks again, which is only slower.
        with contextlib.suppress(OSError):
            tmp.unlink()


def forget_check(db: Path) -> None:
    """Drop the stamp, so that the next open checks the whole file again."""
    with contextlib.suppress(OSError):
        stamp_path(db).unlink()


def _stamped(db: Path, identity: str) -> bool:
    try:
        return stamp_path(db).read_text(encoding="ascii").strip() == identity
    except (OSError, UnicodeDecodeError):
        return False


def open_readonly(db: Path) -> sqlite3.Connection:
    """A connection to an existing file that runs only reads.

    Where the file and its folder can be written it is an ordinary connection: a read-only
    one would leave SQLite's -wal and -shm files behind, which the last ordinary connection
    removes as it closes. Elsewhere ``mode=ro`` (``immutable=1`` when the folder is read-only
    too, since SQLite could not even make its -shm file there).
    """
    if os.access(db, os.W_OK) and os.access(db.parent, os.W_OK):
        mode = "mode=rw"
    elif os.access(db.parent, os.W_OK):
        mode = "mode=ro"
    else:
        mode = "immutable=1"
    conn = sqlite3.connect(f"file:{quote(str(db.absolute()))}?{mode}", uri=True, timeout=60)
    conn.execute("PRAGMA query_only = ON")  # closing may still checkpoint committed WAL pages
    return conn


def is_sqlite_file(db: Path) -> bool:
    """Whether SQLite reads the existing file ``db`` as a database (an empty file is one).

    SQLite is asked rather than the 16-byte header read with ``open()``: closing any
    descriptor of a file drops every POSIX lock this process holds on it, including the locks
    of the process's open SQLite connections to it. Another process could then believe it is
    the last one using the database and delete its -wal and -shm files under those
    connections, which then fail with "disk I/O error". SQLite keeps its own descriptors open
    while a connection of this process holds locks, so opening through it is safe.

    Raises:
        PermissionError: the file cannot be read.
        sqlite3.OperationalError: SQLite cannot open it for another reason.
    """
    import errno

    if not os.access(db, os.R_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(db))
    try:
        conn = open_readonly(db)
    except sqlite3.DatabaseError as e:
        if "not a database" in str(e):
            return False
        raise
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as e:
        if "not a database" in str(e):
            return False
        raise
    finally:
        conn.close()
    return True


def integrity_problems(db: Path, *, quick: bool, limit: int = 20) -> list[str]:
    """What ``PRAGMA quick_check`` (or the slower ``integrity_check``) reports; [] when clean.

    A file SQLite cannot even read reports the error it gives.
    """
    pragma = "quick_check" if quick else "integrity_check"
    try:
        conn = open_readonly(db)
        try:
            rows = conn.execute(f"PRAGMA {pragma}({int(limit)})").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        return [str(e)]
    problems = [str(r[0]) for r in rows]
    return [] if problems == ["ok"] else problems


def check_database(db: Path, *, limit: int = 100) -> list[str]:
    """SQLite's full integrity check of the database file ``db`` (reads every page): the
    problems it reports (at most ``limit``), [] when the file is clean.

    A clean file is remembered, so that opening it skips the check until it changes; a damaged
    one is forgotten, so that the next open checks it again.
    """
    identity = file_identity(db)
    problems = integrity_problems(db, quick=False, limit=limit)
    if problems:
        forget_check(db)
    else:
        record_clean(db, identity)
    return problems


def check_at_open(db: Path) -> tuple[str | None, bool, list[str]]:
    """Check ``db`` unless it is the file last found clean.

    Returns the identity found clean (None when damaged), whether it was checked just now
    (the caller records it with :func:`record_clean` once it accepts the file), and the
    problems found.
    """
    identity = file_identity(db)
    if identity is None or _stamped(db, identity):
        return identity, False, []
    problems = integrity_problems(db, quick=True, limit=3)
    if problems:
        return None, True, problems
    return identity, True, []
