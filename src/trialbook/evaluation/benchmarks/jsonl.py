"""A benchmark from the user's own JSONL file: one example per line, a question field and an
answer field; scored by exact match after light normalisation."""

from __future__ import annotations

import json
import os
import re
import string
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from trialbook.config._suggest import did_you_mean
from trialbook.errors import ConfigError
from trialbook.evaluation._benchmark import BaseBenchmark
from trialbook.evaluation._predictions import read_jsonl
from trialbook.evaluation.metrics import exact_match_score

__all__ = ["JsonlBenchmark", "normalize_text"]

_SPACES = re.compile(r"\s+")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_text(text: str, *, ignore_case: bool = True, ignore_punctuation: bool = False) -> str:
    """Whitespace collapsed and stripped; lower-cased and without punctuation on request."""
    if ignore_case:
        text = text.lower()
    if ignore_punctuation:
        text = text.translate(_PUNCT)
    return _SPACES.sub(" ", text).strip()


class JsonlBenchmark(BaseBenchmark):
    """Examples from a JSONL file, scored by exact match.

    Args:
        path: the JSONL file, one JSON object per line.
        question_field: the field holding the prompt text.
        answer_field: the field holding the gold answer (a string, number or bool; a list
            means any of several answers is right).
        id_field: the field holding a stable example id (default: the line's position among
            the examples, from 0).
        name: the benchmark name in results (default: the file's stem).
        slice_fields: fields to slice the metrics by (``category``, ``language``...).
        prompt_template: a ``str.format`` template over the example's fields, e.g.
            ``"Question: {question}\\nAnswer:"`` (default: the question text as it is).
        ignore_case: compare answers case-insensitively (default True).
        ignore_punctuation: drop punctuation before comparing (default False).

    The file is the benchmark's only split, ``test``. The model's output, stripped, is its
    answer; it is compared with :func:`trialbook.evaluation.metrics.exact_match_score`
    after runs of whitespace are collapsed on both sides (and with the options above).
    """

    description = "Your own JSONL file: question and answer fields, exact-match scoring"
    splits = ("test",)

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        question_field: str = "question",
        answer_field: str = "answer",
        id_field: str | None = None,
        name: str | None = None,
        slice_fields: Sequence[str] = (),
        prompt_template: str | None = None,
        ignore_case: bool = True,
        ignore_punctuation: bool = False,
    ) -> None:
        if path is None:
            raise ConfigError(
                "The jsonl benchmark needs a data file; pass path=FILE.", parameter="path"
            )
        self.path = Path(path)
        super().__init__(name or self.path.stem)
        self.question_field = question_field
        self.answer_field = answer_field
        self.id_field = id_field
        self.slice_fields = tuple(slice_fields)
        self.prompt_template = prompt_template
        self.ignore_case = ignore_case
        self.ignore_punctuation = ignore_punctuation
        self._rows: list[dict[str, Any]] | None = None

    def options(self) -> dict[str, Any]:
        return {
            "data": str(self.path),
            "question_field": self.question_field,
            "answer_field": self.answer_field,
            "id_field": self.id_field,
            "ignore_case": self.ignore_case,
            "ignore_punctuation": self.ignore_punctuation,
        }

    def split_sizes(self) -> dict[str, int | None]:
        return {"test": len(self._read())}

    def _read(self) -> list[dict[str, Any]]:
        if self._rows is not None:
            return self._rows
        rows: list[dict[str, Any]] = []
        seen: dict[str, int] = {}
        for number, obj in read_jsonl(self.path, what="Data file"):
            for role, field in (
                ("question", self.question_field),
                ("answer", self.answer_field),
                ("id", self.id_field),
            ):
                if field is not None and field not in obj:
                    have = ", ".join(sorted(obj)) or "none"
                    raise ConfigError(
                        f"{self.path} line {number} has no {role} field {field!r} (its "
                        f"fields: {have}); name the right one with --{role}-field."
                    )
            self._check_types(number, obj)
            sid = str(obj[self.id_field]) if self.id_field else str(len(rows))
            if sid in seen:
                raise ConfigError(
                    f"{self.path} line {number} repeats id {sid!r} (first on line "
                    f"{seen[sid]}); ids in {self.id_field!r} must be unique."
                )
            seen[sid] = number
            rows.append({**obj, "id": sid})
        if not rows:
            raise ConfigError(f"Data file {self.path} has no examples; write one JSON per line.")
        self._check_slice_fields(rows)
        self._rows = rows
        return rows

    def _check_types(self, number: int, obj: Mapping[str, Any]) -> None:
        """Refuse a question, answer or id of a JSON type that would be scored as its Python
        text (``None``, ``{'a': 1}``) instead of what the user meant."""

        def scalar(value: Any) -> bool:
            return isinstance(value, str | int | float)  # bool is an int

        def answer(value: Any) -> bool:
            return scalar(value) or (isinstance(value, list) and all(map(scalar, value)))

        def sample_id(value: Any) -> bool:
            return isinstance(value, str) or (
                isinstance(value, int) and not isinstance(value, bool)
            )

        wanted: list[tuple[str, str | None, Callable[[Any], bool], str]] = [
            ("question", self.question_field, lambda value: isinstance(value, str), "a string"),
            ("answer", self.answer_field, answer, "a string, number or bool, or a list of them"),
            ("id", self.id_field, sample_id, "a string or an integer"),
        ]
        for role, field, ok, want in wanted:
            if field is None or ok(obj[field]):
                continue
            value = obj[field]
            shown = "null" if value is None else json.dumps(value)[:60]
            raise ConfigError(
                f"{self.path} line {number}: the {role} field {field!r} is {shown}, not {want}; "
                "fix that line or leave the example out."
            )

    def _check_slice_fields(self, rows: list[dict[str, Any]]) -> None:
        """Refuse a field to slice by that no example has (a typo would otherwise give no
        slices and no error)."""
        for field in self.slice_fields:
            if any(row.get(field) is not None for row in rows):
                continue
            known = sorted({k for row in rows for k in row})
            hint = did_you_mean(field, known) or "."
            raise ConfigError(
                f"No example in {self.path} has the field {field!r} to slice by (its fields: "
                f"{', '.join(known)}){hint}"
            )

    def load_dataset(
        self, split: str = "test", num_samples: int | None = None
    ) -> list[dict[str, Any]]:
        if split != "test":
            raise ConfigError(
                f"The jsonl benchmark has one split, 'test' (the whole file), not {split!r}."
            )
        rows = self._read()
        return list(rows if num_samples is None else rows[:num_samples])

    def question(self, sample: Mapping[str, Any]) -> str | None:
        value = sample.get(self.question_field)
        return None if value is None else str(value)

    def format_prompt(self, sample: Mapping[str, Any]) -> str:
        if self.prompt_template is None:
            return str(sample[self.question_field])
        try:
            return self.prompt_template.format(**sample)
        except (KeyError, IndexError) as e:
            raise ConfigError(
                f"The prompt template names {e} which example {sample['id']!r} lacks; use "
                f"its fields: {', '.join(sorted(sample))}."
            ) from None

    def reference(self, sample: Mapping[str, Any]) -> Any:
        return sample[self.answer_field]

    @staticmethod
    def _text(value: Any) -> str:
        # Runs of whitespace count as one space: answers copied across files differ there.
        return _SPACES.sub(" ", value if isinstance(value, str) else json.dumps(value)).strip()

    def extract_answer(self, text: str) -> str:
        return text.strip()

    def check_answer(self, predicted: Any, gold: Any) -> bool:
        if predicted is None:
            return False
        golds = gold if isinstance(gold, list) else [gold]
        score = exact_match_score(
            self._text(predicted),
            [self._text(g) for g in golds],
            ignore_case=self.ignore_case,
            ignore_punctuation=self.ignore_punctuation,
        )
        return score == 1.0
