"""PostgreSQL's write path (metric points by binary COPY, summary and blocks by upsert) stores
exactly what SQLite's ``executemany`` stores, edge values included, and stays atomic.

Each test logs the same batches into a SQLite file and into a fresh database on the session's
real PostgreSQL server (``postgres_server`` in tests/conftest.py) and compares what a reader
gets back: histories, summaries and the ``metric_blocks`` rows.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text
from store_helpers import BLOCKS_SELECT, RUN, Batch, add_run

from trialbook.errors import StoreError
from trialbook.store import SQLStore, connect
from trialbook.store._dialect import (
    COPY_HEADER,
    COPY_TRAILER,
    metrics_copy_payload,
    metrics_copy_rows,
)
from trialbook.testing.stores import new_postgres_database

OTHER = "20260101_120000_bbbbbb"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Clock:
    """Times increasing in logging order, as a run's writer hands them over (PostgreSQL reads
    points logged at one step in time order, SQLite in logging order: they agree then)."""

    def __init__(self) -> None:
        self.t = 1_765_000_000.123456

    def times(self, n: int) -> list[float]:
        out = [self.t + i * 1e-6 for i in range(n)]
        self.t += n * 1e-6
        return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and bool(a == b)


def _assert_same(name: str, got: Sequence[Any], want: Sequence[Any]) -> None:
    assert len(got) == len(want), f"{name}: {len(got)} entries, expected {len(want)}"
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True)) if not _same(g, w)]
    assert not bad, f"{name}: (index, PostgreSQL, SQLite) {bad[:5]}"


def _log_both(stores: Sequence[SQLStore], batches: Sequence[Batch]) -> None:
    for batch in batches:
        for store in stores:
            store.log_metric_columns(RUN, batch)


def _assert_stored_alike(pg: SQLStore, lite: SQLStore, keys: Sequence[str]) -> None:
    for key in keys:
        got, want = pg.metric_history(RUN, key), lite.metric_history(RUN, key)
        _assert_same(f"{key} steps", got.steps, want.steps)
        _assert_same(f"{key} values", got.values, want.values)
        _assert_same(f"{key} times", got.times, want.times)
    assert pg.metric_summaries([RUN]) == lite.metric_summaries([RUN])
    got_blocks, want_blocks = _blocks(pg), _blocks(lite)
    assert len(got_blocks) == len(want_blocks)
    for g, w in zip(got_blocks, want_blocks, strict=True):
        _assert_same(f"block {w[:2]}", g, w)


def _blocks(store: SQLStore) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(BLOCKS_SELECT)).all()]


def _batch(clock: Clock, **keys: tuple[list[int], list[float]]) -> Batch:
    return {k: (steps, values, clock.times(len(steps))) for k, (steps, values) in keys.items()}


# ------------------------------------------------------------------ edge values
def test_nan_infinities_and_signed_zero_are_stored_as_sqlite_stores_them(
    pg: SQLStore, lite: SQLStore
) -> None:
    clock = Clock()
    values = [0.5, math.nan, math.inf, -math.inf, -0.0, math.nan, 1e-308, -1.7976931348623157e308]
    _log_both(
        (pg, lite),
        [
            _batch(clock, loss=(list(range(8)), values)),
            _batch(clock, only_nan=([0, 1], [math.nan, math.nan])),
        ],
    )

    _assert_stored_alike(pg, lite, ["loss", "only_nan"])
    history = pg.metric_history(RUN, "loss")
    assert math.isnan(history.values[1]) and history.values[2:4] == (math.inf, -math.inf)
    assert math.copysign(1.0, history.values[4]) == -1.0  # binary COPY keeps the sign bit
    summary = pg.metric_summaries([RUN])[RUN]
    assert (summary["loss"].min, summary["loss"].max) == (-math.inf, math.inf)
    assert summary["only_nan"].min is None and math.isnan(summary["only_nan"].last)


def test_nan_is_stored_as_null_on_postgresql_so_sql_min_and_max_ignore_it(pg: SQLStore) -> None:
    clock = Clock()
    pg.log_metric_columns(RUN, _batch(clock, loss=([0, 1, 2], [1.0, math.nan, 3.0])))

    with pg.engine.connect() as conn:
        nulls, nans, top = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE value IS NULL), "
                "count(*) FILTER (WHERE value = 'NaN'::float8), max(value) FROM metrics"
            )
        ).one()
    # PostgreSQL sorts NaN above every number: a stored NaN would be every max().
    assert (nulls, nans, top) == (1, 0, 3.0)


def test_steps_at_the_int64_extremes_and_exact_times_round_trip(
    pg: SQLStore, lite: SQLStore
) -> None:
    clock = Clock()
    steps = [INT64_MIN, -1, 0, INT64_MAX - 1, INT64_MAX]
    times = [0.0, 1e-300, 1_765_000_000.000001, 1_765_000_000.9999999, 4.9e-324]
    batch = {"loss": (steps, [1.0, 2.0, 3.0, 4.0, 5.0], times)}
    _log_both((pg, lite), [batch, _batch(clock, acc=([INT64_MAX, INT64_MIN], [0.1, 0.2]))])

    _assert_stored_alike(pg, lite, ["loss", "acc"])
    history = pg.metric_history(RUN, "loss")
    assert history.steps == tuple(steps) and history.times == tuple(times)
    summary = pg.metric_summaries([RUN])[RUN]["acc"]
    assert (summary.last, summary.last_step, summary.min_step) == (0.1, INT64_MAX, INT64_MAX)


def test_a_step_beyond_int64_is_refused_naming_the_metric_and_nothing_is_stored(
    pg: SQLStore,
) -> None:
    clock = Clock()
    with pytest.raises(StoreError, match=r"metric 'loss' step = 9223372036854775808 does not fit"):
        pg.log_metric_columns(
            RUN, _batch(clock, acc=([0], [1.0]), loss=([0, INT64_MAX + 1], [1.0, 2.0]))
        )
    assert pg.metric_summaries([RUN]).get(RUN, {}) == {}
    assert len(pg.metric_history(RUN, "acc")) == 0


def test_duplicate_steps_within_and_across_batches_keep_every_point_in_logging_order(
    pg: SQLStore, lite: SQLStore
) -> None:
    clock = Clock()
    _log_both(
        (pg, lite),
        [
            _batch(clock, loss=([0, 1, 1, 1, 2, 2], [9.0, 1.0, 2.0, 3.0, 4.0, 5.0])),
            _batch(clock, loss=([2, 2, 1, 3, 3], [6.0, 7.0, 8.0, 0.5, math.nan])),
        ],
    )

    _assert_stored_alike(pg, lite, ["loss"])
    history = pg.metric_history(RUN, "loss")
    assert history.steps == (0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3)
    assert history.values[1:5] == (1.0, 2.0, 3.0, 8.0)
    last = pg.metric_summaries([RUN])[RUN]["loss"]
    assert (last.last_step, math.isnan(last.last), last.count) == (3, True, 11)


def test_integer_values_are_stored_as_floats(pg: SQLStore, lite: SQLStore) -> None:
    clock = Clock()
    batch = _batch(clock, epoch=([0, 1, 2], [0, 1, 2**53]))  # type: ignore[list-item]
    _log_both((pg, lite), [batch])

    _assert_stored_alike(pg, lite, ["epoch"])
    assert pg.metric_history(RUN, "epoch").values == (0.0, 1.0, float(2**53))


def test_many_keys_and_batches_leave_the_same_summaries_and_blocks_as_sqlite(
    pg: SQLStore, lite: SQLStore
) -> None:
    clock = Clock()
    batches = []
    for b in range(4):  # 20,000 points per batch: several COPY buffers, blocks left open
        start = b * 5000
        steps = list(range(start, start + 5000))
        batches.append(
            _batch(
                clock,
                loss=(steps, [1.0 / (s + 1) for s in steps]),
                acc=(steps, [math.nan if s % 97 == 0 else s % 13 / 13 for s in steps]),
                lr=(steps[::7], [1e-3] * len(steps[::7])),
                grad=(steps, [(-1.0) ** s * s for s in steps]),
            )
        )
    _log_both((pg, lite), batches)

    _assert_stored_alike(pg, lite, ["loss", "acc", "lr", "grad"])
    assert pg.metric_summaries([RUN])[RUN]["loss"].count == 20_000
    assert sum(b[6] for b in _blocks(pg)) == 20_000 + 20_000 + 20_000 + len(range(0, 5000, 7)) * 4


# ------------------------------------------------------------------ atomicity and errors
def test_a_value_that_cannot_be_sent_mid_copy_leaves_nothing_of_the_batch(
    pg: SQLStore, lite: SQLStore
) -> None:
    clock = Clock()
    _log_both((pg, lite), [_batch(clock, loss=([0], [1.0]))])
    # "loss" streams into the COPY first; the huge integer of "acc" then fails in the driver.
    bad = _batch(clock, loss=([1, 2], [2.0, 3.0]), acc=([1], [10**400]))  # type: ignore[list-item]
    for store in (pg, lite):
        with pytest.raises(OverflowError):
            store.log_metric_columns(RUN, bad)

    _assert_stored_alike(pg, lite, ["loss", "acc"])
    assert pg.metric_history(RUN, "loss").steps == (0,)
    assert set(pg.metric_summaries([RUN])[RUN]) == {"loss"}
    # The connection is clean again: the next batch goes in.
    _log_both((pg, lite), [_batch(clock, loss=([1, 2], [2.0, 3.0]))])
    _assert_stored_alike(pg, lite, ["loss", "acc"])


def test_a_batch_for_a_run_deleted_by_hand_fails_whole_and_the_store_keeps_working(
    pg: SQLStore,
) -> None:
    """``metrics`` has no foreign keys on PostgreSQL (schema tb0004), so the COPY itself takes
    points of a run that no longer exists; the batch still fails as one StoreError, on the
    key of ``metric_summary`` written in the same transaction, and leaves none of its points.
    (trialbook never deletes a run; only a hand-written DELETE does.)"""
    clock = Clock()
    add_run(pg, OTHER)
    pg.log_metric_columns(OTHER, _batch(clock, loss=([0], [1.0])))  # caches OTHER's number
    with pg.engine.begin() as conn:  # someone else deletes the run
        num = conn.execute(text("SELECT num FROM runs WHERE id = :id"), {"id": OTHER}).scalar()
        conn.execute(text("DELETE FROM runs WHERE id = :id"), {"id": OTHER})

    with pytest.raises(
        StoreError,
        match=r'(?s)on table "metric_summary" violates foreign key.*not present in table "runs"',
    ):
        pg.log_metric_columns(OTHER, _batch(clock, loss=([1, 2], [2.0, 3.0])))

    with pg.engine.connect() as conn:
        left = conn.execute(
            text("SELECT step FROM metrics WHERE run_num = :num"), {"num": num}
        ).all()
    # The point logged before the DELETE stays behind, unread (no cascade from runs any
    # more); nothing of the failed batch was stored.
    assert left == [(0,)]
    with pg.engine.begin() as conn:  # what docs/workspace.md says to run after such a DELETE
        conn.execute(text("DELETE FROM metrics WHERE run_num NOT IN (SELECT num FROM runs)"))
        assert conn.execute(text("SELECT count(*) FROM metrics")).scalar() == 0
    pg.log_metric_columns(RUN, _batch(clock, loss=([0, 1], [1.0, 2.0])))
    assert pg.metric_history(RUN, "loss").values == (1.0, 2.0)


def test_a_run_logging_through_its_writer_into_postgresql_keeps_every_point(
    postgres_server: str, tmp_path: Path
) -> None:
    import trialbook

    url = new_postgres_database(postgres_server)
    n = 30_000
    expected = [math.nan if i % 1000 == 7 else math.inf if i == 5 else i / 7 for i in range(n)]
    run = trialbook.start_run(
        "copy", {"lr": 0.1}, root=tmp_path, store_url=url, system_metrics=False,
        capture_packages=False, flush_interval=0.01,
    )  # fmt: skip
    with run:
        for i, v in enumerate(expected):
            run.log({"loss": v, "acc": -v}, step=i // 2)  # two points per step
            if i == n // 2:
                run.flush()  # half in one flush, the rest in the writer's own batches

    store = connect(url)
    try:
        for key, sign in (("loss", 1.0), ("acc", -1.0)):
            history = store.metric_history(run.id, key)
            assert history.steps == tuple(i // 2 for i in range(n))
            _assert_same(key, history.values, [sign * v for v in expected])
            assert list(history.times) == sorted(history.times)
        summary = store.metric_summaries([run.id])[run.id]["loss"]
        assert (summary.count, summary.max, summary.last_step) == (n, math.inf, n // 2 - 1)
        assert store.metric_buckets(run.id, "loss", 10).total == n
    finally:
        store.close()


# ------------------------------------------------------------------ the COPY payload itself
def test_the_copy_payload_is_byte_for_byte_what_psycopgs_write_row_sends(
    postgres_server: str,
) -> None:
    """trialbook builds the binary COPY stream with NumPy (``metrics_copy_payload``);
    psycopg's own ``Copy.write_row`` with the columns' types is the reference."""
    import psycopg
    from psycopg.copy import Copy, Writer
    from sqlalchemy.engine import make_url

    nan_bits = struct.unpack(">d", bytes.fromhex("7ff0000000000001"))[0]  # a signalling NaN
    values = [0.5, math.nan, -math.nan, nan_bits, math.inf, -math.inf, -0.0, 0.0, 5e-324,
              -1.7976931348623157e308, 1 / 3]  # fmt: skip
    steps = [INT64_MIN, -1, 0, 1, 2**31, 2**53 + 1, INT64_MAX - 1, INT64_MAX, 7, 8, 9]
    times = [0.0, -0.0, 1e-300, 1_765_000_000.000001, math.inf, math.nan, 4.9e-324, 1.0, 2.0,
             3.0, 1_765_000_000.9999999]  # fmt: skip
    parts = [
        (2**31 - 1, steps, values, times),  # the largest key id an int4 holds
        (1, [5], [math.nan], [1.5]),  # a key whose only point is NaN
        (7, steps[::-1], values[::-1], times[::-1]),
    ]
    run_num = 2**31 - 1

    class Captured(Writer):
        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, data: Any) -> None:
            self.data += data

    url = make_url(postgres_server).set(drivername="postgresql")
    captured = Captured()
    with (
        psycopg.connect(url.render_as_string(hide_password=False)) as conn,
        conn.cursor() as cursor,
        Copy(cursor, binary=True, writer=captured) as copy,
    ):
        copy.set_types(["int4", "int4", "int8", "float8", "float8"])
        for key_id, st, va, ti in parts:
            for step, value, at in zip(st, va, ti, strict=True):
                copy.write_row((run_num, key_id, step, None if value != value else value, at))

    assert metrics_copy_payload(run_num, parts) == bytes(captured.data)
    arrays = [(k, np.array(s), np.array(v), np.array(t)) for k, s, v, t in parts]
    assert metrics_copy_payload(run_num, arrays) == bytes(captured.data)
    # The rows the tracker's stream builds without NumPy, one key at a time (NaN included:
    # those go through metrics_copy_payload) are the same bytes between header and trailer.
    rows = b"".join(bytes(metrics_copy_rows(run_num, *part)) for part in parts)
    assert COPY_HEADER + rows + COPY_TRAILER == bytes(captured.data)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 4097])
def test_rows_built_without_numpy_are_numpys_rows_for_any_number_of_points(n: int) -> None:
    """``metrics_copy_rows`` fills the rows through 8-byte views whose alignment repeats
    every 4 rows: every count of points, and every row in it, comes out right."""
    steps = [INT64_MAX - i if i % 3 else -i for i in range(n)]
    values = [(-1) ** i * i / 7 for i in range(n)]
    times = [1_765_000_000.0 + i * 1e-6 for i in range(n)]
    expected = metrics_copy_payload(
        5, [(9, np.array(steps, dtype=np.int64), np.array(values), np.array(times))],
        framed=False,
    )  # fmt: skip
    assert bytes(metrics_copy_rows(5, 9, steps, values, times)) == expected
    assert len(expected) == 54 * n


def test_rows_built_without_numpy_refuse_what_the_table_cannot_hold() -> None:
    with pytest.raises(OverflowError):
        metrics_copy_rows(1, 1, [INT64_MAX + 1], [1.0], [1.0])
    with pytest.raises(TypeError):
        metrics_copy_rows(1, 1, [1.5], [1.0], [1.0])
    with pytest.raises(TypeError):
        metrics_copy_rows(1, 1, [1], [1.0], [None])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="differ in length"):
        metrics_copy_rows(1, 1, [1, 2], [1.0], [1.0])


def test_a_batch_of_many_keys_with_nan_holes_reads_back_point_for_point(pg: SQLStore) -> None:
    """NaN rows are 8 bytes shorter in the COPY stream (NULL); rows after them must still
    line up, across keys."""
    clock = Clock()
    n = 3000
    batch = _batch(
        clock,
        loss=(list(range(n)), [math.nan if i % 3 == 0 else i / 3 for i in range(n)]),
        acc=(list(range(0, 2 * n, 2)), [-(i % 5) / 7 for i in range(n)]),
        grad=(list(range(n)), [math.nan] * n),
    )
    pg.log_metric_columns(RUN, batch)

    for key, (steps, values, times) in batch.items():
        history = pg.metric_history(RUN, key)
        assert history.steps == tuple(steps) and history.times == tuple(times)
        _assert_same(key, history.values, values)
