"""The statistical tests, checked against SciPy, hand computations and exact enumeration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from trialbook.analysis import (
    holm,
    mcnemar_exact,
    paired_bootstrap,
    permutation_test,
    welch_t_test,
)
from trialbook.errors import ConfigError


def _pairs(b01: int, b10: int, both: int = 3, neither: int = 2) -> tuple[list[int], list[int]]:
    a = [0] * b01 + [1] * b10 + [1] * both + [0] * neither
    b = [1] * b01 + [0] * b10 + [1] * both + [0] * neither
    return a, b


def _mc_tolerance(p: float, resamples: int) -> float:
    # Four standard errors of a Monte Carlo proportion, plus the +1 correction.
    return 4 * math.sqrt(max(p * (1 - p), 1e-4) / resamples) + 2 / resamples


# --------------------------------------------------------------------------- McNemar
@pytest.mark.parametrize(
    ("b01", "b10", "expected"),
    [
        (5, 1, 2 * (1 + 6) / 64),  # P(X <= 1), X ~ Bin(6, 1/2) = 7/64, doubled
        (10, 0, 2 / 1024),  # all discordant pairs one way
        (3, 3, 1.0),  # balanced: capped at 1
        (0, 0, 1.0),  # no discordant pair: no evidence
        (2, 7, 2 * (1 + 9 + 36) / 512),  # P(X <= 2), X ~ Bin(9, 1/2) = 46/512
    ],
)
def test_mcnemar_matches_hand_computed_binomial(b01: int, b10: int, expected: float) -> None:
    a, b = _pairs(b01, b10)
    r = mcnemar_exact(a, b)
    assert r.p_value == pytest.approx(expected)
    if b01 + b10:
        assert r.p_value == pytest.approx(stats.binomtest(b01, b01 + b10, 0.5).pvalue)
    n = len(a)
    assert r.n == n
    assert r.difference == pytest.approx((b01 - b10) / n)
    assert r.mean_b - r.mean_a == pytest.approx(r.difference)
    assert r.test == "mcnemar"


def test_mcnemar_odds_ratio_and_interval() -> None:
    a, b = _pairs(8, 2)
    r = mcnemar_exact(a, b)
    assert r.effect_size == pytest.approx(4.0)
    assert r.effect_ci_low < 4.0 < r.effect_ci_high
    se = math.sqrt(1 / 8 + 1 / 2)
    assert r.effect_ci_high == pytest.approx(math.exp(math.log(4) + 1.959964 * se), rel=1e-5)
    # Zero discordant pairs one way: Haldane's 0.5 keeps the ratio finite.
    assert math.isfinite(mcnemar_exact(*_pairs(6, 0)).effect_size)


def test_mcnemar_refuses_graded_scores() -> None:
    with pytest.raises(ConfigError, match=r"b_correct\[1\] is 0.5.*test='bootstrap'"):
        mcnemar_exact([1, 0, 1], [1, 0.5, 0])


# --------------------------------------------------------------------------- Welch
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([0.71, 0.73, 0.70, 0.74], [0.75, 0.78, 0.74]),
        ([1.0, 2.0, 3.0, 4.0, 5.0], [2.5, 2.9, 3.1]),
        ([10, 12], [11, 15, 19, 30]),
    ],
)
def test_welch_matches_scipy(a: list[float], b: list[float]) -> None:
    r = welch_t_test(a, b)
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert r.statistic == pytest.approx(ref.statistic)
    assert r.p_value == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high))
    assert r.difference == pytest.approx(np.mean(b) - np.mean(a))
    assert (r.n, r.n_b) == (len(a), len(b))
    # Hedges' g by hand: pooled sd, small-sample correction.
    na, nb = len(a), len(b)
    sp = math.sqrt(((na - 1) * np.var(a, ddof=1) + (nb - 1) * np.var(b, ddof=1)) / (na + nb - 2))
    g = (np.mean(b) - np.mean(a)) / sp * (1 - 3 / (4 * (na + nb - 2) - 1))
    assert r.effect_size == pytest.approx(g)
    assert r.effect_ci_low < g < r.effect_ci_high
    assert r.effect_name == "Hedges' g"


def test_welch_needs_two_seeds_and_says_n() -> None:
    with pytest.raises(ConfigError, match=r"at least 2 seeds per group, but B has n=1"):
        welch_t_test([0.1, 0.2], [0.3])


def test_welch_constant_groups() -> None:
    r = welch_t_test([1.0, 1.0], [1.0, 1.0])
    assert (r.difference, r.p_value, r.effect_size) == (0.0, 1.0, 0.0)
    r = welch_t_test([1.0, 1.0], [2.0, 2.0])
    assert r.p_value == 0.0 and r.difference == 1.0


# --------------------------------------------------------------------------- Holm
def test_holm_hand_example() -> None:
    # Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([0.2]) == [0.2]
    assert holm([]) == []


def test_holm_refuses_bad_pvalues() -> None:
    with pytest.raises(ConfigError, match=r"1\.5"):
        holm([0.1, 1.5])


# --------------------------------------------------------------------------- bootstrap
def test_bootstrap_binary_matches_normal_theory() -> None:
    rng = np.random.default_rng(7)
    n = 4000
    a = (rng.random(n) < 0.70).astype(float)
    b = np.where(rng.random(n) < 0.9, a, 1 - a)  # 10% flipped
    b[rng.random(n) < 0.02] = 1
    d = b - a
    r = paired_bootstrap(a, b, resamples=20_000, seed=3)
    se = d.std(ddof=0) / math.sqrt(n)
    z = stats.norm.ppf(0.975)
    assert r.difference == pytest.approx(d.mean())
    assert r.ci_low == pytest.approx(d.mean() - z * se, abs=0.15 * se)
    assert r.ci_high == pytest.approx(d.mean() + z * se, abs=0.15 * se)
    p_normal = 2 * stats.norm.sf(abs(d.mean()) / se)
    assert abs(r.p_value - p_normal) < _mc_tolerance(p_normal, 20_000) + 0.01


def test_bootstrap_graded_matches_normal_theory() -> None:
    rng = np.random.default_rng(11)
    n = 500
    a = rng.random(n)
    b = np.clip(a + rng.normal(0.02, 0.2, n), 0, 1)
    d = b - a
    r = paired_bootstrap(a, b, resamples=20_000, seed=1)
    se = d.std(ddof=0) / math.sqrt(n)
    p_normal = 2 * stats.norm.sf(abs(d.mean()) / se)
    assert abs(r.p_value - p_normal) < _mc_tolerance(p_normal, 20_000) + 0.01
    assert r.ci_low == pytest.approx(d.mean() - 1.96 * se, abs=0.15 * se)
    assert r.effect_size == pytest.approx(d.mean() / d.std(ddof=1))


def test_bootstrap_shortcut_and_general_path_agree() -> None:
    # The same 0/1 differences, once as 0/1 (multinomial shortcut) and once shifted by a tiny
    # distinct amount per sample (general resampling): the intervals must agree closely.
    rng = np.random.default_rng(5)
    a = (rng.random(3000) < 0.6).astype(float)
    b = (rng.random(3000) < 0.63).astype(float)
    fast = paired_bootstrap(a, b, resamples=20_000, seed=0)
    jitter = np.linspace(0, 1e-9, 3000)
    slow = paired_bootstrap(a, b + jitter, resamples=20_000, seed=0)
    width = fast.ci_high - fast.ci_low
    assert fast.ci_low == pytest.approx(slow.ci_low, abs=0.05 * width)
    assert fast.ci_high == pytest.approx(slow.ci_high, abs=0.05 * width)
    assert fast.p_value == pytest.approx(slow.p_value, abs=_mc_tolerance(fast.p_value, 20_000))


def test_bootstrap_same_seed_same_numbers_other_seed_other_numbers() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random(200), rng.random(200)
    assert paired_bootstrap(a, b, seed=4) == paired_bootstrap(a, b, seed=4)
    assert paired_bootstrap(a, b, seed=4).ci_low != paired_bootstrap(a, b, seed=5).ci_low


def test_bootstrap_constant_nonzero_difference_is_significant() -> None:
    r = paired_bootstrap([0, 0, 0, 0], [1, 1, 1, 1], resamples=999)
    assert r.p_value == pytest.approx(1 / 1000)
    assert (r.ci_low, r.ci_high, r.difference) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ([1, 2, 3], [1, 2], r"as many scores in a as in b, got 3 and 2"),
        ([1, float("nan")], [1, 2], r"a\[1\] is nan"),
        ([], [], r"at least 1 samples, got n=0"),
    ],
)
def test_paired_input_errors(a: list[float], b: list[float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        paired_bootstrap(a, b)


def test_level_and_resamples_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"level 95 is not between 0 and 1"):
        paired_bootstrap([1], [1], level=95)
    with pytest.raises(ConfigError, match=r"resamples=0 must be at least 1"):
        permutation_test([1], [1], resamples=0)


# --------------------------------------------------------------------------- permutation
def test_permutation_matches_exact_enumeration() -> None:
    a = np.array([0.1, 0.4, 0.9, 0.2, 0.3, 0.7, 0.5, 0.6, 0.8, 0.0])
    d = np.array([0.5, 1.2, -0.3, 0.8, 2.0, -0.1, 0.9, 1.5, -0.7, 0.4])
    b = a + d
    obs = abs(d.sum())
    flips = np.array(list(itertools.product([-1, 1], repeat=d.size)))
    exact = float(np.mean(np.abs(flips @ d) >= obs - 1e-12))
    r = permutation_test(a, b, resamples=40_000, seed=2)
    assert abs(r.p_value - exact) < _mc_tolerance(exact, 40_000)
    assert r.test == "permutation"


def test_permutation_on_binary_scores_approximates_exact_mcnemar() -> None:
    # With 0/1 scores the sign-flip null is exactly McNemar's binomial null.
    a, b = _pairs(14, 5, both=30, neither=10)
    exact = mcnemar_exact(a, b).p_value
    r = permutation_test(a, b, resamples=40_000, seed=9)
    assert abs(r.p_value - exact) < _mc_tolerance(exact, 40_000)


# --------------------------------------------------------------------------- properties
scores = st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=40)
binary = st.lists(st.integers(0, 1), min_size=2, max_size=60)


@settings(max_examples=40, deadline=None)
@given(
    data=st.one_of(
        scores.flatmap(
            lambda xs: st.tuples(
                st.just(xs),
                st.lists(st.floats(0, 1, allow_nan=False), min_size=len(xs), max_size=len(xs)),
            )
        ),
        binary.flatmap(
            lambda xs: st.tuples(
                st.just(xs), st.lists(st.integers(0, 1), min_size=len(xs), max_size=len(xs))
            )
        ),
    ),
    seed=st.integers(0, 2**16),
)
def test_swapping_mirrors_every_paired_test(
    data: tuple[list[float], list[float]], seed: int
) -> None:
    a, b = data
    for test in (paired_bootstrap, permutation_test):
        ab = test(a, b, resamples=500, seed=seed)
        ba = test(b, a, resamples=500, seed=seed)
        assert ba.difference == pytest.approx(-ab.difference, abs=1e-12)
        assert ba.ci_low == pytest.approx(-ab.ci_high, abs=1e-9)
        assert ba.ci_high == pytest.approx(-ab.ci_low, abs=1e-9)
        assert ba.p_value == pytest.approx(ab.p_value)
        assert 0 < ab.p_value <= 1
        assert ab.ci_low <= ab.difference + 1e-9 or ab.ci_high >= ab.difference - 1e-9
    if all(x in (0, 1) for x in a + b):
        ab, ba = mcnemar_exact(a, b), mcnemar_exact(b, a)
        assert ba.difference == pytest.approx(-ab.difference)
        assert (ba.ci_low, ba.ci_high) == pytest.approx((-ab.ci_high, -ab.ci_low))
        assert ba.p_value == ab.p_value
        assert 0 <= ab.p_value <= 1


@example(a=[0.0, 0.0], b=[0.0, 3.911474617092215e-99])  # a variance that underflows
@settings(max_examples=30, deadline=None)
@given(
    a=st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=8),
    b=st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=8),
)
def test_welch_swap_mirrors(a: list[float], b: list[float]) -> None:
    ab, ba = welch_t_test(a, b), welch_t_test(b, a)
    assert ba.difference == pytest.approx(-ab.difference)
    assert ba.p_value == pytest.approx(ab.p_value)
    assert (ba.ci_low, ba.ci_high) == pytest.approx((-ab.ci_high, -ab.ci_low))
    assert 0 <= ab.p_value <= 1


@settings(max_examples=30, deadline=None)
@given(a=st.one_of(scores, binary.map(lambda xs: [float(x) for x in xs])))
def test_identical_inputs_give_p_one_and_zero_difference(a: list[float]) -> None:
    for r in (
        paired_bootstrap(a, a, resamples=200),
        permutation_test(a, a, resamples=200),
    ):
        assert r.difference == 0 and r.p_value == 1.0
        assert (r.ci_low, r.ci_high) == (0.0, 0.0)
        # Up to 5 pairs no test can reach p < 0.05: no verdict rather than "tied".
        expected = "No significant difference" if len(a) > 5 else "No verdict on A vs B: with"
        assert expected in r.verdict and not r.significant
    if all(x in (0.0, 1.0) for x in a):
        r = mcnemar_exact(a, a)
        assert (r.difference, r.p_value) == (0.0, 1.0)


# --------------------------------------------------------------------------- verdicts
def test_verdict_names_the_winner_points_ci_p_and_n() -> None:
    a, b = _pairs(0, 0, both=700, neither=619)
    b = list(b)
    for i in range(40):  # B right where A was wrong on 40 samples
        b[700 + i] = 1
    r = paired_bootstrap(a, b, labels=("base", "tuned"), seed=0)
    assert r.verdict.startswith("tuned is better than base by 3.0 points (95% CI ")
    assert "paired bootstrap p < 0.001, n = 1,319)." in r.verdict
    tied = paired_bootstrap(
        [0.5, 0.6, 0.7, 0.4, 0.3, 0.8], [0.6, 0.5, 0.7, 0.45, 0.3, 0.75], seed=0
    )
    assert tied.verdict.startswith("No significant difference between A and B")
    assert tied.verdict.endswith("treat them as tied.")
    d = tied.to_dict()
    assert d["verdict"] == tied.verdict and d["significant"] is False
