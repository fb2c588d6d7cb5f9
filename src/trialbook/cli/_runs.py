"""``trialbook ls`` (find runs by experiment, status, tag, param and metric) and ``show`` (one run).

The ``--where`` and ``--sort`` mini-languages are parsed here into the Store's
:class:`~trialbook.store.RunQuery`; the Store does the filtering and ordering.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trialbook._types import MetricAgg
from trialbook.analysis._scope import WHERE_GRAMMAR, Scope, check_names, parse_condition
from trialbook.cli._export import RunDetails, load_details, run_document, run_fields
from trialbook.cli._options import (
    JsonOption,
    RootOption,
    StoreOption,
    SuiteOption,
    WhereOption,
    int64,
    open_store,
)
from trialbook.cli._output import (
    STATUS_STYLES,
    Cell,
    Column,
    Output,
    Styled,
    fmt_bytes,
    fmt_duration,
    fmt_number,
    fmt_time,
    print_json,
)
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.store import (
        MetricCondition,
        MetricSummary,
        ParamCondition,
        RunQuery,
        RunRecord,
    )

__all__ = ["WHERE_GRAMMAR", "Sort", "ls", "parse_condition", "parse_sort", "show"]

_AGG_KEY = re.compile(r"\s*(?P<agg>min|max|last)\(\s*(?P<key>[^()\s]+)\s*\)\s*")

#: ``--sort`` names that are run columns; anything else is a metric.
RUN_SORT_COLUMNS: Mapping[str, str] = {
    "started_at": "started_at",
    "started": "started_at",
    "ended_at": "ended_at",
    "ended": "ended_at",
    "name": "name",
    "duration": "duration",
    "status": "status",
    "experiment": "experiment",
    "seed": "seed",
    "id": "id",
}
_NEWEST_FIRST = frozenset({"started_at", "ended_at"})


class ListBy(str, Enum):
    run = "run"
    group = "group"


class IntervalKind(str, Enum):
    t = "t"
    bootstrap = "bootstrap"


#: Other metrics shown in the ls table besides the sorted one.
_EXTRA_METRICS = 3


# --------------------------------------------------------------------------- --sort
@dataclass(frozen=True)
class Sort:
    """What ``--sort`` names: a run column, or an aggregate of a metric."""

    order_by: str
    agg: MetricAgg = "last"
    metric: str | None = None

    @property
    def label(self) -> str:
        """The table header of a metric sort: ``loss`` or ``min(loss)``."""
        assert self.metric is not None
        return self.metric if self.agg == "last" else f"{self.agg}({self.metric})"

    def default_descending(self) -> bool:
        """Newest first for times; best first for metrics; ascending otherwise."""
        if self.metric is None:
            return self.order_by in _NEWEST_FIRST
        if self.agg != "last":
            return self.agg == "max"
        from trialbook._metrics import metric_goal

        return metric_goal(self.metric) == "max"


def parse_sort(text: str) -> Sort:
    """``started_at``/``name``/... (a column), or ``loss``, ``metrics.loss``, ``min(loss)``."""
    m = _AGG_KEY.fullmatch(text)
    agg: MetricAgg = "last"
    if m is not None:
        agg = m["agg"]  # type: ignore[assignment]
        key = m["key"]
    else:
        key = text.strip()
        if key in RUN_SORT_COLUMNS:
            return Sort(RUN_SORT_COLUMNS[key])
    if key.startswith("metrics."):
        key = key[len("metrics.") :]
    if not key or any(c in key for c in "()<>=! "):
        columns = ", ".join(sorted(set(RUN_SORT_COLUMNS.values())))
        raise ConfigError(
            f"Cannot sort by {text!r}; use a run column ({columns}) or a metric such as loss, "
            "metrics.loss or min(loss)."
        )
    return Sort(f"metrics.{key}", agg, key)


def _split_list(values: Sequence[str] | None) -> tuple[str, ...]:
    """``--status a --status b,c`` as ``("a", "b", "c")``."""
    out: list[str] = []
    for value in values or ():
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return tuple(dict.fromkeys(out))


def _metric_columns(
    sort: Sort,
    conditions: Sequence[ParamCondition | MetricCondition],
    summaries: Mapping[str, Mapping[str, MetricSummary]],
) -> list[tuple[str, str, MetricAgg]]:
    """(header, key, aggregate) of the metric columns: the sorted metric, then metrics named in
    --where, then the most common other metrics (system metrics left out)."""
    from trialbook.store import MetricCondition

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


def _check_filters(
    db: Any, matched: bool, sort_seen: bool, query: RunQuery, order: Sort, scope: Scope
) -> None:
    """A typo in a filter is an error with a did-you-mean, not "No runs match.": when nothing
    matched, or no listed run has the sorted metric, check that every name exists somewhere."""
    if matched and (sort_seen or order.metric is None):
        return
    metrics = [(order.metric, "--sort")] if order.metric is not None and not sort_seen else []
    check_names(
        db,
        experiment=None if matched else query.experiment,
        scope=Scope() if matched else scope,
        metrics=metrics,
        also=RUN_SORT_COLUMNS if metrics else (),
    )


def _status_cell(status: str) -> Styled:
    return Styled(status, STATUS_STYLES.get(status))


# --------------------------------------------------------------------------- ls
def ls(
    ctx: typer.Context,
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", "-e", metavar="NAME", help="Only runs of this experiment."),
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            "-s",
            metavar="STATUS",
            help="Only runs in this status: queued, running, completed, failed, crashed or "
            "killed. Repeat it or separate with commas for several.",
        ),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", "-t", metavar="TAG", help="Only runs with this tag (repeatable)."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="NAME",
            help="Only runs with this name, or matching it as a pattern with * and ? "
            "('lead*', ignoring case); quote a pattern in the shell.",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", metavar="N", parser=int64(), help="Only runs with this seed."),
    ] = None,
    where: WhereOption = None,
    suite: SuiteOption = None,
    sort: Annotated[
        str,
        typer.Option(
            "--sort",
            metavar="KEY",
            help="A run column (started_at, name, duration, status, experiment, seed) or a "
            "metric (loss, metrics.loss, min(loss), max(acc)). Runs without the metric come "
            "last.",
        ),
    ] = "started_at",
    descending: Annotated[
        bool | None,
        typer.Option(
            "--desc/--asc",
            help="Sort direction. Default: newest first for started_at; best first for a "
            "metric (ascending for min(...) and loss/error-like names, descending for max(...) "
            "and other names); ascending for other columns.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            metavar="N",
            parser=int64(min=1),
            help="Show at most N runs (groups).",
        ),
    ] = None,
    by: Annotated[
        ListBy,
        typer.Option(
            "--by",
            metavar="run|group",
            help="run: one row per run. group: one row per seed group (completed runs of an "
            "experiment with the same config except the seed; --status for others) with n, the "
            "seeds, and mean ± std and a confidence interval of the sorted metric (else of the "
            "main metrics).",
        ),
    ] = ListBy.run,
    ci: Annotated[
        IntervalKind,
        typer.Option(
            "--ci",
            metavar="t|bootstrap",
            help="With --by group: Student-t interval, or a percentile bootstrap (10,000 "
            "resamples, seed 0).",
        ),
    ] = IntervalKind.t,
    level: Annotated[
        float,
        typer.Option("--level", metavar="P", help="With --by group: the confidence level."),
    ] = 0.95,
    as_json: JsonOption = False,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """List runs, newest first, with their status and main metrics (or seed groups: --by group)."""

    scope = Scope.of(suite, where)
    conditions = list(scope.conditions)
    order = parse_sort(sort)

    statuses = _split_list(status)
    if by is ListBy.group and not statuses:
        # A seed group is its completed runs (as compare and significance read it): a failed
        # or retried seed must not count in n, the seeds or the means.
        statuses = ("completed",)
    query = scope.query(
        experiment=experiment,
        name=name,
        seed=seed,
        statuses=statuses,
        tags=_split_list(tag),
        order_by=order.order_by,
        order_agg=order.agg,
        descending=order.default_descending() if descending is None else descending,
        limit=limit,
    )
    if by is ListBy.run and (ci is not IntervalKind.t or level != 0.95):
        raise ConfigError("--ci and --level describe seed-group intervals; add --by group.")
    if by is ListBy.group:
        with open_store(ctx, root, store) as db:
            _ls_groups(db, query, order, scope, ci.value, level, as_json)
        return
    with open_store(ctx, root, store) as db:
        records = db.list_runs(query)
        summaries = db.metric_summaries([r.id for r in records]) if records else {}
        sort_seen = order.metric is not None and any(
            order.metric in summaries.get(r.id, {}) for r in records
        )
        _check_filters(db, bool(records), sort_seen, query, order, scope)

    if as_json:
        print_json(
            [
                {
                    **run_fields(r),
                    "metrics": {k: s.last for k, s in sorted(summaries.get(r.id, {}).items())},
                }
                for r in records
            ]
        )
        return
    if not records:
        typer.echo("No runs match.", err=True)
        return
    out = Output()
    metric_cols = _metric_columns(order, conditions, summaries)
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
    for r in records:
        per_run = summaries.get(r.id, {})
        row: list[Cell] = [
            r.short_id,
            r.experiment,
            r.name,
            _status_cell(r.status),
            "-" if r.seed is None else str(r.seed),
            fmt_time(r.started_at),
            fmt_duration(r.duration, r.started_at if r.status == "running" else None),
        ]
        for _, key, agg in metric_cols:
            s = per_run.get(key)
            row.append(fmt_number(None if s is None else s.get(agg)))
        rows.append(row)
    # On a narrow terminal the extra metrics give way first, the sorted one last.
    out.table(columns, rows, optional=len(metric_cols))


# --------------------------------------------------------------------------- ls --by group
def _group_ref(key: str) -> str:
    """How a group is shown: the reference compare, significance and report take."""
    from trialbook.analysis import group_ref

    return group_ref(key)


def _group_metric_columns(
    df: Any, order: Sort, conditions: Sequence[ParamCondition | MetricCondition]
) -> list[tuple[str, str]]:
    """(header, frame column) of the metrics summarised per group: the sorted metric, else
    those named in --where, then the most common metrics and evaluation metrics."""
    from trialbook.analysis._frames import metric_columns
    from trialbook.store import MetricCondition

    present = set(df.columns)
    if order.metric is not None:
        # min(...)/max(...) summarise each run's best value; otherwise its last one.
        prefix = "metrics." if order.agg == "last" else "best."
        col = f"{prefix}{order.metric}"
        if col not in present:
            # In the workspace (else the check above named the typo), not in these runs.
            raise ConfigError(
                f"No run listed here logged the metric {order.metric!r} that --sort names; "
                "see `trialbook ls` for the metrics, or sort by a run column."
            )
        return [(order.label, col)]
    columns: list[tuple[str, str]] = []
    for c in conditions:
        if isinstance(c, MetricCondition) and f"metrics.{c.key}" in present:
            columns.append((c.key, f"metrics.{c.key}"))
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
        if len(columns) >= _EXTRA_METRICS:
            break
        if all(col != have for _, have in columns):
            columns.append((col.split(".", 1)[1], col))
    return columns


def _ls_groups(
    db: Any,
    query: RunQuery,
    order: Sort,
    scope: Scope,
    ci: str,
    level: float,
    as_json: bool,
) -> None:
    """``ls --by group``: one row per seed group, in the order of the runs (or best first);
    a group counts one run per seed, the newest completed, and says what it left out."""
    from dataclasses import replace

    from trialbook.analysis._frames import load_runs
    from trialbook.analysis._groups import left_out_note, seed_groups
    from trialbook.analysis._intervals import check_level
    from trialbook.config._plan import suite_of
    from trialbook.reporting import fmt_mean_std

    check_level(level)
    limit = query.limit
    df = load_runs(store=db, query=replace(query, limit=None))
    records = {r.id: r for r in db.list_runs(replace(query, limit=None))} if len(df) else {}
    sort_seen = order.metric is not None and f"metrics.{order.metric}" in df.columns
    _check_filters(db, bool(records), sort_seen, query, order, scope)
    metrics = _group_metric_columns(df, order, scope.conditions) if len(df) else []
    groups = seed_groups(df, [col for _, col in metrics], ci=ci, level=level)  # type: ignore[arg-type]
    suites: dict[str, list[str]] = {}
    for r in records.values():
        for name in suite_of(r.tags):
            if name not in suites.setdefault(r.group_key, []):
                suites[r.group_key].append(name)
    if order.metric is not None and len(groups):
        # Best first by the group mean (the runs' order would rank by a single seed).
        col = f"{metrics[0][1]}.mean"
        groups = groups.sort_values(
            col, ascending=not query.descending, na_position="last", kind="stable"
        )
    if limit is not None:
        groups = groups.head(limit)

    def number(value: Any) -> float | None:
        return None if value is None or math.isnan(value) else float(value)

    if as_json:
        print_json(
            [
                {
                    "group": g["group"],
                    "ref": _group_ref(str(g["group"])),
                    "experiment": g["experiment"],
                    "name": g["name"],
                    "n": int(g["n"]),
                    "seeds": list(g["seeds"]),
                    "left_out": list(g["left_out"]),
                    "suites": suites.get(str(g["group"]), []),
                    "metrics": {
                        col: {
                            stat: number(g[f"{col}.{stat}"])
                            for stat in ("mean", "std", "ci_low", "ci_high")
                        }
                        for _, col in metrics
                    },
                    "interval": {"kind": ci, "level": level},
                }
                for g in groups.to_dict("records")
            ]
        )
        return
    if groups.empty:
        typer.echo("No runs match.", err=True)
        return
    pct = f"{level * 100:g}%"
    columns = [
        Column("group"),
        Column("experiment", overflow="ellipsis", min_width=8),
        Column("name", overflow="ellipsis", min_width=8),
        Column("n", "right"),
        Column("seeds", overflow="ellipsis", min_width=5),
    ]
    shown = groups.to_dict("records")
    any_left = any(g["left_out"] for g in shown)
    if any_left:
        columns.append(Column("left out", "right"))
    for header, _ in metrics:
        columns += [Column(f"{header} mean ± std", "right"), Column(f"{pct} CI", "right")]
    rows: list[list[Cell]] = []
    for g in shown:
        row: list[Cell] = [
            _group_ref(str(g["group"])),
            g["experiment"],
            g["name"],
            str(g["n"]),
            ",".join(str(s) for s in g["seeds"]) or "-",
        ]
        if any_left:
            row.append(str(len(g["left_out"])))
        for _, col in metrics:
            mean, std = g[f"{col}.mean"], g[f"{col}.std"]
            low, high = g[f"{col}.ci_low"], g[f"{col}.ci_high"]
            row.append(fmt_mean_std(mean, std))
            # One seed has no interval: say why instead of a blank.
            if math.isnan(mean):
                row.append("-")
            else:
                row.append(
                    f"n={g['n']}" if math.isnan(low) else f"[{fmt_number(low)}, {fmt_number(high)}]"
                )
        rows.append(row)
    Output().table(columns, rows, optional=2 * len(metrics))
    left = [records[rid] for g in shown for rid in g["left_out"] if rid in records]
    gone = {r.id for r in left}
    note = left_out_note(left, kept=[r for r in records.values() if r.id not in gone])
    if note is not None:
        typer.echo(f"note: {note}", err=True)


# --------------------------------------------------------------------------- show
def _read_meta(record: RunRecord) -> dict[str, Any] | None:
    """The run folder's meta.json, or None when the folder or file is gone or unreadable."""
    if not record.folder:
        return None
    try:
        data = json.loads((Path(record.folder) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _dig(data: Mapping[str, Any] | None, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _provenance(record: RunRecord, meta: Mapping[str, Any] | None) -> list[tuple[str, Cell]]:
    pairs: list[tuple[str, Cell]] = []
    git = _dig(meta, "git")
    commit = _dig(git, "commit") or record.git_commit
    if commit:
        branch = _dig(git, "branch") or record.git_branch
        dirty = _dig(git, "dirty") if git else record.git_dirty
        text = str(commit)[:12] + (f" on {branch}" if branch else "")
        pairs.append(
            ("git", Styled(text + ", dirty" if dirty else text, "yellow" if dirty else None))
        )
        if dirty and record.folder and (Path(record.folder) / "diff.patch").exists():
            pairs.append(("diff", str(Path(record.folder) / "diff.patch")))
        remote = _dig(git, "remote")
        if remote:
            pairs.append(("remote", str(remote)))
    host = _dig(meta, "host") or record.host
    if host:
        pairs.append(("host", str(host)))
    device = _dig(meta, "device")
    gpus = _dig(meta, "environment", "gpu") or []
    cpu = _dig(meta, "environment", "cpu", "model")
    names = [str(g["name"]) for g in gpus if isinstance(g, Mapping) and g.get("name")]
    if device or names or cpu:
        detail = ", ".join(names) or (str(cpu) if cpu else "")
        pairs.append(("device", str(device or "?") + (f" ({detail})" if detail else "")))
    python = _dig(meta, "environment", "python", "version")
    if python:
        impl = _dig(meta, "environment", "python", "implementation")
        pairs.append(("python", f"{python} ({impl})" if impl else str(python)))
    command = _dig(meta, "command")
    if isinstance(command, list) and command:
        pairs.append(("command", shlex.join(str(c) for c in command)))
    launched_by = _dig(meta, "launched_by")
    if isinstance(launched_by, list) and launched_by:
        pairs.append(("launched by", shlex.join(str(c) for c in launched_by)))
    cwd = _dig(meta, "environment", "cwd")
    if cwd:
        pairs.append(("cwd", str(cwd)))
    return pairs


def _metric_rows(metrics: Mapping[str, MetricSummary]) -> list[list[Cell]]:
    keys = sorted(metrics, key=lambda k: (k.startswith("system/"), k))
    rows: list[list[Cell]] = []
    for key in keys:
        s = metrics[key]
        rows.append(
            [
                key,
                fmt_number(s.last),
                str(s.last_step),
                fmt_number(s.min),
                "-" if s.min_step is None else str(s.min_step),
                fmt_number(s.max),
                "-" if s.max_step is None else str(s.max_step),
                str(s.count),
            ]
        )
    return rows


def _metrics_text(metrics: Mapping[str, Any]) -> str:
    return "  ".join(
        f"{k}={fmt_number(v) if isinstance(v, int | float) else json.dumps(v, default=str)}"
        for k, v in metrics.items()
    )


def _short_hash(sha: str | None) -> str:
    return sha[:12] if sha else "-"


def _render_show(d: RunDetails, meta: Mapping[str, Any] | None, out: Output) -> None:
    import yaml

    from trialbook.config import flatten_config

    r = d.record
    out.heading(f"run {r.id}")
    header: list[tuple[str, Cell]] = [
        ("experiment", r.experiment),
        ("name", r.name),
        ("status", _status_cell(r.status)),
        ("seed", "-" if r.seed is None else str(r.seed)),
    ]
    if r.tags:
        header.append(("tags", ", ".join(r.tags)))
    header += [
        ("started", fmt_time(r.started_at, seconds=True)),
        ("ended", fmt_time(r.ended_at, seconds=True)),
        ("duration", fmt_duration(r.duration, r.started_at if r.status == "running" else None)),
        ("config hash", r.config_hash[:12]),
        ("seed group", _group_ref(r.group_key)),
    ]
    if r.folder:
        missing = "" if Path(r.folder).is_dir() else "  (folder missing)"
        header.append(("folder", r.folder + missing))
    if r.notes:
        header.append(("notes", r.notes))
    out.fields(header, indent=2)

    if r.config:
        out.heading("config")
        text = yaml.safe_dump(dict(r.config), sort_keys=False, allow_unicode=True)
        out.block(text, indent=2)
    config_keys = set(flatten_config(dict(r.config)))
    extra = {k: v for k, v in d.params.items() if k not in config_keys}
    if extra:
        out.heading("params (logged besides the config)")
        out.fields([(k, json.dumps(v, default=str)) for k, v in extra.items()], indent=2)

    provenance = _provenance(r, meta)
    if provenance:
        out.heading("provenance")
        out.fields(provenance, indent=2)
    data = [x for x in (_dig(meta, "data") or []) if isinstance(x, Mapping)]
    if d.metrics:
        out.heading("metrics")
        out.table(
            [
                Column("key", overflow="fold"),
                Column("last", "right"),
                Column("step", "right"),
                Column("min", "right"),
                Column("step", "right"),
                Column("max", "right"),
                Column("step", "right"),
                Column("points", "right"),
            ],
            _metric_rows(d.metrics),
            indent=2,
        )
    if d.evaluations:
        out.heading("evaluations")
        out.table(
            # The time tells apart two evaluations of one benchmark: the Store keeps both,
            # summary.json and evaluations/<benchmark>.jsonl the latest.
            [
                Column("benchmark"),
                Column("split"),
                Column("n", "right"),
                Column("time"),
                Column("metrics", overflow="fold"),
            ],
            [
                [
                    e.benchmark,
                    e.split or "-",
                    "-" if e.n is None else str(e.n),
                    fmt_time(e.created_at, seconds=True),
                    _metrics_text(e.metrics),
                ]
                for e in d.evaluations
            ],
            indent=2,
        )
    if d.checkpoints:
        out.heading("checkpoints")
        out.table(
            [
                Column("step", "right"),
                Column("size", "right"),
                Column("sha256"),
                Column("path", overflow="fold"),
            ],
            [
                [
                    "-" if c.step is None else str(c.step),
                    fmt_bytes(c.size),
                    _short_hash(c.sha256),
                    c.path,
                ]
                for c in d.checkpoints
            ],
            indent=2,
        )
    if d.artifacts:
        out.heading("artifacts")
        out.table(
            [
                Column("kind"),
                Column("size", "right"),
                Column("sha256"),
                Column("path", overflow="fold"),
            ],
            [
                [a.kind or "-", fmt_bytes(a.size), _short_hash(a.sha256), a.path]
                for a in d.artifacts
            ],
            indent=2,
        )
    if d.datasets or data:
        out.heading("datasets")
        rows: list[list[Cell]] = [
            [
                ds.name,
                "-" if ds.rows is None else str(ds.rows),
                fmt_bytes(ds.size),
                _short_hash(ds.sha256),
                f"{ds.parent} -> {ds.transform or '?'}" if ds.parent else "-",
                ds.path,
            ]
            for ds in d.datasets
        ]
        if not d.datasets:  # only the run folder knows them (e.g. the Store was rebuilt)
            rows = [
                [
                    str(x.get("name") or "-"),
                    "-" if x.get("rows") is None else str(x.get("rows")),
                    fmt_bytes(x.get("size")),
                    _short_hash(x.get("sha256")),
                    "-",
                    str(x.get("path") or "-"),
                ]
                for x in data
            ]
        out.table(
            [
                Column("name"),
                Column("rows", "right"),
                Column("size", "right"),
                Column("sha256"),
                Column("lineage", overflow="fold"),
                Column("path", overflow="fold"),
            ],
            rows,
            indent=2,
        )
    if r.error:
        out.heading("error")
        out.block(r.error, indent=2, style="red")


def show(
    ctx: typer.Context,
    run: Annotated[
        str,
        typer.Argument(
            metavar="RUN", help="Run id, unique id prefix, short id (the 6 hex digits) or name."
        ),
    ],
    as_json: JsonOption = False,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Show one run: config, provenance, metrics, evaluations and files.

    Provenance (git, host, device, Python, command, data checksums) comes from the run
    folder's meta.json when the folder still exists.
    """
    with open_store(ctx, root, store) as db:
        details = load_details(db, db.get_run(run), history=False, samples=False)
    meta = _read_meta(details.record)
    if as_json:
        print_json({**run_document(details), "provenance": meta})
        return
    _render_show(details, meta, Output())
