"""The benchmark interface: a dataset, how to prompt for each example, how to read and check
the model's answer, and which metrics summarise the results."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from trialbook.evaluation._records import SampleResult

__all__ = ["BaseBenchmark"]


class BaseBenchmark(ABC):
    """A benchmark evaluated by :func:`trialbook.evaluation.evaluate`.

    A subclass implements three methods and inherits the rest:

    * :meth:`load_dataset` returns the examples of a split as dicts, in a fixed order.
      Each should carry a stable ``"id"`` (paired statistics match samples across runs on
      it); an example without one gets its position in the split.
    * :meth:`extract_answer` reads the answer out of a model's raw output (None when there
      is none).
    * :meth:`check_answer` says whether an extracted answer matches the gold one: a bool,
      or a float score in [0, 1] for graded benchmarks.

    The defaults for the others assume the examples have ``"question"`` and ``"answer"``
    fields: :meth:`format_prompt` returns the question, :meth:`reference` the answer.
    :meth:`metrics` reports ``accuracy`` (the mean of :meth:`check_answer` over samples);
    benchmarks with more metrics override it together with :meth:`score`.

    An instance is used by one evaluation at a time; ``BenchmarkRegistry.get`` builds a new
    one per call (unless an instance was registered). Mistakes a user can fix (a missing
    data file, an unknown split) raise :class:`~trialbook.errors.ConfigError`.

    Class attributes a subclass may set:
        name: the registered name (``super().__init__("my_benchmark")`` also sets it).
        description: one line for ``trialbook benchmarks``.
        splits: the splits :meth:`load_dataset` accepts (empty: not declared, not checked).
        slice_fields: example fields the results are sliced by when present
            (``category``, ``language``, ``difficulty``).
        metric_fields: metric name -> the per-sample field whose mean over the samples is
            that metric: ``"correct"``, ``"score"`` or a key the samples carry in ``extra``
            (GSM8K: ``{"accuracy_flexible": "correct_flexible", ...}``). Paired significance
            tests, ``compare`` and reports read a metric's per-sample values from it (a
            boolean field is 0/1 correctness and gets McNemar's test). The default backs
            ``accuracy`` by ``correct``; a graded benchmark (:meth:`check_answer` returns
            floats) declares ``{"accuracy": "score"}``. A metric with no per-sample value
            (a corpus BLEU, a median) is left out.
    """

    name: str = "benchmark"
    description: str = ""
    splits: tuple[str, ...] = ()
    slice_fields: tuple[str, ...] = ()
    metric_fields: ClassVar[Mapping[str, str]] = {"accuracy": "correct"}

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            self.name = name

    # ------------------------------------------------------------------ required
    @abstractmethod
    def load_dataset(
        self, split: str = "test", num_samples: int | None = None
    ) -> list[dict[str, Any]]:
        """The first ``num_samples`` examples of ``split`` (all when None), in a fixed order."""

    @abstractmethod
    def extract_answer(self, text: str) -> Any:
        """The answer in a model's raw output, or None when there is none."""

    @abstractmethod
    def check_answer(self, predicted: Any, gold: Any) -> bool | float:
        """Whether ``predicted`` (from :meth:`extract_answer`) matches ``gold`` (from
        :meth:`reference`), or a score in [0, 1]."""

    # ------------------------------------------------------------------ defaults
    def format_prompt(self, sample: Mapping[str, Any]) -> str:
        """The text the model is given for ``sample`` (default: its ``question``)."""
        return str(sample.get("question", sample.get("input", sample.get("prompt", ""))))

    def question(self, sample: Mapping[str, Any]) -> str | None:
        """The example's question text, which predictions files may match on."""
        value = sample.get("question")
        return None if value is None else str(value)

    def reference(self, sample: Mapping[str, Any]) -> Any:
        """The gold answer compared by :meth:`check_answer` (default: ``answer``)."""
        for key in ("answer", "gold", "target", "label"):
            if key in sample:
                return sample[key]
        return None

    def sample_id(self, sample: Mapping[str, Any], position: int) -> str:
        """The example's ``id``, or its position in the split when it has none."""
        value = sample.get("id")
        return str(position if value is None else value)

    def sample_fields(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """The example's :attr:`slice_fields` that it has."""
        return {f: sample[f] for f in self.slice_fields if sample.get(f) is not None}

    def split_sizes(self) -> dict[str, int | None]:
        """Number of examples per split, for ``trialbook benchmarks`` (None: unknown)."""
        return {split: None for split in self.splits}

    def options(self) -> dict[str, Any]:
        """The options this instance was built with, recorded with its results."""
        return {}

    def score(
        self, sample: Mapping[str, Any], output: str, *, position: int, prompt: str
    ) -> SampleResult:
        """One example scored: its output extracted and checked (latency filled in later).

        Benchmarks with several per-sample measures override this and put them in
        ``extra`` for :meth:`metrics` to aggregate.
        """
        gold = self.reference(sample)
        extracted = self.extract_answer(output)
        verdict = self.check_answer(extracted, gold)
        if isinstance(verdict, bool):
            correct: bool | None = verdict
            value = 1.0 if verdict else 0.0
        else:
            value = float(verdict)
            correct = None
        return SampleResult(
            id=self.sample_id(sample, position),
            input=prompt,
            output=output,
            extracted=extracted,
            reference=gold,
            correct=correct,
            score=value,
            fields=self.sample_fields(sample),
        )

    def metrics(self, samples: Sequence[SampleResult]) -> dict[str, float]:
        """Summary metrics over ``samples`` (default: ``accuracy``, the mean score)."""
        from trialbook.evaluation._scoring import mean

        return {"accuracy": mean(s.score for s in samples)}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
