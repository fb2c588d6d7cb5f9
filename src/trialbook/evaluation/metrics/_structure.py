"""Partial accuracy (how many required parts of an answer appear) and format compliance."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

from trialbook.errors import ConfigError
from trialbook.evaluation.metrics._common import check_list, check_pair, mean
from trialbook.evaluation.metrics._numeric import find_numbers

__all__ = [
    "format_compliance",
    "format_compliance_score",
    "partial_accuracy",
    "partial_accuracy_score",
]

Format = str | re.Pattern[str] | Callable[[str], bool]
Part = str | int | float

# A part that is a plain number, perhaps with thousands commas and a currency sign.
_NUMERIC_PART = re.compile(r"\s*[$€£]?\s*-?((\d{1,3}(,\d{3})+|\d+)(\.\d+)?|\.\d+)\s*")


def _part_number(part: Part) -> float | None:
    if isinstance(part, bool):
        return None
    if isinstance(part, (int, float)):
        return float(part)
    if _NUMERIC_PART.fullmatch(part):
        return float(part.strip().lstrip("$€£").strip().replace(",", ""))
    return None


def _text_pattern(part: str) -> re.Pattern[str] | None:
    words = part.split()
    if not words:
        return None
    body = r"\s+".join(re.escape(w) for w in words)
    # Whole words only: "cat" is not found in "concatenate".
    return re.compile(r"(?<!\w)" + body + r"(?!\w)", re.IGNORECASE)


def _found(part: Part, output: str, numbers: frozenset[float]) -> bool:
    value = _part_number(part)
    if value is not None:
        if value in numbers:  # both parsed from decimal text: equal numbers, equal floats
            return True
        # A part computed in Python (0.1 + 0.2) may differ from the written 0.3 in the last bit.
        return isinstance(part, float) and any(
            math.isclose(value, n, rel_tol=1e-9, abs_tol=1e-12) for n in numbers
        )
    pattern = _text_pattern(str(part))
    return pattern is not None and pattern.search(output) is not None


def partial_accuracy_score(output: str, parts: Sequence[Part]) -> float | None:
    """The fraction of ``parts`` found in ``output``; None when there are no parts.

    A part is what a complete answer must contain: an intermediate result, a step, a key
    phrase. A numeric part (``18``, ``"1,200"``, ``"$18"``) is found when the same number
    (compared as a number, so ``18.0`` matches ``18``) is written anywhere in the output; a
    text part is found when it occurs as whole words, ignoring case and runs of whitespace.
    Each part is checked on its own, so a repeated part counts twice.

    Example: with the parts of a GSM8K solution ``["9", "18"]`` (its ``<<16-3-4=9>>`` and
    ``<<9*2=18>>`` steps), ``"She sells 9 eggs and makes $18."`` scores 1.0 and
    ``"She makes $20."`` scores 0.0.
    """
    if isinstance(parts, str):
        parts = [parts]
    if not parts:
        return None
    numbers = frozenset(find_numbers(output))
    return sum(_found(part, output, numbers) for part in parts) / len(parts)


def partial_accuracy(outputs: Sequence[str], parts: Sequence[Sequence[Part]]) -> float:
    """The mean of :func:`partial_accuracy_score` over the samples that have parts.

    Samples with no parts (nothing to give partial credit for) are left out of the mean;
    when no sample has any part, the result is NaN.
    """
    check_pair("partial_accuracy", outputs, parts, labels=("outputs", "lists of parts"))
    scores = [partial_accuracy_score(o, p) for o, p in zip(outputs, parts, strict=True)]
    return mean(s for s in scores if s is not None)


def _format_check(fmt: Format) -> Callable[[str], bool]:
    if isinstance(fmt, str):
        try:
            fmt = re.compile(fmt, re.MULTILINE)
        except re.error as e:
            raise ConfigError(
                f"The expected format {fmt!r} is not a valid regular expression ({e}); fix "
                "the pattern."
            ) from e
    if isinstance(fmt, re.Pattern):
        pattern = fmt
        return lambda text: pattern.search(text) is not None
    if callable(fmt):
        predicate = fmt
        return lambda text: bool(predicate(text))
    raise ConfigError(
        f"The expected format must be a regular expression or a function from text to bool, "
        f"not a {type(fmt).__name__}."
    )


def format_compliance_score(output: str, fmt: Format) -> float:
    """1.0 when ``output`` has the expected format, else 0.0.

    ``fmt`` is a regular expression (a string is compiled with ``re.MULTILINE``, so ``^`` and
    ``$`` match at every line) that must be found somewhere in the output (``re.search``;
    anchor it with ``\\A``/``\\Z`` to demand the whole text), or a function from the
    output to a bool. Example: ``format_compliance_score("...\\n#### 18", r"^#### -?[\\d,.]+$")``
    is 1.0.
    """
    return float(_format_check(fmt)(output))


def format_compliance(outputs: Sequence[str], fmt: Format) -> float:
    """The fraction of outputs that have the expected format (see format_compliance_score)."""
    check_list("format_compliance", outputs, "outputs")
    check = _format_check(fmt)
    return mean(float(check(o)) for o in outputs)
