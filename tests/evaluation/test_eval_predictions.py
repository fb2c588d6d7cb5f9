"""Predictions files: keys by id, index or question; every way a file can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trialbook.errors import ConfigError
from trialbook.evaluation import GSM8K, PredictionsFile, evaluate


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return GSM8K().load_dataset("test")


def _write(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines),
        encoding="utf-8",
    )
    return path


def test_id_index_and_question_keys_mix(rows: list[dict[str, str]], tmp_path: Path) -> None:
    lines: list[object] = [
        {"id": "0", "prediction": rows[0]["solution"]},
        {"index": 1, "prediction": rows[1]["solution"]},
        {"question": rows[2]["question"], "prediction": "#### 0"},
        {"id": 3, "prediction": rows[3]["solution"]},  # a numeric id matches "3"
    ]
    path = _write(tmp_path / "p.jsonl", lines)
    result = evaluate(PredictionsFile(path), "gsm8k", num_samples=4, progress=False)
    assert [s.correct for s in result.samples] == [True, True, False, True]
    assert [s.id for s in result.samples] == ["0", "1", "2", "3"]
    assert result.config["missing"] == 0
    assert result.config["predictions"] == str(path)


def test_partial_file_names_how_many_and_which_ids_are_missing(
    rows: list[dict[str, str]], tmp_path: Path
) -> None:
    keep = [r for i, r in enumerate(rows) if i not in (3, 7, 100)]
    path = _write(tmp_path / "p.jsonl", [{"id": r["id"], "prediction": "x"} for r in keep])
    with pytest.raises(ConfigError) as err:
        evaluate(PredictionsFile(path), "gsm8k", progress=False)
    message = str(err.value)
    assert "no prediction for 3 of the 1319 examples" in message
    assert "'3', '7', '100'" in message
    assert "pass allow_missing=True" in message and "--" not in message


def test_many_missing_ids_are_cut_short(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.jsonl", [{"id": "0", "prediction": "#### 18"}])
    with pytest.raises(
        ConfigError, match=r"1318 of the 1319 .*'1', '2', '3', '4', '5' and 1313 more"
    ):
        evaluate(PredictionsFile(path), "gsm8k", progress=False)


def test_allow_missing_scores_only_covered_examples_and_says_so(
    rows: list[dict[str, str]], tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "p.jsonl",
        [{"id": r["id"], "prediction": r["solution"]} for r in rows[:10] if r["id"] != "4"],
    )
    result = evaluate(
        PredictionsFile(path, allow_missing=True), "gsm8k", num_samples=10, progress=False
    )
    assert result.n == 9
    assert result.metrics["accuracy"] == 1.0
    assert result.config["allow_missing"] is True
    assert result.config["missing"] == 1
    assert result.config["missing_ids"] == ["4"]


def test_num_samples_ignores_predictions_beyond_it(
    rows: list[dict[str, str]], tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "p.jsonl", [{"id": r["id"], "prediction": r["solution"]} for r in rows]
    )
    result = evaluate(PredictionsFile(path), "gsm8k", num_samples=5, progress=False)
    assert result.n == 5


@pytest.mark.parametrize(
    ("lines", "fragment"),
    [
        (['{"id": "0", "prediction": "x"}', "{not json"], "line 2, column 2 is not valid JSON"),
        (['{"id": "0", "prediction": "x"}', "", "[1, 2]"], "line 3 is a JSON array"),
        (['{"id": "0"}'], "line 1 has no 'prediction'"),
        (['{"prediction": "x"}'], "line 1 names no example; add 'id', 'index'"),
        (['{"id": "nope", "prediction": "x"}'], "line 1: id 'nope' is not in the gsm8k split"),
        (['{"index": 5000, "prediction": "x"}'], "line 1: index 5000 is not in the gsm8k split"),
        (['{"index": "3", "prediction": "x"}'], "index '3' is not an integer"),
        (['{"question": "What?", "prediction": "x"}'], "question 'What?' is not in"),
        (
            ['{"id": "0", "prediction": "x"}', '{"index": 0, "prediction": "y"}'],
            "line 2 repeats the prediction for id '0' (first on line 1)",
        ),
    ],
)
def test_bad_lines_are_named(lines: list[str], fragment: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "p.jsonl", lines)
    with pytest.raises(ConfigError) as err:
        evaluate(PredictionsFile(path, allow_missing=True), "gsm8k", progress=False)
    assert fragment in str(err.value)
    assert str(path) in str(err.value)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"empty\.jsonl is empty"):
        evaluate(PredictionsFile(empty), "gsm8k", progress=False)
    with pytest.raises(ConfigError, match=r"nowhere\.jsonl does not exist"):
        evaluate(PredictionsFile(tmp_path / "nowhere.jsonl"), "gsm8k", progress=False)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"id": "0", "prediction": "caf\xe9"}\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        evaluate(PredictionsFile(path, allow_missing=True), "gsm8k", progress=False)


def test_non_string_predictions_are_scored_as_text(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.jsonl", [{"id": "0", "prediction": 18}])
    result = evaluate(
        PredictionsFile(path, allow_missing=True),
        "gsm8k",
        extraction="flexible",
        num_samples=1,
        progress=False,
    )
    assert result.samples[0].correct is True


def test_file_is_read_lazily(tmp_path: Path) -> None:
    # Building the source reads nothing: a bad path fails only when it is used.
    source = PredictionsFile(tmp_path / "later.jsonl")
    assert source.path.name == "later.jsonl"


# -- issue 9: values that are not JSON, or not text where text is expected ---------------------


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('{"id": "0", "prediction": null}', "line 2: 'prediction' is null; write the model's"),
        ('{"id": "0", "output": null}', "line 2: 'output' is null"),
        ('{"id": "0", "prediction": NaN}', "line 2 holds a bare NaN, which is not JSON"),
        ('{"id": "0", "prediction": "x", "score": -Infinity}', "line 2 holds a bare -Infinity"),
        ('{"id": "0", "prediction": Infinity}', 'as a string ("Infinity")'),
        ('{"id": "0", "prediction": ["a", "b"]}', "'prediction' is a JSON array, not text"),
        ('{"id": "0", "prediction": {"text": "18"}}', "'prediction' is a JSON object, not text"),
        ('{"id": ["0"], "prediction": "x"}', "'id' is a JSON array (['0']), not a string or an"),
        ('{"id": 0.5, "prediction": "x"}', "'id' is a JSON number (0.5), not a string or an"),
        ('{"id": true, "prediction": "x"}', "'id' is a JSON boolean (True)"),
        ('{"question": {"q": 1}, "prediction": "x"}', "'question' is a JSON object"),
        ("[" * 100_000 + "]" * 100_000, "line 2 nests deeper than Python can read"),
    ],
)
def test_null_nan_and_non_text_values_are_refused_with_the_line(
    line: str, fragment: str, tmp_path: Path
) -> None:
    path = _write(tmp_path / "p.jsonl", ['{"id": "1", "prediction": "#### 5"}', line])
    with pytest.raises(ConfigError) as err:
        evaluate(PredictionsFile(path, allow_missing=True), "gsm8k", progress=False)
    assert fragment in str(err.value)
    assert str(path) in str(err.value)


def test_bools_are_scored_as_their_json_text(tmp_path: Path) -> None:
    data = _write(tmp_path / "d.jsonl", [{"q": "Is water wet?", "a": True}])
    path = _write(tmp_path / "p.jsonl", [{"index": 0, "prediction": True}])
    result = evaluate(
        PredictionsFile(path),
        "jsonl",
        path=data,
        question_field="q",
        answer_field="a",
        ignore_case=False,
        progress=False,
    )
    assert result.samples[0].output == "true"
    assert result.samples[0].correct is True


def test_a_folder_given_as_the_file_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"is a folder; give the JSONL file inside it"):
        evaluate(PredictionsFile(tmp_path), "gsm8k", progress=False)


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux's /proc/self/mem")
def test_a_read_error_part_way_is_one_sentence() -> None:
    # /proc/self/mem opens but fails to read at offset 0 (EIO): a file that breaks mid-read.
    with pytest.raises(ConfigError, match=r"mem could not be read to the end \(Input/output"):
        evaluate(PredictionsFile("/proc/self/mem"), "gsm8k", progress=False)
