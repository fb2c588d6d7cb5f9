"""The CLI's building blocks: the --where/--sort parsers, formatting, and the two renderers."""

from __future__ import annotations

import io
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import trialbook.cli
from trialbook.cli._output import (
    CELL_WIDTH,
    Column,
    Output,
    Styled,
    fmt_bytes,
    fmt_duration,
    fmt_number,
    jsonable,
)
from trialbook.errors import ConfigError
from trialbook.store import MetricCondition, ParamCondition, parse_condition, parse_sort


def test_public_api_is_sorted_and_complete() -> None:
    assert trialbook.cli.__all__ == sorted(trialbook.cli.__all__)
    assert all(hasattr(trialbook.cli, name) for name in trialbook.cli.__all__)
    assert callable(trialbook.cli.main)


keys = st.from_regex(r"[a-z][a-z0-9_/.\-]{0,15}", fullmatch=True).filter(
    lambda k: not k.startswith(("params.", "metrics.")) and not k.endswith(".")
)
ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
numbers = st.one_of(
    st.integers(-(10**9), 10**9), st.floats(allow_nan=False, allow_infinity=True, width=64)
)


@given(key=keys, op=ops, value=numbers, agg=st.sampled_from([None, "last", "min", "max"]))
def test_metric_conditions_round_trip(key: str, op: str, value: float, agg: str | None) -> None:
    target = key if agg is None else f"{agg}({key})"

    cond = parse_condition(f"{target}{op}{value!r}")

    assert cond == MetricCondition(key, op, float(value), agg or "last")


@given(key=keys, op=ops, value=numbers, spaced=st.booleans())
def test_param_conditions_round_trip(key: str, op: str, value: float, spaced: bool) -> None:
    sep = " " if spaced else ""

    cond = parse_condition(f"params.{key}{sep}{op}{sep}{value!r}")

    assert cond == ParamCondition(key, op, value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.optimizer=adam", ParamCondition("optimizer", "==", "adam")),
        ("params.amp=true", ParamCondition("amp", "==", True)),
        ("params.ckpt!=null", ParamCondition("ckpt", "!=", None)),
        ('params.version="1.0"', ParamCondition("version", "==", "1.0")),
        ("params.lr=1e-3", ParamCondition("lr", "==", 0.001)),
        ("metrics.val/loss<0.5", MetricCondition("val/loss", "<", 0.5)),
        ("max( metrics.acc ) >= 0.9", MetricCondition("acc", ">=", 0.9, "max")),
    ],
)
def test_condition_examples(text: str, expected: object) -> None:
    assert parse_condition(text) == expected


@given(st.text(max_size=30))
def test_any_text_parses_or_raises_config_error(text: str) -> None:
    try:
        parse_condition(text)
    except ConfigError as e:
        assert repr(text) in str(e)


@pytest.mark.parametrize(
    ("text", "order_by", "agg", "descending"),
    [
        ("started_at", "started_at", "last", True),
        ("name", "name", "last", False),
        ("loss", "metrics.loss", "last", False),
        ("val/perplexity", "metrics.val/perplexity", "last", False),
        ("metrics.acc", "metrics.acc", "last", True),
        ("min(acc)", "metrics.acc", "min", False),
        ("max(metrics.loss)", "metrics.loss", "max", True),
    ],
)
def test_sort_keys_and_default_direction(
    text: str, order_by: str, agg: str, descending: bool
) -> None:
    sort = parse_sort(text)

    assert (sort.order_by, sort.agg, sort.default_descending()) == (order_by, agg, descending)


def test_jsonable_replaces_non_finite_floats_everywhere() -> None:
    value = {"a": [1.0, math.nan, (math.inf, -math.inf)], 2: {"b": 0.5}}

    assert jsonable(value) == {"a": [1.0, "NaN", ["Infinity", "-Infinity"]], "2": {"b": 0.5}}


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "-"), (3, "3"), (2.0, "2"), (0.123456, "0.1235"), (1e-5, "1e-05"), (math.nan, "nan")],
)
def test_fmt_number(value: float | None, text: str) -> None:
    assert fmt_number(value) == text


def test_fmt_duration_and_bytes() -> None:
    assert [fmt_duration(s) for s in (None, 1.25, 125, 7500, 90000)] == [
        "-",
        "1.2s",
        "2m05s",
        "2h05m",
        "1d01h",
    ]
    assert [fmt_bytes(n) for n in (None, 512, 2048, 3 * 2**20)] == [
        "-",
        "512 B",
        "2.0 KiB",
        "3.0 MiB",
    ]


