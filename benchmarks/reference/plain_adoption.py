"""The adoption rule written densely over every (district, program) of the fast model's
public arrays: the formula the fast model's thinning must reproduce (tests/test_oracle.py)."""

from __future__ import annotations

import numpy as np

from equitysim.mechanisms.adoption import eligibility_condition, recently_ended
from equitysim.rows import WHERE_CODES

DT = 0.25   # years per quarter


def plain_hazards(m) -> np.ndarray:
    """(n_districts, n_programs) quarterly adoption hazard: for each row pushing a program, the
    push rate x effort times the conditions of the district and its state (no target, need or
    time left); the largest over rows, or the background rate."""
    p, q, w = m.p, m.quarter, m.world
    n_d, n_k = m.active.shape
    ch = m.state_channels()
    st = w.d_state
    states, coal = m.state_arrays, m.coalition_arrays
    climate_mult = ((states.climate / p["climate_reference"]) ** p["climate_exponent"])[st]
    coal_mult = ((coal.strength[:-1] / p["coalition_strength_reference"]) ** p["coalition_weight"])[st]
    cap_mult = (m.capacity / p["capacity_reference"]) ** p["capacity_weight"]
    stories = (p["story_floor"] + p["success_story_weight"] * np.maximum(coal.win_share, coal.national_win_share / 2))[st]
    drag = np.exp(-p["opposition_drag"] * states.opposition)[st]
    # constituency: popular reforms in force (1 - the largest backlash weight of the policy's state rows)
    weight = {j: 0.0 for j in m.policies}
    for a in m.catalogue.actions:
        if a.level == "state":
            weight[a.policy] = max(weight[a.policy], a.backlash)
    popular = np.array([1 - weight[j] for j in m.policies])
    constituency = (1 + p["constituency_effect"] * (m.state_policy_on * popular[None, :]).sum(1))[st]
    sat = p["effort_saturation"]
    region_n = np.bincount(w.d_region, minlength=w.n_regions)
    peers = np.stack([np.bincount(w.d_region, weights=m.active[:, k], minlength=w.n_regions) / region_n
                      for k in range(n_k)], 1)[w.d_region]
    rate = np.zeros((n_d, n_k))
    for row in [r for r in m.plan.local_rows if r.start_q <= q < r.end_q]:
        k = row.index
        prog = m.programs[k]
        where = m.dynamic_masks()[WHERE_CODES.get(row.where, 0)]
        elig = (row.mask & where)[st] & m.eligible[:, k] & ~m.active[:, k] & ~recently_ended(m, k)
        for e in row.action.eligibility:
            elig &= eligibility_condition(m, e)
        if not elig.any():
            continue
        effort = row.intensity * m.pace
        push = p["district_push_rate"] * (1 - np.exp(-effort / sat)) / (1 - np.exp(-1 / sat))
        story = np.maximum(stories, 1.0) if row.action.phase == 1 else stories
        mult = (climate_mult * coal_mult * drag * constituency * cap_mult * story * (1 + p["diffusion_neighbor_weight"] * peers[:, k])
                * (1 + m.federal_channel(f"hazard:{prog.id}") + ch.get(f"hazard:{prog.id}", np.zeros(m.n_states))[st]))
        if prog.family == "integration":
            mult = mult * m.fixed.size_mult
        rate[:, k] = np.maximum(rate[:, k], np.where(elig, push * mult, 0.0))
    for name, param in (("restorative", "background_restorative_rate"), ("controlled_choice", "background_integration_rate")):
        k = m.program_index[name]
        rate[:, k] = np.maximum(rate[:, k], np.where(m.eligible[:, k] & ~m.active[:, k], p[param] * climate_mult, 0.0))
    return 1.0 - np.exp(-np.maximum(rate, 0.0) * plain_design_weight(m) * DT)


def plain_design_weight(m) -> np.ndarray:
    """(n_districts, n_programs) the practitioner's design weight, written densely: focus or not
    (x the district's normalisation of its last diagnosis), budget pressure on cost, tested designs for time-constrained districts, abandoned programs,
    and no start at the cap."""
    p, w = m.p, m.world
    n_d, n_k = m.active.shape
    focus = m.cycle.focus
    wt = np.where(np.arange(n_k)[None, :] == focus[:, None], p["focus_adoption_mult"], p["off_focus_adoption_mult"])
    wt = wt * m.cycle.weight_scale[:, None]   # the normalisations fixed at the last diagnosis
    cost = m.fixed.base_cost
    ref = np.exp(np.mean(np.log(cost)))
    budget = m.fixed.budget_base * np.exp(m.quarter_capacity.log_factor)
    tight = np.clip(1 - budget, 0, 1)
    wt = wt * (cost[None, :] / ref) ** (-p["cost_aversion"] * tight[:, None])
    short = 1 - m.district_arrays.burnout < p["time_short_threshold"]
    region_n = np.bincount(w.d_region, minlength=w.n_regions)
    peers = np.stack([np.bincount(w.d_region, weights=m.active[:, k], minlength=w.n_regions) / region_n
                      for k in range(n_k)], 1)[w.d_region]
    wt = np.where(short[:, None], wt * (1 + p["tested_design_weight"] * peers), wt)
    wt = np.where(m.cycle.abandoned.T, wt * p["abandoned_adoption_keep"], wt)
    cap = np.where(short, 1, int(p["max_concurrent_programs"]))
    return wt * (m.active.sum(1) < cap)[:, None]
