"""The runs table's API: runs (paged, filtered, sorted in the database), facets, columns,
seed groups, leaderboards, live changes, and the two writes (tags, notes).

Every list is bounded: ``limit`` <= 500, key lists <= 200 with a ``q`` search and a ``total``.
Only the page's runs and the chosen columns are read, so a workspace of 10,000 runs, or a run
with 10,000 metric keys, costs a page, not the workspace.

**The live cursor** (``cursor`` of ``/api/runs``, ``/api/changes``) is an opaque text (URL-safe
base64 of JSON) holding: ``t``, the latest change time seen (a run's change time is the latest
of its ``started_at``, ``heartbeat_at`` and ``ended_at``; see
:func:`trialbook.store.change_time`), and ``w``, the ids of the runs that were running
(at most 200). ``/api/changes`` returns the runs whose change time is after ``t`` (oldest
first, at most 500; the next cursor continues from the last one returned) and those of ``w``
that are no longer running (a run marked crashed gets its last heartbeat as its end, which can
be older than ``t``). A cursor is taken before the runs it goes with are read, so no change
falls between. Limits: a writer whose clock runs behind the server's is seen late, by that
skew; tag and note edits are not changes; a queued run appears once it starts.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query
from pydantic import BaseModel, Field

from trialbook.dashboard._state import DashboardState, State
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.store import RunQuery, RunRecord, Store

__all__ = ["router"]

router = APIRouter(tags=["runs"])

#: Most rows of one page.
MAX_LIMIT = 500
#: The largest ``offset`` (SQLite integers are 64-bit; no workspace holds this many runs).
MAX_OFFSET = 1_000_000_000
#: Most keys of one key list (columns, values asked for).
MAX_KEYS = 200
#: Columns the server picks when none are asked for: params that vary, metrics present.
AUTO_PARAMS = 8
AUTO_METRICS = 8
#: Running runs a cursor watches; runs changed per /api/changes answer.
WATCHED = 200
CHANGES = 500

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page (at most 500).")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip before the page.")]
Where = Annotated[
    list[str],
    Query(description="Conditions in the `trialbook ls --where` grammar, e.g. params.lr<0.1."),
]


# --------------------------------------------------------------------------- models
class RunSummary(BaseModel):
    """One run's row without its values: identity, status and times (epoch seconds)."""

    id: str
    short_id: str
    name: str
    experiment: str
    status: str
    seed: int | None
    group_key: str
    tags: list[str]
    started_at: float | None
    ended_at: float | None
    duration: float | None
    heartbeat_at: float | None
    error: str | None


class RunRow(RunSummary):
    """A run's row with the asked columns' values (``params.<key>``, ``metrics.<key>`` as the
    last value, ``eval.<benchmark>.<metric>``); NaN and infinities are null."""

    values: dict[str, Any]


class RunsPage(BaseModel):
    """A page of runs, the total matching, the columns shown and the live cursor."""

    total: int
    offset: int
    limit: int
    sort: str
    desc: bool
    columns: list[str]
    runs: list[RunRow]
    cursor: str


class ExperimentFacet(BaseModel):
    name: str
    runs: int


class Facets(BaseModel):
    """What the pickers offer: experiments with their run counts, suites, statuses, tags."""

    experiments: list[ExperimentFacet]
    suites: list[str]
    statuses: dict[str, int]
    tags: list[str]


class Columns(BaseModel):
    """Column names (``params.<key>``, ``metrics.<key>``, ``eval.<benchmark>.<metric>``),
    most common first, at most ``limit`` of each kind, and how many params and metrics there
    are in all."""

    params: list[str]
    metrics: list[str]
    evals: list[str]
    total_params: int
    total_metrics: int
    total_evals: int


class Stat(BaseModel):
    """A metric over a group's seeds: mean, std and a 95% interval (null when undefined),
    and ``n``, the group's runs that have a value of it."""

    mean: float | None
    std: float | None
    ci_low: float | None
    ci_high: float | None
    n: int


class Group(BaseModel):
    """A seed group: runs that differ only in their seed (one run per seed counted)."""

    group_key: str
    ref: str
    experiment: str
    name: str
    n: int
    run_ids: list[str]
    seeds: list[int]
    left_out: list[str]
    params: dict[str, Any]
    metrics: dict[str, Stat]


