"""Did-you-mean suggestions for unknown keys and names (difflib, as the standard library offers)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like ``word``, or None when nothing is close.

    A dotted key whose last part names an existing key elsewhere (``learning_rate`` for
    ``training.learning_rate``) is matched on that part first: the section is what users forget.
    """
    pool = sorted(set(candidates))
    if not pool:
        return None
    leaf = word.rsplit(".", 1)[-1]
    same_leaf = [c for c in pool if c.rsplit(".", 1)[-1] == leaf and c != word]
    if len(same_leaf) == 1:
        return same_leaf[0]
    found = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` or ``""``, to append to a message."""
    match = closest(word, candidates)
    return f"; did you mean '{match}'?" if match is not None else ""
