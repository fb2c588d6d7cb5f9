"""Evaluation edge cases: raw outputs kept per sample, a run's own samples re-scored as
predictions, --slice-by typos, model exceptions, train-split shots, JSON error positions
and list references."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import trialbook
from trialbook.errors import ConfigError, ModelError
from trialbook.evaluation import GSM8K, JsonlBenchmark, PredictionsFile, evaluate
from trialbook.tracking._run import _sample

COMMON = {"system_metrics": False, "capture_packages": False}


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- 1. the raw output is kept, and a run's own samples score as the original evaluation ------


def test_output_is_kept_when_it_is_the_very_prediction_object() -> None:
    text = "Paris"
    sample = _sample({"id": "0", "prediction": text, "output": text, "correct": True}, 0)
    assert sample.prediction == "Paris" and sample.extra["output"] == "Paris"
    # Only the key the prediction came from is not repeated.
    taken = _sample({"id": "0", "raw_output": text, "output": text}, 0)
    assert taken.prediction == "Paris" and "raw_output" not in taken.extra
    assert taken.extra["output"] == "Paris"


def test_jsonl_file_of_a_run_has_the_output_of_every_sample(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "qa.jsonl", [{"question": "Capital of France?", "answer": "Paris"}])
    # The benchmark's extraction (strip) returns the output object itself.
    result = evaluate(lambda ps: ["Paris" for _ in ps], JsonlBenchmark(data), progress=False)
    with trialbook.start_run("ev", {}, root=tmp_path / "ws", **COMMON) as run:
        run.log_evaluation("qa", result)
    (line,) = _lines(run.path / "evaluations" / "qa.jsonl")
    assert line["prediction"] == "Paris" and line["output"] == "Paris"


def _mixed(prompts: list[str]) -> list[str]:
    """Right (strict), right only under flexible extraction, and nothing, in turn."""
    bench = GSM8K()
    gold = {bench.format_prompt(s): s for s in bench.load_dataset(num_samples=12)}
    out = []
    for i, p in enumerate(prompts):
        s = gold[p]
        out.append([s["solution"], f"So the answer is {s['answer']}.", "I do not know."][i % 3])
    return out


def test_a_runs_own_samples_rescore_to_the_same_metrics(tmp_path: Path) -> None:
    first = evaluate(_mixed, "gsm8k", num_samples=12, progress=False, extraction="flexible")
    with trialbook.start_run("ev", {}, root=tmp_path, **COMMON) as run:
        run.log_evaluation("gsm8k", first)
    saved = run.path / "evaluations" / "gsm8k.jsonl"
    # In that file 'prediction' is the extracted number, 'output' the raw text.
    assert _lines(saved)[1]["prediction"] != _lines(saved)[1]["output"]
    again = evaluate(
        PredictionsFile(saved), "gsm8k", num_samples=12, progress=False, extraction="flexible"
    )
    assert dict(again.metrics) == dict(first.metrics)
    assert first.metrics["accuracy_strict"] != first.metrics["accuracy_flexible"]
    assert [s.output for s in again.samples] == [s.output for s in first.samples]


def test_a_line_without_output_is_scored_from_prediction(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "p.jsonl", [{"id": "0", "prediction": "#### 18"}])
    result = evaluate(PredictionsFile(path), "gsm8k", num_samples=1, progress=False)
    assert result.metrics["accuracy"] == 1.0


# -- 2. --slice-by naming a field no example has -----------------------------------------------


def test_slicing_by_a_field_no_example_has_is_an_error(tmp_path: Path) -> None:
    rows = [{"question": "q", "answer": "a", "category": "x"}]
    data = _jsonl(tmp_path / "qa.jsonl", rows)
    bench = JsonlBenchmark(data, slice_fields=["categroy"])
    with pytest.raises(ConfigError, match=r"field 'categroy' to slice by.*did you mean 'category'"):
        evaluate(lambda ps: ["a" for _ in ps], bench, progress=False)


# -- 5. an exception inside the model ----------------------------------------------------------


def _function_from(path: Path, source: str, name: str) -> Callable[[list[str]], list[str]]:
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn: Callable[[list[str]], list[str]] = getattr(module, name)
    return fn


def test_an_exception_in_the_model_is_a_model_error_naming_where(tmp_path: Path) -> None:
    bad = _function_from(
        tmp_path / "boom_model.py",
        "def helper():\n    raise RuntimeError('boom')\n\ndef bad(prompts):\n    helper()\n",
        "bad",
    )
    with pytest.raises(ModelError) as err:
        evaluate(bad, "gsm8k", num_samples=2, progress=False)
    assert str(err.value) == (
        "Model 'bad' raised RuntimeError: boom (boom_model.py:2); fix the model function, or "
        "run it directly to see the traceback."
    )
    assert isinstance(err.value.__cause__, RuntimeError)


def test_keyboard_interrupt_in_the_model_is_not_wrapped() -> None:
    def interrupted(prompts: list[str]) -> list[str]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate(interrupted, "gsm8k", num_samples=1, progress=False)


# -- 6. train split with 8 shots ---------------------------------------------------------------


def test_a_train_example_is_not_among_its_own_shots() -> None:
    bench = GSM8K(shots=8)
    train = bench.load_dataset("train")
    shots = bench.few_shot_ids()
    own = train[int(shots[3])]
    prompt = bench.format_prompt(own)
    assert prompt.count("Q: ") == 9 and prompt.count("\n#### ") == 8
    assert prompt.count(own["question"]) == 1  # only as the question asked
    assert own["solution"].rsplit("####", 1)[0].strip()[:40] not in prompt
    replaced = bench.few_shot_ids(exclude=own["id"])
    assert own["id"] not in replaced and len(set(replaced)) == 8
    assert set(shots) - set(replaced) == {own["id"]}
    # Any other train example gets the usual eight; so does the test split's example "957"
    # (the ids overlap, the splits do not).
    other = train[0] if "0" not in shots else train[1]
    usual = prompt_preamble(GSM8K(shots=8).format_prompt(other), other)
    assert prompt_preamble(bench.format_prompt(other), other) == usual
    test_bench = GSM8K(shots=8)
    test_sample = test_bench.load_dataset("test")[int(shots[3])]
    assert prompt_preamble(test_bench.format_prompt(test_sample), test_sample) == usual


def prompt_preamble(prompt: str, sample: dict[str, Any]) -> str:
    return prompt[: -len(f"Q: {sample['question']}\nA:")]


# -- 7. the position of a JSON error -----------------------------------------------------------


def test_json_errors_give_the_files_line_and_column_only(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "0", "prediction": "x"}\n{"id": "1", "prediction": "x"\n')
    with pytest.raises(ConfigError) as err:
        evaluate(PredictionsFile(path), "gsm8k", num_samples=2, progress=False)
    assert str(err.value) == (
        f"{path} line 2, column 30 is not valid JSON (Expecting ',' delimiter); JSONL needs "
        "each object on one line, so write it without line breaks."
    )
    path.write_text('{"id": "0", "prediction": "x"}\n{oops}\n')
    with pytest.raises(ConfigError) as err:
        evaluate(PredictionsFile(path), "gsm8k", num_samples=2, progress=False)
    assert str(err.value) == (
        f"{path} line 2, column 2 is not valid JSON (Expecting property name enclosed in "
        "double quotes); write one JSON object per line."
    )


def test_pretty_printed_data_file_is_said_to_need_one_object_per_line(tmp_path: Path) -> None:
    path = tmp_path / "pretty.jsonl"
    path.write_text('{"question": "q", "answer": "a"}\n{\n  "question": "r",\n  "answer": "b"\n}\n')
    with pytest.raises(ConfigError) as err:
        JsonlBenchmark(path).load_dataset()
    message = str(err.value)
    assert message.startswith(f"{path} line 2, column 2 is not valid JSON (")
    assert "one line" in message and "char" not in message


# -- 9. list references ------------------------------------------------------------------------


def test_a_list_answer_is_stored_as_json_text(tmp_path: Path) -> None:
    data = _jsonl(
        tmp_path / "capitals.jsonl",
        [{"question": "Capital of Spain?", "answer": ["Madrid", "madrid city"]}],
    )
    result = evaluate(lambda ps: ["madrid" for _ in ps], JsonlBenchmark(data), progress=False)
    assert result.samples[0].to_dict()["reference"] == '["Madrid", "madrid city"]'
    with trialbook.start_run("ev", {}, root=tmp_path / "ws", **COMMON) as run:
        run.log_evaluation("capitals", result)
    (line,) = _lines(run.path / "evaluations" / "capitals.jsonl")
    assert json.loads(line["reference"]) == ["Madrid", "madrid city"]
    with trialbook.open_store(tmp_path / "ws") as db:
        (stored,) = db.evaluation_samples(run.id, "capitals")
    assert stored.reference == '["Madrid", "madrid city"]'