class Groups(BaseModel):
    total: int
    offset: int
    limit: int
    metrics: list[str]
    note: str | None
    groups: list[Group]


class LeaderboardRow(BaseModel):
    """One row of ``trialbook leaderboard``: rank (null for untestable rows), the entry,
    its value with a 95% interval, and whether it is tied with the leader."""

    rank: int | None
    entry: str
    kind: str
    id: str
    experiment: str | None
    value: float | None
    n: int | None
    std: float | None
    ci_low: float | None
    ci_high: float | None
    test: str | None
    p_value: float | None
    p_adjusted: float | None
    tied_with_leader: bool | None
    status: str
    note: str | None


class Leaderboard(BaseModel):
    """A leaderboard (``rows`` empty with a ``note`` when there is nothing to rank yet), and
    the benchmarks and metrics one may choose."""

    benchmark: str | None
    metric: str | None
    goal: str | None
    by: str
    rows: list[LeaderboardRow]
    benchmarks: list[str]
    metrics: list[str]
    note: str | None


class Changes(BaseModel):
    """Runs that changed since the cursor, and the cursor to ask with next."""

    cursor: str
    runs: list[RunSummary]


class TagChange(BaseModel):
    add: list[str] = Field(default_factory=list, max_length=MAX_KEYS)
    remove: list[str] = Field(default_factory=list, max_length=MAX_KEYS)


class NotesChange(BaseModel):
    notes: str = Field(max_length=100_000)


class Written(BaseModel):
    """A run's tags and notes after a write."""

    id: str
    tags: list[str]
    notes: str | None


# --------------------------------------------------------------------------- helpers
def _number(value: Any) -> Any:
    """NaN and infinities as None; numpy scalars as Python numbers; containers copied."""
    if hasattr(value, "item") and hasattr(value, "dtype"):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _number(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_number(v) for v in value]
    return value


def _summary(r: RunRecord) -> RunSummary:
    return RunSummary(
        id=r.id,
        short_id=r.short_id,
        name=r.name,
        experiment=r.experiment,
        status=r.status,
        seed=r.seed,
        group_key=r.group_key,
        tags=list(r.tags),
        started_at=r.started_at,
        ended_at=r.ended_at,
        duration=_number(r.duration),
        heartbeat_at=r.heartbeat_at,
        error=r.error,
    )


