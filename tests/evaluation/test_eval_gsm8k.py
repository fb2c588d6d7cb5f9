"""GSM8K: the shipped data, both extractions, numeric comparison, metrics, the 8-shot prompt."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from trialbook.errors import ConfigError
from trialbook.evaluation import GSM8K, PredictionsFile, evaluate
from trialbook.evaluation.benchmarks.gsm8k import (
    extract_flexible,
    extract_strict,
    intermediate_results,
    normalize_number,
    numbers_equal,
)


def _preds(path: Path, rows: list[dict[str, str]], field: str) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "prediction": r[field]}) + "\n")
    return path


def test_data_ships_in_the_package_with_its_license() -> None:
    base = resources.files("trialbook.evaluation") / "data" / "gsm8k"
    assert "MIT" in (base / "LICENSE").read_text(encoding="utf-8")
    assert "OpenAI" in (base / "LICENSE").read_text(encoding="utf-8")
    assert GSM8K().split_sizes() == {"test": 1319, "train": 7473}


def test_examples_have_ids_questions_solutions_and_numeric_answers() -> None:
    first = GSM8K().load_dataset("test", num_samples=2)
    assert first[0]["id"] == "0" and first[1]["id"] == "1"
    assert first[0]["question"].startswith("Janet")
    assert first[0]["answer"] == "18"
    assert first[0]["solution"].endswith("#### 18")


@pytest.mark.parametrize("extraction", ["strict", "flexible"])
def test_gold_solutions_score_100_percent(extraction: str, tmp_path: Path) -> None:
    rows = GSM8K().load_dataset("test")
    path = _preds(tmp_path / "gold.jsonl", rows, "solution")
    result = evaluate(PredictionsFile(path), GSM8K(extraction=extraction), progress=False)  # type: ignore[arg-type]
    assert result.n == 1319
    assert result.metrics["accuracy"] == 1.0
    assert result.metrics["accuracy_strict"] == 1.0
    assert result.metrics["accuracy_flexible"] == 1.0
    assert result.metrics["format_compliance"] == 1.0
    assert result.metrics["partial_accuracy"] == 1.0


def test_questions_as_predictions_score_about_zero(tmp_path: Path) -> None:
    rows = GSM8K().load_dataset("test")
    path = _preds(tmp_path / "questions.jsonl", rows, "question")
    strict = evaluate(PredictionsFile(path), GSM8K(extraction="strict"), progress=False)
    flexible = evaluate(PredictionsFile(path), GSM8K(extraction="flexible"), progress=False)
    assert strict.metrics["accuracy"] < 0.02
    assert strict.metrics["format_compliance"] == 0.0
    # The last number of a question is its answer by coincidence about 2% of the time.
    assert flexible.metrics["accuracy"] < 0.03
    assert flexible.metrics["accuracy"] == strict.metrics["accuracy_flexible"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18", "18"),
        ("18.0", "18"),
        ("18.00", "18"),
        ("$1,234", "1234"),
        ("1,234.50", "1234.5"),
        ("-3", "-3"),
        ("0.25", "0.25"),
        ("18.", "18"),
        ("-0", "0"),
        ("0.00", "0"),
        ("\u22125", "-5"),
        ("1/2", "0.5"),
        ("4/2", "2"),
        ("1/3", "1/3"),
        ("1/0", None),
        ("abc", None),
        (None, None),
    ],
)
def test_normalize_number(text: str | None, expected: str | None) -> None:
    assert normalize_number(text) == expected


def test_numbers_compare_numerically() -> None:
    assert numbers_equal("18", "18.00")
    assert numbers_equal("$18", "18.0")
    assert not numbers_equal("18", "180")
    assert not numbers_equal(None, "18")


@pytest.mark.parametrize(
    ("text", "strict", "flexible"),
    [
        ("She makes 9 * 2 = 18 dollars.\n#### 18", "18", "18"),
        ("#### $1,200.00", "1200", "1200"),
        ("So 3 + 4 = 7. The answer is 7.", None, "7"),
        ("The answer is $1,000. Later she had 5 left.", None, "1000"),
        ("Q: how many?\nA: 42", None, "42"),
        ("first 3 then 5 so 12", None, "12"),
        ("#### 5\nsome text #### 6", "5", "5"),
        ("#### 5\n#### 6", "6", "6"),
        ("It is 4.\n#### 4\n\nQ: Next question has 99 apples\nA: 99", "4", "4"),
        ("no numbers at all", None, None),
        # Issue 10 item 12: each decision on odd answers.
        ("#### 1/2", "0.5", "0.5"),  # a fraction is its value, never the integer 1
        ("The answer is \u22125.", None, "-5"),  # U+2212 is a minus in both extractions
        ("#### \u22125", "-5", "-5"),
        ("#### -0", "0", "0"),  # -0 is 0
        ("#### 3,5", None, None),  # commas only as thousands separators: not 35, not 3 or 5
        ("I had 2 apples.\n#### 3,5", None, "2"),
        ("#### 1,234", "1234", "1234"),
        ("#### $-5", "-5", "-5"),
        ("It costs -$5", None, "-5"),
        ("The answer is 16-3=13.", None, "13"),  # a number followed by = is a step
        ("She has 16-3=13 eggs left", None, "13"),
        ("#### 16 - 3 = 13", "13", "13"),
        ("3, 5 and 7", None, "7"),
        ("", None, None),
    ],
)
def test_extractions(text: str, strict: str | None, flexible: str | None) -> None:
    assert extract_strict(text) == strict
    assert extract_flexible(text) == flexible


@pytest.mark.parametrize(
    ("output", "gold", "correct"),
    [
        ("#### 1/2", "1", False),
        ("#### 4/2", "2", True),
        ("#### -0", "0", True),
        ("#### \u22127", "-7", True),
        ("#### 3,5", "35", False),
        ("#### $-5", "-5", True),
        ("The answer is 16-3=13.", "13", True),
    ],
)
def test_odd_answers_are_scored_as_decided(output: str, gold: str, correct: bool) -> None:
    sample = {"id": "x", "question": "q", "solution": f"#### {gold}", "answer": gold}
    flexible = GSM8K(extraction="flexible").score(sample, output, position=0, prompt="q")
    assert flexible.correct is correct and flexible.extra["correct_flexible"] is correct
    if output.startswith("####"):
        assert flexible.extra["correct_strict"] is correct


def test_intermediate_results_from_calculator_annotations() -> None:
    solution = "It takes 2/2=<<2/2=1>>1 bolt\nSo 2+1=<<2+1=3>>3 bolts\n#### 3"
    assert intermediate_results(solution) == ["1", "3"]


def test_partial_accuracy_is_the_fraction_of_intermediate_results_shown() -> None:
    bench = GSM8K()
    sample = {
        "id": "x",
        "question": "q",
        "solution": "a <<16-3-4=9>>9 b <<9*2=18>>18\n#### 18",
        "answer": "18",
    }
    half = bench.score(sample, "She has 9 eggs.\n#### 20", position=0, prompt="q")
    full = bench.score(sample, "9 eggs, 18 dollars\n#### 18", position=0, prompt="q")
    assert half.extra["partial"] == 0.5 and half.correct is False
    assert full.extra["partial"] == 1.0 and full.correct is True
    metrics = bench.metrics([half, full])
    assert metrics == {
        "accuracy": 0.5,
        "accuracy_strict": 0.5,
        "accuracy_flexible": 0.5,
        "format_compliance": 1.0,
        "partial_accuracy": 0.75,
    }


def test_extraction_choice_sets_accuracy() -> None:
    sample = GSM8K().load_dataset(num_samples=1)[0]
    output = "The answer is 18."
    strict = GSM8K(extraction="strict").score(sample, output, position=0, prompt="")
    flexible = GSM8K(extraction="flexible").score(sample, output, position=0, prompt="")
    assert (strict.correct, strict.extracted) == (False, None)
    assert (flexible.correct, flexible.extracted) == (True, "18")
    assert strict.extra["format_ok"] is False


def test_eight_shot_prompt_is_deterministic_from_the_train_split() -> None:
    sample = GSM8K().load_dataset(num_samples=1)[0]
    one, two = GSM8K(shots=8), GSM8K(shots=8)
    prompt = one.format_prompt(sample)
    assert prompt == two.format_prompt(sample)
    assert prompt.count("Q: ") == 9 and prompt.endswith(f"Q: {sample['question']}\nA:")
    assert "<<" not in prompt  # calculator annotations removed
    assert prompt.count("\n#### ") == 8
    train = {r["id"]: r for r in GSM8K().load_dataset("train")}
    ids = one.few_shot_ids()
    assert len(set(ids)) == 8
    assert all(train[i]["question"] in prompt for i in ids)
    assert GSM8K().format_prompt(sample).count("Q: ") == 1


def test_bad_options_and_split() -> None:
    with pytest.raises(ConfigError, match=r"'loose'.*'strict' or 'flexible'"):
        GSM8K(extraction="loose")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="shots must be 0 or 8, got 5"):
        GSM8K(shots=5)
    with pytest.raises(ConfigError, match=r"no split 'dev'.*test, train"):
        GSM8K().load_dataset("dev")
    with pytest.raises(ConfigError, match="no split 'dev'"):
        evaluate(lambda p: p, "gsm8k", split="dev", progress=False)
