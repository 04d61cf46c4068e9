"""Two-sample comparison of replication records (fast model vs reference, or any two samples).

Every indicator (met or not: Fisher's exact test), every indicator value, year-10 metric and
risk count and practitioner's-cycle count or mean (two-sample Kolmogorov-Smirnov test) is tested; the samples are "indistinguishable"
when no test rejects at a Bonferroni-corrected level, family-wise `alpha` (default 0.01).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

PREFIXES = ("met.", "value.", "metric.", "risk.", "district.", "adapt.", "adapt_fires.")  # adapt*: adaptive plans only


def compare(a: pd.DataFrame, b: pd.DataFrame, alpha: float = 0.01) -> pd.DataFrame:
    """One row per quantity: mean in a and b, the test, its p-value, and whether it rejects at
    alpha / (number of tests)."""
    cols = [c for c in a.columns if c.startswith(PREFIXES) and c in b.columns]
    rows = []
    for c in cols:
        x, y = a[c].astype(float).dropna().to_numpy(), b[c].astype(float).dropna().to_numpy()
        if c.startswith("met."):
            kx, ky = int(x.sum()), int(y.sum())
            p = stats.fisher_exact([[kx, len(x) - kx], [ky, len(y) - ky]])[1]
            test = "fisher"
        elif len(x) and len(y) and (np.ptp(x) > 0 or np.ptp(y) > 0 or x[0] != y[0]):
            p = stats.ks_2samp(x, y).pvalue
            test = "ks"
        else:   # both constant and equal (or empty): nothing to test
            p, test = 1.0, "equal"
        rows.append({"quantity": c, "mean_a": x.mean() if len(x) else math.nan,
                     "mean_b": y.mean() if len(y) else math.nan, "test": test, "p": float(p)})
    out = pd.DataFrame(rows)
    out["reject"] = out["p"] < alpha / max(len(out), 1)
    return out
