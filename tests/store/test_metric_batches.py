"""A batch's summary and block rows are computed from NumPy arrays; they must be exactly what
the plain Python definitions give: NaN skipped, the first of equal values (0.0 or -0.0 as
logged) kept, the last point logged at the highest step."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialbook.errors import StoreError
from trialbook.store._buckets import BLOCK_POINTS, batch_summary, block_rows
from trialbook.store._sql import _column_arrays

VALUES = st.one_of(
    st.sampled_from([0.0, -0.0, math.nan, math.inf, -math.inf, 1.0, -1.0]),
    st.floats(allow_nan=True, allow_infinity=True),
)


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, and 0.0 different from -0.0."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return type(a) is type(b) and a == b


def _assert_rows_same(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert all(_same(x, y) for x, y in zip(g, w, strict=True)), (g, w)


def _python_summary(steps: list[int], values: list[float]) -> tuple[Any, ...]:
    """The definition: last = the last logged at the highest step; min/max of the non-NaN
    values with the step of the first one equal to them."""
    last_step = max(steps)
    last = values[len(steps) - 1 - steps[::-1].index(last_step)]
    finite = [v for v in values if v == v]
    if not finite:
        return (None if last != last else last, last_step, None, None, None, None, len(steps))
    mn, mx = min(finite), max(finite)
    return (
        None if last != last else last,
        last_step,
        mn,
        steps[values.index(mn)],
        mx,
        steps[values.index(mx)],
        len(steps),
    )


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), VALUES), min_size=1, max_size=300),
    seq=st.integers(0, 3 * BLOCK_POINTS),
    increasing=st.booleans(),
)
def test_block_rows_from_arrays_equal_the_python_loop(
    data: list[tuple[int, float]], seq: int, increasing: bool
) -> None:
    if increasing:
        data = sorted({s: v for s, v in data}.items())
    steps = [s for s, _ in data]
    values = [v for _, v in data]
    times = [1_765_000_000.0 + i * 1e-6 for i in range(len(data))]
    arrays = _column_arrays("loss", steps, values, times)

    for by_time in (False, True):
        got = block_rows(3, 4, seq, *arrays, by_time=by_time)
        want = block_rows(3, 4, seq, steps, values, times, by_time=by_time)
        _assert_rows_same(got, want)
    assert sum(r[7] for r in got) == len(data)


@settings(max_examples=200, deadline=None)
@given(data=st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), VALUES), min_size=1, max_size=200))
def test_the_batch_summary_from_arrays_equals_its_definition(
    data: list[tuple[int, float]],
) -> None:
    steps = [s for s, _ in data]
    values = [v for _, v in data]
    arrays = _column_arrays("loss", steps, values, [0.0] * len(data))

    got = batch_summary("r", "loss", *arrays)
    want = ("r", "loss", *_python_summary(steps, values))
    _assert_rows_same([got], [want])


def test_zeros_of_both_signs_keep_the_first_logged_as_min_and_max() -> None:
    steps, values = [10, 11, 12, 13], [0.0, -0.0, 1.0, -1.0]
    arrays = _column_arrays("loss", steps, values, [0.0] * 4)
    summary = batch_summary("r", "loss", *arrays)
    assert (summary[4], summary[5]) == (-1.0, 13)
    block = block_rows(1, 1, 0, *arrays[:1], np.array([-0.0, 0.0, 5.0, 6.0]), arrays[2])[0]
    assert math.copysign(1.0, block[5]) == -1.0  # min: -0.0 came first
    assert math.copysign(1.0, block[6]) == 1.0  # max: 6.0
    block = block_rows(1, 1, 0, *arrays[:1], np.array([0.0, -0.0, -0.0, 0.0]), arrays[2])[0]
    assert math.copysign(1.0, block[5]) == math.copysign(1.0, block[6]) == 1.0


def test_whole_blocks_of_zeros_of_both_signs_and_nan_equal_the_python_loop() -> None:
    """NumPy's vectorised fmin/fmax over a 64-point block returns either sign for equal
    zeros; the rows must still keep the first logged, as the loop does."""
    rng = np.random.default_rng(13)
    n = 40 * BLOCK_POINTS
    values = rng.choice([0.0, -0.0, 0.0, -0.0, math.nan, 1.0, -1.0], size=n).tolist()
    values[: 4 * BLOCK_POINTS] = rng.choice([0.0, -0.0, math.nan], size=4 * BLOCK_POINTS).tolist()
    steps = list(range(n))
    times = [float(i) for i in range(n)]
    arrays = _column_arrays("loss", steps, values, times)
    for seq in (0, 5):
        got = block_rows(1, 2, seq, *arrays)
        _assert_rows_same(got, block_rows(1, 2, seq, steps, values, times))
        negated = block_rows(1, 2, seq, arrays[0], -arrays[1], arrays[2])
        _assert_rows_same(negated, block_rows(1, 2, seq, steps, [-v for v in values], times))


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([0, 2**63], r"metric 'loss' step = 9223372036854775808 does not fit in 64 bits"),
        ([-(2**63) - 1], r"metric 'loss' step = -9223372036854775809 does not fit"),
        ([0, 1.5], r"metric 'loss': steps must be integers, got float64"),
        ([True], r"metric 'loss': steps must be integers, got bool"),
    ],
)
def test_steps_that_are_not_int64_integers_are_one_sentence_naming_the_metric(
    steps: list[Any], message: str
) -> None:
    with pytest.raises(StoreError, match=message):
        _column_arrays("loss", steps, [1.0] * len(steps), [0.0] * len(steps))


@pytest.mark.parametrize("bad", [None, math.nan])
def test_a_point_without_a_time_is_one_sentence_naming_the_metric(bad: Any) -> None:
    with pytest.raises(StoreError, match=r"metric 'loss': a point has no time \(None or NaN\)"):
        _column_arrays("loss", [0, 1], [1.0, 2.0], [1.0, bad])


def test_numpy_integer_steps_are_taken_as_they_are() -> None:
    arrays = _column_arrays("loss", np.array([1, 2], dtype=np.int32), [1.0, 2.0], [0.0, 0.0])
    assert arrays[0].dtype == np.int64 and arrays[0].tolist() == [1, 2]
