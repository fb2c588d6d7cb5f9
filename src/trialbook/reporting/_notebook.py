"""HTML for notebooks of the analysis results: comparisons, significance tests and seed-group
listings (their ``_repr_html_`` calls :func:`notebook_html`). Records of the Store and runs
render in ``trialbook._html``, whose escaped tables and SVG plots these reuse."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from trialbook._format import fmt_mean_std, fmt_number
from trialbook._html import PALETTE, box, esc, fields, table
from trialbook.errors import TrialbookError

if TYPE_CHECKING:
    from trialbook.analysis import Comparison, GroupListing, MetricRow, TestResult

__all__ = [
    "comparison_html",
    "group_listing_html",
    "notebook_html",
    "test_result_html",
    "test_results_html",
]


def notebook_html(obj: Any) -> str:
    """HTML showing ``obj`` in a notebook: a :class:`~trialbook.analysis.Comparison`, a
    :class:`~trialbook.analysis.TestResult` or a list of them (what
    :func:`~trialbook.analysis.significance` returns), a
    :class:`~trialbook.analysis.GroupListing`, a :class:`~trialbook.store.RunRecord`, a
    :class:`~trialbook.store.MetricHistory` or a :class:`~trialbook.tracking.Run`. Every
    user string is escaped.

    Raises:
        TrialbookError: ``obj`` is none of these.
    """
    kind = type(obj).__name__
    if kind == "Comparison":
        return comparison_html(obj)
    if kind == "TestResult":
        return test_result_html(obj)
    if kind == "GroupListing":
        return group_listing_html(obj)
    if isinstance(obj, list | tuple) and obj and all(type(r).__name__ == "TestResult" for r in obj):
        return test_results_html(obj)
    if kind in ("RunRecord", "MetricHistory", "Run"):
        html: str = obj._repr_html_()
        return html
    raise TrialbookError(
        f"Cannot show a {kind} as HTML; pass a Comparison, TestResult (or a list of them), "
        "GroupListing, RunRecord, MetricHistory or Run.",
        parameter="obj",
        value=kind,
    )


def _num(value: float | None) -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (fmt_number(value))
    )


def _test_rows(r: TestResult) -> list[tuple[str, Any]]:
    return list(r.details())


def _verdict(text: str, significant: bool) -> str:
    colour = "#1a7f37" if significant else "#57606a"
    return f'<p style="margin:4px 0;color:{colour}">{esc(text)}</p>'


def test_result_html(r: TestResult) -> str:
    """One test: its verdict (the sentence ``trialbook significance`` prints), the means,
    the difference with its interval, the p-value and the effect size."""
    return box(f"{r.b} vs {r.a}", _verdict(r.verdict, r.significant), fields(_test_rows(r)))


def test_results_html(results: Sequence[TestResult]) -> str:
    """Several tests (the first entry against each other): one block each."""
    return "".join(test_result_html(r) for r in results)


def _config_cell(value: Any) -> str:
    return "-" if value is None else str(value)


def _value_cell(row: MetricRow, i: int, kinds: Sequence[str]) -> str:
    value = row.values[i]
    if value is None:
        return "-"
    text = esc(fmt_number(value))
    if kinds[i] == "group":
        text += f' <span style="color:#57606a">(n={row.n[i]})</span>'
    change, relative = row.change[i], row.relative[i]
    if i > 0 and change is not None:
        rel = f", {relative * 100:+.1f}%" if relative is not None else ""
        text += f' <span style="color:#57606a">{esc(f"{change:+.4g}{rel}")}</span>'
    return f"<b>{text}</b>" if row.best == i else text


def comparison_html(c: Comparison) -> str:
    """Runs or groups side by side: the config keys that differ, each table's metrics (the
    best in bold, the change against the first entry) and its verdict."""
    labels = list(c.entries)
    parts = [
        fields([(label, kind) for label, kind in zip(labels, c.kinds, strict=True)]),
        "<div><b>config differences</b></div>",
        table(
            ["key", *labels],
            [[key, *(_config_cell(v) for v in values)] for key, values in c.config.items()],
        )
        if c.config
        else "<div>none: the configs are the same</div>",
    ]
    # The value columns (1..n) hold HTML built (and escaped) here.
    raw = range(1, len(labels) + 1)
    for name, rows in c.tables.items():
        parts.append(f"<div><b>{esc(name)}</b> (change vs {esc(labels[0])}; best in bold)</div>")
        parts.append(
            table(
                ["metric", *labels],
                [
                    [r.metric, *(_value_cell(r, i, c.kinds) for i in range(len(labels)))]
                    for r in rows
                ],
                numeric=raw,
                raw=raw,
            )
        )
        verdict = c.verdicts.get(name)
        if verdict is not None:
            parts.append(_verdict(verdict.text, verdict.winner is not None))
    return box(f"Comparing {len(labels)} entries", *parts)


def group_listing_html(listing: GroupListing) -> str:
    """Seed groups, one row each (n, seeds, mean ± std and the interval per metric), with a
    plot of each group's mean and interval of the first metric."""
    level = f"{listing.level * 100:g}% CI"
    headers = ["group", "experiment", "name", "n", "seeds"]
    for header, _ in listing.metrics:
        headers += [f"{header} mean ± std", f"{header} {level}"]
    rows: list[list[Any]] = []
    groups: list[dict[str, Any]] = [
        {str(k): v for k, v in g.items()} for g in listing.groups.to_dict("records")
    ]
    for g in groups:
        row: list[Any] = [
            listing.refs[str(g["group"])],
            g["experiment"],
            g["name"],
            int(g["n"]),
            ",".join(str(s) for s in g["seeds"]) or "-",
        ]
        for _, col in listing.metrics:
            mean, std = g[f"{col}.mean"], g[f"{col}.std"]
            low, high = g[f"{col}.ci_low"], g[f"{col}.ci_high"]
            row.append("-" if math.isnan(mean) else fmt_mean_std(mean, std))
            row.append(
                "-"
                if math.isnan(mean)
                else f"n={g['n']}"
                if math.isnan(low)
                else f"[{fmt_number(low)}, {fmt_number(high)}]"
            )
        rows.append(row)
    numeric = [3, *range(5, len(headers))]
    parts = [table(headers, rows, numeric=numeric)]
    if listing.metrics and groups:
        header, col = listing.metrics[0]
        parts.append(_interval_plot(header, groups, col, listing.refs))
    if listing.note:
        parts.append(f'<div style="color:#57606a">note: {esc(listing.note)}</div>')
    return box(f"{len(groups)} seed groups", *parts)


