"""``trialbook leaderboard``, ``trialbook compare`` and ``trialbook significance``: rank, put side
by side, and test runs and seed groups (see :mod:`trialbook.analysis`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from trialbook.cli._options import (
    JsonOption,
    RootOption,
    StoreOption,
    SuiteOption,
    WhereOption,
    int64,
    open_store,
    resolve_names,
)
from trialbook.cli._output import Cell, Column, Output, Styled, fmt_number, jsonable, print_json

if TYPE_CHECKING:
    from trialbook.analysis._compare import Comparison, MetricRow
    from trialbook.analysis._stats import TestResult

__all__ = ["MAX_RESAMPLES", "compare", "leaderboard", "significance"]

#: The most --resamples a significance test takes (the default is 10,000).
MAX_RESAMPLES = 10_000_000

_REFS_HELP = (
    "Two or more runs (id, id prefix, short id or name) or seed groups ('group:<key prefix>', "
    "an experiment or a name shared by its seeds, 'suite/experiment'). A name that fits "
    "several groups means the newest one that has the benchmark or metric compared; a note "
    "on stderr says which and lists the others."
)
BenchmarkOption = Annotated[
    str | None, typer.Option("--benchmark", "-b", help="Benchmark whose metric to use.")
]
MetricOption = Annotated[
    str | None,
    typer.Option(
        "--metric",
        "-m",
        help="Metric (default: the benchmark's accuracy, else its first metric); alone, a "
        "logged training metric such as loss.",
    ),
]


def _num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt_number(float(value))


def _signed(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    text = fmt_number(float(value))
    return text if text.startswith("-") else f"+{text}"


def _pct(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value * 100:+.1f}%"


# --------------------------------------------------------------------------- leaderboard
def leaderboard(
    ctx: typer.Context,
    benchmark: BenchmarkOption = None,
    metric: MetricOption = None,
    top: Annotated[
        int | None,
        typer.Option("--top", "-n", parser=int64(), help="Show the first N entries."),
    ] = 20,
    by: Annotated[
        str, typer.Option("--by", help="Rank single runs ('run') or seed groups ('group').")
    ] = "run",
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="Only this experiment's runs.")
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", parser=int64(min=0), help="Seed of the bootstrap tests.")
    ] = 0,
    suite: SuiteOption = None,
    where: WhereOption = None,
    as_json: JsonOption = False,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Rank completed runs or seed groups by a metric; mark those tied with the leader.

    An entry is tied when a test against the leader (McNemar / paired bootstrap on per-sample
    scores for runs, Welch across seeds for groups; Holm-corrected) finds no significant
    difference at 95%; "no" when it does; "untested" when it could not be tested (no
    per-sample scores, one seed, beyond the first 20). Groups show the mean over seeds with a
    95% t-interval. --json prints one object: benchmark, metric, goal, by and rows.
    """
    from trialbook.analysis._leaderboard import leaderboard as build
    from trialbook.analysis._refs import group_ref
    from trialbook.errors import ConfigError

    if by not in ("run", "group"):
        raise ConfigError(f"--by must be 'run' or 'group', got {by!r}.")
    mode: Literal["run", "group"] = "run" if by == "run" else "group"
    with open_store(ctx, root, store) as db:
        frame = build(
            benchmark=benchmark,
            metric=metric,
            top=top,
            by=mode,
            experiment=experiment,
            seed=seed,
            suite=suite,
            where=where,
            store=db,
        )
    note = frame.attrs.get("note")
    if note:
        typer.echo(f"note: {note}", err=True)
    what = " ".join(x for x in (frame.attrs.get("benchmark"), frame.attrs.get("metric")) if x)
    goal = "higher" if frame.attrs.get("goal", "max") == "max" else "lower"
    title = f"Leaderboard: {what} ({goal} is better), by {by}"
    groups = by == "group"
    records = frame.to_dict(orient="records")
    for r in records:
        r["id"] = group_ref(str(r["id"])) if groups else r["id"]
    if as_json:
        print_json(
            {
                "benchmark": frame.attrs.get("benchmark"),
                "metric": frame.attrs.get("metric"),
                "goal": frame.attrs.get("goal"),
                "by": by,
                "note": note,
                "rows": [
                    {
                        k: (None if isinstance(v, float) and math.isnan(v) else v)
                        for k, v in r.items()
                    }
                    for r in records
                ],
            }
        )
        return
    out = Output()
    out.line(title)
    if frame.empty:
        out.line("no completed run has that metric")
        return
    columns = [Column("rank", "right"), Column("entry", overflow="ellipsis", min_width=8)]
    columns += [Column("group" if groups else "run")]
    columns += [Column("value", "right")]
    if groups:
        columns += [Column("95% CI", "right"), Column("n", "right")]
    columns += [Column("p vs leader", "right"), Column("tied")]
    marks: dict[str, Cell] = {
        "leader": Styled("leader", "bold green"),
        "tied": Styled("tied", "yellow"),
        "behind": "no",
        "untested": Styled("untested", "dim"),
    }
    rows: list[list[Cell]] = []
    for r in records:
        row: list[Cell] = [str(r["rank"]), str(r["entry"]), str(r["id"]), _num(r["value"])]
        if groups:
            ci = "-" if math.isnan(r["ci_low"]) else f"{_num(r['ci_low'])} to {_num(r['ci_high'])}"
            row += [ci, str(r["n"])]
        p = "-" if math.isnan(r["p_adjusted"]) else _num(r["p_adjusted"])
        row += [p, marks[str(r["status"])]]
        rows.append(row)
    out.table(columns, rows, optional=2)


