"""What each kind of agent does, one quarter at a time.

FederalGovernment, State and Coalition are ordinary Mesa agents (1, 51 and 52 of them).
District and School are Mesa agent classes too, but their state lives in numpy arrays on the
model and their rules are applied to all of them at once (`step_all`); a District or School
object is a view of one row, created only when someone asks for it (`model.district(i)`).
"""

from __future__ import annotations

import mesa
import numpy as np

from . import risks
from .world import BLACK, HISPANIC, WHITE

DT = 0.25  # years per step
# Reference conditions at which adoption runs exactly at the plan's pace: the national mean
# climate, a coalition of middling strength, a district of average capacity.
CLIMATE_REF, STRENGTH_REF, CAPACITY_REF = 0.5, 0.5, 0.65
# Without proof points, governments move at this fraction of the plan's pace ("build on wins").
STORY_FLOOR = 0.5


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
        for i in np.flatnonzero(take):
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
        np.clip(k, 0.05, 1.0, out=k)
        np.clip(b, 0.0, 1.0, out=b)


class State(mesa.Agent):
    """A state: political climate and elections, the funding formula, adopted policies and the
    locks that protect them, litigation, and backlash."""

    def __init__(self, model, index):
        super().__init__(model)
        self.index = index
        self.code = model.world.states.index[index]

    @property
    def policies(self) -> list[str]:
        pol = self.model.catalogue.state_policies
        return [pol[j] for j in np.flatnonzero(self.model.st_on[self.index])]

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
        elect = (m.gov_election_years == m.calendar_year).any(1)
        if m.is_november:
            flips = elect & (u[:, n_p] < p["governor_flip_prob"])
            m.gov_flipped ^= flips
            m.count("leadership_changes", int(flips.sum()))
        if m.event_now("hostile_states"):
            m.gov_flipped |= m.climate0 > 0.5
        base = np.where(m.gov_flipped, 1 - m.climate0, m.climate0)
        engaged = (m.coal_breadth[:-1] >= 0.55) * m.plan.support_at("climate", q)
        m.climate_shock *= 0.92  # backlash fades with a half-life of about two years
        m.climate[:] = np.clip(base + engaged + m.climate_shock, 0.05, 0.95)

        # Adoption: each pushed row moves its states toward the row's target.
        ch = m.state_channels()
        neighbours = (m.world.adjacency @ m.st_on) / np.maximum(m.world.adjacency.sum(1), 1)[:, None]
        climate_mult = (m.climate / CLIMATE_REF) ** p["climate_exponent"]
        coal_mult = (m.coal_strength[:-1] / STRENGTH_REF) ** p["coalition_weight"]
        stories = STORY_FLOOR + p["success_story_weight"] * np.maximum(m.state_win_share, m.national_win_share / 2)
        lit = np.where(m.litigation, p["litigation_pressure"], 1.0)
        budget_left = p["state_budget_musd"] * m.spec.strategy.budget_multiplier - m.st_on @ m.policy_cost
        hazard = np.zeros((n_s, n_p))
        for row in m.active_rows(m.plan.state_rows):
            j = row.index
            mask = row.mask & m.dynamic_mask(row.where)
            for r in row.action.requires:
                mask = mask & m.st_on[:, m.policy_index[r]]
            elig = mask & ~m.st_on[:, j] & (budget_left >= row.action.cost_musd)
            need = max(row.target - m.st_on[row.mask, j].sum(), 0.0)
            if need <= 0 or not elig.any():
                continue
            left = max(row.pace_end_q - q, 2)
            base_rate = need / left / elig.sum() * 4  # per year
            mult = (climate_mult * coal_mult * _stories(stories, row) * (1 + p["diffusion_neighbor_weight"] * neighbours[:, j])
                    * (1 + m.fed_channel(f"hazard:{m.policies[j]}") + ch.get(f"hazard:{m.policies[j]}", 0))
                    * row.intensity * m.pace)
            if m.policies[j] in ("weighted_funding", "funding_bill", "adequacy_standard"):
                mult = mult * lit
            hazard[:, j] = np.maximum(hazard[:, j], np.where(elig, base_rate * mult, 0.0))
        # Background (no campaign): historical rates of school-finance reform.
        for name in ("funding_bill", "weighted_funding"):
            j = m.policy_index.get(name)
            if j is not None:
                bg = p["background_state_reform_rate"] * (2.0 if name == "funding_bill" else 1.0) * climate_mult * lit
                hazard[:, j] = np.maximum(hazard[:, j], np.where(~m.st_on[:, j], bg, 0.0))
        adopt = ua < _hazard(hazard)
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
        np.clip(m.spend_progress, 0, 1, out=m.spend_progress)
        np.clip(m.adequacy_progress, 0, 1, out=m.adequacy_progress)


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
        n_d, n_k = m.active.shape
        u_d = m.rng_risk.random((n_d, 2))
        u_prog = m.rng_risk.random((2, n_d, n_k))
        ua = m.rng_adopt.random((n_d, n_k))
        strat = m.spec.strategy

        # Capacity: budget x time x buy-in (the guide's three constraints).
        cut = p["recession_budget_cut"] * (1 - strat.funding_diversification) if m.in_recession else 0.0
        budget = np.clip(0.55 + w.d_spend_tilt * 2, 0.2, 1.0) * (1 - cut) * min(strat.budget_multiplier, 1.5) ** 0.5
        time = np.clip(1 - m.burnout, 0.1, 1)
        m.buy_in[:] = np.clip(m.buy_in + (m.plan.support_at("community_support", q) * 0.02), 0, 1)
        buy = np.clip(m.buy_in * strat.buy_in_multiplier, 0.02, 1)
        m.capacity[:] = (budget * time * buy) ** (1 / 3)
        m.prereq |= u_d[:, 1] < m.plan.support_at("prerequisites", q) * 0.05

        # Leadership turnover: a new superintendent may drop programs that are neither
        # institutionalised nor run as a lens.
        leave = u_d[:, 0] < _hazard(p["superintendent_turnover"] * (1 + m.burnout))
        reform = m.active.any(1)
        m.count("leadership_changes", int((leave & reform).sum()))
        final = m.phase >= m.final_phase[None, :]
        drop = leave[:, None] & m.active & ~final & ~m.lens[:, None] & (u_prog[1] > 1 - p["turnover_program_loss"])
        m.end_programs(drop, "dropped")

        # Adoption toward the plan's targets, within each program family's budget.
        District._adopt(m, ua)

        # Implementation timeline: advance phases; weak fidelity stalls.
        m.q_in_phase[m.active] += 1
        due = m.active & (m.q_in_phase >= m.phase_len()) & (m.phase < m.final_phase[None, :])
        stall = due & (m.fidelity < 0.3) & (u_prog[1] < 0.5)
        adv = due & ~stall
        m.phase[adv] += 1
        m.q_in_phase[adv] = 0
        m.phase_changed()
        np.maximum(m.reached, np.where(m.active, m.phase, -1), out=m.reached)

        # Fidelity drifts toward what capacity, prerequisites and support allow; burnout from
        # concurrent programs (pitfall 4) erodes it.
        rushed = 1.25 - 0.5 * strat.pacing  # fast pacing leaves less time for training and design
        target = (m.capacity[:, None] * np.where(m.prereq, 1.0, 0.5)[:, None] * rushed
                  * (1 + m.plan.support_at("fidelity", q)) * (1 - 0.5 * m.burnout[:, None]))
        m.fidelity += (np.clip(target, 0, 1) - m.fidelity) * 0.15
        n_active = m.active.sum(1)
        m.burnout += (p["burnout_rate"] * n_active - 0.08 * (n_active == 0) - 0.02) * DT
        np.clip(m.burnout, 0, 1, out=m.burnout)

        # Risks that end programs, on the (few) active programs only.
        idx = np.nonzero(m.active)
        u_act = u_prog[0][idx]
        lo = risks.implementation_failure(m, idx, u_act, 0.0)
        lo = risks.court_challenges(m, idx, u_act, lo)
        risks.recession_cuts(m, idx, u_act, lo)

    @staticmethod
    def _adopt(m, ua):
        p, q, w = m.p, m.quarter, m.world
        strat = m.spec.strategy
        n_d, n_k = m.active.shape
        ch = m.state_channels()
        climate_mult = ((m.climate / CLIMATE_REF) ** p["climate_exponent"])[w.d_state]
        coal_mult = ((m.coal_strength[:-1] / STRENGTH_REF) ** p["coalition_weight"])[w.d_state]
        cap_mult = (m.capacity / CAPACITY_REF) ** p["capacity_weight"]
        stories = (STORY_FLOOR + p["success_story_weight"] * np.maximum(m.state_win_share, m.national_win_share / 2))[w.d_state]
        peers = m.region_share_active()
        hazard = np.zeros((n_d, n_k))
        for row in m.active_rows(m.plan.local_rows):
            k = row.index
            prog = m.programs[k]
            smask = (row.mask & m.dynamic_mask(row.where))[w.d_state]
            elig = smask & m.eligible[:, k] & ~m.active[:, k] & ~m.recently_ended(k)
            for e in row.action.eligibility:
                elig &= m.eligibility_condition(e)
            count = m.active[:, k][row.mask[w.d_state]].sum()
            need = max(row.target - count, 0.0)
            if need <= 0 or not elig.any():
                continue
            left = max(row.pace_end_q - q, 2)
            base_rate = need / left / elig.sum() * 4
            fed = m.fed_channel(f"hazard:{prog.id}")
            st = ch.get(f"hazard:{prog.id}", np.zeros(m.n_states))[w.d_state]
            mult = (climate_mult * coal_mult * cap_mult * _stories(stories, row) * (1 + p["diffusion_neighbor_weight"] * peers[:, k])
                    * (1 + fed + st) * row.intensity * m.pace)
            if prog.family == "integration":
                mult = mult * m.size_mult
            hazard[:, k] = np.maximum(hazard[:, k], np.where(elig, base_rate * mult, 0.0))
        # Background spread without a campaign.
        bg = {"restorative": p["background_restorative_rate"], "controlled_choice": p["background_integration_rate"]}
        for name, rate in bg.items():
            k = m.program_index[name]
            ok = m.eligible[:, k] & ~m.active[:, k]
            hazard[:, k] = np.maximum(hazard[:, k], np.where(ok, rate * climate_mult, 0.0))
        adopt = ua < _hazard(hazard)
        if not adopt.any():
            return
        # Budgets: new starts in random priority order until the family's money runs out.
        for fam in ("integration", "general"):
            ks = m.family_programs[fam]
            cand = adopt[:, ks]
            if not cand.any():
                continue
            money = m.family_funds(fam) - (m.active[:, ks] * m.program_cost[:, ks]).sum()
            idx = np.nonzero(cand)
            order = np.argsort(ua[:, ks][idx], kind="stable")
            costs = m.program_cost[:, ks][idx][order]
            ok = np.cumsum(costs) <= money
            keep = np.zeros_like(cand)
            keep[idx[0][order][ok], idx[1][order][ok]] = True
            adopt[:, ks] = keep
        m.start_programs(adopt)


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
        p, q = m.p, m.quarter
        lag = 0.15  # share of the distance to the new level closed each quarter
        ch = m.state_channels()
        st = m.world.d_state
        eff = m.coverage() * m.fidelity * m.active  # (n_d, n_k), 0-1
        cc, im, re, ta, dt = (m.program_index[k] for k in
                              ("controlled_choice", "interdistrict_magnet", "restorative", "teacher_assignment", "detracking"))
        # Integration: within-district deviation kept; between-district mixing in the region.
        keep_target = 1 - p["controlled_choice_segregation_cut"] * eff[:, cc]
        region_eff = np.zeros(m.world.n_regions)
        np.maximum.at(region_eff, m.world.d_region, eff[:, im])
        mix_target = p["interdistrict_segregation_cut"] * region_eff[m.world.d_region]
        m.seg_keep += (keep_target - m.seg_keep) * lag
        m.inter_mix += (mix_target - m.inter_mix) * lag
        # Discipline: restorative practices, state mandates, federal enforcement.
        pressure = np.minimum(ch.get("suspension", 0)[st] + m.fed_channel("suspension"), 1.5)
        rest = eff[:, re]
        for g in range(4):
            black = g == BLACK
            mandate = 1 - pressure * (p["discipline_mandate_cut"] + (p["discipline_mandate_black_extra_cut"] if black else 0))
            extra = p["restorative_black_extra_cut"] if black else 0.0
            target = 1 - (1 - rest * (p["restorative_suspension_cut"] + extra)) * mandate
            m.susp_cut[:, g] += (target - m.susp_cut[:, g]) * lag
        # Course access: detracking, universal screening, course-access mandates.
        ap_state = np.minimum(ch.get("ap_gap", 0)[st], 1.5)
        ap_target = 1 - (1 - eff[:, dt] * p["detracking_ap_gap_cut"]) * (1 - ap_state * p["screening_ap_gap_cut"])
        m.ap_cut += (ap_target - m.ap_cut) * lag
        # Teachers: incentives and assignment reform, state requirements.
        t_state = np.minimum(ch.get("teacher_gap", 0)[st], 1.5) * 0.5
        t_target = 1 - (1 - eff[:, ta] * p["teacher_equity_gap_cut"]) * (1 - t_state * p["teacher_equity_gap_cut"])
        m.teach_cut += (t_target - m.teach_cut) * lag
