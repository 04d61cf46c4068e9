"""What each kind of agent does, one quarter at a time.

FederalGovernment, State and Coalition are ordinary Mesa agents (1, 51 and 52 of them).
District and School are Mesa agent classes too, but their state lives in numpy arrays on the
model and their rules are applied to all of them at once (`step_all`); a District or School
object is a view of one row, created only when someone asks for it (`model.district(i)`).

The rules are those of the per-agent reference in `benchmarks/reference/` (one Python object per
district and school); `tests/test_oracle.py` checks that both give the same distributions. Where
the two are written differently for speed, a comment says why they are the same rule:

- District programs are kept as a list of active (district, program) cells (a few thousand of
  the 67,000), so per-program work costs what is active, not what could be.
- Adoption is an independent Bernoulli draw per eligible district and program, with the hazard
  of the rules. Rather than one uniform per district and program, candidates are drawn with an
  upper bound of the hazard (every district of a candidate stratum independently with the
  bound's probability) and each is accepted with probability hazard / bound, which is the same
  Bernoulli draw ("thinning"). New starts are then funded in a uniformly random order until the
  family's money runs out, evaluating candidates only as far as the money goes.
- Draws about districts come from a stream re-keyed every quarter (`model.quarter_rng`), so
  however many a scenario uses in one quarter, every other quarter sees the same numbers.
"""

from __future__ import annotations

import mesa
import numpy as np

from . import risks
from .risks import _nz, clip

DT = 0.25  # years per step
# Reference conditions at which adoption runs exactly at the plan's pace: the national mean
# climate, a coalition of middling strength, a district of average capacity.
CLIMATE_REF, STRENGTH_REF, CAPACITY_REF = 0.5, 0.5, 0.65
# Without proof points, governments move at this fraction of the plan's pace ("build on wins").
STORY_FLOOR = 0.5
# Outcome modifiers close this share of the distance to their new level each quarter.
LAG = 0.15


def _stories(mult, row):
    """Phase 1 rows are the roadmap's 'achievable victories' and need no proof points; later
    phases move at STORY_FLOOR of their pace until local wins accumulate."""
    return np.maximum(mult, 1.0) if row.action.phase == 1 else mult


def _hazard(rate_per_year, dt=DT):
    return 1.0 - np.exp(-np.maximum(rate_per_year, 0.0) * dt)


class FederalGovernment(mesa.Agent):
    """Takes the roadmap's federal actions (administrative at once, bills by feasibility),
    holds elections every four years, and rescinds or repeals when hostile."""

    def __init__(self, model):
        super().__init__(model)
        self.supportive = True

    @property
    def actions_in_force(self) -> list[str]:
        return [a.id for a, on in zip(self.model.catalogue.federal_actions, self.model.fed_on) if on]

    def step(self):
        m = self.model
        p, q, plan = m.p, m.quarter, m.plan
        n = len(m.fed_on)
        u = m.rng_risk.random(n + 2)
        ua = m.rng_adopt.random(n)
        if m.is_november and m.calendar_year % 4 == 0:
            if u[n] < p["federal_flip_prob"]:
                self.supportive = not self.supportive
                m.count("leadership_changes")
        if m.event_now("hostile_federal") and self.supportive:
            self.supportive = False
            m.count("leadership_changes")
        locked = m.fed_channel("lock:federal") > 0
        kinds = m.fed_kind
        if not self.supportive:
            # A hostile administration rescinds guidance and regulations at once; laws survive
            # unless repealed, and locked laws survive.
            m.fed_on &= (kinds == "law")
            if not locked:
                repeal = m.fed_on & (u[:n] < _hazard(p["hostile_repeal_prob"] * 0.3))
                m.fed_on &= ~repeal
            return
        window = (plan.fed_start <= q) & (q < plan.fed_end) & ~m.fed_on
        if not window.any():
            return
        rate = m.fed_law_rate * plan.fed_intensity
        stories = STORY_FLOOR + p["success_story_weight"] * m.national_win_share
        coalition = (m.coal_strength[-1] / STRENGTH_REF) ** p["coalition_weight"]
        law_h = _hazard(rate * stories * coalition * m.pace)
        take = window & np.where(kinds == "law", ua < law_h, True)
        # The roadmap's budget (about $4B a year) caps what can be in force.
        budget = p["federal_budget_musd"] * m.spec.strategy.budget_multiplier
        for i in _nz(take):
            if m.fed_cost[m.fed_on].sum() + m.fed_cost[i] <= budget:
                m.fed_on[i] = m.fed_ever[i] = True


