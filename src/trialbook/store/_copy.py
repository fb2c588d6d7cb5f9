"""Copying a whole workspace index from one database to another (``trialbook db copy``):
SQLite to PostgreSQL and back.

Every table is read from one snapshot of the source and written in chunks (constant memory
however many points), all inside one transaction on the destination that also creates the
schema, so that a copy which fails part-way leaves the destination as empty as it found it
(PostgreSQL and SQLite both roll DDL back). Before it commits, the rows of every table are
counted on both sides; any difference rolls the copy back. ``metric_blocks`` is derived from
the points and rebuilt rather than copied; keys (run ids, ``runs.num``, metric key ids,
evaluation ids) are copied as they are, and PostgreSQL's sequences are moved past them.

Run folders are stored relative to the workspace root (:mod:`trialbook.store._paths`), so the
copy changes no path: the folders stay where they are (open the copy with the same root), or
are copied under a new root (``folders``), beside the rows, before the transaction commits.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeAlias

from sqlalchemy import Connection, Engine, Table, func, literal_column, select, text
from sqlalchemy import exc as sa_exc

from trialbook._progress import Advance, Stages, progress_bar
from trialbook._workspace import DB_NAME
from trialbook.errors import ConfigError, StoreError, WorkspaceError
from trialbook.store import _dialect, _integrity
from trialbook.store._schema import DERIVED_TABLES, metadata
from trialbook.store._schema import artifacts as _artifacts
from trialbook.store._schema import checkpoints as _checkpoints
from trialbook.store._schema import runs as _runs

__all__ = ["Advance", "CopyProgress", "CopyReport", "copy_store", "store_url_of"]

#: Rows read from the source per round trip (a server-side cursor on PostgreSQL).
_CHUNK = 10_000

#: ``progress(label, total)``: a context manager around one stage of a copy (a table's rows,
#: the metric blocks, the run folders) that yields the stage's :data:`Advance` (called with a
#: number of items just done); ``total`` is the number of items, or None when it is not known
#: in advance.
CopyProgress: TypeAlias = Stages


@dataclass(frozen=True)
class CopyReport:
    """What :func:`copy_store` copied (every count verified against the source)."""

    #: The source and destination URLs, passwords masked.
    source: str
    destination: str
    #: Table -> rows copied (equal to the rows of the source's snapshot: verified).
    rows: dict[str, int]
    #: Rows of ``metric_blocks`` rebuilt from the copied points.
    blocks: int
    #: The folder the copy's relative run folders are found in (``folders``, else the
    #: source's root; None when neither is known).
    root: Path | None
    #: Paths copied under ``folders`` (run folders, and checkpoints or artifacts outside them).
    folders_copied: int = 0
    #: Relative paths the index names that were not under the source's root (not copied).
    missing: tuple[str, ...] = ()
    #: Absolute paths the index names (outside the root): copied as they are, never moved;
    #: another machine finds them only if it mounts them at the same path.
    outside_root: tuple[str, ...] = ()
    #: Runs that were ``running`` in the source when it was read: their processes go on
    #: writing to the source, not to the copy.
    running: tuple[str, ...] = ()
    #: Wall-clock seconds the copy took.
    seconds: float = 0.0
    #: Whether the destination's schema was created by the copy (False: it was empty but
    #: already had the schema, e.g. after ``trialbook db upgrade``).
    created_schema: bool = True


@contextmanager
def _no_progress(label: str, total: int | None) -> Iterator[Advance]:
    yield lambda n: None


# ----------------------------------------------------------------------- naming the databases
def store_url_of(where: str | os.PathLike[str]) -> str:
    """The store URL that ``where`` names: a URL (anything with ``://``) as it is; a path
    ending in ``.db``, that SQLite file; any other path, a workspace folder, whose index is
    its ``trialbook.db`` (as ``root=`` means everywhere else)."""
    if isinstance(where, str) and "://" in where:
        _dialect.parse_url(where)  # a string that is no URL is one sentence
        return where
    path = Path(os.path.abspath(os.path.expanduser(os.fspath(where))))
    if path.suffix != ".db":
        path = path / DB_NAME
    return f"sqlite:///{path}"


def _checked(url: str, role: str) -> str:
    u = _dialect.parse_url(url)
    backend = u.get_backend_name()
    where = _dialect.safe_url(url)
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"The {role} {where} is a {backend} URL, which trialbook cannot store runs in; "
            "name a workspace folder, a SQLite URL (sqlite:///path/to/trialbook.db) or a "
            "PostgreSQL one (postgresql://user@host/dbname).",
            parameter=role,
            value=where,
        )
    if backend == "sqlite" and _dialect.sqlite_path(url) is None:
        raise ConfigError(
            f"The {role} {where} is an in-memory SQLite database, which lives only inside one "
            "process; name a file (sqlite:///path/to/trialbook.db) or a workspace folder.",
            parameter=role,
            value=where,
        )
    _dialect.require_driver(url)
    return url


def _identity(url: str) -> tuple[str, ...]:
    path = _dialect.sqlite_path(url)
    if path is not None:
        return ("sqlite", os.path.realpath(path))
    u = _dialect.parse_url(url)
    query = tuple(sorted(f"{k}={v}" for k, v in u.query.items()))
    return (u.get_backend_name(), u.host or "", str(u.port or ""), u.database or "", *query)


# ---------------------------------------------------------------------------- the destination
def _has_rows(conn: Connection) -> int | None:
    """The runs of a trialbook database that holds any row at all (None: no row)."""
    for table in metadata.sorted_tables:
        probe: Any = select(literal_column("1")).select_from(table).limit(1)
        if conn.execute(probe).first() is not None:
            return int(conn.execute(select(func.count()).select_from(_runs)).scalar_one())
    return None


def _refusal(url: str, state: str, version: str | None, runs: int | None) -> ConfigError:
    what = {
        "current": f"a trialbook index with {runs or 0:,} run(s)",
        "old": f"a trialbook index of the older schema {version}",
        "newer": f"a trialbook index of the newer schema {version}",
        "foreign": "tables that are not trialbook's",
    }.get(state, "tables")
    where = _dialect.safe_url(url)
    return ConfigError(
        f"The destination {where} already holds {what}; a copy goes only into an empty "
        "database, so create a new one (or move that one aside).",
        parameter="destination",
        value=where,
    )


def _check_destination(url: str) -> None:
    """Refuse a destination that holds anything (before anything is read or written)."""
    from trialbook.store._connect import schema_state

    path = _dialect.sqlite_path(url)
    if path is not None:
        if path.is_dir():
            raise WorkspaceError(
                f"The destination {path} is a folder, not a database file; name the folder "
                "itself (its trialbook.db is the index) or another file.",
                parameter="destination",
                value=str(path),
            )
        if not path.exists():
            return
    state, version = schema_state(url)
    if state == "empty":
        return
    runs = None
    if state == "current":
        engine = _dialect.make_engine(url)
        try:
            with engine.connect() as conn:
                runs = _has_rows(conn)
        except sa_exc.SQLAlchemyError as e:
            raise _dialect.translate(e, url) from e
        finally:
            engine.dispose()
        if runs is None:
            return
    raise _refusal(url, state, version, runs)


def _prepare_destination(conn: Connection, url: str) -> bool:
    """Inside the copy's transaction: create the schema of an empty database (True), or
    accept an empty one that has it (False); anything else is refused."""
    from trialbook.store._connect import _state, create_schema

    _dialect.schema_lock(conn)
    state, version = _state(conn)
    if state == "empty":
        return create_schema(conn)
    runs = _has_rows(conn) if state == "current" else None
    if state == "current" and runs is None:
        return False
    raise _refusal(url, state, version, runs)


class _Undo:
    """Files and folders a copy created, removed (newest first) when it fails."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def make_dirs(self, folder: Path) -> None:
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        self.paths.extend(reversed(missing))

    def run(self) -> None:
        for path in reversed(self.paths):
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
            except OSError:
                pass  # best effort: the error that made the copy fail is the one reported


# ------------------------------------------------------------------------------ the rows
@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read transaction on the source: every table is read as of one moment."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            yield conn


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _order(conn: Connection, table: Table) -> list[Any]:
    """The order rows are copied in: one that keeps the order points of one step are read
    back in (see ``_dialect.history_sql``: insertion order on SQLite, time elsewhere)."""
    if conn.dialect.name == "sqlite":
        return [literal_column("rowid")]
    if table.name == "metrics":
        c = table.c
        return [c.run_num, c.key_id, c.step, c.time]
    return list(table.primary_key.columns)


def _write_rows(dst: Connection, table: Table, rows: Iterator[Sequence[Any]], where: str) -> None:
    """Bulk-insert ``rows`` (in the table's column order) in the destination's transaction.

    On the raw DBAPI cursor, for speed: PostgreSQL's ``COPY FROM STDIN`` through psycopg,
    SQLite's ``executemany`` over the iterator (no list of every row is ever built).
    """
    names = ", ".join(f'"{c.name}"' for c in table.columns)
    # Any: psycopg's cursor (a context manager with copy()) or sqlite3's.
    dbapi: Any = dst.connection.dbapi_connection
    assert dbapi is not None
    error: type[Exception] = dst.dialect.loaded_dbapi.Error
    try:
        if dst.dialect.name == "postgresql":
            sql = f'COPY "{table.name}" ({names}) FROM STDIN'
            with dbapi.cursor() as cursor, cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(table.columns))
            cursor = dbapi.cursor()
            try:
                cursor.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', rows)
            finally:
                cursor.close()
    except error as e:
        detail = " ".join(str(e).split())
        raise StoreError(
            f"Writing the {table.name} table into {where} failed ({detail}); the copy was "
            "rolled back and nothing was written there."
        ) from e


