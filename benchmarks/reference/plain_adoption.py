"""The adoption rule written densely over every (district, program) of the fast model's
public arrays: the formula the fast model's thinning must reproduce (tests/test_oracle.py)."""

from __future__ import annotations

import numpy as np

from equitysim.agents import CAPACITY_REF, CLIMATE_REF, STORY_FLOOR, STRENGTH_REF, _hazard


def plain_hazards(m) -> np.ndarray:
    """(n_districts, n_programs) quarterly adoption hazard: for each row pushing a program, the
    row's pace spread over its eligible districts times the conditions of the district and its
    state; the largest over rows, or the background rate."""
    p, q, w = m.p, m.quarter, m.world
    n_d, n_k = m.active.shape
    ch = m.state_channels()
    st = w.d_state
    climate_mult = ((m.climate / CLIMATE_REF) ** p["climate_exponent"])[st]
    coal_mult = ((m.coal_strength[:-1] / STRENGTH_REF) ** p["coalition_weight"])[st]
    cap_mult = (m.capacity / CAPACITY_REF) ** p["capacity_weight"]
    stories = (STORY_FLOOR + p["success_story_weight"] * np.maximum(m.state_win_share, m.national_win_share / 2))[st]
    peers = m.region_share_active()
    rate = np.zeros((n_d, n_k))
    for row in m.active_rows(m.plan.local_rows):
        k = row.index
        prog = m.programs[k]
        elig = (row.mask & m.dynamic_mask(row.where))[st] & m.eligible[:, k] & ~m.active[:, k] & ~m.recently_ended(k)
        for e in row.action.eligibility:
            elig &= m.eligibility_condition(e)
        need = max(row.target - m.active[:, k][row.mask[st]].sum(), 0.0)
        if need <= 0 or not elig.any():
            continue
        base_rate = need / max(row.pace_end_q - q, 2) / elig.sum() * 4
        story = np.maximum(stories, 1.0) if row.action.phase == 1 else stories
        mult = (climate_mult * coal_mult * cap_mult * story * (1 + p["diffusion_neighbor_weight"] * peers[:, k])
                * (1 + m.fed_channel(f"hazard:{prog.id}") + ch.get(f"hazard:{prog.id}", np.zeros(m.n_states))[st])
                * row.intensity * m.pace)
        if prog.family == "integration":
            mult = mult * m.size_mult
        rate[:, k] = np.maximum(rate[:, k], np.where(elig, base_rate * mult, 0.0))
    for name, param in (("restorative", "background_restorative_rate"), ("controlled_choice", "background_integration_rate")):
        k = m.program_index[name]
        rate[:, k] = np.maximum(rate[:, k], np.where(m.eligible[:, k] & ~m.active[:, k], p[param] * climate_mult, 0.0))
    return _hazard(rate)
