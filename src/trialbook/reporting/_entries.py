"""The sides of a report (a run or a seed group) and their metric values, as the HTML report's
comparison and the Markdown / LaTeX metrics table show them."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from trialbook._format import fmt_mean_std
from trialbook.analysis._samples import latest_evaluations
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.analysis._refs import Entry
    from trialbook.store import RunRecord, Store

__all__ = ["MetricValues", "ReportEntry", "entry_values", "metrics_table", "report_entries"]

TableFormat = Literal["md", "latex"]
#: Decimals of the metrics table's numbers (a paper's table: ``0.600 ± 0.050``).
TABLE_DIGITS = 3


@dataclass(frozen=True)
class ReportEntry:
    """One side of a report: a label and its runs (one run, or the runs of a seed group)."""

    label: str
    runs: tuple[RunRecord, ...]
    kind: str = "run"
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricValues:
    """One metric over an entry's runs: the mean, the sample standard deviation (NaN for a
    single run) and the number of runs that have it."""

    mean: float
    std: float
    n: int

    def text(self, digits: int | None = None) -> str:
        """``mean ± std`` as every table writes it (:func:`trialbook.reporting.fmt_mean_std`)."""
        return fmt_mean_std(self.mean, self.std, digits=digits)


def report_entries(refs: Sequence[str | Entry], store: Store) -> list[ReportEntry]:
    """The entries the references name (see :func:`trialbook.analysis.resolve_refs`)."""
    from trialbook.analysis._refs import resolve_refs

    return [ReportEntry(e.label, tuple(e.runs), e.kind) for e in resolve_refs(refs, store)]


def entry_values(store: Store, entry: ReportEntry) -> dict[str, MetricValues]:
    """``{column: MetricValues}`` over the entry's runs: each final training metric
    (``metrics.<key>``, its last value) and each numeric metric of the latest evaluation per
    benchmark (``eval.<benchmark>.<metric>``), the column names of ``load_runs``."""
    import numpy as np

    from trialbook.config import flatten_config

    values: dict[str, list[float]] = {}
    summaries = store.metric_summaries([r.id for r in entry.runs])
    for run in entry.runs:
        for key, s in summaries.get(run.id, {}).items():
            values.setdefault(f"metrics.{key}", []).append(s.last)
        for bench, ev in latest_evaluations(store, run.id).items():
            for key, v in flatten_config(ev.metrics).items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    values.setdefault(f"eval.{bench}.{key}", []).append(float(v))
    out = {}
    for key, vs in values.items():
        arr = np.asarray(vs, dtype=float)
        std = float(arr.std(ddof=1)) if len(arr) > 1 else math.nan
        out[key] = MetricValues(float(arr.mean()), std, len(arr))
    return out


def metrics_table(
    refs: Sequence[str | Entry] | str,
    fmt: TableFormat = "md",
    *,
    out: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
    store: Store | None = None,
) -> str:
    """The metrics of runs or seed groups side by side, one row per entry (``entry``, ``n``,
    then every metric column as ``mean ± std`` with three decimals), as a Markdown table
    (``fmt="md"``) or a LaTeX booktabs tabular (``fmt="latex"``); returns the text.

    With ``out`` the text is also written there, atomically (nothing is written when a
    reference is wrong).

    Raises:
        ConfigError: an unknown ``fmt``, no references, or ``out`` cannot be written.
        RunNotFoundError: a reference names nothing.
    """
    if fmt not in ("md", "latex"):
        raise ConfigError(
            f"fmt={fmt!r} is not a table format; use 'md' or 'latex'.", parameter="fmt", value=fmt
        )
    refs = [refs] if isinstance(refs, str) else list(refs)
    if not refs:
        raise ConfigError(
            "refs is empty; name at least one run or group to tabulate.", parameter="refs"
        )
    if store is None:
        from trialbook._workspace import open_store

        with open_store(root) as db:
            text = _table(refs, db, fmt)
    else:
        text = _table(refs, store, fmt)
    if out is not None:
        write_text(Path(out), text, "the table")
    return text


def _table(refs: Sequence[str | Entry], store: Store, fmt: TableFormat) -> str:
    import pandas as pd

    from trialbook.reporting._tables import to_latex, to_markdown

    rows = []
    for entry in report_entries(refs, store):
        row: dict[str, object] = {"entry": entry.label, "n": len(entry.runs)}
        for key, v in sorted(entry_values(store, entry).items()):
            row[key] = v.text(TABLE_DIGITS)
        rows.append(row)
    frame = pd.DataFrame(rows).fillna("")
    return to_markdown(frame) if fmt == "md" else to_latex(frame)


def write_text(target: Path, text: str, what: str) -> None:
    """Write ``text`` to ``target`` atomically, creating its folder; a ConfigError naming
    ``out`` when that cannot be done."""
    from trialbook._atomic import atomic_write

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, text)
    except OSError as e:
        raise ConfigError(
            f"Cannot write {what} to {target} ({e.strerror or e}); choose another out=PATH.",
            parameter="out",
            value=str(target),
        ) from None
