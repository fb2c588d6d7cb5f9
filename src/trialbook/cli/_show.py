"""``trialbook show``: one run's config, provenance, metrics, evaluations and files.

The data is :func:`trialbook.store.load_details`' (``--json`` prints its
:func:`~trialbook.store.run_document`) and the run folder's meta.json
(:meth:`trialbook.tracking.RunFolder.read_meta`).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trialbook.cli._options import JsonOption, RootOption, StoreOption, open_store
from trialbook.cli._output import (
    Cell,
    Column,
    Output,
    Styled,
    fmt_bytes,
    fmt_duration,
    fmt_number,
    fmt_time,
    print_json,
    status_cell,
)

if TYPE_CHECKING:
    from trialbook.store import MetricSummary, RunDetails, RunRecord

__all__ = ["show"]

Meta = Mapping[str, Any] | None


def _dig(data: Meta, *keys: str) -> Any:
    """``data[k1][k2]...``, or None where a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _git(record: RunRecord, meta: Meta) -> list[tuple[str, Cell]]:
    git = _dig(meta, "git")
    commit = _dig(git, "commit") or record.git_commit
    if not commit:
        return []
    branch = _dig(git, "branch") or record.git_branch
    dirty = _dig(git, "dirty") if git else record.git_dirty
    text = str(commit)[:12] + (f" on {branch}" if branch else "")
    pairs: list[tuple[str, Cell]] = [
        ("git", Styled(text + ", dirty" if dirty else text, "yellow" if dirty else None))
    ]
    if dirty and record.folder and (Path(record.folder) / "diff.patch").exists():
        pairs.append(("diff", str(Path(record.folder) / "diff.patch")))
    remote = _dig(git, "remote")
    if remote:
        pairs.append(("remote", str(remote)))
    return pairs


def _provenance(record: RunRecord, meta: Meta) -> list[tuple[str, Cell]]:
    pairs = _git(record, meta)
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
    for key, label in (("command", "command"), ("launched_by", "launched by")):
        words = _dig(meta, key)
        if isinstance(words, list) and words:
            pairs.append((label, shlex.join(str(c) for c in words)))
    cwd = _dig(meta, "environment", "cwd")
    if cwd:
        pairs.append(("cwd", str(cwd)))
    return pairs


def _optional(value: Any) -> str:
    return "-" if value is None else str(value)


def _short_hash(sha: str | None) -> str:
    return sha[:12] if sha else "-"


def _metrics_text(metrics: Mapping[str, Any]) -> str:
    return "  ".join(
        f"{k}={fmt_number(v) if isinstance(v, int | float) else json.dumps(v, default=str)}"
        for k, v in metrics.items()
    )


def _header(r: RunRecord) -> list[tuple[str, Cell]]:
    from trialbook.analysis import group_ref

    header: list[tuple[str, Cell]] = [
        ("experiment", r.experiment),
        ("name", r.name),
        ("status", status_cell(r.status)),
        ("seed", _optional(r.seed)),
    ]
    if r.tags:
        header.append(("tags", ", ".join(r.tags)))
    header += [
        ("started", fmt_time(r.started_at, seconds=True)),
        ("ended", fmt_time(r.ended_at, seconds=True)),
        ("duration", fmt_duration(r.duration, r.started_at if r.status == "running" else None)),
        ("config hash", r.config_hash[:12]),
        ("seed group", group_ref(r.group_key)),
    ]
    if r.folder:
        missing = "" if Path(r.folder).is_dir() else "  (folder missing)"
        header.append(("folder", r.folder + missing))
    if r.notes:
        header.append(("notes", r.notes))
    return header


def _render_config(d: RunDetails, out: Output) -> None:
    import yaml

    from trialbook.config import flatten_config

    r = d.record
    if r.config:
        out.heading("config")
        out.block(yaml.safe_dump(dict(r.config), sort_keys=False, allow_unicode=True), indent=2)
    config_keys = set(flatten_config(dict(r.config)))
    extra = {k: v for k, v in d.params.items() if k not in config_keys}
    if extra:
        out.heading("params (logged besides the config)")
        out.fields([(k, json.dumps(v, default=str)) for k, v in extra.items()], indent=2)


