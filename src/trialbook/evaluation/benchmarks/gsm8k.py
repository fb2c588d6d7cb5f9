"""GSM8K (Cobbe et al., 2021): grade-school math word problems with worked solutions.

The data ships in ``trialbook/evaluation/data/gsm8k`` (MIT, copyright OpenAI; the notice is in
its LICENSE file). See docs/evaluation.md for the extraction rules and metric definitions.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from typing import Any, ClassVar, Literal

from trialbook.errors import ConfigError
from trialbook.evaluation._benchmark import BaseBenchmark
from trialbook.evaluation._records import SampleResult
from trialbook.evaluation._scoring import mean
from trialbook.evaluation.metrics import accuracy, partial_accuracy_score
from trialbook.evaluation.metrics._numeric import ascii_minus

__all__ = [
    "GSM8K",
    "Extraction",
    "extract_flexible",
    "extract_strict",
    "intermediate_results",
    "normalize_number",
    "numbers_equal",
]

Extraction = Literal["strict", "flexible"]

#: How the 8-shot exemplars are drawn from the train split: ``random.Random(SHOTS_SEED)``.
SHOTS_SEED = 1234

# A number as a model writes one: an optional sign and dollar sign in either order ("-$5",
# "$-5"), digits with commas only as thousands separators ("1,234", never "3,5"), an optional
# decimal part, and an optional "/digits" (a fraction, read as its value). It does not start
# inside another number ("3,5", "1.5") and is not followed by "=": in "16-3=13" the final
# answer is 13.
_NUM = (
    r"(?<![\d.,])(?:-\s?\$|\$\s?-|-|\$)?\s?"
    r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:/\d+)?"
    r"(?!,?\d|\.\d|/\d|\s*=)"
)
# An arithmetic chain before the result ("16 - 3 = "): skipped so the number after the last
# "=" is read.
_CHAIN = r"(?:[\d.,$+\-*/×÷x() \t]*=\s*)*"
_STRICT = re.compile(rf"^\s*####\s*{_CHAIN}({_NUM})", re.MULTILINE)
_ANSWER_IS = re.compile(rf"[Tt]he (?:final )?answer is:?\s*\**\s*{_CHAIN}({_NUM})")
_A_COLON = re.compile(rf"^\s*A:\s*{_CHAIN}({_NUM})\s*\.?\s*$", re.MULTILINE)
_ANY_NUMBER = re.compile(_NUM)
_ANNOTATION = re.compile(r"<<[^<>]*?=([^<>]*)>>")
# A model continuing the few-shot pattern writes the next question; what follows is ignored.
_NEXT_QUESTION = re.compile(r"\n\s*Q:")

_ZERO_SHOT = (
    "Solve the math problem step by step. Write the final answer on the last line as "
    "'#### <number>'.\n\n"
)


def normalize_number(text: str | None) -> str | None:
    """``"$1,234.50"`` -> ``"1234.5"``; None when ``text`` is not a number.

    A Unicode minus (U+2212) is a minus; ``-0`` is ``0``; a fraction is its value (``"1/2"``
    -> ``"0.5"``, ``"4/2"`` -> ``"2"``, ``"1/3"`` stays ``"1/3"``), so it never equals an
    integer it is not.
    """
    if text is None:
        return None
    cleaned = ascii_minus(text).replace(",", "").replace("$", "").replace(" ", "").rstrip(".")
    numerator, slash, denominator = cleaned.partition("/")
    try:
        value = Decimal(numerator)
        if slash:
            from fractions import Fraction

            exact = Fraction(value) / Fraction(Decimal(denominator))
            if exact.denominator == 1:
                value = Decimal(exact.numerator)
            else:
                q = exact.denominator
                while q % 2 == 0:
                    q //= 2
                while q % 5 == 0:
                    q //= 5
                if q != 1:  # no finite decimal: keep the reduced fraction
                    return f"{exact.numerator}/{exact.denominator}"
                value = Decimal(exact.numerator) / Decimal(exact.denominator)
    except (InvalidOperation, ValueError, ZeroDivisionError):
        return None
    if not value.is_finite():
        return None
    if value == 0:
        return "0"  # "-0" and "0.00" alike
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def numbers_equal(a: str | None, b: str | None) -> bool:
    """Numeric equality of two number texts (``"18" == "18.00" == "$18"``)."""
    x, y = normalize_number(a), normalize_number(b)
    return x is not None and x == y


def _cut(text: str) -> str:
    """The output up to a next few-shot question, with a Unicode minus (U+2212, and the other
    dashes metrics.find_numbers reads as minus) written as ``-``."""
    text = ascii_minus(text)
    m = _NEXT_QUESTION.search(text)
    return text[: m.start()] if m else text


def extract_strict(text: str) -> str | None:
    """The number on the last ``#### N`` line, normalised; None when there is none."""
    found = _STRICT.findall(_cut(text))
    return normalize_number(found[-1]) if found else None


