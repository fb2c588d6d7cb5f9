"""Numbers in text and the relative error of numeric answers."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence

from trialbook.errors import ConfigError
from trialbook.evaluation.metrics._common import check_pair, mean

__all__ = [
    "find_numbers",
    "mean_relative_error",
    "median_relative_error",
    "parse_number",
    "relative_error",
]

# A number starts where no word character or dot precedes it, so "x2" and the "5" of "1.5"
# are not numbers of their own; a minus sign counts only in the same position, so "16-3"
# reads as 16 and 3 (a subtraction), not 16 and -3. Thousands separators are accepted only
# in groups of three ("1,234,567"); "1,2,3" is a list of three numbers. A decimal may omit
# its leading zero (".05"), as GSM8K's solutions write them.
_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>-?)"
    r"(?:(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?|(?P<bare>\.\d+))"
    r"(?P<exp>[eE][+-]?\d+)?"
)
# A fraction such as "3/4": digits, a slash and digits with no space between them.
_FRACTION_TAIL = re.compile(r"/(\d+)(?![\d.])")
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2013": "-", "\ufe63": "-", "\uff0d": "-"})

Number = float | int | str


def ascii_minus(text: str) -> str:
    """``text`` with every minus sign written as ``-`` (U+2212, the en dash, the small and
    full-width hyphen-minus); GSM8K's extraction reads minus signs the same way."""
    # str.translate walks the text in Python-level steps; most answers are ASCII already.
    return text if text.isascii() else text.translate(_MINUS_SIGNS)


def _to_float(match: re.Match[str]) -> float:
    digits = match["bare"] or match["int"].replace(",", "") + (match["frac"] or "")
    return float(match["sign"] + digits + (match["exp"] or ""))


def find_numbers(text: str) -> list[float]:
    """Every number written in ``text``, in order, as floats.

    Understands signs (also the Unicode minus), thousands separators in groups of three,
    decimals (also ``.5``) and exponents: ``"It cost $1,234.50, up 3% from -2e3"`` gives
    ``[1234.5, 3.0, -2000.0]``. Fractions are not combined here (``"48/2"`` is 48 and 2).
    """
    return [_to_float(m) for m in _NUMBER.finditer(ascii_minus(text))]


def parse_number(value: Number) -> float | None:
    """The first number in ``value`` (ints and floats pass through), or None when it has none.

    Text around the number is ignored, so units, currency signs and commas are fine:
    ``"1,200 km"`` -> 1200.0, ``"$3.50"`` -> 3.5, ``"9.81 m/s^2"`` -> 9.81, ``"3/4"`` ->
    0.75 (a fraction written with no spaces). Pass an extracted answer: in ``"after 2 hours
    it is 120 km"`` the first number is 2.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an int beyond a float's range
            return math.inf if value > 0 else -math.inf
    text = ascii_minus(str(value))
    match = _NUMBER.search(text)
    if match is None:
        return None
    number = _to_float(match)
    tail = _FRACTION_TAIL.match(text, match.end())
    exact_integer = match["int"] and not match["frac"] and not match["exp"]
    if tail is not None and exact_integer and int(tail[1]) != 0:
        number /= int(tail[1])
    return number


def relative_error(prediction: Number, target: Number) -> float:
    """``|prediction - target| / |target|`` for one sample.

    Both may be numbers or text (see :func:`parse_number`). When ``target`` is 0 the ratio
    is undefined: the error is 0.0 for a prediction of exactly 0 and ``inf`` otherwise. A
    prediction with no number in it (or NaN) is as wrong as can be: ``inf``. A target that
    is not a finite number is the caller's mistake: ConfigError.
    """
    t = parse_number(target)
    if t is None or not math.isfinite(t):
        raise ConfigError(
            f"relative_error needs a finite numeric target, got {target!r}; pass the gold "
            "answer as a number or as text holding one."
        )
    p = parse_number(prediction)
    if p is None or math.isnan(p):
        return math.inf
    if t == 0:
        return 0.0 if p == 0 else math.inf
    return abs(p - t) / abs(t)


def mean_relative_error(predictions: Sequence[Number], targets: Sequence[Number]) -> float:
    """The mean of :func:`relative_error` (``inf`` as soon as one sample's error is)."""
    check_pair("mean_relative_error", predictions, targets, labels=("predictions", "targets"))
    return mean(relative_error(p, t) for p, t in zip(predictions, targets, strict=True))


def median_relative_error(predictions: Sequence[Number], targets: Sequence[Number]) -> float:
    """The median of :func:`relative_error`; robust to a few unparseable predictions."""
    check_pair("median_relative_error", predictions, targets, labels=("predictions", "targets"))
    return float(
        statistics.median(relative_error(p, t) for p, t in zip(predictions, targets, strict=True))
    )
