"""Did-you-mean suggestions for unknown keys and names (difflib, plus the abbreviations ML
configs are full of: ``lr`` for ``learning_rate``)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

__all__ = ["a_or_an", "closest", "did_you_mean"]


def _initials(name: str) -> str:
    return "".join(part[0] for part in re.split(r"[_\-]+", name) if part)


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like ``word``, or None when nothing is close.

    For dotted keys, in this order: the same last part in another section
    (``learning_rate`` -> ``training.learning_rate``), an abbreviation of a key in the same
    section (``training.lr`` -> ``training.learning_rate``, ``training.epo`` ->
    ``training.epochs``), then difflib's closest match.
    """
    pool = sorted(set(candidates) - {word})
    if not pool:
        return None
    parent, _, leaf = word.rpartition(".")
    same_leaf = [c for c in pool if c.rpartition(".")[2] == leaf]
    if len(same_leaf) == 1:
        return same_leaf[0]
    siblings = [c for c in pool if c.rpartition(".")[0] == parent]
    short = [
        c
        for c in siblings
        if (len(leaf) >= 2 and _initials(c.rpartition(".")[2]) == leaf)
        or (len(leaf) >= 3 and c.rpartition(".")[2].startswith(leaf))
    ]
    if len(short) == 1:
        return short[0]
    found = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` or ``""``, to append to a message."""
    match = closest(word, candidates)
    return f"; did you mean '{match}'?" if match is not None else ""


def a_or_an(noun: str) -> str:
    """``"an int"``, ``"a float"``."""
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"
