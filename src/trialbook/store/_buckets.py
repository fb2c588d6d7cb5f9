"""A metric's history reduced to step buckets, for drawing long curves without reading every
point into Python: :class:`MetricBuckets` and the reduction every Store shares.

Buckets split the steps ``lo..hi`` of the points read (``lo`` the first step after
``after_step``, ``hi`` the last) into ranges of equal width ``ceil((hi - lo + 1) / buckets)``;
bucket ``i`` holds the points with ``lo + i * width <= step < lo + (i + 1) * width``. Empty
buckets are left out. Each bucket keeps its last point (highest step, the last one logged at
that step) and the minimum, maximum and count of its points, so a spike survives any
reduction. A history with no more distinct steps than buckets comes back point by point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from trialbook.errors import TrialbookError

__all__ = ["MetricBuckets", "bucket_points", "bucket_width", "check_buckets"]

#: The most buckets one read may ask for.
MAX_BUCKETS = 20_000


@dataclass(frozen=True)
class MetricBuckets:
    """One metric of one run reduced to step buckets (see the module docstring).

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
