"""Saved model outputs as the model: a JSONL file whose lines carry ``prediction`` and the
example they answer (its ``id``, its ``index`` in the split, or the exact ``question`` text)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trialbook.errors import ConfigError
from trialbook.evaluation._benchmark import BaseBenchmark

__all__ = ["MatchedPredictions", "PredictionsFile"]

#: How many missing or unknown ids an error message names.
_SHOW = 5
#: The longest line a JSONL file may have (characters): far beyond any real example, and a
#: stop for files with no line breaks at all (/dev/zero, a binary dump) before memory runs out.
MAX_LINE = 16 * 1024 * 1024


@dataclass(frozen=True)
class MatchedPredictions:
    """The outcome of :meth:`PredictionsFile.match`.

    Attributes:
        outputs: one entry per example of the split, the prediction text or None.
        missing: ids of the examples without a prediction (only with ``allow_missing``).
        lines: how many predictions the file held.
    """

    outputs: list[str | None]
    missing: list[str]
    lines: int


class PredictionsFile:
    """A predictions file used in place of a model.

    Each line is a JSON object with ``prediction`` (the raw output text, scored as if a
    model had written it) and one of ``id`` (the example's id), ``index`` (its 0-based
    position in the split) or ``question`` (its exact question text). A line with
    ``output`` is scored from its raw output; otherwise from ``prediction`` -- so a run's
    own ``evaluations/<benchmark>.jsonl`` (extracted answer in ``prediction``, raw text in
    ``output``) scores as the original evaluation did. The file is read line by line; only
    the texts to score are kept.

    Args:
        path: the JSONL file.
        allow_missing: score only the examples the file covers instead of refusing a file
            that misses some (the result's ``config`` records how many were missing).

    :meth:`match` raises :class:`~trialbook.errors.ConfigError` for a missing or empty file,
    a line that is not a JSON object (naming its number), a line without ``prediction`` or
    without a key, a key that matches no example, two predictions for one example, and
    (unless ``allow_missing``) examples without a prediction.
    """

    name = "predictions"
    batch_size = 0

    def __init__(self, path: str | os.PathLike[str], *, allow_missing: bool = False) -> None:
        self.path = Path(path)
        self.allow_missing = allow_missing
        self.name = f"predictions:{self.path.name}"

    def _lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        return read_jsonl(
            self.path,
            what="Predictions file",
            example='{"id": "0", "prediction": "... #### 18"}',
        )

    def match(
        self,
        benchmark: BaseBenchmark,
        samples: Sequence[Mapping[str, Any]],
        limit: int | None = None,
    ) -> MatchedPredictions:
        """The prediction for each of ``samples`` (a whole split, in order).

        Only the first ``limit`` examples (all when None) need a prediction; predictions for
        later ones are accepted and ignored by the caller.
        """
        limit = len(samples) if limit is None else min(limit, len(samples))
        ids = [benchmark.sample_id(s, i) for i, s in enumerate(samples)]
        by_id = {sid: i for i, sid in enumerate(ids)}
        by_question: dict[str, list[int]] | None = None
        outputs: list[str | None] = [None] * len(samples)
        first_line: list[int] = [0] * len(samples)
        count = 0
        for number, obj in self._lines():
            count += 1
            # A run's own evaluations/<benchmark>.jsonl holds the extracted answer in
            # 'prediction' and the raw text in 'output': the raw output is what is scored.
            field = "output" if "output" in obj else "prediction"
            if field not in obj:
                raise ConfigError(
                    f"{self.path} line {number} has no 'prediction'; every line needs "
                    "'prediction' (or the raw 'output') and one of 'id', 'index' or "
                    "'question'."
                )
            prediction = self._text(number, field, obj[field])
            if obj.get("id") is not None:
                key = _key(self.path, number, "id", obj["id"])
                found = by_id.get(key)
                what = f"id {key!r}"
            elif obj.get("index") is not None:
                index = obj["index"]
                if isinstance(index, bool) or not isinstance(index, int):
                    raise ConfigError(
                        f"{self.path} line {number}: index {index!r} is not an integer; give "
                        "the example's 0-based position in the split."
                    )
                found = index if 0 <= index < len(samples) else None
                what = f"index {index}"
            elif obj.get("question") is not None:
                if by_question is None:
                    by_question = {}
                    for i, s in enumerate(samples):
                        q = benchmark.question(s)
                        if q is not None:
                            by_question.setdefault(q, []).append(i)
                candidates = by_question.get(
                    _key(self.path, number, "question", obj["question"]), []
                )
                # Repeated questions in a dataset take predictions in order.
                found = next((i for i in candidates if outputs[i] is None), None)
                if found is None and candidates:
                    found = candidates[0]
                what = f"question {_clip(str(obj['question']))!r}"
            else:
                raise ConfigError(
                    f"{self.path} line {number} names no example; add 'id', 'index' or the "
                    "exact 'question' text."
                )
            if found is None:
                raise ConfigError(
                    f"{self.path} line {number}: {what} is not in the {benchmark.name} split "
                    f"(ids run {_id_range(ids)}); check that the file is for this benchmark "
                    "and split."
                )
            if outputs[found] is not None:
                raise ConfigError(
                    f"{self.path} line {number} repeats the prediction for id "
                    f"{ids[found]!r} (first on line {first_line[found]}); keep one per example."
                )
            outputs[found] = prediction
            first_line[found] = number
        if count == 0:
            raise ConfigError(
                f"Predictions file {self.path} is empty; write one JSON object per line with "
                "'prediction' and 'id', 'index' or 'question'."
            )
        missing = [ids[i] for i in range(limit) if outputs[i] is None]
        if missing and not self.allow_missing:
            shown = ", ".join(repr(m) for m in missing[:_SHOW])
            more = f" and {len(missing) - _SHOW} more" if len(missing) > _SHOW else ""
            raise ConfigError(
                f"{self.path} has no prediction for {len(missing)} of the {limit} "
                f"examples (ids {shown}{more}); add them, or pass allow_missing=True to "
                "score only the covered examples.",
                parameter="allow_missing",
                value=False,
            )
        return MatchedPredictions(outputs=outputs, missing=missing, lines=count)

    def _text(self, number: int, field: str, value: Any) -> str:
        """The text to score from ``field`` of line ``number``: a string as it is, a number or
        a bool as its JSON text (``18``, ``true``, as a model would have written it)."""
        if isinstance(value, str):
            return value
        if isinstance(value, int | float):  # bool included; NaN never gets here (read_jsonl)
            return json.dumps(value)
        if value is None:
            raise ConfigError(
                f"{self.path} line {number}: {field!r} is null; write the model's output as a "
                'string ("" for an empty output), or leave the line out and pass '
                "allow_missing=True.",
                parameter="allow_missing",
                value=False,
            )
        raise ConfigError(
            f"{self.path} line {number}: {field!r} is a JSON {_json_type(value)}, not text; "
            "write the model's output as one string."
        )

    def __repr__(self) -> str:
        return f"PredictionsFile({str(self.path)!r}, allow_missing={self.allow_missing})"


def _json_type(value: Any) -> str:
    names = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }
    return names.get(type(value), type(value).__name__)


def _key(path: Path, number: int, field: str, value: Any) -> str:
    """An ``id`` or ``question`` as text: a string, or an integer id written as a number."""
    if isinstance(value, str) or (
        field == "id" and isinstance(value, int) and not isinstance(value, bool)
    ):
        return str(value)
    want = "a string or an integer" if field == "id" else "a string"
    raise ConfigError(
        f"{path} line {number}: {field!r} is a JSON {_json_type(value)} ({_clip(repr(value))}), "
        f"not {want}; write the example's {field} as {want}."
    )


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _id_range(ids: Sequence[str]) -> str:
    if not ids:
        return "nowhere: the split is empty"
    return f"{ids[0]!r} to {ids[-1]!r}" if len(ids) > 1 else repr(ids[0])


def read_jsonl(
    path: Path, *, what: str, example: str | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSONL file, streamed.

    Raises:
        ConfigError: the file is missing, a folder, unreadable or not UTF-8, or a line is
            too long, not JSON (a bare NaN included) or not a JSON object; ``what``
            ("Predictions file") names the file in the sentence, ``example`` shows a good line.
    """
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist; check the path.") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a folder; give the JSONL file inside it.") from None
    except OSError as e:
        raise ConfigError(
            f"{what} {path} cannot be read ({e.strerror or e}); check its permissions."
        ) from None
    with handle:
        try:
            lines = iter(lambda: handle.readline(MAX_LINE + 1), "")
            for number, line in enumerate(lines, start=1):
                if len(line) > MAX_LINE:
                    raise ConfigError(
                        f"{path} line {number} is longer than {MAX_LINE:,} characters; "
                        "write one JSON object per line (is it a JSONL file?)."
                    )
                if not line.strip():
                    continue
                try:
                    # Without the line break, so that the column is the file's own.
                    obj = json.loads(line.rstrip("\r\n"), parse_constant=_refuse_constant)
                except _NotJson as e:
                    raise ConfigError(
                        f"{path} line {number} holds a bare {e.literal}, which is not JSON "
                        f'(Python wrote it); write it as a string ("{e.literal}") or null, '
                        "or write the file with json.dumps(..., allow_nan=False)."
                    ) from None
                except RecursionError:
                    raise ConfigError(
                        f"{path} line {number} nests deeper than Python can read; flatten it."
                    ) from None
                except ValueError as e:
                    raise ConfigError(json_line_error(path, number, line, e)) from None
                if not isinstance(obj, dict):
                    fix = f"; write lines like {example}." if example else "."
                    raise ConfigError(
                        f"{path} line {number} is a JSON {_json_type(obj)}, not an object{fix}"
                    )
                yield number, obj
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path} is not UTF-8 text ({e}); save it as UTF-8 JSONL.") from None
        except OSError as e:  # a read error part-way (an I/O error, a vanished network file)
            raise ConfigError(
                f"{what} {path} could not be read to the end ({e.strerror or e}); check the "
                "file and try again."
            ) from e


