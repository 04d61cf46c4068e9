"""Adoption (the roadmap's phase tables: which actions are pushed, where, when and how hard).

A government or district acts because of its own situation and the campaign's effort, never
because a plan says how many must act by when (the catalogue's targets are milestones, judged in
milestones.py and read by no mechanism). The yearly hazard of a pushed action is

    push rate x effort (diminishing returns) x climate x coalition strength x proof points
    x diffusion (neighbours, regional peers) x federal and state boosts x constituency
    x opposition drag x (states: political capital and agenda crowding; districts: capacity,
    size)

plus the background rate of the no-campaign world (historical rates of school-finance reform,
discipline laws, restorative practices, integration plans). Federal bills pass with a rate by
feasibility times the same political factors; administrative actions are taken at once.

District starts are funded in random order until each program family's money runs out. Rather
than one uniform per district and program, candidates are drawn with an upper bound of the
hazard per stratum (every district of a stratum independently with the bound's probability)
and each is accepted with probability hazard / bound, which is the same Bernoulli draw
("thinning"); hazards are evaluated only as far as the money goes.

Each (district, program) hazard is multiplied by the district's design weight (the practitioner's
cycle, cycle.py: its diagnosed focus, budget pressure, time, programs it abandoned and its cap of
programs at once); starts beyond the cap in the same quarter are dropped in priority order, and
the strategy's burnout mitigations are paid from the general program money first.

Effort enters once, with diminishing returns, at every level (an earlier version multiplied the
district push by the raw effort a second time, a leftover of the paced rule; fixed in session 4
with the measured docs rerun).

Reads: pace_base, pace_per_pacing, policy_pace, state_push_rate, district_push_rate,
effort_saturation, federal_budget_musd, state_budget_musd, coalition_weight, climate_exponent,
capacity_weight, diffusion_neighbor_weight, litigation_pressure, background_state_reform_rate,
background_funding_bill_multiplier, background_discipline_rate, climate_reference,
coalition_strength_reference, capacity_reference, readoption_lockout_quarters,
community_support_buy_in, recession_federal_cut, recession_budget_cut (and through diffusion.py
the story parameters, through capital.py, opposition.py and constituencies.py theirs).
"""

from __future__ import annotations

import numpy as np

from ..numerics import DT, LazySample, bernoulli_subset, hazard, nonzero
from . import capital, constituencies, cycle, diffusion, opposition

FAMILIES = ("integration", "general")
FEW_CANDIDATES = 2048   # sampling tuning: below this many expected candidates, draw them all
FIRST_CHUNK, CHUNK_GROWTH = 1024, 8


def strategy_pace(par, pacing: float) -> float:
    """Multiplier of every adoption hazard for the strategy's pacing knob (0-1)."""
    return (par.pace_base + par.pace_per_pacing * pacing) * par.policy_pace


def effort_multiplier(effort, par):
    """Push multiplier of a campaign effort (intensity x pace; 1 at effort 1), with diminishing
    returns: (1 - exp(-effort / s)) / (1 - exp(-1 / s)), s = effort_saturation."""
    s = par.effort_saturation
    return (1 - np.exp(-np.asarray(effort, float) / s)) / (1 - np.exp(-1 / s))


def climate_multiplier(m) -> np.ndarray:
    """(n_s,) (climate / reference)^climate_exponent."""
    return (m.state_arrays.climate / m.par.climate_reference) ** m.par.climate_exponent


def coalition_multiplier(strength, par):
    """(strength / reference)^coalition_weight."""
    return (strength / par.coalition_strength_reference) ** par.coalition_weight


