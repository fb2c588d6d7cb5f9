"""Opening a Store: checking the schema version, creating a new database, migrating."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    inspect,
)
from sqlalchemy import exc as sa_exc

from trialbook._redact import hide_passwords
from trialbook.errors import (
    NotATrialbookDatabase,
    SchemaVersionError,
    StoreError,
    WorkspaceError,
)
from trialbook.store import _dialect, _integrity
from trialbook.store._dialect import store_flag
from trialbook.store._liveness import LivenessPolicy
from trialbook.store._schema import KNOWN_REVISIONS, SCHEMA_REVISION, metadata
from trialbook.store._sql import SQLStore

__all__ = ["SchemaState", "connect", "create_schema", "schema_state", "upgrade"]

SchemaState = Literal["current", "empty", "old", "newer", "foreign"]

_version_table = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


@dataclass
class _SharedEngine:
    """One Engine this process uses for every Store of one database: SQLAlchemy caches the
    statements it compiled on the Engine, so a Store opened per run (``start_run``) does not
    compile its statements again. ``users`` counts the open Stores using it; when the last
    closes, its connections are closed (``dispose`` keeps the Engine and its cache)."""

    engine: Engine
    #: (device, inode) of the SQLite file the Engine opened; None for a server database.
    identity: tuple[int, int] | None
    users: int = 0


#: Shared engines by store URL (see _SharedEngine).
_engines: dict[str, _SharedEngine] = {}
_engines_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # A forked child must not use the connections it inherited (the parent still does): give
    # every shared Engine a new pool without closing the parent's connections, as SQLAlchemy
    # documents for multiprocessing. The compiled statements stay cached.
    global _engines_lock
    _engines_lock = threading.Lock()  # another thread may have held it at the fork
    for shared in _engines.values():
        shared.engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _file_identity(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _acquire_engine(url: str, read_only: Path | None) -> tuple[Engine, Callable[[], None]]:
    """An Engine for ``url`` and the function that gives it back (once; closing the
    Engine's connections when no other Store of this process uses it).

    In-memory SQLite (each Store its own database) and read-only files get an Engine of
    their own. A SQLite file replaced since the shared Engine opened it (another inode) gets
    a new Engine, so that no Store writes into the old file through a pooled connection.
    """
    path = _dialect.sqlite_path(url)
    memory = path is None and _dialect.parse_url(url).get_backend_name() == "sqlite"
    identity = _file_identity(path)
    if memory or read_only is not None or (path is not None and identity is None):
        engine = _dialect.make_engine(url, read_only=read_only)
        if path is not None and read_only is None:
            shared = _SharedEngine(engine, None, users=1)  # a new file: shared once made
            with _engines_lock:
                _forget_unused_engines()
                _engines[url] = shared
            return engine, _releaser(shared)
        return engine, engine.dispose
    with _engines_lock:
        shared_or_none = _engines.get(url)
        if shared_or_none is None or shared_or_none.identity != identity:
            if shared_or_none is not None and shared_or_none.users <= 0:
                shared_or_none.engine.dispose()
            shared_or_none = _SharedEngine(_dialect.make_engine(url), identity)
            _forget_unused_engines()
            _engines[url] = shared_or_none
        shared_or_none.users += 1
        return shared_or_none.engine, _releaser(shared_or_none)


def _forget_unused_engines(keep: int = 32) -> None:
    """Past ``keep`` databases (a process going through many, like a test suite), forget
    the Engines no open Store uses (their connections are closed already). Holds the lock."""
    if len(_engines) > keep:
        for url in [u for u, shared in _engines.items() if shared.users <= 0]:
            del _engines[url]


def _releaser(shared: _SharedEngine) -> Callable[[], None]:
    released = False

    def release() -> None:
        nonlocal released
        if released:
            return
        released = True
        with _engines_lock:
            shared.users -= 1
            last = shared.users <= 0
        if last:
            shared.engine.dispose()

    return release


def _state(conn: Connection) -> tuple[SchemaState, str | None]:
    tables = set(inspect(conn).get_table_names())
    version = None
    if "alembic_version" in tables:
        version = conn.execute(_version_table.select()).scalar()
    ours = tables & set(metadata.tables)
    if version is None:
        if not tables or tables == {"alembic_version"}:
            return "empty", None
        return "foreign", None
    if version == SCHEMA_REVISION:
        return "current", version
    if version in KNOWN_REVISIONS:
        return "old", version
    if version.startswith("tb") and ours:
        return "newer", version
    return "foreign", version


def schema_state(url: str) -> tuple[SchemaState, str | None]:
    """What is in the database at ``url``: ('current'|'empty'|'old'|'newer'|'foreign', revision)."""
    path = _dialect.sqlite_path(url)
    if path is not None and not path.exists():
        return "empty", None  # without connecting, which would create the file
    if path is not None:
        _check_sqlite_file(url, create=False)
    engine = _dialect.make_engine(url, read_only=path if path and _read_only(path) else None)
    try:
        with engine.connect() as conn:
            return _state(conn)
    except sa_exc.SQLAlchemyError as e:
        raise _dialect.translate(e, url) from e
    finally:
        engine.dispose()


def _check_sqlite_file(url: str, create: bool) -> None:
    path = _dialect.sqlite_path(url)
    if path is None:
        return
    if not path.exists():
        if not create:
            raise WorkspaceError(
                f"No trialbook database at {path}; start a run there first, or point root=... "
                "(TRIALBOOK_ROOT) or store_url=... (TRIALBOOK_STORE) at an existing workspace.",
                parameter="store_url",
                value=url,
            )
        if not path.parent.is_dir():
            raise WorkspaceError(
                f"The folder {path.parent} does not exist; create it or choose another root=....",
                parameter="root",
                value=path.parent,
            )
        return
    if path.is_dir():
        raise WorkspaceError(
            f"{path} is a folder, not a database file; move it aside or point root=... "
            "(TRIALBOOK_ROOT) or store_url=... (TRIALBOOK_STORE) elsewhere.",
            parameter="store_url",
            value=url,
        )
    import sqlite3

    from trialbook.store._integrity import is_sqlite_file

    try:
        # Through SQLite, not open(): see is_sqlite_file (another Store of this process).
        ours = is_sqlite_file(path)
    except OSError as e:
        raise WorkspaceError(
            f"Cannot read the database {path} ({e.strerror or e}); check its permissions."
        ) from e
    except sqlite3.Error:
        # A full disk, a damaged file...: the Store's own open reports it in its words.
        return
    if not ours:
        raise NotATrialbookDatabase(
            f"{path} is not a SQLite database (it may be corrupt or another kind of file); "
            "move it aside or choose another root=..., or run "
            f"`trialbook db recover{store_flag(url)}` to set it aside and rebuild the index "
            "from the run folders.",
            parameter="root",
            value=path.parent,
        )


def _read_only(path: Path) -> bool:
    """An existing SQLite file this process cannot write (or whose folder it cannot)."""
    return path.is_file() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def connect(
    url: str,
    *,
    create: bool = False,
    liveness: LivenessPolicy | None = None,
    root: str | os.PathLike[str] | None = None,
) -> SQLStore:
    """Open the Store at ``url``, checking that its schema is the one this trialbook expects.

    Args:
        url: any SQLAlchemy URL (``sqlite:///experiments/trialbook.db``, ``postgresql://...``).
        create: create the schema when the database is empty (missing SQLite files too).
        root: the workspace folder; run folders inside it are stored relative to it, and
            read back as absolute paths inside it (default: a SQLite file's folder).

    A SQLite file that cannot be written is opened read-only: reads work, writes raise
    WorkspaceError. A writable one that changed since it was last found clean is checked
    with ``PRAGMA quick_check`` first (see :mod:`trialbook.store._integrity`).

    Raises:
        WorkspaceError: the SQLite file is missing (and not ``create``) or cannot be written.
        NotATrialbookDatabase: the file is corrupt or holds someone else's tables.
        SchemaVersionError: the schema is older (run ``trialbook db upgrade``) or newer.
    """
    _check_sqlite_file(url, create)
    path = _dialect.sqlite_path(url)
    if root is None and path is not None:
        root = path.absolute().parent
    read_only = None
    clean: str | None = None
    checked = False
    if path is not None and not path.exists():
        clean = "created"  # a new file is clean: record it at close
    if path is not None and _read_only(path):
        read_only = (
            f"The workspace database {path} is read-only here, so it can be read but not "
            "written; copy the workspace somewhere writable (or fix its permissions) to "
            "add to it."
        )
    elif path is not None and path.is_file() and path.stat().st_size:
        clean, checked, problems = _integrity.check_at_open(path)
        if problems:
            raise NotATrialbookDatabase(_dialect.damaged_message(url, "; ".join(problems)))
    engine, release = _acquire_engine(url, path if read_only else None)
    try:
        state, version = _checked_state(engine)
        if state == "empty":
            if not create:
                raise SchemaVersionError(
                    f"The database {_location(url)} has no trialbook tables yet; run "
                    f"`trialbook db upgrade{store_flag(url)}` to create them."
                )
            if read_only is not None:
                raise WorkspaceError(read_only)
            _initialise(engine.execution_options(**{_dialect.WRITE: True}))
        elif state != "current":
            raise _state_error(url, state, version)
    except sa_exc.SQLAlchemyError as e:
        release()
        raise _dialect.translate(e, url) from e
    except BaseException:
        release()
        raise
    if path is not None and read_only is None:
        with _engines_lock:
            shared = _engines.get(url)
            if shared is not None and shared.engine is engine and shared.identity is None:
                shared.identity = _file_identity(path)  # the file this open created
    if checked and clean is not None and path is not None:
        _integrity.record_clean(path, clean)
    store = SQLStore(engine, url, liveness, root=root, read_only=read_only, release=release)
    store.clean_identity = clean
    return store


def _checked_state(engine: Engine) -> tuple[SchemaState, str | None]:
    """The schema state, read as :func:`_state` reads it; a database at this trialbook's
    revision (every open but the first) costs one query instead of listing its tables."""
    try:
        with engine.connect() as conn:
            version = conn.execute(_version_table.select()).scalar()
        if version == SCHEMA_REVISION:
            return "current", version
    except sa_exc.SQLAlchemyError:
        pass  # no version table, not a database...: the full look below says which
    with engine.connect() as conn:
        return _state(conn)


def _initialise(engine: object) -> None:
    from sqlalchemy import Engine

    assert isinstance(engine, Engine)
    with engine.begin() as conn:
        if not create_schema(conn):
            return
    # Outside the transaction: SQLite cannot change the journal mode inside one.
    _dialect.enable_wal(engine)


def create_schema(conn: Connection) -> bool:
    """Create this trialbook's schema in an empty database, inside the caller's write
    transaction (so that a rollback leaves the database empty again; PostgreSQL and SQLite
    both roll DDL back); False when another process created it first. Holds the schema lock
    (:func:`trialbook.store._dialect.schema_lock`) until the transaction ends.

    Raises:
        StoreError: the database holds something else (old, newer or foreign tables).
    """
    _dialect.schema_lock(conn)
    # Re-check inside the write transaction: another process may have won the race.
    state, version = _state(conn)
    if state == "current":
        return False
    if state != "empty":
        raise _state_error(str(conn.engine.url), state, version)
    metadata.create_all(conn)
    _version_table.create(conn, checkfirst=True)
    conn.execute(_version_table.insert().values(version_num=SCHEMA_REVISION))
    return True


def _location(url: str) -> str:
    """The database as a message names it: its file, or its URL with the password masked."""
    path = _dialect.sqlite_path(url)
    return str(path) if path else _dialect.safe_url(url)


def _state_error(url: str, state: SchemaState, version: str | None) -> StoreError:
    if state == "old":
        return SchemaVersionError(
            f"The database {_location(url)} has schema {version}, older than this trialbook's "
            f"{SCHEMA_REVISION}; back it up and run `trialbook db upgrade{store_flag(url)}`."
        )
    if state == "newer":
        return SchemaVersionError(
            f"The database {_location(url)} has schema {version}, written by a newer trialbook "
            f"(this one knows up to {SCHEMA_REVISION}); upgrade trialbook to read it."
        )
    return NotATrialbookDatabase(
        f"{_location(url)} is a database trialbook did not create (its tables are not "
        "trialbook's); choose another root=... or store_url=....",
        parameter="store_url",
        value=_dialect.safe_url(url),
    )


def upgrade(
    url: str, revision: str = "head", *, root: str | os.PathLike[str] | None = None
) -> tuple[str | None, str]:
    """Migrate the database at ``url`` to ``revision``; returns (before, after) revisions.

    An empty database gets the whole schema. A foreign or newer database is refused.
    ``root`` is the workspace folder (default: a SQLite file's folder); tb0002 stores the
    run folders inside it relative to it.
    """
    from alembic import command
    from alembic.config import Config

    if _dialect.sqlite_path(url) is not None:
        path = _dialect.sqlite_path(url)
        assert path is not None
        _check_sqlite_file(url, create=True)
        if not path.exists():
            raise WorkspaceError(
                f"No trialbook database at {path}; nothing to upgrade. Start a run to create it."
            )
        if _read_only(path):
            raise WorkspaceError(
                f"The database {path} is read-only here, so it cannot be upgraded; copy the "
                "workspace somewhere writable (or fix its permissions) first."
            )
        if root is None:
            root = path.absolute().parent
    engine = _dialect.make_engine(url)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", "trialbook.store:_migrations")
        # Alembic's options are configparser values: "%" (a percent-encoded URL) is doubled.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        with engine.begin() as conn:
            _dialect.schema_lock(conn)
            # Read under the lock: another process upgrading at once has finished by now,
            # and ``before`` says what this one found (its own work, or none).
            state, before = _state(conn)
            if state in ("foreign", "newer"):
                raise _state_error(url, state, before)
            cfg.attributes["connection"] = conn
            cfg.attributes["workspace_root"] = None if root is None else Path(root).absolute()
            command.upgrade(cfg, revision)
        _dialect.enable_wal(engine)
        with engine.connect() as conn:
            _, after = _state(conn)
    except sa_exc.SQLAlchemyError as e:
        raise _dialect.translate(e, url) from e
    except sqlite3.Error as e:  # pragma: no cover - raw driver errors from alembic internals
        raise StoreError(f"Upgrading {_location(url)} failed: {hide_passwords(str(e))}.") from e
    finally:
        engine.dispose()
    return before, after or SCHEMA_REVISION


def migrations_dir() -> Path:
    """The folder holding the shipped Alembic migrations."""
    return Path(__file__).parent / "_migrations"