class Coalition(mesa.Agent):
    """Advocacy coalitions (one per state, one national): breadth grows with organizing
    investment, strength with wins; fatigue without wins. Phases: core -> expansion ->
    electoral engagement -> normalization."""

    PHASES = ("core", "expansion", "electoral", "normalization")

    def __init__(self, model, index):
        super().__init__(model)
        self.index = index

    @property
    def breadth(self):
        return float(self.model.coal_breadth[self.index])

    @property
    def strength(self):
        return float(self.model.coal_strength[self.index])

    @property
    def phase(self):
        return self.PHASES[int(np.digitize(self.breadth, [0.35, 0.55, 0.75]))]

    @staticmethod
    def step_all(m):
        p, q = m.p, m.quarter
        invest = m.spec.strategy.coalition_investment
        support = min(1.0, 0.3 + m.plan.support_at("coalition_growth", q) / 2)
        b = m.coal_breadth
        b += p["coalition_growth"] * invest * support * DT * (1 - b)
        # Strength follows breadth and recent wins; a year without a win costs `coalition_fatigue`.
        won = (q - m.coal_last_win) < 4
        target = 0.2 + 0.5 * b + 0.2 * won
        k = m.coal_strength
        k += (target - k) * 0.2 - p["coalition_fatigue"] * DT * ~won
        clip(k, 0.05, 1.0, out=k)
        clip(b, 0.0, 1.0, out=b)


