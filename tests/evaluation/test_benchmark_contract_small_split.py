"""A third-party benchmark whose split is smaller than the contract's sample count passes
:class:`trialbook.testing.BenchmarkContract` (subclassed as docs/architecture.md shows)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from trialbook.evaluation import BaseBenchmark
from trialbook.testing import BenchmarkCase, BenchmarkContract


class FiveSums(BaseBenchmark):
    """Five questions ``i+1``; the answer is the sum as text."""

    def __init__(self) -> None:
        super().__init__("five_sums")

    def load_dataset(
        self, split: str = "test", num_samples: int | None = None
    ) -> list[dict[str, Any]]:
        data = [{"id": str(i), "question": f"{i}+1", "answer": str(i + 1)} for i in range(5)]
        return data[:num_samples] if num_samples is not None else data

    def extract_answer(self, text: str) -> Any:
        return text.strip() or None

    def check_answer(self, predicted: Any, gold: Any) -> bool:
        return bool(predicted == gold)


class TestBenchmarkWithFiveExamplesPassesTheContract(BenchmarkContract):
    def make_case(self, tmp_path: Path) -> AbstractContextManager[BenchmarkCase]:
        return nullcontext(
            BenchmarkCase(
                FiveSums(),
                right=lambda example: example["answer"],
                wrong=lambda example: example["answer"] + "0",
            )
        )
