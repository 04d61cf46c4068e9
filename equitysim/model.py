"""The equitysim Mesa model: what happens in one quarter.

    calendar -> federal government -> business cycle -> coalitions -> states -> districts
    -> schools -> (at each year end) reflect on results and record metrics

Per-district and per-school state lives in numpy arrays on the model; the agent classes in
agents.py apply their rules to all rows at once. District programs are kept as a list of active
(district, program) cells (`cells`), mirrored in the dense arrays other code reads (`active`,
`phase`, `reached`: districts x programs). School outcomes are never stepped school by school:
the modifiers that move them are per district (and per state), and the year-end metrics are
sums over districts of world-fixed per-school sums (see aggregates.py). The per-agent reference
in `benchmarks/reference/` computes the same thing the obvious way.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cached_property
from importlib import resources

import mesa
import numpy as np

from . import indicators as _ind
from . import metrics as M
from . import risks
from .actions import default_catalogue
from .aggregates import DistrictMix, TouchedSchools, school_sums, with_baseline
from .agents import LAG, Coalition, District, FederalGovernment, School, State  # noqa: F401 - LAG re-exported
from .plan import compile_plan
from .risks import clip
from .scenario import EquityScenario, ScenarioSpec
from .world import BLACK, HISPANIC, World, build_world

START_YEAR = 2027  # roadmap year 1 (assumption: the campaign starts in January 2027)
# leadership_changes: governors and federal administrations that change side; superintendent_changes:
# new superintendents in districts running reform programs (the guide's local leadership risk)
RISK_COUNTS = ("backlash_events", "leadership_changes", "superintendent_changes", "funding_cuts",
               "court_challenges", "implementation_failures")
WORLD_PARAMS = ("district_size_sigma", "between_district_concentration", "within_district_concentration",
                "spending_noise_sd", "minority_spending_tilt", "teacher_experience_gap", "region_size",
                "district_prerequisites_share", "equity_as_lens_share", "union_cooperation_share")
STRATUM_RATIO = 4.0  # size multipliers within a candidate stratum differ by at most this factor
WHERE_CODES = {"broad_coalition": 1, "local_successes": 2}  # dynamic `where` values; all others 0
FUNDING_POLICIES = ("weighted_funding", "adequacy_standard", "property_tax_reform")
LITIGATED = ("weighted_funding", "funding_bill", "adequacy_standard")


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


class Cells:
    """The active (district, program) cells, as parallel arrays: district `d`, program `k`,
    implementation `phase`, quarters in that phase `qin`, fidelity `fid`. Ended cells are
    marked `dead` and removed by `compact()`, so positions stay valid within a stage."""

    __slots__ = ("d", "k", "phase", "qin", "fid", "dead")

    def __init__(self):
        self.d = np.zeros(0, np.int64)
        self.k = np.zeros(0, np.int64)
        self.phase = np.zeros(0, np.int64)
        self.qin = np.zeros(0, np.int64)
        self.fid = np.zeros(0)
        self.dead = np.zeros(0, bool)

    def __len__(self):
        return len(self.d)

    def append(self, d, k, phase, fid):
        self.compact()
        self.d = np.concatenate([self.d, d])
        self.k = np.concatenate([self.k, k])
        self.phase = np.concatenate([self.phase, phase])
        self.qin = np.concatenate([self.qin, np.zeros(len(d), np.int64)])
        self.fid = np.concatenate([self.fid, fid])
        self.dead = np.zeros(len(self.d), bool)

    def compact(self):
        if self.dead.any():
            keep = ~self.dead
            for name in ("d", "k", "phase", "qin", "fid"):
                setattr(self, name, getattr(self, name)[keep])
            self.dead = np.zeros(len(self.d), bool)


@dataclass
class RowTable:
    """The plan's state or local rows as arrays (row r pushes policy/program `j`/`k`)."""

    j: np.ndarray
    mask: np.ndarray          # (n_rows, n_states) static state mask
    where: np.ndarray         # 0 static, 1 broad_coalition, 2 local_successes
    target: np.ndarray
    pace_end: np.ndarray
    intensity: np.ndarray
    phase1: np.ndarray
    cost: np.ndarray
    dmask: np.ndarray         # (n_rows, n_districts) static state mask, per district
    req: np.ndarray           # (n_rows, n_policies) required policies
    req_f: np.ndarray         # the same as floats (for a matrix product)
    litigated: np.ndarray     # pushed under litigation pressure
    conds: list               # district eligibility conditions (local rows)
    by_quarter: list          # row indices active in each quarter

    @property
    def k(self):
        return self.j

    def active_at(self, q: int) -> np.ndarray:
        return self.by_quarter[min(q, len(self.by_quarter) - 1)]

    @classmethod
    def build(cls, rows, n_q, n_s, policy_index, d_state):
        n = len(rows)
        n_p = len(policy_index)
        req = np.zeros((n, n_p), bool)
        for r, row in enumerate(rows):
            for name in row.action.requires:
                req[r, policy_index[name]] = True
        start = np.array([row.start_q for row in rows], int)
        end = np.array([row.end_q for row in rows], int)
        mask = np.array([row.mask for row in rows], bool).reshape(n, n_s)
        return cls(
            j=np.array([row.index for row in rows], int),
            mask=mask,
            dmask=mask[:, d_state],
            where=np.array([WHERE_CODES.get(row.where, 0) for row in rows], int),
            target=np.array([row.target for row in rows], float),
            pace_end=np.array([row.pace_end_q for row in rows], int),
            intensity=np.array([row.intensity for row in rows], float),
            phase1=np.array([row.action.phase == 1 for row in rows], bool),
            cost=np.array([row.action.cost_musd for row in rows], float),
            req=req,
            req_f=req.astype(float),
            litigated=np.array([row.action.policy in LITIGATED for row in rows], bool),
            conds=[tuple(row.action.eligibility) for row in rows],
            by_quarter=[np.flatnonzero((start <= q) & (q < end)) for q in range(n_q + 1)],
        )


