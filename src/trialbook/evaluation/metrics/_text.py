"""String-matching metrics: exact match with lm-eval/HF-evaluate options, SQuAD EM and token F1."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence

from trialbook.errors import ConfigError
from trialbook.evaluation.metrics._common import as_references, check_pair, mean

__all__ = [
    "exact_match",
    "exact_match_score",
    "normalize_answer",
    "squad_exact_match",
    "squad_exact_match_score",
    "squad_f1",
    "squad_f1_score",
]

Reference = str | Sequence[str]

_PUNCTUATION_TABLE = str.maketrans("", "", string.punctuation)
_DIGITS_TABLE = str.maketrans("", "", string.digits)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_SQUAD_PUNCTUATION = frozenset(string.punctuation)


def _exact_match_normaliser(
    ignore_case: bool,
    ignore_punctuation: bool,
    ignore_numbers: bool,
    ignore_regexes: Sequence[str],
) -> Callable[[str], str]:
    if isinstance(ignore_regexes, str):
        # A lone string would otherwise be iterated character by character.
        ignore_regexes = (ignore_regexes,)
    compiled = []
    for pattern in ignore_regexes:
        try:
            compiled.append(re.compile(pattern))
        except re.error as e:
            raise ConfigError(
                f"ignore_regexes has an invalid regular expression {pattern!r} ({e}); fix it "
                "or escape it with re.escape."
            ) from e

    # The same order as HF evaluate's exact_match: regexes, case, punctuation, digits.
    def normalise(text: str) -> str:
        for regex in compiled:
            text = regex.sub("", text)
        if ignore_case:
            text = text.lower()
        if ignore_punctuation:
            text = text.translate(_PUNCTUATION_TABLE)
        if ignore_numbers:
            text = text.translate(_DIGITS_TABLE)
        return text

    return normalise


def exact_match_score(
    prediction: str,
    reference: Reference,
    *,
    ignore_case: bool = False,
    ignore_punctuation: bool = False,
    ignore_numbers: bool = False,
    ignore_regexes: Sequence[str] = (),
) -> float:
    """1.0 when ``prediction`` equals ``reference`` (or one of several references), else 0.0.

    The options mirror HF evaluate's ``exact_match`` (as lm-evaluation-harness uses it) and
    apply in its order: every match of each regex in ``ignore_regexes`` is deleted, then the
    text is lowercased (``ignore_case``), ASCII punctuation is deleted
    (``ignore_punctuation``) and digits are deleted (``ignore_numbers``), on both sides.
    Whitespace is kept: ``"a b"`` does not match ``"ab"`` unless a regex removes it.
    """
    normalise = _exact_match_normaliser(
        ignore_case, ignore_punctuation, ignore_numbers, ignore_regexes
    )
    pred = normalise(prediction)
    return float(any(pred == normalise(r) for r in as_references("exact_match_score", reference)))


def exact_match(
    predictions: Sequence[str],
    references: Sequence[Reference],
    *,
    ignore_case: bool = False,
    ignore_punctuation: bool = False,
    ignore_numbers: bool = False,
    ignore_regexes: Sequence[str] = (),
) -> float:
    """The fraction of predictions that :func:`exact_match_score` counts as matching.

    Example: ``exact_match(["Paris.", "rome"], ["paris", "Rome"], ignore_case=True,
    ignore_punctuation=True) == 1.0``.
    """
    check_pair("exact_match", predictions, references)
    normalise = _exact_match_normaliser(
        ignore_case, ignore_punctuation, ignore_numbers, ignore_regexes
    )
    return mean(
        float(any(normalise(p) == normalise(r) for r in as_references("exact_match", ref)))
        for p, ref in zip(predictions, references, strict=True)
    )


def normalize_answer(text: str) -> str:
    """SQuAD v1.1's normalisation: lowercase, drop punctuation, drop articles, collapse spaces.

    Exactly the official evaluation script's ``normalize_answer``: ASCII punctuation
    (``string.punctuation``) is removed, then the words ``a``, ``an`` and ``the``, then runs
    of whitespace become one space and the ends are stripped.
    """
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _SQUAD_PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _token_f1(prediction_tokens: list[str], reference_tokens: list[str]) -> float:
    if not prediction_tokens or not reference_tokens:
        # v1.1 gives 0 when both are empty although their EM is 1; like SQuAD v2.0's script
        # (and HF evaluate's squad_v2) we give 1 then, so EM = 1 always implies F1 = 1.
        return float(prediction_tokens == reference_tokens)
    common = Counter(prediction_tokens) & Counter(reference_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(prediction_tokens)
    recall = same / len(reference_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_exact_match_score(prediction: str, references: Reference) -> float:
    """1.0 when the normalised prediction equals a normalised reference, else 0.0."""
    pred = normalize_answer(prediction)
    refs = as_references("squad_exact_match_score", references)
    return float(any(pred == normalize_answer(r) for r in refs))


def squad_f1_score(prediction: str, references: Reference) -> float:
    """Token-overlap F1 after :func:`normalize_answer`, the maximum over the references.

    ``F1 = 2PR / (P + R)`` with ``P = common / len(prediction tokens)`` and
    ``R = common / len(reference tokens)``, ``common`` counting shared tokens with
    multiplicity. In [0, 1] (the official script reports 100 times this).
    """
    pred = normalize_answer(prediction).split()
    refs = as_references("squad_f1_score", references)
    return max(_token_f1(pred, normalize_answer(r).split()) for r in refs)


def squad_exact_match(predictions: Sequence[str], references: Sequence[Reference]) -> float:
    """The mean of :func:`squad_exact_match_score` over the samples."""
    check_pair("squad_exact_match", predictions, references)
    return mean(squad_exact_match_score(p, r) for p, r in zip(predictions, references, strict=True))


def squad_f1(predictions: Sequence[str], references: Sequence[Reference]) -> float:
    """The mean of :func:`squad_f1_score` over the samples."""
    check_pair("squad_f1", predictions, references)
    return mean(squad_f1_score(p, r) for p, r in zip(predictions, references, strict=True))
