"""HTML for notebooks (Jupyter's ``_repr_html_``): escaped tables, key/value lists and small
inline SVG line plots, and the renderings of the records the Store and a run hand back.

Every user string goes through :func:`esc`. Nothing here loads a plotting library or reads
beyond what it is given (a :class:`~trialbook.tracking.Run` reads its own Store), so showing
a record in a notebook is quick; the analysis results render in
``trialbook.reporting._notebook`` on top of these pieces.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from trialbook._format import fmt_duration, fmt_number

if TYPE_CHECKING:
    from trialbook.store import MetricHistory, MetricSummary, RunRecord, Store

__all__ = [
    "PALETTE",
    "box",
    "esc",
    "fields",
    "history_html",
    "line_plot",
    "record_html",
    "run_html",
    "table",
]

#: Line colours of the plots, in order (colour-blind friendly).
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")

#: The most rows a table shows before saying how many it left out.
MAX_ROWS = 50

_STATUS_COLOURS = {
    "completed": "#1a7f37",
    "running": "#0969da",
    "queued": "#6e7781",
    "failed": "#cf222e",
    "crashed": "#cf222e",
    "killed": "#9a6700",
}
_CELL = "padding:2px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #ddd"
_NUM = "padding:2px 8px;text-align:right;vertical-align:top;border-bottom:1px solid #ddd"


def esc(value: Any) -> str:
    """``value`` as HTML text: every ``<``, ``>``, ``&`` and quote escaped."""
    return html.escape(str(value), quote=True)


def box(title: str, *parts: str) -> str:
    """A titled block holding ``parts`` (already HTML); ``title`` is escaped."""
    body = "".join(parts)
    return (
        '<div class="trialbook" style="font-family:sans-serif;font-size:13px">'
        f'<div style="font-weight:bold;margin:4px 0">{esc(title)}</div>{body}</div>'
    )


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    numeric: Iterable[int] = (),
    raw: Iterable[int] = (),
    max_rows: int = MAX_ROWS,
) -> str:
    """A table; cells are escaped (those in columns ``raw`` are trusted HTML) and the columns
    ``numeric`` are right-aligned. Rows past ``max_rows`` are counted, not shown."""
    right, trusted = set(numeric), set(raw)
    head = "".join(
        f'<th style="{_NUM if i in right else _CELL}">{esc(h)}</th>' for i, h in enumerate(headers)
    )
    body: list[str] = []
    left_out = 0
    for row in rows:
        if len(body) >= max_rows:
            left_out += 1
            continue
        cells = "".join(
            f'<td style="{_NUM if i in right else _CELL}">{c if i in trusted else esc(c)}</td>'
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    more = f"<div>… and {left_out:,} more</div>" if left_out else ""
    return (
        '<table style="border-collapse:collapse;margin:4px 0">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"
    )


def fields(pairs: Iterable[tuple[str, Any]]) -> str:
    """``key  value`` rows (values escaped; a multi-line value keeps its lines)."""
    rows = []
    for key, value in pairs:
        text = esc(value)
        if "\n" in str(value):
            text = f'<pre style="margin:0;white-space:pre-wrap">{text}</pre>'
        rows.append(
            f'<tr><th style="{_CELL};font-weight:bold">{esc(key)}</th>'
            f'<td style="{_CELL}">{text}</td></tr>'
        )
    return f'<table style="border-collapse:collapse;margin:4px 0">{"".join(rows)}</table>'


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _status(status: str) -> str:
    colour = _STATUS_COLOURS.get(status, "#6e7781")
    return f'<span style="color:{colour};font-weight:bold">{esc(status)}</span>'


def _flat(config: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _flat(value, f"{name}.")
        else:
            yield name, value


def record_html(record: RunRecord) -> str:
    """A run as stored: identity, status, timings, git, tags, notes, its error and config."""
    return box(f"Run {record.name} ({record.short_id})", *_record_parts(record))


def _record_parts(record: RunRecord) -> list[str]:
    git = None
    if record.git_commit:
        git = record.git_commit[:12] + (" (dirty)" if record.git_dirty else "")
        git += f" on {record.git_branch}" if record.git_branch else ""
    pairs: list[tuple[str, Any]] = [
        ("id", record.id),
        ("experiment", record.experiment),
        ("seed", "-" if record.seed is None else record.seed),
        ("group", record.group_key[:12]),
        ("started", _when(record.started_at)),
        ("ended", _when(record.ended_at)),
        ("duration", fmt_duration(record.duration)),
    ]
    pairs += [(k, v) for k, v in (("tags", ", ".join(record.tags)), ("notes", record.notes)) if v]
    pairs += [(k, v) for k, v in (("git", git), ("host", record.host)) if v]
    pairs += [("folder", record.folder or "-")]
    if record.error:
        pairs.append(("error", record.error))
    config = list(_flat(record.config))
    return [
        f"<div>{_status(record.status)}</div>",
        fields(pairs),
        table(["config key", "value"], config) if config else "",
    ]


def _metrics_table(summaries: Mapping[str, MetricSummary]) -> str:
    rows = [
        (key, fmt_number(s.last), s.last_step, fmt_number(s.min), fmt_number(s.max), s.count)
        for key, s in sorted(summaries.items())
    ]
    return table(["metric", "last", "step", "min", "max", "points"], rows, numeric=(1, 2, 3, 4, 5))


#: Metrics of a run drawn in its notebook view; longer histories are listed, not drawn.
_PLOTTED_METRICS = 6
_PLOTTED_POINTS = 200_000


def run_html(store: Store, run_id: str) -> str:
    """A run read from ``store``: the record's view, its metrics (last, min, max) and a plot
    of each of its first metrics (system metrics left out)."""
    record = store.get_run(run_id)
    summaries = store.metric_summaries([run_id]).get(run_id, {})
    plots: list[str] = []
    drawn = [
        k
        for k in sorted(summaries)
        if not k.startswith("system/") and summaries[k].count <= _PLOTTED_POINTS
    ]
    for key in drawn[:_PLOTTED_METRICS]:
        h = store.metric_history(run_id, key)
        plots.append(line_plot([(key, h.steps, h.values)], width=260, height=110, title=key))
    parts = _record_parts(record)
    if summaries:
        parts.append(_metrics_table(summaries))
    if plots:
        parts.append(f'<div style="display:flex;flex-wrap:wrap;gap:8px">{"".join(plots)}</div>')
    return box(f"Run {record.name} ({record.short_id})", *parts)


def history_html(history: MetricHistory) -> str:
    """One metric's points: how many, over which steps, last/min/max, and a plot."""
    finite = [v for v in history.values if math.isfinite(v)]
    pairs: list[tuple[str, Any]] = [("points", f"{len(history):,}")]
    if history.steps:
        pairs += [
            ("steps", f"{history.steps[0]:,} to {history.steps[-1]:,}"),
            ("last", fmt_number(history.values[-1])),
            ("min", fmt_number(min(finite)) if finite else "-"),
            ("max", fmt_number(max(finite)) if finite else "-"),
        ]
    plot = line_plot([(history.key, history.steps, history.values)]) if history.steps else ""
    title = f"{history.key} of run {history.run_id}"
    return box(title, fields(pairs), plot)


