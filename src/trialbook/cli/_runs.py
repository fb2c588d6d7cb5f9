"""``trialbook ls`` (find runs by experiment, status, tag, param and metric) and ``show``.

The ``--where`` and ``--sort`` texts are read by :meth:`trialbook.store.RunQuery.parse`; the
listing itself is :func:`trialbook.analysis.list_runs` / :func:`~trialbook.analysis.list_groups`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from enum import Enum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trialbook.cli._options import (
    JsonOption,
    RootOption,
    StoreOption,
    SuiteOption,
    WhereOption,
    int64,
    open_store,
    paste_command,
    workspace,
)
from trialbook.cli._output import (
    Cell,
    Column,
    Output,
    fmt_duration,
    fmt_number,
    fmt_time,
    print_json,
    status_cell,
)
from trialbook.cli._show import show
from trialbook.cli._ui import WatchOption, redraw
from trialbook.errors import ConfigError
from trialbook.reporting import fmt_mean_std

if TYPE_CHECKING:
    from trialbook.analysis import GroupListing, RunListing, Scope
    from trialbook.store import MetricAgg, MetricCondition, ParamCondition, RunQuery, Store

__all__ = ["ls", "show"]


class ListBy(str, Enum):
    run = "run"
    group = "group"


class IntervalKind(str, Enum):
    t = "t"
    bootstrap = "bootstrap"


#: Other metrics shown in the ls table besides the sorted one.
_EXTRA_METRICS = 3


def _split_list(values: Sequence[str] | None) -> tuple[str, ...]:
    """``--status a --status b,c`` as ``("a", "b", "c")``."""
    out: list[str] = []
    for value in values or ():
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return tuple(dict.fromkeys(out))


StatusOption = Annotated[
    list[str] | None,
    typer.Option(
        "--status",
        "-s",
        metavar="STATUS",
        help="Only runs in this status: queued, running, completed, failed, crashed or "
        "killed. Repeat it or separate with commas for several.",
    ),
]
NameOption = Annotated[
    str | None,
    typer.Option(
        "--name",
        metavar="NAME",
        help="Only runs with this name, or matching it as a pattern with * and ? "
        "('lead*', ignoring case); quote a pattern in the shell.",
    ),
]
SortOption = Annotated[
    str,
    typer.Option(
        "--sort",
        metavar="KEY",
        help="A run column (started_at, name, duration, status, experiment, seed) or a "
        "metric (loss, metrics.loss, min(loss), max(acc)). Runs without the metric come "
        "last.",
    ),
]
DescendingOption = Annotated[
    bool | None,
    typer.Option(
        "--desc/--asc",
        help="Sort direction. Default: newest first for started_at; best first for a "
        "metric (ascending for min(...) and loss/error-like names, descending for max(...) "
        "and other names); ascending for other columns.",
        show_default=False,
    ),
]
ByOption = Annotated[
    ListBy,
    typer.Option(
        "--by",
        metavar="run|group",
        help="run: one row per run. group: one row per seed group (completed runs of an "
        "experiment with the same config except the seed; --status for others) with n, the "
        "seeds, and mean ± std and a confidence interval of the sorted metric (else of the "
        "main metrics).",
    ),
]
CiOption = Annotated[
    IntervalKind,
    typer.Option(
        "--ci",
        metavar="t|bootstrap",
        help="With --by group: Student-t interval, or a percentile bootstrap (10,000 "
        "resamples, seed 0).",
    ),
]


def ls(
    ctx: typer.Context,
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", "-e", metavar="NAME", help="Only runs of this experiment."),
    ] = None,
    status: StatusOption = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", "-t", metavar="TAG", help="Only runs with this tag (repeatable)."),
    ] = None,
    name: NameOption = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", metavar="N", parser=int64(), help="Only runs with this seed."),
    ] = None,
    where: WhereOption = None,
    suite: SuiteOption = None,
    sort: SortOption = "started_at",
    descending: DescendingOption = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", "-n", metavar="N", parser=int64(min=1), help="Show at most N runs (groups)."
        ),
    ] = None,
    by: ByOption = ListBy.run,
    ci: CiOption = IntervalKind.t,
    level: Annotated[
        float,
        typer.Option("--level", metavar="P", help="With --by group: the confidence level."),
    ] = 0.95,
    as_json: JsonOption = False,
    watch: WatchOption = None,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """List runs, newest first, with their status and main metrics (or seed groups: --by group)."""
    from trialbook.analysis import Scope
    from trialbook.store import RunQuery

    scope = Scope.of(suite, where)
    statuses = _split_list(status)
    if by is ListBy.group and not statuses:
        # A seed group is its completed runs (as compare and significance read it): a failed
        # or retried seed must not count in n, the seeds or the means.
        statuses = ("completed",)
    query = RunQuery.parse(
        sort=sort,
        descending=descending,
        experiment=experiment,
        name=name,
        seed=seed,
        statuses=statuses,
        tags=_split_list(tag),
        limit=limit,
    )
    if by is ListBy.run and (ci is not IntervalKind.t or level != 0.95):
        raise ConfigError("--ci and --level describe seed-group intervals; add --by group.")
    if watch is not None and as_json:
        raise ConfigError("--watch redraws a table; leave out --json (or --watch).")
    with open_store(ctx, root, store) as db:  # a bad --store is reported here, once
        _pick_up_jobs(ctx, root, store)
        draw = partial(_draw, db, query, scope, by, ci, level, as_json)
        if watch is None:
            draw()
        else:
            redraw(draw, watch, paste_command(ctx))


def _pick_up_jobs(ctx: typer.Context, root: Path | None, store: str | None) -> None:
    """Record how the Slurm jobs of a ``trialbook run --detach`` ended (nothing to do, and
    nothing imported, when no unfinished run has a job)."""
    from trialbook.execution import pick_up_jobs

    try:
        pick_up_jobs(workspace(ctx, root, store))
    except ConfigError as e:  # submitit missing: list what the Store has, and say why
        typer.echo(f"note: {e}", err=True)


def _draw(
    db: Store,
    query: RunQuery,
    scope: Scope,
    by: ListBy,
    ci: IntervalKind,
    level: float,
    as_json: bool,
    out: Output | None = None,
) -> None:
    """List and render once (``out``: where ``ls --watch`` draws; else stdout)."""
    from trialbook.analysis import list_groups, list_runs

    if by is ListBy.group:
        _render_groups(list_groups(db, query, scope, ci=ci.value, level=level), as_json, out)
    elif as_json:
        print_json(list_runs(db, query, scope).documents())
    else:
        _render_runs(list_runs(db, query, scope), query, scope.conditions, out)


def _metric_columns(
    query: RunQuery,
    conditions: Sequence[ParamCondition | MetricCondition],
    summaries: Mapping[str, Mapping[str, Any]],
) -> list[tuple[str, str, MetricAgg]]:
    """(header, key, aggregate) of the metric columns: the sorted metric, then metrics named in
    --where, then the most common other metrics (system metrics left out)."""
    from trialbook.store import MetricCondition

    sort = query.sort
    columns: list[tuple[str, str, MetricAgg]] = []
    if sort.metric is not None:
        columns.append((sort.label, sort.metric, sort.agg))
    seen = {key for _, key, _ in columns}
    wanted = [c.key for c in conditions if isinstance(c, MetricCondition)]
    counts = Counter(key for per_run in summaries.values() for key in per_run)
    common = sorted(
        (k for k in counts if not k.startswith("system/")), key=lambda k: (-counts[k], k)
    )
    for key in [*wanted, *common]:
        if len(columns) >= _EXTRA_METRICS + (sort.metric is not None):
            break
        if key not in seen:
            seen.add(key)
            columns.append((key, key, "last"))
    return columns


def _render_runs(
    runs: RunListing,
    query: RunQuery,
    conditions: Sequence[ParamCondition | MetricCondition],
    out: Output | None = None,
) -> None:
    if not runs.records:
        _none_match(out)
        return
    metric_cols = _metric_columns(query, conditions, runs.summaries)
    columns = [
        Column("id"),
        Column("experiment", overflow="ellipsis", min_width=8),
        Column("name", overflow="ellipsis", min_width=8),
        Column("status"),
        Column("seed", "right"),
        Column("started"),
        Column("duration", "right"),
        *(Column(header, "right") for header, _, _ in metric_cols),
    ]
    rows: list[list[Cell]] = []
    for r in runs.records:
        per_run = runs.summaries.get(r.id, {})
        row: list[Cell] = [
            r.short_id,
            r.experiment,
            r.name,
            status_cell(r.status),
            "-" if r.seed is None else str(r.seed),
            fmt_time(r.started_at),
            fmt_duration(r.duration, r.started_at if r.status == "running" else None),
        ]
        for _, key, agg in metric_cols:
            s = per_run.get(key)
            row.append(fmt_number(None if s is None else s.get(agg)))
        rows.append(row)
    # On a narrow terminal the extra metrics give way first, the sorted one last.
    (out or Output()).table(columns, rows, optional=len(metric_cols))


def _none_match(out: Output | None) -> None:
    if out is None:
        typer.echo("No runs match.", err=True)
    else:
        out.line("No runs match.")


def _render_groups(listing: GroupListing, as_json: bool, out: Output | None = None) -> None:
    """``ls --by group``: one row per seed group, and the note of what one-run-per-seed left
    out on stderr (in the drawing, with ``out``)."""
    if as_json:
        print_json(listing.documents())
        return
    if listing.groups.empty:
        _none_match(out)
        return
    columns = [
        Column("group"),
        Column("experiment", overflow="ellipsis", min_width=8),
        Column("name", overflow="ellipsis", min_width=8),
        Column("n", "right"),
        Column("seeds", overflow="ellipsis", min_width=5),
    ]
    shown = listing.groups.to_dict("records")
    any_left = any(g["left_out"] for g in shown)
    if any_left:
        columns.append(Column("left out", "right"))
    for header, _ in listing.metrics:
        columns += [
            Column(f"{header} mean ± std", "right"),
            Column(f"{listing.level * 100:g}% CI", "right"),
        ]
    rows: list[list[Cell]] = []
    for g in shown:
        row: list[Cell] = [
            listing.refs[str(g["group"])],
            g["experiment"],
            g["name"],
            str(g["n"]),
            ",".join(str(s) for s in g["seeds"]) or "-",
        ]
        if any_left:
            row.append(str(len(g["left_out"])))
        for _, col in listing.metrics:
            mean, std = g[f"{col}.mean"], g[f"{col}.std"]
            low, high = g[f"{col}.ci_low"], g[f"{col}.ci_high"]
            if math.isnan(mean):
                row += ["-", "-"]
            else:
                # One seed has no interval: say why instead of a blank.
                interval = (
                    f"n={g['n']}" if math.isnan(low) else f"[{fmt_number(low)}, {fmt_number(high)}]"
                )
                row += [fmt_mean_std(mean, std), interval]
        rows.append(row)
    (out or Output()).table(columns, rows, optional=2 * len(listing.metrics))
    if listing.note is not None and out is not None:
        out.line(f"note: {listing.note}")
    elif listing.note is not None:
        typer.echo(f"note: {listing.note}", err=True)
