"""Metric points streamed into one open PostgreSQL transaction while a run logs them.

The tracker's writer hands a fast logging loop's points over every few thousand calls
(:data:`trialbook.tracking._writer.EARLY_FLUSH_CALLS`). Writing each hand-over as its own
transaction costs several round trips (checkout, ``BEGIN``, the ``COPY`` itself, the summary
and block upserts, ``COMMIT``), each of which waits for the interpreter lock the loop holds.
A :class:`MetricStream` instead keeps one binary ``COPY`` into ``metrics`` open: each
:meth:`MetricStream.write` only appends rows to it, so the server stores them while the loop
runs, and :meth:`MetricStream.commit` ends the ``COPY``, upserts the summaries and blocks of
every point sent since the last commit, and commits, all in that one transaction (points,
summaries and blocks still commit or roll back together). The writer commits at least every
``flush_interval`` and when the run is left, so the durability rules do not change.
"""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as sa_exc

from trialbook.store import _dialect
from trialbook.store._base import MetricColumns

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, RootTransaction

    from trialbook.store._sql import SQLStore

__all__ = ["MetricStream"]

#: Ids of metric names (inserting the new ones) with the points a run holds under each:
#: parameters (names, run id).
_KEYS_SQL = """WITH wanted(name) AS (SELECT unnest(%s::text[])),
 new AS (INSERT INTO metric_keys (name) SELECT name FROM wanted
   ON CONFLICT (name) DO NOTHING RETURNING id, name),
 ids AS (SELECT id, name FROM new
   UNION ALL SELECT k.id, k.name FROM metric_keys k JOIN wanted USING (name))
SELECT ids.id, ids.name, coalesce(m."count", 0) FROM ids
 LEFT JOIN metric_summary m ON m.run_id = %s AND m."key" = ids.name"""


