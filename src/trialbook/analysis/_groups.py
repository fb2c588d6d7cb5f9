"""Seed groups: runs with the same config except the seed, summarised with intervals.

A group is one experiment's runs sharing a group key (the config hash without the seed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from trialbook.analysis._frames import metric_columns, resolve_metric
from trialbook.analysis._intervals import bootstrap_interval, check_level, finite_values
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["group_interval", "seed_groups"]

IntervalKind = Literal["t", "bootstrap"]

_KEYS = ["experiment", "group"]


def _check_ci(ci: str) -> None:
    if ci not in ("t", "bootstrap"):
        raise ConfigError(f"Unknown interval {ci!r}; use 't' (Student-t) or 'bootstrap'.")


def _columns(df: pd.DataFrame, metrics: Sequence[str] | str | None) -> list[str]:
    if metrics is None:
        return [c for c in metric_columns(df) if not c.startswith(("best.", "metrics.system/"))]
    if isinstance(metrics, str):
        metrics = [metrics]
    return list(dict.fromkeys(resolve_metric(df, m) for m in metrics))


def seed_groups(
    df: pd.DataFrame,
    metrics: Sequence[str] | str | None = None,
    *,
    ci: IntervalKind = "t",
    level: float = 0.95,
    resamples: int = 10000,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per seed group of a runs frame, with n, mean, std and an interval per metric.

    Args:
        df: A frame from :func:`~trialbook.load_runs` (filter it first, e.g. to completed
            runs, to leave failed seeds out).
        metrics: Metric names (``loss``, ``eval_f1``, ``gsm8k.accuracy`` or full columns;
            see :func:`resolve_metric`). Default: every ``metrics.`` and ``eval.`` column
            except system metrics.
        ci: ``"t"`` (Student-t interval of the mean) or ``"bootstrap"`` (percentile
            bootstrap with ``resamples`` draws from ``numpy.random.default_rng(seed)``).
        level: Confidence level of the intervals.

    Returns columns ``group``, ``experiment``, ``name`` (of the group's first run), ``n``
    (runs), ``seeds`` (sorted list), then ``<col>.mean``, ``<col>.std``, ``<col>.ci_low``
    and ``<col>.ci_high`` per metric column. NaN values (a run without the metric) are left
    out; fewer than two values give NaN std and interval. Groups come in order of their
    first run.

    Raises:
        ConfigError: an unknown metric, interval kind or level.
    """
    import numpy as np
    import pandas as pd
    from scipy import stats

    _check_ci(ci)
    level = check_level(level)
    cols = _columns(df, metrics)
    base = ["group", "experiment", "name", "n", "seeds"]
    stat_cols = [f"{c}.{s}" for c in cols for s in ("mean", "std", "ci_low", "ci_high")]
    if df.empty:
        empty: pd.DataFrame = pd.DataFrame(columns=[*base, *stat_cols])
        return empty
    grouped = df.groupby(_KEYS, sort=False, dropna=False)
    first = grouped.first()
    out = pd.DataFrame(
        {
            "group": first.index.get_level_values("group"),
            "experiment": first.index.get_level_values("experiment"),
            "name": first["name"].to_numpy(),
            "n": grouped.size().to_numpy(),
            "seeds": [sorted(int(s) for s in seeds.dropna()) for _, seeds in grouped["seed"]],
        }
    )
    values = df[cols].apply(pd.to_numeric, errors="coerce").astype(float)
    by = values.groupby([df[k] for k in _KEYS], sort=False, dropna=False)
    count, mean, std = by.count(), by.mean(), by.std(ddof=1)
    new: dict[str, object] = {}
    for col in cols:
        n = count[col].to_numpy()
        m = mean[col].to_numpy()
        sd = std[col].to_numpy()
        if ci == "t":
            with np.errstate(invalid="ignore", divide="ignore"):
                t = stats.t.ppf((1.0 + level) / 2.0, np.where(n >= 2, n - 1, 1))
                half = np.where(sd == 0.0, 0.0, t * sd / np.sqrt(np.maximum(n, 1)))
            low = np.where(n >= 2, m - half, np.nan)
            high = np.where(n >= 2, m + half, np.nan)
        else:
            low = np.full(len(n), np.nan)
            high = np.full(len(n), np.nan)
            for i, (_, vals) in enumerate(
                values[col].groupby([df[k] for k in _KEYS], sort=False, dropna=False)
            ):
                if n[i] >= 2:
                    low[i], high[i] = bootstrap_interval(vals, level, resamples, seed)
        new[f"{col}.mean"] = m
        new[f"{col}.std"] = np.where(n >= 2, sd, np.nan)
        new[f"{col}.ci_low"] = low
        new[f"{col}.ci_high"] = high
    result: pd.DataFrame = pd.concat([out, pd.DataFrame(new, index=out.index)], axis=1)
    return result


def group_interval(
    df: pd.DataFrame,
    group: str,
    metric: str,
    *,
    ci: IntervalKind = "t",
    level: float = 0.95,
    resamples: int = 10000,
    seed: int = 0,
) -> tuple[float, float]:
    """The interval of ``metric``'s mean over one group's runs (``group`` = key or prefix).

    Raises:
        ConfigError: no or several groups match, an unknown metric, or fewer than two seeds
            (the message names the group and its n).
    """
    from trialbook.analysis._intervals import t_interval

    _check_ci(ci)
    level = check_level(level)
    col = resolve_metric(df, metric)
    keys = sorted({str(k) for k in df["group"] if str(k).startswith(group)}) if len(df) else []
    if not keys:
        raise ConfigError(f"No seed group {group!r}; list groups with `trialbook ls --by group`.")
    if len(keys) > 1:
        raise ConfigError(
            f"Group {group!r} matches {len(keys)} groups ({', '.join(k[:12] for k in keys[:5])}); "
            "give a longer prefix."
        )
    values = finite_values(df.loc[df["group"] == keys[0], col].astype(float))
    if values.size < 2:
        raise ConfigError(
            f"A {level:.0%} interval needs at least 2 seeds; group {keys[0][:12]} has "
            f"n={values.size} with {col}; run more seeds."
        )
    if ci == "t":
        return t_interval(values, level)
    return bootstrap_interval(values, level, resamples, seed)