class _NotJson(ValueError):
    def __init__(self, literal: str) -> None:
        super().__init__(literal)
        self.literal = literal


def _refuse_constant(literal: str) -> Any:
    # json.loads accepts NaN, Infinity and -Infinity, which no JSON parser outside Python does.
    raise _NotJson(literal)


def json_line_error(path: Path, number: int, line: str, error: ValueError) -> str:
    """The sentence for a JSONL line that does not parse (``line`` parsed without its line
    break): the file's line number with the column and reason of the error, never the
    decoder's own "line 1" (which counts lines inside the text given to it)."""
    text = line.rstrip("\r\n")
    at_end = False
    if isinstance(error, json.JSONDecodeError):
        column = error.colno if error.lineno == 1 else error.pos + 1
        where = f"{path} line {number}, column {column}"
        reason = error.msg
        at_end = not text[error.pos :].strip()
    else:
        where, reason = f"{path} line {number}", str(error)
    # An object still open where the line ends: probably JSON spread over several lines.
    stripped = text.strip()
    multi_line = at_end and stripped.startswith("{") and stripped.count("{") > stripped.count("}")
    hint = (
        "JSONL needs each object on one line, so write it without line breaks"
        if multi_line
        else "write one JSON object per line"
    )
    return f"{where} is not valid JSON ({reason}); {hint}."
