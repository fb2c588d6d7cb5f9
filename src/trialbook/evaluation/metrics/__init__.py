"""Evaluation metrics, each a documented function (see docs/metrics.md).

Most come in two levels: a per-sample score (``squad_f1_score(prediction, references)``),
which benchmarks store with each example, and a corpus-level aggregate over lists
(``squad_f1(predictions, references)``, the mean of the per-sample scores unless the
metric says otherwise). Lists whose lengths differ, and empty lists, raise ConfigError.

BLEU, chrF and ROUGE need the ``metrics`` extra, dimensional correctness the ``units``
extra and BERTScore the ``bertscore`` extra; they are imported when first used.
"""

from __future__ import annotations

from trialbook.evaluation.metrics._classification import accuracy, boolean_accuracy, parse_boolean
from trialbook.evaluation.metrics._generation import (
    bertscore,
    bleu,
    bleu_score,
    chrf,
    chrf_score,
    rouge,
    rouge_score,
)
from trialbook.evaluation.metrics._numeric import (
    find_numbers,
    mean_relative_error,
    median_relative_error,
    parse_number,
    relative_error,
)
from trialbook.evaluation.metrics._slicing import slice_by, slice_metrics
from trialbook.evaluation.metrics._structure import (
    format_compliance,
    format_compliance_score,
    partial_accuracy,
    partial_accuracy_score,
)
from trialbook.evaluation.metrics._text import (
    exact_match,
    exact_match_score,
    normalize_answer,
    squad_exact_match,
    squad_exact_match_score,
    squad_f1,
    squad_f1_score,
)
from trialbook.evaluation.metrics._units import (
    dimensional_correctness,
    dimensional_correctness_score,
)

__all__ = [
    "accuracy",
    "bertscore",
    "bleu",
    "bleu_score",
    "boolean_accuracy",
    "chrf",
    "chrf_score",
    "dimensional_correctness",
    "dimensional_correctness_score",
    "exact_match",
    "exact_match_score",
    "find_numbers",
    "format_compliance",
    "format_compliance_score",
    "mean_relative_error",
    "median_relative_error",
    "normalize_answer",
    "parse_boolean",
    "parse_number",
    "partial_accuracy",
    "partial_accuracy_score",
    "relative_error",
    "rouge",
    "rouge_score",
    "slice_by",
    "slice_metrics",
    "squad_exact_match",
    "squad_exact_match_score",
    "squad_f1",
    "squad_f1_score",
]