class State(mesa.Agent):
    """A state: political climate and elections, the funding formula, adopted policies and the
    locks that protect them, litigation, and backlash."""

    def __init__(self, model, index):
        super().__init__(model)
        self.index = index
        self.code = model.state_codes[index]

    @property
    def policies(self) -> list[str]:
        pol = self.model.catalogue.state_policies
        return [pol[j] for j in _nz(self.model.st_on[self.index])]

    @property
    def climate(self) -> float:
        return float(self.model.climate[self.index])

    @staticmethod
    def step_all(m):
        p, q = m.p, m.quarter
        n_s, n_p = m.st_on.shape
        u = m.rng_risk.random((n_s, n_p + 4))
        ua = m.rng_adopt.random((n_s, n_p))

        # Elections on the real calendar: a flip mirrors the state's climate.
        if m.is_november:
            elect = (m.gov_election_years == m.calendar_year).any(1)
            flips = elect & (u[:, n_p] < p["governor_flip_prob"])
            m.gov_flipped ^= flips
            m.count("leadership_changes", int(flips.sum()))
        if m.event_now("hostile_states"):
            m.gov_flipped |= m.climate0 > 0.5
        base = np.where(m.gov_flipped, 1 - m.climate0, m.climate0)
        engaged = (m.coal_breadth[:-1] >= 0.55) * m.plan.support_at("climate", q)
        m.climate_shock *= 0.92  # backlash fades with a half-life of about two years
        clip(base + engaged + m.climate_shock, 0.05, 0.95, out=m.climate)

        # Adoption: each pushed row moves its states toward the row's target. All rows at once:
        # row r gives hazard rate[r, s] to policy j_r in state s; a policy takes the largest.
        climate_mult = (m.climate / CLIMATE_REF) ** p["climate_exponent"]
        lit = np.where(m.litigation, p["litigation_pressure"], 1.0)
        hazard = np.zeros((n_p, n_s))
        R = m.rows_state
        a = R.active_at(q)
        if len(a):
            on_T = m.st_on.T
            j = R.j[a]
            mask = R.mask[a] & m.dynamic_masks()[R.where[a]]
            if R.req[a].any():  # requirements: every required policy in force
                missing = (~m.st_on) @ R.req_f[a].T   # required policies not in force, per state
                mask &= (missing == 0).T
            budget_left = p["state_budget_musd"] * m.spec.strategy.budget_multiplier - m.st_on @ m.policy_cost
            on_j = on_T[j]
            elig = mask & ~on_j & (budget_left[None, :] >= R.cost[a][:, None])
            n_el = elig.sum(1)
            need = np.maximum(R.target[a] - (on_j & R.mask[a]).sum(1), 0.0)
            go = (need > 0) & (n_el > 0)
            if go.any():
                left = np.maximum(R.pace_end[a] - q, 2)
                base_rate = need / left / np.maximum(n_el, 1) * 4  # per year
                coal_mult = (m.coal_strength[:-1] / STRENGTH_REF) ** p["coalition_weight"]
                stories = STORY_FLOOR + p["success_story_weight"] * np.maximum(m.state_win_share, m.national_win_share / 2)
                story_r = np.where(R.phase1[a][:, None], np.maximum(stories, 1.0)[None, :], stories[None, :])
                neighbours = m.fixed.adjacency_share @ m.st_on   # share of neighbours with each policy
                boost = 1 + m.fed_policy_hazard()[j][:, None] + m.state_policy_hazard().T[j]
                mult = ((climate_mult * coal_mult)[None, :] * story_r
                        * (1 + p["diffusion_neighbor_weight"] * neighbours.T[j]) * boost
                        * (R.intensity[a] * m.pace)[:, None])
                mult = np.where(R.litigated[a][:, None], mult * lit[None, :], mult)
                rate = np.where(elig & go[:, None], base_rate[:, None] * mult, 0.0)
                np.maximum.at(hazard, j, rate)
        # Background (no campaign): historical rates of school-finance reform.
        for name in ("funding_bill", "weighted_funding"):
            jj = m.policy_index.get(name)
            if jj is not None:
                bg = p["background_state_reform_rate"] * (2.0 if name == "funding_bill" else 1.0) * climate_mult * lit
                hazard[jj] = np.maximum(hazard[jj], np.where(~m.st_on[:, jj], bg, 0.0))
        adopt = ua < _hazard(hazard.T)
        if adopt.any():
            m.st_on |= adopt
            m.st_ever |= adopt
            m.st_on_q[adopt] = q
            m.litigation |= adopt[:, m.policy_index["litigation"]] if "litigation" in m.policy_index else False

        # Risks: backlash against visible moves, repeal by hostile governments.
        risks.state_backlash(m, u[:, n_p + 1], u[:, :n_p])
        risks.hostile_repeal(m, u[:, n_p + 3])

        # Funding formulas move toward progressive and adequate while reforms are in force.
        ch = m.state_channels()
        rate = p["funding_reform_progressivity"] * DT
        m.spend_progress += np.where(ch.get("spending_progressivity", 0) > 0, rate, -rate / 2)
        m.adequacy_progress += np.where(ch.get("adequacy", 0) > 0, rate * np.minimum(ch.get("adequacy", 0), 1.5), -rate / 2)
        comp = np.minimum(ch.get("within_district_spending", 0) + m.fed_channel("within_district_spending"), 1.0)
        m.comparability += (comp - m.comparability) * 0.1
        clip(m.spend_progress, 0, 1, out=m.spend_progress)
        clip(m.adequacy_progress, 0, 1, out=m.adequacy_progress)