def _copy_table(
    src: Connection,
    dst: Connection,
    table: Table,
    total: int,
    progress: CopyProgress,
    where: tuple[str, str],
) -> None:
    stmt = select(*table.c).order_by(*_order(src, table))

    with progress(table.name, total) as advance:

        def rows() -> Iterator[Sequence[Any]]:
            try:
                result = src.execute(stmt.execution_options(yield_per=_CHUNK))
                for part in result.partitions():
                    yield from part
                    advance(len(part))
            except sa_exc.SQLAlchemyError as e:
                detail = " ".join(str(getattr(e, "orig", None) or e).split())
                raise StoreError(
                    f"Reading the {table.name} table of {where[0]} failed ({detail}); the "
                    f"copy was rolled back and nothing was written to {where[1]}."
                ) from e

        _write_rows(dst, table, rows(), where[1])


#: The foreign keys of the tables in the current schema: (table, name, definition).
_FOREIGN_KEYS = """SELECT t.relname, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
WHERE c.contype = 'f' AND t.relnamespace = current_schema()::regnamespace
ORDER BY t.relname, c.conname"""


@contextmanager
def _foreign_keys_checked_at_end(conn: Connection) -> Iterator[None]:
    """On PostgreSQL, drop the foreign keys for the bulk insert and add them back, exactly as
    they were, after it: that checks every row against each of them in one pass, where
    checked row by row they made copying a million points three times slower. Inside the
    copy's transaction, so nobody ever sees the tables without them. (SQLAlchemy's
    AddConstraint would change the shared ``metadata`` for later CREATE TABLEs.) SQLite
    checks a row in-process, cheaply."""
    if conn.dialect.name != "postgresql":
        yield
        return
    keys = [tuple(row) for row in conn.execute(text(_FOREIGN_KEYS))]
    for table, name, _ in keys:
        conn.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
    yield
    for table, name, definition in keys:
        conn.execute(text(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'))


def _advance_sequences(conn: Connection) -> None:
    """Move PostgreSQL's id sequences past the copied ids, so that the next run, metric key
    or evaluation gets a new one (SQLite takes max(rowid) + 1 by itself)."""
    if conn.dialect.name != "postgresql":
        return
    for table in metadata.sorted_tables:
        column = table.autoincrement_column
        if column is None or table.name in DERIVED_TABLES:
            continue
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:table, :column), "
                f'COALESCE((SELECT max("{column.name}") FROM "{table.name}"), 0) + 1, false)'
            ),
            {"table": table.name, "column": column.name},
        )


