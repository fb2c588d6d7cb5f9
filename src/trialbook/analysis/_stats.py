"""Significance tests for comparing two entries: paired bootstrap, paired permutation (sign
flips), exact McNemar, Welch's t-test across seeds, and Holm's correction for several at once.

Every test returns a :class:`TestResult` whose ``difference`` is ``b - a`` (positive: B scored
higher) and whose ``verdict`` is one plain sentence. Randomised tests take a ``seed`` and give
the same numbers for the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from trialbook.analysis._intervals import check_level, t_critical
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike

__all__ = [
    "TestResult",
    "holm",
    "mcnemar_exact",
    "paired_bootstrap",
    "permutation_test",
    "welch_t_test",
]

TestName = Literal["paired-bootstrap", "permutation", "mcnemar", "welch"]

# Resamples drawn per chunk of the general bootstrap: 256 x 10,000 int64 indices is 20 MB,
# small enough for any machine, large enough that numpy's per-call overhead vanishes.
_CHUNK_CELLS = 2_560_000


@dataclass(frozen=True)
class TestResult:
    """The outcome of one two-sided test of entry ``b`` against entry ``a``.

    ``difference`` is ``mean_b - mean_a`` and ``ci_low``/``ci_high`` its interval at ``level``.
    ``effect_size`` depends on the test: the standardised mean difference of the paired
    differences (mean / sd, "Cohen's d_z") for the paired bootstrap and the permutation test,
    the odds ratio of the discordant pairs (b right and a wrong over a right and b wrong, with a
    Haldane 0.5 correction when a count is zero) for McNemar, and Hedges' g (Cohen's d with the
    small-sample correction) for Welch; ``effect_name`` says which. ``p_adjusted`` is set when
    several comparisons were corrected together (Holm).

    ``exact`` is True when the p-value was computed exactly (McNemar; the permutation test
    when it enumerated every sign flip). ``note`` says why this test ran (set when
    :func:`~trialbook.analysis.significance` chose it, or when a named test is known to
    misbehave on data this small). ``no_verdict`` is one sentence saying why the result
    cannot support a verdict (one pair, a sample so small that no test can reach the level,
    a p-value that could not be computed); then :attr:`significant` is False and the verdict
    says "No verdict".
    """

    __test__ = False  # not a pytest test class, despite the name

    test: TestName
    a: str
    b: str
    n: int
    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    effect_size: float
    effect_ci_low: float
    effect_ci_high: float
    effect_name: str
    statistic: float
    level: float = 0.95
    p_adjusted: float | None = None
    seed: int | None = None
    resamples: int | None = None
    metric: str | None = None
    benchmark: str | None = None
    n_b: int | None = None
    exact: bool = False
    note: str | None = None
    no_verdict: str | None = None

    @property
    def significant(self) -> bool:
        """Whether the (adjusted, when set) p-value is below ``1 - level``; never when the
        result gives no verdict (``no_verdict``) or the p-value is NaN."""
        if self.no_verdict is not None:
            return False
        p = self.p_adjusted if self.p_adjusted is not None else self.p_value
        return p < 1 - self.level

    @property
    def verdict(self) -> str:
        """One plain-language sentence: who is better, by how much, and how sure."""
        return verdict(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field plus ``significant`` and ``verdict``; a statistic
        that was not computed (NaN here: no test applies) is None (see ``trialbook._values``)."""
        d = asdict(self)
        d["significant"] = self.significant
        d["verdict"] = self.verdict
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}

    def details(self) -> list[tuple[str, str]]:
        """The test's numbers as labelled lines, as ``trialbook significance`` prints them
        under the verdict: test, why it was chosen, n, both means, the difference with its
        interval, the p-value (and Holm's), the effect size with its interval."""
        from trialbook._format import fmt_number

        def num(value: float | None) -> str:
            return "-" if value is None or math.isnan(value) else fmt_number(float(value))

        pct = f"{self.level * 100:g}%"
        resampled = f"{self.resamples:,} resamples, seed {self.seed}" if self.resamples else ""
        test = self.test + (f" ({resampled})" if resampled else "")
        ci = f"{pct} CI {num(self.ci_low)} to {num(self.ci_high)}"
        if self.test == "mcnemar" or (self.test == "permutation" and self.exact):
            # The exact tests resample nothing; only their interval comes from a bootstrap.
            test = f"{self.test} (exact)"
            if resampled:
                ci += f"; paired bootstrap, {resampled}"
        difference = num(self.difference)
        if not difference.startswith("-"):
            difference = f"+{difference}"
        pairs = [("test", test), *([("why", self.note)] if self.note else [])]
        pairs += [
            ("n", f"{self.n:,}" if self.n_b is None else f"{self.n} and {self.n_b} seeds"),
            (f"mean {self.a}", num(self.mean_a)),
            (f"mean {self.b}", num(self.mean_b)),
            ("difference", f"{difference} ({ci})"),
            ("p-value", num(self.p_value)),
        ]
        if self.p_adjusted is not None:
            pairs.append(("p (Holm)", num(self.p_adjusted)))
        pairs.append(
            (
                "effect size",
                f"{num(self.effect_size)} ({pct} CI {num(self.effect_ci_low)} to "
                f"{num(self.effect_ci_high)}; {self.effect_name})",
            )
        )
        return pairs

    def _repr_html_(self) -> str:
        """The test in a notebook: its verdict, means, difference, p-value, effect."""
        from trialbook.reporting import notebook_html

        return notebook_html(self)


