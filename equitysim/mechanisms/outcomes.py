"""Outcomes (the roadmap's success indicators and the research on what moves them):
segregation, discipline, course access, teachers, spending, achievement and graduation.

Each outcome modifier x moves toward its target T with a lag: x += (T - x) x outcome_adjustment.
Targets combine a district's own programs (coverage x fidelity, `eff`) with state and federal
policy, e.g. for suspensions T = 1 - (1 - eff a)(1 - pressure_state b). Because the update is
linear, x is kept as a state part (relaxing toward what policy alone implies, one number per
state) plus a district part (relaxing toward what the district's programs add, nonzero only
where a program has run): the sum is the same x. Once a year achievement and graduation move by
published effect sizes applied to that year's spending, teacher, course-access and integration
changes.

Reads: controlled_choice_segregation_cut, interdistrict_segregation_cut, discipline_mandate_cut,
discipline_mandate_black_extra_cut, restorative_suspension_cut, restorative_black_extra_cut,
screening_ap_gap_cut, detracking_ap_gap_cut, teacher_equity_gap_cut, teacher_experience_mean,
spending_achievement_effect, spending_graduation_effect, teacher_achievement_effect,
integration_achievement_effect, integration_graduation_effect, ap_achievement_effect,
outcome_adjustment, policy_channel_cap, state_teacher_requirement_share,
teacher_effect_yearly_share. (Exits undo part of the integration gains: enrollment.py.)
"""

from __future__ import annotations

import numpy as np

from ..aggregates import DistrictMix
from . import enrollment
from ..numerics import ROADMAP_YEARS, SCHOOL_YEARS, SPENDING_STEP, TINY, nonzero


def relax_modifiers(m) -> None:
    """One quarter of lagged movement of every outcome modifier toward its target."""
    par, w, O, cells, table = m.par, m.world, m.outcome_arrays, m.cells, m.program_table
    ch = m.state_effects_now().channels
    eff = m.cells_coverage() * cells.fidelity
    st = w.d_state
    lag = par.outcome_adjustment
    keep = 1 - lag
    cap = par.policy_channel_cap
    sel = {k: nonzero(cells.program == k) for k in (table.controlled_choice, table.interdistrict_magnet,
                                                      table.restorative, table.teacher_assignment, table.detracking)}
    # Integration: within-district deviation kept; between-district mixing in the region.
    O.segregation_cut *= keep
    i = sel[table.controlled_choice]
    O.segregation_cut[cells.district[i]] += lag * par.controlled_choice_segregation_cut * eff[i]
    i = sel[table.interdistrict_magnet]
    region_eff = np.zeros(w.n_regions)
    np.maximum.at(region_eff, w.d_region[cells.district[i]], eff[i])
    O.region_mixing += (par.interdistrict_segregation_cut * region_eff - O.region_mixing) * lag
    # Discipline: restorative practices, state mandates, federal enforcement.
    pressure = np.minimum(ch.get("suspension", np.zeros(m.n_states)) + m.federal_channel("suspension"), cap)
    i = sel[table.restorative]
    d_re = cells.district[i]
    for black, S, Rd in ((False, O.suspension_state_others, O.suspension_district_others),
                         (True, O.suspension_state_black, O.suspension_district_black)):
        mandate = 1 - pressure * (par.discipline_mandate_cut + (par.discipline_mandate_black_extra_cut if black else 0))
        cut = par.restorative_suspension_cut + (par.restorative_black_extra_cut if black else 0.0)
        S += ((1 - mandate) - S) * lag
        Rd *= keep
        Rd[d_re] += lag * eff[i] * cut * mandate[st[d_re]]
    # Course access: detracking, universal screening, course-access mandates.
    ap_state = np.minimum(ch.get("ap_gap", np.zeros(m.n_states)), cap) * par.screening_ap_gap_cut
    O.ap_state += (ap_state - O.ap_state) * lag
    O.ap_district *= keep
    i = sel[table.detracking]
    O.ap_district[cells.district[i]] += lag * eff[i] * par.detracking_ap_gap_cut * (1 - ap_state[st[cells.district[i]]])
    # Teachers: incentives and assignment reform, state requirements.
    t_state = np.minimum(ch.get("teacher_gap", np.zeros(m.n_states)), cap) * par.state_teacher_requirement_share * par.teacher_equity_gap_cut
    O.teacher_state += (t_state - O.teacher_state) * lag
    O.teacher_district *= keep
    i = sel[table.teacher_assignment]
    O.teacher_district[cells.district[i]] += lag * eff[i] * par.teacher_equity_gap_cut * (1 - t_state[st[cells.district[i]]])


