"""Seed groups: runs with the same config except the seed, summarised with intervals.

A group is one experiment's runs sharing a group key (the config hash without the seed).
Its statistics use one run per seed: the newest completed one (see :func:`one_run_per_seed`);
a reproduction (``trialbook reproduce``), a retry or a rerun of a seed is not another seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal

from trialbook.analysis._frames import metric_columns, resolve_metric
from trialbook.analysis._intervals import (
    bootstrap_interval,
    check_level,
    finite_values,
    t_half_width,
    t_interval,
)
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from trialbook.store import RunRecord

__all__ = [
    "GROUP_PREFIX",
    "group_interval",
    "group_ref",
    "left_out_note",
    "one_run_per_seed",
    "seed_groups",
]

#: What starts a reference to a seed group by its key (``group:9c1e``).
GROUP_PREFIX = "group:"


def group_ref(key: str) -> str:
    """The reference that names a seed group, as ``ls --by group`` and the leaderboard print
    it: ``group:`` and the key's first 12 characters (``group:b05b7a6e50c7``)."""
    return f"{GROUP_PREFIX}{key[:12]}"


#: (run id, group key, seed, completed, started_at) -- what the one-run-per-seed rule reads.
RunKey = tuple[str, str, "int | None", bool, "float | None"]


def _kept_ids(rows: Iterable[RunKey]) -> set[str]:
    """The one-run-per-seed rule, once for records and frames: per (group, seed) the completed
    run that started last (ties: the larger id, which is the later created); runs without a
    seed are all kept (nothing says two of them repeat each other)."""
    best: dict[tuple[str, int], tuple[bool, float, str]] = {}
    kept: set[str] = set()
    for run_id, group, seed, completed, started in rows:
        if seed is None:
            kept.add(run_id)
            continue
        rank = (completed, float("-inf") if started is None else started, run_id)
        slot = (group, seed)
        if slot not in best or rank > best[slot]:
            best[slot] = rank
    kept.update(rank[2] for rank in best.values())
    return kept


def one_run_per_seed(runs: Sequence[RunRecord]) -> tuple[list[RunRecord], list[RunRecord]]:
    """The runs a group's statistics use -- per group and seed the newest completed run -- and
    those left out (older reproductions, retries and reruns of a seed), each in input order."""
    kept = _kept_ids(
        (r.id, r.group_key, r.seed, r.status == "completed", r.started_at) for r in runs
    )
    return [r for r in runs if r.id in kept], [r for r in runs if r.id not in kept]


def _why(run: RunRecord) -> str:
    if any(t.startswith("reproduces:") for t in run.tags):
        return "a reproduction"
    return "a retry" if "retry" in run.tags else "a rerun"


def left_out_note(
    left_out: Sequence[RunRecord], name: str | None = None, kept: Iterable[RunRecord] = ()
) -> str | None:
    """One sentence saying which runs one-run-per-seed left out, or None when none were:
    ``1 older run of seed 1 left out of 'baseline', replaced by a reproduction: a group
    counts one run per seed, the newest completed.`` ``kept`` are the runs counted, so the
    sentence can say what replaced each left-out run (a reproduction, a retry or a rerun)."""
    if not left_out:
        return None
    newer = {(r.group_key, r.seed): r for r in kept}
    whats = sorted({_why(newer.get((r.group_key, r.seed), r)) for r in left_out})
    by_seed = sorted({r.seed for r in left_out if r.seed is not None})
    groups = {r.group_key for r in left_out}
    where = (
        f" of {name}"
        if name is not None
        else f" of {left_out[0].name} ({group_ref(next(iter(groups)))})"
        if len(groups) == 1
        else f" in {len(groups)} groups"
    )
    n = len(left_out)
    seeds = ", ".join(map(str, by_seed[:6])) + (", ..." if len(by_seed) > 6 else "")
    return (
        f"{n} older run{'s' if n > 1 else ''} of seed{'s' if len(by_seed) > 1 else ''} {seeds} "
        f"left out{where}, replaced by {' or '.join(whats)}: a group counts one run per seed, "
        "the newest completed."
    )


IntervalKind = Literal["t", "bootstrap"]

_KEYS = ["experiment", "group"]


def _check_ci(ci: str) -> None:
    if ci not in ("t", "bootstrap"):
        raise ConfigError(
            f"Unknown interval {ci!r}; use 't' (Student-t) or 'bootstrap'.",
            parameter="ci",
            value=ci,
        )


def _columns(df: pd.DataFrame, metrics: Sequence[str] | str | None) -> list[str]:
    if metrics is None:
        return [c for c in metric_columns(df) if not c.startswith(("best.", "metrics.system/"))]
    if isinstance(metrics, str):
        metrics = [metrics]
    return list(dict.fromkeys(resolve_metric(df, m) for m in metrics))