def _bernoulli(pool: np.ndarray, p: float, g) -> np.ndarray:
    """Each element of `pool` independently with probability p (by geometric gaps: the cost is
    the number drawn, not the size of the pool)."""
    n = len(pool)
    if p >= 1:
        return pool.copy()
    mean = n * p
    pos = np.cumsum(g.geometric(p, int(mean + 4 * mean ** 0.5 + 16)))
    while pos[-1] <= n:
        pos = np.concatenate([pos, pos[-1] + np.cumsum(g.geometric(p, int(mean / 4) + 16))])
    return pool[pos[pos <= n] - 1]


class _Sample:
    """A uniformly random subset of `n` districts of `pool`, drawn lazily in random order:
    `take(c)` returns the next c (the first c of a uniformly random permutation of the subset)."""

    def __init__(self, pool, n, g):
        self.pool, self.n, self.g, self.used = pool, n, g, None

    def take(self, c):
        g, pool = self.g, self.pool
        if self.used is None:   # the first take: a uniform sample in random order
            out = g.choice(len(pool), c, replace=False)
            if c < self.n:
                self.used = np.zeros(len(pool), bool)
                self.used[out] = True
            return pool[out]
        parts, got = [], 0      # later: uniform among those not yet taken
        while got < c:
            x = g.choice(len(pool), min(len(pool), 2 * (c - got) + 16), replace=False)
            x = x[~self.used[x]][:c - got]
            self.used[x] = True
            parts.append(x)
            got += len(x)
        return pool[np.concatenate(parts)]