# ---------------------------------------------------------------- federal
def federal_enactment(m, u_adopt: np.ndarray) -> None:
    """A supportive administration takes the actions whose window is open: administrative ones
    at once, bills with a hazard by feasibility; the federal budget caps what is in force."""
    par, q, plan, fed = m.par, m.quarter, m.plan, m.federal_arrays
    window = (plan.fed_start <= q) & (q < plan.fed_end) & ~fed.action_on
    if not window.any():
        return
    laws = fed.kind == "law"
    n_pushed = int(np.count_nonzero(window & laws))
    politics = (diffusion.national_story_multiplier(m) * coalition_multiplier(m.coalition_arrays.strength[-1], par)
                * capital.crowding_multiplier(fed.capital, n_pushed, par)
                * opposition.adoption_drag(opposition.national(m), par))
    law_h = hazard(fed.law_rate * effort_multiplier(plan.fed_intensity * m.pace, par) * politics)
    take = window & np.where(laws, u_adopt < law_h, True)
    budget = par.federal_budget_musd * m.spec.strategy.budget_multiplier
    if fed.in_recession:
        budget *= 1 - par.recession_federal_cut
    backlash = m.federal_backlash
    for i in nonzero(take):
        if fed.cost_musd[fed.action_on].sum() + fed.cost_musd[i] <= budget:
            fed.action_on[i] = fed.action_ever[i] = True
            if laws[i]:
                capital.spend_federal(m, float(backlash[i]))


# ---------------------------------------------------------------- states
def state_budget(m) -> float:
    """Each state's equity budget this quarter, $M a year (cut in recessions unless diversified)."""
    par = m.par
    budget = par.state_budget_musd * m.spec.strategy.budget_multiplier
    if m.federal_arrays.in_recession:
        budget *= 1 - par.recession_budget_cut * (1 - m.spec.strategy.funding_diversification)
    return budget


def state_hazards(m, climate_mult: np.ndarray, lit: np.ndarray) -> np.ndarray:
    """(n_p, n_s) yearly rate of each pushed policy in each state from the plan's rows active now
    (a policy takes the largest over its rows)."""
    par, q, states = m.par, m.quarter, m.state_arrays
    n_s, n_p = states.policy_on.shape
    rate_out = np.zeros((n_p, n_s))
    R = m.rows_state
    a = R.active_at(q)
    if not len(a):
        return rate_out
    on = states.policy_on
    j = R.index[a]
    mask = R.state_mask[a] & m.dynamic_masks()[R.where[a]]
    if R.requires[a].any():  # requirements: every required policy in force
        missing = (~on) @ R.requires_f[a].T   # required policies not in force, per state
        mask &= (missing == 0).T
    effects = m.state_effects_now()
    budget_left = state_budget(m) - on @ effects.policy_cost
    elig = mask & ~on.T[j] & (budget_left[None, :] >= effects.policy_cost[j][:, None])
    if not elig.any():
        return rate_out
    pushed = np.zeros((n_p, n_s), bool)
    np.logical_or.at(pushed, j, elig)
    n_pushed = pushed.sum(0)                   # distinct policies pushed at once, per state
    politics = (climate_mult * coalition_multiplier(m.coalition_arrays.strength[:-1], par)
                * capital.crowding_multiplier(states.capital, n_pushed, par)
                * opposition.adoption_drag(states.opposition, par) * constituencies.adoption_multiplier(m))
    story_r = diffusion.by_phase(diffusion.state_story_multiplier(m), R.phase1[a])
    neighbours = diffusion.neighbour_policy_share(m)
    support = np.array([m.support(f"hazard:{m.policies[x]}") for x in j])
    boost = 1 + (m.federal_policy_hazard()[j] + support)[:, None] + effects.policy_hazard.T[j]
    mult = (politics[None, :] * story_r * (1 + par.diffusion_neighbor_weight * neighbours.T[j]) * boost
            * (par.state_push_rate * effort_multiplier(R.intensity[a] * m.pace, par))[:, None])
    mult = np.where(R.litigated[a][:, None], mult * lit[None, :], mult)
    np.maximum.at(rate_out, j, np.where(elig, mult, 0.0))
    return rate_out


BACKGROUND_POLICIES = ("funding_bill", "weighted_funding", "discipline_mandate")