# --------------------------------------------------------------------------- compare
def _value_cell(row: MetricRow, i: int, kinds: tuple[str, ...]) -> Cell:
    text = _num(row.values[i])
    if kinds[i] == "group" and row.values[i] is not None:
        text += f" (n={row.n[i]})"
    if i > 0 and row.change[i] is not None:
        rel = f", {_pct(row.relative[i])}" if row.relative[i] is not None else ""
        text += f" [{_signed(row.change[i])}{rel}]"
    if row.best == i:
        return Styled(text + " *", "bold green")
    return text


def _render_compare(c: Comparison, out: Output) -> None:
    labels = list(c.entries)
    out.heading(f"comparing {len(labels)} entries")
    out.fields([(label, kind) for label, kind in zip(labels, c.kinds, strict=True)], indent=2)
    out.heading("config differences")
    if c.config:
        out.table(
            [Column("key"), *(Column(label, overflow="fold") for label in labels)],
            [
                [
                    key,
                    *(
                        _num(v) if isinstance(v, float) else str(v) if v is not None else "-"
                        for v in values
                    ),
                ]
                for key, values in c.config.items()
            ],
            indent=2,
        )
    else:
        out.line("  none: the configs are the same")
    for table, rows in c.tables.items():
        out.heading(f"{table}  (change vs {labels[0]}; * = best)")
        out.table(
            [Column("metric"), *(Column(label, "right", overflow="fold") for label in labels)],
            [[r.metric, *(_value_cell(r, i, c.kinds) for i in range(len(labels)))] for r in rows],
            indent=2,
        )
        win, margin, primary = c.winner.get(table), c.margin.get(table), c.primary.get(table)
        row = next((r for r in rows if r.metric == primary), None)
        if row is None:
            continue
        lacking = [labels[i] for i, v in enumerate(row.values) if v is None]
        among = f"; {', '.join(lacking)} not measured" if lacking else ""
        if win is None:
            out.line(f"  no winner on {primary}: the values are equal{among}")
        else:
            out.line(f"  winner: {win} ({primary}, by {_num(margin)} over the next best{among})")