def line_plot(
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    width: int = 480,
    height: int = 200,
    title: str | None = None,
) -> str:
    """An inline SVG of one line per ``(label, x, y)`` (x ascending), with the x and y ranges
    written on the axes and a legend when there are several. Non-finite y values break the
    line. A series longer than the plot is wide is drawn from the min and max of each pixel
    column, so a spike stays visible."""
    pad_l, pad_r, pad_t, pad_b = 52, 8, 18 if title else 8, 22
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    drawn = [(label, _columns(xs, ys, w)) for label, xs, ys in series]
    xs_all = [x for _, pts in drawn for x, _ in pts]
    ys_all = [y for _, pts in drawn for _, y in pts if y is not None]
    if not xs_all or not ys_all:
        return ""
    x0, x1 = min(xs_all), max(xs_all)
    y0, y1 = min(ys_all), max(ys_all)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def px(x: float) -> float:
        return pad_l + (x - x0) / (x1 - x0) * w

    def py(y: float) -> float:
        return pad_t + h - (y - y0) / (y1 - y0) * h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="font:10px sans-serif">',
        f'<rect x="{pad_l}" y="{pad_t}" width="{w}" height="{h}" fill="none" stroke="#ccc"/>',
    ]
    if title:
        out.append(f'<text x="{pad_l}" y="12" font-weight="bold">{esc(title)}</text>')
    out += [
        f'<text x="{pad_l - 4}" y="{pad_t + 8}" text-anchor="end">{esc(fmt_number(y1))}</text>',
        f'<text x="{pad_l - 4}" y="{pad_t + h}" text-anchor="end">{esc(fmt_number(y0))}</text>',
        f'<text x="{pad_l}" y="{height - 6}">{esc(fmt_number(x0))}</text>',
        f'<text x="{pad_l + w}" y="{height - 6}" text-anchor="end">{esc(fmt_number(x1))}</text>',
    ]
    for i, (label, pts) in enumerate(drawn):
        colour = PALETTE[i % len(PALETTE)]
        for run in _segments(pts):
            coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in run)
            if len(run) == 1:
                x, y = run[0]
                out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="1.5" fill="{colour}"/>')
            else:
                out.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" '
                    f'points="{coords}"/>'
                )
        if len(drawn) > 1:
            ly = pad_t + 12 * (i + 1)
            out.append(
                f'<text x="{pad_l + w - 4}" y="{ly}" text-anchor="end" fill="{colour}">'
                f"{esc(label)}</text>"
            )
    out.append("</svg>")
    return "".join(out)


def _columns(
    xs: Sequence[float], ys: Sequence[float], width: int
) -> list[tuple[float, float | None]]:
    """The points to draw: all of them when they fit in ``width`` columns, else per column
    its first x with the min and max y (None: a gap for non-finite values)."""
    pts = [(float(x), float(y) if math.isfinite(y) else None) for x, y in zip(xs, ys, strict=False)]
    buckets = max(width, 1)
    if len(pts) <= 2 * buckets:
        return pts
    kept: list[tuple[float, float | None]] = []
    size = len(pts) / buckets
    for b in range(buckets):
        chunk = pts[int(b * size) : int((b + 1) * size)]
        values = [y for _, y in chunk if y is not None]
        if not values:
            kept.append((chunk[0][0], None))
            continue
        lo, hi = min(values), max(values)
        kept += [(chunk[0][0], lo), (chunk[-1][0], hi)] if lo != hi else [(chunk[0][0], lo)]
    return kept


def _segments(pts: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in pts:
        if y is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y))
    return [r for r in runs if r]
