"""Numbers and user text as people read them in tables (the CLI, reports and printed
summaries)."""

from __future__ import annotations

import math
import re
import time
from typing import Any

__all__ = ["clip", "fmt_duration", "fmt_mean_std", "fmt_number", "natural_key", "printable"]

#: Characters that move the cursor, end a line, ring the bell, start a terminal escape
#: sequence or reorder text on screen (C0, DEL, C1, line/paragraph separators, bidi controls),
#: and lone surrogates (bytes of a non-UTF-8 file name or argument), which cannot be printed.
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def fmt_number(value: Any) -> str:
    """A metric value for a table: 4 significant digits, whole numbers as integers."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.4g}"


def fmt_mean_std(
    mean: float | None, std: float | None, *, digits: int | None = None, missing: str = "-"
) -> str:
    """A mean over seeds and its standard deviation as every table shows it: ``0.4 ± 0.1``.

    Both numbers are written alike: with :func:`fmt_number` (4 significant digits) by default,
    or with ``digits`` fixed decimals (paper tables: ``0.600 ± 0.050``). The ``± std`` part is
    left out when the spread is unknown (None or NaN: a single run), and a spread below float
    noise (1e-12 of the mean, from identical seeds) is written as 0. A missing mean (None or
    NaN) is ``missing``.

    >>> fmt_mean_std(0.4, 0.1), fmt_mean_std(0.6, 0.05, digits=3), fmt_mean_std(0.5, None)
    ('0.4 ± 0.1', '0.600 ± 0.050', '0.5')
    """
    if mean is None or math.isnan(mean):
        return missing

    def number(x: float) -> str:
        return fmt_number(float(x)) if digits is None else f"{float(x):.{digits}f}"

    text = number(mean)
    if std is None or math.isnan(std):
        return text
    # Identical seeds give a spread of 1e-17, not 0: that is rounding, not a spread.
    spread = 0.0 if abs(std) < 1e-12 * max(1.0, abs(mean)) else std
    return f"{text} ± {number(spread)}"


def fmt_duration(seconds: float | None, running_since: float | None = None) -> str:
    """A duration as every command and report shows it: ``12.3s``, ``4m05s``, ``2h03m``,
    ``3d04h``; a running run shows its time so far with ``+``; unknown is ``-``.

    A run's duration is RunRecord.duration, the run's own started -> ended (see
    trialbook.store.RunRecord); ``trialbook run``, ``ls``, ``show`` and reports all show it
    through this function."""
    suffix = ""
    if seconds is not None and math.isnan(seconds):
        seconds = None
    if seconds is None:
        if running_since is None:
            return "-"
        seconds = max(0.0, time.time() - running_since)
        suffix = "+"
    if seconds < 60:
        text = f"{seconds:.1f}s"
    elif seconds < 3600:
        m, s = divmod(int(seconds), 60)
        text = f"{m}m{s:02d}s"
    elif seconds < 86400:
        h, rest = divmod(int(seconds), 3600)
        text = f"{h}h{rest // 60:02d}m"
    else:
        d, rest = divmod(int(seconds), 86400)
        text = f"{d}d{rest // 3600:02d}h"
    return text + suffix


def printable(text: str, keep: str = "") -> str:
    """``text`` with control characters written as visible escapes (``\\n``, ``\\t``,
    ``\\x1b``, ``\\u202e``), so that user text (a run name, a tag) can neither break a row
    nor drive the terminal. Characters in ``keep`` (say ``"\\n"``) are left as they are."""
    # str.isprintable is False for every character _CONTROL matches (and for a few more).
    if text.isprintable() or _CONTROL.search(text) is None:
        return text

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        if char in keep:
            return char
        code = ord(char)
        return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")

    return _CONTROL.sub(escape, text)


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the last one an ellipsis when it was cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "\u2026"


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key reading runs of digits as numbers: ``q2`` before ``q10``, ``"9"`` before
    ``"10"``."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", text)
        if part
    )
