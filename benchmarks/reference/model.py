"""The equitysim rules written the plain Mesa way: one Python object per district and school.

This is the specification the fast model (`equitysim.model`) is checked against, not a second
product: it is never imported by the package. It reuses what is deterministic (the world builder,
the plan compiler, the catalogue, the parameters, the metric and indicator functions) and writes
every rule of a quarter plainly, agent by agent, with Python floats and one `random()` per
decision. Agents act in stages (`agents.do("stage")`), so that, as in the vectorised model, every
agent of a stage sees the state at the start of that stage; where the order matters (who is funded
first) agents are shuffled.

    quarter: federal (election, enactment or hostile repeal) -> business cycle -> federal
             recession cuts -> coalitions -> political capital recovers -> states (politics,
             adoption, backlash, hostile repeal, opposition, funding formula) -> districts
             (capacity and turnover, adoption, budgets, implementation and risks) -> outcome
             modifiers
    year end: reflect on results -> wins add capital -> schools and districts accumulate
              outcomes -> measure
    between quarters (adaptive plans): the [[adapt]] rules' signposts read from the agents; a rule
              that fires rewrites the timetable (recompiled by the plan compiler) or a strategy knob

Adoption is behaviour, never a plan's pace: a pushed action's hazard is the push rate x the
effort (diminishing returns) x climate, coalition, proof points, diffusion, boosts, constituency,
opposition drag, and for governments political capital and agenda crowding, for districts
capacity and size; the catalogue's targets are not read here.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from equitysim import indicators as ind
from equitysim import metrics as M
from equitysim.actions import default_catalogue
from equitysim.adequacy import required_ratio
from equitysim.mechanisms.adaptation import Adaptation, indicator_signposts
from equitysim.mechanisms.elections import START_YEAR, election_calendar
from equitysim.model import RISK_COUNTS, world_for
from equitysim.plan import compile_plan
from equitysim.world import BLACK, HISPANIC, WHITE

DT = 0.25   # years per quarter
FUNDING_POLICIES = ("weighted_funding", "adequacy_standard", "property_tax_reform")
LITIGATED = ("weighted_funding", "funding_bill", "adequacy_standard")
BACKGROUND = {"restorative": "background_restorative_rate", "controlled_choice": "background_integration_rate"}


def hazard(rate_per_year: float) -> float:
    """Probability of an event this quarter for a yearly rate."""
    return 1.0 - math.exp(-max(rate_per_year, 0.0) * DT)


def clip(x, lo, hi):
    return lo if x < lo else hi if x > hi else x


class Federal(mesa.Agent):
    def __init__(self, model):
        super().__init__(model)
        self.supportive = True
        self.capital = model.p["capital_initial"]   # the administration's political capital (0-1)
        self.on = {a.id: False for a in model.catalogue.federal_actions}
        self.ever = dict(self.on)
        self._channels = {}   # a cache: channel -> size, cleared by set()

    def set(self, action: str, on: bool):
        self.on[action] = on
        self.ever[action] |= on
        self._channels = {}

    def channel(self, name: str) -> float:
        """Size of a channel over the federal actions in force."""
        if name not in self._channels:
            self._channels[name] = sum(e.size for a in self.model.catalogue.federal_actions if self.on[a.id]
                                       for e in a.effects if e.channel == name)
        return self._channels[name]

    def lose_election(self):
        self.capital *= self.model.p["capital_election_keep"]

    def step(self):
        m, p, q, rnd = self.model, self.model.p, self.model.quarter, self.model.random.random
        # organised opposition makes a favourable administration likelier to lose
        flip_p = p["federal_flip_prob"] * ((1 + p["opposition_electoral_weight"] * m.national_opposition()) if self.supportive else 1.0)
        if m.is_november and m.calendar_year % 4 == 0 and rnd() < flip_p:
            if self.supportive:
                self.lose_election()
            self.supportive = not self.supportive
            m.counts["leadership_changes"] += 1
        if m.event_now("hostile_federal") and self.supportive:
            self.supportive = False
            self.lose_election()
            m.counts["leadership_changes"] += 1
        actions = m.catalogue.federal_actions
        if not self.supportive:
            locked = self.channel("lock:federal") > 0
            # guidance and regulations rescinded; unlocked laws may be repealed, unlocked appropriations cut
            for a in actions:
                if not self.on[a.id]:
                    continue
                if a.kind != "law":
                    self.set(a.id, False)
                elif not locked:
                    h = hazard(p["hostile_repeal_prob"] * p["federal_law_repeal_share"])
                    if a.cost_musd > 0:   # a cut is a second, independent way to end it
                        h = 1 - (1 - h) * (1 - hazard(p["hostile_appropriation_cut"]))
                    if rnd() < h:
                        self.set(a.id, False)
            return
        window = [i for i, a in enumerate(actions) if m.plan.fed_start[i] <= q < m.plan.fed_end[i] and not self.on[a.id]]
        if not window:
            return
        n_laws = sum(1 for i in window if actions[i].kind == "law")
        stories = p["story_floor"] + p["success_story_weight"] * m.national_win_share
        coalition = (m.national_coalition.strength / p["coalition_strength_reference"]) ** p["coalition_weight"]
        crowding = self.capital / (1 + p["agenda_crowding"] * max(n_laws - 1, 0))
        drag = math.exp(-p["opposition_drag"] * m.national_opposition())
        budget = p["federal_budget_musd"] * m.spec.strategy.budget_multiplier
        if m.recession_left > 0:
            budget *= 1 - p["recession_federal_cut"]
        rates = {"certain": p["federal_law_rate_certain"], "high": p["federal_law_rate_high"], "moderate": p["federal_law_rate_moderate"],
                 "low": p["federal_law_rate_low"]}
        take = []
        for i in window:
            a = actions[i]
            if a.kind != "law" or rnd() < hazard(rates[a.feasibility] * m.effort(m.plan.fed_intensity[i] * m.pace)
                                                  * stories * coalition * crowding * drag):
                take.append(a)
        for a in take:   # the federal budget caps what can be in force
            if sum(b.cost_musd for b in actions if self.on[b.id]) + a.cost_musd <= budget:
                self.set(a.id, True)
                if a.kind == "law":   # a law spends the administration's capital by its weight
                    self.capital = max(0.0, self.capital - p["capital_enactment_cost"] * max(a.backlash, p["capital_min_weight"]))

    def recession_cuts(self):
        """In a recession the roadmap's federal budget shrinks; unlocked appropriations are cut,
        the most expensive first, until what is in force fits."""
        m, p = self.model, self.model.p
        if m.recession_left <= 0 or self.channel("lock:federal") > 0:
            return
        actions = m.catalogue.federal_actions
        budget = p["federal_budget_musd"] * m.spec.strategy.budget_multiplier * (1 - p["recession_federal_cut"])
        for a in sorted(actions, key=lambda a: -a.cost_musd):   # stable: catalogue order among equal costs
            if sum(b.cost_musd for b in actions if self.on[b.id]) <= budget:
                break
            if self.on[a.id] and a.kind == "law" and a.cost_musd > 0:
                self.set(a.id, False)
                m.counts["funding_cuts"] += 1

    def regenerate(self):
        p = self.model.p
        self.capital += p["capital_regeneration"] * DT * (1 + p["capital_breadth_weight"] * self.model.national_coalition.breadth) * (1 - self.capital)


class Coalition(mesa.Agent):
    def __init__(self, model, breadth):
        super().__init__(model)
        self.breadth, self.strength, self.last_win = breadth, model.p["coalition_initial_strength"], -100

    def step(self):
        m, p = self.model, self.model.p
        support = min(1.0, p["coalition_support_floor"] + m.support("coalition_growth") * p["coalition_support_weight"])
        self.breadth += p["coalition_growth"] * m.spec.strategy.coalition_investment * support * DT * (1 - self.breadth)
        won = (m.quarter - self.last_win) < p["coalition_win_memory_quarters"]
        target = p["coalition_strength_floor"] + p["coalition_strength_breadth_weight"] * self.breadth + p["coalition_strength_win_bonus"] * won
        self.strength += (target - self.strength) * p["coalition_strength_adjustment"] - p["coalition_fatigue"] * DT * (not won)
        self.strength = clip(self.strength, p["coalition_strength_min"], 1.0)
        self.breadth = clip(self.breadth, 0.0, 1.0)


class State(mesa.Agent):
    def __init__(self, model, index, row, elections):
        super().__init__(model)
        self.index, self.code = index, row.name
        self.climate0 = self.climate = float(row["climate"])
        self.shock = 0.0
        self.flipped = False
        self.litigation = bool(row["litigation_pending"])
        self.favorable = bool(row["favorable"])
        self.elections = elections
        self.on = {j: False for j in model.policies}
        self.ever = dict(self.on)
        self.on_q = dict.fromkeys(model.policies, -1)
        self._channels = {}   # a cache: channel -> size, cleared by set()
        self.spend_progress = self.adequacy_progress = self.comparability = 0.0
        self.win_share = 0.0
        self.capital = model.p["capital_initial"]   # political capital of the state government (0-1)
        self.opposition = 0.0                      # organised opposition (0-1)
        self.districts: list[District] = []
        self.coalition: Coalition = None
        self.neighbours: list[State] = []

    def set(self, policy: str, on: bool):
        self.on[policy] = on
        if on:
            self.ever[policy] = True
            self.on_q[policy] = self.model.quarter
        self._channels = {}

    def channel(self, name: str) -> float:
        """Size of a channel over the policies in force (per policy, the largest of its rows)."""
        if name not in self._channels:
            self._channels[name] = sum(self.model.policy_effect[j].get(name, 0.0) for j, on in self.on.items() if on)
        return self._channels[name]

    def locked(self, policy: str) -> bool:
        if not self.model.spec.strategy.lock_in:
            return False
        return self.channel("lock:state") >= 1 or (self.channel("lock:funding") > 0 and policy in FUNDING_POLICIES)

    def constituency(self) -> float:
        """Beneficiaries of the reforms in force: popular reforms (low backlash weight) count most."""
        return sum(1 - self.model.policy_backlash[j] for j, on in self.on.items() if on)

    def favourable_government(self) -> bool:
        base = 1 - self.climate0 if self.flipped else self.climate0
        return base >= self.model.p["climate_reference"]

    def politics(self):
        m, p = self.model, self.model.p
        if m.is_november and m.calendar_year in self.elections:
            favourable = self.favourable_government()
            flip_p = p["governor_flip_prob"] * ((1 + p["opposition_electoral_weight"] * self.opposition) if favourable else 1.0)
            if m.random.random() < flip_p:
                self.flipped = not self.flipped
                m.counts["leadership_changes"] += 1
                if favourable:   # a favourable government voted out
                    self.capital *= p["capital_election_keep"]
        if m.event_now("hostile_states") and not self.flipped and self.climate0 > p["hostile_event_climate"]:
            self.flipped = True
            self.capital *= p["capital_election_keep"]
        base = 1 - self.climate0 if self.flipped else self.climate0
        engaged = (self.coalition.breadth >= p["coalition_electoral_breadth"]) * m.support("climate")
        self.shock *= p["climate_shock_decay"]
        self.climate = clip(base + engaged + self.shock, p["climate_min"], p["climate_max"])

    def regenerate(self):
        p = self.model.p
        self.capital += p["capital_regeneration"] * DT * (1 + p["capital_breadth_weight"] * self.coalition.breadth) * (1 - self.capital)

    def decide(self):
        """Which policies this state adopts this quarter (applied in `enact`, after every state
        has decided on the same start-of-stage state). A pushed policy's yearly rate: push rate x
        effort x climate x coalition x capital and agenda crowding x opposition drag x
        constituency x proof points x neighbours x boosts (x litigation for funding policies)."""
        m, p = self.model, self.model.p
        rows = [row for row in m.state_rows if row.eligible is not None and row.eligible[self.index]]
        n_pushed = len({row.policy for row in rows})   # distinct policies pushed at once here
        climate_mult = (self.climate / p["climate_reference"]) ** p["climate_exponent"]
        coal_mult = (self.coalition.strength / p["coalition_strength_reference"]) ** p["coalition_weight"]
        crowding = self.capital / (1 + p["agenda_crowding"] * max(n_pushed - 1, 0))
        drag = math.exp(-p["opposition_drag"] * self.opposition)
        constituency = 1 + p["constituency_effect"] * self.constituency()
        stories = p["story_floor"] + p["success_story_weight"] * max(self.win_share, m.national_win_share / 2)
        lit = p["litigation_pressure"] if self.litigation else 1.0
        rate = dict.fromkeys(m.policies, 0.0)
        for row in rows:   # rows pushing a policy here this quarter (model.plan_state_rows)
            j = row.policy
            neighbours = sum(s.on[j] for s in self.neighbours) / max(len(self.neighbours), 1)
            r = (p["state_push_rate"] * m.effort(row.intensity * m.pace)
                 * climate_mult * coal_mult * crowding * drag * constituency
                 * (max(stories, 1.0) if row.phase1 else stories)
                 * (1 + p["diffusion_neighbor_weight"] * neighbours)
                 * (1 + m.federal.channel(f"hazard:{j}") + m.support(f"hazard:{j}") + self.channel(f"hazard:{j}")))
            rate[j] = max(rate[j], r * lit if j in LITIGATED else r)
        # historical background rates without any campaign
        for j, r in (("funding_bill", p["background_state_reform_rate"] * p["background_funding_bill_multiplier"] * climate_mult * lit),
                     ("weighted_funding", p["background_state_reform_rate"] * climate_mult * lit),
                     ("discipline_mandate", p["background_discipline_rate"] * climate_mult)):
            if j in rate and not self.on[j]:
                rate[j] = max(rate[j], r)
        self.adopting = [j for j in m.policies if m.random.random() < hazard(rate[j])]

    def enact(self):
        p = self.model.p
        spent = 0.0
        for j in self.adopting:
            self.set(j, True)
            spent += max(self.model.policy_backlash[j], p["capital_min_weight"]) * p["capital_enactment_cost"]
        if self.adopting:
            self.capital = clip(self.capital - spent, 0.0, 1.0)
        if self.channel("litigation") > 0:   # litigation filed keeps pressure on
            self.litigation = True

    def visibility(self) -> float:
        """Contested policies in force plus visible program coverage per diverse district, capped,
        times plan support."""
        m, p = self.model, self.model.p
        vis_policy = sum(m.policy_backlash[j] for j, on in self.on.items() if on)
        vis_prog = sum(m.coverage(k, prog.phase) * m.programs[k].visible for d in self.districts for k, prog in d.programs.items())
        diverse = max(sum(d.any_eligible for d in self.districts), 1)
        return (clip(vis_policy * p["backlash_policy_visibility_weight"] + vis_prog / diverse * p["backlash_program_visibility_weight"],
                     0, p["backlash_visibility_max"]) * max(p["backlash_visibility_support_floor"], 1 + m.support("visibility")))

    def damping(self) -> float:
        p = self.model.p
        return 1 - clip(p["backlash_coalition_damping"] * self.coalition.breadth + self.model.support("backlash_damping"), 0, p["backlash_damping_max"])

    def backlash(self):
        m, p = self.model, self.model.p
        rate = (p["backlash_rate"] * self.visibility() * (p["pacing_risk_offset"] + m.spec.strategy.pacing) * self.damping()
                * (1 + p["opposition_backlash_weight"] * self.opposition))
        if not m.random.random() < hazard(rate):
            return
        m.counts["backlash_events"] += 1
        self.shock -= p["backlash_climate_hit"]
        self.coalition.strength *= p["backlash_strength_keep"]
        self.capital = max(self.capital - p["capital_backlash_loss"], 0.0)
        against = 1 + p["opposition_repeal_weight"] * self.opposition
        repeal_p = (p["backlash_repeal_prob"] * (1 - min(m.support("backlash_repeal_cut"), p["backlash_repeal_cut_max"]))
                    * against / (1 + p["constituency_effect"] * self.constituency()))
        locked = {j: self.locked(j) for j in self.on}
        for j in m.policies:   # unlocked, visible policies may be repealed
            if self.on[j] and m.policy_backlash[j] >= p["backlash_repeal_min_weight"] and not locked[j] and m.random.random() < repeal_p:
                self.set(j, False)
        for d in self.districts:   # visible programs stall, or are reversed where weakly rooted
            for k in list(d.programs):
                if m.random.random() < p["backlash_reversal_share"] * against * m.programs[k].visible:
                    if d.programs[k].fid < p["rooted_fidelity"]:
                        d.end(k, "reversed")
                    else:
                        d.programs[k].fid *= p["backlash_stall_fidelity_keep"]
        # the event recruits: organised opposition gains a share of its remaining room
        self.opposition += p["backlash_opposition_gain"] * (1 - self.opposition)

    def hostile_repeal(self):
        m = self.model
        if self.climate >= m.p["hostile_climate"]:
            return
        unlocked = [j for j in m.policies if self.on[j] and not self.locked(j)]
        if unlocked and m.random.random() < hazard(m.p["hostile_repeal_prob"]) / (1 + m.p["constituency_effect"] * self.constituency()):
            self.set(m.random.choice(unlocked), False)

    def grow_opposition(self):
        """Organised opposition grows with visibility and the contested rows pushed here, faster
        with fast pacing and race-conscious designs, damped by coalition breadth; it decays slowly."""
        m, p, s = self.model, self.model.p, self.model.spec.strategy
        pushed = sum(row.row.action.backlash * m.effort(row.intensity * m.pace) for row in m.state_rows + m.local_rows
                     if row.row.start_q <= m.quarter < row.row.end_q and row.row.mask[self.index]
                     and not (row in m.state_rows and self.on[row.policy]))   # enacted: no longer a campaign
        pushed = p["opposition_push_weight"] * (pushed + m.plan.support_backlash_at(m.quarter))
        race = 1 + p["race_conscious_opposition"] * (s.legal_design == "race_conscious")
        drive = (self.visibility() + pushed) * (p["pacing_risk_offset"] + s.pacing) * race * self.damping()
        O = self.opposition
        self.opposition = clip(O + (p["opposition_growth"] * drive * (1 - O) - p["opposition_decay"] * O) * DT, 0.0, 1.0)

    def add_win_capital(self):
        self.capital = clip(self.capital + self.model.p["capital_win_gain"] * self.win_share, 0.0, 1.0)

    def funding(self):
        m, p = self.model, self.model.p
        rate = p["funding_reform_progressivity"] * DT
        self.spend_progress += rate if self.channel("spending_progressivity") > 0 else -rate * p["formula_decay_share"]
        adequacy = self.channel("adequacy")
        self.adequacy_progress += rate * min(adequacy, p["policy_channel_cap"]) if adequacy > 0 else -rate * p["formula_decay_share"]
        comp = min(self.channel("within_district_spending") + m.federal.channel("within_district_spending"), 1.0)
        self.comparability += (comp - self.comparability) * p["comparability_adjustment"]
        self.spend_progress = clip(self.spend_progress, 0, 1)
        self.adequacy_progress = clip(self.adequacy_progress, 0, 1)


class Program:
    """One program running in one district (with what the reflect step needs: started as a
    pilot, the district's cut in its gap at the start, refined once, start quarter, quarters
    with schools reached, designed for the root cause)."""

    def __init__(self, phase, fid, pilot=False, start_cut=0.0, start_q=0, root=True):
        self.phase, self.qin, self.fid = phase, 0, fid
        self.pilot, self.start_cut, self.refined, self.start_q, self.reached_q = pilot, start_cut, False, start_q, 0
        self.root = root


class District(mesa.Agent):
    def __init__(self, model, i, w):
        super().__init__(model)
        self.index = i
        self.leaid, self.name = str(w.districts["leaid"].iloc[i]), str(w.districts["name"].iloc[i])  # the real district
        self.state: State = None
        self.region = int(w.d_region[i])
        self.enroll = float(w.d_enroll[i])
        self.share = [float(x) for x in w.d_share[i]]
        self.tilt = float(w.d_spend_tilt[i])
        self.n_schools = int(w.d_nschools[i])
        self.diverse = bool(w.d_diverse[i])
        self.adequacy_required = float(model.adequacy_required[i])
        self.community, self.union, self.principal = bool(w.d_community[i]), bool(w.d_union[i]), bool(w.d_principal[i])
        self.prereq, self.lens, self.buy_in = bool(w.d_prereq[i]), bool(w.d_lens[i]), float(w.d_buy_in[i])
        self.burnout = self.capacity = 0.0
        self.programs: dict[int, Program] = {}
        self.reached = [-1] * len(model.programs)
        self.ended = [-100] * len(model.programs)
        # outcome modifiers
        self.seg_keep, self.inter_mix = 1.0, 0.0
        self.susp_cut, self.ap_cut, self.teach_cut = [0.0] * 4, 0.0, 0.0
        self.gain_minority = self.grad_minority = 0.0
        self.program_wins = 0
        self.schools: list[School] = []
        self.can = [self.eligible(k) for k in range(len(model.programs))]
        self.any_eligible = any(self.can)
        # the practitioner's cycle
        self.learning, self.feedback, self.staff_turnover = 0.0, 0.0, 0.0
        self.focus, self.fit = -1, [1.0] * len(model.programs)
        self.abandoned: set[int] = set()
        self.win_streak = self.pressure_years = 0
        self.budget = 1.0

    def eligible(self, k: int) -> bool:
        """Controlled choice needs a diverse multi-school district, an interdistrict program another
        district in the region; teacher assignment two schools."""
        channel = self.model.programs[k].channel
        if channel == "segregation":
            return self.diverse
        if channel == "interdistrict":
            return self.model.region_size[self.region] >= 2
        if channel == "teacher_gap":
            return self.n_schools >= 2
        return True

    def condition(self, name: str) -> bool:
        """The guide's eligibility conditions for a row."""
        if name == "diverse_enrollment":
            return self.diverse
        if name == "mixed_region":
            return self.model.region_size[self.region] >= 2
        if name == "community_support":
            return self.community or self.buy_in > self.model.p["community_support_buy_in"]
        if name == "union_cooperation":
            return self.union
        return self.principal or self.prereq   # principal_leadership

    def end(self, k: int, reason: str):
        del self.programs[k]
        self.ended[k] = self.model.quarter
        self.model.outcomes[reason][k] += 1

    def start(self, k: int):
        m, p = self.model, self.model.p
        # Without the guide's prerequisites a district adopts on paper, at low fidelity; with low
        # buy-in it starts as a volunteer pilot whatever the strategy.
        low = self.buy_in < p["low_buy_in_threshold"]
        phase = 0 if low else m.start_phase[k]
        self.programs[k] = Program(phase, self.capacity * (p["start_fidelity_prepared"] if self.prereq else p["start_fidelity_unprepared"]),
                                   low or m.spec.strategy.pilot_first, self.cut_of(k), m.quarter, self.finds_root_cause(k))
        self.reached[k] = max(self.reached[k], phase)
        m.outcomes["started"][k] += 1

    # ------------------------------------------------------------ the practitioner's cycle
    def cut_of(self, k: int) -> float:
        """The cut now in program k's gap in this district (all policy and program parts)."""
        ch = self.model.programs[k].channel
        if ch == "suspension":
            return self.susp_cut[BLACK]
        if ch == "ap_gap":
            return self.ap_cut
        if ch == "teacher_gap":
            return self.teach_cut
        if ch == "segregation":
            return 1 - self.seg_keep
        return self.inter_mix

    def finds_root_cause(self, k: int) -> bool:
        """The design of program k reaches the real barrier behind the gap: the barrier's
        hiddenness below the district's chance of finding it (its miss part cut by learning)."""
        p = self.model.p
        found = p["root_cause_found_prepared"] if self.prereq else p["root_cause_found_unprepared"]
        return self.hidden[k] < 1 - (1 - found) * (1 - self.learning)

    def supported(self, k: int) -> bool:
        """Community and staff support the program (every condition of its local rows)."""
        return all(self.condition(c) for c in self.model.program_conditions[k])

    def diagnose(self):
        """Focus: the eligible program with the largest log own gap + support + spread x habit;
        fit: each program's own gap over the largest."""
        m, p = self.model, self.model.p
        self.own = own = [self.gap[m.domain[k]] * (1 - min(self.cut_of(k), 1)) if self.can[k] else 0.0
                          for k in range(len(m.programs))]
        top = max(own)
        self.fit = [o / top if top > 0 else 1.0 for o in own]
        spread = (p["diagnosis_noise_prepared"] if self.prereq else p["diagnosis_noise_unprepared"]) * (1 - self.learning)
        best, self.focus = -math.inf, -1
        for k, o in enumerate(own):
            if o > 0 and k not in self.abandoned:
                score = math.log(o) + p["diagnosis_support_weight"] * self.supported(k) + spread * self.habit[k]
                if score > best:
                    best, self.focus = score, k
        # normalisations: focus weights and the cost preference (at today's budget pressure)
        # average one over the district's eligible programs
        n = max(sum(self.can), 1)
        norm = n / (p["focus_adoption_mult"] + p["off_focus_adoption_mult"] * (n - 1))
        tight = clip(1 - self.budget, 0, 1)
        z = sum(math.exp(m.cost_slope[k] * tight) for k in range(len(m.programs)) if self.can[k]) / n
        self.weight_scale = norm / max(z, 1e-300)

    def time_short(self) -> bool:
        return 1 - self.burnout < self.model.p["time_short_threshold"]

    def cap(self) -> int:
        return 1 if self.time_short() else int(self.model.p["max_concurrent_programs"])

    def design_weight(self, k: int) -> float:
        """The design weight of program k's adoption hazard this quarter."""
        m, p = self.model, self.model.p
        if len(self.programs) >= self.cap():
            return 0.0
        wt = (p["focus_adoption_mult"] if k == self.focus else p["off_focus_adoption_mult"]) * self.weight_scale
        wt *= math.exp(m.cost_slope[k] * clip(1 - self.budget, 0, 1))
        if self.time_short():
            wt *= 1 + p["tested_design_weight"] * m.region_active[self.region][k] / m.region_size[self.region]
        if k in self.abandoned:
            wt *= p["abandoned_adoption_keep"]
        return wt

    def size_cost(self) -> float:
        p = self.model.p
        return min(max(self.enroll / p["district_cost_medium_enrollment"], p["district_cost_size_min"]), p["district_cost_size_max"])

    def capacity_and_turnover(self):
        m, p, s = self.model, self.model.p, self.model.spec.strategy
        cut = p["recession_budget_cut"] * (1 - s.funding_diversification) if m.recession_left > 0 else 0.0
        # the money school-finance reform has brought (spending now over baseline) adds budget room
        reform = (self.spending_ratio() / (1 + self.tilt)) ** p["budget_spending_elasticity"]
        budget = (clip(p["budget_base"] + self.tilt * p["budget_tilt_slope"], p["budget_min"], p["budget_max"]) * (1 - cut)
                  * min(s.budget_multiplier, p["budget_multiplier_cap"]) ** p["budget_capacity_exponent"] * reform
                  * (1 - p["enrollment_budget_elasticity"] * self.enrollment_loss()))   # students who left
        self.buy_in = clip(self.buy_in + m.support("community_support") * p["community_support_buy_in_gain"], 0, 1)
        time, buy = clip(1 - self.burnout, p["capacity_time_min"], 1), clip(self.buy_in * s.buy_in_multiplier, p["capacity_buy_in_min"], 1)
        self.capacity = (budget * time * buy) ** (1 / 3)
        self.budget = budget
        ps = min(m.support("prerequisites") * p["prerequisite_gain_per_support"], 1.0)
        if ps > 0 and not self.prereq and m.random.random() < ps:
            self.prereq = True
        if self.programs:
            m.cycle_stats["reform_years"] += DT
        if self.programs and m.random.random() < hazard(p["superintendent_turnover"] * (1 + self.burnout)):
            m.counts["superintendent_changes"] += 1   # a new superintendent may drop programs
            self.feedback = 0.0                       # and the frontline-feedback loop starts again
            for k in list(self.programs):
                if self.programs[k].phase < m.final_phase[k] and not self.lens and m.random.random() < p["turnover_program_loss"]:
                    self.end(k, "dropped")

    def adopt(self):
        """Wish to start each program this district is eligible for, with the hazard of the rows
        pushing it (the largest) or the background rate; the model funds the wishes. A pushed
        program's yearly rate: push rate x effort x climate x coalition x opposition drag x
        constituency x proof points x boosts x capacity x regional peers (x size for integration)."""
        m, p = self.model, self.model.p
        st = self.state
        climate_mult = (st.climate / p["climate_reference"]) ** p["climate_exponent"]
        coal_mult = (st.coalition.strength / p["coalition_strength_reference"]) ** p["coalition_weight"]
        drag = math.exp(-p["opposition_drag"] * st.opposition)
        constituency = 1 + p["constituency_effect"] * st.constituency()
        cap_mult = (self.capacity / p["capacity_reference"]) ** p["capacity_weight"]
        stories = p["story_floor"] + p["success_story_weight"] * max(st.win_share, m.national_win_share / 2)
        for k, prog in enumerate(m.programs):
            if k in self.programs or not self.can[k]:
                continue
            rate = p[BACKGROUND[prog.id]] * climate_mult if prog.id in BACKGROUND else 0.0
            fresh = m.quarter - self.ended[k] >= p["readoption_lockout_quarters"]
            for row in m.rows_for[k]:   # the rows pushing program k this quarter
                if not fresh or not row.states[st.index]:
                    continue
                if row.row.districts is not None and not row.row.districts[self.index]:
                    continue   # a `where` list naming districts pushes only in those (and its states')
                if not all(self.condition(c) for c in row.conditions):
                    continue
                peers = m.region_active[self.region][k] / m.region_size[self.region]
                effort = row.intensity * m.pace
                r = (p["district_push_rate"] * m.effort(effort)
                     * climate_mult * coal_mult * drag * constituency * cap_mult * (max(stories, 1.0) if row.phase1 else stories)
                     * (1 + p["diffusion_neighbor_weight"] * peers)
                     * (1 + m.federal.channel(f"hazard:{prog.id}") + st.channel(f"hazard:{prog.id}")))
                if prog.family == "integration":   # larger districts have the central office for it
                    r *= (self.enroll / m.median_enroll) ** p["size_adoption_elasticity"]
                rate = max(rate, r)
            if m.random.random() < hazard(rate * self.design_weight(k)):
                m.wishes.append((self, k))

    def technical_assistance(self) -> float:
        """The strategy's, federal, plan and state technical assistance (0-1)."""
        m, p, s = self.model, self.model.p, self.model.spec.strategy
        return min(1.0, s.technical_assistance * p["ta_strategy_weight"] + m.federal.channel("ta") + m.support("ta")
                   + self.state.channel("ta"))

    def implement(self):
        m, p, s = self.model, self.model.p, self.model.spec.strategy
        for k, prog in self.programs.items():   # the implementation timeline; weak fidelity stalls
            prog.qin += 1
            if prog.qin >= m.phase_quarters[k][prog.phase] and prog.phase < m.final_phase[k]:
                if not (prog.fid < p["stall_fidelity"] and m.random.random() < p["stall_prob"]):
                    prog.phase += 1
                    prog.qin = 0
                    self.reached[k] = max(self.reached[k], prog.phase)
        rushed = p["rush_base"] - p["rush_per_pacing"] * s.pacing
        ta = self.technical_assistance()
        n = len(self.programs)
        attention = 1 + p["attention_cost"] * max(n - 1, 0)   # limited leadership attention
        # the frontline-feedback loop: listening over leadership attention
        listen = (1.0 if self.prereq else p["feedback_unprepared_share"]) / attention if n else 0.0
        self.feedback += (listen - self.feedback) * p["feedback_adjustment"]
        self.staff_turnover = (p["staff_turnover_base"] * (1 + p["staff_turnover_burnout"] * self.burnout)
                               * (1 - p["stipend_retention"] * s.release_time))
        loss = p["staff_turnover_fidelity_loss"] * hazard(self.staff_turnover)
        base = (self.capacity * (1.0 if self.prereq else p["fidelity_unprepared_share"]) * rushed * (1 + m.support("fidelity"))
                * (1 + p["ta_fidelity_gain"] * ta) * (1 - p["burnout_fidelity_cut"] * self.burnout) / attention
                * (1 + p["feedback_fidelity_gain"] * self.feedback))
        for k, prog in self.programs.items():
            fit = ((p["misfit_fidelity_share"] + (1 - p["misfit_fidelity_share"]) * self.fit[k])
                   * (1.0 if prog.root else p["root_cause_miss_share"]))
            prog.fid += (clip(base * fit, 0, 1) - prog.fid) * p["fidelity_adjustment"]
            prog.fid *= 1 - loss
            prog.reached_q += m.coverage(k, prog.phase) > 0
        growth = 1 - p["rotation_burnout_cut"] * s.leadership_rotation
        extra = p["release_recovery"] * s.release_time * (n > 0)
        self.burnout = clip(self.burnout + (p["burnout_rate"] * growth * n - p["burnout_recovery_idle"] * (n == 0) - p["burnout_recovery"]
                                            - extra) * DT, 0, 1)
        # Competing risks: one uniform per program, each risk claims a slice of it.
        race = s.legal_design == "race_conscious"
        for k in list(self.programs):
            prog, u = self.programs[k], m.random.random()
            fail_rate = (p["implementation_failure_rate"] * (1 - p["ta_failure_reduction"] * ta)
                         * (1 - (p["pilot_failure_reduction"] if prog.pilot else -p["no_pilot_failure_increase"]))
                         * (p["pacing_risk_offset"] + s.pacing)
                         * (p["failure_capacity_offset"] - self.capacity) * (p["failure_fidelity_offset"] - prog.fid) * (1 + self.burnout))
            h_fail = hazard(fail_rate) if prog.phase < m.final_phase[k] else 0.0
            if u < h_fail:
                m.counts["implementation_failures"] += 1
                self.end(k, "failed")
                continue
            at_risk = m.programs[k].race_conscious_possible and m.coverage(k, prog.phase) > 0
            h_court = hazard(p["court_challenge_rate"] * (1.0 if race else p["court_rate_within_law_share"])) if at_risk else 0.0
            gone = False
            if h_fail <= u < h_fail + h_court or (at_risk and m.event_now("court_ruling")):
                m.counts["court_challenges"] += 1
                strike = p["court_strike_prob_race_conscious"] if race else p["court_strike_prob_within_law"]
                if m.random.random() < strike * (1 - min(p["legal_clarity_max"], m.federal.channel("legal_clarity"))):
                    self.end(k, "struck")
                    gone = True
            lo = h_fail + h_court
            cut_p = p["recession_program_cut_prob"] * (1 - s.funding_diversification)
            if m.recession_left > 0 and not gone and not self.lens and lo <= u < lo + cut_p:
                m.counts["funding_cuts"] += 1
                self.end(k, "cut")

    def effect(self, k: int) -> float:
        prog = self.programs.get(k)
        return self.model.coverage(k, prog.phase) * prog.fid if prog else 0.0

    def outcomes(self):
        """Outcome modifiers close `outcome_adjustment` of the distance to what programs and policy imply."""
        m, p = self.model, self.model.p
        ix, lag = m.program_index, p["outcome_adjustment"]
        self.seg_keep += (1 - p["controlled_choice_segregation_cut"] * self.effect(ix["controlled_choice"]) - self.seg_keep) * lag
        self.inter_mix += (p["interdistrict_segregation_cut"] * m.region_effect[self.region] - self.inter_mix) * lag
        pressure = min(self.state.channel("suspension") + m.federal.channel("suspension"), p["policy_channel_cap"])
        rest = self.effect(ix["restorative"])
        for g in range(4):
            black = g == BLACK
            mandate = 1 - pressure * (p["discipline_mandate_cut"] + (p["discipline_mandate_black_extra_cut"] if black else 0))
            cut = p["restorative_suspension_cut"] + (p["restorative_black_extra_cut"] if black else 0.0)
            self.susp_cut[g] += (1 - (1 - rest * cut) * mandate - self.susp_cut[g]) * lag
        ap_state = min(self.state.channel("ap_gap"), p["policy_channel_cap"])
        ap_target = 1 - (1 - self.effect(ix["detracking"]) * p["detracking_ap_gap_cut"]) * (1 - ap_state * p["screening_ap_gap_cut"])
        self.ap_cut += (ap_target - self.ap_cut) * lag
        t_state = min(self.state.channel("teacher_gap"), p["policy_channel_cap"]) * p["state_teacher_requirement_share"]
        t_target = (1 - (1 - self.effect(ix["teacher_assignment"]) * p["teacher_equity_gap_cut"])
                    * (1 - t_state * p["teacher_equity_gap_cut"]))
        self.teach_cut += (t_target - self.teach_cut) * lag

    def reflect(self):
        """Judge each program on the district's own outcome change since it started (measured with
        noise, larger where the district measures the wrong thing): a public win, scale, refine,
        then replace or abandon; honest failures teach. Then lens or program, and diagnose again."""
        m, p = self.model, self.model.p
        rnd = m.random.random
        win, failed, drops, refined = False, [], [], []
        for k in list(self.programs):
            prog = self.programs[k]
            signal = (self.cut_of(k) - prog.start_cut) / m.full_effect[k]
            sd = p["measure_noise_sd"] * (p["wrong_measure_noise_mult"] if self.wrong_measure else 1.0)
            measured = signal + sd * m.random.gauss(0.0, 1.0)
            if prog.reached_q < p["reflect_min_quarters"]:
                continue
            if measured >= p["reflect_win_threshold"] * p["reflect_win_scale"]:
                win = True
            if not m.spec.strategy.reflect_on_outcomes:
                continue
            if measured >= p["reflect_scale_signal"] and prog.phase < m.final_phase[k]:
                prog.qin = m.phase_quarters[k][prog.phase]   # scale: the next phase at once
                m.cycle_counts["programs_scaled"] += 1
            if m.quarter - prog.start_q >= p["reflect_patience_quarters"] and measured < p["reflect_fail_signal"]:
                failed.append(k)
                if not prog.refined:
                    prog.refined = True
                    prog.fid = min(prog.fid + p["refine_fidelity_gain"], 1)
                    m.cycle_counts["programs_refined"] += 1
                    refined.append(k)
                else:
                    drops.append(k)
        for k in failed:   # an honest report teaches and may fix what the district measures
            if rnd() < (p["failure_report_prepared"] if self.prereq else p["failure_report_unprepared"]):
                self.learning = 1 - (1 - self.learning) * (1 - p["failure_learning_gain"])
                if rnd() < p["failure_measure_fix"]:
                    self.wrong_measure = False
        for k in refined:   # back to the diagnosis with what this year's reports taught
            self.programs[k].root = self.programs[k].root or self.finds_root_cause(k)
        # replaced when another candidate fits the district's gaps at least as well, else abandoned
        others = [any(self.can[j] and j not in self.abandoned and j not in drops and j not in self.programs
                      and self.own[j] > 0 and self.own[j] >= self.own[k] for j in range(len(m.programs))) for k in drops]
        for k, other in zip(drops, others):
            self.abandoned.add(k)
        for k, other in zip(drops, others):
            reason = "programs_replaced" if other else "programs_abandoned"
            m.cycle_counts[reason] += 1
            self.end(k, "replaced" if other else "abandoned")
        support = m.support("data") + (m.federal.channel("data") + self.state.channel("data")) * p["federal_data_weight"]
        if self.wrong_measure and rnd() < 1 - math.exp(-p["measure_fix_rate"] * support):
            self.wrong_measure = False
        if win:   # a public win
            self.program_wins += 1
            self.buy_in = min(self.buy_in + p["win_buy_in_gain"], 1)
            for prog in self.programs.values():
                prog.fid = min(prog.fid + p["win_fidelity_gain"], 1)
            m.winners.append(self)
        # lens or program
        self.win_streak = self.win_streak + 1 if win else 0
        pressure = (m.recession_left > 0 or self.state.opposition >= p["lens_pressure_opposition"]
                    or self.burnout >= p["lens_pressure_burnout"])
        self.pressure_years = self.pressure_years + 1 if pressure else 0
        if not self.lens:
            if not self.wrong_measure and self.win_streak >= p["lens_win_years"] and rnd() < p["lens_move_prob"]:
                self.lens = True
                m.cycle_counts["moved_to_lens"] += 1
        elif self.pressure_years >= p["lens_pressure_years"] and rnd() < p["lens_drift_prob"]:
            self.lens = False
        self.diagnose()

    def spending_ratio(self) -> float:
        """Per-pupil spending relative to the state's baseline mean."""
        m, p, st = self.model, self.model.p, self.state
        d_min = self.share[BLACK] + self.share[HISPANIC]
        progressive = p["funding_reform_weight"] * (d_min - m.state_minority[st.index]) + max(self.tilt, 0) * p["positive_tilt_keep"]
        ratio = 1 + self.tilt + st.spend_progress * (progressive - self.tilt)
        floor = self.adequacy_required + p["adequacy_margin"]   # SFID's costed-out level
        return ratio + st.adequacy_progress * (floor - ratio) if ratio < floor else ratio

    def mix_now(self) -> list[float]:
        """The district's current mix, moved toward its region's by interdistrict programs (what
        exits leave of the move)."""
        region = self.model.region_share[self.region]
        inter = self.inter_mix_now()
        return [s + inter * (r - s) for s, r in zip(self.share, region)]

    # Families leave over integration (equitysim/mechanisms/enrollment.py), district by district.
    def nearby_choice(self) -> float:
        """Room to leave: private schools (the floor) plus the share of other districts in the region."""
        floor, n = self.model.p["white_flight_nearby_floor"], self.model.region_size[self.region]
        return floor + (1 - floor) * (n - 1) / max(n, 1)

    def flight_response(self) -> float:
        """The design and opposition factors of exits."""
        p = self.model.p
        return p["white_flight_voluntary_share"] * (1 + p["white_flight_opposition_weight"] * self.state.opposition)

    def seg_keep_now(self) -> float:
        """Share of the within-district deviation kept, after exits undo part of the cut."""
        within = min(self.flight_response() * self.model.p["white_flight_offset"] * self.nearby_choice(), 1.0)
        return 1 - (1 - self.seg_keep) * (1 - within)

    def inter_mix_now(self) -> float:
        """The move toward the region's mix, after exits undo part of it."""
        p = self.model.p
        inter = min(self.flight_response() * p["white_flight_offset"] * p["white_flight_nearby_floor"], 1.0)
        return self.inter_mix * (1 - inter)

    def enrollment_loss(self) -> float:
        """Share of the district's students who left because of its integration."""
        p = self.model.p
        cc, ic = p["controlled_choice_segregation_cut"], p["interdistrict_segregation_cut"]
        plan = min(((1 - self.seg_keep) / cc if cc > 0 else 0.0) + (self.inter_mix / ic if ic > 0 else 0.0), 1.0)
        return min(self.share[WHITE] * p["white_enrollment_loss"] * self.flight_response() * self.nearby_choice() * plan, 1.0)

    def exposure(self) -> float:
        """Share white in the school of the average Black or Hispanic student in the district."""
        num = den = 0.0
        for sc in self.schools:
            w_, b_, h_ = sc.now[WHITE], sc.now[BLACK], sc.now[HISPANIC]
            num += (b_ + h_) * w_ / max(sc.enroll, 1e-9)
            den += b_ + h_
        return num / den if den > 0 else 0.0

    def year_end(self):
        m, p = self.model, self.model.p
        expo = self.exposure() - self.expo0
        self.gain_minority += p["integration_achievement_effect"] / 10 * expo + p["ap_achievement_effect"] / 10 * self.ap_cut
        self.grad_minority += p["integration_graduation_effect"] / 10 * expo


