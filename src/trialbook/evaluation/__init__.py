"""Evaluation: benchmarks, metrics, models and per-sample results.

Score a model (any function from a list of prompts to a list of texts) on GSM8K::

    from trialbook.evaluation import BenchmarkRegistry

    result = BenchmarkRegistry.evaluate(my_model, "gsm8k", num_samples=100)
    print(result.metrics["accuracy"])

and record it, with every per-sample result, as a new run of experiment ``evaluate``
(or under an existing run with ``run=``)::

    from trialbook.evaluation import evaluate_and_record

    recorded = evaluate_and_record("gsm8k", my_model, num_samples=100)
    print(recorded.run_id, recorded.result.metrics["accuracy"])

Names are imported on first use, so importing this package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trialbook._lazy import lazy_attributes

# name -> module that defines it; resolved on first attribute access.
_LAZY = {
    "GSM8K": "trialbook.evaluation.benchmarks.gsm8k",
    "HFCausalLM": "trialbook.evaluation.models",
    "OpenAICompatible": "trialbook.evaluation.models",
    "BaseBenchmark": "trialbook.evaluation._benchmark",
    "BenchmarkInfo": "trialbook.evaluation._registry",
    "BenchmarkRegistry": "trialbook.evaluation._registry",
    "CallableModel": "trialbook.evaluation._model",
    "DEFAULT_EXPERIMENT": "trialbook.evaluation._workflow",
    "EvaluationNotRecorded": "trialbook.evaluation._workflow",
    "EvaluationResult": "trialbook.evaluation._records",
    "JsonlBenchmark": "trialbook.evaluation.benchmarks.jsonl",
    "Model": "trialbook.evaluation._model",
    "PredictionsFile": "trialbook.evaluation._predictions",
    "RecordedEvaluation": "trialbook.evaluation._workflow",
    "SampleResult": "trialbook.evaluation._records",
    "Timing": "trialbook.evaluation._records",
    "as_model": "trialbook.evaluation._model",
    "evaluate": "trialbook.evaluation._evaluate",
    "evaluate_and_record": "trialbook.evaluation._workflow",
    "load_model": "trialbook.evaluation.models",
}

__all__ = [
    "DEFAULT_EXPERIMENT",
    "GSM8K",
    "BaseBenchmark",
    "BenchmarkInfo",
    "BenchmarkRegistry",
    "CallableModel",
    "EvaluationNotRecorded",
    "EvaluationResult",
    "HFCausalLM",
    "JsonlBenchmark",
    "Model",
    "OpenAICompatible",
    "PredictionsFile",
    "RecordedEvaluation",
    "SampleResult",
    "Timing",
    "as_model",
    "evaluate",
    "evaluate_and_record",
    "load_model",
]

if TYPE_CHECKING:
    from trialbook.evaluation._benchmark import BaseBenchmark
    from trialbook.evaluation._evaluate import evaluate
    from trialbook.evaluation._model import CallableModel, Model, as_model
    from trialbook.evaluation._predictions import PredictionsFile
    from trialbook.evaluation._records import EvaluationResult, SampleResult, Timing
    from trialbook.evaluation._registry import BenchmarkInfo, BenchmarkRegistry
    from trialbook.evaluation._workflow import (
        DEFAULT_EXPERIMENT,
        EvaluationNotRecorded,
        RecordedEvaluation,
        evaluate_and_record,
    )
    from trialbook.evaluation.benchmarks.gsm8k import GSM8K
    from trialbook.evaluation.benchmarks.jsonl import JsonlBenchmark
    from trialbook.evaluation.models import HFCausalLM, OpenAICompatible, load_model


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