def extract_flexible(text: str) -> str | None:
    """The answer stated most explicitly: the last ``#### N`` line, else the last
    "The answer is N", else the last line "A: N", else the last number in the text (a number
    followed by ``=`` is a step, not an answer)."""
    text = _cut(text)
    for pattern in (_STRICT, _ANSWER_IS, _A_COLON, _ANY_NUMBER):
        found = pattern.findall(text)
        for candidate in reversed(found):
            value = normalize_number(candidate)
            if value is not None:
                return value
    return None


def intermediate_results(solution: str) -> list[str]:
    """The results of a gold solution's calculator annotations (``<<48/2=24>>`` -> ``"24"``),
    normalised, in order; unparsable ones and fractions (``<<3/4=3/4>>``) are skipped."""
    out = []
    for raw in _ANNOTATION.findall(solution):
        if "/" in raw:  # a fraction ("3/4"): partial_accuracy's number search reads 3 and 4
            continue
        value = normalize_number(raw.strip())
        if value is not None:
            out.append(value)
    return out


@lru_cache(maxsize=4)
def _read_split(split: str) -> tuple[dict[str, Any], ...]:
    path = resources.files("trialbook.evaluation") / "data" / "gsm8k" / f"{split}.jsonl"
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        raw = json.loads(line)
        solution = raw["answer"]
        rows.append(
            {
                "id": str(i),
                "question": raw["question"],
                "solution": solution,
                "answer": normalize_number(solution.rsplit("####", 1)[-1].strip()),
                "steps": intermediate_results(solution),
            }
        )
    return tuple(rows)


def _shot_indices(exclude: str | None = None) -> list[int]:
    """Positions in train of the 8 exemplars: the first 8 of 9 drawn with
    ``random.Random(SHOTS_SEED)``, or, when train example ``exclude`` is among them, the other
    7 and the 9th."""
    train = _read_split("train")
    drawn = random.Random(SHOTS_SEED).sample(range(len(train)), 9)
    picks = [i for i in drawn if train[i]["id"] != exclude]
    return picks[:8]


