"""The equitysim Mesa model: what happens in one quarter.

    calendar -> federal government -> business cycle -> coalitions -> states -> districts
    -> schools -> (at each year end) reflect on results and record metrics

Per-district and per-school state lives in numpy arrays on the model (`active`, `phase`,
`fidelity`, ...); the agent classes in agents.py apply their rules to all rows at once.
"""

from __future__ import annotations

import tomllib
from functools import cached_property
from importlib import resources

import mesa
import numpy as np

from . import indicators as _ind
from . import metrics as M
from . import risks
from .actions import default_catalogue
from .agents import Coalition, District, FederalGovernment, School, State
from .plan import compile_plan
from .scenario import EquityScenario, ScenarioSpec
from .world import BLACK, HISPANIC, WHITE, World, build_world

START_YEAR = 2027  # roadmap year 1 (assumption: the campaign starts in January 2027)
RISK_COUNTS = ("backlash_events", "leadership_changes", "funding_cuts", "court_challenges",
               "implementation_failures")
WORLD_PARAMS = ("district_size_sigma", "between_district_concentration", "within_district_concentration",
                "spending_noise_sd", "minority_spending_tilt", "teacher_experience_gap", "region_size",
                "district_prerequisites_share", "equity_as_lens_share", "union_cooperation_share")


class LazyAgents:
    """A sequence of District or School views, each created on first access."""

    def __init__(self, model, cls, n):
        self._model, self._cls, self._n, self._made = model, cls, n, {}

    def __len__(self):
        return self._n

    def __getitem__(self, i):
        i = range(self._n)[i]
        if i not in self._made:
            self._made[i] = self._cls(self._model, i)
        return self._made[i]


def world_for(spec: ScenarioSpec) -> World:
    """The (cached) baseline world a scenario runs on."""
    values = spec.param_values()
    overrides = {k: values[k] for k in WORLD_PARAMS if k in spec.parameters}
    return build_world(spec.scale, spec.world_seed, overrides)


