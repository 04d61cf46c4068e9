import numpy as np
import pytest

from equitysim import metrics as M


def test_dissimilarity_hand_computed():
    # Two schools: A = (10, 0), B = (0, 10) -> complete segregation.
    assert M.dissimilarity(np.array([10.0, 0]), np.array([0.0, 10])) == pytest.approx(1.0)
    # Identical mixes -> 0.
    assert M.dissimilarity(np.array([5.0, 5]), np.array([3.0, 3])) == pytest.approx(0.0)
    # a = (30, 10), b = (10, 30): 0.5 * (|0.75-0.25| + |0.25-0.75|) = 0.5
    assert M.dissimilarity(np.array([30.0, 10]), np.array([10.0, 30])) == pytest.approx(0.5)


def test_dissimilarity_by_group_and_within_district():
    a = np.array([10.0, 0, 5, 5])
    b = np.array([0.0, 10, 5, 5])
    district = np.array([0, 0, 1, 1])
    d = M.dissimilarity_by_group(a, b, district, 2)
    np.testing.assert_allclose(d, [1.0, 0.0])
    # Weighted by a+b: both districts have 20 students -> mean 0.5.
    assert M.within_district_dissimilarity(a, b, district, 2) == pytest.approx(0.5)
    # A one-school district does not count.
    a3, b3, d3 = np.r_[a, 100.0], np.r_[b, 0.0], np.r_[district, 2]
    assert M.within_district_dissimilarity(a3, b3, d3, 3) == pytest.approx(0.5)


def test_exposure_hand_computed():
    # Group a: 10 in school 1 (50% b), 30 in school 2 (25% b).
    a = np.array([10.0, 30])
    b = np.array([10.0, 10])
    total = np.array([20.0, 40])
    # P* = 10/40*0.5 + 30/40*0.25 = 0.125 + 0.1875
    assert M.exposure(a, b, total) == pytest.approx(0.3125)


def test_spending_gap_and_mean_gap():
    spend = np.array([10.0, 10, 9, 9])
    students = np.ones(4)
    high = np.array([False, False, True, True])
    low = ~high
    assert M.spending_gap(spend, students, high, low) == pytest.approx(0.1)
    texp = np.array([15.0, 13, 11, 9])
    assert M.mean_gap(texp, np.array([1.0, 3, 1, 1]), low, high) == pytest.approx(13.5 - 10)


def test_adequacy_gap():
    ratio = np.array([0.8, 0.95, 1.1])
    students = np.array([100.0, 200, 700])
    assert M.adequacy_gap(ratio, students, 0.9) == pytest.approx(0.1)
    assert M.adequacy_gap(ratio, students, 1.0) == pytest.approx(0.3)


def test_rates_and_ratios():
    assert M.rate(np.array([1.0, 3]), np.array([10.0, 30])) == pytest.approx(0.1)
    rr = M.risk_ratio(np.array([12.0]), np.array([100.0]), np.array([3.0]), np.array([100.0]))
    assert rr == pytest.approx(4.0)
    assert M.relative_gap(0.12, 0.2) == pytest.approx(0.4)


def test_empty_inputs_do_not_divide_by_zero():
    z = np.zeros(3)
    assert M.dissimilarity(z, np.ones(3)) == 0.0
    assert M.exposure(z, np.ones(3), np.ones(3)) == 0.0
    assert np.isnan(M.weighted_mean(np.ones(2), np.zeros(2)))
