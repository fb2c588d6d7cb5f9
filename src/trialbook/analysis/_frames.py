"""Runs as pandas DataFrames: one row per run with params, metrics and evaluations.

:func:`load_runs` reads a whole workspace in a handful of bulk Store queries (runs, params,
metric summaries, evaluations), so tens of thousands of runs load in about a second.
"""

from __future__ import annotations

import difflib
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from trialbook.store import RunQuery, RunRecord, Store

__all__ = [
    "BASE_COLUMNS",
    "compare_experiments",
    "load_experiment_results",
    "load_runs",
    "metric_columns",
    "print_results_summary",
    "resolve_metric",
]

#: Columns every frame from :func:`load_runs` has, in this order, even when empty.
BASE_COLUMNS = (
    "run_id",
    "experiment",
    "name",
    "status",
    "seed",
    "group",
    "config_hash",
    "started_at",
    "duration",
    "success",
)

#: Prefixes of the columns that hold numbers to aggregate.
_METRIC_PREFIXES = ("metrics.", "best.", "eval.")


def _row(
    record: RunRecord,
    params: Mapping[str, Any],
    summaries: Mapping[str, Any],
    evaluations: Sequence[Any],
    goals: dict[str, str],
) -> dict[str, Any]:
    from trialbook._metrics import metric_goal
    from trialbook.store import flat_values

    row: dict[str, Any] = {
        "run_id": record.id,
        "experiment": record.experiment,
        "name": record.name,
        "status": record.status,
        "seed": record.seed,
        "group": record.group_key,
        "config_hash": record.config_hash,
        "started_at": record.started_at,
        "duration": record.duration,
        "success": record.status == "completed",
    }
    row.update(flat_values(params, summaries, evaluations))
    for key, s in summaries.items():
        goal = goals.get(key)
        if goal is None:
            goal = goals[key] = metric_goal(key)
        best = s.min if goal == "min" else s.max
        row[f"best.{key}"] = math.nan if best is None else best
    return row


def _order(columns: Iterable[str]) -> list[str]:
    """Base columns, then params, metrics, best and eval columns, each sorted."""
    rest = sorted(set(columns) - set(BASE_COLUMNS))

    def rank(col: str) -> tuple[int, str]:
        for i, prefix in enumerate(("params.", "metrics.", "best.", "eval.")):
            if col.startswith(prefix):
                return (i, col)
        return (4, col)

    return [*BASE_COLUMNS, *sorted(rest, key=rank)]


def _query(
    query: RunQuery | None,
    experiment: str | None,
    statuses: Iterable[str] | str | None,
    tags: Iterable[str] | str,
    where: Iterable[str] | str,
    sort: str | None,
) -> RunQuery:
    from trialbook.store import RunQuery

    base = query if query is not None else RunQuery()
    changes: dict[str, Any] = {"order_by": "started_at", "descending": False}
    if query is not None:
        # A caller's own ordering and limit are kept.
        changes = {}
    if where or sort is not None:
        parsed = RunQuery.parse(where, sort)
        changes["params"] = (*base.params, *parsed.params)
        changes["metrics"] = (*base.metrics, *parsed.metrics)
        if sort is not None:
            changes.update(
                order_by=parsed.order_by, order_agg=parsed.order_agg, descending=parsed.descending
            )
    if experiment is not None:
        changes["experiment"] = experiment
    if statuses is not None:
        changes["statuses"] = (statuses,) if isinstance(statuses, str) else tuple(statuses)
    if tags:
        changes["tags"] = (tags,) if isinstance(tags, str) else tuple(tags)
    return replace(base, **changes)