def _encode_cursor(since: float, watch: Sequence[str]) -> str:
    text = json.dumps({"v": 1, "t": since, "w": list(watch)[:WATCHED]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, list[str]]:
    bad = ConfigError(
        f"cursor={cursor[:40]!r} is not a cursor this dashboard made; ask /api/changes "
        "without a cursor (or reload /api/runs) for a new one.",
        parameter="cursor",
        value=cursor[:80],
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise bad from None
    if not isinstance(data, dict) or data.get("v") != 1:
        raise bad
    since, watch = data.get("t"), data.get("w")
    if not isinstance(since, int | float) or isinstance(since, bool) or not math.isfinite(since):
        raise bad
    if not isinstance(watch, list) or not all(isinstance(w, str) for w in watch):
        raise bad
    return float(since), watch[:WATCHED]


def _current_cursor(store: Store) -> str:
    """The cursor of now: taken before the rows it goes with are read."""
    running = store.list_runs(statuses=("running",), limit=WATCHED)
    # 0.0 (1970) when there are no runs yet: every run that appears later is newer.
    return _encode_cursor(store.last_change() or 0.0, [r.id for r in running])


def _check_keys(name: str, keys: Sequence[str]) -> None:
    if len(keys) > MAX_KEYS:
        raise ConfigError(
            f"{name}= names {len(keys)} columns; ask for at most {MAX_KEYS}.",
            parameter=name,
            value=len(keys),
        )


def _check_column(column: str) -> None:
    if not column.startswith(("params.", "metrics.", "eval.")) or column.endswith("."):
        raise ConfigError(
            f"columns={column[:80]!r} is not a column; name one as params.<key>, "
            "metrics.<key> or eval.<benchmark>.<metric> (see /api/columns).",
            parameter="columns",
            value=column[:80],
        )


def _query(
    *,
    where: Sequence[str],
    sort: str | None,
    desc: bool | None,
    experiment: str | None,
    suite: str | None,
    status: Sequence[str],
    tag: Sequence[str],
    q: str | None,
    **fields: Any,
) -> tuple[RunQuery, Any]:
    """The library's query (and scope) for the table's filters."""
    from trialbook.analysis import Scope
    from trialbook.store import RunQuery

    scope = Scope.of(suite, list(where))
    search = (q or "").strip()
    base = RunQuery.parse(
        sort=sort,
        descending=desc,
        experiment=experiment or None,
        statuses=tuple(status),
        tags=tuple(tag),
        name=f"*{search}*" if search else None,
        **fields,
    )
    return scope.query(base), scope


def _check_names(store: Store, query: RunQuery, scope: Any, sort_seen: bool) -> None:
    """A name that exists in no run (experiment, suite, where key, sorted metric) is a 422
    with a did-you-mean, not an empty table."""
    from trialbook.analysis import check_names
    from trialbook.store import SORT_COLUMNS

    metric = query.sort.metric
    metrics = [(metric, "sort=...")] if metric is not None and not sort_seen else []
    check_names(
        store,
        experiment=query.experiment,
        scope=scope,
        metrics=metrics,
        also=SORT_COLUMNS if metrics else (),
    )


def _auto_columns(store: Store, query: RunQuery, scope: Any, ids: list[str]) -> list[str]:
    """Params that vary among the page's runs and the metrics most of them have (the sorted
    metric and those of the conditions first), each capped; read in the database."""
    from trialbook.store import MetricCondition

    params = store.column_keys("params", run_ids=ids, varying=True, limit=AUTO_PARAMS)
    metrics: list[str] = []
    if query.sort.metric is not None:
        metrics.append(query.sort.metric)
    metrics += [c.key for c in scope.conditions if isinstance(c, MetricCondition)]
    common = store.column_keys("metrics", run_ids=ids, limit=AUTO_METRICS * 8)
    metrics += [k for k in common.keys if not k.startswith("system/")]
    chosen = list(dict.fromkeys(metrics))[:AUTO_METRICS]
    return [*(f"params.{k}" for k in params.keys), *(f"metrics.{k}" for k in chosen)]


def _values(
    store: Store, records: Sequence[RunRecord], columns: Sequence[str], also: str | None
) -> tuple[list[dict[str, Any]], bool]:
    """``{column: value}`` per run for the asked columns only, and whether any run has the
    metric ``also`` (the sorted one), read in the same query as the metric columns."""
    from trialbook.store import flat_values, latest_by_benchmark

    ids = [r.id for r in records]
    params_wanted = any(c.startswith("params.") for c in columns)
    metric_keys = [c[len("metrics.") :] for c in columns if c.startswith("metrics.")]
    read_keys = list(dict.fromkeys([*metric_keys, *([also] if also is not None else [])]))
    evals_wanted = any(c.startswith("eval.") for c in columns)
    params = store.bulk_params(ids) if params_wanted and ids else {}
    sums = store.metric_summaries(ids, read_keys) if read_keys and ids else {}
    evals = store.bulk_evaluations(ids) if evals_wanted and ids else {}
    seen = also is not None and any(also in per for per in sums.values())
    rows = []
    for rid in ids:
        latest = sorted(latest_by_benchmark(evals.get(rid, [])).values(), key=lambda e: e.id)
        flat = flat_values(params.get(rid, {}), sums.get(rid, {}), latest)
        rows.append({c: _number(flat[c]) for c in columns if c in flat})
    return rows, seen


def _metric_counts(store: Store, run_ids: Sequence[str], columns: Sequence[str]) -> Any:
    """``present(column, ids, fallback)``: how many of ``ids`` have a value of a logged
    metric column (``metrics.<key>``, ``best.<key>``), read in one query; other columns
    (evaluations) give ``fallback``."""
    keys = {c: c.split(".", 1)[1] for c in columns if c.startswith(("metrics.", "best."))}
    sums = store.metric_summaries(list(run_ids), list(set(keys.values()))) if keys else {}

    def present(column: str, ids: Sequence[str], fallback: int) -> int:
        key = keys.get(column)
        if key is None:
            return fallback
        found = [sums.get(i, {}).get(key) for i in ids]
        if column.startswith("best."):
            return sum(1 for v in found if v is not None and (v.min, v.max) != (None, None))
        return sum(1 for v in found if v is not None and math.isfinite(v.last))

    return present


def _sort_text(query: RunQuery) -> str:
    sort = query.sort
    return sort.label if sort.metric is not None else query.order_by


# --------------------------------------------------------------------------- routes
@router.get("/runs", response_model=RunsPage, summary="A page of runs")
def runs(
    state: State,
    where: Where = [],  # noqa: B006 -- FastAPI copies query defaults
    sort: Annotated[
        str, Query(description="A run column or a metric: started_at, name, loss, min(loss).")
    ] = "started_at",
    desc: Annotated[
        bool | None, Query(description="Descending; default newest/best first.")
    ] = None,
    experiment: str | None = None,
    suite: str | None = None,
    status: Annotated[list[str], Query()] = [],  # noqa: B006
    tag: Annotated[list[str], Query()] = [],  # noqa: B006
    q: Annotated[
        str | None,
        Query(max_length=200, description="Name contains (ignoring case; * and ? are wildcards)."),
    ] = None,
    offset: Offset = 0,
    limit: Limit = 100,
    columns: Annotated[list[str], Query(description="params.<k>, metrics.<k>, eval.<b>.<m>")] = [],  # noqa: B006
) -> RunsPage:
    """Runs matching the filters (the `trialbook ls` grammar), sorted in the database, one
    page of them, with the asked columns (or, when none are asked, the params that vary
    among the page's runs and the metrics present, each at most 8)."""
    store = state.store
    _check_keys("columns", columns)
    for column in columns:
        _check_column(column)
    query, scope = _query(
        where=where,
        sort=sort,
        desc=desc,
        experiment=experiment,
        suite=suite,
        status=status,
        tag=tag,
        q=q,
        limit=limit,
        offset=offset,
    )
    cursor = _current_cursor(store)
    total = store.count_runs(query)
    records = store.list_runs(query) if total else []
    ids = [r.id for r in records]
    metric = query.sort.metric
    shown = list(dict.fromkeys(columns)) or _auto_columns(store, query, scope, ids)
    values, sort_seen = _values(store, records, shown, metric)
    if not total or (metric is not None and not sort_seen):
        _check_names(store, query, scope, sort_seen)
    return RunsPage(
        total=total,
        offset=offset,
        limit=limit,
        sort=_sort_text(query),
        desc=query.descending,
        columns=shown,
        runs=[
            RunRow(**_summary(r).model_dump(), values=v)
            for r, v in zip(records, values, strict=True)
        ],
        cursor=cursor,
    )


@router.get("/facets", response_model=Facets, summary="What the pickers offer")
def facets(state: State) -> Facets:
    """Experiments with their run counts, suites, run counts by status, and tags."""
    from trialbook.config import suite_of

    store = state.store
    experiments = store.run_counts("experiment")
    tags = list(store.run_counts("tag"))
    return Facets(
        experiments=[ExperimentFacet(name=n, runs=c) for n, c in experiments.items()],
        suites=sorted(set(suite_of(tags))),
        statuses=store.run_counts("status"),
        tags=tags,
    )


@router.get("/columns", response_model=Columns, summary="Columns one may show")
def columns(
    state: State,
    experiment: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Key contains.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_KEYS)] = MAX_KEYS,
) -> Columns:
    """Param, metric and evaluation columns of an experiment (or of every run), most common
    first, searchable with ``q``, at most ``limit`` of each kind, with the totals."""
    from trialbook.analysis import check_names

    store = state.store
    experiment = experiment or None
    check_names(store, experiment=experiment)
    search = (q or "").strip() or None
    params = store.column_keys("params", experiment=experiment, search=search, limit=limit)
    metrics = store.column_keys("metrics", experiment=experiment, search=search, limit=limit)
    evals = [
        f"eval.{b}.{m}"
        for b, ms in store.evaluation_metrics(experiment).items()
        for m in ms
        if search is None or search.lower() in f"{b}.{m}".lower()
    ]
    return Columns(
        params=[f"params.{k}" for k in params.keys],
        metrics=[f"metrics.{k}" for k in metrics.keys],
        evals=evals[:limit],
        total_params=params.total,
        total_metrics=metrics.total,
        total_evals=len(evals),
    )


