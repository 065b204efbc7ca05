"""LTTB downsampling and TensorBoard-style EMA smoothing (tracker/site/timeseries.py)."""

from __future__ import annotations

import math
import random

import pytest

from tracker.site.timeseries import downsample, ema, lttb


def _noisy(n: int, seed: int = 42) -> tuple[list[int], list[float]]:
    rng = random.Random(seed)
    xs = list(range(n))
    return xs, [math.sin(i / 200) + rng.gauss(0, 0.05) for i in xs]


# -- LTTB -----------------------------------------------------------------------------------


def test_lttb_keeps_endpoints_and_at_most_n_points() -> None:
    xs, ys = _noisy(5000)
    for threshold in (3, 10, 100, 1000):
        kept = lttb(xs, ys, threshold)
        assert len(kept) == threshold
        assert kept[0] == 0 and kept[-1] == 4999
        assert kept == sorted(set(kept))


def test_lttb_returns_everything_when_short() -> None:
    assert lttb([0, 1, 2], [1.0, 2.0, 3.0], 10) == [0, 1, 2]
    assert lttb([0, 1, 2, 3], [1.0, 5.0, 2.0, 3.0], 2) == [0, 3]
    assert lttb([], [], 5) == []


def test_lttb_picks_the_spike_of_its_bucket() -> None:
    xs = list(range(1000))
    ys = [0.0] * 1000
    ys[537] = 50.0
    assert 537 in lttb(xs, ys, 50)


def test_downsample_keeps_exact_first_last_min_and_max() -> None:
    xs, ys = _noisy(5000)
    ys[1234] = 40.0  # a one-step spike
    ys[4321] = -40.0  # and a dip
    kept = downsample(xs, ys, 1000)
    assert len(kept) <= 1000
    assert kept[0] == 0 and kept[-1] == 4999
    assert 1234 in kept and 4321 in kept
    assert kept == sorted(set(kept))


def test_downsample_preserves_many_spikes_reasonably() -> None:
    xs = list(range(5000))
    ys = [1.0] * 5000
    spikes = list(range(250, 5000, 500))  # 10 spikes, one every 500 steps
    for i in spikes:
        ys[i] = 10.0
    kept = downsample(xs, ys, 200)
    assert len(kept) <= 200
    assert all(i in kept for i in spikes)


def test_downsample_leaves_out_non_finite_values() -> None:
    ys = [1.0, math.nan, 2.0, math.inf, 3.0, -math.inf]
    assert downsample(list(range(6)), ys, 10) == [0, 2, 4]
    xs, long = _noisy(3000)
    long[10] = math.nan
    kept = downsample(xs, long, 500)
    assert 10 not in kept and len(kept) <= 500 and kept[0] == 0 and kept[-1] == 2999


def test_downsample_refuses_a_tiny_limit() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        downsample(list(range(10)), [float(i) for i in range(10)], 3)


# -- EMA ------------------------------------------------------------------------------------


def test_ema_matches_a_hand_computed_tensorboard_example() -> None:
    # w = 0.5: last = 0.5, 1.25, 2.125; debias = 0.5, 0.75, 0.875.
    assert ema([1.0, 2.0, 3.0], 0.5) == pytest.approx([1.0, 1.25 / 0.75, 2.125 / 0.875])
    # w = 0.6 (TensorBoard's default) over 10, 20, 0.
    last1 = 0.4 * 10
    last2 = last1 * 0.6 + 0.4 * 20
    last3 = last2 * 0.6 + 0.4 * 0
    expected = [last1 / 0.4, last2 / (1 - 0.6**2), last3 / (1 - 0.6**3)]
    assert ema([10.0, 20.0, 0.0], 0.6) == pytest.approx(expected)
    assert expected == pytest.approx([10.0, 16.25, 7.959183673469388])


def test_ema_weight_zero_is_the_identity() -> None:
    values = [3.0, -1.0, 7.5, 0.0]
    assert ema(values, 0.0) == values


def test_ema_skips_nan_without_moving_the_average() -> None:
    out = ema([1.0, math.nan, 3.0], 0.5)
    assert out[0] == 1.0
    assert math.isnan(out[1])
    # The NaN is not counted: the second finite value is debiased with n = 2.
    assert out[2] == pytest.approx((0.5 * 0.5 + 0.5 * 3.0) / 0.75)
    inf = ema([math.inf, 2.0], 0.9)
    assert inf[0] == math.inf and inf[1] == pytest.approx(2.0)


def test_ema_of_a_constant_series_is_unchanged() -> None:
    assert ema([0.1] * 50, 0.99) == [0.1] * 50
    assert ema([], 0.5) == []


def test_ema_refuses_a_weight_outside_0_1() -> None:
    for weight in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="Smoothing weight"):
            ema([1.0], weight)
