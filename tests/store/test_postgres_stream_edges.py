"""Edge cases of PostgreSQL's metric stream (``MetricStream`` and the writer that drives it):
each test is what a user relies on, on the session's real PostgreSQL server.
"""

from __future__ import annotations

import signal

import pytest
from sqlalchemy import text
from store_helpers import RUN, kill_other_connections, log_calls

from trialbook.store import SQLStore
from trialbook.tracking._writer import MetricWriter


def _stored_steps(store: SQLStore) -> list[int]:
    with store.engine.connect() as conn:
        steps = conn.execute(text("SELECT step FROM metrics ORDER BY step")).scalars()
        return [int(s) for s in steps]


def test_points_sent_after_a_failed_batch_commit_in_the_same_send_are_stored(
    pg: SQLStore,
) -> None:
    """The server restarts while an early send (several parts) is under way and the stream
    commits because it reached ``batch_points``: every point is still stored, once."""
    pg.batch_points = 1000  # reached by the first part (2,048 calls)
    writer = MetricWriter(pg, RUN, flush_interval=3600.0)
    log_calls(writer, range(0, 5000))  # three parts: 2,048 + 2,048 + 904
    stream = writer._open_stream()
    assert stream is not None
    real_commit = stream.commit
    killed = []

    def commit_after_a_server_restart() -> None:
        if not killed:  # the connection dies between the first part and its commit
            killed.append(kill_other_connections(pg))
        real_commit()

    stream.commit = commit_after_a_server_restart  # type: ignore[method-assign]
    try:
        assert writer._send()
        assert killed and killed[0] >= 1
        writer.flush()  # what the failed stream held is written again, once
        assert _stored_steps(pg) == list(range(5000))
        assert pg.metric_summaries([RUN])[RUN]["loss"].count == 5000
    finally:
        writer.drain(0)
        # Break the cycle through the wrapper and close the COPY the stream left open: in a
        # cycle, the pool's weakref clean-up (a rollback, waiting for psycopg's connection lock
        # the COPY holds) runs before MetricStream.__del__, and hangs the next test.
        del stream.commit
        stream.abort()


def test_points_of_a_flush_interrupted_by_ctrl_c_are_stored_by_the_next_flush(
    pg: SQLStore,
) -> None:
    """Ctrl-C in a notebook while ``run.flush()`` commits the stream: the interrupted
    transaction rolls back, and the next flush still stores every point logged, once."""
    writer = MetricWriter(pg, RUN, flush_interval=3600.0)
    log_calls(writer, range(0, 3000))
    assert writer._send()  # in the stream's open transaction, not committed
    stream = writer._stream
    assert stream is not None
    real_end_copy = stream._end_copy

    def end_copy_then_ctrl_c() -> None:
        real_end_copy()
        signal.raise_signal(signal.SIGINT)  # Python raises KeyboardInterrupt in this thread

    stream._end_copy = end_copy_then_ctrl_c  # type: ignore[method-assign]
    # Python's own Ctrl-C handler, as in a terminal or a notebook (a process started in the
    # background, as CI may start the tests, inherits SIGINT ignored).
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            writer.flush()
        del stream._end_copy
        log_calls(writer, range(3000, 3100))
        writer.flush()
        assert _stored_steps(pg) == list(range(3100))
    finally:
        signal.signal(signal.SIGINT, handler)
        writer.drain(0)
        stream.__dict__.pop("_end_copy", None)
        stream.abort()


def test_fifteen_runs_open_in_one_process_leave_the_store_usable(pg: SQLStore) -> None:
    """A sweep that runs 15 trials in threads of one process (one Engine per database, see
    store._connect, whose pool holds 15 connections): an open run holds no connection
    between its transactions, so the store still answers, and every run's points go in."""
    from store_helpers import add_run

    runs = [f"20260101_120000_{i:06d}" for i in range(15)]
    writers = []
    try:
        for n, run_id in enumerate(runs):
            add_run(pg, run_id)
            writer = MetricWriter(pg, run_id, flush_interval=3600.0, heartbeat_interval=3600.0)
            writer.start()  # as start_run does: the stream reads the run's number now
            writers.append(writer)
            log_calls(writer, range(n * 10, n * 10 + 10))
            assert writer._send()  # one open transaction...
            assert writer.flush() == 10  # ...committed
        assert pg._writer_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert pg.get_run(RUN).id == RUN  # a pool left empty would wait 30 s, then raise
        for n, run_id in enumerate(runs):
            assert pg.metric_history(run_id, "loss").steps == tuple(range(n * 10, n * 10 + 10))
    finally:
        for writer in writers:
            writer.stop()
            writer.drain(0)
