"""The Benchmark contract: one class of tests every benchmark passes.

A benchmark's own test suite (a plugin's too) subclasses :class:`BenchmarkContract` (in a
module pytest collects, under a name starting with ``Test``) and overrides
:meth:`BenchmarkContract.make_case` to return a :class:`~trialbook.testing.BenchmarkCase`:
the benchmark plus a function writing, for any example, an output it must score as right
and one it must score as wrong::

    from contextlib import nullcontext

    from trialbook.testing import BenchmarkCase, BenchmarkContract


    class TestMyBenchmark(BenchmarkContract):
        def make_case(self, tmp_path):
            return nullcontext(
                BenchmarkCase(
                    MyBenchmark(),
                    right=lambda example: example["answer"],
                    wrong=lambda example: example["answer"] + "0",
                )
            )

The tests score outputs with :func:`trialbook.evaluation.evaluate`, save them as a
predictions file, and log them into a run in a workspace under ``tmp_path``. trialbook's
built-in benchmarks run through this class in tests/evaluation/test_eval_shared.py. Needs
pytest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

import trialbook
from trialbook.evaluation import BaseBenchmark, PredictionsFile, evaluate
from trialbook.testing.benchmarks import BenchmarkCase

__all__ = ["BenchmarkContract"]

#: How many examples each evaluation scores at most (a smaller split is scored whole).
N = 12


def _expected_n(case: BenchmarkCase) -> int:
    """How many examples an evaluation of ``num_samples=N`` scores on the case's split."""
    return len(case.benchmark.load_dataset(case.split, num_samples=N))


def _oracle(case: BenchmarkCase, which: str) -> Callable[[list[str]], list[str]]:
    """A model answering every prompt of the case's split right (or wrong)."""
    data = {case.benchmark.format_prompt(s): s for s in case.benchmark.load_dataset(case.split)}
    write = case.right if which == "right" else case.wrong
    return lambda prompts: [write(data[p]) for p in prompts]


