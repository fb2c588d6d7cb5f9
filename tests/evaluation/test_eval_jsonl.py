"""JsonlBenchmark: fields, ids, exact-match scoring, slices, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trialbook.errors import ConfigError
from trialbook.evaluation import BenchmarkRegistry, JsonlBenchmark, evaluate
from trialbook.evaluation.benchmarks.jsonl import normalize_text


def _file(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return _file(
        tmp_path / "capitals.jsonl",
        [
            {"q": "Capital of France?", "a": "Paris", "lang": "en"},
            {"q": "Capitale de l'Italie ?", "a": ["Rome", "Roma"], "lang": "fr"},
            {"q": "Hauptstadt von Spanien?", "a": "Madrid", "lang": "de"},
        ],
    )


def _answers(mapping: dict[str, str]) -> object:
    return lambda prompts: [mapping[p] for p in prompts]


def test_exact_match_ignores_case_and_spacing_and_accepts_any_listed_answer(data: Path) -> None:
    bench = JsonlBenchmark(data, question_field="q", answer_field="a", slice_fields=["lang"])
    outputs = {
        "Capital of France?": "  paris\n",
        "Capitale de l'Italie ?": "Roma",
        "Hauptstadt von Spanien?": "Madrid.",
    }
    result = evaluate(_answers(outputs), bench, progress=False)
    assert [s.correct for s in result.samples] == [True, True, False]
    assert result.benchmark == "capitals"
    assert [s.id for s in result.samples] == ["0", "1", "2"]
    assert result.slices["lang"]["en"] == {"accuracy": 1.0}
    assert result.slices["lang"]["de"] == {"accuracy": 0.0}
    loose = JsonlBenchmark(data, question_field="q", answer_field="a", ignore_punctuation=True)
    assert evaluate(_answers(outputs), loose, progress=False).metrics["accuracy"] == 1.0


def test_registered_name_with_options_and_template(data: Path) -> None:
    bench = BenchmarkRegistry.get(
        "jsonl", path=data, question_field="q", answer_field="a", prompt_template="Q: {q}\nA:"
    )
    assert bench.format_prompt(bench.load_dataset()[0]) == "Q: Capital of France?\nA:"
    assert bench.options()["data"] == str(data)


def test_normalize_text() -> None:
    assert normalize_text("  Hello,\n  World! ") == "hello, world!"
    assert normalize_text("Hello, World!", ignore_punctuation=True) == "hello world"
    assert normalize_text("Hello", ignore_case=False) == "Hello"


def test_id_field_and_duplicates(tmp_path: Path) -> None:
    path = _file(tmp_path / "d.jsonl", [{"k": 7, "q": "a", "a": "b"}, {"k": 7, "q": "c", "a": "d"}])
    with pytest.raises(ConfigError, match="line 2 repeats id '7' \\(first on line 1\\)"):
        JsonlBenchmark(path, question_field="q", answer_field="a", id_field="k").load_dataset()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"q": "x", "a": "y"}\n{oops\n', "line 2, column 2 is not valid JSON"),
        ('{"q": "x", "a": "y"}\n"text"\n', "line 2 is a JSON str"),
        (
            '{"q": "x"}\n',
            "line 1 has no answer field 'a' (its fields: q); name the right one with "
            "--answer-field",
        ),
        ('{"question": "x", "a": "y"}\n', "no question field 'q' (its fields: a, question)"),
        ("\n", "has no examples"),
    ],
)
def test_bad_files(content: str, fragment: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        JsonlBenchmark(path, question_field="q", answer_field="a").load_dataset()
    assert fragment in str(err.value)


def test_missing_file_path_and_split(tmp_path: Path, data: Path) -> None:
    with pytest.raises(ConfigError, match="needs a data file; pass path=FILE") as err:
        JsonlBenchmark()
    assert err.value.parameter == "path" and "--" not in str(err.value)
    with pytest.raises(ConfigError, match=r"nope\.jsonl does not exist"):
        JsonlBenchmark(tmp_path / "nope.jsonl").load_dataset()
    with pytest.raises(ConfigError, match="one split, 'test'"):
        JsonlBenchmark(data, question_field="q", answer_field="a").load_dataset("train")


def test_template_naming_a_missing_field(data: Path) -> None:
    bench = JsonlBenchmark(data, question_field="q", answer_field="a", prompt_template="{context}")
    with pytest.raises(ConfigError, match="names 'context' which example '0' lacks"):
        bench.format_prompt(bench.load_dataset()[0])


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ({"q": None, "a": "y"}, "the question field 'q' is null, not a string"),
        ({"q": ["x"], "a": "y"}, "the question field 'q' is [\"x\"], not a string"),
        ({"q": "x", "a": None}, "the answer field 'a' is null, not a string, number or bool"),
        ({"q": "x", "a": {"v": 1}}, "the answer field 'a' is {\"v\": 1}"),
        ({"q": "x", "a": [["y"]]}, "the answer field 'a' is [[\"y\"]]"),
        ({"q": "x", "a": "y", "k": None}, "the id field 'k' is null, not a string or an integer"),
        ({"q": "x", "a": "y", "k": 1.5}, "the id field 'k' is 1.5"),
    ],
)
def test_null_and_structured_values_where_text_belongs_are_refused(
    row: dict[str, object], fragment: str, tmp_path: Path
) -> None:
    path = _file(tmp_path / "d.jsonl", [{"q": "fine", "a": 1, "k": 0}, {"k": 1, **row}])
    with pytest.raises(ConfigError) as err:
        JsonlBenchmark(path, question_field="q", answer_field="a", id_field="k").load_dataset()
    assert f"{path} line 2: {fragment}" in str(err.value)


def test_a_bare_nan_in_a_data_file_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"q": "x", "a": 1}\n{"q": "y", "a": NaN}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 2 holds a bare NaN, which is not JSON"):
        JsonlBenchmark(path, question_field="q", answer_field="a").load_dataset()
