"""Accuracy over labels or correctness flags, and accuracy of yes/no (true/false) answers."""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

from trialbook.errors import ConfigError
from trialbook.evaluation.metrics._common import check_list, check_pair, mean

__all__ = ["accuracy", "boolean_accuracy", "parse_boolean"]

_TRUE = frozenset({"true", "yes", "y", "t", "1", "correct", "right"})
_FALSE = frozenset({"false", "no", "n", "f", "0", "incorrect", "wrong"})
_STRIP = string.punctuation + string.whitespace + "\u201c\u201d\u2018\u2019"


def _flag(value: Any) -> float | None:
    # bool is an int, and numpy's bool_ compares equal to 0/1: both are accepted.
    try:
        if value == 1 or value == 0:
            return float(value == 1)
    except (TypeError, ValueError):
        pass
    return None


def accuracy(predictions: Sequence[Any], references: Sequence[Any] | None = None) -> float:
    """The fraction of samples that are right.

    With ``references``: the fraction of positions where ``prediction == reference`` (any
    comparable values: labels, numbers, strings compared exactly). Without: ``predictions``
    are per-sample correctness flags (``True``/``False`` or 1/0), e.g. what a benchmark's
    ``check_answer`` returned, and accuracy is the fraction that are true.

    Examples: ``accuracy(["a", "b", "c"], ["a", "x", "c"]) == 2 / 3``;
    ``accuracy([True, False, True, True]) == 0.75``.
    """
    if references is not None:
        check_pair("accuracy", predictions, references)
        return mean(float(p == r) for p, r in zip(predictions, references, strict=True))
    check_list("accuracy", predictions, "correctness flags")
    flags = []
    for i, value in enumerate(predictions):
        flag = _flag(value)
        if flag is None:
            raise ConfigError(
                f"accuracy without references takes correctness flags (True/False or 1/0), "
                f"but item {i} is {value!r}; pass references=... to compare predictions."
            )
        flags.append(flag)
    return mean(flags)


def parse_boolean(value: Any) -> bool | None:
    """``True``/``False`` for a yes/no style answer, None when it is neither.

    Booleans pass through; 1/0 count. Text is read by its first word, ignoring case,
    surrounding punctuation and quotes: ``"Yes"``, ``"true."``, ``"Y"``, ``"correct"``
    and ``"Yes, they can be added"`` are true; ``"no"``, ``"False"``, ``"N"``,
    ``"incorrect"`` are false; ``""`` or ``"maybe"`` are None.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if not isinstance(value, str):
        return None
    words = value.strip(_STRIP).split(maxsplit=1)
    if not words:
        return None
    word = words[0].strip(_STRIP).lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return None


def boolean_accuracy(predictions: Sequence[Any], references: Sequence[Any]) -> float:
    """The fraction of yes/no (true/false) answers that agree with the references.

    Both sides go through :func:`parse_boolean`. A prediction that is neither yes nor no
    counts as wrong; a reference that is neither is a mistake in the data: ConfigError.
    Example: ``boolean_accuracy(["Yes.", "false", "maybe"], [True, "no", "yes"]) == 2 / 3``.
    """
    check_pair("boolean_accuracy", predictions, references)
    scores = []
    for i, (prediction, reference) in enumerate(zip(predictions, references, strict=True)):
        gold = parse_boolean(reference)
        if gold is None:
            raise ConfigError(
                f"boolean_accuracy: reference {i} is {reference!r}, which is not a yes/no "
                "answer; give references as True/False or yes/no/true/false."
            )
        scores.append(float(parse_boolean(prediction) is gold))
    return mean(scores)