class GSM8K(BaseBenchmark):
    """Grade-school math word problems (GSM8K; 1,319 test and 7,473 train problems).

    Args:
        extraction: how ``accuracy`` reads the answer: ``"strict"`` (the ``#### N`` line, as
            the dataset's solutions end) or ``"flexible"`` (also "The answer is N", "A: N",
            else the last number). Both are always reported as ``accuracy_strict`` and
            ``accuracy_flexible``.
        shots: 0 (an instruction and the question) or 8 (chain-of-thought exemplars drawn
            from the train split with ``random.Random(1234)``, the same 8 every time; when
            the train split itself is evaluated, an example is never among its own shots:
            a ninth fixed exemplar takes its place).

    Examples are ``{"id", "question", "solution", "answer", "steps"}``: ``answer`` is the
    final number and ``steps`` the results of the solution's calculator annotations, both
    normalised; ids are the 0-based line numbers in the split (``"0"``...).
    """

    name = "gsm8k"
    description = "Grade-school math word problems (OpenAI, MIT); numeric final answer"
    splits = ("test", "train")
    metric_fields: ClassVar[Mapping[str, str]] = {
        "accuracy": "correct",
        "accuracy_strict": "correct_strict",
        "accuracy_flexible": "correct_flexible",
        "format_compliance": "format_ok",
        "partial_accuracy": "partial",
    }

    def __init__(self, extraction: Extraction = "strict", shots: int = 0) -> None:
        super().__init__()
        if extraction not in ("strict", "flexible"):
            raise ConfigError(
                f"GSM8K extraction {extraction!r} is not known; use 'strict' or 'flexible'."
            )
        if shots not in (0, 8):
            raise ConfigError(f"GSM8K shots must be 0 or 8, got {shots!r}.")
        self.extraction: Extraction = extraction
        self.shots = shots
        self._preambles: dict[str | None, str] = {}
        self._split: str | None = None  # the split last loaded (prompts depend on it)

    def options(self) -> dict[str, Any]:
        return {"extraction": self.extraction, "shots": self.shots}

    def split_sizes(self) -> dict[str, int | None]:
        return {s: len(_read_split(s)) for s in self.splits}

    def load_dataset(
        self, split: str = "test", num_samples: int | None = None
    ) -> list[dict[str, Any]]:
        if split not in self.splits:
            raise ConfigError(f"GSM8K has no split {split!r}; use one of {', '.join(self.splits)}.")
        rows = _read_split(split)
        self._split = split
        return [dict(r) for r in (rows if num_samples is None else rows[:num_samples])]

    # ------------------------------------------------------------------ prompting
    def _few_shot(self, exclude: str | None = None) -> str:
        preamble = self._preambles.get(exclude)
        if preamble is None:
            train = _read_split("train")
            blocks = []
            for i in _shot_indices(exclude):
                ex = train[i]
                solution = _ANNOTATION.sub("", ex["solution"])
                solution = re.sub(r"<<[^<>]*>>", "", solution)
                blocks.append(f"Q: {ex['question']}\nA: {solution}\n\n")
            preamble = self._preambles[exclude] = "".join(blocks)
        return preamble

    def format_prompt(self, sample: Mapping[str, Any]) -> str:
        if self.shots == 8:
            # Evaluating on train: an example is never among its own shots.
            own = str(sample.get("id")) if self._split == "train" else None
            preamble = self._few_shot(own)
        else:
            preamble = _ZERO_SHOT
        return f"{preamble}Q: {sample['question']}\nA:"

    def few_shot_ids(self, exclude: str | None = None) -> list[str]:
        """The train ids of the 8 chain-of-thought exemplars: fixed, and the same for every
        example, except that train example ``exclude`` is replaced by a ninth fixed one."""
        train = _read_split("train")
        return [train[i]["id"] for i in _shot_indices(exclude)]

    # ------------------------------------------------------------------ scoring
    def reference(self, sample: Mapping[str, Any]) -> Any:
        return sample["answer"]

    def extract_answer(self, text: str) -> str | None:
        return extract_strict(text) if self.extraction == "strict" else extract_flexible(text)

    def check_answer(self, predicted: Any, gold: Any) -> bool:
        return numbers_equal(None if predicted is None else str(predicted), str(gold))

    def score(
        self, sample: Mapping[str, Any], output: str, *, position: int, prompt: str
    ) -> SampleResult:
        gold = sample["answer"]
        strict = extract_strict(output)
        flexible = extract_flexible(output)
        ok_strict = strict is not None and strict == gold
        ok_flexible = flexible is not None and flexible == gold
        chosen, correct = (
            (strict, ok_strict) if self.extraction == "strict" else (flexible, ok_flexible)
        )
        steps = sample.get("steps")
        if steps is None:
            steps = intermediate_results(sample.get("solution", ""))
        partial = partial_accuracy_score(_cut(output), steps)
        if partial is None:  # no calculator annotations: all or nothing
            partial = 1.0 if correct else 0.0
        return SampleResult(
            id=self.sample_id(sample, position),
            input=prompt,
            output=output,
            extracted=chosen,
            reference=gold,
            correct=correct,
            score=1.0 if correct else 0.0,
            fields=self.sample_fields(sample),
            extra={
                "extracted_strict": strict,
                "extracted_flexible": flexible,
                "correct_strict": ok_strict,
                "correct_flexible": ok_flexible,
                "format_ok": strict is not None,
                "partial": partial,
            },
        )

    def metrics(self, samples: Sequence[SampleResult]) -> dict[str, float]:
        return {
            "accuracy": accuracy([bool(s.correct) for s in samples]),
            "accuracy_strict": accuracy([bool(s.extra["correct_strict"]) for s in samples]),
            "accuracy_flexible": accuracy([bool(s.extra["correct_flexible"]) for s in samples]),
            "format_compliance": accuracy([bool(s.extra["format_ok"]) for s in samples]),
            "partial_accuracy": mean(s.extra["partial"] for s in samples),
        }
