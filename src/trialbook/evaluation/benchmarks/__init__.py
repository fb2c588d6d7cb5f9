"""The benchmarks that ship with trialbook: GSM8K and a generic JSONL benchmark."""

from trialbook.evaluation.benchmarks.gsm8k import GSM8K
from trialbook.evaluation.benchmarks.jsonl import JsonlBenchmark

__all__ = ["GSM8K", "JsonlBenchmark"]