COLUMNS = [Column("id"), Column("status"), Column("loss", "right"), Column("acc", "right")]
ROWS = [["abc123", Styled("failed", "red"), "0.5", "0.9"], ["d4", Styled("ok", "green"), "12", "1"]]


def test_plain_table_aligns_columns_without_escape_codes() -> None:
    buf = io.StringIO()

    Output(rich=False, file=buf).table(COLUMNS, ROWS)

    assert buf.getvalue() == (
        "id      status  loss  acc\nabc123  failed   0.5  0.9\nd4      ok        12    1\n"
    )


def test_rich_table_keeps_user_text_literal_and_drops_optional_columns_to_fit() -> None:
    buf = io.StringIO()
    out = Output(rich=True, file=buf)
    out.console.width = 24
    rows = [["[bold]x", Styled("failed", "red"), "0.5", "0.9"]]

    out.table(COLUMNS, rows, optional=2)

    text = buf.getvalue()
    assert "[bold]x" in text  # not read as markup
    assert "loss" in text
    assert "acc" not in text  # left out: 24 columns fit id, status and loss only


# -- issue 9: user text that would break a row or drive the terminal ----------------------------

HOSTILE = ["two\nlines", "tab\there", "cr\rback", "esc\x1b[31mred", "rtl\u202eevil", "L" * 10_000]


@pytest.mark.parametrize("rich", [False, True])
def test_every_row_stays_one_line_with_control_characters_escaped(rich: bool) -> None:
    buf = io.StringIO()
    out = Output(rich=rich, file=buf)
    if rich:
        out.console.width = 200
    columns = [Column("id"), Column("name", overflow="ellipsis", min_width=8), Column("tag")]

    out.table(columns, [[str(i), name, name] for i, name in enumerate(HOSTILE)])

    lines = buf.getvalue().rstrip("\n").split("\n")
    assert len(lines) == 1 + (1 if rich else 0) + len(HOSTILE)  # header, rich's rule, rows
    text = buf.getvalue()
    for escaped in ("two\\nlines", "tab\\there", "cr\\rback", "esc\\x1b[31mred", "rtl\\u202eevil"):
        assert escaped in text
    assert "\x1b" not in text and "\r" not in text and "\t" not in text and "\u202e" not in text
    assert max(len(line) for line in lines) < 250  # the 10,000-character name was cut
    assert "L" * 20 in text and "\u2026" in text


def test_plain_cells_are_cut_at_cell_width_with_an_ellipsis() -> None:
    buf = io.StringIO()
    Output(rich=False, file=buf).table([Column("name")], [["x" * (CELL_WIDTH + 1)], ["y" * 5]])
    lines = buf.getvalue().splitlines()
    assert lines[1] == "x" * (CELL_WIDTH - 1) + "\u2026"
    assert lines[2] == "yyyyy"


def test_fields_headings_and_lines_escape_control_characters() -> None:
    buf = io.StringIO()
    out = Output(rich=False, file=buf)
    out.heading("run a\nb")
    out.fields([("name", "two\nlines"), ("notes", "bell\x07")])
    out.line("esc\x1b]0;title\x07")
    assert buf.getvalue() == (
        "run a\\nb\nname   two\\nlines\nnotes  bell\\x07\nesc\\x1b]0;title\\x07\n"
    )


def test_run_query_parse_reads_where_and_sort_as_ls_does() -> None:
    from trialbook.store import RunQuery

    query = RunQuery.parse(["params.lr<0.1", "max(acc)>=0.9"], "min(loss)", experiment="e")

    assert query.experiment == "e"
    assert query.params == (ParamCondition("lr", "<", 0.1),)
    assert query.metrics == (MetricCondition("acc", ">=", 0.9, "max"),)
    assert (query.order_by, query.order_agg, query.descending) == ("metrics.loss", "min", False)
    assert query.sort == parse_sort("min(loss)")
    assert RunQuery.parse(sort="name", descending=True).descending is True
    assert RunQuery.parse(sort="started").order_by == "started_at"


@pytest.mark.parametrize(
    ("where", "sort", "parameter"),
    [("loss", None, "where"), ("params.x<abc", None, "where"), ((), "loss<1", "sort")],
)
def test_run_query_parse_errors_name_the_parameter(
    where: str | tuple[str, ...], sort: str | None, parameter: str
) -> None:
    from trialbook.store import RunQuery

    with pytest.raises(ConfigError) as info:
        RunQuery.parse(where, sort)

    assert info.value.parameter == parameter
    assert "--" not in str(info.value)
