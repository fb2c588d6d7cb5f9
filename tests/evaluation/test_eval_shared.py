"""The Benchmark contract (:class:`trialbook.testing.BenchmarkContract`) on every built-in
benchmark in ``BENCHMARK_BACKENDS``: one subclass per benchmark, each building its case with
``make_benchmark``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from trialbook.testing import BENCHMARK_BACKENDS, BenchmarkCase, BenchmarkContract, make_benchmark


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
