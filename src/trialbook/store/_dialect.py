"""Everything that differs between databases, behind one small boundary.

SQLite needs WAL mode, a busy timeout and ``BEGIN IMMEDIATE`` for writes (so that two
writers queue instead of deadlocking); PostgreSQL needs none of that, and takes metric
points by ``COPY`` (:func:`insert_metrics`). Upserts use each dialect's ``ON CONFLICT``
construct, and driver exceptions are translated here into trialbook's own errors.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import struct
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event, exc, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from trialbook.errors import ConfigError, NotATrialbookDatabase, StoreError, WorkspaceError

__all__ = [
    "WRITE",
    "bucket_last_points",
    "damaged_message",
    "database_bytes",
    "enable_wal",
    "executemany",
    "fetchall",
    "history_sql",
    "insert_ignore",
    "insert_metrics",
    "is_transient",
    "make_engine",
    "metrics_insert_sql",
    "parse_url",
    "require_driver",
    "safe_url",
    "schema_lock",
    "sqlite_path",
    "store_flag",
    "summary_upsert_sql",
    "translate",
    "upsert",
]

#: Execution option marking a connection whose transactions write.
WRITE = "trialbook_write"

#: SQLite waits this long for a lock before giving up (the Store then retries).
SQLITE_BUSY_TIMEOUT_MS = 60_000


#: What to install for PostgreSQL (the ``postgres`` extra brings psycopg 3).
POSTGRES_INSTALL = "pip install 'trialbook[postgres]'"


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL of a store; a string that is not one is one sentence.

    ``postgresql://`` (and ``postgres://``, as hosting services write it) means psycopg 3, the
    driver of the ``postgres`` extra; SQLAlchemy's own default would be psycopg2.
    """
    try:
        u = make_url(url)
    except (exc.ArgumentError, ValueError):
        shown = safe_url(url)
        raise ConfigError(
            f"store_url={shown!r} is not a database URL; use sqlite:///path/to/trialbook.db or "
            "postgresql://user@host/dbname (TRIALBOOK_STORE takes the same).",
            parameter="store_url",
            value=shown,
        ) from None
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL; None for other databases and in-memory SQLite."""
    u = parse_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def require_driver(url: str) -> None:
    """Check, without connecting, that the URL parses and its driver can be imported.

    Raises:
        ConfigError: not a URL. StoreError: the driver is missing (naming what to install).
    """
    u = parse_url(url)
    if u.get_backend_name() == "sqlite":
        return
    try:
        u.get_dialect().import_dbapi()
    except (ImportError, exc.NoSuchModuleError) as e:
        raise _driver_error(u, e, typed=url) from e


def _driver_error(u: URL, e: Exception, *, typed: str | None = None) -> StoreError:
    # The URL as the user wrote it (postgresql://, not the psycopg driver name it means).
    where = safe_url(typed) if typed is not None else u.render_as_string(hide_password=True)
    if u.drivername == "postgresql+psycopg2":
        return StoreError(
            f"The store {where} asks for the psycopg2 driver, which is not installed ({e}); "
            f"write postgresql:// instead to use psycopg 3 ({POSTGRES_INSTALL}), or "
            "pip install psycopg2-binary."
        )
    if u.get_backend_name() == "postgresql":
        return StoreError(
            f"The store {where} is PostgreSQL, whose driver is not installed ({e}); "
            f"run {POSTGRES_INSTALL}."
        )
    return StoreError(
        f"The store {where} names a database trialbook does not support ({e}); use "
        "sqlite:///path/to/trialbook.db or postgresql://user@host/dbname."
    )


def _create_engine(u: URL, *, typed: str | None = None, **kwargs: Any) -> Engine:
    """create_engine, with a missing driver or an unknown database as one sentence."""
    try:
        return create_engine(u, **kwargs)
    except (ImportError, exc.NoSuchModuleError) as e:
        raise _driver_error(u, e, typed=typed) from e


def make_engine(url: str, *, read_only: Path | None = None) -> Engine:
    """An engine configured for concurrent tracking on this database.

    ``read_only``: the SQLite file to open read-only (``mode=ro``; ``immutable=1`` when its
    folder cannot be written either, since SQLite then cannot make its ``-shm`` file).
    """
    u = parse_url(url)
    if u.get_backend_name() != "sqlite":
        return _create_engine(u, typed=url, pool_pre_ping=True)
    memory = not u.database or u.database == ":memory:"
    if read_only is not None:
        import sqlite3
        from urllib.parse import quote

        mode = "mode=ro" if os.access(read_only.parent, os.W_OK) else "immutable=1"
        uri = f"file:{quote(str(read_only.absolute()))}?{mode}"

        def _open() -> sqlite3.Connection:
            return sqlite3.connect(
                uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )

        engine = create_engine("sqlite://", creator=_open)
    else:
        engine = _create_engine(
            u,
            connect_args={
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                "check_same_thread": False,
            },
            poolclass=StaticPool if memory else None,
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys = ON")
            if not memory:
                # With WAL (set once when the database is created; see enable_wal), NORMAL
                # survives a process crash (kill -9); only power loss can drop the last
                # transactions. Nothing here writes to the file: a database that is then
                # refused (foreign, corrupt, old) is left exactly as it was.
                cur.execute("PRAGMA synchronous = NORMAL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer takes the write lock up front, so it waits in busy_timeout instead of
        # failing with "database is locked" when it upgrades a read lock.
        conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN"
        )

    return engine


@contextmanager
def _driver_errors(conn: Connection, sql: str) -> Iterator[None]:
    """Driver errors raised inside re-raised as SQLAlchemy's, so the Store's retry and
    translation see them."""
    try:
        yield
    except conn.dialect.loaded_dbapi.Error as e:
        raise exc.DBAPIError.instance(
            sql, None, e, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from e


@contextmanager
def _raw_cursor(conn: Connection, sql: str) -> Iterator[Any]:
    """The connection's own DBAPI cursor, inside its transaction (see :func:`_driver_errors`)."""
    dbapi_conn = conn.connection.dbapi_connection
    assert dbapi_conn is not None
    cursor = dbapi_conn.cursor()
    try:
        with _driver_errors(conn, sql):
            yield cursor
    finally:
        cursor.close()


