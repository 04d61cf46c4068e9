"""The equitysim Mesa model: what happens in one quarter.

    federal government -> business cycle -> coalitions -> states -> districts -> schools
    -> (at each year end) reflect on results (the practitioner's cycle), accumulate outcomes, record metrics
    -> (between quarters, adaptive plans only) check the [[adapt]] rules (mechanisms/adaptation.py)

`EquityModel.step` names every stage; each is a function of a module in `mechanisms/` (one per
roadmap mechanism), over the typed arrays of `arrays.py`. Per-district and per-school state
lives in those arrays; the agent classes of `agents.py` are views a user can inspect. District
programs are kept as a list of active (district, program) cells (`cells`), mirrored in the dense
program-major matrices of `district_arrays`. School outcomes are never stepped school by school:
the modifiers that move them are per district (and per state), and the year-end metrics are sums
over districts of world-fixed per-school sums (aggregates.py, measurement.py). The per-agent
reference in `benchmarks/reference/` computes the same thing the obvious way, with the same
stage names (politics, decide, enact, backlash, funding, capacity_and_turnover, adopt,
implement, outcomes, reflect).
"""

from __future__ import annotations

from functools import cached_property

import mesa
import numpy as np

from . import caches
from . import indicators as _ind
from . import params as _params
from .actions import default_catalogue
from .aggregates import TouchedSchools
from .agents import Coalition, District, FederalGovernment, LazyAgents, School, State
from .arrays import CoalitionArrays, DistrictArrays, FederalArrays, OutcomeArrays, StateArrays
from .channels import FederalChannels, StateChannels
from .fixed import Fixed
from .measurement import measure as _measure
from .milestones import milestones_of, value_now
from .mechanisms import (adaptation, adoption, backlash, capacity, capital, coalitions, courts, cycle, elections,
                         enrollment, funding, implementation, opposition, outcomes, reflection)
from .mechanisms.capacity import QuarterCapacity
from .mechanisms.elections import START_YEAR  # noqa: F401 - part of the model's public surface
from .plan import PLAN_PARAMS, compile_plan
from .programs import ProgramTable
from .rows import RowTable
from .scenario import EquityScenario, ScenarioSpec
from .world import BLACK, World, build_world

# leadership_changes: governors and federal administrations that change side; superintendent_changes:
# new superintendents in districts running reform programs (the guide's local leadership risk)
RISK_COUNTS = ("backlash_events", "leadership_changes", "superintendent_changes", "funding_cuts",
               "court_challenges", "implementation_failures")
WORLD_PARAMS = ("teacher_experience_gap", "region_size",
                "district_prerequisites_share", "equity_as_lens_share", "union_cooperation_share")