def background_rate(m, name: str, climate_mult: np.ndarray, lit: np.ndarray) -> np.ndarray:
    """(n_s,) yearly rate of a policy without any campaign: historical rates of school-finance
    reform (funding bills `background_funding_bill_multiplier` times as often as formula
    reforms; litigation speeds both) and of discipline-reform laws."""
    par = m.par
    if name == "discipline_mandate":
        return par.background_discipline_rate * climate_mult
    mult = par.background_funding_bill_multiplier if name == "funding_bill" else 1.0
    return par.background_state_reform_rate * mult * climate_mult * lit


def state_adoption(m, u_adopt: np.ndarray) -> None:
    """Each state adopts each policy with the hazard of the rows pushing it, or the background
    rate; litigation speeds up funding policies; enactments spend political capital.
    `u_adopt`: (n_s, n_p)."""
    par, states = m.par, m.state_arrays
    climate_mult = climate_multiplier(m)
    lit = np.where(states.litigation, par.litigation_pressure, 1.0)
    rate = state_hazards(m, climate_mult, lit)
    for name in BACKGROUND_POLICIES:
        jj = m.policy_index.get(name)
        if jj is not None:
            bg = background_rate(m, name, climate_mult, lit)
            rate[jj] = np.maximum(rate[jj], np.where(~states.policy_on[:, jj], bg, 0.0))
    adopt = u_adopt < hazard(rate.T)
    if adopt.any():
        states.policy_on |= adopt
        states.policy_ever |= adopt
        states.enacted_quarter[adopt] = m.quarter
        capital.spend_states(m, adopt)
    # litigation filed (a policy in force with the 'litigation' channel) keeps pressure on
    states.litigation |= m.state_effects_now().channels.get("litigation", np.zeros(m.n_states)) > 0


# ---------------------------------------------------------------- districts
def eligibility_condition(m, name: str) -> np.ndarray:
    """(n_d,) bool: districts meeting one of the catalogue's eligibility conditions."""
    w, dist = m.world, m.district_arrays
    if name == "diverse_enrollment":
        return w.d_diverse
    if name == "mixed_region":
        return w.d_mixed_region
    if name == "community_support":
        return w.d_community | (dist.buy_in > m.par.community_support_buy_in)
    if name == "union_cooperation":
        return w.d_union
    if name == "principal_leadership":
        return w.d_principal | dist.prerequisites
    raise KeyError(name)


def recently_ended(m, k: int) -> np.ndarray:
    """(n_d,) bool: program k ended within `readoption_lockout_quarters`."""
    return (m.quarter - m.district_arrays.ended_quarter[k]) < m.par.readoption_lockout_quarters


def _row_rates(m, a: np.ndarray):
    """For the local rows `a` active now: the push rate per row (effort), the state multiplier
    (n_rows, n_s), and the district condition (n_rows, n_d)."""
    par, q, w, F, dist = m.par, m.quarter, m.world, m.fixed, m.district_arrays
    R = m.rows_local
    k_a = R.index[a]
    smask = R.state_mask[a]
    dmask = R.district_mask_eligible[a]
    if R.where[a].any():
        smask = smask & m.dynamic_masks()[R.where[a]]
        dmask = smask[:, w.d_state] & F.eligible_by_program[k_a]
    # only the pushed programs' rows of the (n_k, n_d) matrices
    fresh = ~dist.running[k_a] & ((q - dist.ended_quarter[k_a]) >= par.readoption_lockout_quarters)
    cond = fresh & dmask
    conds = {}
    for i, r in enumerate(a):
        for name in R.conditions[r]:
            if name not in conds:
                conds[name] = eligibility_condition(m, name)
            cond[i] &= conds[name]
    base = par.district_push_rate * effort_multiplier(R.intensity[a] * m.pace, par)
    story = diffusion.by_phase(diffusion.state_story_multiplier(m), R.phase1[a])
    st_mult = (climate_multiplier(m) * coalition_multiplier(m.coalition_arrays.strength[:-1], par)
               * opposition.adoption_drag(m.state_arrays.opposition, par) * constituencies.adoption_multiplier(m))
    boosts = 1 + m.federal_program_hazard()[k_a][:, None] + m.state_effects_now().program_hazard[:, k_a].T
    ms = smask * st_mult * story * boosts
    return base, ms, cond