def executemany(conn: Connection, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    """``cursor.executemany`` on the raw DBAPI cursor.

    SQLAlchemy would first build a list of every row; the driver takes an iterator, which
    lets ``zip`` reuse one tuple per row instead of allocating millions.
    """
    with _raw_cursor(conn, sql) as cursor:
        cursor.executemany(sql, rows)


def fetchall(conn: Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Plain tuples from the raw DBAPI cursor, for large reads.

    Skips building a SQLAlchemy ``Row`` per result row, which dominated reading a long
    metric history.
    """
    with _raw_cursor(conn, sql) as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def history_sql(conn: Connection) -> str:
    """(step, value, time) of one run's key, by step, in logging order within a step."""
    mark = _mark(conn)
    # SQLite's (run_num, key_id, step) index entries end with the rowid, so ordering ties by
    # rowid (insertion order) costs no sort there; other databases fall back to the time.
    tie = "rowid" if conn.dialect.name == "sqlite" else "time"
    return (
        f"SELECT step, value, time FROM metrics WHERE run_num = {mark} AND key_id = {mark} "
        f"ORDER BY step, {tie}"
    )


def bucket_sql(conn: Connection) -> dict[str, str]:
    """Statements for :meth:`SQLStore.metric_buckets`, parameters (run_num, key_id, ...)
    except ``ids``: (run num, key id, point count) of a run id and key name.

    ``first``/``last``: the first/last (step, value, time) at or after / at or before a
    step (index seeks); ``final``: the last point; ``range``: min, max and count of values
    in ``[a, b]`` steps;
    ``grouped``: min, max, count and last step of every bucket from step ``lo`` of width
    ``w`` (params: lo, w, run_num, key_id, lo); ``rows``: the points from a step on;
    ``between``: the points from one step to another, both included.
    """
    m = _mark(conn)
    tie = "rowid" if conn.dialect.name == "sqlite" else "time"
    where = f"run_num = {m} AND key_id = {m}"
    # PostgreSQL refuses a step - lo past the largest BIGINT, so it divides in NUMERIC;
    # SQLite turns an overflowing integer into a float by itself.
    bucket = (
        f"(step - {m}) / {m}"
        if conn.dialect.name == "sqlite"
        else f"div(CAST(step AS NUMERIC) - {m}, {m})"  # exact, unlike a rounded "/"
    )
    return {
        "ids": 'SELECT r.num, k.id, (SELECT ms."count" FROM metric_summary ms '
        f"WHERE ms.run_id = r.id AND ms.key = k.name) FROM runs r, metric_keys k "
        f"WHERE r.id = {m} AND k.name = {m}",
        "first": f"SELECT step, value, time FROM metrics WHERE {where} AND step >= {m} "
        f"ORDER BY step, {tie} LIMIT 1",
        "last": f"SELECT step, value, time FROM metrics WHERE {where} AND step <= {m} "
        f"ORDER BY step DESC, {tie} DESC LIMIT 1",
        "final": f"SELECT step, value, time FROM metrics WHERE {where} "
        f"ORDER BY step DESC, {tie} DESC LIMIT 1",
        "range": f"SELECT min(value), max(value), count(*) FROM metrics WHERE {where} "
        f"AND step >= {m} AND step <= {m}",
        "grouped": f"SELECT {bucket} AS b, min(value), max(value), count(*), max(step) "
        f"FROM metrics WHERE {where} AND step >= {m} GROUP BY b ORDER BY b",
        "rows": f"SELECT step, value, time FROM metrics WHERE {where} AND step >= {m} "
        f"ORDER BY step, {tie}",
        "between": f"SELECT step, value, time FROM metrics WHERE {where} AND step >= {m} "
        f"AND step <= {m} ORDER BY step, {tie}",
    }


#: The largest step a BIGINT column holds.
_STEP_MAX = 2**63 - 1


def bucket_reduce(
    conn: Connection,
    run_num: int,
    key_id: int,
    lo: int,
    width: int,
    n: int,
    *,
    by_range: bool | None = None,
) -> list[tuple[Any, ...]]:
    """``(min, max, count, step, value, time)`` of each non-empty step bucket
    ``[lo + i * width, lo + (i + 1) * width)``, ``i < n``, the last four of its last point.

    SQLite scans each bucket's index range (its GROUP BY would sort a million rows in a
    temporary B-tree); other databases group in one statement and then fetch the last points.
    ``by_range`` chooses the way explicitly (tests run both on SQLite).
    """
    q = bucket_sql(conn)
    out: list[tuple[Any, ...]] = []
    with _raw_cursor(conn, q["range"]) as cursor:
        if conn.dialect.name == "sqlite" if by_range is None else by_range:
            for i in range(n):
                a = lo + i * width
                b = min(a + width - 1, _STEP_MAX)  # inclusive, so it stays a BIGINT
                cursor.execute(q["range"], (run_num, key_id, a, b))
                low, high, count = cursor.fetchone()
                if count:
                    cursor.execute(q["last"], (run_num, key_id, b))
                    out.append((low, high, count, *cursor.fetchone()))
            return out
        cursor.execute(q["grouped"], (lo, width, run_num, key_id, lo))
        groups = cursor.fetchall()
        last: dict[int, tuple[Any, ...]] = {}
        steps = [g[4] for g in groups]
        for start in range(0, len(steps), 500):
            chunk = steps[start : start + 500]
            marks = ", ".join([_mark(conn)] * len(chunk))
            sql = (
                f"SELECT step, value, time FROM metrics WHERE run_num = {_mark(conn)} "
                f"AND key_id = {_mark(conn)} AND step IN ({marks}) ORDER BY step, time"
            )
            cursor.execute(sql, (run_num, key_id, *chunk))
            for row in cursor.fetchall():
                last[row[0]] = tuple(row)  # the last logged at a step wins
        return [(g[1], g[2], g[3], *last[g[4]]) for g in groups]


def bucket_last_points(
    conn: Connection, run_num: int, key_id: int, lo: int, width: int, n: int
) -> list[tuple[Any, ...]]:
    """``(step, value, time)`` of the last point of each non-empty step bucket
    ``[lo + i * width, lo + (i + 1) * width)``, ``i < n``: one index seek per bucket, the
    points in between are never read."""
    q = bucket_sql(conn)["last"]
    out: list[tuple[Any, ...]] = []
    with _raw_cursor(conn, q) as cursor:
        for i in range(n):
            a = lo + i * width
            cursor.execute(q, (run_num, key_id, min(a + width - 1, _STEP_MAX)))
            row = cursor.fetchone()
            if row is not None and row[0] >= a:  # else the bucket is empty
                out.append(tuple(row))
    return out


def metrics_insert_sql(conn: Connection) -> str:
    """INSERT for (run_num, key_id, step, value, time) tuples in the driver's parameter style."""
    mark = _mark(conn)
    cols = "run_num, key_id, step, value, time"
    return f"INSERT INTO metrics ({cols}) VALUES ({', '.join([mark] * 5)})"


#: PostgreSQL's bulk load of metric points. Binary, so floats travel as their 8 bytes (exact,
#: +-inf and -0.0 included) instead of being printed and parsed.
METRICS_COPY_SQL = "COPY metrics (run_num, key_id, step, value, time) FROM STDIN (FORMAT BINARY)"

#: One row of :data:`METRICS_COPY_SQL` in PostgreSQL's binary COPY format
#: (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format"): the number of
#: fields (int16), then each field as its length in bytes (int32) and its value, all
#: big-endian: run_num int4, key_id int4, step int8, value float8, time float8.
_COPY_ROW = [
    ("fields", ">i2"),
    ("run_len", ">i4"),
    ("run_num", ">i4"),
    ("key_len", ">i4"),
    ("key_id", ">i4"),
    ("step_len", ">i4"),
    ("step", ">i8"),
    ("value_len", ">i4"),
    ("value", ">f8"),
    ("time_len", ">i4"),
    ("time", ">f8"),
]
#: The file header (signature, flags, no header extension) and trailer of the binary format.
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
COPY_TRAILER = b"\xff\xff"

#: Points of one metric for :func:`insert_metrics`: (key_id, steps, values, times), the
#: three columns as NumPy arrays (int64, float64, float64) or sequences convertible to them.
MetricPart = tuple[int, Any, Any, Any]


def metrics_copy_payload(
    run_num: int, parts: Sequence[MetricPart], *, framed: bool = True
) -> bytes:
    """The whole binary ``COPY`` stream of :data:`METRICS_COPY_SQL` for these points: header,
    one row per point (NaN values as NULL), trailer; with ``framed`` False only the rows
    (a part of a stream whose header and trailer are sent apart, see
    :class:`trialbook.store._stream.MetricStream`).

    Written with NumPy, one structured array for all rows, instead of psycopg's per-row
    ``Copy.write_row``: psycopg has no bulk or columnar way to feed a COPY, and
    ``write_row`` formats each row in Python (about 1 µs a row, holding the GIL that the
    training loop needs). psycopg's own ``write_row`` output is the reference the tests
    compare this with (tests/store/test_postgres_copy.py).
    """
    import numpy as np

    dtype = np.dtype(_COPY_ROW)  # packed: no padding between fields
    n = sum(len(p[1]) for p in parts)
    rows = np.empty(n, dtype=dtype)
    rows["fields"] = 5
    rows["run_len"] = rows["key_len"] = 4
    rows["step_len"] = rows["value_len"] = rows["time_len"] = 8
    rows["run_num"] = run_num
    at = 0
    for key_id, steps, values, times in parts:
        end = at + len(steps)
        rows["key_id"][at:end] = key_id
        rows["step"][at:end] = steps
        rows["value"][at:end] = values
        rows["time"][at:end] = times
        at = end
    nan = np.isnan(rows["value"])
    head, tail = (COPY_HEADER, COPY_TRAILER) if framed else (b"", b"")
    if not nan.any():
        return head + rows.tobytes() + tail
    # NaN is stored as NULL (see insert_metrics): length -1 and no value bytes, so those
    # rows are 8 bytes shorter; drop the bytes by mask from the fixed-width rows.
    rows["value_len"][nan] = -1
    keep = np.ones((n, dtype.itemsize), dtype=bool)
    offset = np.dtype(_COPY_ROW[: _COPY_ROW.index(("value", ">f8"))]).itemsize
    keep[nan, offset : offset + 8] = False
    flat = rows.view(np.uint8).reshape(n, dtype.itemsize)
    return head + flat[keep].tobytes() + tail


#: Byte length of one row of :data:`_COPY_ROW`, and where step, value and time start in it.
_ROW_SIZE = 54
_FIELD_AT = (22, 34, 46)


def metrics_copy_rows(
    run_num: int,
    key_id: int,
    steps: Sequence[int],
    values: Sequence[float],
    times: Sequence[float],
) -> bytes | bytearray:
    """The rows (no header or trailer) of :data:`METRICS_COPY_SQL` for one metric's points
    given as Python sequences, the bytes :func:`metrics_copy_payload` writes for them.

    Built with :mod:`array` and memoryview copies, which never release the interpreter
    lock, instead of NumPy: the tracker's writer calls this while a training loop holds the
    lock, and each NumPy operation on more than a few hundred elements releases it, after
    which the writer waits a whole switch interval (5 ms) to get it back (measured beside a
    busy loop: 15,000 points took 54 ms with NumPy, 2 ms this way). Points with a NaN value
    (stored as NULL, a shorter row) go through :func:`metrics_copy_payload`.

    Raises:
        TypeError, OverflowError: a step is not a 64-bit integer, or a value or time is not
            a float (nothing is built).
        ValueError: the columns differ in length.
    """
    from array import array

    n = len(steps)
    if not n == len(values) == len(times):
        raise ValueError("steps, values and times differ in length")
    columns: tuple[array[Any], ...] = (array("q", steps), array("d", values), array("d", times))
    if any(map(math.isnan, columns[1])):
        import numpy as np

        return metrics_copy_payload(
            run_num,
            [(key_id, np.asarray(columns[0]), np.asarray(columns[1]), np.asarray(columns[2]))],
            framed=False,
        )
    head = struct.pack(">hiiii", 5, 4, run_num, 4, key_id) + (b"\0\0\0\x08" + bytes(8)) * 3
    rows = bytearray(head) * n
    # Fill in the 8-byte fields through views of 8-byte words. A row is 54 bytes, so the
    # rows k, k + 4, k + 8, ... start 216 bytes (27 words) apart with the same alignment:
    # one strided copy per field and k in 0..3.
    view = memoryview(rows)
    swap = sys.byteorder == "little"
    for column, at in zip(columns, _FIELD_AT, strict=True):
        if swap:
            column.byteswap()
        words = memoryview(column).cast("B").cast("Q")
        for k in range(min(4, n)):
            start = at + _ROW_SIZE * k
            shift = start % 8
            count = (n - k + 3) // 4
            first = (start - shift) // 8
            aligned = view[shift : shift + (len(rows) - shift) // 8 * 8].cast("Q")
            aligned[first : first + 27 * (count - 1) + 1 : 27] = words[k::4]
    return rows


def insert_metrics(conn: Connection, run_num: int, parts: Sequence[MetricPart]) -> None:
    """Append a run's points to ``metrics`` in ``conn``'s open transaction; a NaN value is
    stored as NULL, so that SQL's min and max skip it (PostgreSQL sorts NaN above every
    number; SQLite turns NaN into NULL by itself).

    PostgreSQL with psycopg: one binary ``COPY`` (:func:`metrics_copy_payload`) on the
    connection SQLAlchemy holds, so the points commit or roll back with the rest of the
    transaction (the summary and block upserts). ``executemany`` there sends one INSERT per
    point (in pipeline mode) and the server plans and runs each; COPY streams the rows into
    one command (see bench/postgres.py). Elsewhere (SQLite, which runs it in C, or another
    PostgreSQL driver named in the URL, such as ``postgresql+psycopg2://``): ``executemany``.
    """
    if not _is_psycopg(conn):
        nan_as_null = conn.dialect.name != "sqlite"
        rows = itertools.chain.from_iterable(
            zip(
                itertools.repeat(run_num),
                itertools.repeat(key_id),
                _as_list(steps),
                [None if v != v else v for v in _as_list(values)]
                if nan_as_null
                else _as_list(values),
                _as_list(times),
            )
            for key_id, steps, values, times in parts
        )
        executemany(conn, metrics_insert_sql(conn), rows)
        return
    payload = metrics_copy_payload(run_num, parts)
    driver = conn.connection.driver_connection  # the psycopg.Connection itself
    assert driver is not None
    with (
        _driver_errors(conn, METRICS_COPY_SQL),
        driver.cursor() as cursor,
        cursor.copy(METRICS_COPY_SQL) as copy,
    ):
        copy.write(payload)


def _as_list(column: Any) -> Any:
    """A column as Python numbers for a DBAPI driver (NumPy scalars are not all bound)."""
    tolist = getattr(column, "tolist", None)
    return tolist() if tolist is not None else column


#: Merging a batch's summary into the stored one: the later step's value wins for ``last``,
#: a NULL (all-NaN batch) never replaces a min or max, counts add up. SQLite (>= 3.24) and
#: PostgreSQL share this ON CONFLICT syntax; columns are quoted (``min``, ``count``...).
_SUMMARY_UPSERT = """INSERT INTO metric_summary
 ("run_id", "key", "last", "last_step", "min", "min_step", "max", "max_step", "count")
 VALUES ({marks})
 ON CONFLICT ("run_id", "key") DO UPDATE SET
 "last" = CASE WHEN excluded."last_step" >= metric_summary."last_step"
   THEN excluded."last" ELSE metric_summary."last" END,
 "last_step" = CASE WHEN excluded."last_step" >= metric_summary."last_step"
   THEN excluded."last_step" ELSE metric_summary."last_step" END,
 "min" = CASE WHEN {lower} THEN excluded."min" ELSE metric_summary."min" END,
 "min_step" = CASE WHEN {lower} THEN excluded."min_step" ELSE metric_summary."min_step" END,
 "max" = CASE WHEN {higher} THEN excluded."max" ELSE metric_summary."max" END,
 "max_step" = CASE WHEN {higher} THEN excluded."max_step" ELSE metric_summary."max_step" END,
 "count" = metric_summary."count" + excluded."count"
"""
_LOWER = (
    'excluded."min" IS NOT NULL AND '
    '(metric_summary."min" IS NULL OR excluded."min" < metric_summary."min")'
)
_HIGHER = (
    'excluded."max" IS NOT NULL AND '
    '(metric_summary."max" IS NULL OR excluded."max" > metric_summary."max")'
)


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle in ("qmark", "numeric") else "%s"


def summary_upsert_sql(conn: Connection) -> str:
    """Upsert of (run_id, key, last, last_step, min, min_step, max, max_step, count) tuples.

    Written out once instead of built with SQLAlchemy constructs: the writer runs it on every
    flush, and building the construct cost more CPU than the insert itself.
    """
    marks = ", ".join([_mark(conn)] * 9)
    return _SUMMARY_UPSERT.format(marks=marks, lower=_LOWER, higher=_HIGHER)


#: Merging a batch's block rows into the stored ones (a block the previous batch left open):
#: ``{later}`` says when the batch's last point replaces the stored one.
_BLOCK_UPSERT = """INSERT INTO metric_blocks
 ("run_num", "key_id", "block", "first_step", "last_step", "min", "max", "count", "last",
  "last_time")
 {rows}
 ON CONFLICT ("run_num", "key_id", "block") DO UPDATE SET
 "first_step" = CASE WHEN excluded."first_step" < metric_blocks."first_step"
   THEN excluded."first_step" ELSE metric_blocks."first_step" END,
 "last" = CASE WHEN {later} THEN excluded."last" ELSE metric_blocks."last" END,
 "last_time" = CASE WHEN {later} THEN excluded."last_time" ELSE metric_blocks."last_time" END,
 "last_step" = CASE WHEN {later} THEN excluded."last_step" ELSE metric_blocks."last_step" END,
 "min" = CASE WHEN {lower} THEN excluded."min" ELSE metric_blocks."min" END,
 "max" = CASE WHEN {higher} THEN excluded."max" ELSE metric_blocks."max" END,
 "count" = metric_blocks."count" + excluded."count"
"""

#: PostgreSQL's element types of the block columns, for :func:`upsert_blocks`.
_BLOCK_ARRAY_TYPES = (
    "int4", "int4", "int8", "int8", "int8", "float8", "float8", "int8", "float8", "float8"
)  # fmt: skip


def block_upsert_sql(conn: Connection) -> str:
    """Upsert of :data:`trialbook.store._buckets.BlockRow` tuples (see
    :func:`summary_upsert_sql` for why it is written out). At an equal last step the later
    batch wins on SQLite (logging order), the later time elsewhere (the order points of one
    step are read in there; see :func:`history_sql`). On PostgreSQL it takes one array per
    column (:func:`upsert_blocks`)."""
    new, old = 'excluded."last_step"', 'metric_blocks."last_step"'
    if conn.dialect.name == "sqlite":
        later = f"{new} >= {old}"
    else:
        later = (
            f'({new} > {old} OR ({new} = {old} AND excluded."last_time" >= '
            'metric_blocks."last_time"))'
        )
    if _is_psycopg(conn):
        # %b: psycopg sends the arrays in binary, several times faster to build than text.
        arrays = ", ".join(f"%b::{t}[]" for t in _BLOCK_ARRAY_TYPES)
        rows = f"SELECT * FROM unnest({arrays})"
    else:
        rows = f"VALUES ({', '.join([_mark(conn)] * 10)})"
    return _BLOCK_UPSERT.format(
        later=later,
        rows=rows,
        lower=_LOWER.replace("metric_summary", "metric_blocks"),
        higher=_HIGHER.replace("metric_summary", "metric_blocks"),
    )


def upsert_blocks(conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
    """Merge a batch's :data:`~trialbook.store._buckets.BlockRow` tuples into
    ``metric_blocks`` (:func:`block_upsert_sql`).

    PostgreSQL with psycopg: one statement whose rows come from ``unnest`` of one array per
    column; ``executemany`` would run one upsert per block (a 100,000-point batch has
    1,563), each a statement the server executes separately. Elsewhere: ``executemany``
    (SQLite runs it in C).
    """
    if not rows:
        return
    sql = block_upsert_sql(conn)
    if not _is_psycopg(conn):
        executemany(conn, sql, rows)
        return
    with _raw_cursor(conn, sql) as cursor:
        cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])


def _is_psycopg(conn: Connection) -> bool:
    """PostgreSQL through psycopg 3: points go in by COPY, block rows as arrays."""
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


def blocks_sql(conn: Connection) -> dict[str, str]:
    """Statements on ``metric_blocks``, parameters (run_num, key_id, ...). ``from``: the
    blocks (first_step, last_step, min, max, count, last, last_time) whose last step is at
    or after a step, in block order; ``count``: the number of points all blocks hold."""
    m = _mark(conn)
    where = f"run_num = {m} AND key_id = {m}"
    cols = 'first_step, last_step, "min", "max", "count", "last", last_time'
    return {
        "from": f"SELECT {cols} FROM metric_blocks WHERE {where} AND last_step >= {m} "
        "ORDER BY block",
        "count": f'SELECT sum("count") FROM metric_blocks WHERE {where}',
    }


def rebuild_blocks(dbapi_conn: Any, dialect_name: str) -> int:
    """Recompute every row of ``metric_blocks`` from the stored points, in the caller's
    transaction (the tb0003 migration, a recovered database); returns the rows written.

    Points are read a run's metric at a time in step order (the index's order, logging
    order within a step), so blocks never straddle a gap between two runs or keys.
    """
    from trialbook.store._buckets import BLOCK_POINTS, block_rows

    sqlite = dialect_name == "sqlite"
    mark = "?" if sqlite else "%s"
    insert = (
        'INSERT INTO metric_blocks ("run_num", "key_id", "block", "first_step", "last_step", '
        f'"min", "max", "count", "last", "last_time") VALUES ({", ".join([mark] * 10)})'
    )
    write = dbapi_conn.cursor()
    # A server-side cursor on PostgreSQL, so a large store is not read into memory at once.
    read = dbapi_conn.cursor() if sqlite else dbapi_conn.cursor(name="trialbook_blocks")
    written = 0
    try:
        write.execute("DELETE FROM metric_blocks")
        read.execute(
            "SELECT run_num, key_id, step, value, time FROM metrics "
            f"ORDER BY run_num, key_id, step, {'rowid' if sqlite else 'time'}"
        )
        ids: tuple[int, int] | None = None
        seq = 0
        steps: list[int] = []
        values: list[Any] = []
        times: list[float] = []

        def flush() -> int:
            assert ids is not None
            nans = [math.nan if v is None else v for v in values]
            rows = block_rows(*ids, seq, steps, nans, times, by_time=not sqlite)
            write.executemany(insert, rows)
            return len(rows)

        while True:
            chunk = read.fetchmany(16 * 1024)
            if not chunk:
                break
            for num, key_id, step, value, t in chunk:
                if (num, key_id) != ids:
                    if steps:
                        written += flush()
                    ids, seq = (num, key_id), 0
                    steps, values, times = [], [], []
                steps.append(step)
                values.append(value)
                times.append(t)
                if len(steps) == 64 * BLOCK_POINTS:
                    written += flush()
                    seq += len(steps)
                    steps, values, times = [], [], []
        if steps:
            written += flush()
    finally:
        read.close()
        write.close()
    return written


#: The key of the PostgreSQL advisory lock held while the schema is created or migrated
#: (any 64-bit number that other applications on the same database are unlikely to use).
SCHEMA_LOCK_KEY = 0x7472_6961_6C62_6B01  # "trialbk" + 1


def schema_lock(conn: Connection) -> None:
    """Serialise schema creation and migration between processes, until the transaction ends.

    PostgreSQL: ``pg_advisory_xact_lock``; without it, processes creating the tables of an
    empty database at once collide on its catalog ("duplicate key value violates unique
    constraint pg_type_typname_nsp_index"). SQLite needs nothing: a write transaction
    (``BEGIN IMMEDIATE``) already holds the whole file.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})


def enable_wal(engine: Engine) -> None:
    """Put a SQLite database in WAL mode (persistent in the file); a no-op elsewhere."""
    if engine.dialect.name != "sqlite" or sqlite_path(str(engine.url)) is None:
        return
    import sqlite3
    import time

    # Switching to WAL needs the database to itself, and SQLite answers "database is locked"
    # at once (no busy handler) while another process that is creating the same workspace
    # still reads it. Retry within the busy timeout; whoever switches first wins for all.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    with engine.connect() as conn:
        dbapi_conn = conn.connection.dbapi_connection
        assert dbapi_conn is not None
        cur = dbapi_conn.cursor()
        try:
            while True:
                try:
                    mode = cur.execute("PRAGMA journal_mode").fetchone()
                    if mode and str(mode[0]).lower() != "wal":
                        cur.execute("PRAGMA journal_mode = WAL")
                    return
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e) or time.monotonic() > deadline:
                        raise
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        finally:
            cur.close()


def _dialect_insert(engine_or_conn: Engine | Connection, table: Table) -> Any:
    name = engine_or_conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return None


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    set_: Any,
) -> None:
    """Insert ``rows``; on a conflict on ``keys`` apply ``set_(stmt.excluded)`` as the update."""
    stmt = _dialect_insert(conn, table)
    if stmt is None:
        raise StoreError(
            f"The {conn.dialect.name} database is not supported; use SQLite or PostgreSQL."
        )
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=set_(stmt.excluded))
    conn.execute(stmt, list(rows))


def insert_ignore(conn: Connection, table: Table, keys: Sequence[str]) -> Insert:
    """An INSERT that silently skips rows conflicting on ``keys``."""
    stmt = _dialect_insert(conn, table)
    if stmt is None:
        raise StoreError(
            f"The {conn.dialect.name} database is not supported; use SQLite or PostgreSQL."
        )
    result: Insert = stmt.on_conflict_do_nothing(index_elements=list(keys))
    return result


_TRANSIENT = re.compile(
    r"database is locked|database table is locked|busy|deadlock|could not serialize"
)


def is_transient(error: BaseException) -> bool:
    """True for lock and serialization errors that a retry can cure."""
    return isinstance(error, exc.OperationalError | exc.DBAPIError) and bool(
        _TRANSIENT.search(str(error.orig if isinstance(error, exc.DBAPIError) else error).lower())
    )


def translate(error: exc.SQLAlchemyError, url: str) -> Exception:
    """Turn a SQLAlchemy error into a trialbook error whose message says what to do."""
    from trialbook._redact import hide_passwords

    orig = getattr(error, "orig", None)
    msg = hide_passwords(str(orig if orig is not None else error).strip())
    low = msg.lower()
    path = sqlite_path(url)
    where = str(path) if path else safe_url(url)
    if "malformed" in low or (
        "not a database" in low and path is not None and _has_sqlite_header(path)
    ):
        return NotATrialbookDatabase(damaged_message(url, msg))
    if "file is not a database" in low or "not a database" in low:
        return NotATrialbookDatabase(
            f"{where} is not a readable SQLite database ({msg}); move it aside or point "
            "root=.../store_url=... at another workspace.",
            parameter="store_url",
            value=safe_url(url),
        )
    if "readonly" in low or "read-only" in low or "unable to open database" in low:
        return WorkspaceError(
            f"Cannot write to {where} ({msg}); check the folder's permissions or choose "
            "another workspace with root=....",
            parameter="root",
            value=path.parent if path is not None else None,
        )
    return StoreError(f"The database {where} failed: {msg.rstrip('.')}.")


def safe_url(url: str) -> str:
    """A store URL with its password masked (``***``), fit to print or write: the one way a
    store URL is shown. A ``password`` query parameter (libpq takes one) is masked too; a
    string that does not parse as a URL is masked as free text
    (:func:`trialbook._redact.hide_passwords`)."""
    from trialbook._redact import hide_passwords

    try:
        u = make_url(url)
    except (exc.ArgumentError, ValueError):
        return hide_passwords(url)
    if u.get_backend_name() == "sqlite":
        return url  # no password, and a path shown as it was typed (not percent-encoded)
    return hide_passwords(u.render_as_string(hide_password=True))


def _has_sqlite_header(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def store_flag(url: str) -> str:
    """The option that names this store on the command line (``--root DIR`` for a
    workspace's own trialbook.db, else ``--store URL``)."""
    path = sqlite_path(url)
    if path is not None and path.name == "trialbook.db":
        return f" --root {path.parent}"
    return f" --store '{safe_url(url)}'"


def damaged_message(url: str, detail: str) -> str:
    """The one sentence for a database SQLite reports damaged, naming the two commands."""
    path = sqlite_path(url)
    where = str(path) if path else safe_url(url)
    if path is not None:
        from trialbook.store._integrity import forget_check

        forget_check(path)  # the next open checks the whole file again
    flag = store_flag(url)
    return (
        f"The database {where} is damaged ({detail.rstrip('.')}), so trialbook will not write "
        f"to it; run `trialbook db check{flag}` to see the damage and "
        f"`trialbook db recover{flag}` to copy what is readable into a new database."
    )


def database_bytes(conn: Connection, url: str) -> int | None:
    """Size of the database on disk (SQLite: the file plus its WAL), None when unknown."""
    path = sqlite_path(url)
    if path is not None:
        total = 0
        for suffix in ("", "-wal"):
            p = Path(str(path) + suffix)
            if p.exists():
                total += os.path.getsize(p)
        return total
    if conn.dialect.name == "postgresql":
        value = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
        return int(value) if value is not None else None
    return None