def load_runs(
    root: str | os.PathLike[str] | None = None,
    store: Store | None = None,
    *,
    store_url: str | None = None,
    experiment: str | None = None,
    statuses: Iterable[str] | str | None = None,
    tags: Iterable[str] | str = (),
    where: Iterable[str] | str = (),
    sort: str | None = None,
    query: RunQuery | None = None,
) -> pd.DataFrame:
    """Every run of a workspace as a DataFrame, one row per run, oldest first.

    Args:
        root: The workspace folder (default ``./experiments`` or ``TRIALBOOK_ROOT``).
        store: An open :class:`~trialbook.store.Store` (left open); ``store_url`` a store URL.
        experiment: Only runs of this experiment.
        statuses: Only runs in these statuses (``"completed"`` or a list).
        tags: Only runs with all these tags.
        where: Only runs where these conditions hold, in ``trialbook ls --where``'s grammar
            (``params.lr=0.001``, ``loss<0.5``, ``max(metrics.acc)>=0.9``; see
            :meth:`trialbook.store.RunQuery.parse`).
        sort: Order the rows as ``trialbook ls --sort`` does (``name``, ``loss``,
            ``min(loss)``; best first for a metric); default oldest first.
        query: A full :class:`~trialbook.RunQuery`; the arguments above refine it.

    Columns: ``run_id``, ``experiment``, ``name``, ``status``, ``seed``, ``group`` (the
    group key: runs sharing it differ only in their seed), ``config_hash``, ``started_at``
    (UTC timestamp), ``duration`` (seconds), ``success`` (status is completed), then
    ``params.<key>`` (flattened, values as logged), ``metrics.<key>`` (last value),
    ``best.<key>`` (min for loss-like names, else max) and ``eval.<benchmark>.<metric>``
    (the latest evaluation per benchmark, nested metrics as dotted keys); ``trialbook
    export`` writes the same ``params.``, ``metrics.`` and ``eval.`` columns. An empty
    workspace gives an empty frame with the base columns.

    Example::

        runs = trialbook.load_runs("./experiments", statuses="completed")
        runs.groupby("experiment")["eval.gsm8k.accuracy"].mean()
    """
    import pandas as pd

    from trialbook._workspace import store_scope

    q = _query(query, experiment, statuses, tags, where, sort)
    with store_scope(root, store, store_url) as db:
        records = db.list_runs(q)
        ids = [r.id for r in records]
        params = db.bulk_params(ids) if ids else {}
        summaries = db.metric_summaries(ids) if ids else {}
        evaluations = db.bulk_evaluations(ids) if ids else {}
    goals: dict[str, str] = {}
    rows = [
        _row(r, params.get(r.id, {}), summaries.get(r.id, {}), evaluations.get(r.id, ()), goals)
        for r in records
    ]
    frame: pd.DataFrame = pd.DataFrame.from_records(
        rows, columns=None if rows else list(BASE_COLUMNS)
    )
    frame = frame.reindex(columns=_order(frame.columns))
    frame["started_at"] = pd.to_datetime(frame["started_at"], unit="s", utc=True)
    frame["seed"] = frame["seed"].astype("Int64")
    frame["duration"] = frame["duration"].astype(float)
    frame["success"] = frame["success"].astype(bool)
    return frame


def load_experiment_results(path: str | os.PathLike[str] = "./experiments") -> pd.DataFrame:
    """Every run of the workspace at ``path`` as a DataFrame (see :func:`load_runs`)."""
    return load_runs(path)


# --------------------------------------------------------------------------- metric names
def metric_columns(df: pd.DataFrame) -> list[str]:
    """The numeric metric columns of a runs frame (``metrics.``, ``best.``, ``eval.``)."""
    import pandas as pd

    return [
        c
        for c in df.columns
        if isinstance(c, str)
        and c.startswith(_METRIC_PREFIXES)
        and (pd.api.types.is_numeric_dtype(df[c]) or _numeric_object(df[c]))
    ]


def _numeric_object(series: pd.Series) -> bool:
    values = series.dropna()
    return bool(len(values)) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


def resolve_metric(df: pd.DataFrame, name: str) -> str:
    """The column of ``df`` that a user's metric name means.

    ``loss`` finds ``metrics.loss``; ``eval_f1`` finds ``metrics.eval_f1`` or the one
    ``eval.<benchmark>.eval_f1``; ``gsm8k.accuracy`` finds ``eval.gsm8k.accuracy``; a full
    column name is itself.

    Raises:
        ConfigError: no column matches (with the closest names), or several do (naming them).
    """
    columns = [c for c in df.columns if isinstance(c, str)]
    if name in columns:
        return name
    exact = [c for c in (f"metrics.{name}", f"eval.{name}") if c in columns]
    if len(exact) == 1:
        return exact[0]
    candidates = exact or [c for c in columns if c.startswith("eval.") and c.endswith(f".{name}")]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        raise ConfigError(
            f"Metric {name!r} is ambiguous: it could be {', '.join(candidates)}; "
            "give the full column name."
        )
    known = [c for c in columns if c.startswith(_METRIC_PREFIXES)]
    short = {c.split(".", 1)[1]: c for c in known if c.startswith("metrics.")}
    short.update({c.rsplit(".", 1)[1]: c for c in known if c.startswith("eval.")})
    close = difflib.get_close_matches(name, [*short, *known], n=1)
    if close:
        hint = f"did you mean {close[0]!r}?"
    elif known:
        hint = f"known metrics: {', '.join(known[:8])}{', ...' if len(known) > 8 else ''}."
    else:
        hint = "no run logged a metric or an evaluation yet."
    raise ConfigError(f"Unknown metric {name!r}; {hint}")