class BenchmarkContract:
    """The tests every benchmark passes; subclass it and override :meth:`make_case`."""

    def make_case(self, tmp_path: Path) -> AbstractContextManager[BenchmarkCase]:
        """A context manager yielding the :class:`BenchmarkCase` under test (use
        ``contextlib.nullcontext(case)`` when nothing needs cleaning up).

        Args:
            tmp_path: a new folder the benchmark may use (for a generated dataset, say).
        """
        raise NotImplementedError(f"{type(self).__name__} must override make_case(tmp_path).")

    @pytest.fixture
    def case(self, tmp_path: Path) -> Iterator[BenchmarkCase]:
        with self.make_case(tmp_path) as built:
            yield built

    def test_is_a_benchmark_with_a_name(self, case: BenchmarkCase) -> None:
        assert isinstance(case.benchmark, BaseBenchmark)
        assert case.benchmark.name and case.benchmark.name != "benchmark"

    def test_dataset_is_deterministic_with_unique_string_ids(self, case: BenchmarkCase) -> None:
        bench = case.benchmark
        full = bench.load_dataset(case.split)
        again = bench.load_dataset(case.split)
        assert full == again
        ids = [bench.sample_id(s, i) for i, s in enumerate(full)]
        assert all(isinstance(i, str) and i for i in ids)
        assert len(set(ids)) == len(ids)

    def test_num_samples_takes_the_first_examples(self, case: BenchmarkCase) -> None:
        bench = case.benchmark
        assert bench.load_dataset(case.split, num_samples=N) == bench.load_dataset(case.split)[:N]

    def test_prompts_are_text_containing_the_question(self, case: BenchmarkCase) -> None:
        for s in case.benchmark.load_dataset(case.split, num_samples=3):
            prompt = case.benchmark.format_prompt(s)
            question = case.benchmark.question(s)
            assert isinstance(prompt, str) and prompt
            assert question is not None and question in prompt

    def test_extract_answer_copes_with_empty_and_odd_text(self, case: BenchmarkCase) -> None:
        for text in ("", "   ", "no answer here", "####", "\u00e9\u4e2d"):
            case.benchmark.extract_answer(text)  # must not raise

    def test_right_outputs_score_one_and_wrong_zero(self, case: BenchmarkCase) -> None:
        right = evaluate(_oracle(case, "right"), case.benchmark, num_samples=N, progress=False)
        wrong = evaluate(_oracle(case, "wrong"), case.benchmark, num_samples=N, progress=False)
        assert right.metrics["accuracy"] == 1.0
        assert all(s.correct for s in right.samples)
        assert wrong.metrics["accuracy"] == 0.0
        assert not any(s.correct for s in wrong.samples)

    def test_samples_in_dataset_order_with_latency(self, case: BenchmarkCase) -> None:
        result = evaluate(_oracle(case, "right"), case.benchmark, num_samples=N, progress=False)
        data = case.benchmark.load_dataset(case.split, num_samples=N)
        assert [s.id for s in result.samples] == [
            case.benchmark.sample_id(d, i) for i, d in enumerate(data)
        ]
        assert result.n == len(data)
        assert all(s.latency is not None and s.latency >= 0 for s in result.samples)
        assert result.timing.total >= result.timing.model >= 0

    def test_saved_predictions_score_like_the_model(
        self, case: BenchmarkCase, tmp_path: Path
    ) -> None:
        data = case.benchmark.load_dataset(case.split)
        path = tmp_path / "preds.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for i, s in enumerate(data):
                f.write(
                    json.dumps({"id": case.benchmark.sample_id(s, i), "prediction": case.right(s)})
                    + "\n"
                )
        result = evaluate(PredictionsFile(path), case.benchmark, num_samples=N, progress=False)
        assert result.metrics["accuracy"] == 1.0
        assert result.n == _expected_n(case)
        assert all(s.latency is None for s in result.samples)
        assert result.timing.model == 0.0

    def test_result_round_trips_through_a_run(self, case: BenchmarkCase, tmp_path: Path) -> None:
        result = evaluate(_oracle(case, "right"), case.benchmark, num_samples=N, progress=False)
        json.dumps(result.to_dict())  # strictly JSON-ready
        with trialbook.start_run(
            "shared", {}, root=tmp_path / "ws", system_metrics=False, capture_packages=False
        ) as run:
            run.log_evaluation(case.benchmark.name, result)
        lines = (run.path / "evaluations" / f"{case.benchmark.name}.jsonl").read_text().splitlines()
        assert len(lines) == _expected_n(case)
        assert json.loads(lines[0])["correct"] is True
        summary = json.loads((run.path / "summary.json").read_text())
        assert summary["evaluations"][case.benchmark.name]["metrics"]["accuracy"] == 1.0

    def test_each_declared_per_sample_field_averages_to_its_metric(
        self, case: BenchmarkCase, tmp_path: Path
    ) -> None:
        from trialbook.analysis._samples import field_values

        data = {case.benchmark.format_prompt(s): s for s in case.benchmark.load_dataset(case.split)}
        order = list(data)

        def mixed(prompts: list[str]) -> list[str]:
            # Right on every third example, so each metric is strictly between 0 and 1.
            return [
                (case.right if order.index(p) % 3 == 0 else case.wrong)(data[p]) for p in prompts
            ]

        result = evaluate(mixed, case.benchmark, num_samples=N, progress=False)
        with trialbook.start_run(
            "shared", {}, root=tmp_path / "ws", system_metrics=False, capture_packages=False
        ) as run:
            run.log_evaluation(case.benchmark.name, result)
        with trialbook.open_store(tmp_path / "ws") as db:
            stored = db.evaluation_samples(run.id, case.benchmark.name)
        fields = case.benchmark.metric_fields
        assert "accuracy" in fields and set(fields) <= set(result.metrics)
        for metric, field in fields.items():
            got = field_values(stored, field)
            assert got is not None, f"{metric}: the stored samples lack {field!r}"
            assert sum(got[0]) / len(got[0]) == pytest.approx(result.metrics[metric])
        assert 0 < result.metrics["accuracy"] < 1

    def test_slices_cover_every_sample(self, case: BenchmarkCase) -> None:
        result = evaluate(_oracle(case, "right"), case.benchmark, num_samples=N, progress=False)
        for field in case.benchmark.slice_fields:
            assert field in result.slices
            assert all(m["accuracy"] == 1.0 for m in result.slices[field].values())