RNG_STREAMS = 5   # risk, adoption, event-contingent, district (re-keyed per quarter), initial draws
QUARTER_JUMP = 40  # the district stream jumps 2^40 draws per quarter


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
        self.p: dict = scenario.params                 # name -> value (for experiments and reports)
        self.par = _params.values(self.p)              # the same, read by attribute in the mechanisms
        self.world = world if world is not None else world_for(self.spec)
        self.catalogue = default_catalogue()
        # Separate streams so risk draws line up across scenarios (common random numbers):
        # national and state draws in fixed-size blocks (rng_risk, rng_adopt); event-contingent
        # draws (rng_cond); district draws from a stream re-keyed each quarter (quarter_rng).
        self.rng_risk, self.rng_adopt, self.rng_cond, local, init = self.rng.spawn(RNG_STREAMS)
        self._local_bits = local.bit_generator
        self._local_state0 = self._local_bits.state
        self._local = np.random.Generator(self._local_bits)
        self._local_q = -1
        self.quarter = 0
        self.n_quarters = self.spec.years * 4
        self.counts = dict.fromkeys(RISK_COUNTS + ("recessions",), 0)
        self.cache: dict = {}   # per-run caches, each keyed on the arrays it depends on
        self.pace = adoption.strategy_pace(self.par, self.spec.strategy.pacing)
        self._build_state(init)
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
        base = caches.for_world(self.world, "baseline")
        key = tuple(sorted(self.p.items()))
        if key not in base:
            base[key] = self.measure()
        self.baseline = dict(base[key])
        # the scenario's [[adapt]] rules, checked between quarters (None: a static plan)
        self.adaptation = adaptation.attach(self)

    def _build_state(self, init_rng: np.random.Generator) -> None:
        """The typed arrays of every level, the compiled plan and the world-fixed arrays."""
        w, cat, par = self.world, self.catalogue, self.par
        self.policies = list(cat.state_policies)
        self.policy_index = {p: j for j, p in enumerate(self.policies)}
        self.programs = list(cat.programs.values())
        self.program_index = {pr.id: k for k, pr in enumerate(self.programs)}
        self.program_table = ProgramTable(self.programs, self.spec.strategy.pilot_first)
        self.state_codes = list(w.states.index)
        self.n_states = len(w.states)
        base_cost = np.zeros(len(self.programs))
        for a in cat.actions:
            if a.level == "local":
                k = self.program_index[a.policy]
                base_cost[k] = max(base_cost[k], a.cost_musd)
        self.fixed = Fixed.get(w, self.programs, base_cost, par)
        # The compiled plan depends on the scenario, the world and the few parameters the compiler
        # reads (plan.PLAN_PARAMS): shared by replications.
        plans = caches.for_world(w, "plan")
        key = (self.spec.model_dump_json(exclude={"name", "description", "parameters", "uncertainty"}),
               tuple(self.p[n] for n in PLAN_PARAMS))
        if key not in plans:
            plan = compile_plan(self.spec, cat, w)
            plans[key] = (plan,
                          RowTable.build(plan.state_rows, self.n_quarters, self.n_states, self.policy_index, w.d_state),
                          RowTable.build(plan.local_rows, self.n_quarters, self.n_states, self.policy_index, w.d_state,
                                         self.fixed.eligible_by_program),
                          milestones_of(plan, cat, self.spec.years))
        self.plan, self.rows_state, self.rows_local, self.milestones = plans[key]
        self.milestone_values: dict[str, float] = {}   # evaluation only: no mechanism reads it
        self.federal_arrays = FederalArrays.initial(cat.federal_actions, par)
        self.federal_effects = FederalChannels(cat.federal_actions, self.policies, self.programs)
        years = elections.governor_election_years(self.state_codes, self.spec.years)
        self.state_arrays = StateArrays.initial(w.states, len(self.policies), years, par)
        self.state_effects = StateChannels(cat.actions, self.policies, self.programs, self.n_states)
        funding.set_funding_reform_cost(self)
        self.federal_backlash = np.array([a.backlash for a in cat.federal_actions])
        self.coalition_arrays = CoalitionArrays.initial(w.states["favorable"].to_numpy(), par)
        habit, wrong_measure, hidden = cycle.initial_draws(self, init_rng)   # drawn first: the same in every scenario
        lens = self.spec.strategy.equity_as_lens
        as_lens = w.d_lens.copy() if lens is None else (init_rng.random(w.n_districts) < lens)
        self.district_arrays = DistrictArrays.initial(w, len(self.programs), as_lens)
        self.cells = self.district_arrays.cells
        self.cycle = cycle.CycleArrays.initial(w.n_districts, len(self.programs), habit, wrong_measure, hidden)
        self.cycle_counts = dict.fromkeys(cycle.DECISIONS, 0)
        self.cycle_stats = {"years": 0, "fidelity": 0.0, "burnout": 0.0, "staff_turnover": 0.0, "spend_musd": 0.0,
                            "reform_years": 0.0}
        self.outcome_arrays = OutcomeArrays.initial(self.n_states, w.n_districts, w.n_regions)
        self.quarter_capacity = QuarterCapacity(self.fixed.log_budget, self.fixed.budget_min, self.fixed.budget_max,
                                                burnout=self.district_arrays.burnout, buy_in=self.district_arrays.buy_in)
        self.outcome_counts = {"started": np.zeros(len(self.programs), int)}
        self.touched_schools = TouchedSchools(self.fixed.sums, w)
        self._dynamic = np.ones((3, self.n_states), bool)
        cycle.diagnose(self)   # every district's first diagnosis, from its baseline data

    # ------------------------------------------------------------------ the quarter
    def step(self):
        """One quarter, level by level (federal -> states -> districts -> schools -> year end).
        National and state draws come in fixed-size blocks, drawn before the stage that uses
        them, so every scenario consumes the same random numbers (common random numbers)."""
        n_a = len(self.federal_arrays.action_on)
        n_s, n_p = self.state_arrays.policy_on.shape
        # federal government
        u_fed, u_fed_adopt = self.rng_risk.random(n_a + 2), self.rng_adopt.random(n_a)
        elections.federal_election(self, u_fed[n_a])
        if self.federal_arrays.supportive:
            adoption.federal_enactment(self, u_fed_adopt)
        else:
            elections.hostile_administration(self, u_fed[:n_a])
        funding.business_cycle(self, self.rng_risk.random())
        funding.federal_recession_cuts(self)
        coalitions.grow(self)
        capital.regenerate(self)
        # states: politics, decide and enact, backlash, hostile repeal, opposition, funding formulas
        u_state, u_state_adopt = self.rng_risk.random((n_s, n_p + 4)), self.rng_adopt.random((n_s, n_p))
        elections.governor_elections(self, u_state[:, n_p])
        backlash.fade(self)
        elections.state_climate(self)
        adoption.state_adoption(self, u_state_adopt)
        backlash.state_backlash(self, u_state[:, n_p + 1], u_state[:, :n_p])
        backlash.hostile_repeal(self, u_state[:, n_p + 3])
        opposition.grow(self)
        funding.state_formulas(self)
        # districts: capacity and turnover, adopt, implement, risks that end programs
        g = self.quarter_rng()
        capacity.community_support(self)
        capacity.fix_for_quarter(self)
        capacity.build_prerequisites(self, g)
        elections.superintendent_turnover(self, g)
        adoption.adopt_programs(self, g)
        implementation.advance_phases(self, g)
        cell_capacity = implementation.fidelity_and_burnout(self)
        u_cells = g.random(len(self.cells))   # one uniform per active program: competing risks
        lo = implementation.failures(self, u_cells, 0.0, cell_capacity)
        lo = courts.court_challenges(self, u_cells, lo)
        funding.recession_cuts(self, u_cells, lo)
        self.cells.compact()
        cycle.account_spending(self)
        # schools
        outcomes.relax_modifiers(self)
        if self.quarter % 4 == 3:
            self.year_end()
        self.quarter += 1
        if self.quarter >= self.n_quarters:
            self.running = False
        elif self.adaptation is not None:   # adaptive plans: the rules' checks before the next quarter
            adaptation.between_quarters(self)

    def run(self) -> "EquityModel":
        """Step through every quarter of the scenario (40 for ten years); returns the model."""
        while self.running:
            self.step()
        return self

    def year_end(self):
        """Reflect on results, add a year of exposure to outcomes, record the metrics and the
        milestones due this year."""
        year = self.quarter // 4 + 1
        reflection.reflect(self)
        capital.wins(self)
        outcomes.accumulate(self)
        cycle.record_year(self)
        m = self.measure()
        m["year"] = year
        self.history.append(m)
        self.datacollector.collect(self)
        if year in _ind.HORIZONS:
            self.snapshots[year] = m
        for ms in self.milestones:
            if ms.year == year:
                self.milestone_values[ms.id] = value_now(self, ms)

    def measure(self) -> dict:
        """Every roadmap metric and indicator count, now (see measurement.py)."""
        return _measure(self)

    def quarter_rng(self) -> np.random.Generator:
        """This quarter's stream for district draws: the same numbers in every scenario, however
        many an earlier quarter used (the stream jumps 2^40 draws per quarter)."""
        if self._local_q != self.quarter:
            self._local_bits.state = self._local_state0
            self._local_bits.advance(self.quarter << QUARTER_JUMP)
            self._local_q = self.quarter
        return self._local

    # ------------------------------------------------------------------ what mechanisms share
    @property
    def calendar_year(self) -> int:
        """Calendar year of the current quarter (year 1 is START_YEAR)."""
        return START_YEAR + self.quarter // 4

    @property
    def is_november(self) -> bool:
        """The fourth quarter of a year: elections are held, the year ends."""
        return self.quarter % 4 == 3

    @property
    def in_recession(self) -> bool:
        """A recession is under way (funding.business_cycle)."""
        return self.federal_arrays.in_recession

    def event_now(self, kind: str) -> bool:
        """A stress event of this kind is scheduled for this quarter."""
        return any(e.kind == kind and int(round(e.year * 4)) == self.quarter for e in self.spec.events)

    def count(self, name: str, n: int = 1):
        """Add n events to the risk counter `name` (RISK_COUNTS)."""
        self.counts[name] += n

    def support(self, channel: str) -> float:
        """Strength of a support channel of the plan this quarter, scaled down when the support
        actions in force cost more than the campaign's budget (funding.support_funding_share)."""
        value = self.plan.support_at(channel, self.quarter)
        return value * funding.support_funding_share(self) if value else 0.0

    def federal_channel(self, channel: str) -> float:
        """Size of the federal actions in force on `channel`."""
        self.federal_effects.update(self.federal_arrays.action_on)
        return self.federal_effects.channel(channel)

    def federal_policy_hazard(self) -> np.ndarray:
        """(n_p,) federal 'hazard:<policy>' boosts in force."""
        self.federal_effects.update(self.federal_arrays.action_on)
        return self.federal_effects.policy_hazard

    def federal_program_hazard(self) -> np.ndarray:
        """(n_k,) federal 'hazard:<program>' boosts in force."""
        self.federal_effects.update(self.federal_arrays.action_on)
        return self.federal_effects.program_hazard

    def state_effects_now(self) -> StateChannels:
        """The state policies in force as channels, boosts and locks (do not modify its arrays)."""
        self.state_effects.update(self.state_arrays.policy_on, self.spec.strategy.lock_in)
        return self.state_effects

    def state_channels(self) -> dict[str, np.ndarray]:
        """Channel -> (n_s,) size of the state policies in force."""
        return self.state_effects_now().channels

    def dynamic_masks(self) -> np.ndarray:
        """(3, n_s): all states; broad coalition; states with local successes."""
        return coalitions.dynamic_state_masks(self, self._dynamic)

    def cells_coverage(self) -> np.ndarray:
        """Share of schools reached by each active cell in its current phase."""
        return self.program_table.coverage_of(self.cells.program, self.cells.phase)

    def district_summary(self) -> dict[str, float]:
        """What districts did in the practitioner's cycle so far (mechanisms/cycle.py)."""
        return cycle.summary(self)

    @property
    def design_weight(self) -> np.ndarray:
        """(n_districts, n_programs) this quarter's design weight of the adoption hazards (a copy;
        call after `capacity.fix_for_quarter`)."""
        from .mechanisms.diffusion import regional_peer_share
        return cycle.design_weights(self, regional_peer_share(self)).T

    def start_cells(self, d: np.ndarray, k: np.ndarray):
        """Start program k[i] in district d[i] (implementation.start_cells)."""
        implementation.start_cells(self, d, k)

    def end_cells(self, pos: np.ndarray, reason: str):
        """End the active cells at positions `pos` for `reason` (implementation.end_cells)."""
        implementation.end_cells(self, pos, reason)

    def family_funds(self, family: str) -> float:
        """Money for a program family this quarter, $M a year at the world's scale (funding.family_funds)."""
        return funding.family_funds(self, family)

    # ------------------------------------------------------------------ views for users and tools
    @property
    def state_policy_on(self) -> np.ndarray:
        """(n_states, n_policies) bool: state policies in force."""
        return self.state_arrays.policy_on

    @property
    def state_policy_ever(self) -> np.ndarray:
        """(n_states, n_policies) bool: state policies enacted at some time."""
        return self.state_arrays.policy_ever

    @property
    def active(self) -> np.ndarray:
        """(n_districts, n_programs) bool: program running in the district (a view)."""
        return self.district_arrays.running.T

    @property
    def phase(self) -> np.ndarray:
        """(n_districts, n_programs) implementation phase (last phase where not active; a view)."""
        return self.district_arrays.phase.T

    @property
    def reached(self) -> np.ndarray:
        """(n_districts, n_programs) furthest phase ever reached (-1: never started; a view)."""
        return self.district_arrays.reached.T

    def _dense(self, values, fill=0.0, dtype=float) -> np.ndarray:
        out = np.full((self.world.n_districts, len(self.programs)), fill, dtype)
        out[self.cells.district, self.cells.program] = values
        return out

    @property
    def fidelity(self) -> np.ndarray:
        """(n_districts, n_programs) fidelity of active programs (0 elsewhere; a copy)."""
        return self._dense(self.cells.fidelity)

    @property
    def eligible(self) -> np.ndarray:
        """(n_districts, n_programs) bool: districts where each program can run."""
        return self.fixed.eligible_by_program.T

    @property
    def capacity(self) -> np.ndarray:
        """(n_districts,) capacity this quarter (0-1, a copy)."""
        return self.quarter_capacity.at(slice(None))

    @property
    def seg_keep(self) -> np.ndarray:
        """(n_districts,) share of each district's within-district deviation controlled choice leaves
        (after the exits it caused: mechanisms/enrollment.py)."""
        return 1 - enrollment.integration_in_effect(self)[0]

    @property
    def inter_mix(self) -> np.ndarray:
        """(n_districts,) how far each district's mix has moved toward its region's (after exits)."""
        return enrollment.integration_in_effect(self)[1]

    @property
    def susp_cut(self) -> np.ndarray:
        """(n_districts, 4) cut in suspension rates by group."""
        O, st = self.outcome_arrays, self.world.d_state
        out = np.repeat((O.suspension_state_others[st] + O.suspension_district_others)[:, None], 4, 1)
        out[:, BLACK] = O.suspension_state_black[st] + O.suspension_district_black
        return out

    @property
    def ap_cut(self) -> np.ndarray:
        """(n_districts,) course-access gap cut."""
        return self.outcome_arrays.ap_cut(self.world.d_state)

    @property
    def teach_cut(self) -> np.ndarray:
        """(n_districts,) teacher-experience gap cut."""
        return self.outcome_arrays.teacher_cut(self.world.d_state)

    @property
    def gain_all(self) -> np.ndarray:
        """(n_schools,) achievement gain of all students in each school, SD."""
        w, S = self.world, self.fixed.sums
        g = self.outcome_arrays.gain[:, w.s_district]
        return g[0] + g[1] * S.s_cols[5] + g[2] * S.s_cols[6]

    @property
    def grad_all(self) -> np.ndarray:
        """(n_schools,) graduation-rate gain of all students in each school, share."""
        w, S = self.world, self.fixed.sums
        g = self.outcome_arrays.graduation[:, w.s_district]
        return g[0] + g[1] * S.s_cols[5]

    @property
    def gain_minority(self) -> np.ndarray:
        """(n_districts,) extra achievement gain of Black and Hispanic students, SD."""
        return self.outcome_arrays.gain_minority

    @property
    def grad_minority(self) -> np.ndarray:
        """(n_districts,) extra graduation gain of Black and Hispanic students, share."""
        return self.outcome_arrays.graduation_minority

    def school_enrollment(self) -> np.ndarray:
        """(n_schools, 4) students by group, after integration programs."""
        return outcomes.school_enrollment(self)

    def district_spending_ratio(self) -> np.ndarray:
        """(n_districts,) per-pupil spending relative to the state's baseline mean."""
        return funding.district_spending_ratio(self)

    def school_spending_ratio(self) -> np.ndarray:
        """(n_schools,) per-pupil spending relative to the state's baseline mean."""
        return outcomes.school_spending_ratio(self)

    def school_spending(self) -> np.ndarray:
        """(n_schools,) per-pupil current spending, dollars."""
        return outcomes.school_spending(self)

    def school_teacher_experience(self) -> np.ndarray:
        """(n_schools,) mean teacher experience, years."""
        return outcomes.school_teacher_experience(self)

    def district(self, i: int) -> District:
        """The District agent (a view) of district row i."""
        return self.districts[i]

    def school(self, i: int) -> School:
        """The School agent (a view) of school row i."""
        return self.schools[i]

    @cached_property
    def network(self):
        """The multi-level networkx graph of this model's world (built on first use)."""
        from .network import build_network
        return build_network(self.world)