def _verify(dst: Connection, counts: dict[str, int], where: str) -> None:
    differ = [
        f"{name}: {expected:,} in the source, {got:,} in the copy"
        for name, expected in counts.items()
        if (got := _count(dst, metadata.tables[name])) != expected
    ]
    blocks = metadata.tables["metric_blocks"]
    in_blocks = dst.execute(select(func.coalesce(func.sum(blocks.c["count"]), 0))).scalar_one()
    if int(in_blocks) != counts["metrics"]:
        differ.append(f"metric_blocks: {int(in_blocks):,} points, metrics {counts['metrics']:,}")
    if differ:
        raise StoreError(
            f"The copy in {where} does not match its source ({'; '.join(differ)}), so it was "
            "rolled back and nothing was written there."
        )


# ---------------------------------------------------------------------------- the folders
@dataclass
class _Paths:
    relative: list[str]  # the outermost relative paths, sorted
    absolute: list[str]


def _stored_paths(src: Connection) -> _Paths:
    """The paths the index names: run folders, checkpoints, artifacts."""
    found: set[str] = set()
    absolute: set[str] = set()
    for column in (_runs.c.folder, _checkpoints.c.path, _artifacts.c.path):
        for (value,) in src.execute(select(column).where(column.is_not(None)).distinct()):
            if os.path.isabs(value):
                absolute.add(value)
            elif value not in ("", "."):
                found.add(PurePosixPath(value).as_posix())
    outermost: list[str] = []
    kept: set[str] = set()
    for rel in sorted(found, key=lambda p: (len(PurePosixPath(p).parts), p)):
        parts = PurePosixPath(rel).parts
        if not any(PurePosixPath(*parts[:i]).as_posix() in kept for i in range(1, len(parts))):
            kept.add(rel)
            outermost.append(rel)
    return _Paths(sorted(outermost), sorted(absolute))