class TestResults(list[TestResult]):
    """The list :func:`~trialbook.analysis.significance` returns; in a notebook it shows each
    test's verdict and numbers."""

    __test__ = False

    def _repr_html_(self) -> str:
        from trialbook.reporting import notebook_html

        return notebook_html(list(self)) if self else "<p>no tests</p>"


def _fmt(x: float, scale: float) -> str:
    v = x * scale
    return f"{v:.2g}" if v != 0 and abs(v) < 0.1 else f"{v:.1f}" if scale == 100 else f"{v:.3g}"


def _fmt_p(p: float) -> str:
    if math.isnan(p):
        return "p = NaN"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


_TEST_LABELS = {
    "paired-bootstrap": "paired bootstrap",
    "permutation": "paired permutation test",
    "permutation-exact": "exact paired permutation test",
    "mcnemar": "exact McNemar test",
    "welch": "Welch's t-test",
}


def verdict(r: TestResult) -> str:
    """The sentence :attr:`TestResult.verdict` returns."""
    from trialbook._metrics import metric_goal

    goal = metric_goal(r.metric) if r.metric else "max"
    # Rates in [0, 1] (accuracy, F1) read best as points; anything else keeps its own unit.
    bounded = all(0.0 <= v <= 1.0 for v in (r.mean_a, r.mean_b) if not math.isnan(v))
    scale, unit = (100.0, " points") if bounded and goal == "max" else (1.0, "")
    what = " ".join(x for x in (r.benchmark, r.metric) if x)
    on = f" on {what}" if what else ""
    level = f"{r.level * 100:g}%"
    p = r.p_adjusted if r.p_adjusted is not None else r.p_value
    p_text = _fmt_p(p) + (" (Holm-adjusted)" if r.p_adjusted is not None else "")
    n_text = f"n = {r.n:,}" if r.n_b is None else f"n = {r.n:,} and {r.n_b:,} seeds"
    label = _TEST_LABELS["permutation-exact" if r.test == "permutation" and r.exact else r.test]
    stats = f"{label} {p_text}, {n_text}"
    ci = f"{level} CI {_fmt(r.ci_low, scale)} to {_fmt(r.ci_high, scale)}"
    reason = r.no_verdict
    if reason is None and math.isnan(p):
        reason = "the p-value could not be computed (NaN)"
    if reason is not None:
        return (
            f"No verdict on {r.a} vs {r.b}{on}: {reason} "
            f"({r.b} - {r.a} = {_fmt(r.difference, scale)}{unit}; {stats})."
        )
    if not r.significant or r.difference == 0:
        return (
            f"No significant difference between {r.a} and {r.b}{on} "
            f"({r.b} - {r.a} = {_fmt(r.difference, scale)}{unit}, {ci}; {stats}): "
            "treat them as tied."
        )
    # b - a > 0 favours b unless lower is better (loss, error).
    b_wins = (r.difference > 0) == (goal == "max")
    better, worse = (r.b, r.a) if b_wins else (r.a, r.b)
    # The claim is an amount >= 0 ("better by", "lower"): state the interval in that direction.
    sign = 1.0 if r.difference > 0 else -1.0
    low, high = sorted((sign * r.ci_low, sign * r.ci_high))
    amount = _fmt(abs(r.difference), scale)
    ci = f"{level} CI {_fmt(low, scale)} to {_fmt(high, scale)}"
    if low < 0:
        # The p-value and the interval disagree (different methods): claim nothing.
        return (
            f"{better} looks better than {worse}{on} by {amount}{unit}, but the {level} CI "
            f"of that amount, {_fmt(low, scale)} to {_fmt(high, scale)}, includes 0 "
            f"({stats}): treat the difference as uncertain."
        )
    if goal == "min":
        return f"{better} is better than {worse}{on}: {amount}{unit} lower ({ci}; {stats})."
    return f"{better} is better than {worse}{on} by {amount}{unit} ({ci}; {stats})."


