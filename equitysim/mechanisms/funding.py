"""Money (roadmap risk table: "funding cuts"; mitigation: diversified funding, equity as a lens).

The national business cycle; what each program family has to spend (local, state and federal
money, cut in recessions unless diversified); what a recession does to district budgets and to
programs run as a "program" rather than a lens; and the school-finance formulas that move
toward progressive and adequate spending while reforms are in force (adequate: each district's
costed-out level from the School Finance Indicators Database, equitysim/adequacy.py).

Reads: campaign_budget_musd, funding_reform_cost_musd, recession_federal_cut, federal_budget_musd,
recession_prob, recession_length, recession_budget_cut, recession_program_cut_prob,
local_integration_funds_musd, local_general_funds_musd, funding_reform_progressivity,
funding_reform_weight, adequacy_level, adequacy_margin, formula_decay_share,
positive_tilt_keep, comparability_adjustment, policy_channel_cap, budget_multiplier_cap,
budget_capacity_exponent.
"""

from __future__ import annotations

import numpy as np

from ..adequacy import required_ratio
from ..channels import FUNDING_POLICIES
from ..numerics import DT, clip, hazard, nonzero


def set_funding_reform_cost(m) -> None:
    """Funding equalisation costs real state dollars: the funding policies (weighted formula,
    adequacy standard, property-tax reform) cost `funding_reform_cost_musd` a year per state."""
    effects = m.state_effects
    for j, name in enumerate(m.policies):
        if name in FUNDING_POLICIES:
            effects.policy_cost[j] = max(effects.policy_cost[j], m.par.funding_reform_cost_musd)


def support_funding_share(m) -> float:
    """Share (0-1) of the support actions in force that the campaign's budget pays for this
    quarter (every support channel is scaled by it)."""
    cost = m.plan.cost_by_quarter[min(m.quarter, m.plan.n_q - 1)]
    budget = m.par.campaign_budget_musd * m.spec.strategy.budget_multiplier
    return 1.0 if cost <= budget else float(budget / cost)


def business_cycle(m, u: float) -> None:
    """A recession starts with `recession_prob` a year and lasts `recession_length` quarters;
    the 'recession' stress event forces one."""
    fed = m.federal_arrays
    if fed.recession_quarters_left > 0:
        fed.recession_quarters_left -= 1
    elif u < hazard(m.par.recession_prob) or m.event_now("recession"):
        fed.recession_quarters_left = int(round(m.par.recession_length))
        m.count("recessions")


def federal_recession_cuts(m) -> None:
    """In a recession the federal budget for the roadmap shrinks by `recession_federal_cut`; if
    the appropriations in force cost more, the unlocked ones are cut, the most expensive first."""
    fed, par = m.federal_arrays, m.par
    if not fed.in_recession or m.federal_channel("lock:federal") > 0:
        return
    budget = par.federal_budget_musd * m.spec.strategy.budget_multiplier * (1 - par.recession_federal_cut)
    for i in np.argsort(-fed.cost_musd, kind="stable"):
        if fed.cost_musd[fed.action_on].sum() <= budget:
            break
        if fed.action_on[i] and fed.kind[i] == "law" and fed.cost_musd[i] > 0:
            fed.action_on[i] = False
            m.count("funding_cuts")


def recession_budget_cut(m) -> float:
    """Share of district and local budgets cut this quarter (0 outside recessions)."""
    if not m.federal_arrays.in_recession:
        return 0.0
    return m.par.recession_budget_cut * (1 - m.spec.strategy.funding_diversification)


def district_budget_factor(m) -> float:
    """This quarter's multiplier of every district's budget: the recession cut and the
    strategy's budget multiplier (capped, with diminishing returns)."""
    par = m.par
    return (1 - recession_budget_cut(m)) * min(m.spec.strategy.budget_multiplier, par.budget_multiplier_cap) ** par.budget_capacity_exponent


