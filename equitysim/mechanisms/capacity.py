"""District capacity: the guide's three constraints (budget, time, buy-in) and its
prerequisites (shared language, data and listening, institutional commitment).

Capacity (0-1) = cube root of budget x time x buy-in, where budget is the district's budget
factor times this quarter's (recession, strategy budget, new formula money: the roadmap's
"layer complementary reforms"), time is 1 - burnout and buy-in the
district's, times the strategy's buy-in multiplier. Inputs are fixed at the start of the
district stage, so every use within the quarter sees the same capacity.

Reads: community_support_buy_in_gain, prerequisite_gain_per_support, capacity_time_min,
capacity_buy_in_min, budget_spending_elasticity (and through funding.py the budget parameters, through
enrollment.py the lost enrollment's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import bernoulli_subset, clip
from . import enrollment, funding

CONSTRAINTS = 3   # budget, time, buy-in: capacity is their geometric mean


@dataclass
class QuarterCapacity:
    """This quarter's capacity inputs (set by `fix_for_quarter`)."""

    log_budget: np.ndarray          # (n_d,) log of the districts' budget factors (world-fixed)
    budget_min: float
    budget_max: float
    log_factor: np.ndarray | None = None   # (n_d,) log of this quarter's budget multiplier
    burnout: np.ndarray | None = None
    buy_in: np.ndarray | None = None
    buy_in_multiplier: float = 1.0
    time_min: float = 0.0
    buy_in_min: float = 0.0

    def log_at(self, d) -> np.ndarray:
        """log of `at(d)`."""
        time = clip(1 - self.burnout[d], self.time_min, 1)
        buy = clip(self.buy_in[d] * self.buy_in_multiplier, self.buy_in_min, 1)
        return (self.log_budget[d] + self.log_factor[d] + np.log(time * buy)) / CONSTRAINTS

    def at(self, d) -> np.ndarray:
        """Capacity (0-1) of districts `d` this quarter."""
        return np.exp(self.log_at(d))

    def range(self) -> tuple[float, float]:
        """Bounds on this quarter's capacity over all districts."""
        budget = self.log_budget + self.log_factor
        lowest = float(budget.min()) + np.log(self.time_min * self.buy_in_min)
        return (float(np.exp(lowest / CONSTRAINTS)), float(np.exp(float(budget.max()) / CONSTRAINTS)))


def community_support(m) -> None:
    """Plan support for community support raises buy-in by `community_support_buy_in_gain` a
    quarter per unit."""
    support = m.support("community_support")
    if support:
        dist = m.district_arrays
        clip(dist.buy_in + support * m.par.community_support_buy_in_gain, 0, 1, out=dist.buy_in)


def fix_for_quarter(m) -> None:
    """Fix this quarter's capacity inputs: the budget factor (recession, strategy budget, and
    the money school-finance reform has brought: spending now over baseline, to the power
    `budget_spending_elasticity`) and the current burnout and buy-in."""
    cap, dist, par = m.quarter_capacity, m.district_arrays, m.par
    factor = funding.district_budget_factor(m)
    reform = np.log(funding.district_spending_ratio(m) / (1 + m.world.d_spend_tilt)) * par.budget_spending_elasticity
    # families who left over integration took their per-pupil funding with them
    cap.log_factor = (np.log(factor) if factor > 0 else -np.inf) + reform + enrollment.budget_log_factor(m)
    cap.burnout = dist.burnout.copy()
    cap.buy_in = dist.buy_in.copy()
    cap.buy_in_multiplier = m.spec.strategy.buy_in_multiplier
    cap.time_min, cap.buy_in_min = par.capacity_time_min, par.capacity_buy_in_min


def build_prerequisites(m, g: np.random.Generator) -> None:
    """Each district without the prerequisites gains them with probability
    `prerequisite_gain_per_support` x plan support this quarter."""
    ps = min(m.support("prerequisites") * m.par.prerequisite_gain_per_support, 1.0)
    if ps > 0:
        m.district_arrays.prerequisites[bernoulli_subset(np.arange(m.world.n_districts), ps, g)] = True