def focus_strata(m):
    """This year's adoption strata (cycle.FocusStrata, with the cost arrays of `Fixed`)."""
    return m.cycle.strata


def district_hazards(m):
    """This quarter's adoption hazards: returns (hazard, bound) where hazard(d, k) is the
    quarterly hazard of program k[i] in district d[i] and bound[i] an upper bound of it over the
    candidate stratum i (`focus_strata(m).strata_pool`: the strata of `Fixed` split by the districts'
    diagnosed focus, cycle.FocusStrata). Call after this quarter's drops, before any start."""
    par, w, F, dist = m.par, m.world, m.fixed, m.district_arrays
    n_k, n_s, n_d, n_r = len(m.programs), m.n_states, w.n_districts, w.n_regions
    climate_mult = climate_multiplier(m)
    cw, wdiff = par.capacity_weight, par.diffusion_neighbor_weight
    peers = diffusion.regional_peer_share(m)
    design = cycle.DesignWeight(m, peers)
    S = focus_strata(m)
    lo_cap, hi_cap = m.quarter_capacity.range()
    ref = par.capacity_reference
    cap_bound = (max((hi_cap / ref) ** cw, (lo_cap / ref) ** cw) if lo_cap > 0 else (hi_cap / ref) ** max(cw, 0))
    R = m.rows_local
    a = R.active_at(m.quarter)
    n_a = len(a)
    row_bound = np.zeros(n_k)
    n_plan = 0
    if n_a:
        base, ms, cond = _row_rates(m, a)
        k_a = R.index[a]
        np.maximum.at(row_bound, k_a, base * ms.max(1))
        seen, slots = {}, []
        for k in k_a.tolist():   # the j-th row pushing program k sits in slot j
            slots.append(seen.get(k, 0))
            seen[k] = slots[-1] + 1
        slot = np.array(slots)
        n_plan = int(slot.max()) + 1
        # (program, slot) -> active row, or the empty row n_a (rate 0, no district eligible)
        row_of = np.full(n_k * n_plan, n_a)
        row_of[k_a * n_plan + slot] = np.arange(n_a)
        bms = np.concatenate([base[:, None] * ms, np.zeros((1, n_s))]).ravel()
        cond = np.concatenate([cond, np.zeros((1, n_d), bool)]).ravel()
    # Upper bound of each program's hazard over its pool, then thinning per stratum.
    row_bound *= cap_bound * np.maximum(1.0, 1 + wdiff * peers.max(1))
    bg_bound = F.background_rate * climate_mult.max()
    hb = hazard(np.maximum(row_bound[S.stratum_program] * S.stratum_size, bg_bound[S.stratum_program])
                * design.bound(S))
    log_ref = np.log(ref)
    peers = peers.ravel()
    running = dist.running.ravel()
    size_mult = F.size_mult_by_program.ravel()

    def hazard_of(cd, ck):
        """Adoption hazard this quarter of program ck[i] in district cd[i]."""
        flat = ck * n_d + cd
        s = w.d_state[cd]
        rate = (F.background_rate[ck] * climate_mult[s]) * ~running[flat]
        if n_plan:
            dmult = (np.exp(cw * (m.quarter_capacity.log_at(cd) - log_ref)) * (1 + wdiff * peers[ck * n_r + w.d_region[cd]])
                     * size_mult[flat])
            kp = ck * n_plan
            for j in range(n_plan):
                r = row_of[kp + j]
                np.maximum(rate, cond[r * n_d + cd] * bms[r * n_s + s] * dmult, out=rate)
        return 1.0 - np.exp(-DT * rate * design.at(cd, ck))

    return hazard_of, hb


def _first_that_fit(ad: np.ndarray, ak: np.ndarray, F, money: float, spent_before: float = 0.0):
    """How many of the adopters (in priority order) the money admits, and what they cost in all."""
    spend = spent_before + np.cumsum(F.size_cost[ad] * F.base_cost[ak])
    fits = spend <= money
    n_fit = len(fits) if fits.all() else int(np.argmin(fits))
    return n_fit, spend


