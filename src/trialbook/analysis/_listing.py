"""What ``trialbook ls`` lists, as data: runs with their metric summaries, or seed groups
with mean, std and a confidence interval per metric. The dashboard lists runs the same way.

Both check the names a user typed: a filter or sort key that exists in no run is a
did-you-mean (:func:`~trialbook.analysis._scope.check_names`), not an empty list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from trialbook.analysis._scope import Scope, check_names
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from trialbook.store import MetricSummary, RunQuery, RunRecord, Store

__all__ = ["GroupListing", "RunListing", "list_groups", "list_runs"]

#: Metrics summarised per group besides (or without) the sorted one.
GROUP_METRICS = 3


@dataclass(frozen=True)
class RunListing:
    """The runs a query matched (in its order) and their metric summaries by run id."""

    records: list[RunRecord]
    summaries: Mapping[str, Mapping[str, MetricSummary]]

    def documents(self) -> list[dict[str, Any]]:
        """Each run's stored fields and its metrics' last values (``ls --json``)."""
        from trialbook.store import run_fields

        return [
            {
                **run_fields(r),
                "metrics": {k: s.last for k, s in sorted(self.summaries.get(r.id, {}).items())},
            }
            for r in self.records
        ]


def _check_filters(
    store: Store, matched: bool, sort_seen: bool, query: RunQuery, scope: Scope
) -> None:
    """A typo in a filter is an error with a did-you-mean, not an empty list: when nothing
    matched, or no listed run has the sorted metric, check that every name exists somewhere."""
    from trialbook.store import SORT_COLUMNS

    metric = query.sort.metric
    if matched and (sort_seen or metric is None):
        return
    metrics = [(metric, "sort=...")] if metric is not None and not sort_seen else []
    check_names(
        store,
        experiment=None if matched else query.experiment,
        scope=Scope() if matched else scope,
        metrics=metrics,
        also=SORT_COLUMNS if metrics else (),
    )


def list_runs(store: Store, query: RunQuery, scope: Scope | None = None) -> RunListing:
    """The runs matching ``query`` narrowed to ``scope``, with their metric summaries.

    Raises:
        ConfigError: the experiment, suite, a ``where`` key or the sorted metric exists in no
            run of the workspace (with the closest name).
    """
    scope = scope or Scope()
    query = scope.query(query)
    records = store.list_runs(query)
    summaries = store.metric_summaries([r.id for r in records]) if records else {}
    metric = query.sort.metric
    sort_seen = metric is not None and any(metric in summaries.get(r.id, {}) for r in records)
    _check_filters(store, bool(records), sort_seen, query, scope)
    return RunListing(records, summaries)


@dataclass(frozen=True)
class GroupListing:
    """Seed groups, one row each in ``groups`` (see :func:`seed_groups`), best first for a
    metric sort; ``metrics`` are the (header, frame column) pairs summarised; ``refs`` the
    reference naming each group (``group:<key>``); ``suites`` the suites each group was
    planned from; ``note`` says which runs one-run-per-seed left out (or None)."""

    groups: pd.DataFrame
    metrics: list[tuple[str, str]]
    refs: dict[str, str]
    suites: dict[str, list[str]]
    note: str | None
    ci: str = "t"
    level: float = 0.95
    records: dict[str, RunRecord] = field(default_factory=dict, repr=False)

    def documents(self) -> list[dict[str, Any]]:
        """Each group as a JSON-ready dict (``ls --by group --json``)."""

        def number(value: Any) -> float | None:
            return None if value is None or math.isnan(value) else float(value)

        stats = ("mean", "std", "ci_low", "ci_high")
        return [
            {
                "group": g["group"],
                "ref": self.refs[str(g["group"])],
                "experiment": g["experiment"],
                "name": g["name"],
                "n": int(g["n"]),
                "seeds": list(g["seeds"]),
                "left_out": list(g["left_out"]),
                "suites": self.suites.get(str(g["group"]), []),
                "metrics": {
                    col: {stat: number(g[f"{col}.{stat}"]) for stat in stats}
                    for _, col in self.metrics
                },
                "interval": {"kind": self.ci, "level": self.level},
            }
            for g in self.groups.to_dict("records")
        ]


def _group_metrics(
    df: pd.DataFrame, query: RunQuery, conditions: Sequence[Any]
) -> list[tuple[str, str]]:
    """(header, frame column) of the metrics summarised per group: the sorted metric, else
    those named in the conditions, then the most common metrics and evaluation metrics."""
    from trialbook.analysis._frames import metric_columns
    from trialbook.store import MetricCondition

    present = set(df.columns)
    order = query.sort
    if order.metric is not None:
        # min(...)/max(...) summarise each run's best value; otherwise its last one.
        col = f"{'metrics.' if order.agg == 'last' else 'best.'}{order.metric}"
        if col not in present:
            # In the workspace (else the name check said so), not in these runs.
            raise ConfigError(
                f"No run listed here logged the metric {order.metric!r} that sort=... names; "
                "see `trialbook ls` for the metrics, or sort by a run column.",
                parameter="sort",
                value=order.label,
            )
        return [(order.label, col)]
    columns: list[tuple[str, str]] = [
        (c.key, f"metrics.{c.key}")
        for c in conditions
        if isinstance(c, MetricCondition) and f"metrics.{c.key}" in present
    ]
    counts = df.count()
    common = sorted(
        (
            c
            for c in metric_columns(df)
            if c.startswith(("metrics.", "eval.")) and not c.startswith("metrics.system/")
        ),
        key=lambda c: (-int(counts[c]), not c.startswith("eval."), c),
    )
    for col in common:
        if len(columns) >= GROUP_METRICS:
            break
        if all(col != have for _, have in columns):
            columns.append((col.split(".", 1)[1], col))
    return columns


def list_groups(
    store: Store,
    query: RunQuery,
    scope: Scope | None = None,
    *,
    ci: str = "t",
    level: float = 0.95,
    metrics: Sequence[str] | None = None,
) -> GroupListing:
    """The seed groups of the runs matching ``query`` narrowed to ``scope``, in the order of
    the runs (best first by the group mean for a metric sort), at most ``query.limit``.

    A group counts one run per seed, the newest completed; ``note`` says what it left out.
    ``ci`` is ``"t"`` (Student-t) or ``"bootstrap"``; ``level`` the confidence level.
    ``metrics`` names the metrics to summarise (``loss``, ``metrics.loss``,
    ``gsm8k.accuracy``; see :func:`~trialbook.analysis.resolve_metric`); by default the sorted
    metric, else those of the conditions and the most common ones.

    Raises:
        ConfigError: a bad ``level``, a metric no listed run has, or a name that exists in no
            run (see :func:`list_runs`).
    """
    from trialbook.analysis._frames import load_runs
    from trialbook.analysis._groups import group_ref, left_out_note, seed_groups
    from trialbook.analysis._intervals import check_level
    from trialbook.config._plan import suite_of

    check_level(level)
    scope = scope or Scope()
    query = scope.query(query)
    whole = replace(query, limit=None)
    df = load_runs(store=store, query=whole)
    records = {r.id: r for r in store.list_runs(whole)} if len(df) else {}
    order = query.sort
    sort_seen = order.metric is not None and f"metrics.{order.metric}" in df.columns
    _check_filters(store, bool(records), sort_seen, query, scope)
    if metrics is not None and len(df):
        from trialbook.analysis._frames import resolve_metric

        # The sorted metric first: groups are ordered by the first summarised metric.
        chosen: list[tuple[str, str]] = (
            _group_metrics(df, query, ()) if query.sort.metric is not None else []
        )
        for name in dict.fromkeys(metrics):
            col = resolve_metric(df, name)
            if all(col != have for _, have in chosen):
                chosen.append((name, col))
    else:
        chosen = _group_metrics(df, query, scope.conditions) if len(df) else []
    groups = seed_groups(df, [col for _, col in chosen], ci=ci, level=level)  # type: ignore[arg-type]
    suites: dict[str, list[str]] = {}
    for r in records.values():
        for name in suite_of(r.tags):
            if name not in suites.setdefault(r.group_key, []):
                suites[r.group_key].append(name)
    if order.metric is not None and len(groups):
        # Best first by the group mean (the runs' order would rank by a single seed).
        groups = groups.sort_values(
            f"{chosen[0][1]}.mean",
            ascending=not query.descending,
            na_position="last",
            kind="stable",
        )
    if query.limit is not None:
        groups = groups.head(query.limit)
    shown = groups.to_dict("records")
    left = [records[rid] for g in shown for rid in g["left_out"] if rid in records]
    gone = {r.id for r in left}
    note = left_out_note(left, kept=[r for r in records.values() if r.id not in gone])
    refs = {str(g["group"]): group_ref(str(g["group"])) for g in shown}
    return GroupListing(groups, chosen, refs, suites, note, ci, level, records)
