"""Partial accuracy and format compliance, with GSM8K's parts and format as the example."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialbook.errors import ConfigError
from trialbook.evaluation.metrics import (
    format_compliance,
    format_compliance_score,
    partial_accuracy,
    partial_accuracy_score,
)

GSM8K_FORMAT = r"^#### -?[\d,]*\.?\d+\s*$"
# The parts of GSM8K's first test solution: <<16-3-4=9>> and <<9*2=18>>.
PARTS = ["9", "18"]


def test_partial_accuracy_counts_the_parts_found() -> None:
    assert partial_accuracy_score("She sells 16-3-4 = 9 eggs and makes $18.", PARTS) == 1.0
    assert partial_accuracy_score("She sells 9 eggs and makes $20.", PARTS) == 0.5
    assert partial_accuracy_score("She makes $20.", PARTS) == 0.0


def test_numeric_parts_match_as_numbers_not_substrings() -> None:
    assert partial_accuracy_score("It is 180 or 1.8", ["18"]) == 0.0
    assert partial_accuracy_score("It is 18.0 dollars", ["18"]) == 1.0
    assert partial_accuracy_score("Total: 1,200 pens", ["1200"]) == 1.0
    assert partial_accuracy_score("Total: 1200 pens", ["1,200"]) == 1.0
    assert partial_accuracy_score("Total: 1200 pens", [1200]) == 1.0
    assert partial_accuracy_score("It is 0.3", [0.1 + 0.2]) == 1.0  # a float part: isclose
    assert partial_accuracy_score("It is -3", ["-3", "3"]) == 0.5
    assert partial_accuracy_score("costs $5", ["$5"]) == 1.0
    assert partial_accuracy_score("a rate of .05", ["0.05"]) == 1.0
    assert partial_accuracy_score("a rate of 0.05", [".05"]) == 1.0


def test_text_parts_match_whole_words_ignoring_case_and_spacing() -> None:
    parts = ["carry the one", "ones place"]
    # "Carry  the\none" is found; "ones place" is not ("ones-places").
    assert partial_accuracy_score("First, Carry  the\none. Then the ones-places.", parts) == 0.5
    assert partial_accuracy_score("concatenate", ["cat"]) == 0.0


def test_repeated_parts_each_count() -> None:
    # Each part is looked up on its own: two "9"s are both found by one 9 in the output.
    assert partial_accuracy_score("9", ["9", "9", "5"]) == pytest.approx(2 / 3)


def test_a_sample_without_parts_is_left_out() -> None:
    assert partial_accuracy_score("anything", []) is None
    # (1.0 + 0.5) / 2; the sample with no parts does not count.
    outputs = ["9 then 18", "9 then 20", "no steps"]
    assert partial_accuracy(outputs, [PARTS, PARTS, []]) == 0.75
    assert math.isnan(partial_accuracy(["x"], [[]]))


def test_partial_accuracy_lengths_must_match() -> None:
    with pytest.raises(ConfigError, match="got 2 outputs but 1 lists of parts"):
        partial_accuracy(["a", "b"], [["a"]])
    with pytest.raises(ConfigError, match="partial_accuracy got no outputs"):
        partial_accuracy([], [])


@given(st.lists(st.integers(min_value=-(10**6), max_value=10**6), min_size=1, max_size=6))
def test_an_output_holding_every_numeric_part_scores_one(numbers: list[int]) -> None:
    output = "Steps: " + ", then ".join(f"{n:,}" for n in numbers) + "."
    assert partial_accuracy_score(output, [str(n) for n in numbers]) == 1.0


@given(st.text(max_size=60), st.lists(st.text(max_size=8), min_size=1, max_size=5))
def test_partial_accuracy_is_a_fraction(output: str, parts: list[str]) -> None:
    score = partial_accuracy_score(output, parts)
    assert score is not None
    assert 0.0 <= score <= 1.0
    assert score * len(parts) == pytest.approx(round(score * len(parts)))


def test_format_compliance_with_a_regex() -> None:
    outputs = [
        "16 - 3 - 4 = 9\n#### 18",
        "#### 1,200",
        "The answer is 18",
        "#### eighteen",
        "####18",
    ]
    assert [format_compliance_score(o, GSM8K_FORMAT) for o in outputs] == [1, 1, 0, 0, 0]
    assert format_compliance(outputs, GSM8K_FORMAT) == pytest.approx(2 / 5)


def test_format_compliance_with_a_compiled_pattern_or_a_predicate() -> None:
    whole = re.compile(r"\A\d+\Z")
    assert format_compliance(["12", "12 apples", ""], whole) == pytest.approx(1 / 3)
    assert format_compliance(["{}", "{", "[1]"], lambda s: s.startswith(("{", "["))) == 1.0
    assert format_compliance(["", "x"], str.isalpha) == 0.5


def test_format_compliance_refuses_a_bad_pattern() -> None:
    with pytest.raises(ConfigError, match=r"format '\[0-9' is not a valid regular expression"):
        format_compliance(["1"], "[0-9")
    with pytest.raises(ConfigError, match="not a int"):
        format_compliance(["1"], 5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="format_compliance got no outputs"):
        format_compliance([], GSM8K_FORMAT)