@router.get("/groups", response_model=Groups, summary="Seed groups")
def groups(
    state: State,
    where: Where = [],  # noqa: B006
    sort: str | None = None,
    desc: bool | None = None,
    experiment: str | None = None,
    suite: str | None = None,
    status: Annotated[list[str], Query(description="Statuses counted; default completed.")] = [],  # noqa: B006
    tag: Annotated[list[str], Query()] = [],  # noqa: B006
    q: Annotated[str | None, Query(max_length=200)] = None,
    metric: Annotated[
        list[str], Query(description="Metrics to summarise (loss, metrics.loss, gsm8k.accuracy).")
    ] = [],  # noqa: B006
    offset: Offset = 0,
    limit: Limit = 100,
) -> Groups:
    """Seed groups of the matching runs (one run per seed, the newest completed) with n,
    mean, std and a 95% t-interval per metric, from the library's ``list_groups``."""
    from trialbook.analysis import list_groups

    store = state.store
    _check_keys("metric", metric)
    query, scope = _query(
        where=where,
        sort=sort,
        desc=desc,
        experiment=experiment,
        suite=suite,
        status=status or ("completed",),
        tag=tag,
        q=q,
    )
    listing = list_groups(store, query, scope, metrics=metric or None)
    rows = listing.groups.to_dict("records")
    total = len(rows)
    page = rows[offset : offset + limit]
    members: dict[tuple[str, str], list[str]] = {}
    for r in listing.records.values():
        members.setdefault((r.experiment, r.group_key), []).append(r.id)
    counted: list[list[str]] = []
    for g in page:
        left = {str(i) for i in g["left_out"]}
        key = (str(g["experiment"]), str(g["group"]))
        counted.append([i for i in members.get(key, []) if i not in left])
    every = [i for ids in counted for i in ids]
    params = store.bulk_params([ids[0] for ids in counted if ids]) if every else {}
    present = _metric_counts(store, every, [col for _, col in listing.metrics])
    out = [
        Group(
            group_key=str(g["group"]),
            ref=listing.refs[str(g["group"])],
            experiment=str(g["experiment"]),
            name=str(g["name"]),
            n=int(g["n"]),
            run_ids=ids,
            seeds=[int(s) for s in g["seeds"]],
            left_out=[str(i) for i in g["left_out"]],
            params=_number(params.get(ids[0], {})) if ids else {},
            metrics={
                col: Stat(
                    **{
                        s: _number(float(g[f"{col}.{s}"]))
                        for s in ("mean", "std", "ci_low", "ci_high")
                    },
                    n=present(col, ids, int(g["n"])),
                )
                for _, col in listing.metrics
            },
        )
        for g, ids in zip(page, counted, strict=True)
    ]
    return Groups(
        total=total,
        offset=offset,
        limit=limit,
        metrics=[col for _, col in listing.metrics],
        note=listing.note,
        groups=out,
    )


