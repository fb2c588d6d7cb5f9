"""BLEU and chrF (sacrebleu), ROUGE (rouge-score) and BERTScore: hand-checked values, the
shapes of several references, and the messages when an optional dependency is missing."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialbook.errors import ConfigError
from trialbook.evaluation.metrics import (
    bertscore,
    bleu,
    bleu_score,
    chrf,
    chrf_score,
    rouge,
    rouge_score,
)

HYP = "the cat sat on the mat"
REF = "the cat sat on a mat"
# Hand-computed: n-gram precisions 5/6, 3/5, 2/4, 1/3, equal lengths (no brevity
# penalty), so BLEU = 100 * (5/6 * 3/5 * 1/2 * 1/3) ** (1/4) = 100 * (1/12) ** 0.25.
BLEU_HYP_REF = 100 * (1 / 12) ** 0.25


def test_bleu_hand_checked() -> None:
    assert bleu([HYP], [REF]) == pytest.approx(BLEU_HYP_REF)
    assert bleu([HYP], [HYP]) == pytest.approx(100.0)


def test_bleu_several_references_and_uneven_counts() -> None:
    # The second reference of the first sample is the hypothesis itself; the second sample
    # has only one reference.
    assert bleu([HYP, "hello there"], [[REF, HYP], "hello there"]) == pytest.approx(100.0)


def test_sentence_bleu() -> None:
    assert bleu_score(HYP, REF) == pytest.approx(BLEU_HYP_REF)
    assert bleu_score(HYP, [REF, HYP]) == pytest.approx(100.0)
    assert bleu_score("", REF) == 0.0


def test_bleu_options() -> None:
    # (Corpus BLEU of a sentence shorter than 4 tokens is 0: it has no 4-gram to match.)
    assert bleu([HYP.upper()], [HYP]) == 0.0
    assert bleu([HYP.upper()], [HYP], lowercase=True) == pytest.approx(100.0)
    # Chinese has no spaces: the zh tokenizer splits characters, 13a does not.
    assert bleu(["猫坐在垫子上"], ["猫坐在垫子上"], tokenize="zh") == pytest.approx(100.0)


def test_bleu_unknown_tokenizer_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"no tokenizer 'nope'; use one of sacrebleu's: .*13a"):
        bleu(["a"], ["a"], tokenize="nope")


def test_chrf_hand_checked() -> None:
    # "ab" vs "abc": 1-grams P = 2/2, R = 2/3; 2-grams P = 1/1, R = 1/2; higher orders have
    # no hypothesis n-gram and are skipped. Mean P = 1, mean R = 7/12;
    # chrF (beta 2) = 5 * P * R / (4 * P + R) = (35/12) / (55/12) = 7/11.
    assert chrf(["ab"], ["abc"]) == pytest.approx(100 * 7 / 11)
    assert chrf_score("ab", "abc") == pytest.approx(100 * 7 / 11)
    assert chrf([HYP], [HYP]) == pytest.approx(100.0)
    assert chrf([""], ["abc"]) == 0.0


def test_chrf_options() -> None:
    assert chrf(["ABC"], ["abc"], lowercase=True) == pytest.approx(100.0)
    # chrF++ adds word n-grams; the words differ so the score drops below chrF's.
    assert chrf([HYP], [REF], word_order=2) < chrf([HYP], [REF])
    with pytest.raises(ConfigError, match="char_order >= 1"):
        chrf(["a"], ["a"], char_order=0)


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30))
def test_bleu_and_chrf_are_on_a_0_to_100_scale(hyp: str, ref: str) -> None:
    for value in (bleu_score(hyp, ref), chrf_score(hyp, ref), bleu([hyp], [ref])):
        assert 0.0 <= value <= 100.0 + 1e-9


def test_rouge_hand_checked() -> None:
    # "the cat sat" vs "the cat sat on the mat": 3 of 6 unigrams (P 1, R 1/2, F 2/3),
    # 2 of 5 bigrams (P 1, R 2/5, F 4/7), LCS 3 (F 2/3).
    scores = rouge_score("the cat sat", "the cat sat on the mat")
    assert scores == pytest.approx({"rouge1": 2 / 3, "rouge2": 4 / 7, "rougeL": 2 / 3})


def test_rouge_corpus_is_the_mean_and_several_references_take_the_best() -> None:
    result = rouge(["the cat sat", "a b"], ["the cat sat on the mat", ["x y", "a b"]])
    assert result == pytest.approx(
        {"rouge1": (2 / 3 + 1) / 2, "rouge2": (4 / 7 + 1) / 2, "rougeL": (2 / 3 + 1) / 2}
    )


def test_rouge_on_non_latin_text_needs_a_tokenizer() -> None:
    # rouge-score's default tokenizer keeps only [a-z0-9]: Chinese becomes no tokens at all.
    assert rouge_score("猫 坐 着", "猫 坐 着")["rouge1"] == 0.0
    assert rouge_score("猫 坐 着", "猫 坐 着", tokenize=str.split)["rouge1"] == 1.0
    assert rouge_score("猫坐着", "猫坐", tokenize=list)["rouge1"] == pytest.approx(0.8)


def test_rouge_stemmer() -> None:
    assert rouge_score("cats running", "cat run")["rouge1"] == 0.0
    assert rouge_score("cats running", "cat run", use_stemmer=True)["rouge1"] == 1.0


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet="abc ", max_size=20), st.text(alphabet="abc ", max_size=20))
def test_rouge_is_in_range_and_rouge1_is_symmetric(a: str, b: str) -> None:
    ab, ba = rouge_score(a, b), rouge_score(b, a)
    assert all(0.0 <= v <= 1.0 for v in ab.values())
    assert ab["rouge1"] == pytest.approx(ba["rouge1"])  # F1 is symmetric in P and R


def test_generation_metrics_check_lengths() -> None:
    for metric in (bleu, chrf, rouge):
        with pytest.raises(ConfigError, match="got 2 predictions but 1 references"):
            metric(["a", "b"], ["a"])


@pytest.mark.parametrize(
    ("call", "module"),
    [
        (lambda: bleu(["a"], ["a"]), "sacrebleu"),
        (lambda: chrf_score("a", "a"), "sacrebleu"),
        (lambda: rouge(["a"], ["a"]), "rouge_score"),
    ],
)
def test_a_missing_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, call: Any, module: str
) -> None:
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # makes the import raise ImportError
    with pytest.raises(ConfigError, match=r"needs the optional package .*'trialbook\[metrics\]'"):
        call()


# --- BERTScore ------------------------------------------------------------------------------


class _Mean:
    def __init__(self, values: list[float]) -> None:
        self.values = values

    def mean(self) -> float:
        return sum(self.values) / len(self.values)


@pytest.fixture
def fake_bert_score(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A stand-in bert_score module recording how it was called (no torch, no model)."""
    calls: dict[str, Any] = {}

    def score(cands: list[str], refs: list[list[str]], **kwargs: Any) -> tuple[_Mean, ...]:
        calls.update(cands=cands, refs=refs, **kwargs)
        return _Mean([0.5, 1.0]), _Mean([0.25, 0.75]), _Mean([0.0, 0.5])

    module = types.ModuleType("bert_score")
    module.score = score  # type: ignore[attr-defined]
    module.utils = types.SimpleNamespace(model2layers={"roberta-large": 17})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bert_score", module)
    return calls