def _plan_folders(present: list[str], target: Path) -> list[str]:
    """The relative paths to copy under ``target``; refuses to overwrite any."""
    for rel in present:
        if os.path.lexists(target / rel):
            raise WorkspaceError(
                f"folders={target} already holds {rel}, which the copy would overwrite; choose "
                "another folder (or move that one aside).",
                parameter="folders",
                value=str(target),
            )
    return present


def _copy_folders(
    todo: list[str], root: Path, target: Path, undo: _Undo, progress: CopyProgress
) -> None:
    with progress("run folders", len(todo)) as advance:
        for rel in todo:
            source, dest = root / rel, target / rel
            undo.make_dirs(dest.parent)
            undo.paths.append(dest)
            if source.is_dir() and not source.is_symlink():
                shutil.copytree(source, dest, symlinks=True)
            else:
                shutil.copy2(source, dest, follow_symlinks=False)
            advance(1)


# ----------------------------------------------------------------------------- the copy
def copy_store(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    source_root: str | os.PathLike[str] | None = None,
    folders: str | os.PathLike[str] | None = None,
    progress: CopyProgress | bool | None = None,
) -> CopyReport:
    """Copy the whole index at ``source`` into the empty database at ``destination``.

    Each of them is a store URL (``sqlite:///path/trialbook.db``,
    ``postgresql+psycopg://user@host/dbname``), a workspace folder (its ``trialbook.db``) or a
    ``.db`` file (see :func:`store_url_of`). The destination must be empty: a new SQLite file,
    a new PostgreSQL database, or one that only has the schema (``trialbook db upgrade``).

    The copy is one transaction on the destination: it fails whole (nothing written, a SQLite
    file it created removed) or commits with every table's rows counted equal to the source's.
    Stop the runs writing to the source first: a run still running keeps writing there.

    Args:
        source_root: the source's workspace folder, where its run folders are (default: a
            SQLite source's folder, else ``TRIALBOOK_ROOT`` when set). Needed with
            ``folders``.
        folders: copy the run folders (and the checkpoints and artifacts the index names
            outside them) into this folder, which becomes the copy's workspace root (open
            it there with ``root=folders``). Absolute paths in the index are not copied.
        progress: reports each stage (see :data:`CopyProgress`); True draws a progress bar
            on stderr when it is a terminal (the stage under way, one line, gone at the end).

    Raises:
        ConfigError: an unknown kind of URL, the same database twice, a destination that is
            not empty.
        WorkspaceError: the source does not exist; ``folders`` already holds a folder the
            copy would write.
        StoreError: a database failed, or the copy did not match its source (rolled back).
        SchemaVersionError: the source needs ``trialbook db upgrade`` first.
    """
    from trialbook.store._connect import connect, schema_state

    started = time.monotonic()
    src_url = _checked(store_url_of(source), "source")
    dst_url = _checked(store_url_of(destination), "destination")
    src_where, dst_where = _dialect.safe_url(src_url), _dialect.safe_url(dst_url)
    if _identity(src_url) == _identity(dst_url):
        raise ConfigError(
            f"The source and the destination are the same database ({src_where}); name "
            "another destination.",
            parameter="destination",
            value=dst_where,
        )
    src_path = _dialect.sqlite_path(src_url)
    root: Path | None = None
    if source_root is not None:
        root = Path(os.path.abspath(source_root))
    elif src_path is not None:
        root = src_path.absolute().parent
    elif os.environ.get("TRIALBOOK_ROOT"):
        root = Path(os.path.abspath(os.environ["TRIALBOOK_ROOT"]))
    target = Path(os.path.abspath(folders)) if folders is not None else None
    if target is not None:
        if root is None:
            raise ConfigError(
                f"Copying the run folders needs the folder they are in now; pass "
                f"source_root=... (the workspace folder of {src_where}).",
                parameter="source_root",
            )
        if target.exists() and not target.is_dir():
            raise WorkspaceError(
                f"folders={target} is a file, not a folder; name a folder for the run folders.",
                parameter="folders",
                value=str(target),
            )
    if src_path is not None and not src_path.is_file():
        raise WorkspaceError(
            f"There is no trialbook database at {src_path} to copy; name an existing "
            "workspace folder or store URL as the source.",
            parameter="source",
            value=str(src_path),
        )
    if schema_state(src_url)[0] == "empty":
        raise StoreError(f"The source {src_where} has no trialbook tables; nothing to copy.")
    _check_destination(dst_url)
    store = connect(src_url, root=root)
    try:
        with progress_bar(progress is True) as bar:
            stages = progress if callable(progress) else bar or _no_progress
            return _copy(
                store.engine,
                src_url,
                dst_url,
                root,
                target,
                stages,
                started,
                (src_where, dst_where),
            )
    finally:
        store.close()