@router.get("/leaderboard", response_model=Leaderboard, summary="A leaderboard")
def leaderboard(
    state: State,
    benchmark: str | None = None,
    metric: str | None = None,
    by: Literal["run", "group"] = "run",
    experiment: str | None = None,
    suite: str | None = None,
    where: Where = [],  # noqa: B006
    top: Annotated[int | None, Query(ge=1, le=MAX_LIMIT)] = None,
) -> Leaderboard:
    """Completed runs or seed groups ranked by a benchmark's metric (or a logged metric), with
    intervals and ties, as ``trialbook leaderboard``. Without a benchmark or metric and with
    other than one benchmark, ``rows`` is empty and ``note`` says to choose."""
    from trialbook.analysis import leaderboard as rank
    from trialbook.analysis import leaderboard_rows

    store = state.store
    benches = store.evaluation_metrics(experiment or None)
    if benchmark is None and metric is None and len(benches) != 1:
        note = (
            "Choose a benchmark (or a logged metric) to rank by."
            if benches
            else "No run has an evaluation yet; choose a logged metric to rank by."
        )
        return Leaderboard(
            benchmark=None,
            metric=None,
            goal=None,
            by=by,
            rows=[],
            benchmarks=list(benches),
            metrics=[],
            note=note,
        )
    frame = rank(
        benchmark=benchmark or None,
        metric=metric or None,
        by=by,
        experiment=experiment or None,
        suite=suite or None,
        where=list(where),
        top=top,
        store=store,
    )
    rows = []
    for r in leaderboard_rows(frame):
        r = {k: _number(v) for k, v in r.items()}
        rows.append(
            LeaderboardRow(
                rank=None if r.get("rank") is None else int(r["rank"]),
                entry=str(r["entry"]),
                kind=str(r["kind"]),
                id=str(r["id"]),
                experiment=r.get("experiment"),
                value=r.get("value"),
                n=None if r.get("n") is None else int(r["n"]),
                std=r.get("std"),
                ci_low=r.get("ci_low"),
                ci_high=r.get("ci_high"),
                test=r.get("test"),
                p_value=r.get("p_value"),
                p_adjusted=r.get("p_adjusted"),
                tied_with_leader=r.get("tied"),
                status=str(r["status"]),
                note=r.get("note"),
            )
        )
    chosen = frame.attrs.get("benchmark")
    return Leaderboard(
        benchmark=chosen,
        metric=frame.attrs.get("metric"),
        goal=frame.attrs.get("goal"),
        by=by,
        rows=rows,
        benchmarks=list(benches),
        metrics=benches.get(chosen, []) if chosen else [],
        note=frame.attrs.get("note"),
    )


