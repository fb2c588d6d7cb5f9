"""Metric histories for people to look at: downsampling with a min/max envelope, one curve
ready to draw (:func:`read_curve`), and tidy DataFrames of curves (:func:`load_history`).

The dashboard, notebooks and reports read curves through these functions, so a
1,000,000-point history is drawn from at most a few thousand points that keep its spikes.
"""

from __future__ import annotations

import math
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


@dataclass(frozen=True)
class Downsampled:
    """A series reduced to buckets: ``x``/``y`` the representative points (bucket means of
    x, the last value in each bucket for y) and ``y_min``/``y_max`` the envelope of every
    original point in each bucket, so spikes survive. ``total`` is the original length;
    ``sampled`` is False when nothing had to be dropped (then ``y_min == y_max == y``)."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    y_min: tuple[float, ...]
    y_max: tuple[float, ...]
    total: int
    sampled: bool


def downsample(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, max_points: int = 2000
) -> Downsampled:
    """Reduce ``(x, y)`` to at most ``max_points`` buckets with a min/max envelope.

    NaN values are ignored inside a bucket (a bucket of only NaN keeps NaN). ``x`` must be
    sorted ascending.

    Raises:
        TrialbookError: ``max_points`` is below 2 or above :data:`MAX_POINTS`, or ``x`` and
            ``y`` differ in length.
    """
    import numpy as np

    if not 2 <= max_points <= MAX_POINTS:
        raise TrialbookError(
            f"max_points must be between 2 and {MAX_POINTS}, got {max_points}.",
            parameter="max_points",
            value=max_points,
        )
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
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
    lengths = np.diff(edges)
    with np.errstate(all="ignore"):
        finite = np.where(np.isnan(ys), np.inf, ys)
        mins = np.minimum.reduceat(finite, starts)
        finite = np.where(np.isnan(ys), -np.inf, ys)
        maxs = np.maximum.reduceat(finite, starts)
        mean_x = np.add.reduceat(xs, starts) / lengths
    mins = np.where(np.isinf(mins) & (mins > 0), np.nan, mins)
    maxs = np.where(np.isinf(maxs) & (maxs < 0), np.nan, maxs)
    last = ys[edges[1:] - 1]
    return Downsampled(
        tuple(mean_x.tolist()),
        tuple(last.tolist()),
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


def read_curve(
    store: Store,
    run_id: str,
    key: str,
    *,
    x: CurveX = "step",
    max_points: int = 2000,
    after_step: int | None = None,
) -> Curve:
    """One metric of one run as a :class:`Curve` of at most ``max_points`` points.

    ``after_step`` keeps only points logged after that step (a live view's increment).

    Raises:
        TrialbookError: ``x`` is not step, time or relative, or ``max_points`` is out of
            range.
    """
    if x not in ("step", "time", "relative"):
        raise TrialbookError(
            f"x must be step, time or relative, got {x!r}.", parameter="x", value=x
        )
    history = store.metric_history(run_id, key)
    steps, values, times = history.steps, history.values, history.times
    if after_step is not None:
        keep = [i for i, s in enumerate(steps) if s > after_step]
        first_time = times[0] if times else 0.0
        steps = tuple(steps[i] for i in keep)
        values = tuple(values[i] for i in keep)
        times = tuple(times[i] for i in keep)
    else:
        first_time = times[0] if times else 0.0
    if x == "step":
        xs: Sequence[float] = steps
    elif x == "time":
        xs = times
    else:
        xs = [t - first_time for t in times]
    last = history.steps[-1] if history.steps else None
    return Curve(run_id, key, x, downsample(xs, values, max_points), last)


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
    import pandas as pd

    from trialbook._workspace import open_store

    refs: list[Any] = [runs] if isinstance(runs, str) or hasattr(runs, "id") else list(runs)
    wanted = [keys] if isinstance(keys, str) else (None if keys is None else list(keys))
    frames: list[dict[str, Any]] = []
    with open_store(root, store_url) as store:
        for ref in refs:
            record = ref if hasattr(ref, "id") else store.get_run(ref)
            names = wanted
            if names is None:
                names = sorted(store.metric_summaries([record.id]).get(record.id, {}))
            for key in names:
                h = store.metric_history(record.id, key)
                start = h.times[0] if h.times else math.nan
                for step, value, t in zip(h.steps, h.values, h.times, strict=True):
                    frames.append(
                        {
                            "run_id": record.id,
                            "run_name": record.name,
                            "key": key,
                            "step": step,
                            "value": value,
                            "time": t,
                            "relative_time": t - start,
                        }
                    )
    columns = ["run_id", "run_name", "key", "step", "value", "time", "relative_time"]
    frame: pd.DataFrame = pd.DataFrame(frames, columns=columns)
    return frame