class MetricStream:
    """One run's points sent by an open binary ``COPY`` and committed together.

    Not thread-safe: the writer calls it under its own lock. After an error the stream is
    closed (its transaction rolled back) and every point sent since the last commit is
    lost from the database; the caller still holds them and writes them again.
    """

    def __init__(self, store: SQLStore, run_id: str) -> None:
        self._store = store
        self.run_id = run_id
        # The pooled connection, checked out while a transaction is open (and to read the
        # run's number); _conn is set while the transaction is open.
        self._idle: Connection | None = None
        self._conn: Connection | None = None
        self._tx: RootTransaction | None = None
        self._copy_cm: Any = None
        self._writer: Any = None
        self._copy: Any = None
        self._cursor: Any = None
        self._num: int | None = None  # the run's number, read once
        self._key_ids: dict[str, int] = {}
        # Per key: points stored at the last commit, and with those sent since.
        self._before: dict[str, int] = {}
        self._count: dict[str, int] = {}
        # Per key: the columns (as the writer gave them) sent since the last commit, in
        # logging order.
        self._sent: dict[str, list[tuple[Any, Any, Any]]] = {}
        #: Points sent since the last commit.
        self.points = 0

    # ----------------------------------------------------------------- public
    def write(self, columns: MetricColumns) -> None:
        """Send these points (not yet committed: see :meth:`commit`).

        Only GIL-holding work happens here (:func:`~trialbook.store._dialect.metrics_copy_rows`
        and a non-blocking send): the writer calls this while the training loop runs.

        Raises:
            StoreError: the database refused them (the stream is then closed).
            TypeError, OverflowError: a step, value or time is not a number the table holds
                (the stream is then closed; the writer's plain transactions name the metric).
        """
        columns = {k: c for k, c in columns.items() if len(c[0])}
        if not columns:
            return
        try:
            conn = self._begin()
            new = [k for k in columns if k not in self._key_ids]
            if new:
                self._end_copy()  # no other statement runs while a COPY is open
                self._add_keys(conn, new)
            num = self._num
            assert num is not None  # read by _begin's connection
            payload = [
                _dialect.metrics_copy_rows(num, self._key_ids[key], *cols)
                for key, cols in columns.items()
            ]
            copy = self._start_copy(conn)
            for rows in payload:
                copy.write(rows)
        except BaseException as e:
            error = self._fail(e)
            if error is e:
                raise
            raise error from e
        for key, cols in columns.items():
            self._sent.setdefault(key, []).append(cols)
            self._count[key] += len(cols[0])
            self.points += len(cols[0])

    def commit(self) -> None:
        """End the ``COPY``, merge the summaries and blocks of every point sent since the
        last commit, and commit; the next :meth:`write` opens a new transaction.

        Raises:
            StoreError: the transaction failed and was rolled back (the stream is closed).
        """
        if self._conn is None:
            return
        import numpy as np

        from trialbook.store._buckets import batch_summary, block_rows

        num = self._num
        assert num is not None  # read before the transaction's first write
        try:
            conn = self._conn
            # Summaries and blocks are computed while the server still stores the rows.
            summaries = []
            blocks: list[Any] = []
            for key, parts in self._sent.items():
                cols: list[Any] = [
                    np.array(list(itertools.chain.from_iterable(c)), dtype=dtype)
                    for c, dtype in zip(zip(*parts, strict=True), _DTYPES, strict=True)
                ]
                summaries.append(batch_summary(self.run_id, key, *cols))
                blocks.extend(
                    block_rows(num, self._key_ids[key], self._before[key], *cols, by_time=True)
                )
            self._end_copy()
            if summaries:
                _dialect.executemany(conn, _dialect.summary_upsert_sql(conn), summaries)
            _dialect.upsert_blocks(conn, blocks)
            assert self._tx is not None
            self._tx.commit()
        except BaseException as e:
            error = self._fail(e)
            if error is e:
                raise
            raise error from e
        self._close()
        store = self._store
        store._key_id_cache.update(self._key_ids)  # committed: safe to cache (see _key_ids)
        for key in self._sent:
            store._point_counts[self.run_id, key] = self._before[key] = self._count[key]
        self._sent = {}
        self.points = 0

    def abort(self) -> None:
        """Roll back what was sent since the last commit and close the stream (the next
        :meth:`write` starts a new transaction on a new connection)."""
        self._sent = {}
        self.points = 0
        self._before = {}
        self._count = {}
        if self._writer is not None:
            self._writer.abandoned = True  # psycopg's clean-up of the COPY sends nothing
        conn, busy = self._idle, self._conn is not None
        self._idle = self._conn = self._tx = None
        if conn is not None:
            try:
                if busy:  # a COPY may be half sent: never give the connection back
                    conn.invalidate()
                conn.close()
            except Exception:  # closing a broken connection must not hide the first error
                pass
        self._copy = self._copy_cm = self._cursor = self._writer = None

    # ----------------------------------------------------------------- plumbing
    def prepare(self) -> None:
        """Read the run's number before points come (the tracker calls this when the run
        starts, so that the first write, while the loop runs, has one round trip less to
        wait for). A failure is left to the first write."""
        import numpy  # noqa: F401  (the first write's import would hold the loop's lock)

        try:
            self._connect()
        except Exception:
            self.abort()
        else:
            self._release()

    def close(self) -> None:
        """Give the connection back (what was not committed is rolled back)."""
        self.abort()

    def __del__(self) -> None:
        # A stream dropped with its COPY open: the COPY holds the psycopg connection's lock
        # (psycopg's Cursor.copy), and the pool's clean-up of a dropped connection, a
        # rollback, waits for that lock forever (seen when a failed test left a stream open).
        # Close the connection without a rollback instead.
        if self._copy is not None:
            self.abort()

    def _connect(self) -> Connection:
        if self._idle is None:
            store = self._store
            if store.read_only is not None:
                from trialbook.errors import WorkspaceError

                raise WorkspaceError(store.read_only)
            conn = store._writer_engine.connect()
            if self._num is None:
                try:
                    self._num = store._run_num(conn, self.run_id)
                    conn.commit()  # the read began a transaction: end it
                except BaseException:
                    conn.close()
                    raise
            self._idle = conn
        return self._idle

    def _release(self) -> None:
        """Give the connection back to the pool between transactions: a process may hold
        more runs than the pool has connections."""
        conn, self._idle = self._idle, None
        if conn is not None:
            conn.close()

    def _begin(self) -> Connection:
        if self._conn is not None:
            return self._conn
        conn = self._connect()
        self._tx = conn.begin()
        self._conn = conn
        # Ids of new keys are the transaction's until it commits (see SQLStore._key_ids).
        self._key_ids = {}
        return conn

    def _add_keys(self, conn: Connection, keys: list[str]) -> None:
        """Ids of ``keys`` (inserting new ones) and the points each holds, in one round trip
        for those the Store does not know yet."""
        store = self._store
        counts = store._point_counts
        known = store._key_id_cache
        unknown = [
            k
            for k in keys
            if k not in known or ((self.run_id, k) not in counts and k not in self._before)
        ]
        if unknown:
            with _dialect._raw_cursor(conn, _KEYS_SQL) as cursor:
                cursor.execute(_KEYS_SQL, (unknown, self.run_id))
                for key_id, name, count in cursor.fetchall():
                    self._key_ids[name] = key_id
                    self._before.setdefault(name, int(count))
        # Known keys, and a key another process inserted meanwhile (not in the statement's
        # snapshot): the Store's own lookup.
        rest = [k for k in keys if k not in self._key_ids]
        if rest:
            self._key_ids.update(store._key_ids(conn, rest))
            missing = [k for k in rest if (self.run_id, k) not in counts and k not in self._before]
            if missing:
                self._before.update(store._stored_counts(conn, self.run_id, missing))
        for k in keys:
            if k not in self._before:
                self._before[k] = counts[self.run_id, k]
            self._count[k] = self._before[k]

    def _start_copy(self, conn: Connection) -> Any:
        if self._copy is None:
            driver = conn.connection.driver_connection
            assert driver is not None
            self._cursor = driver.cursor()
            self._writer = _sending_writer(self._cursor)
            self._copy_cm = self._cursor.copy(_dialect.METRICS_COPY_SQL, writer=self._writer)
            self._copy = self._copy_cm.__enter__()
            self._copy.write(_dialect.COPY_HEADER)
        return self._copy

    def _end_copy(self) -> None:
        if self._copy is None:
            return
        copy, cm, cursor = self._copy, self._copy_cm, self._cursor
        self._copy = self._copy_cm = self._cursor = self._writer = None
        copy.write(_dialect.COPY_TRAILER)
        cm.__exit__(None, None, None)
        cursor.close()

    def _close(self) -> None:
        """After a commit."""
        self._conn = self._tx = None
        self._release()

    def _fail(self, error: BaseException) -> BaseException:
        """Close the stream after ``error``; the error to raise (a StoreError for a database
        error, as every Store method raises)."""
        self.abort()
        if isinstance(error, sa_exc.SQLAlchemyError):
            return self._store._translate(error)
        dbapi = _psycopg_error()
        if dbapi is not None and isinstance(error, dbapi):
            wrapped = sa_exc.DBAPIError.instance(
                _dialect.METRICS_COPY_SQL, None, error, dbapi, dialect=self._store.engine.dialect
            )
            return self._store._translate(wrapped)
        return error