def _copy(
    source: Engine,
    src_url: str,
    dst_url: str,
    root: Path | None,
    target: Path | None,
    progress: CopyProgress,
    started: float,
    where: tuple[str, str],
) -> CopyReport:
    dst_path = _dialect.sqlite_path(dst_url)
    undo = _Undo()
    tables = [t for t in metadata.sorted_tables if t.name not in DERIVED_TABLES]
    try:
        if dst_path is not None:
            undo.make_dirs(dst_path.parent)
            if not dst_path.exists():
                for suffix in ("", "-journal", "-wal", "-shm", "-checked"):
                    undo.paths.append(Path(f"{dst_path}{suffix}"))
        if target is not None:
            undo.make_dirs(target)
        engine = _dialect.make_engine(dst_url).execution_options(**{_dialect.WRITE: True})
        try:
            with _snapshot(source) as src, engine.begin() as dst:
                counts = {t.name: _count(src, t) for t in tables}
                paths = _stored_paths(src)
                running = tuple(
                    src.execute(select(_runs.c.id).where(_runs.c.status == "running")).scalars()
                )
                present: list[str] = []
                missing: list[str] = []
                for rel in paths.relative if root is not None else ():
                    assert root is not None
                    (present if os.path.lexists(root / rel) else missing).append(rel)
                todo: list[str] = []
                if target is not None and root is not None and not _same_folder(root, target):
                    todo = _plan_folders(present, target)
                created = _prepare_destination(dst, dst_url)
                with _foreign_keys_checked_at_end(dst):
                    for table in tables:
                        _copy_table(src, dst, table, counts[table.name], progress, where)
                    with progress("metric_blocks", None) as advance:
                        dbapi = dst.connection.dbapi_connection
                        blocks = _dialect.rebuild_blocks(dbapi, dst.dialect.name)
                        advance(blocks)
                _advance_sequences(dst)
                _verify(dst, counts, where[1])
                if todo:
                    assert target is not None and root is not None
                    _copy_folders(todo, root, target, undo, progress)
            if dst_path is not None:
                _dialect.enable_wal(engine)
        except sa_exc.SQLAlchemyError as e:
            raise StoreError(
                f"{str(_dialect.translate(e, dst_url)).rstrip('.')}; the copy was rolled back "
                "and nothing was written there."
            ) from e
        finally:
            engine.dispose()
    except BaseException:
        undo.run()
        raise
    if dst_path is not None:
        _integrity.forget_check(dst_path)
        _integrity.record_clean(dst_path)  # written whole by this process just now
    return CopyReport(
        source=where[0],
        destination=where[1],
        rows=counts,
        blocks=blocks,
        root=target if target is not None else root,
        folders_copied=len(todo),
        missing=tuple(missing),
        outside_root=tuple(paths.absolute),
        running=running,
        seconds=time.monotonic() - started,
        created_schema=created,
    )


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False
