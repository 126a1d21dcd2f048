"""Syntetos-Boylan demand classes on hand-made series."""

import numpy as np
import pytest

from forecasting.classify import classify_demand


@pytest.mark.parametrize(
    ("y", "expected"),
    [
        ([5.0] * 10, "smooth"),
        ([1.0, 10.0] * 5, "erratic"),  # sizes 1, 10: cv2 = 4.5^2 / 5.5^2 = 0.669
        ([0.0, 0.0, 5.0] * 4, "intermittent"),  # adi 3, cv2 0
        ([0.0, 0.0, 1.0, 0.0, 0.0, 10.0] * 2, "lumpy"),
        ([0.0] * 10, "zero"),
        ([1.0, 2.0, 3.0], "short"),
    ],
)
def test_quadrants(y, expected):
    assert classify_demand(np.array(y))[0] == expected


def test_adi_and_cv2_values():
    demand_class, adi, cv2 = classify_demand(np.array([0, 0, 1, 0, 0, 10] * 2, dtype=float))
    assert adi == pytest.approx(12 / 4)
    assert cv2 == pytest.approx(np.var([1, 10, 1, 10]) / 5.5**2)
    assert demand_class == "lumpy"


def test_adi_cutoff_is_inclusive_at_1_32():
    at_cutoff = np.r_[np.ones(25), np.zeros(8)]  # 33 / 25 = 1.32
    below = np.r_[np.ones(25), np.zeros(7)]  # 32 / 25 = 1.28
    assert classify_demand(at_cutoff)[:2] == ("intermittent", pytest.approx(1.32))
    assert classify_demand(below)[0] == "smooth"


def test_cv2_cutoff_is_inclusive_at_0_49():
    at_cutoff = np.array([3.0, 17.0] * 5)  # var 49 / mean 10^2 = 0.49
    below = np.array([3.1, 16.9] * 5)
    assert classify_demand(at_cutoff)[0] == "erratic"
    assert classify_demand(below)[0] == "smooth"


def test_missing_periods_are_not_counted_as_zero_demand():
    y = np.array([4.0, np.nan] * 10)
    demand_class, adi, _ = classify_demand(y)
    assert (demand_class, adi) == ("smooth", 1.0)


def test_all_missing_is_short():
    assert classify_demand(np.full(5, np.nan))[0] == "short"