#: NumPy types of the (steps, values, times) columns.
_DTYPES = ("int64", "float64", "float64")
#: Bytes handed to libpq per call (psycopg splits larger buffers the same way: libpq can
#: loop forever on a buffer it cannot grow to hold, psycopg#255).
_PART = 128 * 1024
#: The send buffer asked of the kernel for a stream's socket: a fast loop's early writes
#: (~1 MB per 20,000 points) then leave at once, and the server reads them while this
#: thread goes on. The kernel caps it (``net.core.wmem_max``); asking is enough.
_SEND_BUFFER = 4 * 1024 * 1024


def _sending_writer(cursor: Any) -> Any:
    """A psycopg COPY writer whose :meth:`write` hands the data to libpq and sends what the
    socket takes now, never waiting (psycopg's own writers wait for the socket in a poll
    that releases the interpreter lock, and under a busy loop each such wait costs a
    5 ms switch interval; its queued writer adds a thread that waits the same way). The
    data the socket did not take stays in libpq's buffer until the next write
    or the end of the COPY, which waits for all of it (psycopg's ``finish``).
    """
    import socket

    from psycopg.copy import LibpqWriter
    from psycopg.generators import copy_to

    class SendingWriter(LibpqWriter):
        #: Set by :meth:`MetricStream.abort`, which closes the connection itself: ending the
        #: COPY would wait for a server that may be gone (and psycopg logs that failure).
        abandoned = False

        def __init__(self, cursor: Any) -> None:
            super().__init__(cursor)
            try:
                sock = socket.socket(fileno=os.dup(self._pgconn.socket))
                try:
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) < _SEND_BUFFER:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER)
                finally:
                    sock.close()
            except OSError:  # a bigger buffer is only faster; keep the kernel's
                pass

        def write(self, data: Any) -> None:
            pgconn = self._pgconn
            view = memoryview(data)
            for at in range(0, len(view), _PART):
                part = view[at : at + _PART]
                if pgconn.put_copy_data(part) == 0:  # libpq could not grow its buffer
                    self.connection.wait(copy_to(pgconn, part, flush=True))
            pgconn.flush()

        def finish(self, exc: BaseException | None = None) -> None:
            if not self.abandoned:
                super().finish(exc)

    return SendingWriter(cursor)


def _psycopg_error() -> type[Exception] | None:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - a stream exists only with psycopg
        return None
    return psycopg.Error