def _metric_rows(metrics: Mapping[str, MetricSummary]) -> list[list[Cell]]:
    return [
        [
            key,
            fmt_number(s.last),
            str(s.last_step),
            fmt_number(s.min),
            _optional(s.min_step),
            fmt_number(s.max),
            _optional(s.max_step),
            str(s.count),
        ]
        for key, s in sorted(metrics.items(), key=lambda kv: (kv[0].startswith("system/"), kv[0]))
    ]


def _render_results(d: RunDetails, out: Output) -> None:
    if d.metrics:
        out.heading("metrics")
        headers = ("last", "step", "min", "step", "max", "step", "points")
        columns = [Column("key", overflow="fold"), *(Column(h, "right") for h in headers)]
        out.table(columns, _metric_rows(d.metrics), indent=2)
    if d.evaluations:
        out.heading("evaluations")
        # The time tells apart two evaluations of one benchmark: the Store keeps both,
        # summary.json and evaluations/<benchmark>.jsonl the latest.
        columns = [
            Column("benchmark"),
            Column("split"),
            Column("n", "right"),
            Column("time"),
            Column("metrics", overflow="fold"),
        ]
        rows: list[list[Cell]] = [
            [
                e.benchmark,
                e.split or "-",
                _optional(e.n),
                fmt_time(e.created_at, seconds=True),
                _metrics_text(e.metrics),
            ]
            for e in d.evaluations
        ]
        out.table(columns, rows, indent=2)


def _file_columns(first: Column) -> list[Column]:
    return [first, Column("size", "right"), Column("sha256"), Column("path", overflow="fold")]


def _render_files(d: RunDetails, meta: Meta, out: Output) -> None:
    if d.checkpoints:
        out.heading("checkpoints")
        rows: list[list[Cell]] = [
            [_optional(c.step), fmt_bytes(c.size), _short_hash(c.sha256), c.path]
            for c in d.checkpoints
        ]
        out.table(_file_columns(Column("step", "right")), rows, indent=2)
    if d.artifacts:
        out.heading("artifacts")
        rows = [
            [a.kind or "-", fmt_bytes(a.size), _short_hash(a.sha256), a.path] for a in d.artifacts
        ]
        out.table(_file_columns(Column("kind")), rows, indent=2)
    _render_datasets(d, meta, out)


def _render_datasets(d: RunDetails, meta: Meta, out: Output) -> None:
    data = [x for x in (_dig(meta, "data") or []) if isinstance(x, Mapping)]
    if not d.datasets and not data:
        return
    out.heading("datasets")
    rows: list[list[Cell]] = [
        [
            ds.name,
            _optional(ds.rows),
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
                _optional(x.get("rows")),
                fmt_bytes(x.get("size")),
                _short_hash(x.get("sha256")),
                "-",
                str(x.get("path") or "-"),
            ]
            for x in data
        ]
    columns = [
        Column("name"),
        Column("rows", "right"),
        Column("size", "right"),
        Column("sha256"),
        Column("lineage", overflow="fold"),
        Column("path", overflow="fold"),
    ]
    out.table(columns, rows, indent=2)


def _render_show(d: RunDetails, meta: Meta, out: Output) -> None:
    r = d.record
    out.heading(f"run {r.id}")
    out.fields(_header(r), indent=2)
    _render_config(d, out)
    provenance = _provenance(r, meta)
    if provenance:
        out.heading("provenance")
        out.fields(provenance, indent=2)
    _render_results(d, out)
    _render_files(d, meta, out)
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
    from trialbook.store import load_details, run_document

    with open_store(ctx, root, store) as db:
        details = load_details(db, db.get_run(run))
    if as_json:
        print_json(run_document(details))
        return
    _render_show(details, details.provenance, Output())
