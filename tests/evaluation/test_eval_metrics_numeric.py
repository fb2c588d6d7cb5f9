"""Numbers in text, relative error, accuracy and boolean accuracy: hand-checked cases."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialbook.errors import ConfigError
from trialbook.evaluation.metrics import (
    accuracy,
    boolean_accuracy,
    find_numbers,
    mean_relative_error,
    median_relative_error,
    parse_boolean,
    parse_number,
    relative_error,
)

# --- numbers in text ------------------------------------------------------------------------


def test_find_numbers_reads_commas_signs_decimals_and_exponents() -> None:
    assert find_numbers("It cost $1,234.50, up 3% from -2e3") == [1234.5, 3.0, -2000.0]


def test_find_numbers_reads_a_subtraction_as_positive_operands() -> None:
    assert find_numbers("16-3-4=9") == [16.0, 3.0, 4.0, 9.0]
    assert find_numbers("a drop of −7 degrees") == [-7.0]  # the Unicode minus sign


def test_find_numbers_commas_only_in_groups_of_three() -> None:
    assert find_numbers("1,2,3 and 12,345,678") == [1.0, 2.0, 3.0, 12345678.0]
    assert find_numbers("version 1.2.3") == [1.2]
    assert find_numbers("x2 and 3rd") == [3.0]
    assert find_numbers("a rate of .05, or -.5 of it") == [0.05, -0.5]  # GSM8K writes ".05"
    assert find_numbers("no digits here") == []
    assert find_numbers("") == []


def test_parse_number_takes_the_first_number_and_ignores_units() -> None:
    assert parse_number("1,200 km") == 1200.0
    assert parse_number("$3.50") == 3.5
    assert parse_number("9.81 m/s^2") == 9.81
    assert parse_number("1.5e3 g") == 1500.0
    assert parse_number("3/4") == 0.75
    assert parse_number("1.5/2") == 1.5  # only integers form a fraction
    assert parse_number(".5 kg") == 0.5
    assert parse_number("−12 °C") == -12.0
    assert parse_number(7) == 7.0
    assert parse_number(2.5) == 2.5
    assert parse_number("seven") is None
    assert parse_number(True) is None  # a bool is not a number here
    assert parse_number(10**400) == math.inf


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_find_numbers_reads_integers_with_thousands_separators(n: int) -> None:
    assert find_numbers(f"total: {n:,} items") == [float(n)]
    assert parse_number(f"{n:,}") == float(n)


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=99))
def test_find_numbers_reads_decimals(whole: int, cents: int) -> None:
    assert find_numbers(f"${whole}.{cents:02d}.") == [pytest.approx(whole + cents / 100)]


# --- relative error -------------------------------------------------------------------------


def test_relative_error_hand_checked() -> None:
    assert relative_error(110, 100) == pytest.approx(0.1)
    assert relative_error(90, 100) == pytest.approx(0.1)
    assert relative_error(-5, -4) == pytest.approx(0.25)
    assert relative_error("1,100 m", "1,000 m") == pytest.approx(0.1)
    assert relative_error("12", 12) == 0.0


def test_relative_error_at_a_zero_target() -> None:
    assert relative_error(0, 0) == 0.0
    assert relative_error(0.001, 0) == math.inf


def test_relative_error_of_an_unparseable_prediction_is_infinite() -> None:
    assert relative_error("I don't know", 3) == math.inf
    assert relative_error(math.nan, 3) == math.inf


def test_relative_error_needs_a_numeric_target() -> None:
    with pytest.raises(ConfigError, match="finite numeric target, got 'unknown'"):
        relative_error(3, "unknown")
    with pytest.raises(ConfigError, match="finite numeric target"):
        relative_error(3, math.inf)


def test_mean_and_median_relative_error() -> None:
    preds = [110, 100, 50, "no idea"]
    targets = [100, 100, 100, 100]
    # errors 0.1, 0, 0.5, inf
    assert mean_relative_error(preds[:3], targets[:3]) == pytest.approx(0.2)
    assert mean_relative_error(preds, targets) == math.inf
    assert median_relative_error(preds, targets) == pytest.approx(0.3)


def test_relative_error_lists_must_pair_up() -> None:
    with pytest.raises(ConfigError, match="got 2 predictions but 1 targets"):
        mean_relative_error([1, 2], [1])
    with pytest.raises(ConfigError, match="median_relative_error got no predictions"):
        median_relative_error([], [])


@given(
    st.floats(min_value=-1e6, max_value=1e6),
    st.floats(min_value=-1e6, max_value=1e6).filter(lambda t: abs(t) > 1e-3),
    st.floats(min_value=1e-3, max_value=1e3),
)
def test_relative_error_is_non_negative_and_scale_invariant(p: float, t: float, k: float) -> None:
    error = relative_error(p, t)
    assert error >= 0
    assert relative_error(t, t) == 0.0
    assert relative_error(p * k, t * k) == pytest.approx(error, rel=1e-9, abs=1e-12)


# --- accuracy -------------------------------------------------------------------------------


def test_accuracy_compares_pairs() -> None:
    assert accuracy(["a", "b", "c"], ["a", "x", "c"]) == pytest.approx(2 / 3)
    assert accuracy([1, 2, 3, 4], [1, 2, 3, 4]) == 1.0
    assert accuracy(["1"], [1]) == 0.0  # exact comparison, no coercion


def test_accuracy_of_correctness_flags() -> None:
    assert accuracy([True, False, True, True]) == 0.75
    assert accuracy([1, 0]) == 0.5


def test_accuracy_refuses_non_flags_without_references() -> None:
    with pytest.raises(ConfigError, match="item 1 is 'b'; pass references="):
        accuracy([True, "b"])


def test_accuracy_length_mismatch_and_empty() -> None:
    with pytest.raises(ConfigError, match="accuracy got 3 predictions but 2 references"):
        accuracy([1, 2, 3], [1, 2])
    with pytest.raises(ConfigError, match="accuracy got no correctness flags"):
        accuracy([])


# --- boolean accuracy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", True),
        ("true.", True),
        (" TRUE ", True),
        ("Y", True),
        ("Yes, they can be added.", True),
        ('"yes"', True),
        ("correct", True),
        ("no", False),
        ("False!", False),
        ("N", False),
        ("No, the units differ", False),
        ("incorrect", False),
        ("maybe", None),
        ("", None),
        ("not sure", None),
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        (2, None),
        (None, None),
    ],
)
def test_parse_boolean(text: object, expected: bool | None) -> None:
    assert parse_boolean(text) is expected


def test_boolean_accuracy_hand_checked() -> None:
    # right, right, "maybe" is wrong, "No" vs True is wrong.
    preds = ["Yes.", "false", "maybe", "No"]
    refs = [True, "no", "yes", "true"]
    assert boolean_accuracy(preds, refs) == 0.5


def test_boolean_accuracy_refuses_a_reference_that_is_not_yes_or_no() -> None:
    with pytest.raises(ConfigError, match="reference 1 is 'perhaps'"):
        boolean_accuracy(["yes", "no"], ["yes", "perhaps"])
    with pytest.raises(ConfigError, match="got 1 predictions but 2 references"):
        boolean_accuracy(["yes"], [True, False])


@given(st.text(max_size=60))
def test_any_text_parses_or_gives_none_and_scores_without_raising(text: str) -> None:
    value = parse_number(text)
    assert value is None or isinstance(value, float)
    assert all(isinstance(n, float) for n in find_numbers(text))
    assert relative_error(text, 7) >= 0
    assert parse_boolean(text) in (True, False, None)
