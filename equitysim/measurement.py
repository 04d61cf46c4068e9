"""Every roadmap metric and indicator count, now: the definitions of metrics.py evaluated from
per-district sums (aggregates.py) rather than school by school. tests/test_oracle.py checks
them against the plain per-school computation of the reference.

Units: indices 0-1, gaps as in metrics.py, `_pp` in percentage points, achievement in SD.
"""

from __future__ import annotations

import numpy as np

from . import metrics as M
from .mechanisms.funding import adequacy_required, district_spending_ratio
from .mechanisms.outcomes import district_mix
from .numerics import PERCENT, dot


def _suspension_rates(m, mx):
    """Suspension rates of white, Black and Hispanic students (school rate = group base x school
    noise x (1 - district cut))."""
    par, O, st = m.par, m.outcome_arrays, m.world.d_state
    W, B, H = mx.W.sum(), mx.B.sum(), mx.H.sum()
    cut_others = O.suspension_state_others[st] + O.suspension_district_others
    cut_black = O.suspension_state_black[st] + O.suspension_district_black
    base = par.suspension_rate_white
    rate_w = base * dot(mx.Wf[2], 1 - cut_others) / W
    rate_b = base * par.suspension_ratio_black_white * dot(mx.Bf[2], 1 - cut_black) / B
    rate_h = base * par.suspension_ratio_hispanic_white * dot(mx.Hf[2], 1 - cut_others) / H
    return rate_w, rate_b, rate_h


def _achievement_and_graduation(m, mx):
    """Achievement (SD) and graduation (share) of white and of Black+Hispanic students:
    baseline gaps, plus the gains so far."""
    par, O = m.par, m.outcome_arrays
    W, B, H = mx.W.sum(), mx.B.sum(), mx.H.sum()
    G, Hg = O.gain, O.graduation
    gain_w = dot(G[0], mx.W) + dot(G[1], mx.Wf[0]) + dot(G[2], mx.Wf[1])
    gain_m = dot(G[0], mx.M) + dot(G[1], mx.Mf[0]) + dot(G[2], mx.Mf[1])
    ach_w = gain_w / W
    ach_m = (gain_m + dot(mx.M, O.gain_minority)
             - B * par.achievement_gap_black - H * par.achievement_gap_hispanic) / (B + H)
    grad_w = par.graduation_rate_white + (dot(Hg[0], mx.W) + dot(Hg[1], mx.Wf[0])) / W
    grad_m = (B * par.graduation_rate_black + H * par.graduation_rate_hispanic
              + dot(Hg[0], mx.M) + dot(Hg[1], mx.Mf[0]) + dot(mx.M, O.graduation_minority)) / (B + H)
    return ach_w, ach_m, grad_w, grad_m


def measure(m) -> dict:
    """Every metric and indicator count of the model's current state."""
    w, par, F = m.world, m.par, m.fixed
    S = F.sums
    mx = district_mix(m)
    O, st = m.outcome_arrays, w.d_state
    rate_w, rate_b, rate_h = _suspension_rates(m, mx)
    # AP/honors: minority rates close toward the white rate by the district's cut.
    rb, rh = par.ap_ratio_black, par.ap_ratio_hispanic
    c = np.minimum(O.ap_cut(st), 1)
    B, H = mx.B.sum(), mx.H.sum()
    ap_min = par.ap_rate_white * (dot(mx.B, rb + (1 - rb) * c) + dot(mx.H, rh + (1 - rh) * c)) / (B + H)
    ach_w, ach_m, grad_w, grad_m = _achievement_and_graduation(m, mx)
    d_ratio = district_spending_ratio(m)
    comp = m.state_arrays.comparability[st]
    hi = (dot(d_ratio, S.hi_spend[0]) - dot(d_ratio * comp, S.hi_spend[1])) / S.hi_E
    lo = (dot(d_ratio, S.lo_spend[0]) - dot(d_ratio * comp, S.lo_spend[1])) / S.lo_E
    texp = par.teacher_experience_mean
    tc = 1 - O.teacher_cut(st)
    required = adequacy_required(m)   # costed-out, per district
    below = np.bincount(st, weights=w.d_enroll * (d_ratio < required), minlength=m.n_states)
    adequacy_by_state = below / F.state_enroll
    wt = (mx.W + mx.M) * S.multi
    out = {
        "dissimilarity": float(mx.D_nat),
        "dissimilarity_within_district": dot(mx.D, wt) / wt.sum() if wt.sum() > 0 else 0.0,
        "exposure_minority_to_white": float(mx.X.sum() / mx.M_tot) if mx.M_tot > 0 else 0.0,
        "spending_gap": float(1.0 - hi / lo),
        "adequacy_gap": dot(w.d_enroll, d_ratio < required) / F.total_enroll,  # = M.adequacy_gap
        "teacher_experience_gap": float((texp * S.lo_E + dot(tc, S.lo_tau)) / S.lo_E
                                        - (texp * S.hi_E + dot(tc, S.hi_tau)) / S.hi_E),
        "suspension_ratio_black_white": rate_b / rate_w,
        "suspension_gap_pp": (rate_b - rate_w) * PERCENT,
        "suspension_ratio_hispanic_white": rate_h / rate_w,
        "ap_gap": M.relative_gap(ap_min, par.ap_rate_white),
        "achievement_gap": float(ach_w - ach_m),
        "graduation_gap_pp": float(PERCENT * (grad_w - grad_m)),
        "states_all_adequate": int((adequacy_by_state <= par.state_adequate_max_share_below).sum()),
    }
    out.update(counts_now(m))
    return out


def counts_now(m) -> dict:
    """The indicator counts: pilots, districts and regions running programs, states with
    policies, federal guidance, the integration share of diverse districts, coalition breadth."""
    w, table, cells = m.world, m.program_table, m.cells
    cc, im, re = table.controlled_choice, table.interdistrict_magnet, table.restorative
    pilot = table.pilot_phase
    past_pilot = cells.phase >= pilot[cells.program]
    regions = np.zeros(w.n_regions, bool)
    regions[w.d_region[cells.district[past_pilot & (cells.program == im)]]] = True
    diverse = w.d_diverse
    pol = m.policy_index
    R = m.district_arrays.reached
    states = m.state_arrays
    guidance = m.federal_effects.effect_of("guidance")
    breadth = m.coalition_arrays.breadth[-1]
    return {
        "integration_pilots_launched": int(np.count_nonzero((R[cc] >= pilot[cc]) | (R[im] >= pilot[im]))),
        "restorative_districts": int(np.count_nonzero(cells.program == re)),
        "controlled_choice_districts": int(np.count_nonzero(past_pilot & (cells.program == cc))),
        "interdistrict_regions": int(regions.sum()),
        "funding_bills_states": int(states.policy_ever[:, pol["funding_bill"]].sum()),
        "funding_reform_states": int(states.policy_on[:, pol["weighted_funding"]].sum()),
        "adequacy_standard_states": int(states.policy_on[:, pol["adequacy_standard"]].sum()),
        "federal_guidance": int((guidance * m.federal_arrays.action_ever).sum() > 0),
        "integration_share_diverse": float(np.count_nonzero((cells.program == cc) & (cells.phase >= pilot[cc] + 1) & diverse[cells.district])
                                           / max(diverse.sum(), 1)),
        "national_coalition_breadth": float(breadth if breadth > 0 else 0),
    }
