"""A verdict's interval is stated in the direction of its claim."""

from __future__ import annotations

import re
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from trialbook.analysis import mcnemar_exact, paired_bootstrap, permutation_test, welch_t_test
from trialbook.analysis._stats import TestResult

_CLAIM = re.compile(
    r"^(?P<better>\S+) is better than (?P<worse>\S+)(?: on [^:(]+?)?"
    r"(?: by (?P<by>-?[\d.e+-]+)(?: points)?|: (?P<lower>-?[\d.e+-]+) lower) "
    r"\(95% CI (?P<lo>-?[\d.e+-]+) to (?P<hi>-?[\d.e+-]+);"
)


def _check(r: TestResult) -> None:
    """When the sentence claims "X is better", the amount and its interval are >= 0 and the
    interval contains the amount."""
    text = r.verdict
    m = _CLAIM.match(text)
    if " is better than " not in text:
        assert m is None
        return
    assert m is not None, text
    amount = float(m["by"] or m["lower"])
    lo, hi = float(m["lo"]), float(m["hi"])
    assert 0 <= lo <= amount <= hi, text


def test_a_winning_states_a_positive_interval() -> None:
    # A = 0.9 of 200 right, B = 0.75: the difference b - a is negative, A is better.
    a = [1] * 180 + [0] * 20
    b = [1] * 150 + [0] * 50
    r = paired_bootstrap(a, b, labels=("27cf67", "9bc0e5"), seed=0)
    assert r.difference < 0 and r.ci_high < 0
    assert r.verdict.startswith("27cf67 is better than 9bc0e5 by 15.0 points (95% CI ")
    _check(r)
    lo, hi = (float(x) for x in re.findall(r"CI (\S+) to (\S+);", r.verdict)[0])
    assert (lo, hi) == (round(-r.ci_high * 100, 1), round(-r.ci_low * 100, 1))


def test_lower_is_better_states_the_lowering_as_positive() -> None:
    a = [0.9, 0.8, 0.85, 0.95, 0.9]
    b = [0.5, 0.45, 0.55, 0.5, 0.52]
    r = replace(welch_t_test(a, b, labels=("base", "tuned")), metric="loss")
    assert r.verdict.startswith(
        "tuned is better than base on loss: 0.376 lower (95% CI 0.304 to 0.448;"
    )
    _check(r)
    worse = replace(welch_t_test(b, a, labels=("tuned", "base")), metric="loss")
    assert worse.verdict.startswith(
        "tuned is better than base on loss: 0.376 lower (95% CI 0.304 to 0.448;"
    )
    _check(worse)


_scores = st.lists(st.integers(0, 1), min_size=2, max_size=60)


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=2, max_size=80),
    metric=st.sampled_from(["accuracy", "loss", None]),
    seed=st.integers(0, 3),
)
def test_paired_claims_state_the_interval_of_the_amount(
    pairs: list[tuple[int, int]], metric: str | None, seed: int
) -> None:
    a = [x for x, _ in pairs]
    b = [y for _, y in pairs]
    boot = paired_bootstrap(a, b, resamples=500, seed=seed)
    perm = permutation_test(a, b, resamples=500, seed=seed)
    mc = replace(mcnemar_exact(a, b), ci_low=boot.ci_low, ci_high=boot.ci_high)
    for r in (boot, perm, mc, mcnemar_exact(a, b)):
        _check(replace(r, metric=metric))


@settings(max_examples=60, deadline=None)
@given(
    a=st.lists(st.floats(0, 1), min_size=2, max_size=8),
    b=st.lists(st.floats(0, 1), min_size=2, max_size=8),
    metric=st.sampled_from(["accuracy", "loss"]),
)
def test_welch_claims_state_the_interval_of_the_amount(
    a: list[float], b: list[float], metric: str
) -> None:
    r = welch_t_test(a, b)
    if r.p_value != r.p_value:  # nan: no spread in either group
        return
    _check(replace(r, metric=metric))
