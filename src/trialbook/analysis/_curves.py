"""Curves of several runs drawn together: a seed group's metric as the mean over its seeds with
a confidence band (:func:`group_curve`), on one x grid shared by the seeds.

One run's curve is :func:`~trialbook.analysis.read_curve`; this module averages several.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trialbook.analysis._history import MAX_POINTS, CurveX
from trialbook.analysis._intervals import check_level
from trialbook.errors import TrialbookError

if TYPE_CHECKING:
    import numpy as np

    from trialbook.store import Store

__all__ = ["GroupCurve", "curve_points", "group_curve"]


@dataclass(frozen=True)
class GroupCurve:
    """A metric averaged over runs (a seed group's seeds) on a common x grid.

    ``x`` are the grid points, ``mean`` the mean over the runs that reach each point,
    ``low``/``high`` the Student-t interval of that mean at ``level`` (NaN where fewer than
    two runs reach the point) and ``counts`` how many runs reach it. ``n`` is the number of
    runs that logged the metric at all (runs without it are left out).
    """

    key: str
    x_axis: CurveX
    run_ids: tuple[str, ...]
    x: tuple[float, ...]
    mean: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    counts: tuple[int, ...]
    n: int
    level: float = 0.95


def _series(
    store: Store, run_id: str, key: str, x: CurveX, max_points: int
) -> tuple[np.ndarray, np.ndarray]:
    """One run's curve (:func:`~trialbook.analysis.read_curve`, at most ``max_points``
    points, without the min/max envelope the mean does not use) on the x axis ``x``, sorted
    by x, NaN values dropped."""
    import numpy as np

    from trialbook.analysis._history import read_curve

    points = read_curve(store, run_id, key, x=x, max_points=max_points, envelope=False).points
    xs = np.asarray(points.x, dtype=float)
    ys = np.asarray(points.y, dtype=float)
    keep = ~(np.isnan(ys) | np.isnan(xs))
    xs, ys = xs[keep], ys[keep]
    order = np.argsort(xs, kind="stable")
    return xs[order], ys[order]


def group_curve(
    store: Store,
    run_ids: Sequence[str],
    key: str,
    *,
    x: CurveX = "step",
    max_points: int = 500,
    level: float = 0.95,
) -> GroupCurve:
    """The mean of metric ``key`` over the runs ``run_ids`` with a ``level`` confidence band.

    Each run's curve is read with :func:`~trialbook.analysis.read_curve` (at most
    ``max_points`` points, so a long history is reduced first). The grid is ``max_points``
    evenly spaced x values from the smallest to the largest x of any run (fewer when the runs
    have fewer distinct x values: then exactly those). Each run's curve is linearly
    interpolated at the grid points inside its own x range and takes
    no part outside it, so a seed that stopped early does not pull the mean down. The band is
    ``mean +- t(level, k-1) * std / sqrt(k)`` over the ``k`` runs at that point.

    Raises:
        TrialbookError: ``x`` is not step, time or relative, ``max_points`` is below 2 or
            above the cap, ``level`` is not in (0, 1), or ``run_ids`` is empty.
    """
    import numpy as np

    from trialbook.analysis._intervals import t_half_width

    if x not in ("step", "time", "relative"):
        raise TrialbookError(
            f"x must be step, time or relative, got {x!r}.", parameter="x", value=x
        )
    if not 2 <= max_points <= MAX_POINTS:
        raise TrialbookError(
            f"max_points must be between 2 and {MAX_POINTS}, got {max_points}.",
            parameter="max_points",
            value=max_points,
        )
    level = check_level(level)
    if not run_ids:
        raise TrialbookError(
            "run_ids is empty; pass the runs to average.", parameter="run_ids", value=[]
        )
    series = [(rid, *_series(store, rid, key, x, max_points)) for rid in run_ids]
    series = [s for s in series if s[1].size]
    if not series:
        return GroupCurve(key, x, (), (), (), (), (), (), 0, level)
    lo = min(float(s[1][0]) for s in series)
    hi = max(float(s[1][-1]) for s in series)
    distinct = np.unique(np.concatenate([s[1] for s in series]))
    grid = distinct if distinct.size <= max_points else np.linspace(lo, hi, max_points)
    stack = np.full((len(series), grid.size), np.nan)
    for i, (_, xs, ys) in enumerate(series):
        inside = (grid >= xs[0]) & (grid <= xs[-1])
        stack[i, inside] = np.interp(grid[inside], xs, ys)
    counts = np.sum(~np.isnan(stack), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(stack, axis=0) / np.maximum(counts, 1)
        mean = np.where(counts > 0, mean, np.nan)
        centred = np.where(np.isnan(stack), 0.0, stack - mean)
        var = np.sum(centred**2, axis=0) / np.maximum(counts - 1, 1)
        sd = np.sqrt(var)
        half = np.asarray(t_half_width(sd, counts, level), dtype=float)
    half = np.where(counts >= 2, half, np.nan)
    return GroupCurve(
        key=key,
        x_axis=x,
        run_ids=tuple(s[0] for s in series),
        x=tuple(grid.tolist()),
        mean=tuple(mean.tolist()),
        low=tuple((mean - half).tolist()),
        high=tuple((mean + half).tolist()),
        counts=tuple(int(c) for c in counts),
        n=len(series),
        level=level,
    )


def curve_points(entries: int, *, budget: int = 20_000, floor: int = 50) -> int:
    """How many points each of ``entries`` curves drawn together gets, so the whole stays
    bounded: ``max(floor, budget // entries)`` (never more than ``budget``)."""
    return max(floor, budget // max(entries, 1)) if entries else budget