class School(mesa.Agent):
    def __init__(self, model, s, w, district):
        super().__init__(model)
        self.district = district
        self.enroll = float(w.s_enroll[s])
        self.dev = [float(x) for x in w.s_dev[s]]
        self.spend_dev, self.texp_dev, self.noise = float(w.s_spend_dev[s]), float(w.s_texp_dev[s]), float(w.s_susp_noise[s])
        self.high, self.low = bool(w.s_high_minority[s]), bool(w.s_low_minority[s])
        self.now = [float(x) * self.enroll for x in w.s_share[s]]   # students by group
        self.gain_all = self.grad_all = 0.0

    def enrollment(self) -> list[float]:
        """Students by group: the district's current mix plus this school's baseline deviation
        from it, scaled by what controlled choice leaves; negative shares clipped."""
        d = self.district
        keep = d.seg_keep_now()
        share = [keep * dev + now for dev, now in zip(self.dev, d.mix_now())]
        if min(share) < 0:
            share = [max(x, 0.0) for x in share]
            total = sum(share)
            share = [x / total for x in share]
        return [x * self.enroll for x in share]

    def spending_ratio(self) -> float:
        return self.district.spending_ratio() * (1 + self.spend_dev * (1 - self.district.state.comparability))

    def teacher_experience(self) -> float:
        return self.model.p["teacher_experience_mean"] + self.texp_dev * (1 - self.district.teach_cut)

    def baseline(self):
        self.spend0, self.texp0 = self.spending_ratio(), self.teacher_experience()

    def year_end(self):
        """One more year of exposure to this year's spending and teachers."""
        p = self.model.p
        self.now = self.enrollment()
        spend_rel = self.spending_ratio() / self.spend0 - 1
        self.gain_all += (p["spending_achievement_effect"] * spend_rel / 0.1
                          + p["teacher_achievement_effect"] * (self.teacher_experience() - self.texp0) * p["teacher_effect_yearly_share"])
        self.grad_all += p["spending_graduation_effect"] / 12 * spend_rel / 0.1


