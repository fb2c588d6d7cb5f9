"""Every built-in benchmark, built with an oracle, for one test suite run against all of them.

``BENCHMARK_BACKENDS`` names the benchmarks; :func:`make_benchmark` builds one as a
:class:`BenchmarkCase`: the benchmark plus two functions that write, for any example, an output
the benchmark must score as right and one it must score as wrong. Adding a benchmark to the
shared suite is one entry in ``_FACTORIES``. A plugin's own tests run the same suite by
subclassing :class:`trialbook.testing.BenchmarkContract` with a :class:`BenchmarkCase` for
their benchmark.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trialbook.evaluation._benchmark import BaseBenchmark

__all__ = ["BENCHMARK_BACKENDS", "BenchmarkCase", "make_benchmark", "write_jsonl_dataset"]

Output = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class BenchmarkCase:
    """A benchmark and outputs it must score as right (``right``) and wrong (``wrong``).

    Attributes:
        benchmark: the benchmark under test.
        right: an output for an example that the benchmark must count correct.
        wrong: an output that it must count incorrect.
        split: a split with examples.
    """

    benchmark: BaseBenchmark
    right: Output
    wrong: Output
    split: str = "test"


@contextmanager
def _gsm8k(tmp_path: Path) -> Iterator[BenchmarkCase]:
    from trialbook.evaluation.benchmarks.gsm8k import GSM8K

    yield BenchmarkCase(
        GSM8K(),
        right=lambda s: str(s["solution"]),
        wrong=lambda s: f"I think it is\n#### {int(float(s['answer'])) + 1}",
    )


def write_jsonl_dataset(path: Path, n: int = 40) -> Path:
    """A small generated JSONL dataset: ``id``, ``q``, ``a`` and a ``category`` to slice by."""
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            row = {
                "id": f"ex{i:03d}",
                "q": f"What is {i} plus {i}?",
                "a": str(2 * i),
                "category": "even" if i % 2 == 0 else "odd",
            }
            f.write(json.dumps(row) + "\n")
    return path


@contextmanager
def _jsonl(tmp_path: Path) -> Iterator[BenchmarkCase]:
    from trialbook.evaluation.benchmarks.jsonl import JsonlBenchmark

    data = write_jsonl_dataset(tmp_path / "generated.jsonl")
    bench = JsonlBenchmark(
        data, question_field="q", answer_field="a", id_field="id", slice_fields=["category"]
    )
    yield BenchmarkCase(bench, right=lambda s: f"  {s['a']} ", wrong=lambda s: f"{s['a']}0")


_FACTORIES: dict[str, Callable[[Path], AbstractContextManager[BenchmarkCase]]] = {
    "gsm8k": _gsm8k,
    "jsonl": _jsonl,
}

#: The benchmarks every shared benchmark test runs against.
BENCHMARK_BACKENDS: list[str] = list(_FACTORIES)


@contextmanager
def make_benchmark(backend: str, tmp_path: Path) -> Iterator[BenchmarkCase]:
    """A :class:`BenchmarkCase` for ``backend`` (one of ``BENCHMARK_BACKENDS``).

    Raises:
        ValueError: ``backend`` is not one of ``BENCHMARK_BACKENDS``.
    """
    try:
        factory = _FACTORIES[backend]
    except KeyError:
        raise ValueError(
            f"Unknown benchmark backend {backend!r}; use one of {', '.join(BENCHMARK_BACKENDS)}."
        ) from None
    with factory(Path(tmp_path)) as case:
        yield case
