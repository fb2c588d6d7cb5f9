"""Metric histories for people to look at: downsampling with a min/max envelope, one curve
ready to draw (:func:`read_curve`), and tidy DataFrames of curves (:func:`load_history`).

The dashboard, notebooks and reports read curves through these functions, so a
1,000,000-point history is drawn from at most a few thousand points that keep its spikes.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from trialbook.errors import TrialbookError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from trialbook.store import RunRecord, Store

__all__ = ["Curve", "CurveX", "Downsampled", "downsample", "load_history", "read_curve"]

#: What a curve's x axis shows: the step, the wall time (seconds since the epoch) or the
#: time since the run's first point of that metric.
CurveX = Literal["step", "time", "relative"]

#: The most points a caller may ask one curve to be drawn with.
MAX_POINTS = 20_000


def _check_max_points(max_points: int) -> None:
    if (
        isinstance(max_points, bool)
        or not isinstance(max_points, int)
        or not 2 <= max_points <= MAX_POINTS
    ):
        raise TrialbookError(
            f"max_points must be an integer between 2 and {MAX_POINTS}, got {max_points!r}.",
            parameter="max_points",
            value=max_points,
        )


@dataclass(frozen=True)
class Downsampled:
    """A series reduced to buckets: ``x``/``y`` each bucket's last point and
    ``y_min``/``y_max`` the envelope of every original point in the bucket (NaN ignored;
    NaN when the bucket holds only NaN), so spikes survive. ``total`` is the original
    length; ``sampled`` is False when nothing had to be dropped (then
    ``y_min == y_max == y``)."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    y_min: tuple[float, ...]
    y_max: tuple[float, ...]
    total: int
    sampled: bool


def downsample(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, max_points: int = 2000
) -> Downsampled:
    """Reduce ``(x, y)`` to at most ``max_points`` buckets of (nearly) equal point counts,
    each drawn as its last point with the min/max envelope of all its points.

    ``x`` must be sorted ascending (it is not reordered). NaN values are ignored inside a
    bucket; a bucket of only NaN keeps NaN. Infinities count as values.

    Raises:
        TrialbookError: ``max_points`` is below 2 or above :data:`MAX_POINTS`, or ``x`` and
            ``y`` differ in length.
    """
    import numpy as np

    _check_max_points(max_points)
    xs = np.asarray(x, dtype=float).ravel()
    ys = np.asarray(y, dtype=float).ravel()
    if xs.shape != ys.shape:
        raise TrialbookError(
            f"x and y must have the same length, got {xs.size} and {ys.size}.",
            parameter="y",
        )
    n = int(xs.size)
    if n <= max_points:
        t = tuple(ys.tolist())
        return Downsampled(tuple(xs.tolist()), t, t, t, n, False)
    edges = np.linspace(0, n, max_points + 1).astype(np.int64)
    starts = edges[:-1]
    nan = np.isnan(ys)
    mins = np.minimum.reduceat(np.where(nan, np.inf, ys), starts)
    maxs = np.maximum.reduceat(np.where(nan, -np.inf, ys), starts)
    only_nan = np.add.reduceat(~nan, starts) == 0
    mins[only_nan] = np.nan
    maxs[only_nan] = np.nan
    ends = edges[1:] - 1
    return Downsampled(
        tuple(xs[ends].tolist()),
        tuple(ys[ends].tolist()),
        tuple(mins.tolist()),
        tuple(maxs.tolist()),
        n,
        True,
    )


@dataclass(frozen=True)
class Curve:
    """One metric of one run, ready to draw: the downsampled series on the chosen x axis,
    plus where it ends (``last_step``), so a live view asks only for what came after."""

    run_id: str
    key: str
    x_axis: CurveX
    points: Downsampled
    last_step: int | None


#: Curves of long histories kept for repeated reads (a page reloaded, several viewers): at
#: most this many points in all, per store. Reads shorter than _CACHE_FROM points are cheap
#: and never cached.
_CACHE_POINTS = 250_000
_CACHE_FROM = 50_000
_CacheKey = tuple[str, str, str, int, "int | None", bool]
_cache: weakref.WeakKeyDictionary[Any, OrderedDict[_CacheKey, tuple[Any, Curve]]]
_cache = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def _cached(store: Store, key: _CacheKey, version: Any) -> Curve | None:
    with _cache_lock:
        entries = _cache.get(store)
        if entries is None or key not in entries:
            return None
        seen, curve = entries[key]
        if seen != version:
            del entries[key]
            return None
        entries.move_to_end(key)
        return curve


def _remember(store: Store, key: _CacheKey, version: Any, curve: Curve) -> None:
    with _cache_lock:
        entries = _cache.setdefault(store, OrderedDict())
        entries[key] = (version, curve)
        entries.move_to_end(key)
        size = sum(len(c.points.x) for _, c in entries.values())
        while size > _CACHE_POINTS and len(entries) > 1:
            _, (_, dropped) = entries.popitem(last=False)
            size -= len(dropped.points.x)