class District(mesa.Agent):
    """A school district (a view of row `index` of the model's district arrays).

    Each quarter, all districts at once: capacity under the guide's three constraints, leadership
    turnover, adoption of programs the plan pushes, progress through each program's
    implementation timeline, fidelity and burnout, and the risks that end programs."""

    def __init__(self, model, index):
        super().__init__(model)
        self.index = index

    @property
    def state(self):
        return self.model.world.states.index[self.model.world.d_state[self.index]]

    @property
    def enrollment(self):
        return float(self.model.world.d_enroll[self.index])

    @property
    def capacity(self):
        return float(self.model.capacity[self.index])

    @property
    def programs(self) -> dict[str, str]:
        m, i = self.model, self.index
        return {k: prog.phase_names[m.phase[i, j]] for j, (k, prog) in enumerate(m.catalogue.programs.items())
                if m.active[i, j]}

    @staticmethod
    def step_all(m):
        p, q, w = m.p, m.quarter, m.world
        g = m.quarter_rng()
        strat = m.spec.strategy
        n_d = w.n_districts

        # Capacity: budget x time x buy-in (the guide's three constraints), read per district
        # where needed (model.capacity_at) from these factors, fixed for the quarter.
        cut = p["recession_budget_cut"] * (1 - strat.funding_diversification) if m.in_recession else 0.0
        support = m.plan.support_at("community_support", q)
        if support:
            clip(m.buy_in + support * 0.02, 0, 1, out=m.buy_in)
        m.set_capacity((1 - cut) * min(strat.budget_multiplier, 1.5) ** 0.5)
        # Each district without the prerequisites gains them with probability `ps` this quarter.
        ps = min(m.plan.support_at("prerequisites", q) * 0.05, 1.0)
        if ps > 0:
            m.prereq[_bernoulli(m._all_districts, ps, g)] = True

        # Leadership turnover: a new superintendent may drop programs that are neither
        # institutionalised nor run as a lens. Only districts running programs are affected.
        cd, ck = m.cells.d, m.cells.k
        if len(cd):
            reform = _nz(np.bincount(cd, minlength=n_d))
            leave = reform[g.random(len(reform)) < _hazard(p["superintendent_turnover"] * (1 + m.burnout[reform]))]
            m.count("superintendent_changes", len(leave))
            if len(leave):
                left = np.zeros(n_d, bool)
                left[leave] = True
                at_risk = _nz(left[cd] & (m.cells.phase < m.final_phase[ck]) & ~m.lens[cd])
                m.end_cells(at_risk[g.random(len(at_risk)) < p["turnover_program_loss"]], "dropped")
                m.cells.compact()

        # Adoption toward the plan's targets, within each program family's budget.
        District._adopt(m, g)

        # Implementation timeline: advance phases; weak fidelity stalls.
        c = m.cells
        c.qin += 1
        due = (c.qin >= m._phase_quarters_flat[c.k * m._n_phases + c.phase]) & (c.phase < m.final_phase[c.k])
        weak = _nz(due & (c.fid < 0.3))
        due[weak[g.random(len(weak)) < 0.5]] = False   # stalled
        adv = _nz(due)
        if len(adv):
            c.phase[adv] += 1
            c.qin[adv] = 0
            dk, kk, ph = c.d[adv], c.k[adv], c.phase[adv]
            m.phase_T[kk, dk] = ph
            m.reached_T[kk, dk] = np.maximum(m.reached_T[kk, dk], ph)

        # Fidelity drifts toward what capacity, prerequisites and support allow; burnout from
        # concurrent programs (pitfall 4) erodes it.
        rushed = 1.25 - 0.5 * strat.pacing  # fast pacing leaves less time for training and design
        d = c.d
        m.cell_capacity = m.capacity_at(d)   # also read by the risks below (cells unchanged until then)
        target = (m.cell_capacity * np.where(m.prereq[d], 1.0, 0.5) * rushed
                  * (1 + m.plan.support_at("fidelity", q)) * (1 - 0.5 * m.burnout[d]))
        c.fid += (clip(target, 0, 1) - c.fid) * 0.15
        n_active = np.bincount(d, minlength=n_d)
        m.burnout += (p["burnout_rate"] * n_active - 0.08 * (n_active == 0) - 0.02) * DT
        clip(m.burnout, 0, 1, out=m.burnout)

        # Risks that end programs: one uniform per active program, competing risks.
        u = g.random(len(c))
        lo = risks.implementation_failure(m, u)
        lo = risks.court_challenges(m, u, lo)
        risks.recession_cuts(m, u, lo)
        c.compact()

    @staticmethod
    def adoption(m):
        """This quarter's adoption hazards: returns (hazard, bound) where hazard(d, k) is the
        hazard of program k[i] in district d[i] (0 where not eligible) and bound[i] an upper
        bound of it over the candidate stratum i (`model.fixed.strata`). Call after this
        quarter's drops, before any start."""
        p, q, w = m.p, m.quarter, m.world
        F = m.fixed
        n_k, n_s, n_d = len(m.programs), m.n_states, w.n_districts
        c = m.cells
        climate_mult = (m.climate / CLIMATE_REF) ** p["climate_exponent"]
        cw = p["capacity_weight"]
        wdiff = p["diffusion_neighbor_weight"]
        n_r = w.n_regions
        # share of each region's districts running each program: (n_k, n_regions)
        peers = np.bincount(c.k * n_r + w.d_region[c.d], minlength=n_k * n_r).reshape(n_k, n_r) * F.region_inv
        lo_cap, hi_cap = m.capacity_range()
        cap_bound = (max((hi_cap / CAPACITY_REF) ** cw, (lo_cap / CAPACITY_REF) ** cw) if lo_cap > 0
                     else (hi_cap / CAPACITY_REF) ** max(cw, 0))
        # Rows pushing a program this quarter, all at once: row r of program k_r gives district d
        # the rate base[r] * ms[r, state(d)] * (district multiplier) where cond[r, d].
        R = m.rows_local
        a = R.active_at(q)
        n_a = len(a)
        base = np.zeros(n_a)
        slot = np.zeros(n_a, int)
        if n_a:
            k_a = R.k[a]
            smask = R.mask[a]
            dmask = R.dmask_el[a]
            if R.where[a].any():
                smask = smask & m.dynamic_masks()[R.where[a]]
                dmask = smask[:, w.d_state] & F.eligible_T[k_a]
            fresh = ~m.active_T & ((q - m.ended_T) >= 8)   # not running, not ended in the last two years
            cond = fresh[k_a] & dmask
            conds = {}
            for i, r in enumerate(a):
                for name in R.conds[r]:
                    if name not in conds:
                        conds[name] = m.eligibility_condition(name)
                    cond[i] &= conds[name]
            n_el = np.count_nonzero(cond, axis=1)
            act_sk = np.bincount(w.d_state[c.d] * n_k + c.k, minlength=n_s * n_k).reshape(n_s, n_k)
            need = np.maximum(R.target[a] - (R.mask[a] * act_sk[:, k_a].T).sum(1), 0.0)
            go = (need > 0) & (n_el > 0)
            base = np.where(go, need / np.maximum(R.pace_end[a] - q, 2) / np.maximum(n_el, 1) * 4, 0.0)
            stories = STORY_FLOOR + p["success_story_weight"] * np.maximum(m.state_win_share, m.national_win_share / 2)
            story = np.where(R.phase1[a][:, None], np.maximum(stories, 1.0), stories)
            st_mult = climate_mult * (m.coal_strength[:-1] / STRENGTH_REF) ** p["coalition_weight"]
            ms = (smask * st_mult * story * (1 + m.fed_program_hazard()[k_a][:, None] + m.state_program_hazard()[:, k_a].T)
                  * (R.intensity[a] * m.pace)[:, None])
            row_bound = np.zeros(n_k)
            np.maximum.at(row_bound, k_a, base * ms.max(1))
            seen, slots = {}, []
            for k in k_a.tolist():
                slots.append(seen.get(k, 0))
                seen[k] = slots[-1] + 1
            slot = np.array(slots)
        else:
            row_bound = np.zeros(n_k)
        n_plan = int(slot.max()) + 1 if n_a else 0
        # (program, slot) -> active row, or the empty row n_a (rate 0, no district eligible)
        row_of = np.full(n_k * max(n_plan, 1), n_a)
        if n_a:
            row_of[k_a * n_plan + slot] = np.arange(n_a)
            bms = np.concatenate([base[:, None] * ms, np.zeros((1, n_s))]).ravel()
            cond = np.concatenate([cond, np.zeros((1, n_d), bool)]).ravel()
        # Upper bound of each program's hazard over its pool, then thinning per stratum.
        row_bound *= cap_bound * np.maximum(1.0, 1 + wdiff * peers.max(1))
        bg_bound = F.bg_rate * climate_mult.max()
        hb = _hazard(np.maximum(row_bound[F.stratum_k] * F.stratum_size, bg_bound[F.stratum_k]))
        log_ref = np.log(CAPACITY_REF)
        peers = peers.ravel()

        def hazard(cd, ck):
            """Adoption hazard this quarter of program ck[i] in district cd[i]."""
            flat = ck * n_d + cd
            s = w.d_state[cd]
            rate = (F.bg_rate[ck] * climate_mult[s]) * ~m.active_T.ravel()[flat]
            if n_plan:
                dmult = (np.exp(cw * (m.log_capacity_at(cd) - log_ref)) * (1 + wdiff * peers[ck * n_r + w.d_region[cd]])
                         * F.size_mult_kd.ravel()[flat])
                kp = ck * n_plan
                for j in range(n_plan):
                    r = row_of[kp + j]
                    np.maximum(rate, cond[r * n_d + cd] * bms[r * n_s + s] * dmult, out=rate)
            return 1.0 - np.exp(-DT * rate)

        return hazard, hb

    @staticmethod
    def _adopt(m, g):
        """Each eligible district adopts each pushed program with the hazard of the plan's rows
        (the largest if several rows push it) or the background rate; then each family's budget
        admits the new starts in random order until the money runs out.

        Done lazily: candidates are drawn by thinning (see the module docstring), put in a
        uniformly random order, and their hazards are evaluated in growing chunks only until the
        money runs out; late in a campaign thousands of districts want a program and the budget
        admits a few dozen. The started set has the distribution of the plain rule: the random
        priority order restricted to the adopters is a uniformly random order of the adopters."""
        d, k = District.starts(m, g, *District.adoption(m))
        m.start_cells(d, k)

    @staticmethod
    def starts(m, g, hazard, hb):
        """The (districts, programs) that start this quarter, given the adoption hazards."""
        F, c = m.fixed, m.cells
        none = np.zeros(0, np.int64)
        spent = np.bincount(F.family[c.k], weights=F.size_cost[c.d] * F.base_cost[c.k], minlength=2)
        expected = F.stratum_n * hb
        new_d, new_k = [], []
        for f, fam in enumerate(("integration", "general")):
            st = _nz((F.stratum_family == f) & (hb > 0))
            if not len(st):
                continue
            money = m.family_funds(fam) - spent[f]
            if money < 0:
                continue
            if expected[st].sum() <= 2048:
                # Few candidates: draw them all (each district of a stratum independently with
                # the stratum's bound), in random order, and walk the budget once.
                parts = [_bernoulli(F.strata_pool[i], hb[i], g) for i in st]
                cnt = np.array([len(x) for x in parts])
                if not cnt.sum():
                    continue
                cd = np.concatenate(parts)
                ck = np.repeat(F.stratum_k[st], cnt)
                hk = np.repeat(hb[st], cnt)
                o = g.permutation(len(cd))
                cd, ck, hk = cd[o], ck[o], hk[o]
                adopt = _nz(g.random(len(cd)) * hk < hazard(cd, ck))
                ad, ak = cd[adopt], ck[adopt]
                fits = np.cumsum(F.size_cost[ad] * F.base_cost[ak]) <= money
                n_fit = len(fits) if fits.all() else int(np.argmin(fits))
                new_d.append(ad[:n_fit])
                new_k.append(ak[:n_fit])
                continue
            # Many candidates (late in a campaign): draw and evaluate them lazily, in growing
            # chunks of a uniformly random interleaving of the strata, until the money runs out.
            n_cand = g.binomial(F.stratum_n[st], hb[st])
            keep = n_cand > 0
            st, left = st[keep], n_cand[keep]
            S = [_Sample(F.strata_pool[i], n, g) for i, n in zip(st, left)]
            s_k, s_hb = F.stratum_k[st], hb[st]
            chunk, total = 1024, 0.0
            while True:
                n_left = int(left.sum())
                if not n_left:
                    break
                cnt = left if chunk >= n_left else g.multivariate_hypergeometric(left, chunk)
                sel = _nz(cnt)
                cd = np.concatenate([S[i].take(cnt[i]) for i in sel]) if len(sel) > 1 else S[sel[0]].take(cnt[sel[0]])
                ck = np.repeat(s_k[sel], cnt[sel])
                hk = np.repeat(s_hb[sel], cnt[sel])
                left = left - cnt
                o = g.permutation(len(cd))
                cd, ck, hk = cd[o], ck[o], hk[o]
                adopt = _nz(g.random(len(cd)) * hk < hazard(cd, ck))
                ad, ak = cd[adopt], ck[adopt]
                spend = total + np.cumsum(F.size_cost[ad] * F.base_cost[ak])
                fits = spend <= money
                n_fit = len(fits) if fits.all() else int(np.argmin(fits))
                new_d.append(ad[:n_fit])
                new_k.append(ak[:n_fit])
                if n_fit < len(fits):
                    break
                if n_fit:
                    total = float(spend[-1])
                chunk *= 8
        if not new_d:
            return none, none
        return np.concatenate(new_d), np.concatenate(new_k)