def _interval_plot(
    header: str, groups: list[dict[str, Any]], col: str, refs: dict[str, str]
) -> str:
    """An SVG of each group's mean (a dot) and interval (a bar), one row per group."""
    shown = [g for g in groups[:30] if not math.isnan(g[f"{col}.mean"])]
    if not shown:
        return ""
    values = [
        v
        for g in shown
        for v in (g[f"{col}.mean"], g[f"{col}.ci_low"], g[f"{col}.ci_high"])
        if not math.isnan(v)
    ]
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1
    label_w, width, row_h = 160, 520, 18
    w = width - label_w - 16
    height = row_h * len(shown) + 30

    def px(v: float) -> float:
        return float(label_w + (v - lo) / (hi - lo) * w)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="font:10px sans-serif">',
        f'<text x="{label_w}" y="10" font-weight="bold">{esc(header)} (mean and interval)</text>',
    ]
    colour = PALETTE[0]
    for i, g in enumerate(shown):
        y = 22 + i * row_h
        name = f"{g['name']} ({refs.get(str(g['group']), '')})"
        out.append(f'<text x="{label_w - 6}" y="{y + 4}" text-anchor="end">{esc(name[:40])}</text>')
        low, high, mean = g[f"{col}.ci_low"], g[f"{col}.ci_high"], g[f"{col}.mean"]
        if not math.isnan(low):
            out.append(
                f'<line x1="{px(low):.1f}" x2="{px(high):.1f}" y1="{y}" y2="{y}" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
        out.append(f'<circle cx="{px(mean):.1f}" cy="{y}" r="3.5" fill="{colour}"/>')
    base = height - 4
    out += [
        f'<text x="{label_w}" y="{base}">{esc(fmt_number(lo))}</text>',
        f'<text x="{label_w + w}" y="{base}" text-anchor="end">{esc(fmt_number(hi))}</text>',
        "</svg>",
    ]
    return "".join(out)