def compare(
    ctx: typer.Context,
    refs: Annotated[list[str], typer.Argument(metavar="REF", help=_REFS_HELP, show_default=False)],
    suite: SuiteOption = None,
    where: WhereOption = None,
    as_json: JsonOption = False,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Show runs or seed groups side by side: the config keys that differ, and each
    benchmark's metrics with the change against the first entry and the winner marked *."""
    from trialbook.analysis._compare import compare as build

    with open_store(ctx, root, store) as db:
        entries = resolve_names(ctx, db, refs, suite=suite, where=where)
        result = build(entries, store=db)
    if as_json:
        notes = [n for e in entries for n in e.notes]
        print_json(jsonable({**result.to_dict(), "notes": notes}))
        return
    _render_compare(result, Output())


# --------------------------------------------------------------------------- significance
def _render_result(r: TestResult, out: Output) -> None:
    out.heading(f"{r.b} vs {r.a}")
    out.line(r.verdict)
    pct = f"{r.level * 100:g}%"
    resampled = f"{r.resamples:,} resamples, seed {r.seed}" if r.resamples else ""
    test = r.test + (f" ({resampled})" if resampled else "")
    ci = f"{pct} CI {_num(r.ci_low)} to {_num(r.ci_high)}"
    if r.test == "mcnemar":
        # The exact test resamples nothing; only its interval comes from a paired bootstrap.
        test = "mcnemar (exact)"
        if resampled:
            ci += f"; paired bootstrap, {resampled}"
    pairs: list[tuple[str, Cell]] = [
        ("test", test),
        ("n", f"{r.n:,}" if r.n_b is None else f"{r.n} and {r.n_b} seeds"),
        (f"mean {r.a}", _num(r.mean_a)),
        (f"mean {r.b}", _num(r.mean_b)),
        ("difference", f"{_signed(r.difference)} ({ci})"),
        ("p-value", _num(r.p_value)),
    ]
    if r.p_adjusted is not None:
        pairs.append(("p (Holm)", _num(r.p_adjusted)))
    pairs.append(
        (
            "effect size",
            f"{_num(r.effect_size)} ({pct} CI {_num(r.effect_ci_low)} to "
            f"{_num(r.effect_ci_high)}; {r.effect_name})",
        )
    )
    out.fields(pairs, indent=2)


def significance(
    ctx: typer.Context,
    refs: Annotated[list[str], typer.Argument(metavar="REF", help=_REFS_HELP, show_default=False)],
    benchmark: BenchmarkOption = None,
    metric: MetricOption = None,
    test: Annotated[
        str,
        typer.Option(
            "--test",
            "-t",
            help="auto (McNemar for 0/1 per-sample correctness, paired bootstrap for graded "
            "scores, Welch across seeds for groups), bootstrap, permutation, mcnemar or welch.",
        ),
    ] = "auto",
    seed: Annotated[
        int, typer.Option("--seed", parser=int64(min=0), help="Seed of the resampling tests.")
    ] = 0,
    resamples: Annotated[
        int,
        typer.Option(
            "--resamples",
            # Each resample is held in memory: a billion would exhaust it before any answer.
            parser=int64(max=MAX_RESAMPLES),
            help=f"Bootstrap / permutation resamples (at most {MAX_RESAMPLES:,}).",
        ),
    ] = 10_000,
    suite: SuiteOption = None,
    where: WhereOption = None,
    as_json: JsonOption = False,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Test whether B (and C, ...) differ from A; Holm-corrected when more than two.

    Prints a plain-language verdict, the difference with its 95% CI, the p-value and an
    effect size with its interval. The same --seed gives the same numbers.
    """
    from trialbook.analysis._significance import TESTS
    from trialbook.analysis._significance import significance as run_tests
    from trialbook.errors import ConfigError

    if test not in TESTS:
        raise ConfigError(f"Unknown --test {test!r}; choose one of {', '.join(TESTS)}.")
    with open_store(ctx, root, store) as db:
        entries = resolve_names(
            ctx, db, refs, suite=suite, where=where, benchmark=benchmark, metric=metric
        )
        results = run_tests(
            entries,
            benchmark=benchmark,
            metric=metric,
            test=test,  # type: ignore[arg-type]  # checked against TESTS above
            seed=seed,
            resamples=resamples,
            store=db,
        )
    if as_json:
        # Each result with the notes of its two entries (which group a name stood for).
        print_json(
            [
                {**r.to_dict(), "notes": [*entries[0].notes, *other.notes]}
                for r, other in zip(results, entries[1:], strict=True)
            ]
        )
        return
    out = Output()
    for r in results:
        _render_result(r, out)