class Row:
    """A plan row and where it pushes this quarter (computed by the model before agents act);
    its target is never read (targets are milestones, for evaluation only)."""

    def __init__(self, row, model, local):
        self.row, self.intensity, self.phase1 = row, row.intensity, row.action.phase == 1
        if local:
            self.program, self.conditions = row.index, row.action.eligibility
        else:
            self.policy = model.policies[row.index]
        self.states, self.eligible = None, None


class ReferenceModel(mesa.Model):
    """The rules of `equitysim.model.EquityModel`, one object per agent. `run()` fills
    `history`, `snapshots`, `baseline` and `counts` like the fast model."""

    def __init__(self, spec, seed: int, world=None):
        super().__init__(rng=seed)
        self.spec, self.p = spec, spec.param_values()
        self.world = w = world if world is not None else world_for(spec)
        self.catalogue = default_catalogue()
        self.plan = compile_plan(spec, self.catalogue, w)
        self.programs = list(self.catalogue.programs.values())
        self.program_index = {pr.id: k for k, pr in enumerate(self.programs)}
        self.policies = list(self.catalogue.state_policies)
        self.policy_effect = {j: {} for j in self.policies}
        self.policy_cost = dict.fromkeys(self.policies, 0.0)
        self.policy_backlash = dict.fromkeys(self.policies, 0.0)
        for a in self.catalogue.actions:
            if a.level == "state":
                self.policy_cost[a.policy] = max(self.policy_cost[a.policy], a.cost_musd)
                self.policy_backlash[a.policy] = max(self.policy_backlash[a.policy], a.backlash)
                for e in a.effects:
                    self.policy_effect[a.policy][e.channel] = max(self.policy_effect[a.policy].get(e.channel, 0.0), e.size)
        for j in FUNDING_POLICIES:   # funding equalisation costs real state dollars
            if j in self.policy_cost:
                self.policy_cost[j] = max(self.policy_cost[j], self.p["funding_reform_cost_musd"])
        self.program_cost = [0.0] * len(self.programs)
        for a in self.catalogue.actions:
            if a.level == "local":
                k = self.program_index[a.policy]
                self.program_cost[k] = max(self.program_cost[k], a.cost_musd)
        s = spec.strategy
        self.pace = (self.p["pace_base"] + self.p["pace_per_pacing"] * s.pacing) * self.p["policy_pace"]
        self.phase_quarters = [list(pr.phase_quarters) for pr in self.programs]
        self.final_phase = [len(pr.phase_names) - 1 for pr in self.programs]
        self.start_phase = [0 if s.pilot_first else (pr.pilot_phase + 1 if len(pr.phase_names) > pr.pilot_phase + 2 else 0)
                            for pr in self.programs]
        self.quarter, self.n_quarters = 0, spec.years * 4
        self._support_q = None
        self.counts = dict.fromkeys(RISK_COUNTS + ("recessions",), 0)
        self.outcomes = {r: [0] * len(self.programs) for r in ("started", "failed", "dropped", "reversed", "struck", "cut", "replaced",
                                                              "abandoned")}
        self.recession_left = 0
        self.national_win_share = 0.0
        self.median_enroll = float(np.median(w.d_enroll))
        self.adequacy_required = required_ratio(w, self.p["adequacy_level"])
        # regions: size and mix (enrollment-weighted)
        self.region_size = np.bincount(w.d_region, minlength=w.n_regions).tolist()
        tot = np.bincount(w.d_region, weights=w.d_enroll, minlength=w.n_regions)
        self.region_share = (np.stack([np.bincount(w.d_region, weights=w.d_enroll * w.d_share[:, g], minlength=w.n_regions)
                                       for g in range(4)], 1) / tot[:, None]).tolist()
        d_min = w.d_share[:, BLACK] + w.d_share[:, HISPANIC]
        self.state_minority = (np.bincount(w.d_state, weights=w.d_enroll * d_min) / np.bincount(w.d_state, weights=w.d_enroll)).tolist()
        # agents
        self.federal = Federal(self)
        st = w.states
        cal = election_calendar()
        years = range(START_YEAR, START_YEAR + spec.years + 1)
        self.states = []
        for i, code in enumerate(st.index):
            first, term = cal["first"].get(code, cal["default_first"]), cal["term"].get(code, cal["default_term"])
            state = State(self, i, st.iloc[i], {y for y in years if y >= first and (y - first) % term == 0})
            state.coalition = Coalition(self, self.p["coalition_baseline_breadth"] + self.p["coalition_favorable_breadth_bonus"] * state.favorable)
            self.states.append(state)
        self.national_coalition = Coalition(self, self.p["coalition_baseline_breadth"])
        adj = w.adjacency
        for i, state in enumerate(self.states):
            state.neighbours = [self.states[j] for j in np.flatnonzero(adj[i])]
        lens = s.equity_as_lens
        self.districts = []
        for i in range(w.n_districts):
            d = District(self, i, w)
            # habit (a Gumbel draw per program) and whether the district measures the wrong thing
            d.habit = [-math.log(-math.log(max(self.random.random(), 1e-300))) for _ in self.programs]
            d.wrong_measure = self.random.random() >= self.p["data_quality_base"]
            d.hidden = [self.random.random() for _ in self.programs]   # how hidden each gap's root cause is
            if lens is not None:
                d.lens = self.random.random() < lens
            d.state = self.states[w.d_state[i]]
            d.state.districts.append(d)
            self.districts.append(d)
        self.schools = []
        for s_ in range(w.n_schools):
            d = self.districts[w.s_district[s_]]
            sc = School(self, s_, w, d)
            d.schools.append(sc)
            self.schools.append(sc)
        for state in self.states:
            state.enroll = sum(d.enroll for d in state.districts)
        self.total_enroll = sum(state.enroll for state in self.states)
        for sc in self.schools:
            sc.baseline()
        for d in self.districts:
            d.expo0 = d.exposure()
        self.setup_cycle()
        self.state_rows = [Row(r, self, False) for r in self.plan.state_rows]
        self.local_rows = [Row(r, self, True) for r in self.plan.local_rows]
        self.history, self.snapshots = [], {}
        self.baseline = self.measure()
        # adaptive plans: when each rule is due, its cool-down and the timetable edits are the
        # deterministic bookkeeping shared with the fast model; signposts are read here, plainly
        self.adaptation = Adaptation(spec, self.counts, self.federal.supportive) if spec.adapt else None

    def setup_cycle(self):
        """The practitioner's cycle: each program's domain, full effect and supporting
        conditions; each district's baseline gaps over its state's or the nation's level (the
        larger ratio), computed school by school; the first diagnosis."""
        p = self.p
        domain_of = {"suspension": 0, "ap_gap": 1, "teacher_gap": 2, "segregation": 3, "interdistrict": 3}
        self.domain = [domain_of[pr.channel] for pr in self.programs]
        size = {"suspension": p["restorative_suspension_cut"] + p["restorative_black_extra_cut"], "ap_gap": p["detracking_ap_gap_cut"],
                "teacher_gap": p["teacher_equity_gap_cut"], "segregation": p["controlled_choice_segregation_cut"],
                "interdistrict": p["interdistrict_segregation_cut"]}
        self.full_effect = [size[pr.channel] for pr in self.programs]
        self.program_conditions = [sorted({c for a in self.catalogue.actions if a.level == "local" and a.policy == pr.id
                                           for c in a.eligibility}) for pr in self.programs]
        self.cost_reference = math.exp(sum(math.log(max(c, 1e-300)) for c in self.program_cost) / len(self.program_cost))
        self.cost_slope = [-p["cost_aversion"] * math.log(max(c / self.cost_reference, 1e-300)) for c in self.program_cost]
        self.cycle_counts = {k: 0 for k in ("programs_scaled", "programs_refined", "programs_replaced", "programs_abandoned",
                                            "moved_to_lens")}
        self.cycle_stats = {"years": 0, "fidelity": 0.0, "burnout": 0.0, "staff_turnover": 0.0, "spend_musd": 0.0, "reform_years": 0.0}
        raw = []
        for d in self.districts:
            wt = bl = mi = 0.0
            nw = nb = tw = tm = 0.0
            for sc in d.schools:
                e = [x for x in sc.now]
                wt, bl, mi = wt + e[WHITE], bl + e[BLACK], mi + e[BLACK] + e[HISPANIC]
                nw, nb = nw + e[WHITE] * sc.noise, nb + e[BLACK] * sc.noise
                tw, tm = tw + e[WHITE] * sc.texp_dev, tm + (e[BLACK] + e[HISPANIC]) * sc.texp_dev
            disc = max(p["suspension_ratio_black_white"] * (nb / bl if bl > 0 else 0.0) - (nw / wt if wt > 0 else 0.0), 0.0)
            teach = max((tw / wt if wt > 0 else 0.0) - (tm / mi if mi > 0 else 0.0), 0.0)
            integ = 0.5 * sum(abs((sc.now[WHITE] / wt if wt > 0 else 0.0) - ((sc.now[BLACK] + sc.now[HISPANIC]) / mi if mi > 0 else 0.0))
                              for sc in d.schools)
            raw.append(([disc, 1.0, teach, integ], mi))
        n_st = len(self.states)
        st_num, st_den = [[0.0] * 4 for _ in range(n_st)], [0.0] * n_st
        nat_num, nat_den = [0.0] * 4, 0.0
        for d, (g, wgt) in zip(self.districts, raw):
            i = d.state.index
            st_den[i] += wgt
            nat_den += wgt
            for j in range(4):
                st_num[i][j] += g[j] * wgt
                nat_num[j] += g[j] * wgt
        for d, (g, _) in zip(self.districts, raw):
            i = d.state.index
            d.gap = []
            for j in range(4):
                st_level = st_num[i][j] / st_den[i] if st_den[i] > 0 else 0.0
                nat = nat_num[j] / nat_den
                d.gap.append(max(g[j] / st_level if st_level > 0 else 0.0, g[j] / nat if nat > 0 else 0.0))
            d.diagnose()

    def mitigation_cost(self) -> float:
        """$M a year the strategy's burnout mitigations cost now (districts running equity work)."""
        p, s = self.p, self.spec.strategy
        per = s.leadership_rotation * p["rotation_cost_musd"] + s.release_time * p["release_cost_musd"]
        return per * sum(d.size_cost() for d in self.districts if d.programs) if per > 0 else 0.0

    # ---------------------------------------------------------------- calendar and plan
    @property
    def calendar_year(self) -> int:
        return START_YEAR + self.quarter // 4

    @property
    def is_november(self) -> bool:
        return self.quarter % 4 == 3

    def event_now(self, kind: str) -> bool:
        return any(e.kind == kind and int(round(e.year * 4)) == self.quarter for e in self.spec.events)

    def support(self, channel: str) -> float:
        """Strength of a support channel this quarter (from the plan), scaled down when the
        support actions in force cost more than the campaign's budget."""
        if self._support_q != self.quarter:
            q = self.quarter
            cost = self.plan.cost_by_quarter[min(q, self.plan.n_q - 1)]
            budget = self.p["campaign_budget_musd"] * self.spec.strategy.budget_multiplier
            share = 1.0 if cost <= budget else budget / cost
            self._supports = {c: self.plan.support_at(c, q) * share for c in self.plan.support}
            self._support_q = q
        return self._supports.get(channel, 0.0)

    def effort(self, effort: float) -> float:
        """Push multiplier of a campaign effort (1 at effort 1), with diminishing returns."""
        sat = self.p["effort_saturation"]
        return (1 - math.exp(-effort / sat)) / (1 - math.exp(-1 / sat))

    def national_opposition(self) -> float:
        """Enrollment-weighted mean of the states' organised opposition."""
        return sum(st.opposition * st.enroll for st in self.states) / self.total_enroll

    def coverage(self, k: int, phase: int) -> float:
        return float(self.programs[k].phase_coverage[phase])

    def where_ok(self, row, state: State) -> bool:
        if row.where == "broad_coalition":
            return state.coalition.breadth >= self.p["broad_coalition_breadth"]
        if row.where == "local_successes":
            return state.win_share > 0
        return True

    def state_budget(self) -> float:
        """Each state's equity budget this quarter, $M a year (cut in recessions unless diversified)."""
        p, st = self.p, self.spec.strategy
        budget = p["state_budget_musd"] * st.budget_multiplier
        if self.recession_left > 0:
            budget *= 1 - p["recession_budget_cut"] * (1 - st.funding_diversification)
        return budget

    def plan_state_rows(self):
        """Which states each row active this quarter pushes its policy in (eligible: the row's
        states, requirements in force, not yet in force, affordable within the state's budget)."""
        q = self.quarter
        budget = self.state_budget()
        for r in self.state_rows:
            row, j = r.row, r.policy
            r.eligible = None
            if not (row.start_q <= q < row.end_q):
                continue
            r.eligible = [bool(row.mask[s.index]) and self.where_ok(row, s) and all(s.on[x] for x in row.action.requires)
                          and not s.on[j] and budget - sum(self.policy_cost[x] for x, on in s.on.items() if on) >= self.policy_cost[j]
                          for s in self.states]

    def plan_local_rows(self):
        """The rows active this quarter for each program, with the states they push it in, and
        the programs running in each region (peers)."""
        q = self.quarter
        n_k = len(self.programs)
        self.region_active = [[0] * n_k for _ in self.region_size]
        for d in self.districts:
            for k in d.programs:
                self.region_active[d.region][k] += 1
        active = []
        for r in self.local_rows:
            row = r.row
            if row.start_q <= q < row.end_q:
                r.states = [bool(row.mask[s.index]) and self.where_ok(row, s) for s in self.states]
                active.append(r)
        self.rows_for = [[r for r in active if r.program == k] for k in range(n_k)]

    def family_funds(self, family: str) -> float:
        p, s = self.p, self.spec.strategy
        local = p["local_integration_funds_musd" if family == "integration" else "local_general_funds_musd"]
        if self.recession_left > 0:
            local *= 1 - p["recession_budget_cut"] * (1 - s.funding_diversification)
        state = sum(st.channel(f"funds:{family}") for st in self.states)
        return (local + state + self.federal.channel(f"funds:{family}")) * s.budget_multiplier * self.world.scale

    def program_cost_of(self, d: District, k: int) -> float:
        p = self.p
        return min(max(d.enroll / p["district_cost_medium_enrollment"], p["district_cost_size_min"]), p["district_cost_size_max"]) * self.program_cost[k]

    def fund_wishes(self):
        """New starts in random priority order until each family's money runs out."""
        for family in ("integration", "general"):
            wishes = [(d, k) for d, k in self.wishes if self.programs[k].family == family]
            if not wishes:
                continue
            self.random.shuffle(wishes)
            money = self.family_funds(family) - sum(self.program_cost_of(d, k) for d in self.districts for k in d.programs
                                                    if self.programs[k].family == family)
            if family == "general":   # burnout mitigations are paid first
                money -= self.mitigation_cost()
            spent = 0.0
            for d, k in wishes:
                spent += self.program_cost_of(d, k)
                if spent > money:
                    break
                if len(d.programs) < d.cap():   # at most two or three at once
                    d.start(k)

    # ---------------------------------------------------------------- the quarter
    def step(self):
        districts = self.agents_by_type[District]
        states = self.agents_by_type[State]
        self.federal.step()
        if self.recession_left > 0:
            self.recession_left -= 1
        elif self.random.random() < hazard(self.p["recession_prob"]) or self.event_now("recession"):
            self.recession_left = int(round(self.p["recession_length"]))
            self.counts["recessions"] += 1
        self.federal.recession_cuts()
        self.agents_by_type[Coalition].do("step")
        states.do("regenerate")
        self.federal.regenerate()
        states.do("politics")
        self.plan_state_rows()
        states.do("decide")
        states.do("enact")
        states.do("backlash")
        states.do("hostile_repeal")
        states.do("grow_opposition")
        states.do("funding")
        districts.do("capacity_and_turnover")
        self.plan_local_rows()
        self.wishes = []
        districts.do("adopt")
        self.fund_wishes()
        districts.do("implement")
        self.cycle_stats["spend_musd"] += (sum(self.program_cost_of(d, k) for d in self.districts for k in d.programs)
                                           + self.mitigation_cost()) * DT
        im = self.program_index["interdistrict_magnet"]
        self.region_effect = [0.0] * len(self.region_size)
        for d in self.districts:
            self.region_effect[d.region] = max(self.region_effect[d.region], d.effect(im))
        districts.do("outcomes")
        if self.quarter % 4 == 3:
            self.year_end()
        self.quarter += 1
        if self.quarter >= self.n_quarters:
            self.running = False
        elif self.adaptation is not None:
            self.adaptation.check(self.quarter, self.counts, self.federal.supportive, self.signpost, self.install)

    # ---------------------------------------------------------------- adaptive plans
    def signpost(self, rule) -> float:
        """A rule's signpost, from the agents."""
        k = rule.signpost
        if k in ("indicator_progress", "indicators_on_track", "metric"):
            return indicator_signposts(rule, self.history, self.baseline, self.world.scale)
        if k == "opposition":
            return self.national_opposition()
        if k == "support_funding_share":
            cost = self.plan.cost_by_quarter[min(self.quarter, self.plan.n_q - 1)]
            budget = self.p["campaign_budget_musd"] * self.spec.strategy.budget_multiplier
            return 1.0 if cost <= budget else budget / cost
        if k == "capital":
            return sum(s.capital for s in self.states) / len(self.states)
        if k == "burnout":
            running = [d.burnout for d in self.districts if d.programs]
            return sum(running) / len(running) if running else 0.0
        if k == "buy_in":
            return sum(d.buy_in for d in self.districts) / len(self.districts)
        if k == "coalition_breadth":
            return self.national_coalition.breadth
        if k == "in_recession":
            return float(self.recession_left > 0)
        if k == "federal_hostile":
            return float(not self.federal.supportive)
        raise ValueError(k)

    def install(self, timetable, strategy):
        """A rewritten timetable and strategy: the plan compiled again, its rows, the pace."""
        self.plan = compile_plan(self.spec, self.catalogue, self.world, [e.compiled() for e in timetable.entries])
        self.state_rows = [Row(r, self, False) for r in self.plan.state_rows]
        self.local_rows = [Row(r, self, True) for r in self.plan.local_rows]
        self.spec = self.spec.model_copy(update={"strategy": strategy})
        self.pace = (self.p["pace_base"] + self.p["pace_per_pacing"] * strategy.pacing) * self.p["policy_pace"]
        self._support_q = None

    def run(self):
        while self.running:
            self.step()
        return self

    def year_end(self):
        p, q = self.p, self.quarter
        self.winners = []
        self.agents_by_type[District].do("reflect")
        stories = p["story_base"] + self.support("stories")
        wins = [0] * len(self.states)
        for d in self.winners:
            wins[d.state.index] += 1
        for st, n in zip(self.states, wins):
            st.win_share = min(1, n / (p["state_win_reference_share"] * len(st.districts) + 1) * stories)
            if n:
                st.coalition.last_win = q
                st.coalition.breadth = min(1, st.coalition.breadth + p["coalition_breadth_per_win"] * stories)
        self.national_win_share = min(1, len(self.winners) / (p["national_win_reference_share"] * len(self.districts) + 1) * stories)
        if self.winners:
            self.national_coalition.last_win = q
        self.agents_by_type[State].do("add_win_capital")   # local wins buy legislative room
        self.agents_by_type[School].do("year_end")
        self.agents_by_type[District].do("year_end")
        running = [d for d in self.districts if d.programs]
        if running:
            progs = [prog for d in running for prog in d.programs.values()]
            st = self.cycle_stats
            st["years"] += 1
            st["fidelity"] += sum(prog.fid for prog in progs) / len(progs)
            st["burnout"] += sum(d.burnout for d in running) / len(running)
            st["staff_turnover"] += sum(d.staff_turnover for d in running) / len(running)
        m = self.measure()
        m["year"] = q // 4 + 1
        self.history.append(m)
        if m["year"] in ind.HORIZONS:
            self.snapshots[m["year"]] = m

    # ---------------------------------------------------------------- metrics
    def measure(self) -> dict:
        """The arrays of the agents, through `plain_measure`."""
        w = self.world
        n_k = len(self.programs)
        d_on = [[k in d.programs for k in range(n_k)] for d in self.districts]
        d_phase = [[d.programs[k].phase if k in d.programs else 0 for k in range(n_k)] for d in self.districts]
        arrays = {
            "enrollment": np.array([sc.now for sc in self.schools]),
            "school_spending_ratio": np.array([sc.spending_ratio() for sc in self.schools]),
            "teacher_experience": np.array([sc.teacher_experience() for sc in self.schools]),
            "gain_all": np.array([sc.gain_all for sc in self.schools]),
            "grad_all": np.array([sc.grad_all for sc in self.schools]),
            "district_spending_ratio": np.array([d.spending_ratio() for d in self.districts]),
            "susp_cut": np.array([d.susp_cut for d in self.districts]),
            "ap_cut": np.array([d.ap_cut for d in self.districts]),
            "gain_minority": np.array([d.gain_minority for d in self.districts]),
            "grad_minority": np.array([d.grad_minority for d in self.districts]),
            "active": np.array(d_on, bool).reshape(w.n_districts, n_k),
            "phase": np.array(d_phase).reshape(w.n_districts, n_k),
            "reached": np.array([d.reached for d in self.districts]),
            "st_on": np.array([[s.on[j] for j in self.policies] for s in self.states]),
            "st_ever": np.array([[s.ever[j] for j in self.policies] for s in self.states]),
            "fed_ever": np.array([self.federal.ever[a.id] for a in self.catalogue.federal_actions]),
            "national_coalition_breadth": self.national_coalition.breadth,
        }
        return plain_measure(w, self.p, self.catalogue, arrays)


