"""What a run needs that depends only on the world, the catalogue and a few parameters: built
once and shared by every replication on the same world.

`FixedInputs` lists the parameters these arrays depend on and is the cache key; `Fixed` reads
parameters only through it, so a new dependency cannot be forgotten in the key (reading a
parameter it does not list is an AttributeError).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from . import caches
from .aggregates import school_sums, with_baseline
from .numerics import TINY
from .world import BLACK, HISPANIC, World

# Adoption candidates are drawn per stratum of similar size multiplier (sampling tuning, not
# behaviour): multipliers within a stratum differ by at most STRATUM_RATIO, strata hold at
# least STRATUM_MIN districts.
STRATUM_RATIO = 4.0
STRATUM_MIN = 100


@dataclass(frozen=True)
class FixedInputs:
    """The parameters `Fixed` depends on (see the registry for units and sources)."""

    size_adoption_elasticity: float
    district_cost_medium_enrollment: float
    district_cost_size_min: float
    district_cost_size_max: float
    background_restorative_rate: float
    background_integration_rate: float
    budget_base: float
    budget_tilt_slope: float
    budget_min: float
    budget_max: float

    @classmethod
    def of(cls, par) -> "FixedInputs":
        """The inputs, read from the typed parameter values."""
        return cls(**{f.name: getattr(par, f.name) for f in fields(cls)})


def program_eligibility(w: World, programs) -> np.ndarray:
    """(n_k, n_d) bool: districts where each program can run (controlled choice needs a diverse
    district, an interdistrict program another district in the region, teacher assignment two
    or more schools)."""
    eligible = np.ones((len(programs), w.n_districts), bool)
    for k, pr in enumerate(programs):
        if pr.channel == "segregation":
            eligible[k] = w.d_diverse
        elif pr.channel == "interdistrict":
            eligible[k] = w.d_mixed_region
        elif pr.channel == "teacher_gap":
            eligible[k] = w.d_nschools >= 2
    return eligible


def adoption_strata(eligible: np.ndarray, size_mult_by_program: list) -> list:
    """Per program, its eligible districts in strata of similar size multiplier, largest
    first: a list of (pool, largest multiplier) per program."""
    strata = []
    for k in range(len(eligible)):
        pool = np.flatnonzero(eligible[k])
        sm = size_mult_by_program[k][pool]
        pool, sm = pool[np.argsort(-sm, kind="stable")], np.sort(sm)[::-1]
        out = []
        i = 0
        while i < len(pool):
            j = max(int(np.searchsorted(-sm, -sm[i] / STRATUM_RATIO, side="right")), i + STRATUM_MIN)
            if len(pool) - j < STRATUM_MIN:
                j = len(pool)
            out.append((pool[i:j], float(sm[i])))
            i = j
        strata.append(out)
    return strata


class Fixed:
    """World-derived arrays: district budgets and cost multipliers, program eligibility and
    adoption strata, state and region aggregates, and the school sums of aggregates.py."""

    def __init__(self, w: World, programs, base_cost: np.ndarray, fx: FixedInputs):
        n_d = w.n_districts
        self.budget_base = np.clip(fx.budget_base + w.d_spend_tilt * fx.budget_tilt_slope, fx.budget_min, fx.budget_max)
        self.budget_min, self.budget_max = float(self.budget_base.min()), float(self.budget_base.max())
        self.log_budget = np.log(self.budget_base)
        self.region_n = np.bincount(w.d_region, minlength=w.n_regions).astype(float)
        self.region_inv = 1 / self.region_n
        eligible = program_eligibility(w, programs)
        self.eligible_by_program = eligible
        self.diverse_by_state = np.maximum(np.bincount(w.d_state, weights=eligible.any(0), minlength=w.n_states), 1)
        # Larger districts have the central-office capacity integration plans need.
        self.size_mult = (w.d_enroll / np.median(w.d_enroll)) ** fx.size_adoption_elasticity
        ones = np.ones(n_d)
        self.family = np.array([0 if pr.family == "integration" else 1 for pr in programs])
        size_mult_k = [self.size_mult if f == 0 else ones for f in self.family]
        self.size_mult_by_program = np.stack(size_mult_k)
        self.size_cost = np.clip(w.d_enroll / fx.district_cost_medium_enrollment, fx.district_cost_size_min,
                                 fx.district_cost_size_max)
        self.base_cost = base_cost
        bg = {"restorative": fx.background_restorative_rate, "controlled_choice": fx.background_integration_rate}
        self.background_rate = np.array([bg.get(pr.id, 0.0) for pr in programs])
        # the adoption strata as flat arrays: program, pool size, largest size multiplier, pool
        flat = [(k, len(pool), sm, pool) for k, st in enumerate(adoption_strata(eligible, size_mult_k))
                for pool, sm in st]
        self.stratum_program = np.array([x[0] for x in flat], int)
        self.stratum_n = np.array([x[1] for x in flat], int)
        self.stratum_size = np.array([x[2] for x in flat])
        self.strata_pool = [x[3] for x in flat]
        self.stratum_family = self.family[self.stratum_program]
        d_min = w.d_share[:, BLACK] + w.d_share[:, HISPANIC]
        self.state_enroll = np.bincount(w.d_state, weights=w.d_enroll, minlength=w.n_states)
        self.total_enroll = float(w.d_enroll.sum())
        self.state_minority_share = np.bincount(w.d_state, weights=w.d_enroll * d_min) / self.state_enroll
        tot = np.bincount(w.d_region, weights=w.d_enroll, minlength=w.n_regions)
        self.region_share = np.stack([np.bincount(w.d_region, weights=w.d_enroll * w.d_share[:, g], minlength=w.n_regions)
                                      for g in range(4)], 1) / tot[:, None]
        self.district_share_T = np.ascontiguousarray(w.d_share.T)
        self.region_minus_district_T = np.ascontiguousarray((self.region_share[w.d_region] - w.d_share).T)
        self.district_minority_share = d_min
        self.n_neighbours = np.maximum(w.adjacency.sum(1), 1)
        self.adjacency_share = w.adjacency / self.n_neighbours[:, None]
        self.sums = with_baseline(school_sums(w), w)
        self.exposure0 = self.sums.base["X"] / np.maximum(self.sums.base["B"] + self.sums.base["H"], TINY)

    @classmethod
    def get(cls, w: World, programs, base_cost: np.ndarray, par) -> "Fixed":
        """The cached Fixed of this world for these programs, costs and parameters."""
        fx = FixedInputs.of(par)
        key = (fx, tuple(pr.id for pr in programs), base_cost.tobytes())
        cache = caches.for_world(w, "fixed")
        if key not in cache:
            cache[key] = cls(w, programs, base_cost, fx)
        return cache[key]