# --------------------------------------------------------------------------- summaries
def compare_experiments(
    df: pd.DataFrame,
    experiment_names: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per experiment: the number of runs and the mean and std of each metric.

    Args:
        df: A frame from :func:`load_runs`.
        experiment_names: Only these experiments, in this order (default: all, by name).
        metrics: Metric names as :func:`resolve_metric` reads them (default: every
            ``metrics.`` and ``eval.`` column).

    Returns a frame indexed by experiment with the columns ``n`` (runs), ``completed`` (of
    them) and ``<column>.mean`` / ``<column>.std`` per metric (std is NaN for a single run).

    Raises:
        ConfigError: an experiment or a metric is not in ``df``.
    """
    import pandas as pd

    present = list(dict.fromkeys(df["experiment"])) if len(df) else []
    if experiment_names is None:
        names = sorted(present)
    else:
        names = list(experiment_names)
        for name in names:
            if name not in present:
                close = difflib.get_close_matches(name, present, n=1)
                hint = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else (f"the frame has {', '.join(sorted(present)) or 'no experiments'}.")
                )
                raise ConfigError(f"Unknown experiment {name!r}; {hint}")
    if metrics is None:
        cols = [c for c in metric_columns(df) if not c.startswith("best.")]
    else:
        cols = list(dict.fromkeys(resolve_metric(df, m) for m in metrics))
    sub = df[df["experiment"].isin(names)]
    values = sub[cols].apply(pd.to_numeric, errors="coerce")
    grouped = values.groupby(sub["experiment"])
    out: pd.DataFrame = pd.DataFrame(index=pd.Index(names, name="experiment"))
    out["n"] = sub.groupby("experiment").size().reindex(names).fillna(0).astype(int)
    if "success" in sub:
        # n counts every run; how many of them completed is the other half of the story.
        done = sub["success"].astype(bool).groupby(sub["experiment"]).sum()
        out["completed"] = done.reindex(names).fillna(0).astype(int)
    means, stds = grouped.mean(), grouped.std(ddof=1)
    for col in cols:
        out[f"{col}.mean"] = means[col].reindex(names) if col in means else math.nan
        out[f"{col}.std"] = stds[col].reindex(names) if col in stds else math.nan
    return out


def print_results_summary(df: pd.DataFrame, metrics: Sequence[str] | None = None) -> None:
    """Print a table per experiment: runs, successes, mean duration and mean +- std metrics."""
    from rich.console import Console
    from rich.table import Table

    from trialbook._format import fmt_mean_std, fmt_number

    summary = compare_experiments(df, metrics=metrics)
    cols = [c[: -len(".mean")] for c in summary.columns if c.endswith(".mean")]
    table = Table(title=f"{len(df)} runs in {len(summary)} experiments")
    for header in ("experiment", "runs", "succeeded", "duration"):
        table.add_column(header, justify="left" if header == "experiment" else "right")
    for col in cols:
        table.add_column(col, justify="right")
    for name, row in summary.iterrows():
        runs = df[df["experiment"] == name]
        cells = [
            str(name),
            str(int(row["n"])),
            str(int(runs["success"].sum())),
            fmt_number(runs["duration"].mean()),
        ]
        for col in cols:
            cells.append(fmt_mean_std(row[f"{col}.mean"], row[f"{col}.std"]))
        table.add_row(*cells)
    # Piped output keeps whole cells instead of rich's 80-column default.
    Console(width=None if sys.stdout.isatty() else 1000).print(table)