def _starts_few(F, strata: np.ndarray, hb: np.ndarray, hazard_of, money: float, g):
    """Few candidates: draw them all (each district of a stratum independently with the
    stratum's bound), in random order, and walk the budget once."""
    parts = [bernoulli_subset(F.strata_pool[i], hb[i], g) for i in strata]
    cnt = np.array([len(x) for x in parts])
    if not cnt.sum():
        return None
    cd = np.concatenate(parts)
    ck = np.repeat(F.stratum_program[strata], cnt)
    hk = np.repeat(hb[strata], cnt)
    o = g.permutation(len(cd))
    cd, ck, hk = cd[o], ck[o], hk[o]
    adopt = nonzero(g.random(len(cd)) * hk < hazard_of(cd, ck))
    ad, ak = cd[adopt], ck[adopt]
    n_fit, _ = _first_that_fit(ad, ak, F, money)
    return [(ad[:n_fit], ak[:n_fit])]


def _starts_many(F, strata: np.ndarray, hb: np.ndarray, hazard_of, money: float, g):
    """Many candidates (late in a campaign): draw and evaluate them lazily, in growing chunks of
    a uniformly random interleaving of the strata, until the money runs out."""
    n_cand = g.binomial(F.stratum_n[strata], hb[strata])
    keep = n_cand > 0
    strata, left = strata[keep], n_cand[keep]
    samples = [LazySample(F.strata_pool[i], n, g) for i, n in zip(strata, left)]
    s_k, s_hb = F.stratum_program[strata], hb[strata]
    chunk, total, out = FIRST_CHUNK, 0.0, []
    while True:
        n_left = int(left.sum())
        if not n_left:
            break
        cnt = left if chunk >= n_left else g.multivariate_hypergeometric(left, chunk)
        sel = nonzero(cnt)
        cd = (np.concatenate([samples[i].take(cnt[i]) for i in sel]) if len(sel) > 1
              else samples[sel[0]].take(cnt[sel[0]]))
        ck = np.repeat(s_k[sel], cnt[sel])
        hk = np.repeat(s_hb[sel], cnt[sel])
        left = left - cnt
        o = g.permutation(len(cd))
        cd, ck, hk = cd[o], ck[o], hk[o]
        adopt = nonzero(g.random(len(cd)) * hk < hazard_of(cd, ck))
        ad, ak = cd[adopt], ck[adopt]
        n_fit, spend = _first_that_fit(ad, ak, F, money, total)
        out.append((ad[:n_fit], ak[:n_fit]))
        if n_fit < len(ad):
            break
        if n_fit:
            total = float(spend[-1])
        chunk *= CHUNK_GROWTH
    return out


def district_starts(m, g: np.random.Generator, hazard_of, hb: np.ndarray):
    """The (districts, programs) that start this quarter, given the adoption hazards: within
    each family, adopters in a uniformly random priority order until the money runs out."""
    F, cells = focus_strata(m), m.cells
    spent = np.bincount(F.family[cells.program], weights=F.size_cost[cells.district] * F.base_cost[cells.program],
                        minlength=len(FAMILIES))
    spent[FAMILIES.index("general")] += cycle.mitigation_cost(m)
    expected = F.stratum_n * hb
    new = []
    for f, fam in enumerate(FAMILIES):
        strata = nonzero((F.stratum_family == f) & (hb > 0))
        if not len(strata):
            continue
        money = m.family_funds(fam) - spent[f]
        if money < 0:
            continue
        draw = _starts_few if expected[strata].sum() <= FEW_CANDIDATES else _starts_many
        new += draw(F, strata, hb, hazard_of, money, g) or []
    if not new:
        none = np.zeros(0, np.int64)
        return none, none
    return np.concatenate([d for d, _ in new]), np.concatenate([k for _, k in new])


def adopt_programs(m, g: np.random.Generator) -> None:
    """Each eligible district adopts each pushed program with the hazard of the plan's rows (the
    largest if several push it) or the background rate, funded in random order (see above)."""
    d, k = district_starts(m, g, *district_hazards(m))
    m.start_cells(*cycle.keep_within_cap(m, d, k))