def plain_measure(w, p: dict, catalogue, a: dict) -> dict:
    """Every roadmap metric and indicator count from school and district arrays, with the
    metric functions of equitysim.metrics applied the obvious way (school by school).

    `a` holds: enrollment (n_schools, 4), school_spending_ratio, teacher_experience, gain_all,
    grad_all (n_schools); district_spending_ratio, susp_cut (n_d, 4), ap_cut, gain_minority,
    grad_minority (n_d); active, phase, reached (n_d, n_programs); st_on, st_ever; fed_ever;
    national_coalition_breadth."""
    e = a["enrollment"]
    white, black, hisp = e[:, WHITE], e[:, BLACK], e[:, HISPANIC]
    minority = black + hisp
    d = w.s_district
    by_d = lambda x: np.bincount(d, weights=x, minlength=w.n_districts)  # noqa: E731
    W, B, H = white.sum(), black.sum(), hisp.sum()
    noise, cut = w.s_susp_noise, a["susp_cut"]
    base = p["suspension_rate_white"]
    rate_w = base * (by_d(white * noise) * (1 - cut[:, WHITE])).sum() / W
    rate_b = base * p["suspension_ratio_black_white"] * (by_d(black * noise) * (1 - cut[:, BLACK])).sum() / B
    rate_h = base * p["suspension_ratio_hispanic_white"] * (by_d(hisp * noise) * (1 - cut[:, HISPANIC])).sum() / H
    rb, rh = p["ap_ratio_black"], p["ap_ratio_hispanic"]
    c = np.minimum(a["ap_cut"], 1)
    b_d, h_d = by_d(black), by_d(hisp)
    ap_min = p["ap_rate_white"] * ((b_d * (rb + (1 - rb) * c)).sum() + (h_d * (rh + (1 - rh) * c)).sum()) / (B + H)
    g, gr = a["gain_all"], a["grad_all"]
    ach_w = (white * g).sum() / W
    ach_m = ((minority * g).sum() + ((b_d + h_d) * a["gain_minority"]).sum()
             - B * p["achievement_gap_black"] - H * p["achievement_gap_hispanic"]) / (B + H)
    grad_w = p["graduation_rate_white"] + (white * gr).sum() / W
    grad_m = (B * p["graduation_rate_black"] + H * p["graduation_rate_hispanic"]
              + (minority * gr).sum() + ((b_d + h_d) * a["grad_minority"]).sum()) / (B + H)
    d_ratio = a["district_spending_ratio"]
    n_s = w.n_states
    required = required_ratio(w, p["adequacy_level"])   # costed-out adequacy, per district
    below = np.bincount(w.d_state, weights=w.d_enroll * (d_ratio < required), minlength=n_s)
    adequacy_by_state = below / np.bincount(w.d_state, weights=w.d_enroll, minlength=n_s)
    out = {
        "dissimilarity": M.dissimilarity(white, minority),
        "dissimilarity_within_district": M.within_district_dissimilarity(white, minority, d, w.n_districts),
        "exposure_minority_to_white": M.exposure(minority, white, w.s_enroll),
        "spending_gap": M.spending_gap(a["school_spending_ratio"], w.s_enroll, w.s_high_minority, w.s_low_minority),
        "adequacy_gap": M.adequacy_gap(d_ratio, w.d_enroll, required),
        "teacher_experience_gap": M.mean_gap(a["teacher_experience"], w.s_enroll, w.s_low_minority, w.s_high_minority),
        "suspension_ratio_black_white": rate_b / rate_w,
        "suspension_gap_pp": (rate_b - rate_w) * 100,
        "suspension_ratio_hispanic_white": rate_h / rate_w,
        "ap_gap": M.relative_gap(ap_min, p["ap_rate_white"]),
        "achievement_gap": ach_w - ach_m,
        "graduation_gap_pp": 100 * (grad_w - grad_m),
        "states_all_adequate": int((adequacy_by_state <= p["state_adequate_max_share_below"]).sum()),
    }
    programs = list(catalogue.programs)
    cc, im, re = programs.index("controlled_choice"), programs.index("interdistrict_magnet"), programs.index("restorative")
    pilot = np.array([pr.pilot_phase for pr in catalogue.programs.values()])
    active, phase, reached = a["active"], a["phase"], a["reached"]
    past_pilot = active & (phase >= pilot[None, :])
    policies = list(catalogue.state_policies)
    guidance = np.array([sum(e.size for e in x.effects if e.channel == "guidance") for x in catalogue.federal_actions])
    diverse = w.d_diverse
    out.update({
        "integration_pilots_launched": int(((reached[:, cc] >= pilot[cc]) | (reached[:, im] >= pilot[im])).sum()),
        "restorative_districts": int(active[:, re].sum()),
        "controlled_choice_districts": int(past_pilot[:, cc].sum()),
        "interdistrict_regions": len(set(w.d_region[past_pilot[:, im]].tolist())),
        "funding_bills_states": int(a["st_ever"][:, policies.index("funding_bill")].sum()),
        "funding_reform_states": int(a["st_on"][:, policies.index("weighted_funding")].sum()),
        "adequacy_standard_states": int(a["st_on"][:, policies.index("adequacy_standard")].sum()),
        "federal_guidance": int((guidance * a["fed_ever"]).sum() > 0),
        "integration_share_diverse": float((active[:, cc] & (phase[:, cc] >= pilot[cc] + 1) & diverse).sum() / max(diverse.sum(), 1)),
        "national_coalition_breadth": float(max(a["national_coalition_breadth"], 0)),
    })
    return out