@router.get("/changes", response_model=Changes, summary="Runs changed since a cursor")
def changes(
    state: State,
    cursor: Annotated[
        str | None, Query(max_length=16_000, description="From /api/runs or /api/changes.")
    ] = None,
) -> Changes:
    """Runs whose status, heartbeat or end changed since ``cursor`` (see the module
    docstring for what a cursor holds); without one, no runs and the cursor of now."""
    store = state.store
    if not cursor:
        return Changes(cursor=_current_cursor(store), runs=[])
    from trialbook.store import change_time

    since, watch = _decode_cursor(cursor)
    running = [r.id for r in store.list_runs(statuses=("running",), limit=WATCHED)]
    changed = store.changed_runs(since, watch=watch, limit=CHANGES)
    newer = [t for r in changed if (t := change_time(r)) is not None and t > since]
    # changed_runs lists the runs changed after `since` first, oldest first, at most CHANGES:
    # when it was cut there, the next cursor continues from the last one listed.
    if len(newer) >= CHANGES:
        newer = newer[:CHANGES]
    new_since = max([since, *newer])
    ended = {r.id for r in changed if r.status != "running"}
    watched = [*running, *(r.id for r in changed if r.status == "running")]
    return Changes(
        cursor=_encode_cursor(new_since, [i for i in dict.fromkeys(watched) if i not in ended]),
        runs=[_summary(r) for r in changed],
    )


class Session(BaseModel):
    """What this dashboard allows, for the pages to show only what works."""

    writable: bool = Field(
        description="Tags and notes can be changed: started with --writable, on a workspace "
        "this process may write."
    )
    version: str = Field(description="The trialbook version serving the dashboard.")


@router.get("/session", response_model=Session, summary="What this dashboard allows")
def session(state: State) -> Session:
    """Whether writes are allowed here, and the version."""
    from trialbook import __version__

    read_only = getattr(state.store, "read_only", None)
    return Session(writable=state.settings.writable and read_only is None, version=__version__)


def _writable(state: DashboardState) -> None:
    """Writes on a read-only dashboard are 405 (the security middleware says so first)."""
    if not state.settings.writable:
        raise HTTPException(405, "This dashboard is read-only; start it with --writable.")


@router.post("/runs/{ref}/tags", response_model=Written, summary="Add and remove tags")
def change_tags(ref: str, state: State, change: Annotated[TagChange, Body()]) -> Written:
    """Add and remove tags of a run (only on a dashboard started writable; the request must
    carry the CSRF token and come from the dashboard's own origin)."""
    _writable(state)
    store = state.store
    run = store.get_run(ref)
    tags = store.change_tags(run.id, add=change.add, remove=change.remove)
    return Written(id=run.id, tags=list(tags), notes=run.notes)


@router.post("/runs/{ref}/notes", response_model=Written, summary="Replace a run's notes")
def change_notes(ref: str, state: State, change: Annotated[NotesChange, Body()]) -> Written:
    """Replace a run's notes (writable dashboards only; CSRF and origin checked)."""
    _writable(state)
    store = state.store
    run = store.get_run(ref)
    store.update_run(run.id, notes=change.notes or None)
    return Written(id=run.id, tags=list(run.tags), notes=change.notes or None)