def _vector(values: ArrayLike, name: str) -> np.ndarray:
    import numpy as np

    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ConfigError(f"{name} must be a flat list of numbers, got shape {arr.shape}.")
    if arr.size and not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ConfigError(
            f"{name}[{bad}] is {arr[bad]}; drop samples without a score before testing."
        )
    return arr


def _paired(a: ArrayLike, b: ArrayLike, minimum: int = 1) -> tuple[np.ndarray, np.ndarray]:
    x, y = _vector(a, "a"), _vector(b, "b")
    if x.size != y.size:
        raise ConfigError(
            f"A paired test needs as many scores in a as in b, got {x.size} and {y.size}; "
            "match the samples by id first."
        )
    if x.size < minimum:
        raise ConfigError(f"A paired test needs at least {minimum} samples, got n={x.size}.")
    return x, y


def _check_resamples(resamples: int) -> None:
    if resamples < 1:
        raise ConfigError(
            f"resamples={resamples} must be at least 1 (e.g. 10000).",
            parameter="resamples",
            value=resamples,
        )


def _d_z(d: np.ndarray) -> float:
    if d.size < 2:
        return math.nan
    sd = float(d.std(ddof=1))
    mean = float(d.mean())
    if sd == 0:
        return 0.0 if mean == 0 else math.copysign(math.inf, mean)
    return mean / sd


def _d_z_interval(dz: float, n: int, level: float) -> tuple[float, float]:
    # Normal approximation to the sampling distribution of d_z (Goulet-Pelletier & Cousineau).
    from scipy import stats

    if n < 2 or not math.isfinite(dz):
        return (math.nan, math.nan)
    se = math.sqrt(1 / n + dz * dz / (2 * n))
    z = float(stats.norm.ppf(0.5 + level / 2))
    return (dz - z * se, dz + z * se)


