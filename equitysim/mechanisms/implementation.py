"""Implementation (the roadmap's program timelines; risk "implementation failure"; the guide's
pitfalls "weak fidelity wastes a good design" and "constant change burns staff out"; its Step 3
"Implement with Fidelity and Flexibility" and the low buy-in variation, with cycle.py).

A program starts in planning (or past the pilot when the strategy skips pilots) at a fidelity
set by capacity and the prerequisites, advances phase by phase (weak programs stall), its
fidelity drifts toward what capacity, prerequisites, plan support, technical assistance, burnout
and leadership attention (more initiatives at once, less for each) allow, burnout
grows with concurrent programs, and it fails with a hazard that falls with capacity, fidelity,
technical assistance and pilots. A district with low buy-in starts as a volunteer pilot whatever
the strategy (guide: "start with a pilot program that involves volunteers"). The fidelity target
also carries the district's frontline-feedback loop and the program's fit to its gap, staff
turnover takes part of fidelity, and the strategy's burnout mitigations slow burnout
(cycle.py).

Reads: burnout_rate, implementation_failure_rate, ta_failure_reduction, pilot_failure_reduction,
start_fidelity_prepared, start_fidelity_unprepared, stall_fidelity, stall_prob, rush_base,
rush_per_pacing, fidelity_unprepared_share, burnout_fidelity_cut, fidelity_adjustment,
burnout_recovery_idle, burnout_recovery, no_pilot_failure_increase, failure_capacity_offset,
failure_fidelity_offset, ta_strategy_weight, pacing_risk_offset, ta_fidelity_gain, attention_cost,
low_buy_in_threshold.
"""

from __future__ import annotations

import numpy as np

from ..numerics import DT, clip, hazard, nonzero
from . import cycle


def start_cells(m, d: np.ndarray, k: np.ndarray) -> None:
    """Start program k[i] in district d[i] (cells not already active). Without the guide's
    prerequisites a district adopts on paper, at low fidelity."""
    if not len(d):
        return
    par, dist, table = m.par, m.district_arrays, m.program_table
    low = dist.buy_in[d] < par.low_buy_in_threshold   # volunteer pilot first, then data
    ph = np.where(low, 0, table.start_phase[k])
    pilot = low | m.spec.strategy.pilot_first
    fid = m.quarter_capacity.at(d) * np.where(dist.prerequisites[d], par.start_fidelity_prepared, par.start_fidelity_unprepared)
    m.cells.append(d, k, ph, fid, pilot, cycle.cuts_at(m, k, d), m.quarter, cycle.root_cause_found(m, k, d))
    dist.running[k, d] = True
    dist.phase[k, d] = ph
    dist.reached[k, d] = np.maximum(dist.reached[k, d], ph)
    m.outcome_counts["started"] += np.bincount(k, minlength=len(m.programs))


def end_cells(m, pos: np.ndarray, reason: str) -> None:
    """End the active cells at positions `pos` (removed from the cells by their next compact())."""
    if not len(pos):
        return
    cells, dist = m.cells, m.district_arrays
    d, k = cells.district[pos], cells.program[pos]
    cells.dead[pos] = True
    dist.running[k, d] = False
    dist.ended_quarter[k, d] = m.quarter
    n = np.bincount(k, minlength=len(m.programs))
    m.outcome_counts[reason] = m.outcome_counts.get(reason, 0) + n


def advance_phases(m, g: np.random.Generator) -> None:
    """Programs that have spent their phase's quarters move to the next phase; a weak one
    (fidelity below `stall_fidelity`) stalls with `stall_prob`."""
    par, cells, table, dist = m.par, m.cells, m.program_table, m.district_arrays
    cells.quarters_in_phase += 1
    due = (cells.quarters_in_phase >= table.quarters_of(cells.program, cells.phase)) & (cells.phase < table.final_phase[cells.program])
    weak = nonzero(due & (cells.fidelity < par.stall_fidelity))
    due[weak[g.random(len(weak)) < par.stall_prob]] = False   # stalled
    adv = nonzero(due)
    if len(adv):
        cells.phase[adv] += 1
        cells.quarters_in_phase[adv] = 0
        dk, kk, ph = cells.district[adv], cells.program[adv], cells.phase[adv]
        dist.phase[kk, dk] = ph
        dist.reached[kk, dk] = np.maximum(dist.reached[kk, dk], ph)


