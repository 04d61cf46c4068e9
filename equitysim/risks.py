"""The five stochastic risks and their mitigations, as vectorised hazards.

Each function takes the model and pre-drawn uniforms and records events in `model.counts`.
State-level draws come in fixed-size blocks, so that every scenario consumes the same random
numbers each quarter (common random numbers across scenarios). District-level risks act on the
active programs (`model.cells`) and are competing: they share one uniform per active program and
each claims the slice [lo, lo + hazard) of it, returning the new `lo`; the programs they end are
removed from the active list after the last of them. Draws that depend on an event having
happened (was a challenged plan struck down?) come from a separate stream, `rng_cond`.

| risk                   | raised by                                      | mitigation lever (scenario)            |
|------------------------|------------------------------------------------|----------------------------------------|
| political backlash     | visible integration moves, fast pacing,        | coalition breadth, opposition          |
|                        | narrow coalitions                              | management, locks against repeal       |
| leadership change      | superintendent turnover, elections             | institutionalisation, locks in law     |
|                        | (in agents.py, where the elections are held)   |                                        |
| funding cuts           | recessions                                     | funding diversification, equity as lens|
| court challenges       | race-conscious designs                         | legal_design = "within_law", guidance  |
| implementation failure | low capacity and fidelity, burnout             | technical assistance, pilots first     |
"""

from __future__ import annotations

import numpy as np

DT = 0.25


def _nz(mask: np.ndarray) -> np.ndarray:
    """Indices where a 1-D mask is true (np.flatnonzero without its wrappers)."""
    return mask.nonzero()[0]


def clip(x, lo, hi, out=None):
    """np.clip without its Python-level overhead (it matters for 51-element arrays)."""
    return np.minimum(np.maximum(x, lo, out=out), hi, out=out)


def _hazard(rate_per_year):
    return 1.0 - np.exp(-np.maximum(rate_per_year, 0.0) * DT)


def recession_step(m, u: float) -> None:
    """National business cycle: a recession starts with `recession_prob` a year and lasts
    `recession_length` quarters; a named stress event forces one."""
    p = m.p
    if m.recession_left > 0:
        m.recession_left -= 1
    elif u < _hazard(p["recession_prob"]) or m.event_now("recession"):
        m.recession_left = int(round(p["recession_length"]))
        m.count("recessions")


def state_backlash(m, u_event, u_repeal) -> None:
    """Backlash in a state: hazard ~ visibility x pacing x (1 - coalition damping)."""
    p, w = m.p, m.world
    strat = m.spec.strategy
    c = m.cells
    vis_policy = m.st_on @ m.policy_backlash
    vis_prog = np.bincount(w.d_state[c.d], weights=m.cells_coverage() * m.program_visible[c.k], minlength=m.n_states)
    visibility = clip(vis_policy * 0.3 + vis_prog / m.fixed.diverse_by_state * 4, 0, 3)
    visibility *= max(0.2, 1 + m.plan.support_at("visibility", m.quarter))
    pacing = 0.5 + strat.pacing
    damping = 1 - clip(p["backlash_coalition_damping"] * m.coal_breadth[:-1]
                          + m.plan.support_at("backlash_damping", m.quarter), 0, 0.95)
    hit = u_event < _hazard(p["backlash_rate"] * visibility * pacing * damping)
    if not hit.any():
        return
    m.count("backlash_events", int(hit.sum()))
    m.climate_shock[hit] -= 0.2
    m.coal_strength[:-1][hit] *= 0.8
    # Unlocked, visible state policies may be repealed.
    repeal_p = p["backlash_repeal_prob"] * (1 - min(m.plan.support_at("backlash_repeal_cut", m.quarter), 0.9))
    repeal = hit[:, None] & m.st_on & (m.policy_backlash[None, :] >= 0.3) & ~m.locked() & (u_repeal < repeal_p)
    m.st_on &= ~repeal
    # Visible district programs in the state stall or reverse: each active program in a hit
    # state reverses with probability `backlash_reversal_share` x its visibility.
    i = _nz(hit[w.d_state[c.d]])
    rev = i[m.rng_cond.random(len(i)) < p["backlash_reversal_share"] * m.program_visible[c.k[i]]]
    weak = c.fid[rev] < 0.5
    m.end_cells(rev[weak], "reversed")  # weakly rooted programs are reversed
    c.fid[rev[~weak]] *= 0.6             # the rest stall
    c.compact()


def hostile_repeal(m, u) -> None:
    """A hostile government repeals one unlocked policy a year with `hostile_repeal_prob`."""
    hostile = m.climate < 0.35
    if not hostile.any():
        return
    unlocked = m.st_on & ~m.locked()
    pick = hostile & unlocked.any(1) & (u < _hazard(m.p["hostile_repeal_prob"]))
    for s in _nz(pick):
        js = _nz(unlocked[s])
        m.st_on[s, js[int(u[s] * 1e6) % len(js)]] = False


def implementation_failure(m, u, lo=0.0):
    """Programs fail with a hazard that falls with capacity, fidelity, technical assistance
    and starting as a pilot, and rises with burnout. `u`: one uniform per active program."""
    p = m.p
    c = m.cells
    d, k = c.d, c.k
    strat = m.spec.strategy
    ta = min(1.0, strat.technical_assistance * 0.5 + m.fed_channel("ta") + m.plan.support_at("ta", m.quarter))
    rate = (p["implementation_failure_rate"] * (1 - p["ta_failure_reduction"] * ta)
            * (1 - (p["pilot_failure_reduction"] if strat.pilot_first else -0.3))
            * (0.5 + strat.pacing)
            * (1.6 - m.cell_capacity) * (1.4 - c.fid) * (1 + m.burnout[d]))
    h = _hazard(rate) * (c.phase < m.final_phase[k])
    fail = _nz((u >= lo) & (u < lo + h))
    m.count("implementation_failures", len(fail))
    m.end_cells(fail, "failed")
    return lo + h


def court_challenges(m, u, lo):
    """Integration programs are challenged; race-conscious designs are struck down far more
    often than race-neutral ones. Federal guidance on legal options lowers the odds."""
    p = m.p
    c = m.cells
    race = m.spec.strategy.legal_design == "race_conscious"
    rate = p["court_challenge_rate"] * (1.0 if race else 0.5)
    at_risk = m.race_conscious_possible[c.k] & (m.cells_coverage() > 0) & ~c.dead
    h = _hazard(rate) * at_risk
    challenged = (u >= lo) & (u < lo + h)
    if m.event_now("court_ruling"):
        challenged |= at_risk
    n = int(challenged.sum())
    if n:
        m.count("court_challenges", n)
        strike = p["court_strike_prob_race_conscious"] if race else p["court_strike_prob_within_law"]
        strike *= 1 - min(0.8, m.fed_channel("legal_clarity"))
        i = _nz(challenged)
        m.end_cells(i[m.rng_cond.random(n) < strike], "struck")
    return lo + h


def recession_cuts(m, u, lo):
    """During a recession, districts that run equity as a program (not a lens) cut programs;
    diversified funding softens it."""
    if not m.in_recession:
        return lo
    c = m.cells
    prob = m.p["recession_program_cut_prob"] * (1 - m.spec.strategy.funding_diversification)
    cut = _nz(~m.lens[c.d] & ~c.dead & (u >= lo) & (u < lo + prob))
    m.count("funding_cuts", len(cut))
    m.end_cells(cut, "cut")
    return lo + prob