def run_reference(spec, seed: int, world=None) -> dict:
    """One reference replication as a flat record like `equitysim.ensemble.run_replication`'s."""
    model = ReferenceModel(spec, seed, world).run()
    met = ind.evaluate(model.snapshots, model.baseline, model.world.scale)
    last = model.history[-1] if model.history else model.baseline
    rec = {f"met.{k}": bool(v) for k, v in met.items()}
    for i in ind.indicators():
        snap = model.snapshots.get(i.horizon_year)
        rec[f"value.{i.id}"] = ind.value(i, snap, model.baseline) if snap else float("nan")
    rec.update({f"risk.{k}": model.counts[k] for k in RISK_COUNTS + ("recessions",)})
    rec.update({f"metric.{k}": float(last[k]) for k in ind.TRAJECTORY_METRICS})
    if model.adaptation is not None:
        rec.update({f"adapt.{k}": v for k, v in model.adaptation.first_years().items()})
        rec.update({f"adapt_fires.{r.name}": float(n) for r, n in zip(model.adaptation.rules, model.adaptation.fires)})
    st = model.cycle_stats
    rec.update({f"district.{k}": float(v) for k, v in model.cycle_counts.items()})
    for k, name in (("fidelity", "mean_fidelity"), ("burnout", "mean_burnout"), ("staff_turnover", "mean_staff_turnover")):
        rec[f"district.{name}"] = st[k] / st["years"] if st["years"] else float("nan")
    rec["district.spend_musd"] = st["spend_musd"]
    rec["district.superintendent_turnover"] = model.counts["superintendent_changes"] / st["reform_years"] if st["reform_years"] else float("nan")
    return rec