class Outcomes:
    """Per-district outcome modifiers, kept as a state part plus a district part (see
    School.step_all): `seg_gap` = 1 - seg_keep; `mix_r` interdistrict mixing per region;
    suspension cuts (non-Black groups, Black), AP and teacher-gap cuts."""

    def __init__(self, n_s, n_d, n_r):
        self.seg_gap = np.zeros(n_d)
        self.mix_r = np.zeros(n_r)
        self.susp_s_nb, self.susp_s_b = np.zeros(n_s), np.zeros(n_s)
        self.susp_d_nb, self.susp_d_b = np.zeros(n_d), np.zeros(n_d)
        self.ap_s, self.ap_d = np.zeros(n_s), np.zeros(n_d)
        self.teach_s, self.teach_d = np.zeros(n_s), np.zeros(n_d)


class Fixed:
    """What a run needs that depends only on the world, the catalogue and a few parameters
    (built once and shared by every replication on the same world)."""

    KEYS = ("size_adoption_elasticity", "district_cost_medium_enrollment", "background_restorative_rate",
            "background_integration_rate")

    def __init__(self, w: World, progs, base_cost, p):
        n_d = w.n_districts
        self.budget_base = np.clip(0.55 + w.d_spend_tilt * 2, 0.2, 1.0)
        self.budget_min, self.budget_max = float(self.budget_base.min()), float(self.budget_base.max())
        self.log_budget = np.log(self.budget_base)
        self.region_n = np.bincount(w.d_region, minlength=w.n_regions).astype(float)
        self.region_inv = 1 / self.region_n
        multi = w.d_nschools >= 2
        eligible = np.ones((len(progs), n_d), bool)
        for k, pr in enumerate(progs):
            if pr.channel in ("segregation", "interdistrict"):
                eligible[k] = w.d_diverse
            elif pr.channel == "teacher_gap":
                eligible[k] = multi
        self.eligible_T = eligible
        self.diverse_by_state = np.maximum(np.bincount(w.d_state, weights=eligible.any(0), minlength=w.n_states), 1)
        # Larger districts have the central-office capacity integration plans need.
        self.size_mult = (w.d_enroll / np.median(w.d_enroll)) ** p["size_adoption_elasticity"]
        ones = np.ones(n_d)
        self.family = np.array([0 if pr.family == "integration" else 1 for pr in progs])
        self.size_mult_k = [self.size_mult if f == 0 else ones for f in self.family]
        self.size_mult_kd = np.stack(self.size_mult_k)
        self.size_cost = np.clip(w.d_enroll / p["district_cost_medium_enrollment"], 0.3, 6)
        self.base_cost = base_cost
        bg = {"restorative": p["background_restorative_rate"], "controlled_choice": p["background_integration_rate"]}
        self.bg_rate = np.array([bg.get(pr.id, 0.0) for pr in progs])
        # Candidate pools for adoption: each program's eligible districts, in strata of
        # similar size multiplier (within a factor of 2), so that the hazard bound is tight.
        self.strata = []
        for k in range(len(progs)):
            pool = np.flatnonzero(eligible[k])
            sm = self.size_mult_k[k][pool]
            pool, sm = pool[np.argsort(-sm, kind="stable")], np.sort(sm)[::-1]
            out = []
            i = 0
            while i < len(pool):
                j = max(int(np.searchsorted(-sm, -sm[i] / STRATUM_RATIO, side="right")), i + 100)
                if len(pool) - j < 100:
                    j = len(pool)
                out.append((pool[i:j], float(sm[i])))
                i = j
            self.strata.append(out)
        # the strata as flat arrays: program, pool size, largest size multiplier, pool
        flat = [(k, len(pool), sm, pool) for k, st in enumerate(self.strata) for pool, sm in st]
        self.stratum_k = np.array([x[0] for x in flat], int)
        self.stratum_n = np.array([x[1] for x in flat], int)
        self.stratum_size = np.array([x[2] for x in flat])
        self.strata_pool = [x[3] for x in flat]
        self.stratum_family = self.family[self.stratum_k]
        d_min = w.d_share[:, BLACK] + w.d_share[:, HISPANIC]
        self.state_enroll = np.bincount(w.d_state, weights=w.d_enroll, minlength=w.n_states)
        self.total_enroll = float(w.d_enroll.sum())
        self.state_minority_share = np.bincount(w.d_state, weights=w.d_enroll * d_min) / self.state_enroll
        tot = np.bincount(w.d_region, weights=w.d_enroll, minlength=w.n_regions)
        self.region_share = np.stack([np.bincount(w.d_region, weights=w.d_enroll * w.d_share[:, g], minlength=w.n_regions)
                                      for g in range(4)], 1) / tot[:, None]
        self.dshare_T = np.ascontiguousarray(w.d_share.T)
        self.regdiff_T = np.ascontiguousarray((self.region_share[w.d_region] - w.d_share).T)
        self.d_min = d_min
        self.n_neighbours = np.maximum(w.adjacency.sum(1), 1)
        self.adjacency_share = w.adjacency / self.n_neighbours[:, None]
        self.sums = with_baseline(school_sums(w), w)
        self.expo0 = self.sums.base["X"] / np.maximum(self.sums.base["B"] + self.sums.base["H"], 1e-300)

    @classmethod
    def get(cls, w: World, progs, base_cost, p) -> "Fixed":
        cache = w.__dict__.setdefault("_fixed_cache", {})
        key = tuple(p[k] for k in cls.KEYS)
        if key not in cache:
            cache[key] = cls(w, progs, base_cost, p)
        return cache[key]


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
        # The compiled plan depends only on the scenario and the world: shared by replications.
        plans = self.world.__dict__.setdefault("_plan_cache", {})
        key = self.spec.model_dump_json(exclude={"name", "description", "parameters", "uncertainty"})
        if key not in plans:
            plans[key] = {"plan": compile_plan(self.spec, self.catalogue, self.world)}
        self._plan_cache = plans[key]
        self.plan = self._plan_cache["plan"]
        # Separate streams so risk draws line up across scenarios (common random numbers):
        # national and state draws in fixed-size blocks (rng_risk, rng_adopt); event-contingent
        # draws (rng_cond); district draws from a stream re-keyed each quarter (quarter_rng).
        self.rng_risk, self.rng_adopt, self.rng_cond, local, init = self.rng.spawn(5)
        self._local_bits = local.bit_generator
        self._local_state0 = self._local_bits.state
        self._local = np.random.Generator(self._local_bits)
        self._local_q = -1
        self.quarter = 0
        self.n_quarters = self.spec.years * 4
        self.counts = dict.fromkeys(RISK_COUNTS + ("recessions",), 0)
        self.pace = (0.6 + 0.8 * self.spec.strategy.pacing) * self.p["policy_pace"]
        self._init_federal()
        self._init_states()
        self._init_districts(init)
        self.federal = FederalGovernment(self)
        self.state_agents = [State(self, i) for i in range(self.n_states)]
        self.coalition_agents = [Coalition(self, i) for i in range(self.n_states + 1)]
        self.districts = LazyAgents(self, District, self.world.n_districts)
        self.schools = LazyAgents(self, School, self.world.n_schools)
        self.history: list[dict] = []
        self.snapshots: dict[int, dict] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={k: (lambda m, k=k: m.history[-1][k]) for k in _ind.TRAJECTORY_METRICS})
        # The baseline depends only on the world and the parameters.
        base = self.world.__dict__.setdefault("_baseline_cache", {})
        key = tuple(sorted(self.p.items()))
        if key not in base:
            base[key] = self.measure()
        self.baseline = dict(base[key])

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
        self._fed_names = list(self._fed_effects)
        self._fed_key = None

    def _init_states(self):
        w = self.world
        st = w.states
        self.n_states = len(st)
        self.policies = list(self.catalogue.state_policies)
        self.state_codes = list(st.index)
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
        self._st_names = list(self._st_effects)
        self._st_key = None
        self._locks_buf = np.zeros_like(self.st_on)
        self._dyn = np.ones((3, self.n_states), bool)
        self._funding_policies = np.isin(self.policies, FUNDING_POLICIES)
        self.climate0 = st["climate"].to_numpy(float)
        self.climate = self.climate0.copy()
        self.climate_shock = np.zeros(self.n_states)
        self.gov_flipped = np.zeros(self.n_states, bool)
        self.litigation = st["litigation_pending"].to_numpy(bool).copy()
        self.spend_progress = np.zeros(self.n_states)
        self.adequacy_progress = np.zeros(self.n_states)
        self.comparability = np.zeros(self.n_states)
        cal = _elections()
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
        if "state_rows" not in self._plan_cache:
            self._plan_cache["state_rows"] = RowTable.build(self.plan.state_rows, self.n_quarters, self.n_states,
                                                             self.policy_index, self.world.d_state)
        self.rows_state = self._plan_cache["state_rows"]

    def _init_districts(self, init_rng):
        w, p = self.world, self.p
        progs = list(self.catalogue.programs.values())
        self.programs = progs
        self.program_index = {pr.id: k for k, pr in enumerate(progs)}
        self.k_cc, self.k_im, self.k_re, self.k_ta, self.k_dt = (
            self.program_index[k] for k in ("controlled_choice", "interdistrict_magnet", "restorative",
                                            "teacher_assignment", "detracking"))
        n_d, n_k = w.n_districts, len(progs)
        base_cost = np.zeros(n_k)
        for a in self.catalogue.actions:
            if a.level == "local":
                k = self.program_index[a.policy]
                base_cost[k] = max(base_cost[k], a.cost_musd)
        self.fixed = Fixed.get(w, progs, base_cost, p)
        # Dense districts x programs arrays other code reads, stored program-major.
        self.active_T = np.zeros((n_k, n_d), bool)
        self.phase_T = np.zeros((n_k, n_d), np.int8)
        self.reached_T = np.full((n_k, n_d), -1, np.int8)
        self.ended_T = np.full((n_k, n_d), -100, np.int16)
        self.cells = Cells()
        self.burnout = np.zeros(n_d)
        self.buy_in = w.d_buy_in.copy()
        self._cap_log_factor, self._cap_burnout, self._cap_buy = -np.inf, self.burnout, self.buy_in
        self.prereq = w.d_prereq.copy()
        lens = self.spec.strategy.equity_as_lens
        self.lens = w.d_lens.copy() if lens is None else (init_rng.random(n_d) < lens)
        n_ph = max(len(pr.phase_names) for pr in progs)
        self.phase_quarters = np.zeros((n_k, n_ph), int)
        self.phase_coverage = np.ones((n_k, n_ph))
        for k, pr in enumerate(progs):
            self.phase_quarters[k, :len(pr.phase_quarters)] = pr.phase_quarters
            self.phase_coverage[k, :len(pr.phase_coverage)] = pr.phase_coverage
        self._phase_offset = (np.arange(n_k) * n_ph)[None, :]
        self._phase_coverage_flat, self._phase_quarters_flat, self._n_phases = self.phase_coverage.ravel(), self.phase_quarters.ravel(), n_ph
        self.final_phase = np.array([len(pr.phase_names) - 1 for pr in progs])
        self.pilot_phase = np.array([pr.pilot_phase for pr in progs])
        self.program_visible = np.array([pr.visible for pr in progs])
        self.race_conscious_possible = np.array([pr.race_conscious_possible for pr in progs])
        self.family_programs = {f: [k for k, pr in enumerate(progs) if pr.family == f] for f in ("integration", "general")}
        self.program_cost = self.fixed.size_cost[:, None] * base_cost[None, :]
        self.size_mult = self.fixed.size_mult
        if "local_rows" not in self._plan_cache:
            rows = RowTable.build(self.plan.local_rows, self.n_quarters, self.n_states, self.policy_index, self.world.d_state)
            rows.dmask_el = rows.dmask & self.fixed.eligible_T[rows.k]
            self._plan_cache["local_rows"] = rows
        self.rows_local = self._plan_cache["local_rows"]
        self.outcome = Outcomes(self.n_states, n_d, w.n_regions)
        self._channel_matrices()
        self._gain = np.zeros((3, n_d))     # gain_all per school = G0 + G1 * phi_s + G2 * tau_s
        self._grad = np.zeros((2, n_d))     # grad_all per school = H0 + H1 * phi_s
        self.gain_minority = np.zeros(n_d)  # extra gain for Black and Hispanic students, SD
        self.grad_minority = np.zeros(n_d)
        self.program_wins = np.zeros(n_d, int)
        self._all_districts = np.arange(n_d)
        self.outcome_counts = {"started": np.zeros(n_k, int)}
        self._mix_cache = (None, None)
        self._ratio_cache = (None, None)
        self._touched = TouchedSchools(self.fixed.sums, w)
        self._enroll_cache = (-1, None)

    def _channel_matrices(self):
        """Policy/action -> channel matrices, with the 'hazard:<policy>' and 'hazard:<program>'
        columns (and the two lock channels) laid out for one matrix product per update."""
        n_p = len(self.policies)
        z = np.zeros(n_p)
        st = self._st_effects
        cols = ([st[c] for c in self._st_names] + [st.get(f"hazard:{x}", z) for x in self.policies]
                + [st.get(f"hazard:{pr.id}", z) for pr in self.programs] + [st.get("lock:state", z), st.get("lock:funding", z)])
        self._st_all = np.stack(cols, 1)
        fz = np.zeros(len(self.fed_on))
        fe = self._fed_effects
        cols = ([fe[c] for c in self._fed_names] + [fe.get(f"hazard:{x}", fz) for x in self.policies]
                + [fe.get(f"hazard:{pr.id}", fz) for pr in self.programs])
        self._fed_all = np.stack(cols, 1)

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

    def quarter_rng(self) -> np.random.Generator:
        """This quarter's stream for district draws: the same numbers in every scenario, however
        many an earlier quarter used (the stream jumps 2^40 draws per quarter)."""
        if self._local_q != self.quarter:
            self._local_bits.state = self._local_state0
            self._local_bits.advance(self.quarter << 40)
            self._local_q = self.quarter
        return self._local

    def set_capacity(self, factor: float):
        """Fix this quarter's capacity inputs (see `capacity_at`): the budget factor (recession,
        budget multiplier) and the current burnout and buy-in."""
        self._cap_log_factor = np.log(factor) if factor > 0 else -np.inf
        self._cap_burnout = self.burnout.copy()
        self._cap_buy = self.buy_in.copy()

    def log_capacity_at(self, d) -> np.ndarray:
        """log of `capacity_at(d)`."""
        time = clip(1 - self._cap_burnout[d], 0.1, 1)
        buy = clip(self._cap_buy[d] * self.spec.strategy.buy_in_multiplier, 0.02, 1)
        return (self.fixed.log_budget[d] + self._cap_log_factor + np.log(time * buy)) / 3

    def capacity_at(self, d) -> np.ndarray:
        """Capacity (0-1) of districts `d` this quarter: the cube root of budget x time x buy-in
        (the guide's three constraints), as of the start of the quarter."""
        return np.exp(self.log_capacity_at(d))

    @property
    def capacity(self) -> np.ndarray:
        """(n_districts,) capacity this quarter (a copy)."""
        return self.capacity_at(slice(None))

    def capacity_range(self) -> tuple[float, float]:
        """Bounds on this quarter's capacity over all districts."""
        F, lf = self.fixed, self._cap_log_factor
        return (float(np.exp((np.log(F.budget_min * 0.1 * 0.02) + lf) / 3)), float(np.exp((np.log(F.budget_max) + lf) / 3)))

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

    # ------------------------------------------------------------------ dense views
    @property
    def active(self) -> np.ndarray:
        """(n_districts, n_programs) bool: program running in the district (a view)."""
        return self.active_T.T

    @property
    def phase(self) -> np.ndarray:
        """(n_districts, n_programs) implementation phase (last phase where not active; a view)."""
        return self.phase_T.T

    @property
    def reached(self) -> np.ndarray:
        """(n_districts, n_programs) furthest phase ever reached (-1: never started; a view)."""
        return self.reached_T.T

    @property
    def ended_q(self) -> np.ndarray:
        """(n_districts, n_programs) quarter the program last ended (-100: never; a view)."""
        return self.ended_T.T

    def _dense(self, values, fill=0.0, dtype=float) -> np.ndarray:
        out = np.full((self.world.n_districts, len(self.programs)), fill, dtype)
        out[self.cells.d, self.cells.k] = values
        return out

    @property
    def fidelity(self) -> np.ndarray:
        """(n_districts, n_programs) fidelity of active programs (0 elsewhere; a copy)."""
        return self._dense(self.cells.fid)

    @property
    def q_in_phase(self) -> np.ndarray:
        """(n_districts, n_programs) quarters spent in the current phase (a copy)."""
        return self._dense(self.cells.qin, 0, np.int16)

    @property
    def eligible(self) -> np.ndarray:
        return self.fixed.eligible_T.T

    @property
    def seg_keep(self) -> np.ndarray:
        """Share of each district's within-district deviation that controlled choice leaves."""
        return 1 - self.outcome.seg_gap

    @property
    def inter_mix(self) -> np.ndarray:
        """How far each district's mix has moved toward its region's (interdistrict programs)."""
        return self.outcome.mix_r[self.world.d_region]

    @property
    def susp_cut(self) -> np.ndarray:
        """(n_districts, 4) cut in suspension rates by group."""
        O, st = self.outcome, self.world.d_state
        nb = O.susp_s_nb[st] + O.susp_d_nb
        out = np.repeat(nb[:, None], 4, 1)
        out[:, BLACK] = O.susp_s_b[st] + O.susp_d_b
        return out

    @property
    def ap_cut(self) -> np.ndarray:
        return self.outcome.ap_s[self.world.d_state] + self.outcome.ap_d

    @property
    def teach_cut(self) -> np.ndarray:
        return self.outcome.teach_s[self.world.d_state] + self.outcome.teach_d

    @property
    def gain_all(self) -> np.ndarray:
        """Achievement gain of all students in each school, SD (per school)."""
        w, S = self.world, self.fixed.sums
        g = self._gain[:, w.s_district]
        return g[0] + g[1] * S.s_cols[5] + g[2] * S.s_cols[6]

    @property
    def grad_all(self) -> np.ndarray:
        """Graduation-rate gain of all students in each school, share (per school)."""
        w, S = self.world, self.fixed.sums
        g = self._grad[:, w.s_district]
        return g[0] + g[1] * S.s_cols[5]

    # ------------------------------------------------------------------ helpers used by agents
    def district(self, i: int) -> District:
        return self.districts[i]

    def school(self, i: int) -> School:
        return self.schools[i]

    def _fed_update(self):
        key = self.fed_on.tobytes()
        if key != self._fed_key:
            v = self.fed_on @ self._fed_all
            c = len(self._fed_names)
            self._fed_ch = dict(zip(self._fed_names, v[:c].tolist()))
            self._fed_pol_h = v[c:c + len(self.policies)]
            self._fed_prog_h = v[c + len(self.policies):]
            self._fed_key = key

    def fed_channel(self, channel: str) -> float:
        self._fed_update()
        return self._fed_ch.get(channel, 0.0)

    def fed_policy_hazard(self) -> np.ndarray:
        """(n_policies,) federal 'hazard:<policy>' boosts in force."""
        self._fed_update()
        return self._fed_pol_h

    def fed_program_hazard(self) -> np.ndarray:
        self._fed_update()
        return self._fed_prog_h

    def _st_update(self):
        key = self.st_on.tobytes()
        if key != self._st_key:
            v = self.st_on @ self._st_all
            c, n_p = len(self._st_names), len(self.policies)
            self._ch = dict(zip(self._st_names, v[:, :c].T))
            self._st_pol_h = v[:, c:c + n_p]
            self._st_prog_h = v[:, c + n_p:c + n_p + len(self.programs)]
            locks = self._locks_buf
            locks[:] = False
            if self.spec.strategy.lock_in:
                locks |= (v[:, -2] >= 1)[:, None]
                locks |= (v[:, -1] > 0)[:, None] & self._funding_policies[None, :]
            self._st_key = key

    def state_channels(self) -> dict[str, np.ndarray]:
        """Channel -> (n_states,) size of the state policies in force (cached until st_on changes;
        do not modify the arrays)."""
        self._st_update()
        return self._ch

    def state_policy_hazard(self) -> np.ndarray:
        """(n_states, n_policies) state 'hazard:<policy>' boosts in force."""
        self._st_update()
        return self._st_pol_h

    def state_program_hazard(self) -> np.ndarray:
        """(n_states, n_programs) state 'hazard:<program>' boosts in force."""
        self._st_update()
        return self._st_prog_h

    def locked(self) -> np.ndarray:
        """(n_states, n_policies): policies protected from repeal by a lock in force."""
        self._st_update()
        return self._locks_buf

    def active_rows(self, rows):
        q = self.quarter
        return [r for r in rows if r.start_q <= q < r.end_q]

    def dynamic_mask(self, where: str) -> np.ndarray:
        return self.dynamic_masks()[WHERE_CODES.get(where, 0)]

    def dynamic_masks(self) -> np.ndarray:
        """(3, n_states): all states; broad coalition; states with local successes."""
        dm = self._dyn
        np.greater_equal(self.coal_breadth[:-1], 0.4, out=dm[1])
        np.greater(self.state_win_share, 0, out=dm[2])
        return dm

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
        return (self.quarter - self.ended_T[k]) < 8

    def phase_len(self) -> np.ndarray:
        return self.phase_quarters.ravel()[self._phase_offset + self.phase]

    def coverage(self) -> np.ndarray:
        """(n_districts, n_programs): share of schools reached in each program's current phase
        (zero where the program is not active)."""
        return self.phase_coverage.ravel()[self._phase_offset + self.phase] * self.active

    def cells_coverage(self) -> np.ndarray:
        """Coverage of each active cell (see `coverage`)."""
        c = self.cells
        return self._phase_coverage_flat[c.k * self._n_phases + c.phase]

    def phase_changed(self):
        """Kept for compatibility: coverage is no longer cached."""

    def clear_caches(self):
        """Forget what is cached for the current quarter (call after editing state by hand)."""
        self._mix_cache = (None, None)
        self._enroll_cache = (-1, None)
        self._ratio_cache = (None, None)

    def region_share_active(self) -> np.ndarray:
        """(n_districts, n_programs): share of a district's regional peers running each program."""
        w = self.world
        n_k = len(self.programs)
        c = self.cells
        act = np.bincount(w.d_region[c.d] * n_k + c.k, minlength=w.n_regions * n_k).reshape(w.n_regions, n_k)
        return (act / self.fixed.region_n[:, None])[w.d_region]

    def family_funds(self, family: str) -> float:
        """Money ($M a year) available nationally for a program family: local, state, federal."""
        p = self.p
        scale = self.world.scale
        local = p["local_integration_funds_musd" if family == "integration" else "local_general_funds_musd"]
        if self.in_recession:
            local *= 1 - p["recession_budget_cut"] * (1 - self.spec.strategy.funding_diversification)
        state = float(self.state_channels().get(f"funds:{family}", np.zeros(1)).sum())
        return (local + state + self.fed_channel(f"funds:{family}")) * self.spec.strategy.budget_multiplier * scale

    @cached_property
    def _start_phase(self) -> np.ndarray:
        """Phase a new program starts in: planning, or, when the strategy skips pilots, the
        first phase after the pilot."""
        if self.spec.strategy.pilot_first:
            return np.zeros(len(self.programs), np.int64)
        return np.array([pr.pilot_phase + 1 if len(pr.phase_names) > pr.pilot_phase + 2 else 0
                         for pr in self.programs], np.int64)

    def start_cells(self, d: np.ndarray, k: np.ndarray):
        """Start program k[i] in district d[i] (cells not already active)."""
        if not len(d):
            return
        ph = self._start_phase[k]
        # Without the guide's prerequisites a district adopts on paper, at low fidelity.
        fid = self.capacity_at(d) * np.where(self.prereq[d], 0.8, 0.4)
        self.cells.append(d, k, ph, fid)
        self.active_T[k, d] = True
        self.phase_T[k, d] = ph
        self.reached_T[k, d] = np.maximum(self.reached_T[k, d], ph)
        self.outcome_counts["started"] += np.bincount(k, minlength=len(self.programs))

    def end_cells(self, pos: np.ndarray, reason: str):
        """End the active cells at positions `pos` (removed from `cells` by its next compact())."""
        if not len(pos):
            return
        c = self.cells
        d, k = c.d[pos], c.k[pos]
        c.dead[pos] = True
        self.active_T[k, d] = False
        self.ended_T[k, d] = self.quarter
        n = np.bincount(k, minlength=len(self.programs))
        self.outcome_counts[reason] = self.outcome_counts.get(reason, 0) + n

    def start_programs(self, mask: np.ndarray):
        """Start programs given as a boolean (n_districts, n_programs) mask."""
        d, k = np.nonzero(mask & ~self.active)
        self.start_cells(d, k)

    def end_programs(self, where, reason: str):
        """End programs given as a boolean (n_districts, n_programs) mask or (rows, cols) indices."""
        idx = np.nonzero(where) if isinstance(where, np.ndarray) else where
        c = self.cells
        n_k = len(self.programs)
        pos = np.flatnonzero(np.isin(c.d * n_k + c.k, np.asarray(idx[0]) * n_k + np.asarray(idx[1])))
        self.end_cells(pos, reason)
        c.compact()

    # ------------------------------------------------------------------ reflect (yearly)
    def reflect(self):
        """The guide's reflect step: districts compare results with the baseline; a visible
        improvement is a public win that raises local buy-in and, through the network, state and
        federal odds. Measuring the wrong thing (weak data) hides real wins."""
        p, w, q = self.p, self.world, self.quarter
        c = self.cells
        g = self.quarter_rng()
        eff = self.cells_coverage() * c.fid
        data_quality = min(1.0, 0.55 + self.plan.support_at("data", q) + self.fed_channel("data") * 0.5)
        # A district wins when its best program is visibly effective and the data show it.
        good = np.zeros(w.n_districts, bool)
        good[c.d[eff > p["reflect_win_threshold"] * 5]] = True
        cand = np.flatnonzero(good)
        win_d = cand[g.random(len(cand)) < data_quality]
        self.program_wins[win_d] += 1
        self.buy_in[win_d] = np.minimum(self.buy_in[win_d] + 0.05, 1)
        win = np.zeros(w.n_districts, bool)
        win[win_d] = True
        f = win[c.d]
        c.fid[f] = np.minimum(c.fid[f] + 0.03, 1)
        stories = 0.5 + self.plan.support_at("stories", q)
        n_s = np.bincount(w.d_state, minlength=self.n_states)
        wins_s = np.bincount(w.d_state[win_d], minlength=self.n_states)
        self.state_win_share = np.minimum(1, wins_s / (0.02 * n_s + 1) * stories)
        self.national_win_share = float(min(1, len(win_d) / (0.01 * w.n_districts + 1) * stories))
        self.coal_last_win[:-1][wins_s > 0] = q
        if len(win_d) > 0:
            self.coal_last_win[-1] = q
        self.coal_breadth[:-1] = np.minimum(1, self.coal_breadth[:-1] + 0.02 * (wins_s > 0) * stories)

    def accumulate_outcomes(self):
        """One more year of exposure: achievement and graduation move by published effect sizes
        applied to this year's spending, teacher, course-access and integration changes.

        Per school s in district d: spending relative to baseline is rho_d * (1 - c * phi_s) - 1
        (rho_d: district ratio over its baseline, c: comparability, phi_s = dev/(1+dev) of the
        school's spending deviation) and teacher experience changes by -tau_s * teach_cut_d, so
        each year adds district-level coefficients of 1, phi_s and tau_s (`_gain`, `_grad`)."""
        p, w = self.p, self.world
        rho = self.district_spending_ratio() / (1 + w.d_spend_tilt)
        c = self.comparability[w.d_state]
        se = p["spending_achievement_effect"] / 0.1
        sg = p["spending_graduation_effect"] / 12 / 0.1
        self._gain[0] += se * (rho - 1)
        self._gain[1] -= se * rho * c
        self._gain[2] -= p["teacher_achievement_effect"] * 0.2 * self.teach_cut
        self._grad[0] += sg * (rho - 1)
        self._grad[1] -= sg * rho * c
        mx = self._district_mix()
        expo = mx.X / np.maximum(mx.M, 1e-300) - self.fixed.expo0
        self.gain_minority += p["integration_achievement_effect"] / 10 * expo + p["ap_achievement_effect"] / 10 * self.ap_cut
        self.grad_minority += p["integration_graduation_effect"] / 10 * expo

    # ------------------------------------------------------------------ school arrays, now
    def _district_mix(self) -> DistrictMix:
        """Per-district group sums for the current integration modifiers (cached per quarter)."""
        if self._mix_cache[0] == self.quarter:
            return self._mix_cache[1]
        F, O, T = self.fixed, self.outcome, self._touched
        mix = O.mix_r[self.world.d_region]
        T.update(((O.seg_gap != 0) | (mix != 0)).nonzero()[0])
        d = T.d
        now = F.dshare_T[:, d] + mix[d] * F.regdiff_T[:, d]
        mx = DistrictMix(F.sums, T, 1 - O.seg_gap[d], now)
        self._mix_cache = (self.quarter, mx)
        return mx

    def school_enrollment(self) -> np.ndarray:
        """(n_schools, 4) students by group, after integration programs.

        A school's mix = its district's (current) mix + its baseline deviation from the district,
        scaled by how much of that deviation controlled choice leaves (`seg_keep`); a district's
        mix moves toward its region's by `inter_mix` (interdistrict programs)."""
        w = self.world
        if self._enroll_cache[0] == self.quarter:
            return self._enroll_cache[1]
        seg_keep, inter_mix = self.seg_keep, self.inter_mix
        if np.all(seg_keep == 1) and not inter_mix.any():
            return w.s_enroll_by_group
        d = w.s_district
        d_now = w.d_share + inter_mix[:, None] * (self.fixed.region_share[w.d_region] - w.d_share)
        share = seg_keep[d][:, None] * w.s_dev + d_now[d]
        if (share < 0).any():
            np.clip(share, 0, None, out=share)
            share /= share.sum(1, keepdims=True)
        share *= w.s_enroll[:, None]
        self._enroll_cache = (self.quarter, share)
        return share

    @property
    def _region_share(self) -> np.ndarray:
        return self.fixed.region_share

    def district_spending_ratio(self) -> np.ndarray:
        """Per-pupil spending of each district relative to its state's baseline mean (cached for
        the quarter: the funding formulas move only in the states' step)."""
        if self._ratio_cache[0] == self.quarter:
            return self._ratio_cache[1]
        w, p = self.world, self.p
        st = w.d_state
        tilt0 = w.d_spend_tilt
        progressive = p["funding_reform_weight"] * (self.fixed.d_min - self.fixed.state_minority_share[st]) + np.maximum(tilt0, 0) * 0.5
        ratio = 1 + tilt0 + self.spend_progress[st] * (progressive - tilt0)
        floor = p["adequacy_level"] + 0.02
        ratio = np.where(ratio < floor, ratio + self.adequacy_progress[st] * (floor - ratio), ratio)
        self._ratio_cache = (self.quarter, ratio)
        return ratio

    @property
    def _state_minority_share(self) -> np.ndarray:
        return self.fixed.state_minority_share

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
        mx = self._district_mix()
        return mx.X / np.maximum(mx.M, 1e-300)

    # ------------------------------------------------------------------ metrics
    def measure(self) -> dict:
        """Every roadmap metric and indicator count, now: the metric definitions of metrics.py,
        evaluated from per-district sums (aggregates.py) rather than school by school."""
        w, p = self.world, self.p
        S = self.fixed.sums
        mx = self._district_mix()
        O, st = self.outcome, w.d_state
        W, B, H = mx.W.sum(), mx.B.sum(), mx.H.sum()
        # Suspensions: school rate = group base x school noise x (1 - district cut).
        cut_nb = O.susp_s_nb[st] + O.susp_d_nb
        cut_b = O.susp_s_b[st] + O.susp_d_b
        base = p["suspension_rate_white"]
        rate_w = base * _dot(mx.Wf[2], 1 - cut_nb) / W
        rate_b = base * p["suspension_ratio_black_white"] * _dot(mx.Bf[2], 1 - cut_b) / B
        rate_h = base * p["suspension_ratio_hispanic_white"] * _dot(mx.Hf[2], 1 - cut_nb) / H
        # AP/honors: minority rates close toward the white rate by the district's ap_cut.
        rb, rh = p["ap_ratio_black"], p["ap_ratio_hispanic"]
        c = np.minimum(self.ap_cut, 1)
        ap_min = p["ap_rate_white"] * (_dot(mx.B, rb + (1 - rb) * c) + _dot(mx.H, rh + (1 - rh) * c)) / (B + H)
        # Achievement (SD) and graduation (share): baseline gaps, minus gains.
        G, Hg = self._gain, self._grad
        gain_w = _dot(G[0], mx.W) + _dot(G[1], mx.Wf[0]) + _dot(G[2], mx.Wf[1])
        gain_m = _dot(G[0], mx.M) + _dot(G[1], mx.Mf[0]) + _dot(G[2], mx.Mf[1])
        ach_w = gain_w / W
        ach_m = (gain_m + _dot(mx.M, self.gain_minority)
                 - B * p["achievement_gap_black"] - H * p["achievement_gap_hispanic"]) / (B + H)
        grad_w = p["graduation_rate_white"] + (_dot(Hg[0], mx.W) + _dot(Hg[1], mx.Wf[0])) / W
        grad_m = (B * p["graduation_rate_black"] + H * p["graduation_rate_hispanic"]
                  + _dot(Hg[0], mx.M) + _dot(Hg[1], mx.Mf[0]) + _dot(mx.M, self.grad_minority)) / (B + H)
        d_ratio = self.district_spending_ratio()
        comp = self.comparability[st]
        hi = (_dot(d_ratio, S.hi_spend[0]) - _dot(d_ratio * comp, S.hi_spend[1])) / S.hi_E
        lo = (_dot(d_ratio, S.lo_spend[0]) - _dot(d_ratio * comp, S.lo_spend[1])) / S.lo_E
        texp = p["teacher_experience_mean"]
        tc = 1 - self.teach_cut
        below = np.bincount(st, weights=w.d_enroll * (d_ratio < p["adequacy_level"]), minlength=self.n_states)
        adequacy_by_state = below / self.fixed.state_enroll
        wt = (mx.W + mx.M) * S.multi
        out = {
            "dissimilarity": float(mx.D_nat),
            "dissimilarity_within_district": _dot(mx.D, wt) / wt.sum() if wt.sum() > 0 else 0.0,
            "exposure_minority_to_white": float(mx.X.sum() / mx.M_tot) if mx.M_tot > 0 else 0.0,
            "spending_gap": float(1.0 - hi / lo),
            "adequacy_gap": _dot(w.d_enroll, d_ratio < p["adequacy_level"]) / self.fixed.total_enroll,  # = M.adequacy_gap
            "teacher_experience_gap": float((texp * S.lo_E + _dot(tc, S.lo_tau)) / S.lo_E
                                            - (texp * S.hi_E + _dot(tc, S.hi_tau)) / S.hi_E),
            "suspension_ratio_black_white": rate_b / rate_w,
            "suspension_gap_pp": (rate_b - rate_w) * 100,
            "suspension_ratio_hispanic_white": rate_h / rate_w,
            "ap_gap": M.relative_gap(ap_min, p["ap_rate_white"]),
            "achievement_gap": float(ach_w - ach_m),
            "graduation_gap_pp": float(100 * (grad_w - grad_m)),
            "states_all_adequate": int((adequacy_by_state <= 0.05).sum()),
        }
        out.update(self._counts_now())
        return out

    @property
    def _state_enroll(self) -> np.ndarray:
        return self.fixed.state_enroll

    def _counts_now(self) -> dict:
        w = self.world
        cc, im, re = self.k_cc, self.k_im, self.k_re
        pilot = self.pilot_phase
        c = self.cells
        past_pilot = c.phase >= pilot[c.k]
        regions = np.zeros(w.n_regions, bool)
        regions[w.d_region[c.d[past_pilot & (c.k == im)]]] = True
        diverse = w.d_diverse
        pol = self.policy_index
        R = self.reached_T
        return {
            "integration_pilots_launched": int(np.count_nonzero((R[cc] >= pilot[cc]) | (R[im] >= pilot[im]))),
            "restorative_districts": int(np.count_nonzero(c.k == re)),
            "controlled_choice_districts": int(np.count_nonzero(past_pilot & (c.k == cc))),
            "interdistrict_regions": int(regions.sum()),
            "funding_bills_states": int(self.st_ever[:, pol["funding_bill"]].sum()),
            "funding_reform_states": int(self.st_on[:, pol["weighted_funding"]].sum()),
            "adequacy_standard_states": int(self.st_on[:, pol["adequacy_standard"]].sum()),
            "federal_guidance": int((self._fed_effects["guidance"] * self.fed_ever).sum() > 0),
            "integration_share_diverse": float(np.count_nonzero((c.k == cc) & (c.phase >= pilot[cc] + 1) & diverse[c.d])
                                               / max(diverse.sum(), 1)),
            "national_coalition_breadth": float(self.coal_breadth[-1] if self.coal_breadth[-1] > 0 else 0),
        }

    # ------------------------------------------------------------------ network (on demand)
    @cached_property
    def network(self):
        """The multi-level networkx graph of this model's world (built on first use)."""
        from .network import build_network
        return build_network(self.world)


_ELECTIONS = None


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of products of two vectors, without BLAS (whose threads stall on a busy machine)."""
    return float(np.einsum("i,i->", a, b))


def _elections() -> dict:
    global _ELECTIONS
    if _ELECTIONS is None:
        _ELECTIONS = tomllib.loads(resources.files("equitysim").joinpath("data/elections.toml").read_text())
    return _ELECTIONS
