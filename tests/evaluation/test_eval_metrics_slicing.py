"""Slicing metrics by a sample field, and the metrics package's public surface."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import trialbook.evaluation.metrics as metrics
from trialbook.errors import ConfigError
from trialbook.evaluation._records import EvaluationResult, SampleResult, Timing
from trialbook.evaluation.metrics import accuracy, slice_by, slice_metrics


def sample(i: int, correct: bool, score: float | None = None, **fields: Any) -> SampleResult:
    return SampleResult(
        id=str(i),
        input="q",
        output="a",
        extracted="a",
        reference="a",
        correct=correct,
        score=float(correct) if score is None else score,
        fields=fields,
        extra={"format_ok": not correct},
    )


SAMPLES = [
    sample(0, True, language="en", difficulty="easy"),
    sample(1, True, language="en", difficulty="hard"),
    sample(2, False, language="de", difficulty="hard"),
    sample(3, True, language="de", difficulty="easy"),
    sample(4, False, language="fr", difficulty="hard"),
    sample(5, False, language="en", difficulty="hard"),
]


def test_slice_by_with_a_per_sample_value_name() -> None:
    assert slice_by(SAMPLES, "language", "correct") == {
        "de": 0.5,
        "en": pytest.approx(2 / 3),
        "fr": 0.0,
    }
    # A key of `extra` works the same way.
    assert slice_by(SAMPLES, "difficulty", "format_ok") == {"easy": 0.0, "hard": 0.75}


def test_slice_by_with_a_function_of_the_samples() -> None:
    def acc(group: Sequence[SampleResult]) -> float:
        return accuracy([s.correct for s in group])

    assert slice_by(SAMPLES, "difficulty", acc) == {"easy": 1.0, "hard": 0.25}


def test_slice_by_over_mappings_and_their_fields() -> None:
    rows = [
        {"category": "algebra", "correct": True},
        {"category": "algebra", "correct": False},
        {"fields": {"category": "geometry"}, "correct": True},
        {"correct": True},  # no category: its own slice, not dropped
    ]
    assert slice_by(rows, "category", "correct") == {
        "algebra": 0.5,
        "geometry": 1.0,
        "(missing)": 1.0,
    }


def test_slice_values_are_strings_and_none_scores_are_skipped() -> None:
    rows = [
        {"level": 1, "score": 0.5},
        {"level": 1, "score": None},
        {"level": 2, "score": None},
    ]
    result = slice_by(rows, "level", "score")
    assert result["1"] == 0.5
    assert math.isnan(result["2"])


def test_an_unknown_field_suggests_the_spelling() -> None:
    with pytest.raises(ConfigError, match=r"No sample has the field 'langauge'.*'language'"):
        slice_by(SAMPLES, "langauge", "correct")
    with pytest.raises(ConfigError, match="the samples have: category"):
        slice_by([{"category": "x"}], "zzz", "correct")


def test_a_value_that_is_not_a_number_cannot_be_averaged() -> None:
    with pytest.raises(ConfigError, match="Cannot average the per-sample value 'output'"):
        slice_by(SAMPLES, "language", "output")


def test_slice_by_refuses_bad_input() -> None:
    with pytest.raises(ConfigError, match="slice_by got no samples"):
        slice_by([], "language", "correct")
    with pytest.raises(ConfigError, match="not a int"):
        slice_by(SAMPLES, "language", 3)  # type: ignore[arg-type]


def test_slice_metrics_has_the_shape_evaluation_result_expects() -> None:
    slices = slice_metrics(SAMPLES, ["language", "difficulty"], {"accuracy": "correct", "n": len})
    assert slices == {
        "language": {
            "de": {"accuracy": 0.5, "n": 2},
            "en": {"accuracy": pytest.approx(2 / 3), "n": 3},
            "fr": {"accuracy": 0.0, "n": 1},
        },
        "difficulty": {
            "easy": {"accuracy": 1.0, "n": 2},
            "hard": {"accuracy": 0.25, "n": 4},
        },
    }
    result = EvaluationResult(
        benchmark="toy",
        split="test",
        metrics={"accuracy": 0.5},
        samples=tuple(SAMPLES),
        timing=Timing.of(1.0, 0.5, len(SAMPLES)),
        slices=slices,
    )
    assert result.to_dict()["slices"]["difficulty"]["hard"]["accuracy"] == 0.25


def test_slice_metrics_with_a_benchmark_style_function() -> None:
    def summary(group: Sequence[SampleResult]) -> dict[str, float]:
        return {"accuracy": accuracy([s.correct for s in group]), "n": len(group)}

    assert slice_metrics(SAMPLES, "difficulty", summary) == {
        "difficulty": {"easy": {"accuracy": 1.0, "n": 2}, "hard": {"accuracy": 0.25, "n": 4}}
    }
    with pytest.raises(ConfigError, match="not a int"):
        slice_metrics(SAMPLES, ["difficulty"], 3)  # type: ignore[arg-type]


@given(st.lists(st.tuples(st.sampled_from("abc"), st.booleans()), min_size=1, max_size=40))
def test_slice_accuracies_weighted_by_size_give_the_overall_accuracy(
    rows: list[tuple[str, bool]],
) -> None:
    samples = [{"group": g, "correct": c} for g, c in rows]
    sliced = slice_metrics(samples, ["group"], {"accuracy": "correct", "n": len})["group"]
    total = sum(v["accuracy"] * v["n"] for v in sliced.values())
    assert total / len(rows) == pytest.approx(accuracy([c for _, c in rows]))


# --- the package's surface ------------------------------------------------------------------


def test_all_is_sorted_and_every_name_is_a_documented_function() -> None:
    names = metrics.__all__
    assert list(names) == sorted(names)
    for name in names:
        fn = getattr(metrics, name)
        assert callable(fn), name
        assert fn.__doc__, f"{name} has no docstring"


def test_the_names_other_modules_call_exist() -> None:
    expected = {
        "accuracy", "exact_match", "squad_exact_match", "squad_f1", "partial_accuracy",
        "format_compliance", "relative_error", "dimensional_correctness", "boolean_accuracy",
        "bleu", "chrf", "rouge", "bertscore", "slice_by",
    }  # fmt: skip
    assert expected <= set(metrics.__all__)


def test_importing_the_metrics_loads_no_optional_library() -> None:
    code = (
        "import sys, trialbook, trialbook.evaluation.metrics\n"
        "heavy = ['sacrebleu', 'rouge_score', 'nltk', 'pint', 'bert_score', 'numpy', 'torch']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