class School(mesa.Agent):
    """A school (a view of row `index` of the model's school arrays). Outcomes move toward what
    the programs, state policies and federal actions in force imply, with a lag."""

    def __init__(self, model, index):
        super().__init__(model)
        self.index = index

    @property
    def district(self) -> int:
        return int(self.model.world.s_district[self.index])

    @property
    def enrollment_by_group(self) -> dict[str, float]:
        from .world import GROUPS
        e = self.model.school_enrollment()[self.index]
        return dict(zip(GROUPS, map(float, e)))

    @property
    def per_pupil_spending(self) -> float:
        return float(self.model.school_spending()[self.index])

    @property
    def teacher_experience(self) -> float:
        return float(self.model.school_teacher_experience()[self.index])

    @staticmethod
    def step_all(m):
        """Each outcome modifier x moves toward its target T: x += (T - x) * LAG.

        Targets combine a district's own programs (their coverage x fidelity, `eff`) with state
        and federal policy, e.g. for suspensions T = 1 - (1 - eff * a) * (1 - pressure_state * b).
        Because the update is linear, x is kept as a state part (relaxing toward what policy
        alone implies, one number per state) plus a district part (relaxing toward what the
        district's programs add, nonzero only where a program has run): the sum is the same x.
        """
        p = m.p
        ch = m.state_channels()
        c = m.cells
        eff = m.cells_coverage() * c.fid
        st = m.world.d_state
        cc, im, re, ta, dt = m.k_cc, m.k_im, m.k_re, m.k_ta, m.k_dt
        O = m.outcome
        keep = 1 - LAG
        sel = {k: _nz(c.k == k) for k in (cc, im, re, ta, dt)}
        # Integration: within-district deviation kept; between-district mixing in the region.
        O.seg_gap *= keep
        i = sel[cc]
        O.seg_gap[c.d[i]] += LAG * p["controlled_choice_segregation_cut"] * eff[i]
        i = sel[im]
        region_eff = np.zeros(m.world.n_regions)
        np.maximum.at(region_eff, m.world.d_region[c.d[i]], eff[i])
        O.mix_r += (p["interdistrict_segregation_cut"] * region_eff - O.mix_r) * LAG
        # Discipline: restorative practices, state mandates, federal enforcement.
        pressure = np.minimum(ch.get("suspension", np.zeros(m.n_states)) + m.fed_channel("suspension"), 1.5)
        i = sel[re]
        d_re = c.d[i]
        for black, S, Rd in ((False, O.susp_s_nb, O.susp_d_nb), (True, O.susp_s_b, O.susp_d_b)):
            mandate = 1 - pressure * (p["discipline_mandate_cut"] + (p["discipline_mandate_black_extra_cut"] if black else 0))
            cut = p["restorative_suspension_cut"] + (p["restorative_black_extra_cut"] if black else 0.0)
            S += ((1 - mandate) - S) * LAG
            Rd *= keep
            Rd[d_re] += LAG * eff[i] * cut * mandate[st[d_re]]
        # Course access: detracking, universal screening, course-access mandates.
        ap_state = np.minimum(ch.get("ap_gap", np.zeros(m.n_states)), 1.5) * p["screening_ap_gap_cut"]
        O.ap_s += (ap_state - O.ap_s) * LAG
        O.ap_d *= keep
        i = sel[dt]
        O.ap_d[c.d[i]] += LAG * eff[i] * p["detracking_ap_gap_cut"] * (1 - ap_state[st[c.d[i]]])
        # Teachers: incentives and assignment reform, state requirements.
        t_state = np.minimum(ch.get("teacher_gap", np.zeros(m.n_states)), 1.5) * 0.5 * p["teacher_equity_gap_cut"]
        O.teach_s += (t_state - O.teach_s) * LAG
        O.teach_d *= keep
        i = sel[ta]
        O.teach_d[c.d[i]] += LAG * eff[i] * p["teacher_equity_gap_cut"] * (1 - t_state[st[c.d[i]]])
