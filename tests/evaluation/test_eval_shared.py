"""The Benchmark contract (:class:`trialbook.testing.BenchmarkContract`) on every built-in
benchmark in ``BENCHMARK_BACKENDS``: one subclass per benchmark, each building its case with
``make_benchmark``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from trialbook.evaluation.benchmarks.jsonl import JsonlBenchmark
from trialbook.testing import BENCHMARK_BACKENDS, BenchmarkCase, BenchmarkContract, make_benchmark
from trialbook.testing.benchmarks import write_jsonl_dataset


class BuiltInBenchmark(BenchmarkContract):
    backend: str

    def make_case(self, tmp_path: Path) -> AbstractContextManager[BenchmarkCase]:
        return make_benchmark(self.backend, tmp_path)


class TestGsm8k(BuiltInBenchmark):
    backend = "gsm8k"


class TestJsonlBenchmark(BuiltInBenchmark):
    backend = "jsonl"


def test_every_built_in_benchmark_runs_the_contract() -> None:
    assert sorted(c.backend for c in BuiltInBenchmark.__subclasses__()) == sorted(
        BENCHMARK_BACKENDS
    )


class _Lenient(JsonlBenchmark):
    """Breaks a rule: every answer counts as right."""

    def check_answer(self, predicted: Any, gold: Any) -> bool:
        return True


def test_the_contract_fails_a_benchmark_that_breaks_a_rule(tmp_path: Path) -> None:
    data = write_jsonl_dataset(tmp_path / "data.jsonl")
    case = BenchmarkCase(
        _Lenient(data, question_field="q", answer_field="a", id_field="id"),
        right=lambda s: str(s["a"]),
        wrong=lambda s: f"{s['a']}0",
    )
    with pytest.raises(AssertionError):
        BenchmarkContract().test_right_outputs_score_one_and_wrong_zero(case)