def _bootstrap_means(d: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` means of ``d`` resampled with replacement, without an n x B matrix."""
    import numpy as np

    n = d.size
    values, first, counts = np.unique(d, return_index=True, return_counts=True)
    if values.size <= 3:
        # Differences of 0/1 scores take at most three values; a resample's mean depends only
        # on how many of each it drew, which is exactly multinomial. Categories go in order of
        # first appearance (not by value) so that negating d negates every resampled mean:
        # swapping A and B mirrors the result exactly.
        order = np.argsort(first)
        values = values[order]
        probs = counts[order].astype(float) / n
        counts = rng.multinomial(n, probs, size=resamples)
        return np.asarray(counts @ values / n, dtype=float)
    out = np.empty(resamples)
    per_chunk = max(1, _CHUNK_CELLS // n)
    for start in range(0, resamples, per_chunk):
        stop = min(resamples, start + per_chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = d[idx].mean(axis=1)
    return out


#: Up to this many non-zero paired differences the permutation test enumerates every sign
#: flip exactly (2**20 = 1,048,576 sums: under 0.1 s and 16 MB); beyond, it draws
#: ``resamples`` random ones.
EXACT_SIGN_FLIPS = 20

#: Below this many graded pairs ``significance(test="auto")`` runs the permutation test, not
#: the paired bootstrap. The bootstrap's p behaves like a z-test on the sd with divisor n, so
#: under the null it rejects about P(|t(n-1)| > 1.96 sqrt((n-1)/n)) of the time at the 0.05
#: level: 0.071 at n = 20, 0.064 at 30, 0.058 at 50, 0.054 at 100 (measured with normal null
#: differences: 0.11 at n = 10 and 0.07 at 30 in tests/analysis/test_small_samples.py, 0.058 at
#: 50 and 0.054 at 100 over 1,000 replicates). From 50 on the excess is under 0.01.
BOOTSTRAP_MIN_N = 50


def unreachable(n: int, level: float) -> str | None:
    """Why no paired test of ``n`` pairs can reach ``level``, or None when one can.

    A test that keeps each pair's |difference| and asks only about its sign (the sign-flip
    permutation test, McNemar) can give no p-value below 2 / 2**n: the observed signs and
    their mirror image are always the two most extreme of the 2**n. At the 0.05 level that
    rules out n <= 5; at n = 1 nothing can reach any level.
    """
    alpha = 1 - level
    smallest = 2.0 ** (1 - n)
    if smallest <= alpha:
        return None
    if n <= 1:
        return f"with n = {n} pair no test can reach p < {alpha:g}; compare more samples"
    return (
        f"with n = {n} pairs the smallest p-value an exact test can give is {smallest:.3g}, "
        f"above {alpha:g}; compare more samples"
    )


def _bootstrap_note(n: int) -> str | None:
    if n >= BOOTSTRAP_MIN_N:
        return None
    return (
        f"the paired bootstrap rejects too often below n = {BOOTSTRAP_MIN_N} (about "
        f"{_bootstrap_null_rate(n):.2f} of null comparisons at the 0.05 level for n = {n}); "
        "test='permutation' is exact"
    )


def _bootstrap_null_rate(n: int) -> float:
    """The paired bootstrap's approximate null rejection rate at the 0.05 level (see
    :data:`BOOTSTRAP_MIN_N`)."""
    from scipy import stats

    if n < 2:
        return 1.0
    return float(2 * stats.t.sf(1.959964 * math.sqrt((n - 1) / n), n - 1))


# --------------------------------------------------------------------------- tests
def paired_bootstrap(
    a: ArrayLike,
    b: ArrayLike,
    *,
    resamples: int = 10_000,
    level: float = 0.95,
    seed: int = 0,
    labels: tuple[str, str] = ("A", "B"),
) -> TestResult:
    """Paired bootstrap of the mean difference ``b - a`` over per-sample scores.

    The samples (pairs) are resampled with replacement ``resamples`` times; the interval is the
    percentile interval of the resampled mean differences, and the two-sided p-value is the
    share of the centred bootstrap distribution at least as far from zero as the observed
    difference (the null shifted to a zero mean), with the usual +1 correction so p > 0.
    0/1 scores use an exact multinomial shortcut, so 10,000 resamples of 10,000 pairs take
    milliseconds.

    Small samples: the bootstrap treats the n pairs as the population, so its p-value is too
    small when n is small (under the null it rejects about 0.11 of the time at n = 10 and
    0.07 at n = 30 at the 0.05 level); the result's ``note`` says so below n = 50, and
    :func:`permutation_test` is exact there. With n so small that no test can reach the level
    (n = 1; n <= 5 at 0.05) the result gives no verdict (``no_verdict``).
    """
    import numpy as np

    check_level(level)
    _check_resamples(resamples)
    x, y = _paired(a, b)
    d = y - x
    obs = float(d.mean())
    rng = np.random.default_rng(seed)
    means = _bootstrap_means(d, resamples, rng)
    alpha = 1 - level
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    centred = np.abs(means - obs)
    # Rounding noise (1e-17) must not count as "more extreme" when the difference is zero.
    tol = 1e-12 * max(1.0, abs(obs))
    if np.all(d == d[0]):
        p = 1.0 if obs == 0 else 1.0 / (resamples + 1)
    else:
        p = (1 + int(np.count_nonzero(centred >= abs(obs) - tol))) / (resamples + 1)
    dz = _d_z(d)
    elo, ehi = _d_z_interval(dz, d.size, level)
    se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else math.nan
    return TestResult(
        test="paired-bootstrap",
        a=labels[0],
        b=labels[1],
        n=int(d.size),
        mean_a=float(x.mean()),
        mean_b=float(y.mean()),
        difference=obs,
        ci_low=float(lo),
        ci_high=float(hi),
        p_value=min(1.0, p),
        effect_size=dz,
        effect_ci_low=elo,
        effect_ci_high=ehi,
        effect_name="d_z (mean paired difference / its sd)",
        statistic=obs / se if se and math.isfinite(se) and se > 0 else 0.0,
        level=level,
        seed=seed,
        resamples=resamples,
        note=_bootstrap_note(int(d.size)),
        no_verdict=unreachable(int(d.size), level),
    )


def permutation_test(
    a: ArrayLike,
    b: ArrayLike,
    *,
    resamples: int = 10_000,
    level: float = 0.95,
    seed: int = 0,
    labels: tuple[str, str] = ("A", "B"),
) -> TestResult:
    """Paired sign-flip permutation test of the mean difference ``b - a``.

    Under the null each pair's difference is as likely to have either sign. With at most
    :data:`EXACT_SIGN_FLIPS` (20) non-zero differences every one of the ``2**m`` sign
    vectors is enumerated and p is the exact share whose |sum| is at least the observed one
    (``exact=True``; pairs with a zero difference flip to themselves and leave p unchanged).
    Beyond that, ``resamples`` random sign vectors are drawn and p = (k + 1) / (resamples + 1),
    k the number at least as extreme: never 0, and valid (not anti-conservative) for any
    number of resamples. The interval of the difference is the paired bootstrap's, from the
    same seed. With n so small that no test can reach the level (n = 1; n <= 5 at 0.05) the
    result gives no verdict (``no_verdict``).
    """
    import numpy as np

    check_level(level)
    _check_resamples(resamples)
    x, y = _paired(a, b)
    d = y - x
    n = d.size
    rng = np.random.default_rng(seed)
    nz = d[d != 0]
    observed = abs(float(nz.sum()))
    # Sums that equal the observed one in exact arithmetic may differ in the last bits.
    tol = 1e-9 * float(np.abs(nz).sum())
    exact = nz.size <= EXACT_SIGN_FLIPS
    if nz.size == 0:
        p = 1.0
    elif exact:
        sums = np.zeros(1)
        for v in nz:
            sums = np.concatenate((sums + v, sums - v))
        p = int(np.count_nonzero(np.abs(sums) >= observed - tol)) / sums.size
    else:
        values, counts = np.unique(np.abs(nz), return_counts=True)
        extreme = 0
        if values.size <= 2:
            # Few distinct magnitudes (0/1 scores): a flip count per magnitude is binomial.
            total = np.zeros(resamples)
            for v, c in zip(values, counts, strict=True):
                plus = rng.binomial(int(c), 0.5, size=resamples)
                total += v * (2 * plus - int(c))
            extreme = int(np.count_nonzero(np.abs(total) >= observed - tol))
        else:
            per_chunk = max(1, _CHUNK_CELLS // nz.size)
            total_nz = float(nz.sum())
            for start in range(0, resamples, per_chunk):
                stop = min(resamples, start + per_chunk)
                # One random byte gives eight sign flips; sum(s * x) = 2 * (bits @ x) - sum(x).
                raw = rng.integers(0, 256, size=(stop - start, (nz.size + 7) // 8), dtype=np.uint8)
                bits = np.unpackbits(raw, axis=1, count=nz.size).astype(np.float64)
                sums = 2.0 * (bits @ nz) - total_nz
                extreme += int(np.count_nonzero(np.abs(sums) >= observed - tol))
        p = (1 + extreme) / (resamples + 1)
    boot = paired_bootstrap(x, y, resamples=resamples, level=level, seed=seed, labels=labels)
    return replace(
        boot,
        test="permutation",
        p_value=min(1.0, p),
        exact=bool(exact),
        note=None,
        no_verdict=unreachable(int(n), level),
    )


def mcnemar_exact(
    a_correct: ArrayLike,
    b_correct: ArrayLike,
    *,
    level: float = 0.95,
    labels: tuple[str, str] = ("A", "B"),
) -> TestResult:
    """Exact McNemar test on paired correct/incorrect outcomes.

    Only the discordant pairs matter: ``b01`` (A wrong, B right) and ``b10`` (A right, B
    wrong). Under the null each discordant pair is a fair coin, so the two-sided p-value is
    ``min(1, 2 * P(Binomial(b01 + b10, 1/2) <= min(b01, b10)))``. The interval of the
    difference in accuracy is the Wald interval for paired proportions; the effect size is
    the odds ratio ``b01 / b10`` with its log-normal interval (0.5 added to both counts when
    one is zero).
    """
    import numpy as np
    from scipy import stats

    check_level(level)
    x, y = _paired(a_correct, b_correct)
    for name, arr in (("a_correct", x), ("b_correct", y)):
        bad = np.flatnonzero((arr != 0) & (arr != 1))
        if bad.size:
            raise ConfigError(
                f"McNemar needs correct/incorrect (0/1) outcomes, but {name}[{int(bad[0])}] is "
                f"{arr[bad[0]]:g}; use test='bootstrap' for graded scores."
            )
    n = int(x.size)
    b01 = int(np.count_nonzero((x == 0) & (y == 1)))
    b10 = int(np.count_nonzero((x == 1) & (y == 0)))
    m = b01 + b10
    p = 1.0 if m == 0 else min(1.0, 2.0 * float(stats.binom.cdf(min(b01, b10), m, 0.5)))
    diff = (b01 - b10) / n
    z = float(stats.norm.ppf(0.5 + level / 2))
    var = ((b01 + b10) / n - diff * diff) / n
    half = z * math.sqrt(max(var, 0.0))
    c01, c10 = (b01, b10) if b01 and b10 else (b01 + 0.5, b10 + 0.5)
    log_or = math.log(c01 / c10)
    se_or = math.sqrt(1 / c01 + 1 / c10)
    return TestResult(
        test="mcnemar",
        a=labels[0],
        b=labels[1],
        n=n,
        mean_a=float(x.mean()),
        mean_b=float(y.mean()),
        difference=diff,
        ci_low=diff - half,
        ci_high=diff + half,
        p_value=p,
        effect_size=math.exp(log_or),
        effect_ci_low=math.exp(log_or - z * se_or),
        effect_ci_high=math.exp(log_or + z * se_or),
        effect_name="odds ratio (B right & A wrong) / (A right & B wrong)",
        statistic=float(min(b01, b10)),
        level=level,
        exact=True,
        no_verdict=unreachable(n, level),
    )


def welch_t_test(
    a: ArrayLike,
    b: ArrayLike,
    *,
    level: float = 0.95,
    labels: tuple[str, str] = ("A", "B"),
) -> TestResult:
    """Welch's t-test of ``mean(b) - mean(a)`` for two groups of per-seed values.

    The interval uses the Welch-Satterthwaite degrees of freedom. The effect size is Hedges' g
    (Cohen's d on the pooled sd, times the small-sample correction ``1 - 3 / (4 df - 1)``), its
    interval from the usual normal approximation of its standard error.
    """
    import numpy as np
    from scipy import stats

    check_level(level)
    x, y = _vector(a, "a"), _vector(b, "b")
    for label, arr in ((labels[0], x), (labels[1], y)):
        if arr.size < 2:
            raise ConfigError(
                f"Welch's t-test needs at least 2 seeds per group, but {label} has n={arr.size}; "
                "run more seeds or compare per-sample scores with test='bootstrap'."
            )
    # Everything is computed on the values divided by a power of two near their largest
    # magnitude: dividing by a power of two is exact, so t, df and p are bit for bit those of
    # the unscaled data wherever that data neither overflows (squares of 1e155) nor underflows
    # (squares of 1e-200); the difference and its interval are scaled back.
    top = float(max(np.abs(x).max(), np.abs(y).max()))
    scale = 1.0 if top == 0 else math.ldexp(1.0, math.frexp(top)[1] - 1)  # top/scale in [1, 2)
    x, y = x / scale, y / scale
    na, nb = x.size, y.size
    va, vb = float(x.var(ddof=1)), float(y.var(ddof=1))
    diff = float(y.mean() - x.mean())
    se2 = va / na + vb / nb
    alpha = 1 - level
    if se2 == 0:
        t = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        p = 1.0 if diff == 0 else 0.0
        lo = hi = diff
        df = float(na + nb - 2)
    else:
        # Welch-Satterthwaite df, with the variances scaled by their maximum first so that
        # tiny ones (1e-198) do not underflow when squared. Same numbers as SciPy's
        # ttest_ind(equal_var=False), which the tests check.
        u, w = va / na, vb / nb
        top = max(u, w)
        u, w = u / top, w / top
        df = (u + w) ** 2 / (u * u / (na - 1) + w * w / (nb - 1))
        t = diff / math.sqrt(se2)
        p = float(2 * stats.t.sf(abs(t), df))
        half = float(t_critical(level, df)) * math.sqrt(se2)
        lo, hi = diff - half, diff + half
    pooled_df = na + nb - 2
    sp = math.sqrt(((na - 1) * va + (nb - 1) * vb) / pooled_df)
    if sp == 0:
        g = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        glo = ghi = g
    else:
        j = 1 - 3 / (4 * pooled_df - 1)
        g = diff / sp * j
        se_g = math.sqrt((na + nb) / (na * nb) + g * g / (2 * (na + nb)))
        z = float(stats.norm.ppf(1 - alpha / 2))
        glo, ghi = g - z * se_g, g + z * se_g
    # A NaN p stays NaN (clipping would turn it into 0, "significant") and gives no verdict.
    no_verdict = (
        f"the p-value could not be computed (t = {t:g}, df = {df:g})" if math.isnan(p) else None
    )
    return TestResult(
        test="welch",
        a=labels[0],
        b=labels[1],
        n=int(na),
        n_b=int(nb),
        mean_a=float(np.mean(x)) * scale,
        mean_b=float(np.mean(y)) * scale,
        difference=diff * scale,
        ci_low=lo * scale,
        ci_high=hi * scale,
        p_value=p if math.isnan(p) else min(1.0, max(0.0, p)),
        effect_size=g,
        effect_ci_low=glo,
        effect_ci_high=ghi,
        effect_name="Hedges' g",
        statistic=t,
        level=level,
        no_verdict=no_verdict,
    )


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given.

    Sorted ascending, the i-th smallest (0-based) is multiplied by ``m - i``; a running maximum
    keeps them monotone, and each is capped at 1.
    """
    m = len(pvalues)
    for p in pvalues:
        if not 0 <= p <= 1 or math.isnan(p):
            raise ConfigError(f"p-values must lie in [0, 1], got {p}.")
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted
