"""Political backlash (roadmap risk table: "political backlash"; first principle "avoid
backlash triggers"; mitigation: broad coalitions, opposition management, locks against repeal).

Visible moves raise a state's backlash hazard: state policies by their backlash weight, district
programs by how much of the state's diverse districts they reach; fast pacing raises it and
coalition breadth damps it. A backlash event hits the state's climate (a shock that fades), its
coalition's strength and its government's political capital, may repeal unlocked contested
policies, reverses or stalls visible district programs, and recruits organised opposition (the
stock gains `backlash_opposition_gain` of its remaining room); organised opposition (opposition.py)
makes all of it likelier, constituencies (constituencies.py) make repeal rarer. Hostile
governments repeal unlocked policies on their own.

Reads: backlash_rate, backlash_coalition_damping, backlash_repeal_prob, backlash_reversal_share,
hostile_repeal_prob, climate_shock_decay, backlash_climate_hit, backlash_strength_keep,
backlash_policy_visibility_weight, backlash_program_visibility_weight, backlash_visibility_max,
backlash_visibility_support_floor, pacing_risk_offset, backlash_damping_max,
backlash_repeal_min_weight, backlash_repeal_cut_max, rooted_fidelity,
backlash_stall_fidelity_keep, hostile_climate, backlash_opposition_gain.
"""

from __future__ import annotations

import numpy as np

from ..numerics import clip, hazard, nonzero, pick_index
from . import capital, constituencies, opposition


def fade(m) -> None:
    """Backlash's hit to the climate fades by `climate_shock_decay` a quarter."""
    m.state_arrays.climate_shock *= m.par.climate_shock_decay


def visibility(m) -> np.ndarray:
    """(n_s,) how visible the campaign is in each state: contested policies in force plus the
    coverage of visible programs per diverse district, capped, times plan support."""
    par, w, cells, effects = m.par, m.world, m.cells, m.state_effects_now()
    vis_policy = m.state_arrays.policy_on @ effects.policy_backlash
    vis_prog = np.bincount(w.d_state[cells.district], weights=m.cells_coverage() * m.program_table.visible[cells.program],
                           minlength=m.n_states)
    vis = clip(vis_policy * par.backlash_policy_visibility_weight
               + vis_prog / m.fixed.diverse_by_state * par.backlash_program_visibility_weight, 0, par.backlash_visibility_max)
    vis *= max(par.backlash_visibility_support_floor, 1 + m.support("visibility"))
    return vis


def state_backlash(m, u_event: np.ndarray, u_repeal: np.ndarray) -> None:
    """Backlash in each state with hazard backlash_rate x visibility x pacing x (1 - damping).
    `u_event`: (n_s,) uniforms; `u_repeal`: (n_s, n_p)."""
    par, w, q = m.par, m.world, m.quarter
    states, coal, cells = m.state_arrays, m.coalition_arrays, m.cells
    pacing = par.pacing_risk_offset + m.spec.strategy.pacing
    damping = 1 - clip(par.backlash_coalition_damping * coal.breadth[:-1] + m.support("backlash_damping"),
                       0, par.backlash_damping_max)
    hit = u_event < hazard(par.backlash_rate * visibility(m) * pacing * damping * opposition.backlash_multiplier(m))
    if not hit.any():
        return
    m.count("backlash_events", int(hit.sum()))
    states.climate_shock[hit] -= par.backlash_climate_hit
    coal.strength[:-1][hit] *= par.backlash_strength_keep
    capital.backlash_hit(m, hit)
    against = opposition.repeal_multiplier(m)
    # Unlocked, contested state policies may be repealed.
    effects = m.state_effects_now()
    repeal_p = (par.backlash_repeal_prob * (1 - min(m.support("backlash_repeal_cut"), par.backlash_repeal_cut_max))
                * against / constituencies.repeal_divisor(m))
    repeal = (hit[:, None] & states.policy_on & (effects.policy_backlash[None, :] >= par.backlash_repeal_min_weight)
              & ~effects.locked & (u_repeal < repeal_p[:, None]))
    states.policy_on &= ~repeal
    # Visible district programs in the state stall or reverse: each active program in a hit
    # state reverses with probability `backlash_reversal_share` x its visibility.
    i = nonzero(hit[w.d_state[cells.district]])
    reversal = par.backlash_reversal_share * against[w.d_state[cells.district[i]]]
    rev = i[m.rng_cond.random(len(i)) < reversal * m.program_table.visible[cells.program[i]]]
    weak = cells.fidelity[rev] < par.rooted_fidelity
    m.end_cells(rev[weak], "reversed")                       # weakly rooted programs are reversed
    cells.fidelity[rev[~weak]] *= par.backlash_stall_fidelity_keep   # the rest stall
    cells.compact()
    # The event recruits: organised opposition gains a share of its remaining room.
    states.opposition[hit] += par.backlash_opposition_gain * (1 - states.opposition[hit])


def hostile_repeal(m, u: np.ndarray) -> None:
    """A hostile state government (climate below `hostile_climate`) repeals one unlocked policy
    a year with `hostile_repeal_prob`. `u`: (n_s,) uniforms."""
    states = m.state_arrays
    hostile = states.climate < m.par.hostile_climate
    if not hostile.any():
        return
    unlocked = states.policy_on & ~m.state_effects_now().locked
    pick = hostile & unlocked.any(1) & (u < hazard(m.par.hostile_repeal_prob) / constituencies.repeal_divisor(m))
    for s in nonzero(pick):
        js = nonzero(unlocked[s])
        states.policy_on[s, js[pick_index(u[s], len(js))]] = False
