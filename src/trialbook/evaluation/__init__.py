"""Evaluation: benchmarks, metrics, models and per-sample results.

Score a model (any function from a list of prompts to a list of texts) on GSM8K::

    from trialbook.evaluation import BenchmarkRegistry

    result = BenchmarkRegistry.evaluate(my_model, "gsm8k", num_samples=100)
    print(result.metrics["accuracy"])

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
    "EvaluationResult": "trialbook.evaluation._records",
    "JsonlBenchmark": "trialbook.evaluation.benchmarks.jsonl",
    "Model": "trialbook.evaluation._model",
    "PredictionsFile": "trialbook.evaluation._predictions",
    "SampleResult": "trialbook.evaluation._records",
    "Timing": "trialbook.evaluation._records",
    "as_model": "trialbook.evaluation._model",
    "evaluate": "trialbook.evaluation._evaluate",
    "load_model": "trialbook.evaluation.models",
}

__all__ = [
    "GSM8K",
    "BaseBenchmark",
    "BenchmarkInfo",
    "BenchmarkRegistry",
    "CallableModel",
    "EvaluationResult",
    "HFCausalLM",
    "JsonlBenchmark",
    "Model",
    "OpenAICompatible",
    "PredictionsFile",
    "SampleResult",
    "Timing",
    "as_model",
    "evaluate",
    "load_model",
]

if TYPE_CHECKING:
    from trialbook.evaluation._benchmark import BaseBenchmark
    from trialbook.evaluation._evaluate import evaluate
    from trialbook.evaluation._model import CallableModel, Model, as_model
    from trialbook.evaluation._predictions import PredictionsFile
    from trialbook.evaluation._records import EvaluationResult, SampleResult, Timing
    from trialbook.evaluation._registry import BenchmarkInfo, BenchmarkRegistry
    from trialbook.evaluation.benchmarks.gsm8k import GSM8K
    from trialbook.evaluation.benchmarks.jsonl import JsonlBenchmark
    from trialbook.evaluation.models import HFCausalLM, OpenAICompatible, load_model


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
