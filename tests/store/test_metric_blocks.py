"""metric_blocks: a long metric history bucketed from stored 64-point blocks.

Every result is checked against the guarantee of ``trialbook/store/_buckets.py``, computed
here from the raw points (``metric_history``): bucket ``i`` holds exactly the points with
``steps[i - 1] < step <= steps[i]``; its value/time are those of the last point logged at
``steps[i]``; min/max ignore NaN (NaN when all are NaN); counts sum to the points read; at
most ``buckets`` buckets, none empty. Where it matters the tests also check which path
answered: the blocks path puts bucket edges on block edges (multiples of 64 when steps
0..N-1 are logged in order), the exact path uses equal step widths (``bucket_width``).

Runs on a SQLite file and on a real PostgreSQL server (skipped without one, except under
CI=true, where a missing server is a failure).
"""

from __future__ import annotations

import bisect
import math
import random
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from trialbook.store import SCHEMA_REVISION, NewRun, SQLStore, connect, upgrade
from trialbook.store._buckets import BLOCK_POINTS, MetricBuckets, bucket_width
from trialbook.store._dialect import rebuild_blocks
from trialbook.testing.stores import new_postgres_database

RUN = "20260101_120000_aaaaaa"
OTHER = "20260101_120000_bbbbbb"
BLOCKS_SELECT = (
    'SELECT run_num, key_id, block, first_step, last_step, "min", "max", "count", "last", '
    "last_time FROM metric_blocks ORDER BY run_num, key_id, block"
)


# ------------------------------------------------------------------ fixtures
@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/trialbook.db"
    return new_postgres_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def store(url: str) -> Iterator[SQLStore]:
    st = connect(url, create=True)
    try:
        yield st
    finally:
        st.close()


# ------------------------------------------------------------------ helpers
def _run(store: SQLStore, run_id: str = RUN) -> str:
    store.create_run(
        NewRun(
            id=run_id,
            experiment="e",
            name=run_id[-6:],
            config={},
            config_hash="h",
            group_key="g",
            started_at=1000.0,
        )
    )
    return run_id


class Logger:
    """Logs points with times increasing in logging order (so PostgreSQL, which orders
    points logged at one step by time, agrees with logging order)."""

    def __init__(self) -> None:
        self.n = 0

    def log(
        self,
        store: SQLStore,
        run_id: str,
        steps: Sequence[int],
        values: Sequence[float],
        key: str = "loss",
    ) -> None:
        times = [1000.0 + (self.n + i) * 0.25 for i in range(len(steps))]
        self.n += len(steps)
        store.log_metric_columns(run_id, {key: (list(steps), list(values), times)})


def _values(n: int, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(-1.0, 1.0) for _ in range(n)]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _assert_same_seq(name: str, got: Sequence[Any], want: Sequence[Any]) -> None:
    assert len(got) == len(want), f"{name}: {len(got)} entries, expected {len(want)}"
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True)) if not _same(g, w)]
    assert not bad, f"{name}: (bucket, got, expected) {bad[:5]}"


def _points(store: SQLStore, run_id: str, key: str, after_step: int | None) -> list[tuple]:
    h = store.metric_history(run_id, key)
    return [
        (s, v, t)
        for s, v, t in zip(h.steps, h.values, h.times, strict=True)
        if after_step is None or s > after_step
    ]


