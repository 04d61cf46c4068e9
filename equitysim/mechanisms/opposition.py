"""Organised opposition (roadmap: "avoid backlash triggers", "sequence to minimize organized
opposition"; the opposition-management phases: build quietly, frame around shared values,
mobilize, lock in gains).

Per state, opposition (0-1) is a stock: it grows with the campaign's visibility (contested
policies in force, visible district programs, contested measures being pushed), faster with
fast pacing and race-conscious designs, damped by coalition breadth and the plan's opposition
management, and it decays slowly. It raises backlash, repeal, reversal and the odds that a
favourable government loses an election, and drags on adoption. The national opposition is the
enrollment-weighted mean of the states'.

Reads: opposition_growth, opposition_decay, opposition_push_weight, race_conscious_opposition,
opposition_backlash_weight, opposition_repeal_weight, opposition_electoral_weight,
opposition_drag, backlash_coalition_damping, backlash_damping_max, pacing_risk_offset.
"""

from __future__ import annotations

import numpy as np

from ..numerics import DT, clip
from . import adoption, backlash


def pushed_visibility(m) -> np.ndarray:
    """(n_s,) backlash weight x effort of the rows pushed in each state this quarter (state rows
    in their states until the policy is in force there, local rows in their states, support
    actions everywhere)."""
    par, q = m.par, m.quarter
    out = np.zeros(m.n_states)
    for R in (m.rows_state, m.rows_local):
        a = R.active_at(q)
        if len(a):
            w = R.backlash[a] * adoption.effort_multiplier(R.intensity[a] * m.pace, par)
            where = R.state_mask[a]
            if R is m.rows_state:   # an enacted policy is no longer a campaign there
                where = where & ~m.state_arrays.policy_on[:, R.index[a]].T
            out += w @ where
    out += m.plan.support_backlash_at(q)
    return par.opposition_push_weight * out


def grow(m) -> None:
    """One quarter of growth and decay of each state's opposition."""
    par, states, coal = m.par, m.state_arrays, m.coalition_arrays
    strat = m.spec.strategy
    O = states.opposition
    pacing = par.pacing_risk_offset + strat.pacing
    race = 1 + par.race_conscious_opposition * (strat.legal_design == "race_conscious")
    damping = 1 - clip(par.backlash_coalition_damping * coal.breadth[:-1] + m.support("backlash_damping"),
                       0, par.backlash_damping_max)
    drive = (backlash.visibility(m) + pushed_visibility(m)) * pacing * race * damping
    O += (par.opposition_growth * drive * (1 - O) - par.opposition_decay * O) * DT
    clip(O, 0, 1, out=O)


def national(m) -> float:
    """The national opposition: enrollment-weighted mean of the states'."""
    F = m.fixed
    return float(m.state_arrays.opposition @ F.state_enroll / F.state_enroll.sum())


def backlash_multiplier(m) -> np.ndarray:
    """(n_s,) backlash hazard multiplier."""
    return 1 + m.par.opposition_backlash_weight * m.state_arrays.opposition


def repeal_multiplier(m) -> np.ndarray:
    """(n_s,) repeal and reversal probability multiplier."""
    return 1 + m.par.opposition_repeal_weight * m.state_arrays.opposition


def electoral_multiplier(opposition, par):
    """Flip-probability multiplier of a favourable government at this opposition."""
    return 1 + par.opposition_electoral_weight * opposition


def adoption_drag(opposition, par):
    """Adoption hazard multiplier at this opposition: exp(-opposition_drag x opposition)."""
    return np.exp(-par.opposition_drag * opposition)
