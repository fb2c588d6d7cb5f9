"""The compare API: runs and seed groups side by side, and their curves overlaid.

``runs`` are run references (:meth:`trialbook.store.Store.get_run`), ``groups`` seed-group
references (``group:<key prefix>``; a bare key prefix gets the ``group:`` added). Entries are
the runs first, then the groups, each in the order given; the first is the baseline. At most
:data:`MAX_ENTRIES`.

What is shown comes from the library: config differences
(:func:`trialbook.analysis.differing_config`), metrics with intervals
(:func:`trialbook.analysis.metric_intervals`), the verdict
(:func:`trialbook.analysis.significance`, the sentence ``trialbook significance A B``
prints), changed samples (:func:`trialbook.analysis.changed_samples`) and curves
(:func:`trialbook.analysis.read_curve`, :func:`trialbook.analysis.group_curve`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from trialbook.dashboard._api_run import MAX_POINTS, MIN_POINTS, finite
from trialbook.dashboard._state import State
from trialbook.errors import TrialbookError

if TYPE_CHECKING:
    from trialbook.analysis import Entry
    from trialbook.store import Store

__all__ = ["router"]

router = APIRouter(tags=["compare"])

#: The most runs and groups one comparison takes.
MAX_ENTRIES = 200
#: The most metrics a comparison lists.
MAX_METRICS = 200
#: The most regressions (and fixes) listed for two runs.
MAX_CHANGED = 200
#: The points all curves of one response share at most (each gets at least 50).
CURVE_BUDGET = 20_000

Refs = Annotated[list[str] | None, Query()]


def _group_ref(ref: str) -> str:
    return ref if ref.startswith("group:") else f"group:{ref}"


def _entries(store: Store, runs: Sequence[str], groups: Sequence[str]) -> list[Entry]:
    """The entries ``runs`` and ``groups`` name, runs first; each label is the reference as
    given (a group's with ``group:``), as the CLI labels it."""
    from trialbook.analysis import Entry, resolve_refs

    total = len(runs) + len(groups)
    if total == 0:
        raise TrialbookError(
            "Nothing to compare; pass runs=REF and/or groups=KEY (repeatable).",
            parameter="runs",
        )
    if total > MAX_ENTRIES:
        raise TrialbookError(
            f"At most {MAX_ENTRIES} runs and groups can be compared at once, got {total}; "
            "select fewer.",
            parameter="runs",
            value=total,
        )
    refs: list[str | Entry] = []
    for ref in runs:
        record = store.get_run(ref)
        refs.append(Entry(ref, "run", (record,), record.group_key))
    refs.extend(_group_ref(g) for g in groups)
    return resolve_refs(refs, store)


def _label(entry: Entry) -> str:
    first = entry.runs[0]
    if entry.kind == "run":
        return f"{first.name} ({first.short_id})"
    from trialbook.analysis import group_ref

    return f"{first.name} [{group_ref(entry.group_key)}, n={len(entry.runs)}]"


# --------------------------------------------------------------------------- compare
class EntryOut(BaseModel):
    """One side of the comparison: ``ref`` as given, ``label`` for people (a run's name and
    short id; a group's name, ``group:`` key and number of seeds)."""

    ref: str
    label: str
    kind: Literal["run", "group"]
    run_ids: list[str]


class ConfigDifferenceOut(BaseModel):
    key: str
    values: list[Any]


class MetricValueOut(BaseModel):
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    n: int


class MetricOut(BaseModel):
    """One metric (``eval.<benchmark>.<metric>`` or ``metrics.<key>``), one value per entry
    (null where an entry lacks it)."""

    metric: str
    values: list[MetricValueOut | None]


class VerdictOut(BaseModel):
    """The significance test of the second entry against the first: ``text`` is the sentence
    ``trialbook significance A B`` prints; ``effect`` the effect size (``effect_name``),
    ``ci_low``/``ci_high`` the interval of the difference (B - A)."""

    text: str
    test: str
    p_value: float | None
    effect: float | None
    effect_name: str
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    metric: str | None
    benchmark: str | None
    note: str | None


class ChangedSampleOut(BaseModel):
    id: str
    input: str
    reference: str | None
    a: str | None
    b: str | None


class ChangedSamplesOut(BaseModel):
    """Samples of ``benchmark`` the two runs disagree on: ``regressions`` (the first right,
    the second wrong) and ``fixes``; at most 200 each listed, ``n_regressions``/``n_fixes``
    count them all."""

    benchmark: str
    regressions: list[ChangedSampleOut]
    fixes: list[ChangedSampleOut]
    n_regressions: int
    n_fixes: int


class CompareOut(BaseModel):
    """Runs and groups side by side. ``verdict`` is set for exactly two entries when a test
    applies (else ``verdict_note`` says why not); ``changed_samples`` for exactly two runs
    evaluated on a common benchmark. ``metrics`` holds at most 200 (``total_metrics`` all)."""

    entries: list[EntryOut]
    config_differences: list[ConfigDifferenceOut]
    metrics: list[MetricOut]
    total_metrics: int
    verdict: VerdictOut | None
    verdict_note: str | None
    changed_samples: ChangedSamplesOut | None


def _verdict(
    entries: list[Entry], store: Store, benchmark: str | None, metric: str | None
) -> tuple[VerdictOut | None, str | None]:
    from trialbook.analysis import significance

    if len(entries) != 2:
        return None, "A verdict is given for exactly two runs or groups."
    try:
        (r,) = significance(entries, benchmark=benchmark, metric=metric, store=store)
    except TrialbookError as e:
        return None, str(e)
    return (
        VerdictOut(
            text=r.verdict,
            test=r.test,
            p_value=finite(r.p_value),
            effect=finite(r.effect_size),
            effect_name=r.effect_name,
            difference=finite(r.difference),
            ci_low=finite(r.ci_low),
            ci_high=finite(r.ci_high),
            metric=r.metric,
            benchmark=r.benchmark,
            note=r.note,
        ),
        None,
    )


def _changed(entries: list[Entry], store: Store, benchmark: str | None) -> ChangedSamplesOut | None:
    from trialbook.analysis import changed_samples

    if len(entries) != 2 or any(e.kind != "run" for e in entries):
        return None
    from trialbook.errors import RunNotFoundError

    try:
        got = changed_samples(store, entries[0].run_ids[0], entries[1].run_ids[0], benchmark)
    except RunNotFoundError:  # one of the two was not evaluated on that benchmark
        return None
    if got is None:
        return None

    def rows(items: Sequence[Any]) -> list[ChangedSampleOut]:
        return [
            ChangedSampleOut(id=c.id, input=c.input, reference=c.reference, a=c.a, b=c.b)
            for c in items[:MAX_CHANGED]
        ]

    return ChangedSamplesOut(
        benchmark=got.benchmark,
        regressions=rows(got.regressions),
        fixes=rows(got.fixes),
        n_regressions=len(got.regressions),
        n_fixes=len(got.fixes),
    )


@router.get("/compare", response_model=CompareOut)
def get_compare(
    state: State,
    runs: Refs = None,
    groups: Refs = None,
    metric: str | None = None,
    benchmark: str | None = None,
) -> CompareOut:
    """Runs and seed groups side by side: config differences only, every metric with its
    mean and 95% interval per entry, the significance verdict for two entries (``metric`` /
    ``benchmark`` choose what it tests, as ``trialbook significance``'s options) and, for two
    runs, the samples that changed."""
    from trialbook.analysis import differing_config, metric_intervals

    store = state.store
    entries = _entries(store, runs or [], groups or [])
    config = differing_config(entries, store)
    metrics = metric_intervals(entries, store)
    verdict, why = _verdict(entries, store, benchmark or None, metric or None)
    return CompareOut(
        entries=[
            EntryOut(ref=e.label, label=_label(e), kind=e.kind, run_ids=e.run_ids) for e in entries
        ],
        config_differences=[
            ConfigDifferenceOut(key=k, values=finite(list(v))) for k, v in config.items()
        ],
        metrics=[
            MetricOut(
                metric=m.metric,
                values=[
                    None
                    if v is None
                    else MetricValueOut(
                        mean=finite(v.mean),
                        ci_low=finite(v.ci_low),
                        ci_high=finite(v.ci_high),
                        n=v.n,
                    )
                    for v in m.values
                ],
            )
            for m in metrics[:MAX_METRICS]
        ],
        total_metrics=len(metrics),
        verdict=verdict,
        verdict_note=why,
        changed_samples=_changed(entries, store, benchmark or None),
    )


# --------------------------------------------------------------------------- curves
class CurveOut(BaseModel):
    """One entry's curve: a run's downsampled points (``y_low``/``y_high`` null), or a
    group's mean over its seeds with the 95% band. ``n``: runs with the key."""

    ref: str
    label: str
    kind: Literal["run", "group"]
    x: list[float | None]
    y: list[float | None]
    y_low: list[float | None] | None
    y_high: list[float | None] | None
    n: int


class CompareHistoryOut(BaseModel):
    """Curves of metric ``key`` for each entry; ``points`` is what each curve got at most."""

    key: str
    x_axis: str
    points: int
    curves: list[CurveOut]


def _floats(values: Sequence[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


@router.get("/compare/history", response_model=CompareHistoryOut)
def get_compare_history(
    state: State,
    key: str,
    runs: Refs = None,
    groups: Refs = None,
    x: Literal["step", "time", "relative"] = "step",
    points: Annotated[int, Query(ge=MIN_POINTS, le=MAX_POINTS)] = 500,
) -> CompareHistoryOut:
    """Metric ``key`` of every entry: each curve has at most
    ``min(points, max(50, 20000 // entries))`` points, so 200 entries stay bounded. A key no
    entry logged is a 422."""
    from trialbook.analysis import curve_points, group_curve, read_curve

    store = state.store
    entries = _entries(store, runs or [], groups or [])
    each = min(points, curve_points(len(entries), budget=CURVE_BUDGET))
    curves: list[CurveOut] = []
    for e in entries:
        if e.kind == "run":
            c = read_curve(store, e.run_ids[0], key, x=x, max_points=max(each, 2), envelope=False)
            curves.append(
                CurveOut(
                    ref=e.label,
                    label=_label(e),
                    kind="run",
                    x=_floats(c.points.x),
                    y=_floats(c.points.y),
                    y_low=None,
                    y_high=None,
                    n=1 if c.points.total else 0,
                )
            )
        else:
            g = group_curve(store, e.run_ids, key, x=x, max_points=max(each, 2))
            curves.append(
                CurveOut(
                    ref=e.label,
                    label=_label(e),
                    kind="group",
                    x=_floats(g.x),
                    y=_floats(g.mean),
                    y_low=_floats(g.low),
                    y_high=_floats(g.high),
                    n=g.n,
                )
            )
    if not any(c.n for c in curves):
        raise TrialbookError(
            f"No entry logged metric {key!r}; choose a key from /api/runs/{{ref}}/metrics.",
            parameter="key",
            value=key,
        )
    return CompareHistoryOut(key=key, x_axis=x, points=each, curves=curves)