def check_guarantee(
    store: SQLStore,
    run_id: str,
    buckets: int,
    *,
    key: str = "loss",
    after_step: int | None = None,
) -> MetricBuckets:
    """metric_buckets of a metric, asserted field by field against the guarantee computed
    from the raw points; returns it."""
    got = store.metric_buckets(run_id, key, buckets, after_step=after_step)
    everything = _points(store, run_id, key, None)
    pts = _points(store, run_id, key, after_step)
    assert got.first_time == (everything[0][2] if everything else None)
    assert got.last_step == (everything[-1][0] if everything else None)
    assert got.total == len(pts)
    assert len(got) <= buckets
    edges = list(got.steps)
    assert all(isinstance(s, int) and not isinstance(s, bool) for s in edges)
    assert edges == sorted(set(edges)), "bucket steps must strictly increase"
    if not pts:
        assert edges == [] and got.counts == ()
        return got
    assert edges[-1] == pts[-1][0], "the last bucket must end at the last step"
    groups: list[list[tuple]] = [[] for _ in edges]
    for p in pts:
        groups[bisect.bisect_left(edges, p[0])].append(p)
    assert all(groups), "a bucket holds no point"
    want_values, want_times, want_mins, want_maxs = [], [], [], []
    for edge, g in zip(edges, groups, strict=True):
        assert g[-1][0] == edge, "a bucket's step must be the step of a point"
        want_values.append(g[-1][1])
        want_times.append(g[-1][2])
        finite = [v for _, v, _ in g if not math.isnan(v)]
        want_mins.append(min(finite) if finite else math.nan)
        want_maxs.append(max(finite) if finite else math.nan)
    _assert_same_seq("counts", got.counts, [len(g) for g in groups])
    _assert_same_seq("values", got.values, want_values)
    _assert_same_seq("times", got.times, want_times)
    _assert_same_seq("mins", got.mins, want_mins)
    _assert_same_seq("maxs", got.maxs, want_maxs)
    assert sum(got.counts) == got.total
    return got


def exact_edges(
    store: SQLStore, run_id: str, buckets: int, *, key: str = "loss", after_step: int | None = None
) -> list[int]:
    """The bucket steps the exact (equal step width) path gives."""
    pts = _points(store, run_id, key, after_step)
    if not pts:
        return []
    lo = pts[0][0]
    width = bucket_width(lo, pts[-1][0], buckets)
    last: dict[int, int] = {}
    for s, _, _ in pts:
        last[(s - lo) // width] = s
    return [last[b] for b in sorted(last)]


def assert_block_edges(got: MetricBuckets) -> None:
    """Steps 0..N-1 logged in order: the blocks path ends every bucket but the last on a
    block edge, and the widths are not all equal."""
    inner = got.steps[:-1]
    assert inner and all((s + 1) % BLOCK_POINTS == 0 for s in inner), got.steps
    assert len(set(got.counts[:-1])) > 1, got.counts  # one point per step: counts are widths


def blocks_of(store: SQLStore) -> list[tuple]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(BLOCKS_SELECT)).all()]


def summary_count(store: SQLStore, run_id: str, key: str = "loss") -> int:
    return store.metric_summaries([run_id])[run_id][key].count


def block_count(store: SQLStore) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(text('SELECT coalesce(sum("count"), 0) FROM metric_blocks')).scalar()
        )