def family_funds(m, family: str) -> float:
    """Money ($M a year, at the world's scale) available for a program family: local, state and
    federal, times the strategy's budget multiplier."""
    par = m.par
    local = par.local_integration_funds_musd if family == "integration" else par.local_general_funds_musd
    if m.federal_arrays.in_recession:
        local *= 1 - par.recession_budget_cut * (1 - m.spec.strategy.funding_diversification)
    state = float(m.state_effects_now().channels.get(f"funds:{family}", np.zeros(1)).sum())
    return (local + state + m.federal_channel(f"funds:{family}")) * m.spec.strategy.budget_multiplier * m.world.scale


def state_formulas(m) -> None:
    """Funding formulas move toward progressive and adequate while reforms are in force and fall
    back (at `formula_decay_share` of the speed) once repealed; comparability follows the
    within-district spending rules in force."""
    par, states = m.par, m.state_arrays
    ch = m.state_effects_now().channels
    rate = par.funding_reform_progressivity * DT
    decay = rate * par.formula_decay_share
    states.spending_progress += np.where(ch.get("spending_progressivity", 0) > 0, rate, -decay)
    states.adequacy_progress += np.where(ch.get("adequacy", 0) > 0, rate * np.minimum(ch.get("adequacy", 0), par.policy_channel_cap), -decay)
    comp = np.minimum(ch.get("within_district_spending", 0) + m.federal_channel("within_district_spending"), 1.0)
    states.comparability += (comp - states.comparability) * par.comparability_adjustment
    clip(states.spending_progress, 0, 1, out=states.spending_progress)
    clip(states.adequacy_progress, 0, 1, out=states.adequacy_progress)


def adequacy_required(m) -> np.ndarray:
    """(n_d,) spending each district needs to be adequate, relative to its state's baseline mean
    (SFID's costed-out level, equitysim/adequacy.py; `adequacy_level` where SFID has none)."""
    req = m.cache.get("adequacy_required")
    if req is None:
        req = m.cache["adequacy_required"] = required_ratio(m.world, m.par.adequacy_level)
    return req


def district_spending_ratio(m) -> np.ndarray:
    """(n_d,) per-pupil spending of each district relative to its state's baseline mean: the
    baseline tilt moved toward the progressive formula by the state's progress, and districts
    below their costed-out adequacy level raised toward it by the adequacy progress. Cached on the formula
    state it depends on."""
    states = m.state_arrays
    key = (states.spending_progress.tobytes(), states.adequacy_progress.tobytes())
    cached = m.cache.get("spending_ratio")
    if cached is not None and cached[0] == key:
        return cached[1]
    par, st = m.par, m.world.d_state
    parts = m.cache.get("spending_parts")
    if parts is None:   # fixed for the run: the baseline ratio and the way to the progressive one
        w, F = m.world, m.fixed
        tilt0 = w.d_spend_tilt
        progressive = (par.funding_reform_weight * (F.district_minority_share - F.state_minority_share[st])
                       + np.maximum(tilt0, 0) * par.positive_tilt_keep)
        floor = adequacy_required(m) + par.adequacy_margin   # costed-out, per district
        parts = m.cache["spending_parts"] = (1 + tilt0, progressive - tilt0, floor)
    baseline, to_progressive, floor = parts
    ratio = baseline + states.spending_progress[st] * to_progressive
    # districts below the floor move toward it; elsewhere the gap is 0 (no masked indexing: it
    # is five times slower on 13,000 districts)
    gap = floor - ratio
    np.maximum(gap, 0.0, out=gap)
    gap *= states.adequacy_progress[st]
    ratio += gap
    m.cache["spending_ratio"] = (key, ratio)
    return ratio


def recession_cuts(m, u: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """During a recession, districts that run equity as a program (not a lens) cut each program
    with `recession_program_cut_prob` (softened by diversified funding). Competing risk: claims
    [lo, lo + prob) of each active program's uniform `u`; returns the new `lo`."""
    if not m.federal_arrays.in_recession:
        return lo
    cells = m.cells
    prob = m.par.recession_program_cut_prob * (1 - m.spec.strategy.funding_diversification)
    cut = nonzero(~m.district_arrays.equity_as_lens[cells.district] & ~cells.dead & (u >= lo) & (u < lo + prob))
    m.count("funding_cuts", len(cut))
    m.end_cells(cut, "cut")
    return lo + prob
