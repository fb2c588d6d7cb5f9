"""``report()``: one self-contained HTML file for a run or for baseline vs treatment(s).

Rendered with Jinja2 with autoescaping on, so every user string (run names, notes, config
values, predictions, references) is text, never markup. Images are inlined as base64 PNG, the
CSS and the small sample filter are inline: the file opens anywhere without a network.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from trialbook._format import fmt_duration, natural_key
from trialbook._values import flatten
from trialbook.analysis._samples import latest_evaluations, sample_input
from trialbook.errors import ConfigError, TrialbookError
from trialbook.reporting._entries import ReportEntry, entry_values, report_entries, write_text

if TYPE_CHECKING:
    from trialbook.analysis._refs import Entry
    from trialbook.store import Evaluation, RunRecord, Sample, Store

__all__ = ["MAX_CURVES", "render_report", "report"]

#: Curves drawn per report by default (one figure each); the report names the curves beyond
#: it and how to draw them (``max_curves=`` / ``--max-curves``).
MAX_CURVES = 12
#: Samples shown per evaluation in the browser (errors first); the count of the rest is said.
MAX_SAMPLES = 500
#: Characters of a sample's text shown in a table cell; the rest opens on a click.
TEXT_WIDTH = 120


def _cell_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=str)
    return "" if value is None else str(value)


def _time(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _meta(record: RunRecord) -> dict[str, Any]:
    from trialbook.tracking import RunFolder

    return (RunFolder(Path(record.folder)).read_meta() if record.folder else None) or {}


def _provenance(record: RunRecord) -> list[tuple[str, str]]:
    meta = _meta(record)
    env = meta.get("environment") or {}
    git = meta.get("git") or {}
    rows = [
        ("git commit", record.git_commit or git.get("commit")),
        ("git branch", record.git_branch or git.get("branch")),
        ("git dirty", record.git_dirty if record.git_dirty is not None else git.get("dirty")),
        ("git remote", git.get("remote")),
        ("command", " ".join(str(a) for a in meta.get("command") or [])),
        ("cwd", env.get("cwd")),
        ("host", record.host or env.get("host")),
        ("python", (env.get("python") or {}).get("version")),
        ("platform", env.get("platform")),
        ("cpu", (env.get("cpu") or {}).get("model")),
        ("gpu", ", ".join(str(g.get("name", g)) for g in env.get("gpu") or []) or None),
        ("folder", record.folder),
    ]
    return [(k, _cell_text(v)) for k, v in rows if v not in (None, "")]


def _text(value: str | None, skip: int = 0) -> dict[str, Any]:
    """A table cell's text: what fits in TEXT_WIDTH characters (after the first ``skip``, a
    preamble every row shares) and, when that is not all of it, the whole on expand."""
    full = value or ""
    rest = full[skip:]
    if not skip and len(rest) <= TEXT_WIDTH:
        return {"short": full, "full": full, "cut": False}
    short = rest[:TEXT_WIDTH].rstrip() + ("…" if len(rest) > TEXT_WIDTH else "")
    return {"short": ("…" if skip else "") + short, "full": full, "cut": True}


def shared_preamble(texts: Sequence[str]) -> int:
    """How many leading characters all of ``texts`` share (a few-shot prompt's examples),
    cut back to the last line break (else a word's end); 0 for fewer than two texts or under
    40 characters, so that a table shows what differs from row to row."""
    if len(texts) < 2:
        return 0
    # The texts' common prefix is that of the first and the last in sorted order.
    low, high = min(texts), max(texts)
    same = next((i for i, (x, y) in enumerate(zip(low, high, strict=False)) if x != y), len(low))
    prefix = low[:same]
    if len(prefix) < 40 or any(len(t) == len(prefix) for t in texts):
        return 0
    # Back to the last line break (the shared examples end there), else to a word's end.
    end = prefix.rfind("\n") if "\n" in prefix else prefix.rfind(" ")
    return end + 1 if end >= 0 else 0


def _sample_rows(samples: Sequence[Sample]) -> tuple[list[dict[str, Any]], int]:
    # Errors first, then the lowest scores: what a reader of a report looks for first; ties
    # in id order, numbers as numbers.
    def order(s: Sample) -> tuple[int, float, tuple[tuple[int, int, str], ...]]:
        rank = 0 if s.correct is False else (2 if s.correct else 1)
        score = s.score if s.score is not None and math.isfinite(s.score) else math.inf
        return rank, score, natural_key(s.sample_id)

    ordered = sorted(samples, key=order)
    skip = shared_preamble([sample_input(s) for s in samples])
    rows = [
        {
            "id": s.sample_id,
            "correct": "" if s.correct is None else ("yes" if s.correct else "no"),
            "error": s.correct is False,
            "score": "" if s.score is None else f"{s.score:.4g}",
            "input": _text(sample_input(s), skip),
            "prediction": _text(s.prediction),
            "reference": _text(s.reference),
        }
        for s in ordered[:MAX_SAMPLES]
    ]
    return rows, max(0, len(ordered) - MAX_SAMPLES)


def _evaluation_block(db: Store, ev: Evaluation, images: bool) -> dict[str, Any]:
    from trialbook.reporting._plots import figure_data_uri, plot_slices, slices_from_samples

    samples = db.samples(ev.id)
    rows, hidden = _sample_rows(samples)
    slice_img = None
    slices = slices_from_samples(samples)
    metric = "accuracy" if any(s.correct is not None for s in samples) else "score"
    if images and slices:
        try:
            slice_img = figure_data_uri(plot_slices(slices, metric))
        except ConfigError:
            slice_img = None
    return {
        "id": ev.id,
        "benchmark": ev.benchmark,
        "split": ev.split or "",
        "n": "" if ev.n is None else ev.n,
        "when": _time(ev.created_at),
        "metrics": [(k, _cell_text(v)) for k, v in sorted(flatten(ev.metrics).items())],
        "samples": rows,
        "has_input": any(r["input"]["full"] for r in rows),
        "hidden": hidden,
        "errors": sum(1 for s in samples if s.correct is False),
        "slice_img": slice_img,
    }


def _curves(
    db: Store,
    entries: Sequence[ReportEntry],
    *,
    primary: str | None,
    max_curves: int | None,
) -> dict[str, Any]:
    """The curve panels of every metric the entries logged (plot_curve_panels) and what the
    report says about those it did not draw."""
    from trialbook.reporting._plots import figure_data_uri, plot_curve_panels

    drawn = plot_curve_panels(
        {e.label: list(e.runs) for e in entries},
        primary=primary,
        max_panels=max_curves,
        store=db,
    )
    return {
        "panels": [
            {
                "metric": p.metric,
                "img": figure_data_uri(p.figure),
                "points": ", ".join(f"{label}: {n}" for label, n in p.points.items()),
            }
            for p in drawn.panels
        ],
        "single_value": drawn.single_value,
        "left_out": drawn.left_out,
        "all": len(drawn.panels) + len(drawn.left_out),
    }


def _data_map(db: Store, record: RunRecord) -> dict[str, Any] | None:
    from trialbook.reporting._plots import (
        REGION_THRESHOLDS,
        data_map_regions,
        figure_data_uri,
        find_training_dynamics,
        load_training_dynamics,
        plot_data_map,
    )

    path = find_training_dynamics(record, db)
    if path is None:
        return None
    dyn = load_training_dynamics(path)
    fig = plot_data_map(dyn.confidence, dyn.variability, dyn.correctness, regions=True)
    counts = data_map_regions(dyn.confidence, dyn.variability)
    total = sum(counts.values())
    return {
        "img": figure_data_uri(fig),
        "regions": [(region, n, f"{n / total:.1%}") for region, n in counts.items()],
        "total": total,
        "variability": _cell_text(REGION_THRESHOLDS["variability_threshold"]),
        "confidence": _cell_text(REGION_THRESHOLDS["confidence_threshold"]),
        "path": str(path),
    }


def _single(
    db: Store, entry: ReportEntry, images: bool, primary: str | None, max_curves: int | None
) -> dict[str, Any]:
    record = entry.runs[0]
    summaries = db.metric_summaries([record.id]).get(record.id, {})
    config = flatten(record.config)
    metrics = [
        {
            "key": key,
            "last": _cell_text(s.last),
            "min": _cell_text(s.min),
            "max": _cell_text(s.max),
            "count": s.count,
        }
        for key, s in sorted(summaries.items())
    ]
    overview = [
        ("id", record.id),
        ("experiment", record.experiment),
        ("name", record.name),
        ("status", record.status),
        ("seed", _cell_text(record.seed)),
        ("group", record.group_key[:12]),
        ("config hash", record.config_hash[:12]),
        ("tags", ", ".join(record.tags)),
        ("started", _time(record.started_at)),
        ("ended", _time(record.ended_at)),
        ("duration", "" if record.duration is None else fmt_duration(record.duration)),
        ("error", record.error or ""),
    ]
    return {
        "record": record,
        "overview": [(k, v) for k, v in overview if v != ""],
        "notes": record.notes or "",
        "config": [(k, _cell_text(v)) for k, v in sorted(config.items())],
        # The config is logged as params too; show only what the run logged besides it.
        "params": [
            (k, _cell_text(v))
            for k, v in sorted(flatten(db.params(record.id)).items())
            if k not in config or config[k] != v
        ],
        "provenance": _provenance(record),
        "metrics": metrics,
        "curves": _curves(db, [entry], primary=primary, max_curves=max_curves) if images else None,
        "evaluations": [_evaluation_block(db, ev, images) for ev in db.evaluations(record.id)],
        "data_map": _data_map(db, record) if images else None,
    }


def _group_config(entry: ReportEntry) -> dict[str, Any]:
    """The config keys all the entry's runs agree on (a group's seeds differ in the seed)."""
    configs = [flatten(r.config) for r in entry.runs]
    return {
        k: v for k, v in configs[0].items() if all(c.get(k, object()) == v for c in configs[1:])
    }


def _disagreements(db: Store, entries: Sequence[ReportEntry]) -> list[dict[str, Any]]:
    """Per benchmark both single runs evaluated: the samples one got right and the other not
    (:func:`trialbook.analysis.changed_samples`), the baseline's wins (regressions) first."""
    from trialbook.analysis import changed_samples

    if len(entries) != 2 or any(len(e.runs) != 1 for e in entries):
        return []
    a_id, b_id = entries[0].runs[0].id, entries[1].runs[0].id
    base, treat = latest_evaluations(db, a_id), latest_evaluations(db, b_id)
    blocks = []
    for bench in sorted(set(base) & set(treat)):
        got = changed_samples(db, a_id, b_id, bench)
        if got is None or not got.shared:
            continue
        skip = shared_preamble([sample_input(x) for x in db.samples(base[bench].id)])
        rows: list[dict[str, Any]] = [
            {
                "id": c.id,
                "change": change,
                "input": _text(c.input, skip),
                "baseline": _text(c.a),
                "treatment": _text(c.b),
                "reference": _text(c.reference),
            }
            for change, items in (("regression", got.regressions), ("fix", got.fixes))
            for c in items
        ]
        blocks.append(
            {
                "benchmark": bench,
                "fixes": len(got.fixes),
                "regressions": len(got.regressions),
                "rows": rows[:MAX_SAMPLES],
                "has_input": any(r["input"]["full"] for r in rows[:MAX_SAMPLES]),
                "hidden": max(0, len(rows) - MAX_SAMPLES),
            }
        )
    return blocks


def _comparison(
    db: Store,
    entries: Sequence[ReportEntry],
    refs: Sequence[str | Entry],
    images: bool,
    metric: str | None = None,
    max_curves: int | None = MAX_CURVES,
) -> dict[str, Any]:
    from trialbook.analysis._compare import format_relative, relative_change

    configs = [_group_config(e) for e in entries]
    keys = sorted(set().union(*configs))
    missing = object()
    diffs = []
    for key in keys:
        row = [c.get(key, missing) for c in configs]
        if any(v != row[0] for v in row[1:]):
            diffs.append((key, ["(absent)" if v is missing else _cell_text(v) for v in row]))
    values = [entry_values(db, e) for e in entries]
    metric_keys = sorted(set().union(*values))
    metrics = []
    for key in metric_keys:
        base = values[0].get(key)
        cells = []
        for i, vals in enumerate(values):
            v = vals.get(key)
            if v is None:
                cells.append({"value": "", "change": ""})
                continue
            change = ""
            if i > 0 and base is not None:
                # The relative part is n/a where a percentage would mislead (relative_change).
                rel = format_relative(relative_change(base.mean, v.mean))
                change = f"{v.mean - base.mean:+.4g} ({rel})"
            cells.append({"value": v.text(), "change": change})
        metrics.append({"key": key, "cells": cells})
    if len(entries) > 1:
        tests, note = _significance(refs, db, entries, metric)
    else:  # one seed group: its seeds side by side, nothing to test against
        tests, note = [], "Name a second run or group to test the difference."
    return {
        "config_diffs": diffs,
        "metrics": metrics,
        "tests": tests,
        "tests_note": note,
        "curves": _curves(db, entries, primary=metric or "accuracy", max_curves=max_curves)
        if images
        else None,
        "disagreements": _disagreements(db, entries),
    }


def _shared_benchmarks(db: Store, entries: Sequence[ReportEntry]) -> list[str]:
    """The benchmarks every run of every entry was evaluated on, sorted."""
    ids = [run.id for entry in entries for run in entry.runs]
    evaluations = db.bulk_evaluations(ids)
    names = [{ev.benchmark for ev in evaluations.get(i, [])} for i in ids]
    return sorted(set.intersection(*names)) if names else []


def _significance(
    refs: Sequence[str | Entry],
    db: Store,
    entries: Sequence[ReportEntry],
    metric: str | None = None,
) -> tuple[list[dict[str, str]], str | None]:
    """significance() on the entries -- once per benchmark they share (in-distribution
    and out-of-distribution splits alike) on ``metric`` (default: each benchmark's accuracy or
    first metric), else on a logged metric -- or a note saying why there are no tests."""
    try:
        from trialbook.analysis._significance import significance
    except ImportError:
        return [], "Significance tests are not available in this installation of trialbook."
    results = []
    notes = []
    shared = _shared_benchmarks(db, entries)
    if metric is not None and shared:
        latest = latest_evaluations(db, entries[0].runs[0].id)
        with_metric = [b for b in shared if isinstance(latest[b].metrics.get(metric), int | float)]
        if not with_metric:
            import difflib

            known = sorted({k for b in shared for k in latest[b].metrics})
            close = difflib.get_close_matches(metric, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"they have {', '.join(known)}."
            raise ConfigError(
                f"No benchmark both sides share ({', '.join(shared)}) has the metric "
                f"{metric!r}; {hint}"
            )
        shared = with_metric
    benchmarks: list[str | None] = [*shared] or [None]
    for benchmark in benchmarks:
        try:
            results.extend(significance(list(refs), store=db, benchmark=benchmark, metric=metric))
        except TrialbookError as e:
            if metric is not None and not shared:
                raise  # the metric asked for is nowhere: the user's mistake, not a note
            notes.append(f"No significance test{f' on {benchmark}' if benchmark else ''}: {e}")
    note = " ".join(notes) or None
    rows = []
    for r in results:
        d = r.to_dict() if hasattr(r, "to_dict") else dict(vars(r))
        rows.append(
            {
                "test": str(d.get("test", "")),
                "pair": f"{d.get('a', '')} vs {d.get('b', '')}",
                "n": _cell_text(d.get("n")),
                "difference": _cell_text(d.get("difference")),
                "ci": f"[{_cell_text(d.get('ci_low'))}, {_cell_text(d.get('ci_high'))}]",
                "p": _cell_text(d.get("p_value")),
                "p_adjusted": _cell_text(d.get("p_adjusted")),
                "effect": _cell_text(d.get("effect_size")),
                "verdict": str(d.get("verdict", "")),
            }
        )
    return rows, note


def _check_max_curves(max_curves: int | None) -> None:
    if max_curves is not None and max_curves < 0:
        raise ConfigError(
            f"max_curves={max_curves} is negative; pass 0 or more (None draws every curve).",
            parameter="max_curves",
            value=max_curves,
        )


def render_report(
    refs: Sequence[str | Entry],
    store: Store,
    *,
    title: str | None = None,
    images: bool = True,
    metric: str | None = None,
    max_curves: int | None = MAX_CURVES,
) -> str:
    """The report's HTML as a string (see :func:`report`); ``images=False`` skips the plots."""
    import jinja2

    _check_max_curves(max_curves)
    entries = report_entries(refs, store)
    mode: Literal["single", "compare"] = (
        "single" if len(entries) == 1 and len(entries[0].runs) == 1 else "compare"
    )
    context: dict[str, Any] = {
        "mode": mode,
        "entries": entries,
        "generated": _time(datetime.now(timezone.utc).timestamp()),
    }
    if mode == "single":
        context["run"] = _single(store, entries[0], images, metric or "accuracy", max_curves)
        default_title = f"Run {entries[0].runs[0].name}"
    else:
        context["cmp"] = _comparison(store, entries, refs, images, metric, max_curves)
        default_title = " vs ".join(e.label for e in entries)
    context["title"] = title or default_title
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trialbook.reporting", "templates"),
        autoescape=True,  # every user string is text, whatever the template does
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**context)


def report(
    refs: Sequence[str | Entry] | str,
    out: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    store: Store | None = None,
    title: str | None = None,
    metric: str | None = None,
    max_curves: int | None = MAX_CURVES,
) -> Path:
    """Write a self-contained HTML report of runs or seed groups to ``out``; returns its path.

    One run: overview, notes, config, provenance (git, environment, command), metrics, training
    curves, evaluations with per-slice bars, a per-sample browser (errors first) and the data
    map when the run has ``training_dynamics.jsonl``. Two or more references (runs or groups,
    as ``trialbook compare`` takes them; the first is the baseline): the config keys that
    differ, metrics side by side with the change from the baseline, significance tests and the
    curves overlaid.

    Curves are drawn for the metrics with at least two steps (three for ``system/*``), the
    training loss first, then ``metric`` (default ``accuracy``), the other training metrics,
    held-out ones and ``system/*``; at most ``max_curves`` (None: all), and the report names
    those it leaves out. The file is written atomically; nothing is written when a reference
    is wrong.
    """
    _check_max_curves(max_curves)
    refs = [refs] if isinstance(refs, str) else list(refs)
    if not refs:
        raise ConfigError(
            "refs is empty; name at least one run or group to report on.", parameter="refs"
        )
    target = Path(out)
    if target.is_dir():
        raise ConfigError(
            f"out={target} is a folder; give a file name such as report.html.",
            parameter="out",
            value=str(target),
        )
    if store is None:
        from trialbook._workspace import open_store

        with open_store(root) as db:
            html = render_report(refs, db, title=title, metric=metric, max_curves=max_curves)
    else:
        html = render_report(refs, store, title=title, metric=metric, max_curves=max_curves)
    write_text(target, html, "the report")
    return target


def default_report_path(root: Path, refs: list[str]) -> Path:
    """Where a report of ``refs`` goes when no file is named (``trialbook report`` without
    ``--out``): ``<root>/reports/<a>_vs_<b>.html``, under the workspace so that following the
    docs never writes into a source checkout."""
    names = [re.sub(r"[^\w.@-]+", "_", ref).strip("._") or "run" for ref in refs]
    stem = "_vs_".join(names)
    if len(stem) > 120:  # many references: a file name every file system takes
        stem = f"{stem[:100]}_and_{len(refs)}_entries"
    return root / "reports" / f"{stem}.html"