def _same_rows(got: list[tuple], want: list[tuple]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert len(g) == len(w) and all(_same(a, b) for a, b in zip(g, w, strict=True)), (g, w)


def _same_buckets(a: MetricBuckets, b: MetricBuckets) -> None:
    for field in ("steps", "values", "times", "mins", "maxs", "counts"):
        _assert_same_seq(field, getattr(a, field), getattr(b, field))
    assert (a.total, a.first_time, a.last_step) == (b.total, b.first_time, b.last_step)


# ------------------------------------------------------------------ 1. in order
@pytest.mark.parametrize(("n", "buckets"), [(5000, 10), (2000, 5), (20_000, 20)])
def test_steps_logged_in_order_in_one_batch_are_bucketed_from_blocks(
    store: SQLStore, n: int, buckets: int
) -> None:
    _run(store)
    Logger().log(store, RUN, range(n), _values(n))

    got = check_guarantee(store, RUN, buckets)

    assert got.total == n and len(got) == buckets
    assert_block_edges(got)
    assert list(got.steps) != exact_edges(store, RUN, buckets)


def test_many_small_batches_merge_into_the_blocks_one_batch_would_make(store: SQLStore) -> None:
    n = 5000
    values = _values(n, seed=3)
    one, many = _run(store), _run(store, OTHER)
    Logger().log(store, one, range(n), values)
    logger = Logger()
    sizes = [1, 7, 63, 64, 65]
    i = k = 0
    while i < n:
        j = min(n, i + sizes[k % len(sizes)])
        logger.log(store, many, range(i, j), values[i:j])
        i, k = j, k + 1

    rows = blocks_of(store)
    by_run: dict[int, list[tuple]] = {}
    for r in rows:
        by_run.setdefault(r[0], []).append(r[1:])
    assert len(by_run) == 2
    a, b = by_run.values()
    _same_rows(a, b)
    assert len(a) == -(-n // BLOCK_POINTS)
    assert all(r[6] == BLOCK_POINTS for r in a[:-1]) and a[-1][6] == n % BLOCK_POINTS

    got = check_guarantee(store, many, 10)
    assert_block_edges(got)
    _same_buckets(got, store.metric_buckets(one, "loss", 10))


def test_nan_values_and_all_nan_blocks_are_ignored_by_min_and_max(store: SQLStore) -> None:
    n = 6000
    values = _values(n, seed=5)
    for i in range(0, 1100):  # the first bucket(s) entirely NaN
        values[i] = math.nan
    for i in range(64 * 40, 64 * 43):  # three whole blocks NaN inside a bucket
        values[i] = math.nan
    for i in range(2000, n, 97):  # scattered NaN, some at block and bucket ends
        values[i] = math.nan
    values[64 * 50 - 1] = math.nan  # the last point of a block
    values[n - 1] = math.nan  # the very last point
    _run(store)
    Logger().log(store, RUN, range(n), values)

    got = check_guarantee(store, RUN, 12)

    assert_block_edges(got)
    assert math.isnan(got.mins[0]) and math.isnan(got.maxs[0])
    assert math.isnan(got.values[-1])
    assert not math.isnan(got.mins[-1])
    stored = blocks_of(store)
    assert stored[40][5] is None and stored[40][6] is None  # all-NaN block: NULL min/max
    assert stored[49][8] is None  # its last point is NaN


def test_spikes_and_infinities_are_kept_in_the_bucket_maxima_and_minima(store: SQLStore) -> None:
    n = 8000
    values = [math.sin(i / 300.0) for i in range(n)]
    values[1234] = 1e9
    values[6543] = -1e9
    values[3000] = math.inf  # infinities are values, not NaN
    values[3001] = -math.inf
    _run(store)
    Logger().log(store, RUN, range(n), values)

    got = check_guarantee(store, RUN, 8)

    assert_block_edges(got)
    high = bisect.bisect_left(got.steps, 1234)
    low = bisect.bisect_left(got.steps, 6543)
    assert got.maxs[high] == 1e9 and got.mins[low] == -1e9
    inf = bisect.bisect_left(got.steps, 3000)
    assert got.maxs[inf] == math.inf and got.mins[inf] == -math.inf
    assert max(got.values) <= 1.0


# ------------------------------------------------------------------ 2. two writers
def test_two_stores_logging_alternately_to_one_run_still_satisfy_the_guarantee(
    store: SQLStore, url: str
) -> None:
    _run(store)
    second = connect(url)
    try:
        rng = random.Random(11)
        step = turn = 0
        shared = Logger()
        while step < 6000:
            size = rng.choice([1, 5, 40, 63, 64, 65, 130, 300])
            writer = (store, second)[turn % 2]
            shared.log(writer, RUN, range(step, step + size), _values(size, seed=step))
            step += size
            turn += 1
        assert summary_count(store, RUN) == step
        assert block_count(store) == step
        for buckets in (5, 8, 13, 20):
            check_guarantee(store, RUN, buckets)
            check_guarantee(second, RUN, buckets)
            d = store.metric_decimated(RUN, "loss", buckets)
            b = store.metric_buckets(RUN, "loss", buckets)
            assert (d.steps, d.values, d.times) == (b.steps, b.values, b.times)
    finally:
        second.close()


def test_a_stale_writer_that_makes_oversized_disjoint_blocks_still_satisfies_the_guarantee(
    store: SQLStore, url: str
) -> None:
    _run(store)
    second = connect(url)
    try:
        lg = Logger()
        lg.log(store, RUN, range(0, 100), _values(100, 1))  # store counts 100
        lg.log(second, RUN, range(100, 121), _values(21, 2))  # second reads 100
        lg.log(store, RUN, range(121, 6000), _values(5879, 3))  # store still thinks 100
        rows = blocks_of(store)
        assert max(r[7] for r in rows) > BLOCK_POINTS  # a merged block holds more points
        assert block_count(store) == summary_count(store, RUN) == 6000
        for buckets in (5, 7, 10, 20):
            check_guarantee(store, RUN, buckets)
            check_guarantee(store, RUN, buckets, after_step=90)
            check_guarantee(store, RUN, buckets, after_step=130)
    finally:
        second.close()


# ------------------------------------------------------------------ 3. out of order, dups
def test_second_half_logged_first_is_bucketed_from_the_sorted_blocks(store: SQLStore) -> None:
    n, split = 6000, 6000 - 64 * 47  # the first batch fills 47 whole blocks
    values = _values(n, seed=7)
    _run(store)
    lg = Logger()
    lg.log(store, RUN, range(split, n), values[split:])
    lg.log(store, RUN, range(split), values[:split])

    got = check_guarantee(store, RUN, 10)

    assert list(got.steps) != exact_edges(store, RUN, 10)  # disjoint blocks, sorted: blocks path
    ends = {split + 64 * i - 1 for i in range(1, 48)} | {64 * i - 1 for i in range(1, 48)}
    assert set(got.steps[:-1]) <= ends | {split - 1}, got.steps
    for after in (100, split - 1, split, split + 1, 4000):
        check_guarantee(store, RUN, 6, after_step=after)


def test_second_half_logged_first_with_a_block_holding_both_halves_falls_back(
    store: SQLStore,
) -> None:
    n = 6000  # the first batch ends inside block 46, which the second batch then completes
    values = _values(n, seed=7)
    _run(store)
    lg = Logger()
    lg.log(store, RUN, range(n // 2, n), values[n // 2 :])
    lg.log(store, RUN, range(n // 2), values[: n // 2])

    got = check_guarantee(store, RUN, 10)

    assert list(got.steps) == exact_edges(store, RUN, 10)
    for after in (100, 2999, 3000, 3001, 4000):
        check_guarantee(store, RUN, 6, after_step=after)


def test_a_duplicate_step_across_a_block_boundary_falls_back_to_equal_widths(
    store: SQLStore,
) -> None:
    steps = [*range(64), 63, *range(64, 6000)]  # points 63 and 64: step 63
    values = _values(len(steps), seed=8)
    _run(store)
    Logger().log(store, RUN, steps, values)

    got = check_guarantee(store, RUN, 10)

    assert list(got.steps) == exact_edges(store, RUN, 10)
    for after in (62, 63, 64):
        check_guarantee(store, RUN, 10, after_step=after)


def test_duplicate_steps_inside_blocks_keep_the_last_logged_point(store: SQLStore) -> None:
    n = 6000
    steps: list[int] = []
    values: list[float] = []
    rng = random.Random(9)
    s = 0
    while len(steps) < n:
        block_pos = len(steps) % BLOCK_POINTS
        steps.append(s)
        values.append(rng.uniform(-1, 1))
        # repeat a step inside a block (never across a block boundary), including the
        # block's last step
        if block_pos in (10, 62) or (block_pos < 62 and rng.random() < 0.1):
            continue
        s += 1
    _run(store)
    Logger().log(store, RUN, steps, values)

    got = check_guarantee(store, RUN, 10)

    assert list(got.steps) != exact_edges(store, RUN, 10)  # the blocks path was taken
    for b in blocks_of(store):
        assert steps[min(len(steps) - 1, (b[2] + 1) * BLOCK_POINTS - 1)] == b[4]


def test_an_old_step_logged_again_much_later_is_counted_once_in_its_bucket(
    store: SQLStore,
) -> None:
    n = 6000
    _run(store)
    lg = Logger()
    lg.log(store, RUN, range(n), _values(n, seed=10))
    lg.log(store, RUN, [500, 500, 4095], [7.0, -7.0, 99.0])  # overlaps old blocks

    got = check_guarantee(store, RUN, 10)

    assert list(got.steps) == exact_edges(store, RUN, 10)
    assert 99.0 in got.maxs and -7.0 in got.mins
    for after in (499, 500, 4095):
        check_guarantee(store, RUN, 10, after_step=after)


def test_randomly_shuffled_batches_satisfy_the_guarantee(store: SQLStore) -> None:
    rng = random.Random(12)
    chunks = [list(range(a, a + 250)) for a in range(0, 6000, 250)]
    rng.shuffle(chunks)
    _run(store)
    lg = Logger()
    for c in chunks:
        lg.log(store, RUN, c, _values(len(c), seed=c[0]))
    for buckets in (5, 9, 20):
        check_guarantee(store, RUN, buckets)
        check_guarantee(store, RUN, buckets, after_step=1234)


def test_a_repeated_step_whose_later_point_has_an_earlier_time_is_read_in_one_order_by_every_path(
    store: SQLStore, url: str
) -> None:
    """SQLite keeps the logging order within a step; PostgreSQL has none and orders by time.
    Either way the blocks path and metric_history agree on which point is a step's last."""
    n = 6000
    steps = [i - 1 if i % BLOCK_POINTS == BLOCK_POINTS - 1 else i for i in range(n)]
    # the second point at each repeated step is logged later but carries an earlier time
    times = [500.0 - i if i % BLOCK_POINTS == BLOCK_POINTS - 1 else 1000.0 + i for i in range(n)]
    values = _values(n, seed=20)
    _run(store)
    store.log_metric_columns(RUN, {"loss": (steps, values, times)})

    h = store.metric_history(RUN, "loss")
    points = zip(steps, values, times, strict=True)
    if url.startswith("postgresql"):  # the latest time at a step is read last
        points = sorted(points, key=lambda p: (p[0], p[2]))  # type: ignore[assignment]
    last_read = {s: (v, t) for s, v, t in points}
    at = {s: (v, t) for s, v, t in zip(h.steps, h.values, h.times, strict=True)}
    assert at == last_read
    got = check_guarantee(store, RUN, 10)
    assert list(got.steps) != exact_edges(store, RUN, 10)  # the blocks path
    assert all((s + 2) % BLOCK_POINTS == 0 for s in got.steps[:-1])


def test_steps_spanning_the_whole_int64_range_are_bucketed_when_the_blocks_cannot_be_used(
    store: SQLStore,
) -> None:
    n = 6000
    steps = [-(2**63), *range(1, n - 2), 2**63 - 1]
    steps.insert(64, 63)  # points 63 and 64 at step 63: the blocks overlap, exact path
    _run(store)
    Logger().log(store, RUN, steps, _values(len(steps), seed=21))

    got = check_guarantee(store, RUN, 10)

    assert got.steps[-1] == 2**63 - 1 and got.total == n
    d = store.metric_decimated(RUN, "loss", 10)
    assert d.steps == got.steps


def test_steps_spanning_the_whole_int64_range_are_bucketed_from_blocks(store: SQLStore) -> None:
    n = 6000
    steps = [-(2**63), *range(1, n - 1), 2**63 - 1]
    _run(store)
    Logger().log(store, RUN, steps, _values(n, seed=21))
    for buckets in (5, 10, 20):
        got = check_guarantee(store, RUN, buckets)
        # The first block spans buckets: it is read point by point, and the lowest step,
        # alone in the first bucket, stays alone.
        assert got.steps[0] == -(2**63) and got.counts[0] == 1
        assert got.steps[-1] == 2**63 - 1 and got.total == n


# ------------------------------------------------------------------ 4. sparse
@pytest.mark.parametrize("gap_at", [3000, 64 * 47, 64 * 47 - 1, 1])
def test_a_sparse_stretch_with_blocks_spanning_many_buckets(store: SQLStore, gap_at: int) -> None:
    n = 6000
    steps = [i if i < gap_at else i + 10**6 for i in range(n)]
    _run(store)
    Logger().log(store, RUN, steps, _values(n, seed=gap_at))

    for buckets in (5, 10, 20):
        got = check_guarantee(store, RUN, buckets)
        assert got.steps[-1] == steps[-1]
        if gap_at == 1:
            assert got.steps[0] == 0 and got.counts[0] == 1


def test_a_history_of_wide_gaps_everywhere_satisfies_the_guarantee(store: SQLStore) -> None:
    rng = random.Random(13)
    steps, s = [], 0
    for _ in range(6000):
        steps.append(s)
        s += rng.choice([1, 1, 1, 1, 1000, 250_000])
    _run(store)
    Logger().log(store, RUN, steps, _values(len(steps), seed=13))

    for buckets in (5, 10, 20):
        check_guarantee(store, RUN, buckets)
        check_guarantee(store, RUN, buckets, after_step=steps[2500] + 3)


def test_a_block_spanning_many_buckets_is_replaced_by_its_points(store: SQLStore) -> None:
    # 5120 points in 80 blocks; block 40 hides a jump of 20,000 steps (many buckets wide)
    n = 64 * 80
    jump_at = 64 * 40 + 32
    steps = [i if i < jump_at else i + 20_000 for i in range(n)]
    _run(store)
    Logger().log(store, RUN, steps, _values(n, seed=14))

    got = check_guarantee(store, RUN, 10)

    assert list(got.steps) != exact_edges(store, RUN, 10)  # the blocks path was taken
    index = {s: i for i, s in enumerate(steps)}
    inner = [index[s] for s in got.steps[:-1]]
    assert all((i + 1) % BLOCK_POINTS == 0 or 64 * 40 <= i < 64 * 41 for i in inner), inner
    assert steps[jump_at - 1] in got.steps  # the wide block split at the gap


# ------------------------------------------------------------------ 5. after_step
@pytest.mark.parametrize(
    "after",
    [
        -(10**9),
        -1,
        0,
        1000,
        64 * 20 - 1,
        64 * 20,
        64 * 20 + 1,
        4000,
        7990,
        7999,
        8000,
        10**12,
    ],
)
def test_after_step_buckets_exactly_the_points_after_it(store: SQLStore, after: int) -> None:
    n = 8000
    _run(store)
    Logger().log(store, RUN, range(n), _values(n, seed=15))

    got = check_guarantee(store, RUN, 8, after_step=after)

    assert got.total == len([s for s in range(n) if s > after])
    if got.total >= 4 * BLOCK_POINTS * 8:  # long enough for blocks: edges on block edges
        assert_block_edges(got)


def test_after_step_on_a_history_with_nan_and_duplicates(store: SQLStore) -> None:
    steps = [i // 2 if i < 200 else i - 100 for i in range(6000)]  # steps 0..99 twice each
    values = _values(len(steps), seed=16)
    for i in range(0, 6000, 13):
        values[i] = math.nan
    _run(store)
    Logger().log(store, RUN, steps, values)
    for after in (-1, 50, 99, 100, 1000, 2047, 5898, 5899):
        check_guarantee(store, RUN, 7, after_step=after)


# ------------------------------------------------------------------ 6. decimated
def test_metric_decimated_matches_metric_buckets_on_long_histories(store: SQLStore) -> None:
    n = 6000
    histories = {
        "in_order": list(range(n)),
        "sparse": [i if i < 3000 else i + 10**6 for i in range(n)],
        "second_half_first": list(range(n // 2, n)) + list(range(n // 2)),
        "dup_at_edge": [*range(64), 63, *range(64, n)],
    }
    _run(store)
    lg = Logger()
    for key, steps in histories.items():
        values = _values(len(steps), seed=len(key))
        values[::101] = [math.nan] * len(values[::101])
        lg.log(store, RUN, steps, values, key=key)
    for key in histories:
        for buckets in (5, 10, 20):
            b = check_guarantee(store, RUN, buckets, key=key)
            d = store.metric_decimated(RUN, key, buckets)
            _assert_same_seq(f"{key} steps", d.steps, b.steps)
            _assert_same_seq(f"{key} values", d.values, b.values)
            _assert_same_seq(f"{key} times", d.times, b.times)


# ------------------------------------------------------------------ 7. damaged blocks
def _log_two_runs(store: SQLStore) -> None:
    """Two runs, two keys each, lengths not multiples of 64, NaNs, one batch per key."""
    for run_id, sizes in ((RUN, (5001, 2050)), (OTHER, (4100, 3333))):
        _run(store, run_id)
        cols = {}
        for key, n in zip(("loss", "acc"), sizes, strict=True):
            values = _values(n, seed=n)
            values[64 * 3 : 64 * 4] = [math.nan] * 64
            values[-1] = math.nan
            cols[key] = (list(range(n)), values, [2000.0 + i for i in range(n)])
        store.log_metric_columns(run_id, cols)


def test_deleted_blocks_fall_back_to_exact_buckets_and_rebuild_restores_them(
    store: SQLStore,
) -> None:
    _log_two_runs(store)
    written = blocks_of(store)
    before = {(r, k): store.metric_buckets(r, k, 10) for r in (RUN, OTHER) for k in ("loss", "acc")}
    assert_block_edges(before[RUN, "loss"])
    from_blocks = {
        rk
        for rk, b in before.items()
        if list(b.steps) != exact_edges(store, *rk[:1], 10, key=rk[1])
    }
    assert from_blocks == {
        (RUN, "loss"),
        (OTHER, "loss"),
        (OTHER, "acc"),
    }  # acc of RUN: 2050 < 2560

    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM metric_blocks"))
    assert blocks_of(store) == []

    for (r, k), old in before.items():
        got = check_guarantee(store, r, 10, key=k)
        assert list(got.steps) == exact_edges(store, r, 10, key=k)
        assert ((r, k) in from_blocks) == (list(got.steps) != list(old.steps))
        check_guarantee(store, r, 10, key=k, after_step=1000)
        d = store.metric_decimated(r, k, 10)
        assert d.steps == got.steps

    with store.engine.begin() as conn:
        dbapi = conn.connection.dbapi_connection
        assert rebuild_blocks(dbapi, conn.dialect.name) == len(written)

    _same_rows(blocks_of(store), written)
    for (r, k), old in before.items():
        _same_buckets(store.metric_buckets(r, k, 10), old)


def test_partly_deleted_blocks_are_not_used(store: SQLStore) -> None:
    _run(store)
    Logger().log(store, RUN, range(6000), _values(6000, seed=17))
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM metric_blocks WHERE block = 30"))

    got = check_guarantee(store, RUN, 10)

    assert list(got.steps) == exact_edges(store, RUN, 10)
    for after in (100, 64 * 30 + 5, 64 * 31 + 5):
        check_guarantee(store, RUN, 10, after_step=after)


def test_rebuild_of_out_of_order_points_gives_blocks_that_still_answer_correctly(
    store: SQLStore,
) -> None:
    _run(store)
    lg = Logger()
    lg.log(store, RUN, range(3000, 6000), _values(3000, seed=18))
    lg.log(store, RUN, range(3000), _values(3000, seed=19))
    lg.log(store, RUN, [3000, 10], [5.0, 6.0])
    with store.engine.begin() as conn:
        rebuild_blocks(conn.connection.dbapi_connection, conn.dialect.name)
    assert block_count(store) == summary_count(store, RUN) == 6002
    for buckets in (5, 10):
        check_guarantee(store, RUN, buckets)
        check_guarantee(store, RUN, buckets, after_step=10)


# ------------------------------------------------------------------ 8. migration
def _unquoted(url: str) -> str:
    """The URL without percent-encoding (the PostgreSQL socket folder in its query):
    ``upgrade`` cannot take a URL holding a percent sign (see the test below)."""
    return urllib.parse.unquote(url)


def test_upgrade_from_tb0002_computes_the_blocks_the_writer_would_have(url: str) -> None:
    url = _unquoted(url)
    st = connect(url, create=True)
    try:
        _log_two_runs(st)
        written = blocks_of(st)
        before = {
            (r, k, b): st.metric_buckets(r, k, b)
            for r in (RUN, OTHER)
            for k in ("loss", "acc")
            for b in (5, 10)
        }
        with st.engine.begin() as conn:
            # Back to tb0002's tables: without metric_blocks (tb0003) and job_holders (tb0005).
            conn.execute(text("DROP TABLE metric_blocks"))
            conn.execute(text("DROP TABLE job_holders"))
            conn.execute(text("UPDATE alembic_version SET version_num = 'tb0002'"))
    finally:
        st.close()

    assert upgrade(url) == ("tb0002", SCHEMA_REVISION)

    st = connect(url)
    try:
        _same_rows(blocks_of(st), written)
        for (r, k, b), old in before.items():
            _same_buckets(st.metric_buckets(r, k, b), old)
            check_guarantee(st, r, b, key=k)
        assert_block_edges(st.metric_buckets(RUN, "loss", 10))
    finally:
        st.close()


def test_a_database_made_at_tb0002_upgrades_to_an_empty_blocks_table(url: str) -> None:
    url = _unquoted(url)
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).touch()
    assert upgrade(url, "tb0002")[1] == "tb0002"
    assert upgrade(url) == ("tb0002", SCHEMA_REVISION)
    st = connect(url)
    try:
        assert blocks_of(st) == []
        _run(st)
        Logger().log(st, RUN, range(3000), _values(3000))
        check_guarantee(st, RUN, 5)
        assert_block_edges(st.metric_buckets(RUN, "loss", 5))
    finally:
        st.close()


def test_upgrade_accepts_a_url_holding_a_percent_sign(url: str, tmp_path: Path) -> None:
    if url.startswith("sqlite"):
        folder = tmp_path / "50%off"
        folder.mkdir()
        url = f"sqlite:///{folder}/trialbook.db"
    else:
        assert "%" in url  # the socket folder, percent-encoded by new_postgres_database
    connect(url, create=True).close()

    assert upgrade(url) == (SCHEMA_REVISION, SCHEMA_REVISION)


# ------------------------------------------------------------------ 9. deleting a run
def test_a_run_deleted_by_hand_leaves_no_blocks_that_are_read(store: SQLStore) -> None:
    """SQLite's foreign key deletes the run's blocks with it; on PostgreSQL, where
    metric_blocks has no foreign keys (schema tb0006), they stay behind, unread: every read
    goes through runs."""
    _log_two_runs(store)
    with store.engine.connect() as conn:
        nums = dict(conn.execute(text("SELECT id, num FROM runs")).all())
    assert {r[0] for r in blocks_of(store)} == {nums[RUN], nums[OTHER]}

    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM runs WHERE id = :id"), {"id": RUN})

    left = {nums[RUN], nums[OTHER]} if store.engine.dialect.name == "postgresql" else {nums[OTHER]}
    assert {r[0] for r in blocks_of(store)} == left
    check_guarantee(store, OTHER, 10)
    assert store.metric_buckets(RUN, "loss", 10).total == 0
