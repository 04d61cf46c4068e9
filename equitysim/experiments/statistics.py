"""Statistics of a sweep's runs: P(met) per scenario and indicator with Wilson intervals and the
replications needed for a target precision (`summarize`), and paired differences against a
baseline scenario with Newcombe's interval (`compare`).

The Wilson score interval is `indicators.wilson_interval` (one implementation, in `indicators`);
`wilson_half_width` is its half-width at an observed proportion.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .. import indicators as _ind
from .spec import ExperimentError
from .store import ResultStore, read_runs

Z95 = _ind.Z95


def wilson_half_width(p: float, n: int, z: float = Z95) -> float:
    """Half the width of the Wilson score interval at observed proportion p (0-1) with n runs
    (`indicators.wilson_score`, before clipping to [0, 1])."""
    return _ind.wilson_score(p, n, z)[1]


def replications_needed(p: float, half_width: float = 0.02, z: float = Z95) -> int:
    """Smallest number of runs whose 95% Wilson interval, at the observed proportion p, has a
    half-width no wider than `half_width` (0.02 = 2 percentage points)."""
    if not (0 <= p <= 1) or not half_width > 0:
        raise ValueError("p in [0, 1] and half_width > 0")
    lo, hi = 1, 1
    while wilson_half_width(p, hi, z) > half_width:
        hi *= 2
    while lo < hi:  # the half-width falls as n grows
        mid = (lo + hi) // 2
        if wilson_half_width(p, mid, z) <= half_width:
            hi = mid
        else:
            lo = mid + 1
    return lo


def paired_difference_interval(a: int, b: int, c: int, d: int, z: float = Z95) -> tuple[float, float, float]:
    """Difference of two paired proportions and its 95% interval, by Newcombe's (1998) square-and-add
    method 10 (Wilson score intervals of both margins, combined with their estimated correlation).

    The paired table counts runs with the same key: a = met in both, b = met only in the first
    (the scenario), c = met only in the second (the baseline), d = met in neither. Returns
    (p1 - p2, lower, upper). Newcombe RG (1998), Improved confidence intervals for the difference
    between binomial proportions based on paired data, Statistics in Medicine 17:2635-2650.
    """
    n = a + b + c + d
    if n == 0:
        return float("nan"), -1.0, 1.0
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = _ind.wilson_interval(a + b, n, z)
    l2, u2 = _ind.wilson_interval(a + c, n, z)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    phi = 0.0
    if margins > 0:
        num = a * d - b * c
        # Newcombe's phi-hat: numerator shrunk by n/2 when positive, zero when between 0 and n/2
        num = num - n / 2 if num > n / 2 else (0.0 if num >= 0 else num)
        phi = num / math.sqrt(margins)
    dl1, du1, dl2, du2 = p1 - l1, u1 - p1, p2 - l2, u2 - p2
    lower = (p1 - p2) - math.sqrt(max(0.0, dl1 ** 2 - 2 * phi * dl1 * du2 + du2 ** 2))
    upper = (p1 - p2) + math.sqrt(max(0.0, du1 ** 2 - 2 * phi * du1 * dl2 + dl2 ** 2))
    return p1 - p2, max(-1.0, lower), min(1.0, upper)


def _met_columns(df: pd.DataFrame) -> list[str]:
    order = [f"met.{i.id}" for i in _ind.indicators()]
    return [c for c in order if c in df.columns]


def _load(results, columns=None) -> tuple[pd.DataFrame, list[str]]:
    if isinstance(results, pd.DataFrame):
        df = results
        names = list(dict.fromkeys(df["scenario"]))
    else:
        m = ResultStore(results).manifest()
        met = [f"met.{i.id}" for i in _ind.indicators()]
        drawn = "parameters" in m["identity"]["experiment"]   # runs drew from a posterior
        df = read_runs(results, met + list(columns or []) + (["parameter_row"] if drawn else []))
        names = m["scenarios"]
    return df, names


def summarize(results: str | Path | pd.DataFrame, half_width: float = 0.02) -> pd.DataFrame:
    """P(met) per scenario x indicator with a 95% Wilson interval, the number of runs `n`, and
    `n_needed`: the runs per scenario that would bring the interval's half-width under
    `half_width`, planned for the least favourable P(met) inside the current interval (the value
    nearest 0.5), so that a small pilot sweep does not under-promise; it converges to the figure
    at the observed P(met) as runs accumulate.

    Runs at different design points are pooled: P(met) is then the probability over the design's
    parameter distribution and the model's randomness. The Wilson interval treats runs as
    independent, which is exact with one design point (or one replication per point) and slightly
    optimistic when several replications share a point; runs that drew their parameters from a
    posterior (blocks of replications share a draw) get it at Kish's effective sample size.
    """
    df, names = _load(results)
    rows = []
    for s in names:
        sub = df[df["scenario"] == s]
        n = len(sub)
        for col in _met_columns(df):
            k = int(sub[col].sum())
            if "parameter_row" in sub.columns:   # blocks of replications share a posterior draw
                from ..posterior import blocked_interval
                lo, hi, _ = blocked_interval(sub[col].to_numpy(), sub["replication"].to_numpy())
            else:
                lo, hi = _ind.wilson_interval(k, n)
            p = k / n if n else float("nan")
            # plan for the least favourable P still inside the interval (the one nearest 0.5):
            # a pilot sweep's P = 0 out of 4 must not promise that 93 runs will do
            worst = min(max(0.5, lo), hi)
            rows.append({"scenario": s, "indicator": col[4:], "p_met": p, "ci_low": lo, "ci_high": hi,
                         "n": n, "n_needed": replications_needed(worst, half_width) if n else None})
    return pd.DataFrame(rows, columns=["scenario", "indicator", "p_met", "ci_low", "ci_high", "n", "n_needed"])


def compare(results: str | Path | pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Paired differences in P(met) between each scenario and `baseline`, per indicator.

    Runs are paired by their key (design point, replication): the same parameter values and the
    same random stream in both scenarios (common random numbers), so the difference is estimated
    with far less noise than from two independent samples. `diff` = P(met | scenario) -
    P(met | baseline) over the paired runs; the 95% interval is Newcombe's (1998) score-based
    interval for paired proportions (method 10, see `paired_difference_interval`). Also gives `n`
    (pairs), `p_scenario`, `p_baseline`, `only_scenario` and `only_baseline` (discordant pairs).

    When the runs drew their parameters from a posterior (blocks of `posterior.BLOCK`
    replications share a draw), pairs in a block are not independent: each interval is widened
    about the difference by the square root of the design effect over the blocks
    (`design_effect`, reported as `design_effect`; 1 for runs at fixed parameters).
    """
    df, names = _load(results)
    if baseline not in names:
        where = results if not isinstance(results, pd.DataFrame) else "results"
        raise ExperimentError(f"{where}: --baseline: expected one of the experiment's scenarios "
                              f"({', '.join(names)}), got {baseline!r}")
    met = _met_columns(df)
    keyed = df.set_index(["point", "replication"])
    base = keyed[keyed["scenario"] == baseline][met]
    rows = []
    for s in names:
        if s == baseline:
            continue
        other = keyed[keyed["scenario"] == s][met]
        x, y = other.align(base, join="inner", axis=0)
        n = len(x)
        clusters = None
        if "parameter_row" in df.columns:   # a replication block shares one draw, at every point
            from ..posterior import BLOCK, design_effect
            clusters = np.array([int(r) // BLOCK for _, r in x.index])
        for col in met:
            xs, ys = x[col].to_numpy(bool), y[col].to_numpy(bool)
            a, b = int((xs & ys).sum()), int((xs & ~ys).sum())
            c, d = int((~xs & ys).sum()), int((~xs & ~ys).sum())
            diff, lo, hi = paired_difference_interval(a, b, c, d)
            deff = 1.0 if clusters is None else design_effect(xs.astype(float) - ys.astype(float), clusters)
            if deff > 1.0:
                w = math.sqrt(deff)
                lo, hi = max(-1.0, diff - w * (diff - lo)), min(1.0, diff + w * (hi - diff))
            rows.append({"scenario": s, "indicator": col[4:], "diff": diff, "ci_low": lo, "ci_high": hi,
                         "n": n, "p_scenario": (a + b) / n if n else float("nan"),
                         "p_baseline": (a + c) / n if n else float("nan"),
                         "only_scenario": b, "only_baseline": c, "design_effect": deff})
    return pd.DataFrame(rows, columns=["scenario", "indicator", "diff", "ci_low", "ci_high", "n", "p_scenario",
                                       "p_baseline", "only_scenario", "only_baseline", "design_effect"])
