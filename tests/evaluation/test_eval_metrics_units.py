"""Dimensional correctness (seed 003's units tasks) with pint, and the message without it."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from trialbook.errors import ConfigError
from trialbook.evaluation.metrics import (
    _units,
    dimensional_correctness,
    dimensional_correctness_score,
)


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("12 km/h", "3.3 m/s", 1.0),  # same dimension, other unit and value
        ("12 km", "3.3 m/s", 0.0),
        ("9.81 m/s^2", "[length] / [time] ** 2", 1.0),
        ("9.81 m/s**2", "m/s^2", 1.0),
        ("10 N", "2 kg*m/s^2", 1.0),  # newton is kg m / s^2
        ("5 °C", "300 K", 1.0),  # offset temperature units parse
        ("-40 degF", "[temperature]", 1.0),
        ("−3 m", "[length]", 1.0),  # the Unicode minus sign
        ("1,200 m.", "km", 1.0),
        ("2 hours", "[time]", 1.0),
        ("5", "12", 1.0),  # both dimensionless
        ("5 m", "12", 0.0),
        ("fast", "m/s", 0.0),  # not a quantity: wrong, not an error
        ("the answer is 3 m", "m", 0.0),
        ("", "m", 0.0),
        ("3 m +* 2", "m", 0.0),
    ],
)
def test_dimensional_correctness_score(prediction: str, reference: str, expected: float) -> None:
    assert dimensional_correctness_score(prediction, reference) == expected


def test_dimensional_correctness_over_a_list() -> None:
    preds = ["12 km/h", "12 km", "fast", "5 °C", "−3 m"]
    refs = ["3.3 m/s", "m/s", "m/s", "[temperature]", "[length]"]
    assert dimensional_correctness(preds, refs) == pytest.approx(3 / 5)


def test_an_unreadable_reference_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot read the reference 'furlongs per blorp'"):
        dimensional_correctness(["3 m"], ["furlongs per blorp"])
    with pytest.raises(ConfigError, match="cannot read the reference '\\[lenth\\]'"):
        dimensional_correctness_score("3 m", "[lenth]")


def test_lengths_must_match() -> None:
    with pytest.raises(ConfigError, match="got 1 predictions but 2 references"):
        dimensional_correctness(["3 m"], ["m", "s"])


@pytest.fixture
def without_pint(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _units._registry.cache_clear()
    monkeypatch.setitem(sys.modules, "pint", None)  # makes `import pint` raise ImportError
    yield
    _units._registry.cache_clear()


@pytest.mark.usefixtures("without_pint")
def test_without_pint_the_message_names_the_extra() -> None:
    with pytest.raises(ConfigError, match=r"pip install 'trialbook\[units\]'"):
        dimensional_correctness(["3 m"], ["m"])