def district_mix(m) -> DistrictMix:
    """Per-district group sums under the current integration modifiers (cached on them)."""
    O, F = m.outcome_arrays, m.fixed
    key = (O.segregation_cut.tobytes(), O.region_mixing.tobytes(), m.state_arrays.opposition.tobytes())
    cached = m.cache.get("mix")
    if cached is not None and cached[0] == key:
        return cached[1]
    cut, mix = enrollment.integration_in_effect(m)   # what exits leave of the programs' gains
    T = m.touched_schools
    T.update(((cut != 0) | (mix != 0)).nonzero()[0])
    d = T.d
    now = F.district_share_T[:, d] + mix[d] * F.region_minus_district_T[:, d]
    mx = DistrictMix(F.sums, T, 1 - cut[d], now)
    m.cache["mix"] = (key, mx)
    return mx


def accumulate(m) -> None:
    """One more year of exposure (call at each year end). Per school s in district d, spending
    relative to baseline is rho_d (1 - c phi_s) - 1 (rho_d: district ratio over its baseline,
    c: comparability, phi_s = dev/(1+dev) of the school's spending deviation) and teacher
    experience changes by -tau_s x teacher cut, so each year adds district-level coefficients
    of 1, phi_s and tau_s to the gains."""
    from .funding import district_spending_ratio
    par, w, O = m.par, m.world, m.outcome_arrays
    rho = district_spending_ratio(m) / (1 + w.d_spend_tilt)
    c = m.state_arrays.comparability[w.d_state]
    se = par.spending_achievement_effect / SPENDING_STEP
    sg = par.spending_graduation_effect / SCHOOL_YEARS / SPENDING_STEP
    teach_cut = O.teacher_cut(w.d_state)
    O.gain[0] += se * (rho - 1)
    O.gain[1] -= se * rho * c
    O.gain[2] -= par.teacher_achievement_effect * par.teacher_effect_yearly_share * teach_cut
    O.graduation[0] += sg * (rho - 1)
    O.graduation[1] -= sg * rho * c
    mx = district_mix(m)
    expo = mx.X / np.maximum(mx.M, TINY) - m.fixed.exposure0
    O.gain_minority += (par.integration_achievement_effect / ROADMAP_YEARS * expo
                        + par.ap_achievement_effect / ROADMAP_YEARS * O.ap_cut(w.d_state))
    O.graduation_minority += par.integration_graduation_effect / ROADMAP_YEARS * expo


# ---------------------------------------------------------------- school arrays, now
def school_enrollment(m) -> np.ndarray:
    """(n_schools, 4) students by group, after integration programs: a school's mix is its
    district's current mix plus its baseline deviation from the district, scaled by what
    controlled choice leaves of it; a district's mix moves toward its region's."""
    w, O = m.world, m.outcome_arrays
    key = (O.segregation_cut.tobytes(), O.region_mixing.tobytes(), m.state_arrays.opposition.tobytes())
    cached = m.cache.get("enrollment")
    if cached is not None and cached[0] == key:
        return cached[1]
    cut, inter_mix = enrollment.integration_in_effect(m)
    seg_keep = 1 - cut
    if np.all(seg_keep == 1) and not inter_mix.any():
        return w.s_enroll_by_group
    d = w.s_district
    d_now = w.d_share + inter_mix[:, None] * (m.fixed.region_share[w.d_region] - w.d_share)
    share = seg_keep[d][:, None] * w.s_dev + d_now[d]
    if (share < 0).any():
        np.clip(share, 0, None, out=share)
        share /= share.sum(1, keepdims=True)
    share *= w.s_enroll[:, None]
    m.cache["enrollment"] = (key, share)
    return share


def school_spending_ratio(m) -> np.ndarray:
    """(n_schools,) per-pupil spending relative to the state's baseline mean."""
    from .funding import district_spending_ratio
    w = m.world
    comp = m.state_arrays.comparability[w.d_state][w.s_district]
    return district_spending_ratio(m)[w.s_district] * (1 + w.s_spend_dev * (1 - comp))


def school_spending(m) -> np.ndarray:
    """(n_schools,) per-pupil current spending, dollars (state's published mean x the ratio)."""
    w = m.world
    pp = w.states["per_pupil_current_expenditure"].to_numpy(float)
    return pp[w.d_state][w.s_district] * school_spending_ratio(m)


def school_teacher_experience(m) -> np.ndarray:
    """(n_schools,) mean teacher experience, years."""
    w = m.world
    return m.par.teacher_experience_mean + w.s_texp_dev * (1 - m.outcome_arrays.teacher_cut(w.d_state)[w.s_district])
