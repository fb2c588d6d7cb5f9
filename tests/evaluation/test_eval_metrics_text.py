"""Exact match (HF evaluate options) and SQuAD EM / token F1, against hand-checked cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialbook.errors import ConfigError
from trialbook.evaluation.metrics import (
    exact_match,
    exact_match_score,
    normalize_answer,
    squad_exact_match,
    squad_exact_match_score,
    squad_f1,
    squad_f1_score,
)

# --- exact match -------------------------------------------------------------------------


def test_exact_match_is_strict_by_default() -> None:
    assert exact_match(["Paris", "rome", "Berlin "], ["Paris", "Rome", "Berlin"]) == pytest.approx(
        1 / 3
    )


def test_exact_match_ignore_case_and_punctuation() -> None:
    preds = ["Paris.", "rome", "New-York"]
    refs = ["paris", "Rome", "new york"]
    assert exact_match(preds, refs, ignore_case=True) == pytest.approx(1 / 3)  # rome only
    assert exact_match(preds, refs, ignore_punctuation=True) == 0.0  # case still differs
    # "new-york" minus punctuation is "newyork", not "new york": whitespace is kept.
    assert exact_match(preds, refs, ignore_case=True, ignore_punctuation=True) == pytest.approx(
        2 / 3
    )


def test_exact_match_regexes_run_before_case_folding() -> None:
    # HF evaluate's order: the regexes see the original case.
    assert exact_match_score("The answer is 42", "42", ignore_regexes=[r"The answer is "]) == 1.0
    assert exact_match_score("the answer is 42", "42", ignore_regexes=[r"The answer is "]) == 0.0
    assert (
        exact_match_score(
            "the answer is 42", "42", ignore_regexes=[r"(?i)the answer is\s*"], ignore_case=True
        )
        == 1.0
    )


def test_exact_match_a_lone_regex_string_is_one_regex() -> None:
    assert exact_match_score("yes!!", "yes", ignore_regexes="!+") == 1.0


def test_exact_match_ignore_numbers() -> None:
    assert exact_match_score("item 12", "item 7", ignore_numbers=True) == 1.0
    assert exact_match_score("item 12", "item 7") == 0.0


def test_exact_match_several_references_any_counts() -> None:
    assert exact_match(["colour", "gray"], [["color", "colour"], ["grey"]]) == 0.5


def test_exact_match_unicode_and_empty_strings() -> None:
    assert exact_match_score("Ça va", "ça va", ignore_case=True) == 1.0
    assert exact_match_score("", "") == 1.0
    assert exact_match_score("", " ") == 0.0
    # string.punctuation is ASCII: the typographic apostrophe is not removed.
    assert exact_match_score("don’t", "dont", ignore_punctuation=True) == 0.0
    assert exact_match_score("don't", "dont", ignore_punctuation=True) == 1.0


def test_exact_match_bad_regex_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"invalid regular expression '\(unclosed'"):
        exact_match(["a"], ["a"], ignore_regexes=["(unclosed"])


def test_exact_match_length_mismatch_names_both_lengths() -> None:
    with pytest.raises(ConfigError, match="exact_match got 2 predictions but 3 references"):
        exact_match(["a", "b"], ["a", "b", "c"])


def test_exact_match_empty_input_is_an_error() -> None:
    with pytest.raises(ConfigError, match="exact_match got no predictions"):
        exact_match([], [])


def test_a_lone_string_instead_of_a_list_is_refused() -> None:
    with pytest.raises(ConfigError, match="takes a list of predictions, not a str"):
        exact_match("abc", ["a", "b", "c"])  # type: ignore[arg-type]


def test_a_generator_is_refused_and_arrays_are_accepted() -> None:
    import numpy as np

    with pytest.raises(ConfigError, match="takes a list of predictions, not a generator"):
        exact_match((p for p in ["a"]), ["a"])  # type: ignore[arg-type]
    assert exact_match(np.array(["a", "b"]), np.array(["a", "c"])) == 0.5  # type: ignore[arg-type]
    assert squad_f1(np.array(["a b"]), ("a b",)) == 1.0  # type: ignore[arg-type]


def test_an_empty_reference_list_is_refused() -> None:
    with pytest.raises(ConfigError, match="empty list of references"):
        squad_f1_score("a", [])


@given(
    st.text(max_size=30),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_exact_match_of_a_text_with_itself_is_one(
    text: str, case: bool, punctuation: bool, numbers: bool
) -> None:
    assert (
        exact_match_score(
            text, text, ignore_case=case, ignore_punctuation=punctuation, ignore_numbers=numbers
        )
        == 1.0
    )


# --- SQuAD --------------------------------------------------------------------------------


def test_normalize_answer_follows_the_official_script() -> None:
    assert normalize_answer("The  Cat, sat on a mat!") == "cat sat on mat"
    assert normalize_answer("An apple") == "apple"
    # Articles are removed as whole words only.
    assert normalize_answer("theatre another") == "theatre another"
    # Punctuation goes first, so "the-end" becomes "theend", which is no article.
    assert normalize_answer("the-end") == "theend"
    assert normalize_answer("  \t\n ") == ""
    assert normalize_answer("Ünïcode Straße") == "ünïcode straße"


def test_squad_exact_match_hand_checked() -> None:
    assert squad_exact_match_score("the Eiffel Tower.", "Eiffel tower") == 1.0
    assert squad_exact_match_score("Eiffel", "Eiffel Tower") == 0.0
    assert squad_exact_match(["Denver Broncos", "1990"], ["the Denver Broncos", "1991"]) == 0.5


def test_squad_f1_hand_checked() -> None:
    # prediction tokens [cat, sat], reference [cat, sat, on, mat]:
    # P = 2/2, R = 2/4, F1 = 2 * 1 * 0.5 / 1.5 = 2/3.
    assert squad_f1_score("cat sat", "the cat sat on the mat") == pytest.approx(2 / 3)
    # [x, b, b] vs [b, b, y, z]: common = 2 (b twice), P = 2/3, R = 2/4, F1 = 4/7.
    assert squad_f1_score("x b b", "b b y z") == pytest.approx(4 / 7)
    # Repeated tokens count only as often as in the other side: [b, b] vs [b]: common 1,
    # P = 1/2, R = 1, F1 = 2/3.
    assert squad_f1_score("b b", "b") == pytest.approx(2 / 3)
    assert squad_f1_score("dog", "cat") == 0.0


def test_squad_f1_takes_the_best_reference() -> None:
    refs = ["Denver", "the Denver Broncos", "Broncos team"]
    # "Denver Broncos" vs [denver]: P = 1/2, R = 1, F1 = 2/3; vs [denver, broncos]: 1.0.
    assert squad_f1_score("Denver Broncos", refs) == 1.0
    # "Broncos" vs each: 0, 2/3 (P 1, R 1/2), 2/3 -> 2/3.
    assert squad_f1_score("Broncos", refs) == pytest.approx(2 / 3)


def test_squad_f1_corpus_is_the_mean() -> None:
    assert squad_f1(["cat sat", "dog"], ["the cat sat on the mat", "dog"]) == pytest.approx(
        (2 / 3 + 1) / 2
    )


def test_squad_empty_answers() -> None:
    # Both normalise to nothing: EM 1 and (SQuAD v2.0's rule) F1 1; one empty: 0.
    assert squad_exact_match_score("the", "a") == 1.0
    assert squad_f1_score("the", "a") == 1.0
    assert squad_f1_score("", "cat") == 0.0
    assert squad_f1_score("cat", "") == 0.0


def test_squad_length_mismatch() -> None:
    with pytest.raises(ConfigError, match="squad_f1 got 1 predictions but 2 references"):
        squad_f1(["a"], ["a", "b"])


@given(st.text(max_size=40), st.text(max_size=40))
def test_squad_em_implies_f1_one_and_scores_are_in_range(pred: str, ref: str) -> None:
    em = squad_exact_match_score(pred, ref)
    f1 = squad_f1_score(pred, ref)
    assert 0.0 <= f1 <= 1.0
    assert em in (0.0, 1.0)
    if em == 1.0:
        assert f1 == 1.0


@given(st.text(max_size=40), st.text(max_size=40))
def test_squad_f1_is_symmetric_for_one_reference(a: str, b: str) -> None:
    assert squad_f1_score(a, b) == pytest.approx(squad_f1_score(b, a))


@given(st.text(max_size=40))
def test_normalize_answer_is_idempotent(text: str) -> None:
    once = normalize_answer(text)
    assert normalize_answer(once) == once
