"""Small numerical helpers the mechanisms share: time units, hazards, clipping, sampling.

Nothing here is behaviour: the numbers below are units (a quarter is a quarter of a year) or
tuning of the sampling algorithms (how many draws to make at once), not beliefs about the world.
Behavioural numbers live in the parameter registry (`data/parameters.toml`).
"""

from __future__ import annotations

import numpy as np

DT = 0.25               # years per step (one quarter)
QUARTERS_PER_YEAR = 4
PERCENT = 100           # shares to percentage points
TINY = 1e-300           # guards a division by an empty group
# Units of the registry's effect sizes (see each parameter's unit): spending effects are per 10%
# more spending; graduation effects accrue over 12 school years; integration and course-access
# effects over the roadmap's 10 years.
SPENDING_STEP = 0.1
SCHOOL_YEARS = 12
ROADMAP_YEARS = 10


def hazard(rate_per_year):
    """Probability (0-1) of an event within one quarter at a constant `rate_per_year`
    (negative rates count as 0): 1 - exp(-rate x DT)."""
    return 1.0 - np.exp(-np.maximum(rate_per_year, 0.0) * DT)


def nonzero(mask: np.ndarray) -> np.ndarray:
    """Indices where a 1-D mask is true (np.flatnonzero without its wrappers)."""
    return mask.nonzero()[0]


def clip(x, lo, hi, out=None):
    """np.clip without its Python-level overhead (it matters for 51-element arrays)."""
    return np.minimum(np.maximum(x, lo, out=out), hi, out=out)


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of products of two vectors, without BLAS (whose threads stall on a busy machine)."""
    return float(np.einsum("i,i->", a, b))


def pick_index(u: float, n: int) -> int:
    """One of 0..n-1 chosen by the uniform `u` (digits of u past the first six; keeps the
    event draw `u < p` and this choice from one number, as the reference does)."""
    return int(u * 1e6) % n


def bernoulli_subset(pool: np.ndarray, p: float, g: np.random.Generator) -> np.ndarray:
    """Each element of `pool` independently with probability p (by geometric gaps: the cost is
    the number drawn, not the size of the pool)."""
    n = len(pool)
    if p >= 1:
        return pool.copy()
    mean = n * p
    pos = np.cumsum(g.geometric(p, int(mean + 4 * mean ** 0.5 + 16)))
    while pos[-1] <= n:
        pos = np.concatenate([pos, pos[-1] + np.cumsum(g.geometric(p, int(mean / 4) + 16))])
    return pool[pos[pos <= n] - 1]


class LazySample:
    """A uniformly random subset of `n` elements of `pool`, drawn lazily in random order:
    `take(c)` returns the next c (the first c of a uniformly random permutation of the subset)."""

    def __init__(self, pool: np.ndarray, n: int, g: np.random.Generator):
        self.pool, self.n, self.g, self.used = pool, n, g, None

    def take(self, c: int) -> np.ndarray:
        g, pool = self.g, self.pool
        if self.used is None:   # the first take: a uniform sample in random order
            out = g.choice(len(pool), c, replace=False)
            if c < self.n:
                self.used = np.zeros(len(pool), bool)
                self.used[out] = True
            return pool[out]
        parts, got = [], 0      # later: uniform among those not yet taken
        while got < c:
            x = g.choice(len(pool), min(len(pool), 2 * (c - got) + 16), replace=False)
            x = x[~self.used[x]][:c - got]
            self.used[x] = True
            parts.append(x)
            got += len(x)
        return pool[np.concatenate(parts)]