class EquityModel(mesa.Model):
    """Federal government, states, districts, schools and coalitions under one scenario.

    Args:
        scenario: a ScenarioSpec (from `load_scenario`) or an EquityScenario.
        rng: seed or numpy Generator (Mesa convention).
        world: a prebuilt World to reuse across replications (built from the scenario if None).
    """

    def __init__(self, scenario: ScenarioSpec | EquityScenario, rng=None, world: World | None = None):
        if isinstance(scenario, ScenarioSpec):
            scenario = EquityScenario.from_spec(scenario, rng=rng)
        super().__init__(rng=scenario.rng, scenario=scenario)
        self.spec: ScenarioSpec = scenario.spec
        self.p: dict = scenario.params
        self.world = world if world is not None else world_for(self.spec)
        self.catalogue = default_catalogue()
        self.plan = compile_plan(self.spec, self.catalogue, self.world)
        # Separate streams so risk draws line up across scenarios (common random numbers).
        self.rng_risk, self.rng_adopt, self.rng_cond = self.rng.spawn(3)
        self.quarter = 0
        self.n_quarters = self.spec.years * 4
        self.counts = dict.fromkeys(RISK_COUNTS + ("recessions",), 0)
        self.pace = (0.6 + 0.8 * self.spec.strategy.pacing) * self.p["policy_pace"]
        self._init_federal()
        self._init_states()
        self._init_districts()
        self.federal = FederalGovernment(self)
        self.state_agents = [State(self, i) for i in range(self.n_states)]
        self.coalition_agents = [Coalition(self, i) for i in range(self.n_states + 1)]
        self.districts = LazyAgents(self, District, self.world.n_districts)
        self.schools = LazyAgents(self, School, self.world.n_schools)
        self.history: list[dict] = []
        self.snapshots: dict[int, dict] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={k: (lambda m, k=k: m.history[-1][k]) for k in _ind.TRAJECTORY_METRICS})
        self.baseline = self.measure()

    # ------------------------------------------------------------------ set-up
    def _init_federal(self):
        fed = self.catalogue.federal_actions
        self.fed_on = np.zeros(len(fed), bool)
        self.fed_ever = np.zeros(len(fed), bool)
        self.fed_kind = np.array([a.kind for a in fed])
        self.fed_cost = np.array([a.cost_musd for a in fed])
        rate = {"certain": 4.0, "high": self.p["federal_law_rate_high"],
                "moderate": self.p["federal_law_rate_moderate"], "low": self.p["federal_law_rate_low"]}
        self.fed_law_rate = np.array([rate[a.feasibility] for a in fed])
        self._fed_effects = {}
        for i, a in enumerate(fed):
            for e in a.effects:
                self._fed_effects.setdefault(e.channel, np.zeros(len(fed)))[i] += e.size

    def _init_states(self):
        w = self.world
        st = w.states
        self.n_states = len(st)
        self.policies = list(self.catalogue.state_policies)
        self.policy_index = {p: j for j, p in enumerate(self.policies)}
        n_p = len(self.policies)
        self.st_on = np.zeros((self.n_states, n_p), bool)
        self.st_ever = np.zeros_like(self.st_on)
        self.st_on_q = np.full(self.st_on.shape, -1)
        self.policy_cost = np.zeros(n_p)
        self.policy_backlash = np.zeros(n_p)
        self._st_effects: dict[str, np.ndarray] = {}
        for a in self.catalogue.actions:
            if a.level != "state":
                continue
            j = self.policy_index[a.policy]
            self.policy_cost[j] = max(self.policy_cost[j], a.cost_musd)
            self.policy_backlash[j] = max(self.policy_backlash[j], a.backlash)
            for e in a.effects:
                arr = self._st_effects.setdefault(e.channel, np.zeros(n_p))
                arr[j] = max(arr[j], e.size)
        self.climate0 = st["climate"].to_numpy(float)
        self.climate = self.climate0.copy()
        self.climate_shock = np.zeros(self.n_states)
        self.gov_flipped = np.zeros(self.n_states, bool)
        self.litigation = st["litigation_pending"].to_numpy(bool).copy()
        self.spend_progress = np.zeros(self.n_states)
        self.adequacy_progress = np.zeros(self.n_states)
        self.comparability = np.zeros(self.n_states)
        cal = tomllib.loads(resources.files("equitysim").joinpath("data/elections.toml").read_text())
        years = np.arange(START_YEAR, START_YEAR + self.spec.years + 1)
        self.gov_election_years = np.full((self.n_states, len(years)), -1)
        for i, code in enumerate(st.index):
            first = cal["first"].get(code, cal["default_first"])
            term = cal["term"].get(code, cal["default_term"])
            ys = [y for y in years if y >= first and (y - first) % term == 0]
            self.gov_election_years[i, :len(ys)] = ys
        self.coal_breadth = np.full(self.n_states + 1, self.p["coalition_baseline_breadth"])
        self.coal_breadth[:-1] += 0.1 * st["favorable"].to_numpy()
        self.coal_strength = np.full(self.n_states + 1, 0.4)
        self.coal_last_win = np.full(self.n_states + 1, -100)
        self.state_win_share = np.zeros(self.n_states)
        self.national_win_share = 0.0
        self.recession_left = 0

    def _init_districts(self):
        w, p = self.world, self.p
        progs = list(self.catalogue.programs.values())
        self.programs = progs
        self.program_index = {pr.id: k for k, pr in enumerate(progs)}
        n_d, n_k = w.n_districts, len(progs)
        self.active = np.zeros((n_d, n_k), bool)
        self.phase = np.zeros((n_d, n_k), np.int8)
        self.q_in_phase = np.zeros((n_d, n_k), np.int16)
        self.reached = np.full((n_d, n_k), -1, np.int8)
        self.ended_q = np.full((n_d, n_k), -100, np.int16)
        self.fidelity = np.zeros((n_d, n_k))
        self.burnout = np.zeros(n_d)
        self.buy_in = w.d_buy_in.copy()
        self.capacity = np.zeros(n_d)
        self.prereq = w.d_prereq.copy()
        lens = self.spec.strategy.equity_as_lens
        self.lens = w.d_lens.copy() if lens is None else (self.rng_risk.random(n_d) < lens)
        n_ph = max(len(pr.phase_names) for pr in progs)
        self._phase_q = np.zeros((n_k, n_ph), int)
        self._phase_cov = np.ones((n_k, n_ph))
        for k, pr in enumerate(progs):
            self._phase_q[k, :len(pr.phase_quarters)] = pr.phase_quarters
            self._phase_cov[k, :len(pr.phase_coverage)] = pr.phase_coverage
        self._phase_offset = (np.arange(n_k) * n_ph)[None, :]
        self._cov = None
        self.final_phase = np.array([len(pr.phase_names) - 1 for pr in progs])
        self.program_visible = np.array([pr.visible for pr in progs])
        self.race_conscious_possible = np.array([pr.race_conscious_possible for pr in progs])
        self.family_programs = {f: [k for k, pr in enumerate(progs) if pr.family == f] for f in ("integration", "general")}
        base_cost = np.zeros(n_k)
        for a in self.catalogue.actions:
            if a.level == "local":
                base_cost[self.program_index[a.policy]] = max(base_cost[self.program_index[a.policy]], a.cost_musd)
        size = np.clip(w.d_enroll / p["district_cost_medium_enrollment"], 0.3, 6)
        self.program_cost = size[:, None] * base_cost[None, :]
        # Larger districts have the central-office capacity integration plans need.
        self.size_mult = (w.d_enroll / np.median(w.d_enroll)) ** p["size_adoption_elasticity"]
        multi = w.d_nschools >= 2
        self.eligible = np.ones((n_d, n_k), bool)
        for k, pr in enumerate(progs):
            if pr.channel in ("segregation", "interdistrict"):
                self.eligible[:, k] = w.d_diverse
            elif pr.channel == "teacher_gap":
                self.eligible[:, k] = multi
        # Outcome modifiers (1 = baseline), relaxed toward what is in force each quarter.
        self._enroll_cache = (-1, None)
        self.seg_keep = np.ones(n_d)
        self.inter_mix = np.zeros(n_d)
        self.susp_cut = np.zeros((n_d, 4))
        self.ap_cut = np.zeros(n_d)
        self.teach_cut = np.zeros(n_d)
        self.gain_all = np.zeros(w.n_schools)      # achievement gain, SD, all students in a school
        self.gain_minority = np.zeros(n_d)          # extra gain for Black and Hispanic students
        self.grad_all = np.zeros(w.n_schools)
        self.grad_minority = np.zeros(n_d)
        self.program_wins = np.zeros(n_d, int)
        self.outcome_counts = {"started": np.zeros(n_k, int)}

    # ------------------------------------------------------------------ the step
    def step(self):
        q = self.quarter
        self.federal.step()
        risks.recession_step(self, self.rng_risk.random())
        Coalition.step_all(self)
        State.step_all(self)
        District.step_all(self)
        School.step_all(self)
        if q % 4 == 3:
            self.year_end()
        self.quarter += 1
        if self.quarter >= self.n_quarters:
            self.running = False

    def run(self) -> "EquityModel":
        while self.running:
            self.step()
        return self

    def year_end(self):
        year = self.quarter // 4 + 1
        self.reflect()
        self.accumulate_outcomes()
        m = self.measure()
        m["year"] = year
        self.history.append(m)
        self.datacollector.collect(self)
        if year in _ind.HORIZONS:
            self.snapshots[year] = m

    # ------------------------------------------------------------------ calendar and events
    @property
    def calendar_year(self) -> int:
        return START_YEAR + self.quarter // 4

    @property
    def is_november(self) -> bool:
        return self.quarter % 4 == 3

    @property
    def in_recession(self) -> bool:
        return self.recession_left > 0

    def event_now(self, kind: str) -> bool:
        return any(e.kind == kind and int(round(e.year * 4)) == self.quarter for e in self.spec.events)

    def count(self, name: str, n: int = 1):
        self.counts[name] += n

    # ------------------------------------------------------------------ helpers used by agents
    def district(self, i: int) -> District:
        return self.districts[i]

    def school(self, i: int) -> School:
        return self.schools[i]

    def fed_channel(self, channel: str) -> float:
        e = self._fed_effects.get(channel)
        return 0.0 if e is None else float(e[self.fed_on].sum())

    def state_channels(self) -> dict[str, np.ndarray]:
        on = self.st_on.astype(float)
        return {c: on @ e for c, e in self._st_effects.items()}

    def locked(self) -> np.ndarray:
        """(n_states, n_policies): policies protected from repeal by a lock in force."""
        ch = self.state_channels()
        state_lock = ch.get("lock:state", 0) >= 1
        funding_lock = ch.get("lock:funding", 0) > 0
        funding = np.isin(self.policies, ["weighted_funding", "adequacy_standard", "property_tax_reform"])
        locks = np.zeros_like(self.st_on)
        if self.spec.strategy.lock_in:
            locks |= np.asarray(state_lock)[:, None] if np.ndim(state_lock) else state_lock
            locks |= (np.asarray(funding_lock)[:, None] if np.ndim(funding_lock) else funding_lock) & funding[None, :]
        return locks

    def active_rows(self, rows):
        q = self.quarter
        return [r for r in rows if r.start_q <= q < r.end_q]

    def dynamic_mask(self, where: str) -> np.ndarray:
        if where == "broad_coalition":
            return self.coal_breadth[:-1] >= 0.4
        if where == "local_successes":
            return self.state_win_share > 0
        return np.ones(self.n_states, bool)

    def eligibility_condition(self, name: str) -> np.ndarray:
        w = self.world
        if name == "diverse_enrollment":
            return w.d_diverse
        if name == "community_support":
            return w.d_community | (self.buy_in > 0.6)
        if name == "union_cooperation":
            return w.d_union
        if name == "principal_leadership":
            return w.d_principal | self.prereq
        raise KeyError(name)

    def recently_ended(self, k: int) -> np.ndarray:
        return (self.quarter - self.ended_q[:, k]) < 8

    def phase_len(self) -> np.ndarray:
        return self._phase_q.ravel()[self._phase_offset + self.phase]

    def coverage(self) -> np.ndarray:
        """(n_districts, n_programs): share of schools reached in each program's current phase
        (zero where the program is not active)."""
        if self._cov is None:
            self._cov = self._phase_cov.ravel()[self._phase_offset + self.phase] * self.active
        return self._cov

    def phase_changed(self):
        self._cov = None

    def region_share_active(self) -> np.ndarray:
        """(n_districts, n_programs): share of a district's regional peers running each program."""
        w = self.world
        n_r = w.n_regions
        tot = np.bincount(w.d_region, minlength=n_r)
        out = np.empty(self.active.shape)
        for k in range(self.active.shape[1]):
            out[:, k] = (np.bincount(w.d_region, weights=self.active[:, k], minlength=n_r) / tot)[w.d_region]
        return out

    def family_funds(self, family: str) -> float:
        """Money ($M a year) available nationally for a program family: local, state, federal."""
        p = self.p
        scale = self.world.scale
        local = p["local_integration_funds_musd" if family == "integration" else "local_general_funds_musd"]
        if self.in_recession:
            local *= 1 - p["recession_budget_cut"] * (1 - self.spec.strategy.funding_diversification)
        state = float(self.state_channels().get(f"funds:{family}", np.zeros(1)).sum())
        return (local + state + self.fed_channel(f"funds:{family}")) * self.spec.strategy.budget_multiplier * scale

    def start_programs(self, mask: np.ndarray):
        d, k = np.nonzero(mask)
        if not len(d):
            return
        self.active[d, k] = True
        self.phase_changed()
        self.phase[d, k] = self._start_phase[k]
        self.q_in_phase[d, k] = 0
        # Without the guide's prerequisites a district adopts on paper, at low fidelity.
        self.fidelity[d, k] = self.capacity[d] * np.where(self.prereq[d], 0.8, 0.4)
        self.reached[d, k] = np.maximum(self.reached[d, k], self._start_phase[k])
        self.outcome_counts["started"] += np.bincount(k, minlength=self.active.shape[1])

    @cached_property
    def _start_phase(self) -> np.ndarray:
        """Phase a new program starts in: planning, or, when the strategy skips pilots, the
        first phase after the pilot."""
        if self.spec.strategy.pilot_first:
            return np.zeros(len(self.programs), np.int8)
        return np.array([pr.pilot_phase + 1 if len(pr.phase_names) > pr.pilot_phase + 2 else 0
                         for pr in self.programs], np.int8)

    def end_programs(self, where, reason: str):
        """End programs given as a boolean (n_districts, n_programs) mask or (rows, cols) indices."""
        idx = np.nonzero(where) if isinstance(where, np.ndarray) else where
        if len(idx[0]) == 0:
            return
        self.active[idx] = False
        self.phase_changed()
        self.ended_q[idx] = self.quarter
        n = np.bincount(idx[1], minlength=self.active.shape[1])
        self.outcome_counts[reason] = self.outcome_counts.get(reason, 0) + n

    # ------------------------------------------------------------------ reflect (yearly)
    def reflect(self):
        """The guide's reflect step: districts compare results with the baseline; a visible
        improvement is a public win that raises local buy-in and, through the network, state and
        federal odds. Measuring the wrong thing (weak data) hides real wins."""
        p, w, q = self.p, self.world, self.quarter
        eff = (self.coverage() * self.fidelity * self.active).max(1)
        data_quality = min(1.0, 0.55 + self.plan.support_at("data", q) + self.fed_channel("data") * 0.5)
        seen = self.rng_risk.random(w.n_districts) < data_quality
        win = (eff > p["reflect_win_threshold"] * 5) & seen
        self.program_wins += win
        self.buy_in[win] = np.minimum(self.buy_in[win] + 0.05, 1)
        self.fidelity[win[:, None] & self.active] = np.minimum(self.fidelity[win[:, None] & self.active] + 0.03, 1)
        stories = 0.5 + self.plan.support_at("stories", q)
        n_s = np.bincount(w.d_state, minlength=self.n_states)
        wins_s = np.bincount(w.d_state, weights=win, minlength=self.n_states)
        self.state_win_share = np.minimum(1, wins_s / (0.02 * n_s + 1) * stories)
        self.national_win_share = float(min(1, win.sum() / (0.01 * w.n_districts + 1) * stories))
        self.coal_last_win[:-1][wins_s > 0] = q
        if win.sum() > 0:
            self.coal_last_win[-1] = q
        self.coal_breadth[:-1] = np.minimum(1, self.coal_breadth[:-1] + 0.02 * (wins_s > 0) * stories)

    def accumulate_outcomes(self):
        """One more year of exposure: achievement and graduation move by published effect sizes
        applied to this year's spending, teacher, course-access and integration changes."""
        p, w = self.p, self.world
        spend_rel = self.school_spending_ratio() / self._spend_ratio0 - 1
        texp_change = self.school_teacher_experience() - self._texp0
        self.gain_all += (p["spending_achievement_effect"] * spend_rel / 0.1
                          + p["teacher_achievement_effect"] * texp_change * 0.2)
        self.grad_all += p["spending_graduation_effect"] / 12 * spend_rel / 0.1
        expo = self.district_exposure() - self._expo0
        ap_closed = self.ap_cut
        self.gain_minority += p["integration_achievement_effect"] / 10 * expo + p["ap_achievement_effect"] / 10 * ap_closed
        self.grad_minority += p["integration_graduation_effect"] / 10 * expo

    # ------------------------------------------------------------------ school arrays, now
    def school_enrollment(self) -> np.ndarray:
        """(n_schools, 4) students by group, after integration programs.

        A school's mix = its district's (current) mix + its baseline deviation from the district,
        scaled by how much of that deviation controlled choice leaves (`seg_keep`); a district's
        mix moves toward its region's by `inter_mix` (interdistrict programs)."""
        w = self.world
        if self._enroll_cache[0] == self.quarter:
            return self._enroll_cache[1]
        if np.all(self.seg_keep == 1) and not self.inter_mix.any():
            return w.s_enroll_by_group
        d = w.s_district
        d_now = w.d_share + self.inter_mix[:, None] * (self._region_share[w.d_region] - w.d_share)
        share = self.seg_keep[d][:, None] * w.s_dev + d_now[d]
        if (share < 0).any():
            np.clip(share, 0, None, out=share)
            share /= share.sum(1, keepdims=True)
        share *= w.s_enroll[:, None]
        self._enroll_cache = (self.quarter, share)
        return share

    @cached_property
    def _region_share(self) -> np.ndarray:
        w = self.world
        tot = np.bincount(w.d_region, weights=w.d_enroll, minlength=w.n_regions)
        return np.stack([np.bincount(w.d_region, weights=w.d_enroll * w.d_share[:, g], minlength=w.n_regions)
                         for g in range(4)], 1) / tot[:, None]

    def district_spending_ratio(self) -> np.ndarray:
        """Per-pupil spending of each district relative to its state's baseline mean."""
        w, p = self.world, self.p
        st = w.d_state
        tilt0 = w.d_spend_tilt
        d_min = w.d_share[:, BLACK] + w.d_share[:, HISPANIC]
        st_min = self._state_minority_share[st]
        progressive = p["funding_reform_weight"] * (d_min - st_min) + np.maximum(tilt0, 0) * 0.5
        ratio = 1 + tilt0 + self.spend_progress[st] * (progressive - tilt0)
        floor = p["adequacy_level"] + 0.02
        ratio = np.where(ratio < floor, ratio + self.adequacy_progress[st] * (floor - ratio), ratio)
        return ratio

    @cached_property
    def _state_minority_share(self) -> np.ndarray:
        w = self.world
        d_min = w.d_share[:, BLACK] + w.d_share[:, HISPANIC]
        return np.bincount(w.d_state, weights=w.d_enroll * d_min) / np.bincount(w.d_state, weights=w.d_enroll)

    def school_spending_ratio(self) -> np.ndarray:
        w = self.world
        comp = self.comparability[w.d_state][w.s_district]
        return self.district_spending_ratio()[w.s_district] * (1 + w.s_spend_dev * (1 - comp))

    def school_spending(self) -> np.ndarray:
        """Per-pupil current spending, dollars (state's published mean x the school's ratio)."""
        w = self.world
        pp = w.states["per_pupil_current_expenditure"].to_numpy(float)
        return pp[w.d_state][w.s_district] * self.school_spending_ratio()

    def school_teacher_experience(self) -> np.ndarray:
        """Mean teacher experience, years."""
        w = self.world
        return self.p["teacher_experience_mean"] + w.s_texp_dev * (1 - self.teach_cut[w.s_district])

    def district_exposure(self) -> np.ndarray:
        """Per district: share white in the school of the average Black or Hispanic student."""
        w = self.world
        e = self.school_enrollment()
        mino = e[:, BLACK] + e[:, HISPANIC]
        frac_w = e[:, WHITE] / np.maximum(e.sum(1), 1e-9)
        num = np.bincount(w.s_district, weights=mino * frac_w, minlength=w.n_districts)
        den = np.bincount(w.s_district, weights=mino, minlength=w.n_districts)
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    # ------------------------------------------------------------------ metrics
    def measure(self) -> dict:
        """Every roadmap metric and indicator count, now (pure metric functions on the arrays)."""
        if not hasattr(self, "_spend_ratio0"):
            self._spend_ratio0 = self.school_spending_ratio()
            self._texp0 = self.school_teacher_experience()
            self._expo0 = self.district_exposure()
        w, p = self.world, self.p
        first = w.d_first_school
        e = self.school_enrollment()
        white, black, hisp = e[:, WHITE], e[:, BLACK], e[:, HISPANIC]
        minority = black + hisp
        by_d = lambda x: np.add.reduceat(x, first)  # noqa: E731 - per-district sums
        W, B, H = white.sum(), black.sum(), hisp.sum()
        # Suspensions: school rate = group base x school noise x (1 - district cut).
        noise = w.s_susp_noise
        base = p["suspension_rate_white"]
        rate_w = base * (by_d(white * noise) * (1 - self.susp_cut[:, WHITE])).sum() / W
        rate_b = base * p["suspension_ratio_black_white"] * (by_d(black * noise) * (1 - self.susp_cut[:, BLACK])).sum() / B
        rate_h = base * p["suspension_ratio_hispanic_white"] * (by_d(hisp * noise) * (1 - self.susp_cut[:, HISPANIC])).sum() / H
        # AP/honors: minority rates close toward the white rate by the district's ap_cut.
        rb, rh = p["ap_ratio_black"], p["ap_ratio_hispanic"]
        c = np.minimum(self.ap_cut, 1)
        b_d, h_d = by_d(black), by_d(hisp)
        ap_min = p["ap_rate_white"] * ((b_d * (rb + (1 - rb) * c)).sum() + (h_d * (rh + (1 - rh) * c)).sum()) / (B + H)
        # Achievement (SD) and graduation (share): baseline gaps, minus gains.
        gm = (b_d + h_d) * self.gain_minority
        ach_w = (white * self.gain_all).sum() / W
        ach_m = ((minority * self.gain_all).sum() + gm.sum()
                 - B * p["achievement_gap_black"] - H * p["achievement_gap_hispanic"]) / (B + H)
        grad_w = p["graduation_rate_white"] + (white * self.grad_all).sum() / W
        grad_m = (B * p["graduation_rate_black"] + H * p["graduation_rate_hispanic"]
                  + (minority * self.grad_all).sum() + ((b_d + h_d) * self.grad_minority).sum()) / (B + H)
        d_ratio = self.district_spending_ratio()
        below = np.bincount(w.d_state, weights=w.d_enroll * (d_ratio < p["adequacy_level"]), minlength=self.n_states)
        adequacy_by_state = below / self._state_enroll
        out = {
            "dissimilarity": M.dissimilarity(white, minority),
            "dissimilarity_within_district": M.within_district_dissimilarity(white, minority, w.s_district, w.n_districts),
            "exposure_minority_to_white": M.exposure(minority, white, w.s_enroll),
            "spending_gap": M.spending_gap(self.school_spending_ratio(), w.s_enroll, w.s_high_minority, w.s_low_minority),
            "adequacy_gap": M.adequacy_gap(d_ratio, w.d_enroll, p["adequacy_level"]),
            "teacher_experience_gap": M.mean_gap(self.school_teacher_experience(), w.s_enroll,
                                                 w.s_low_minority, w.s_high_minority),
            "suspension_ratio_black_white": rate_b / rate_w,
            "suspension_gap_pp": (rate_b - rate_w) * 100,
            "suspension_ratio_hispanic_white": rate_h / rate_w,
            "ap_gap": M.relative_gap(ap_min, p["ap_rate_white"]),
            "achievement_gap": ach_w - ach_m,
            "graduation_gap_pp": 100 * (grad_w - grad_m),
            "states_all_adequate": int((adequacy_by_state <= 0.05).sum()),
        }
        out.update(self._counts_now())
        return out

    @cached_property
    def _state_enroll(self) -> np.ndarray:
        return np.bincount(self.world.d_state, weights=self.world.d_enroll, minlength=self.n_states)

    def _counts_now(self) -> dict:
        w = self.world
        k = self.program_index
        cc, im, re = k["controlled_choice"], k["interdistrict_magnet"], k["restorative"]
        pilot = np.array([pr.pilot_phase for pr in self.programs])
        past_pilot = self.active & (self.phase >= pilot[None, :])
        regions = np.zeros(w.n_regions, bool)
        regions[w.d_region[past_pilot[:, im]]] = True
        diverse = w.d_diverse
        pol = self.policy_index
        return {
            "integration_pilots_launched": int(((self.reached[:, cc] >= pilot[cc]) | (self.reached[:, im] >= pilot[im])).sum()),
            "restorative_districts": int(self.active[:, re].sum()),
            "controlled_choice_districts": int(past_pilot[:, cc].sum()),
            "interdistrict_regions": int(regions.sum()),
            "funding_bills_states": int(self.st_ever[:, pol["funding_bill"]].sum()),
            "funding_reform_states": int(self.st_on[:, pol["weighted_funding"]].sum()),
            "adequacy_standard_states": int(self.st_on[:, pol["adequacy_standard"]].sum()),
            "federal_guidance": int((self._fed_effects["guidance"] * self.fed_ever).sum() > 0),
            "integration_share_diverse": float((self.active[:, cc] & (self.phase[:, cc] >= pilot[cc] + 1) & diverse).sum()
                                               / max(diverse.sum(), 1)),
            "national_coalition_breadth": float(self.coal_breadth[-1] if self.coal_breadth[-1] > 0 else 0),
        }

    # ------------------------------------------------------------------ network (on demand)
    @cached_property
    def network(self):
        """The multi-level networkx graph of this model's world (built on first use)."""
        from .network import build_network
        return build_network(self.world)
