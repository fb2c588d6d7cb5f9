"""A metric's history reduced to step buckets, for drawing long curves without reading every
point into Python: :class:`MetricBuckets` and the reduction every Store shares.

Buckets split the steps ``lo..hi`` of the points read (``lo`` the first step after
``after_step``, ``hi`` the last) into ranges of equal width ``ceil((hi - lo + 1) / buckets)``;
bucket ``i`` holds the points with ``lo + i * width <= step < lo + (i + 1) * width``. Empty
buckets are left out. Each bucket keeps its last point (highest step, the last one logged at
that step) and the minimum, maximum and count of its points, so a spike survives any
reduction. A history with no more distinct steps than buckets comes back point by point.

Long histories are read from blocks instead of points. The writer keeps, next to the points,
one row per :data:`BLOCK_POINTS` consecutive logged points of a metric (``metric_blocks``:
first and last step, min, max, count, last point); :func:`block_rows` makes them, and
:func:`batch_summary` a batch's row of ``metric_summary``. When a
history has at least ``4 * BLOCK_POINTS`` points per bucket and its blocks cover disjoint
step ranges (steps logged in increasing order, the usual case),
:func:`buckets_from_blocks` builds the buckets from whole blocks: a block belongs to the
bucket its first step falls in, so bucket edges move by less than one block and the widths
differ by up to ``BLOCK_POINTS`` points. In every case bucket ``i`` holds exactly the points
with ``steps[i - 1] < step <= steps[i]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from trialbook.errors import TrialbookError

__all__ = [
    "BLOCK_POINTS",
    "MetricBuckets",
    "batch_summary",
    "block_rows",
    "bucket_points",
    "bucket_width",
    "buckets_from_blocks",
    "check_buckets",
    "point_blocks",
]

#: The most buckets one read may ask for.
MAX_BUCKETS = 20_000

#: Points per stored block of a metric (``metric_blocks``). Reading a 1,000,000-point
#: history then reads 15,625 block rows instead of a million points; the writer adds about
#: one small row per 64 points.
BLOCK_POINTS = 64

#: A block row as stored: (run_num, key_id, block, first_step, last_step, min, max, count,
#: last, last_time); min/max ignore NaN (None when every value is NaN), last is the value of
#: the last point logged at last_step (None for NaN).
BlockRow = tuple[int, int, int, int, int, float | None, float | None, int, float | None, float]


@dataclass(frozen=True)
class MetricBuckets:
    """One metric of one run reduced to step buckets (see the module docstring): bucket
    ``i`` holds exactly the points with ``steps[i - 1] < step <= steps[i]``.

    ``steps``/``values``/``times`` are each bucket's last point; ``mins``/``maxs`` the
    smallest and largest value in the bucket, NaN ignored (NaN when every value is NaN);
    ``counts`` how many points the bucket holds. ``total`` is the number of points read
    (those after ``after_step``); ``first_time`` the time of the metric's first point and
    ``last_step`` its last step over the whole history (None when it has no points).
    """

    run_id: str
    key: str
    steps: tuple[int, ...]
    values: tuple[float, ...]
    times: tuple[float, ...]
    mins: tuple[float, ...]
    maxs: tuple[float, ...]
    counts: tuple[int, ...]
    total: int
    first_time: float | None
    last_step: int | None

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def sampled(self) -> bool:
        """True when some bucket holds more than one point."""
        return self.total > len(self.steps)


def check_buckets(buckets: int) -> None:
    """Raise a one-sentence error unless ``2 <= buckets <=`` :data:`MAX_BUCKETS`."""
    if (
        isinstance(buckets, bool)
        or not isinstance(buckets, int)
        or not (2 <= buckets <= MAX_BUCKETS)
    ):
        raise TrialbookError(
            f"buckets must be an integer between 2 and {MAX_BUCKETS}, got {buckets!r}.",
            parameter="buckets",
            value=buckets,
        )


def bucket_width(lo: int, hi: int, buckets: int) -> int:
    """The step width that splits ``lo..hi`` into at most ``buckets`` buckets."""
    return max(1, -(-(hi - lo + 1) // buckets))


def bucket_points(
    run_id: str,
    key: str,
    points: Iterable[tuple[int, float | None, float]],
    buckets: int,
    *,
    first_time: float | None,
    last_step: int | None,
) -> MetricBuckets:
    """Reduce ``(step, value, time)`` points, ordered by step then logging order, to
    :class:`MetricBuckets` (a value of None is NaN)."""
    rows = list(points)
    steps: list[int] = []
    values: list[float] = []
    times: list[float] = []
    mins: list[float] = []
    maxs: list[float] = []
    counts: list[int] = []
    if rows:
        lo = rows[0][0]
        width = bucket_width(lo, rows[-1][0], buckets)
        current = None
        for step, value, t in rows:
            v = math.nan if value is None else float(value)
            b = (step - lo) // width
            if b != current:
                current = b
                steps.append(step)
                values.append(v)
                times.append(t)
                mins.append(v)
                maxs.append(v)
                counts.append(1)
                continue
            steps[-1], values[-1], times[-1] = step, v, t
            counts[-1] += 1
            if v == v:
                if not mins[-1] <= v:  # also replaces a NaN kept so far
                    mins[-1] = v
                if not maxs[-1] >= v:
                    maxs[-1] = v
    return MetricBuckets(
        run_id,
        key,
        tuple(steps),
        tuple(values),
        tuple(times),
        tuple(mins),
        tuple(maxs),
        tuple(counts),
        len(rows),
        first_time,
        last_step,
    )


def block_rows(
    run_num: int,
    key_id: int,
    seq: int,
    steps: Sequence[int],
    values: Sequence[float],
    times: Sequence[float],
    *,
    by_time: bool = False,
) -> list[BlockRow]:
    """The block rows of points given in logging order, the first of which is the metric's
    point number ``seq`` (its count of earlier points): point ``n`` belongs to block
    ``n // BLOCK_POINTS``. A block the previous batch left open gets a partial row, which the
    store's upsert merges into the stored one.

    A block's last point is the last logged at its highest step; with ``by_time``, the one
    with the latest time there (then the last logged): the order a database without a
    logging order (PostgreSQL) reads the points of one step in.

    The columns may be NumPy arrays (int64, float64, float64; the writer's batches are):
    when the steps then strictly increase, the usual case, the blocks are reduced in NumPy
    (:func:`_increasing_block_rows`), with the same result.
    """
    if _is_array(steps) and len(steps) > 1:
        fast = _increasing_block_rows(run_num, key_id, seq, steps, values, times)
        if fast is not None:
            return fast
    out: list[BlockRow] = []
    n = len(steps)
    steps, values, times = _pylist(steps), _pylist(values), _pylist(times)
    total = sum(values)  # NaN when a value is NaN (or infinities cancel: then look closer)
    has_nan = total != total and any(v != v for v in values)
    i = 0
    while i < n:
        j = min(n, i + BLOCK_POINTS - seq % BLOCK_POINTS)
        s = steps[i:j]
        v = values[i:j]
        top = max(s)
        k = j - 1 if s[-1] == top else i + len(s) - 1 - s[::-1].index(top)
        if by_time and s.count(top) > 1:
            k = max((x for x in range(i, j) if steps[x] == top), key=lambda x: (times[x], x))
        finite = [x for x in v if x == x] if has_nan else v
        last = values[k]
        out.append(
            (
                run_num,
                key_id,
                seq // BLOCK_POINTS,
                min(s),
                top,
                min(finite) if finite else None,
                max(finite) if finite else None,
                j - i,
                None if last != last else last,
                times[k],
            )
        )
        seq += j - i
        i = j
    return out


def _is_array(column: Any) -> bool:
    return hasattr(column, "dtype") and hasattr(column, "tolist")


def _pylist(column: Sequence[Any]) -> list[Any]:
    return column.tolist() if _is_array(column) else list(column)  # type: ignore[attr-defined]


def _increasing_block_rows(
    run_num: int, key_id: int, seq: int, steps: Any, values: Any, times: Any
) -> list[BlockRow] | None:
    """:func:`block_rows` of NumPy columns whose steps strictly increase (else None): each
    block's last point is then simply its last one, and min/max are ``fmin``/``fmax``
    reductions (which skip NaN, as the loop does). Where a minimum or maximum is zero, the
    loop's answer (the first of equal values, so -0.0 or 0.0 as logged) is taken from the
    block's first zero, as NumPy's reduction may return either sign."""
    import numpy as np

    if not bool(np.all(steps[1:] > steps[:-1])):
        return None
    n = len(steps)
    starts = np.arange(0, n, BLOCK_POINTS, dtype=np.int64)
    head = BLOCK_POINTS - seq % BLOCK_POINTS  # points that fill the first (maybe open) block
    if head < BLOCK_POINTS:
        starts = np.concatenate(([0], np.arange(head, n, BLOCK_POINTS, dtype=np.int64)))
    ends = np.append(starts[1:], n)
    mins = np.fmin.reduceat(values, starts)
    maxs = np.fmax.reduceat(values, starts)
    for column in (mins, maxs):
        for b in np.flatnonzero(column == 0).tolist():
            block = values[starts[b] : ends[b]]
            column[b] = block[np.flatnonzero(block == 0)[0]]
    lasts = ends - 1
    m = len(starts)
    return list(
        zip(
            [run_num] * m,
            [key_id] * m,
            ((seq + starts) // BLOCK_POINTS).tolist(),
            steps[starts].tolist(),
            steps[lasts].tolist(),
            _nan_as_none(mins),
            _nan_as_none(maxs),
            (ends - starts).tolist(),
            _nan_as_none(values[lasts]),
            times[lasts].tolist(),
            strict=True,
        )
    )


def _nan_as_none(column: Any) -> list[float | None]:
    return [None if x != x else x for x in column.tolist()]


#: What :func:`buckets_from_blocks` reads per block: (first_step, last_step, min, max, count,
#: last, last_time).
StoredBlock = tuple[int, int, Any, Any, int, Any, float]


def buckets_from_blocks(
    run_id: str,
    key: str,
    blocks: Sequence[StoredBlock],
    buckets: int,
    *,
    points: Callable[[int, int], list[tuple[int, Any, float]]],
    first_time: float | None,
    last_step: int | None,
) -> MetricBuckets | None:
    """Buckets built from stored blocks (see the module docstring), or None when the blocks
    cannot give them: their step ranges overlap, or they hold fewer than
    ``4 * BLOCK_POINTS`` points per bucket.

    ``points(a, b)`` reads the points with ``a <= step <= b`` (step, value, time) in logging
    order; it replaces a block whose steps span more than two buckets (a sparse stretch of
    the history) by its points, so that stretch is not drawn coarser than exact buckets
    would draw it.
    """
    import numpy as np

    if not blocks:
        return None
    counts = np.fromiter((b[4] for b in blocks), np.int64, len(blocks))
    total = int(counts.sum())
    if total < 4 * BLOCK_POINTS * buckets:
        return None
    first = np.fromiter((b[0] for b in blocks), np.int64, len(blocks))
    last = np.fromiter((b[1] for b in blocks), np.int64, len(blocks))
    order = None
    if not bool(np.all(first[1:] > last[:-1])):  # logged out of order, or overlapping
        order = np.argsort(first, kind="stable")
        first, last, counts = first[order], last[order], counts[order]
        if not bool(np.all(first[1:] > last[:-1])):
            return None
    rows: Sequence[StoredBlock] = blocks if order is None else [blocks[i] for i in order]
    lo, hi = int(first[0]), int(last[-1])
    width = bucket_width(lo, hi, buckets)
    base, step_width = np.uint64(lo % 2**64), np.uint64(width)

    def bucket_of(steps: Any) -> Any:
        # In uint64, which wraps as two's complement: hi - lo can pass the largest int64.
        return (steps.astype(np.uint64) - base) // step_width

    spans = bucket_of(last) - bucket_of(first)
    if bool(np.any(spans >= 2)):
        wide = np.flatnonzero(spans >= 2)
        if int(counts[wide].sum()) > total // 4:
            return None
        expanded: list[StoredBlock] = []
        start = 0
        for i in wide.tolist():
            expanded.extend(rows[start:i])
            expanded.extend(point_blocks(points(int(first[i]), int(last[i]))))
            start = i + 1
        expanded.extend(rows[start:])
        rows = expanded
        first = np.fromiter((b[0] for b in rows), np.int64, len(rows))
        last = np.fromiter((b[1] for b in rows), np.int64, len(rows))
    table = np.array([b[2:] for b in rows], dtype=float)  # min, max, count, last, last_time
    index = bucket_of(first)
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    ends = np.r_[starts[1:], len(index)] - 1
    count_of = np.add.reduceat(np.fromiter((b[4] for b in rows), np.int64, len(rows)), starts)
    return MetricBuckets(
        run_id,
        key,
        tuple(last[ends].tolist()),
        tuple(table[ends, 3].tolist()),
        tuple(table[ends, 4].tolist()),
        tuple(np.fmin.reduceat(table[:, 0], starts).tolist()),
        tuple(np.fmax.reduceat(table[:, 1], starts).tolist()),
        tuple(count_of.tolist()),
        int(count_of.sum()),
        first_time,
        last_step,
    )


def point_blocks(rows: Iterable[tuple[int, Any, float]]) -> list[StoredBlock]:
    """Points (step, value, time) ordered by step then logging order, as blocks of one step
    each (the points logged at the same step share a block)."""
    out: list[list[Any]] = []
    for step, value, t in rows:
        v = None if value is None or value != value else value
        if out and out[-1][0] == step:
            b = out[-1]
            if v is not None:
                b[2] = v if b[2] is None or v < b[2] else b[2]
                b[3] = v if b[3] is None or v > b[3] else b[3]
            b[4] += 1
            b[5], b[6] = v, t
        else:
            out.append([step, step, v, v, 1, v, t])
    return [(b[0], b[1], b[2], b[3], b[4], b[5], b[6]) for b in out]


def batch_summary(run_id: str, key: str, steps: Any, values: Any, _times: Any) -> tuple[Any, ...]:
    """last/min/max (with their steps) and count of one key's batch (NumPy arrays, as
    ``trialbook.store._sql._column_arrays`` makes them); NaN ignored for min/max. Of equal
    values (0.0 and -0.0 too), min and max are the first logged.

    In the column order of :func:`trialbook.store._dialect.summary_upsert_sql`.
    """
    import numpy as np

    n = len(steps)
    last_step = int(steps.max())
    # The latest logged point at the highest step.
    at = n - 1 if steps[-1] == last_step else int(np.flatnonzero(steps == last_step)[-1])
    last = float(values[at])
    nan = np.isnan(values)
    finite = np.flatnonzero(~nan) if nan.any() else None
    mn = mx = None
    mn_step = mx_step = None
    if finite is None or finite.size:
        # argmin/argmax return the first of equal values, as Python's min and max do.
        if finite is None:
            lo, hi = int(np.argmin(values)), int(np.argmax(values))
        else:
            kept = values[finite]
            lo, hi = int(finite[np.argmin(kept)]), int(finite[np.argmax(kept)])
        mn, mx = float(values[lo]), float(values[hi])
        mn_step, mx_step = int(steps[lo]), int(steps[hi])
    return (
        run_id,
        key,
        None if last != last else last,
        last_step,
        mn,
        mn_step,
        mx,
        mx_step,
        n,
    )
