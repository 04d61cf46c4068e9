"""Equity metrics as pure functions on school (or district) arrays.

Conventions: `a`, `b` are head counts of two groups per unit (school); rates are shares of a
group per year; every function returns a plain float. Units are in each docstring.
"""

from __future__ import annotations

import numpy as np


def dissimilarity(a: np.ndarray, b: np.ndarray) -> float:
    """Duncan dissimilarity index of groups a and b across units (0 = even, 1 = apart).

    D = 1/2 * sum_i |a_i/A - b_i/B|. Unitless, 0-1.
    """
    A, B = a.sum(), b.sum()
    if A <= 0 or B <= 0:
        return 0.0
    return float(0.5 * np.abs(a / A - b / B).sum())


def dissimilarity_by_group(a: np.ndarray, b: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Dissimilarity of a and b computed separately within each group (e.g. district) of units.

    Returns an array of length n_groups (0 where a group has no a or no b). Unitless, 0-1.
    """
    A = np.bincount(group, weights=a, minlength=n_groups)
    B = np.bincount(group, weights=b, minlength=n_groups)
    ok = (A > 0) & (B > 0)
    fa = np.divide(a, A[group], out=np.zeros_like(a, dtype=float), where=ok[group])
    fb = np.divide(b, B[group], out=np.zeros_like(b, dtype=float), where=ok[group])
    return 0.5 * np.bincount(group, weights=np.abs(fa - fb), minlength=n_groups)


def within_district_dissimilarity(a: np.ndarray, b: np.ndarray, district: np.ndarray, n_districts: int) -> float:
    """Enrollment-weighted mean of within-district dissimilarity over districts with 2+ schools.

    Weights are the districts' a+b head counts. Unitless, 0-1.
    """
    d = dissimilarity_by_group(a, b, district, n_districts)
    n_units = np.bincount(district, minlength=n_districts)
    w = np.bincount(district, weights=a + b, minlength=n_districts) * (n_units >= 2)
    return float((d * w).sum() / w.sum()) if w.sum() > 0 else 0.0


def exposure(a: np.ndarray, b: np.ndarray, total: np.ndarray) -> float:
    """Exposure index P*(a->b): share of group b in the school of the average member of a.

    P* = sum_i (a_i/A) * (b_i/t_i). Unitless, 0-1.
    """
    A = a.sum()
    if A <= 0:
        return 0.0
    frac = np.divide(b, total, out=np.zeros_like(b, dtype=float), where=total > 0)
    return float((a / A * frac).sum())


def weighted_mean(x: np.ndarray, w: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Weighted mean of x (units of x); NaN if no weight."""
    if mask is not None:
        x, w = x[mask], w[mask]
    s = w.sum()
    return float((x * w).sum() / s) if s > 0 else float("nan")


def spending_gap(spend: np.ndarray, students: np.ndarray, high: np.ndarray, low: np.ndarray) -> float:
    """Relative per-pupil spending gap: 1 - mean(high-minority schools) / mean(low-minority schools).

    Positive when high-minority schools get less. Unitless share (0.05 = 5% less).
    """
    return 1.0 - weighted_mean(spend, students, high) / weighted_mean(spend, students, low)


def adequacy_gap(spend_ratio: np.ndarray, students: np.ndarray, level) -> float:
    """Share of students in units whose spending is below `level` x their state mean (`level`: one
    number or each unit's own costed-out level).

    `spend_ratio` is each unit's per-pupil spending divided by its state's mean. Share, 0-1.
    """
    tot = students.sum()
    return float(students[spend_ratio < level].sum() / tot) if tot > 0 else 0.0


def mean_gap(values: np.ndarray, students: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Mean of `values` in low-minority units minus in high-minority units (units of values)."""
    return weighted_mean(values, students, low) - weighted_mean(values, students, high)


def rate(events: np.ndarray, students: np.ndarray) -> float:
    """Pooled rate: total events / total students (share)."""
    s = students.sum()
    return float(events.sum() / s) if s > 0 else 0.0


def risk_ratio(events_a: np.ndarray, students_a: np.ndarray, events_b: np.ndarray, students_b: np.ndarray) -> float:
    """Ratio of pooled rates, a over b (e.g. Black/white suspension risk ratio). Unitless."""
    rb = rate(events_b, students_b)
    return rate(events_a, students_a) / rb if rb > 0 else float("nan")


def relative_gap(rate_focal: float, rate_reference: float) -> float:
    """1 - focal/reference: how far the focal group's rate falls short (share; 0 = parity)."""
    return 1.0 - rate_focal / rate_reference if rate_reference > 0 else float("nan")