def test_bertscore_without_a_model_path_says_what_to_do() -> None:
    with pytest.raises(ConfigError, match=r"BERTScore needs `pip install 'trialbook\[bertscore\]'"):
        bertscore(["a"], ["a"])


def test_bertscore_with_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model_path '.*nowhere' is not a folder"):
        bertscore(["a"], ["a"], model_path=tmp_path / "nowhere")


def test_bertscore_without_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "bert_score", None)
    with pytest.raises(ConfigError, match=r"pip install 'trialbook\[bertscore\]'.*model_path"):
        bertscore(["a"], ["a"], model_path=tmp_path)


def test_bertscore_uses_the_local_model_and_averages(
    fake_bert_score: dict[str, Any], tmp_path: Path
) -> None:
    model = tmp_path / "my-encoder"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"num_hidden_layers": 6}))
    result = bertscore(["a", "b"], ["a", ["b", "c"]], model_path=model)
    assert result == {"bertscore_precision": 0.75, "bertscore_recall": 0.5, "bertscore_f1": 0.25}
    assert fake_bert_score["model_type"] == str(model)
    assert fake_bert_score["num_layers"] == 6  # the model's last layer
    assert fake_bert_score["refs"] == [["a"], ["b", "c"]]


def test_bertscore_layer_choice(fake_bert_score: dict[str, Any], tmp_path: Path) -> None:
    known = tmp_path / "roberta-large"
    known.mkdir()
    bertscore(["a"], ["a"], model_path=known)
    assert fake_bert_score["num_layers"] == 17  # bert-score's recommendation by name
    bertscore(["a"], ["a"], model_path=known, num_layers=3)
    assert fake_bert_score["num_layers"] == 3
    unknown = tmp_path / "no-config"
    unknown.mkdir()
    with pytest.raises(ConfigError, match=r"pass num_layers=\.\.\. to bertscore"):
        bertscore(["a"], ["a"], model_path=unknown)
