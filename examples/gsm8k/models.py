"""Two GSM8K "models" that need no weights, for trying trialbook's evaluation on a CPU.

* :func:`calculator`: a rule-based baseline. It reads the numbers in the question and guesses
  the answer by combining them (the product of the first two when the question asks about
  "each"/"per"/"every", else the sum of all of them). It scores a few percent.
* :class:`NoisyOracle`: returns the gold solution for a deterministic fraction ``skill`` of
  the questions (chosen by a hash of the question, so the same questions every time) and the
  calculator's guess for the rest. Two oracles with different skills differ significantly.

Both write chain-of-thought-like text ending with a ``#### N`` line, as GSM8K solutions do.
From the command line (run from the repository root)::

    trialbook evaluate gsm8k --model python:examples.gsm8k.models:calculator -n 100
    trialbook evaluate gsm8k --model python:examples.gsm8k.models:oracle -n 100

From Python::

    from trialbook import BenchmarkRegistry
    from examples.gsm8k.models import NoisyOracle

    result = BenchmarkRegistry.evaluate(model=NoisyOracle(0.7), benchmark_name="gsm8k",
                                        num_samples=100)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from trialbook.errors import ConfigError
from trialbook.evaluation import GSM8K, Model

__all__ = ["NoisyOracle", "calculator", "guess", "oracle", "question_of"]

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_PER = re.compile(r"\b(each|per|every)\b", re.IGNORECASE)


def question_of(prompt: str) -> str:
    """The question inside a GSM8K prompt (the text after the last ``Q:``, before ``A:``)."""
    start = prompt.rfind("Q: ")
    body = prompt[start + 3 :] if start >= 0 else prompt
    end = body.rfind("\nA:")
    return (body[:end] if end >= 0 else body).strip()


def _fmt(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def guess(question: str) -> str:
    """The calculator's worked guess for ``question``, ending with ``#### N``."""
    numbers = []
    for raw in _NUMBER.findall(question):
        try:
            numbers.append(Decimal(raw.replace(",", "")))
        except InvalidOperation:  # pragma: no cover - the pattern only matches numbers
            continue
    if not numbers:
        return "I found no numbers in the question.\n#### 0"
    shown = [_fmt(n) for n in numbers]
    if _PER.search(question) and len(numbers) >= 2:
        result = numbers[0] * numbers[1]
        work = f"{shown[0]} * {shown[1]} = {_fmt(result)}"
    else:
        result = sum(numbers, Decimal(0))
        work = f"{' + '.join(shown)} = {_fmt(result)}"
    return f"The numbers in the question are {', '.join(shown)}.\n{work}\n#### {_fmt(result)}"


def calculator(prompts: Sequence[str]) -> list[str]:
    """The rule-based baseline: one guess per GSM8K prompt."""
    return [guess(question_of(p)) for p in prompts]


@lru_cache(maxsize=1)
def _solutions() -> dict[str, str]:
    """Gold solutions of the shipped GSM8K (both splits), by question text."""
    bench = GSM8K()
    return {
        row["question"].strip(): row["solution"]
        for split in bench.splits
        for row in bench.load_dataset(split)
    }


def _unit_hash(text: str) -> float:
    """A number in [0, 1) fixed by ``text``: which questions an oracle knows."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class NoisyOracle(Model):
    """Knows the gold solution of a fixed fraction ``skill`` of the questions.

    A question is known when a hash of its text, mapped to [0, 1), is below ``skill``; so an
    oracle with a higher skill knows every question a lower one knows. Unknown questions (and
    questions not in the shipped GSM8K) get the :func:`calculator`'s guess.
    """

    batch_size = 64

    def __init__(self, skill: float = 0.6, name: str | None = None) -> None:
        if not 0.0 <= skill <= 1.0:
            raise ConfigError(f"NoisyOracle skill {skill!r} is not in [0, 1]; pass e.g. 0.6.")
        self.skill = float(skill)
        self.name = name or f"noisy-oracle-{self.skill:g}"

    def answer(self, question: str) -> str:
        """The solution text for one question."""
        solution = _solutions().get(question)
        if solution is not None and _unit_hash(question) < self.skill:
            return solution
        return guess(question)

    def generate(self, prompts: Sequence[str]) -> list[str]:
        return [self.answer(question_of(p)) for p in prompts]


def oracle() -> NoisyOracle:
    """A :class:`NoisyOracle` with skill 0.6 (a factory, for ``python:...:oracle``)."""
    return NoisyOracle(0.6, name="oracle-0.6")
