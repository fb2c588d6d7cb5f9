"""``trialbook leaderboard``, ``trialbook compare`` and ``trialbook significance``: rank, put side
by side, and test runs and seed groups (see :mod:`trialbook.analysis`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

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
    import pandas as pd

    from trialbook.analysis import Comparison, MetricRow, TestResult

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
    return "-" if value is None or _is_nan(value) else fmt_number(float(value))


def _signed(value: float | None) -> str:
    text = _num(value)  # "-" when missing
    return text if text.startswith("-") else f"+{text}"


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
    difference at 95%; "no" when it does; "untested" when it could not be tested (beyond the
    first 20, other sample ids). Entries no test can use (a group of one run, a run without
    per-sample scores) are listed apart, unranked, and never switch off the others' tests.
    Groups show the mean over seeds with a 95% t-interval. --json prints one object:
    benchmark, metric, goal, by and rows (rank null for the entries listed apart).
    """
    from trialbook.analysis import leaderboard as build
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
    _render_leaderboard(frame, by, as_json)


#: What to do about each reason an entry is shown apart, unranked.
_APART_HINTS = {
    "one run": "run more seeds to rank a group",
    "no per-sample scores": "evaluate with per-sample results to rank a run",
    "per-sample scores unusable": "see `trialbook significance` for why",
    "one value per run": "--by group tests seed groups across their seeds",
}


def _render_leaderboard(frame: pd.DataFrame, by: str, as_json: bool) -> None:
    note = frame.attrs.get("note")
    if note:
        typer.echo(f"note: {note}", err=True)
    from trialbook.analysis import leaderboard_rows

    records = leaderboard_rows(frame)
    if as_json:
        attrs = {k: frame.attrs.get(k) for k in ("benchmark", "metric", "goal")}
        print_json({**attrs, "by": by, "note": note, "rows": records})
        return
    what = " ".join(x for x in (frame.attrs.get("benchmark"), frame.attrs.get("metric")) if x)
    goal = "higher" if frame.attrs.get("goal", "max") == "max" else "lower"
    out = Output()
    out.line(f"Leaderboard: {what} ({goal} is better), by {by}")
    if frame.empty:
        out.line("no completed run has that metric")
        return
    _board_tables(out, records, by == "group")


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


_MARKS: dict[str, Cell] = {
    "leader": Styled("leader", "bold green"),
    "tied": Styled("tied", "yellow"),
    "behind": "no",
    "untested": Styled("untested", "dim"),
}


def _board_tables(out: Output, records: list[dict[str, Any]], groups: bool) -> None:
    """The ranked table, then the entries no test can use, apart and unranked."""
    ranked = [r for r in records if r["rank"] is not None]
    apart = [r for r in records if r["rank"] is None]

    def cells(r: Mapping[Any, Any], ci: bool = True) -> list[Cell]:
        row: list[Cell] = [str(r["entry"]), str(r["id"]), _num(r["value"])]
        if groups and ci:
            low, high = r["ci_low"], r["ci_high"]
            row.append("-" if low is None else f"{_num(low)} to {_num(high)}")
        return [*row, str(r["n"])] if groups else row

    head = [Column("entry", overflow="ellipsis", min_width=8), Column("group" if groups else "run")]
    head += [Column("value", "right")]
    if groups:
        head += [Column("95% CI", "right"), Column("n", "right")]
    # Nothing testable (every ranked row has the same reason): say it once, not per row.
    plain = len({r["note"] for r in ranked}) == 1 and bool(ranked[0]["note"])
    noted = not plain and any(r["note"] for r in ranked)
    columns = [Column("rank", "right"), *head, Column("p vs leader", "right"), Column("tied")]
    if noted:
        columns.append(Column("note", overflow="fold"))
    rows: list[list[Cell]] = []
    for r in ranked:
        p = "-" if r["p_adjusted"] is None else _num(r["p_adjusted"])
        row = [str(r["rank"]), *cells(r), p, _MARKS[str(r["status"])]]
        rows.append([*row, str(r["note"])] if noted else row)
    out.table(columns, rows, optional=3 if noted else 2)
    if plain:
        reason = str(ranked[0]["note"])
        hint = _APART_HINTS.get(reason)
        out.line(
            f"No entry can be tested ({reason}): a ranking by value only"
            + (f"; {hint}." if hint else ".")
        )
    if apart:
        why = list(dict.fromkeys(str(r["note"]) for r in apart))
        hints = "; ".join(_APART_HINTS[w] for w in why if w in _APART_HINTS)
        one = len(apart) == 1
        out.line()
        out.line(
            f"Not ranked ({len(apart)}): no test can use {'it' if one else 'them'}, "
            f"so {'it does' if one else 'they do'} not take part in the tests above"
            + (f"; {hints}." if hints else ".")
        )
        # One-run groups have no interval: the table of the unranked leaves the column out.
        apart_head = [c for c in head if c.header != "95% CI"]
        out.table(
            [*apart_head, Column("note")], [[*cells(r, ci=False), str(r["note"])] for r in apart]
        )


# --------------------------------------------------------------------------- compare
def _value_cell(row: MetricRow, i: int, kinds: tuple[str, ...]) -> Cell:
    from trialbook.analysis import format_relative

    text = _num(row.values[i])
    if kinds[i] == "group" and row.values[i] is not None:
        text += f" (n={row.n[i]})"
    if i > 0 and row.change[i] is not None:
        text += f" [{_signed(row.change[i])}, {format_relative(row.relative[i])}]"
    if row.best == i:
        return Styled(text + " *", "bold green")
    return text


def _config_cell(value: object) -> str:
    return _num(value) if isinstance(value, float) else "-" if value is None else str(value)


def _render_compare(c: Comparison, out: Output) -> None:
    labels = list(c.entries)
    out.heading(f"comparing {len(labels)} entries")
    out.fields([(label, kind) for label, kind in zip(labels, c.kinds, strict=True)], indent=2)
    out.heading("config differences")
    if c.config:
        out.table(
            [Column("key"), *(Column(label, overflow="fold") for label in labels)],
            [[key, *(_config_cell(v) for v in values)] for key, values in c.config.items()],
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
        verdict = c.verdicts.get(table)
        if verdict is not None:
            out.line(f"  {verdict.text}")


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
    benchmark's metrics with the change against the first entry (the best value marked *).

    A winner is named only when the test significance would run (Welch across seeds, a
    paired test on per-sample scores) finds the difference significant at 95%; otherwise
    "no clear difference (n=3)". The relative change is n/a unless the first entry's value
    is positive and the other's between 0 and 10 times it.
    """
    from trialbook.analysis import compare as build

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
    pairs: list[tuple[str, Cell]] = list(r.details())
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
            help="auto (McNemar for 0/1 per-sample correctness; for graded scores the exact "
            "permutation test below 50 samples, else the paired bootstrap; Welch across seeds "
            "for groups), bootstrap, permutation, mcnemar or welch.",
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
    from trialbook.analysis import TESTS
    from trialbook.analysis import significance as run_tests
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