def fidelity_and_burnout(m) -> np.ndarray:
    """Fidelity drifts toward what capacity, prerequisites and support allow, less what fast
    pacing and burnout take; burnout grows with concurrent programs and recovers slowly.
    Returns each active cell's capacity this quarter (read by `failures`)."""
    par, cells, dist = m.par, m.cells, m.district_arrays
    strat = m.spec.strategy
    rushed = par.rush_base - par.rush_per_pacing * strat.pacing   # less time for training and design
    d = cells.district
    cell_capacity = m.quarter_capacity.at(d)
    n_active = np.bincount(d, minlength=m.world.n_districts)
    attention = 1 + par.attention_cost * np.maximum(n_active[d] - 1, 0)   # limited leadership attention
    feedback, turnover_loss = cycle.feedback_and_turnover(m)
    target = (cell_capacity * np.where(dist.prerequisites[d], 1.0, par.fidelity_unprepared_share) * rushed
              * (1 + m.support("fidelity")) * (1 + par.ta_fidelity_gain * technical_assistance(m, d))
              * (1 - par.burnout_fidelity_cut * dist.burnout[d]) / attention * feedback)
    cells.fidelity += (clip(target, 0, 1) - cells.fidelity) * par.fidelity_adjustment
    cells.fidelity *= 1 - turnover_loss
    cells.quarters_reached += m.cells_coverage() > 0
    growth, extra_recovery = cycle.burnout_terms(m)
    dist.burnout += (par.burnout_rate * growth * n_active - par.burnout_recovery_idle * (n_active == 0) - par.burnout_recovery
                     - extra_recovery * (n_active > 0)) * DT
    clip(dist.burnout, 0, 1, out=dist.burnout)
    return cell_capacity


def technical_assistance(m, d: np.ndarray) -> np.ndarray:
    """Technical assistance (0-1) districts `d` get: the strategy's, federal and plan TA, and
    their state's (e.g. independent commissions)."""
    par = m.par
    state = m.state_effects_now().channels.get("ta", np.zeros(m.n_states))
    national = m.spec.strategy.technical_assistance * par.ta_strategy_weight + m.federal_channel("ta") + m.support("ta")
    return np.minimum(1.0, national + state)[m.world.d_state[d]]   # per state, then to districts


def failures(m, u: np.ndarray, lo, cell_capacity: np.ndarray) -> np.ndarray:
    """Programs fail with a hazard that falls with capacity, fidelity, technical assistance and
    starting as a pilot, and rises with pacing and burnout. Competing risk on each active
    program's uniform `u` (claims [lo, lo + hazard)); returns the new `lo`."""
    par, cells, dist = m.par, m.cells, m.district_arrays
    strat = m.spec.strategy
    ta = technical_assistance(m, cells.district)
    pilots = np.where(cells.pilot, par.pilot_failure_reduction, -par.no_pilot_failure_increase)
    rate = (par.implementation_failure_rate * (1 - par.ta_failure_reduction * ta)
            * (1 - pilots)
            * (par.pacing_risk_offset + strat.pacing)
            * (par.failure_capacity_offset - cell_capacity) * (par.failure_fidelity_offset - cells.fidelity)
            * (1 + dist.burnout[cells.district]))
    h = hazard(rate) * (cells.phase < m.program_table.final_phase[cells.program])
    fail = nonzero((u >= lo) & (u < lo + h))
    m.count("implementation_failures", len(fail))
    m.end_cells(fail, "failed")
    return lo + h
