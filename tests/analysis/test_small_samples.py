"""Small samples and extreme magnitudes (issue 10, items 10 and 11): the exact sign-flip
permutation test, what ``auto`` picks and its calibration under the null, the refusal of a
verdict no test can reach, and Welch's t-test at 1e155 and 1e-200."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from trialbook.analysis import holm, paired_bootstrap, permutation_test, welch_t_test
from trialbook.analysis._significance import paired_test
from trialbook.analysis._stats import BOOTSTRAP_MIN_N, EXACT_SIGN_FLIPS, TestResult


def _brute_force_p(d: list[float]) -> float:
    observed = abs(sum(d))
    hits = sum(
        abs(sum(s * v for s, v in zip(signs, d, strict=True))) >= observed - 1e-12
        for signs in itertools.product((1, -1), repeat=len(d))
    )
    return hits / 2 ** len(d)


# --------------------------------------------------------------------------- exact test
@pytest.mark.parametrize("n", [6, 9, 12])
def test_exact_sign_flip_p_matches_brute_force_and_scipy(n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.normal(size=n)
    b = a + rng.normal(0.6, 1.0, size=n)
    r = permutation_test(a, b, seed=0)
    d = list(b - a)
    assert r.exact and r.test == "permutation"
    assert r.p_value == pytest.approx(_brute_force_p(d), abs=1e-15)
    ref = stats.permutation_test(
        (np.array(d),),
        np.mean,
        permutation_type="samples",
        n_resamples=math.inf,
        alternative="two-sided",
    )
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    # Exact: the seed changes nothing.
    assert permutation_test(a, b, seed=7).p_value == r.p_value


def test_zero_differences_leave_the_exact_p_unchanged() -> None:
    d = [0.3, -0.1, 0.5, 0.2, 0.4, 0.25, 0.6]
    a = [0.0] * 10
    with_zeros = permutation_test(a, [*d, 0.0, 0.0, 0.0])
    assert with_zeros.exact and with_zeros.p_value == pytest.approx(_brute_force_p(d))


def test_beyond_the_exact_budget_p_is_k_plus_one_over_r_plus_one() -> None:
    n = EXACT_SIGN_FLIPS + 10
    rng = np.random.default_rng(3)
    d = rng.normal(0.1, 1.0, size=n)
    r = permutation_test(np.zeros(n), d, resamples=999, seed=1)
    assert not r.exact
    k = r.p_value * 1000 - 1
    assert k == pytest.approx(round(k), abs=1e-9) and 0 <= round(k) <= 999


def test_constant_difference_on_one_pair_is_no_verdict() -> None:
    for r in (paired_bootstrap([0.2], [0.7]), permutation_test([0.2], [0.7])):
        assert not r.significant and r.no_verdict is not None
        assert r.verdict.startswith("No verdict on A vs B: with n = 1 pair no test can reach")
        assert r.verdict.count(". ") == 0 and r.verdict.endswith(").")
        assert r.to_dict()["significant"] is False


def test_five_pairs_cannot_reach_five_percent_but_six_can() -> None:
    five = permutation_test([0.0] * 5, [0.1, 0.2, 0.3, 0.4, 0.5])
    assert five.p_value == pytest.approx(1 / 16) and five.exact
    assert not five.significant
    assert "smallest p-value an exact test can give is 0.0625, above 0.05" in five.verdict
    six = permutation_test([0.0] * 6, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert six.p_value == pytest.approx(1 / 32) and six.no_verdict is None
    assert six.significant and six.verdict.startswith("B is better than A")
    assert "exact paired permutation test p = 0.031, n = 6" in six.verdict
    # At the 0.90 level five pairs can (1/16 < 0.10).
    assert permutation_test([0.0] * 5, [0.1, 0.2, 0.3, 0.4, 0.5], level=0.9).significant


def test_bootstrap_by_name_says_it_rejects_too_often_when_small() -> None:
    rng = np.random.default_rng(0)
    small = paired_bootstrap(rng.random(10), rng.random(10))
    assert small.note is not None and "rejects too often below n = 50" in small.note
    big = paired_bootstrap(rng.random(60), rng.random(60))
    assert big.note is None


# --------------------------------------------------------------------------- auto
def test_auto_picks_by_kind_and_size_and_says_why() -> None:
    rng = np.random.default_rng(1)
    x10, y10 = rng.random(10), rng.random(10)
    r = paired_test(x10, y10, False, "auto")
    assert r.test == "permutation" and r.exact
    assert r.note is not None and "every sign flip, exactly" in r.note and "n < 50" in r.note
    x30, y30 = rng.random(30), rng.random(30)
    r = paired_test(x30, y30, False, "auto", resamples=500)
    assert r.test == "permutation" and not r.exact and "500 random sign flips" in str(r.note)
    n = BOOTSTRAP_MIN_N
    r = paired_test(rng.random(n), rng.random(n), False, "auto")
    assert r.test == "paired-bootstrap" and "n >= 50" in str(r.note)
    a = rng.integers(0, 2, 40).astype(float)
    b = rng.integers(0, 2, 40).astype(float)
    r = paired_test(a, b, True, "auto")
    assert r.test == "mcnemar" and r.exact and "0/1 correctness" in str(r.note)


# One fixed seed; 2,000 null replicates per n give a Monte-Carlo standard error of
# sqrt(0.05 * 0.95 / 2000) = 0.0049 on a rejection rate of 0.05.
_REPLICATES = 2_000


def _null_rejection_rate(n: int, test: str, rng: np.random.Generator) -> float:
    rejected = 0
    for i in range(_REPLICATES):
        a = rng.normal(size=n)
        b = a + rng.normal(size=n)  # null: differences symmetric around 0
        r = paired_test(a, b, False, test, resamples=199, seed=i)  # type: ignore[arg-type]
        rejected += r.significant
    return rejected / _REPLICATES


@pytest.mark.parametrize("n", [5, 10, 30])
def test_auto_is_calibrated_under_the_null(n: int) -> None:
    rate = _null_rejection_rate(n, "auto", np.random.default_rng(2026 + n))
    se = math.sqrt(0.05 * 0.95 / _REPLICATES)
    # Never anti-conservative; an exact test's attainable levels are steps of 2 / 2**n (at
    # n = 5 the smallest p is 1/16, so it never rejects and gives no verdict instead).
    assert rate <= 0.05 + 3 * se
    if n >= 10:
        assert rate >= 0.05 - 3 * se


def test_the_bootstrap_over_rejects_at_ten_pairs_which_is_why_auto_avoids_it() -> None:
    rate = _null_rejection_rate(10, "bootstrap", np.random.default_rng(10))
    assert rate > 0.05 + 3 * math.sqrt(0.05 * 0.95 / _REPLICATES)


# --------------------------------------------------------------------------- Welch
@pytest.mark.parametrize("scale", [1e155, 1e-200, 1e300, 1e-300, 1e307])
def test_welch_p_at_extreme_magnitudes_equals_the_p_of_the_rescaled_data(scale: float) -> None:
    a = [1.0, 2.0, 3.0, 2.5]
    b = [1.5, 2.5, 2.9, 3.1, 2.2]
    plain = welch_t_test(a, b)
    big = welch_t_test([v * scale for v in a], [v * scale for v in b])
    assert big.p_value == pytest.approx(plain.p_value, rel=1e-14)
    assert big.statistic == pytest.approx(plain.statistic, rel=1e-14)
    assert big.effect_size == pytest.approx(plain.effect_size, rel=1e-14)
    assert big.difference == pytest.approx(plain.difference * scale, rel=1e-14)
    assert big.ci_low == pytest.approx(plain.ci_low * scale, rel=1e-13)
    assert big.significant == plain.significant is False
    assert 0 < big.p_value < 1


def test_welch_near_the_largest_float_does_not_overflow() -> None:
    plain = welch_t_test([1.0, 1.2, 1.1], [1.5, 1.6, 1.7])
    huge = welch_t_test([1.0e308, 1.2e308, 1.1e308], [1.5e308, 1.6e308, 1.7e308])
    assert huge.p_value == pytest.approx(plain.p_value, rel=1e-12)
    assert huge.difference == pytest.approx(5e307, rel=1e-12) and huge.significant


def test_welch_still_matches_scipy_at_ordinary_magnitudes() -> None:
    a = [0.61, 0.64, 0.58, 0.66]
    b = [0.69, 0.71, 0.70, 0.73, 0.68]
    r = welch_t_test(a, b)
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-14)
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-14)


def test_a_nan_p_is_never_clipped_and_gives_no_verdict() -> None:
    base = welch_t_test([1.0, 2.0, 3.0], [2.0, 3.0, 5.0])
    nan = TestResult(**{**base.__dict__, "p_value": math.nan})
    assert not nan.significant
    assert nan.verdict.startswith("No verdict on A vs B: the p-value could not be computed (NaN)")
    assert "p = NaN" in nan.verdict and nan.to_dict()["p_value"] is None
    with pytest.raises(Exception, match=r"p-values must lie in \[0, 1\], got nan"):
        holm([0.01, math.nan])