def read_curve(
    store: Store,
    run_id: str,
    key: str,
    *,
    x: CurveX = "step",
    max_points: int = 2000,
    after_step: int | None = None,
    envelope: bool = True,
) -> Curve:
    """One metric of one run as a :class:`Curve` of at most ``max_points`` points.

    The steps are split into at most ``max_points`` buckets of about equal width
    (:meth:`trialbook.store.Store.metric_buckets`; a long history is reduced from the blocks
    of 64 points the writer keeps, without reading its points); each drawn point is the
    last point logged in its bucket and ``y_min`` / ``y_max`` are the bucket's envelope, so
    a single spike among 1,000,000 points is kept.
    A history with no more steps than ``max_points`` comes back point by point. On the
    ``relative`` axis x is the time since the metric's first point.

    ``envelope=False`` is for a curve drawn without its min/max band (many curves on one
    chart): the same drawn points, with ``y_min``/``y_max`` equal to ``y``, read by seeking
    each bucket's last point (:meth:`trialbook.store.Store.metric_decimated`) instead of
    reading every point. It applies to whole histories on the step and time axes; with
    ``after_step`` or ``x="relative"`` the envelope is always computed.

    ``after_step`` keeps only points logged after that step (a live view's increment).
    ``last_step`` is the metric's last step over its whole history. Long histories are
    cached (bounded) until the metric gets a new point.

    Raises:
        TrialbookError: ``x`` is not step, time or relative, or ``max_points`` is out of
            range.
    """
    if x not in ("step", "time", "relative"):
        raise TrialbookError(
            f"x must be step, time or relative, got {x!r}.", parameter="x", value=x
        )
    _check_max_points(max_points)
    summary = store.metric_summaries([run_id], [key]).get(run_id, {}).get(key)
    version = None if summary is None else (summary.count, summary.last_step)
    envelope = envelope or after_step is not None or x == "relative"
    cache_key: _CacheKey = (run_id, key, x, max_points, after_step, envelope)
    use_cache = summary is not None and summary.count >= _CACHE_FROM
    if use_cache:
        hit = _cached(store, cache_key, version)
        if hit is not None:
            return hit
    xs: tuple[float, ...]
    if not envelope:
        d = store.metric_decimated(run_id, key, max_points)
        xs = tuple(float(v) for v in d.steps) if x == "step" else tuple(d.times)
        total = summary.count if summary is not None else 0
        points = Downsampled(xs, d.values, d.values, d.values, total, total > len(d.steps))
        last_step = summary.last_step if summary is not None else None
    else:
        b = store.metric_buckets(run_id, key, max_points, after_step=after_step)
        if x == "step":
            xs = tuple(float(v) for v in b.steps)
        elif x == "time":
            xs = b.times
        else:
            start = b.first_time if b.first_time is not None else 0.0
            xs = tuple(t - start for t in b.times)
        points = Downsampled(xs, b.values, b.mins, b.maxs, b.total, b.sampled)
        last_step = b.last_step
    curve = Curve(run_id, key, x, points, last_step)
    if use_cache:
        _remember(store, cache_key, version, curve)
    return curve


def load_history(
    runs: str | RunRecord | Iterable[str | RunRecord],
    keys: str | Iterable[str] | None = None,
    *,
    root: str | Path | None = None,
    store_url: str | None = None,
) -> pd.DataFrame:
    """Metric histories of runs as one tidy DataFrame.

    Columns: ``run_id``, ``run_name``, ``key``, ``step``, ``value``, ``time`` (seconds since
    the epoch) and ``relative_time`` (seconds since the run's first point of that key). One
    row per logged point, every point kept. ``keys=None`` loads every metric of each run.

    ``runs`` are run references (ids, unique prefixes, short ids or names) or records.

    Raises:
        RunNotFoundError: a reference matches no run.
    """
    import numpy as np
    import pandas as pd

    from trialbook._workspace import open_store

    refs: list[Any] = [runs] if isinstance(runs, str) or hasattr(runs, "id") else list(runs)
    wanted = [keys] if isinstance(keys, str) else (None if keys is None else list(keys))
    columns = ["run_id", "run_name", "key", "step", "value", "time", "relative_time"]
    parts: list[pd.DataFrame] = []
    with open_store(root, store_url) as store:
        for ref in refs:
            record = ref if hasattr(ref, "id") else store.get_run(ref)
            names = wanted
            if names is None:
                names = sorted(store.metric_summaries([record.id]).get(record.id, {}))
            for key in names:
                h = store.metric_history(record.id, key)
                if not h.steps:
                    continue
                times = np.asarray(h.times, dtype=float)
                part = pd.DataFrame(
                    {
                        "step": np.asarray(h.steps, dtype=np.int64),
                        "value": np.asarray(h.values, dtype=float),
                        "time": times,
                        "relative_time": times - times[0],
                    }
                )
                part.insert(0, "key", key)
                part.insert(0, "run_name", record.name)
                part.insert(0, "run_id", record.id)
                parts.append(part)
    if not parts:
        empty: pd.DataFrame = pd.DataFrame(
            {c: pd.Series(dtype=object if c in columns[:3] else float) for c in columns}
        )
        empty["step"] = empty["step"].astype(np.int64)
        return empty
    frame: pd.DataFrame = pd.concat(parts, ignore_index=True)[columns]
    return frame