def _one_per_seed_frame(
    df: pd.DataFrame,
) -> tuple[pd.DataFrame, dict[tuple[object, object], list[str]]]:
    """The rows :func:`one_run_per_seed` keeps, and the ids left out per (experiment, group)."""
    import pandas as pd

    if not {"run_id", "group", "seed"} <= set(df.columns) or df.empty:
        return df, {}
    started = df["started_at"] if "started_at" in df else pd.Series(pd.NaT, index=df.index)
    stamps = [None if pd.isna(t) else pd.Timestamp(t).timestamp() for t in started]
    done = df["success"] if "success" in df else pd.Series(True, index=df.index)
    kept = _kept_ids(
        (str(rid), str(g), None if pd.isna(sd) else int(sd), bool(ok), ts)
        for rid, g, sd, ok, ts in zip(
            df["run_id"], df["group"], df["seed"], done, stamps, strict=True
        )
    )
    mask = df["run_id"].astype(str).isin(kept)
    left: dict[tuple[object, object], list[str]] = {}
    for exp, group, rid in zip(
        df.loc[~mask, "experiment"], df.loc[~mask, "group"], df.loc[~mask, "run_id"], strict=True
    ):
        left.setdefault((exp, group), []).append(str(rid))
    return df[mask], left


def seed_groups(
    df: pd.DataFrame,
    metrics: Sequence[str] | str | None = None,
    *,
    ci: IntervalKind = "t",
    level: float = 0.95,
    resamples: int = 10000,
    seed: int = 0,
    one_per_seed: bool = True,
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

        one_per_seed: Count one run per seed of a group, the newest completed (a
            reproduction, retry or rerun of a seed is not another seed); False counts every
            row.

    Returns columns ``group``, ``experiment``, ``name`` (of the group's first run), ``n``
    (runs counted), ``seeds`` (sorted list), ``left_out`` (ids of the older runs of a seed
    that were not counted), then ``<col>.mean``, ``<col>.std``, ``<col>.ci_low`` and
    ``<col>.ci_high`` per metric column. NaN values (a run without the metric) are left
    out; fewer than two values give NaN std and interval. Groups come in order of their
    first run.

    Raises:
        ConfigError: an unknown metric, interval kind or level.
    """
    import numpy as np
    import pandas as pd

    _check_ci(ci)
    level = check_level(level)
    cols = _columns(df, metrics)
    base = ["group", "experiment", "name", "n", "seeds", "left_out"]
    stat_cols = [f"{c}.{s}" for c in cols for s in ("mean", "std", "ci_low", "ci_high")]
    if df.empty:
        empty: pd.DataFrame = pd.DataFrame(columns=[*base, *stat_cols])
        return empty
    left: dict[tuple[object, object], list[str]] = {}
    if one_per_seed:
        df, left = _one_per_seed_frame(df)
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
    out["left_out"] = [left.get(key, []) for key in first.index]
    values = df[cols].apply(pd.to_numeric, errors="coerce").astype(float)
    by = values.groupby([df[k] for k in _KEYS], sort=False, dropna=False)
    count, mean, std = by.count(), by.mean(), by.std(ddof=1)
    new: dict[str, object] = {}
    for col in cols:
        n = count[col].to_numpy()
        m = mean[col].to_numpy()
        sd = std[col].to_numpy()
        if ci == "t":
            half = t_half_width(sd, n, level)
            low, high = m - half, m + half
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
    """The interval of ``metric``'s mean over one group's runs (``group`` = key or prefix),
    one run per seed (see :func:`seed_groups`).

    Raises:
        ConfigError: no or several groups match, an unknown metric, or fewer than two seeds
            (the message names the group and its n).
    """
    _check_ci(ci)
    level = check_level(level)
    col = resolve_metric(df, metric)
    keys = sorted({str(k) for k in df["group"] if str(k).startswith(group)}) if len(df) else []
    if not keys:
        raise ConfigError(
            f"No seed group {group!r}; the frame's 'group' column holds the keys.",
            parameter="group",
            value=group,
        )
    if len(keys) > 1:
        raise ConfigError(
            f"Group {group!r} matches {len(keys)} groups ({', '.join(k[:12] for k in keys[:5])}); "
            "give a longer prefix."
        )
    members, _ = _one_per_seed_frame(df[df["group"] == keys[0]])
    values = finite_values(members[col].astype(float))
    if values.size < 2:
        raise ConfigError(
            f"A {level:.0%} interval needs at least 2 seeds; group {keys[0][:12]} has "
            f"n={values.size} with {col}; run more seeds."
        )
    if ci == "t":
        return t_interval(values, level)
    return bootstrap_interval(values, level, resamples, seed)
