"""PostgreSQL's metric stream (``SQLStore.metric_stream``): the tracker's writer sends a fast
loop's points into one open COPY and commits them together. What it stores is what
``log_metric_columns`` stores (points, summaries, blocks), nothing is visible before the
commit, and a stream that fails mid-transaction loses no point and duplicates none: the
writer writes them again in transactions of their own.

Each test uses a fresh database on the session's real PostgreSQL server and compares with a
SQLite file given the same points.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from sqlalchemy import text
from store_helpers import BLOCKS_SELECT, RUN, Batch, kill_other_connections, log_calls

from trialbook.errors import StoreError
from trialbook.store import SQLStore
from trialbook.tracking._writer import MetricWriter


def _batches() -> list[Batch]:
    """Three batches: "acc" appears in the second (a key new to an open COPY), a NaN, a
    repeated step, and block boundaries that fall inside batches."""
    out: list[Batch] = []
    step = 0
    for size, keys in ((100, ("loss",)), (70, ("loss", "acc")), (200, ("acc", "loss"))):
        steps = list(range(step, step + size))
        if size == 70:
            steps[10] = steps[9]  # a step logged twice
        times = [1000.0 + s * 1e-3 for s in steps]
        batch: Batch = {}
        for key in keys:
            values = [math.sin(s) + (key == "acc") for s in steps]
            if key == "loss" and size == 200:
                values[5] = math.nan
            batch[key] = (steps, values, times)
        out.append(batch)
        step += size
    return out


def _stored(store: SQLStore) -> tuple[Any, ...]:
    histories = {k: store.metric_history(RUN, k) for k in ("loss", "acc")}
    points = {
        k: (h.steps, tuple("nan" if v != v else v for v in h.values), h.times)
        for k, h in histories.items()
    }
    summaries = store.metric_summaries([RUN]).get(RUN, {})
    with store.engine.connect() as conn:
        blocks = [
            tuple("nan" if isinstance(v, float) and v != v else v for v in row)
            for row in conn.execute(text(BLOCKS_SELECT))
        ]
    return points, summaries, blocks


def _visible_points(store: SQLStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM metrics")).scalar_one())


def test_streamed_batches_store_what_log_metric_columns_stores(
    pg: SQLStore, lite: SQLStore
) -> None:
    stream = pg.metric_stream(RUN)
    assert stream is not None
    for batch in _batches():
        stream.write(batch)
        lite.log_metric_columns(RUN, batch)
    assert _visible_points(pg) == 0  # nothing is committed before commit()
    stream.commit()
    # A second transaction on the same stream continues the blocks where the first left.
    more: Batch = {"loss": ([370, 371], [0.5, -0.5], [2000.0, 2000.1])}
    stream.write(more)
    stream.commit()
    lite.log_metric_columns(RUN, more)
    stream.close()
    assert _stored(pg) == _stored(lite)
    assert pg.metric_summaries([RUN])[RUN]["loss"].count == 372


def test_an_aborted_stream_leaves_nothing_and_the_next_transaction_starts_clean(
    pg: SQLStore, lite: SQLStore
) -> None:
    first, second, third = _batches()
    stream = pg.metric_stream(RUN)
    assert stream is not None
    stream.write(first)
    stream.commit()
    stream.write(second)
    stream.abort()
    assert pg.metric_summaries([RUN])[RUN]["loss"].count == 100
    stream.write(second)
    stream.write(third)
    stream.commit()
    stream.close()
    for batch in (first, second, third):
        lite.log_metric_columns(RUN, batch)
    assert _stored(pg) == _stored(lite)


def test_sqlite_has_no_stream(lite: SQLStore) -> None:
    assert lite.metric_stream(RUN) is None


def test_points_of_a_stream_whose_connection_died_are_written_again_once(
    pg: SQLStore, lite: SQLStore
) -> None:
    writer = MetricWriter(pg, RUN, flush_interval=3600.0)
    log_calls(writer, range(0, 3000))
    assert writer._send()  # sent into the open COPY, not committed
    assert _visible_points(pg) == 0
    assert kill_other_connections(pg) >= 1  # the stream's connection among them
    log_calls(writer, range(3000, 4000))
    assert writer.flush() == 4000  # the stream fails; its points go in again, once
    lite.log_metric_columns(
        RUN, {"loss": (list(range(4000)), [i * 0.5 for i in range(4000)],
                       [1000.0 + i * 1e-3 for i in range(4000)])}
    )  # fmt: skip
    assert _stored(pg) == _stored(lite)
    # The writer streams again after the failure.
    log_calls(writer, range(4000, 4100))
    assert writer._send()
    assert writer.flush() == 100
    assert pg.metric_summaries([RUN])[RUN]["loss"].count == 4100
    writer.drain(0)


def test_more_points_than_the_socket_holds_at_once_are_all_stored_at_commit(
    pg: SQLStore,
) -> None:
    """A write hands libpq what the socket cannot take yet (it never waits for the server);
    the commit sends the rest first. 300,000 points are ~16 MB, more than a socket buffer."""
    stream = pg.metric_stream(RUN)
    assert stream is not None
    n = 300_000
    stream.write(
        {"loss": (list(range(n)), [i * 0.25 for i in range(n)], [1.0 * i for i in range(n)])}
    )
    stream.write({"loss": ([n], [-1.0], [float(n)])})
    stream.commit()
    stream.close()
    history = pg.metric_history(RUN, "loss")
    assert len(history) == n + 1
    assert history.values[:3] == (0.0, 0.25, 0.5) and history.values[-1] == -1.0
    assert pg.metric_summaries([RUN])[RUN]["loss"].count == n + 1


def test_a_send_takes_only_what_was_waiting_so_heartbeats_go_on_under_a_fast_loop(
    pg: SQLStore,
) -> None:
    """The writer's early send works through the calls waiting when it began, in parts; calls
    logged meanwhile (a loop faster than the writer) wait for its next look, so the writer
    thread gets back to its heartbeats and commits between sends."""
    writer = MetricWriter(pg, RUN, flush_interval=3600.0)
    log_calls(writer, range(0, 5000))
    stream = writer._open_stream()
    assert stream is not None
    real_write = stream.write
    logged = [5000]

    def write_while_the_loop_logs(columns: Any) -> None:
        real_write(columns)
        log_calls(writer, range(logged[0], logged[0] + 1))  # the loop goes on meanwhile
        logged[0] += 1

    stream.write = write_while_the_loop_logs  # type: ignore[method-assign]
    try:
        assert writer._send()
        assert stream.points == 5000  # three parts: 2,048 + 2,048 + 904
        assert len(writer.buffer) == 3  # one call per part logged meanwhile, left for later
        assert writer.flush() == 5003
        assert pg.metric_history(RUN, "loss").steps == tuple(range(5003))
    finally:
        writer.drain(0)


def test_a_stream_refused_by_the_database_raises_store_error(pg: SQLStore) -> None:
    stream = pg.metric_stream(RUN)
    assert stream is not None
    stream.write({"loss": ([0], [1.0], [1.0])})
    kill_other_connections(pg)
    with pytest.raises(StoreError):
        stream.write({"loss": ([1], [1.0], [1.0])})
        stream.commit()
    stream.write({"loss": ([2], [2.0], [2.0])})  # a new connection, a new transaction
    stream.commit()
    stream.close()
    assert pg.metric_history(RUN, "loss").steps == (2,)


def test_a_child_forked_while_a_stream_is_open_leaves_the_parents_transaction_alone(
    pg: SQLStore,
) -> None:
    import gc
    import os

    writer = MetricWriter(pg, RUN, flush_interval=3600.0)
    log_calls(writer, range(0, 3000))
    assert writer._send()
    pid = os.fork()
    if pid == 0:  # the child drops and collects the parent's writer, as an adopting Run does
        code = 0 if writer._stream is None else 1
        del writer
        gc.collect()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    stream = writer._stream
    assert writer.flush() == 3000
    assert writer._stream is stream  # committed by the stream, not written again after a failure
    assert pg.metric_summaries([RUN])[RUN]["loss"].count == 3000
    writer.drain(0)
