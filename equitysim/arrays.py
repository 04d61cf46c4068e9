"""The model's state, as typed arrays per level: federal, states, coalitions, districts, the
active district programs (cells) and the outcome modifiers.

Every mechanism in `mechanisms/` reads and writes these containers; nothing else holds state
that changes during a run. Shapes use n_s states, n_p state policies, n_a federal actions,
n_d districts, n_k district programs, n_r regions. Shares and indices are 0-1 unless a unit
is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NEVER_ENDED = -100   # ended_quarter of a program that never ended (quarters)
NO_WIN = -100        # last_win_quarter of a coalition that has never won (quarters)


@dataclass
class FederalArrays:
    """The federal government and the national economy."""

    action_on: np.ndarray        # (n_a,) bool: federal action in force
    action_ever: np.ndarray      # (n_a,) bool: in force at some time
    kind: np.ndarray             # (n_a,) str: "law", "regulation", "guidance", ...
    cost_musd: np.ndarray        # (n_a,) $M a year while in force
    law_rate: np.ndarray         # (n_a,) enactment rate per year by feasibility
    supportive: bool = True      # administration supports the roadmap
    recession_quarters_left: int = 0
    capital: float = 1.0         # the administration's political capital (0-1, mechanisms/capital.py)

    @property
    def in_recession(self) -> bool:
        """A recession is under way."""
        return self.recession_quarters_left > 0

    @classmethod
    def initial(cls, actions, par) -> "FederalArrays":
        """Nothing in force, a supportive administration; law rates by feasibility (per year)."""
        rate = {"certain": par.federal_law_rate_certain, "high": par.federal_law_rate_high,
                "moderate": par.federal_law_rate_moderate, "low": par.federal_law_rate_low}
        n = len(actions)
        return cls(action_on=np.zeros(n, bool), action_ever=np.zeros(n, bool),
                   kind=np.array([a.kind for a in actions]), cost_musd=np.array([a.cost_musd for a in actions]),
                   law_rate=np.array([rate[a.feasibility] for a in actions]), capital=par.capital_initial)


@dataclass
class StateArrays:
    """The 50 states and DC: policies, politics, courts and school-finance formulas."""

    policy_on: np.ndarray          # (n_s, n_p) bool: state policy in force
    policy_ever: np.ndarray        # (n_s, n_p) bool: enacted at some time
    enacted_quarter: np.ndarray    # (n_s, n_p) quarter of the last enactment (-1: never)
    climate_baseline: np.ndarray   # (n_s,) climate with the 2025 government
    climate: np.ndarray            # (n_s,) political climate now
    climate_shock: np.ndarray      # (n_s,) what backlash has taken off the climate (decays)
    governor_flipped: np.ndarray   # (n_s,) bool: government of the other side since the start
    litigation: np.ndarray         # (n_s,) bool: school-finance litigation pending
    spending_progress: np.ndarray  # (n_s,) 0-1 progress of the formula toward progressive
    adequacy_progress: np.ndarray  # (n_s,) 0-1 progress toward the adequacy floor
    comparability: np.ndarray      # (n_s,) 0-1 within-district spending comparability enforced
    election_years: np.ndarray     # (n_s, years) calendar years of governor elections (-1 pads)
    capital: np.ndarray            # (n_s,) 0-1 political capital of the state government
    opposition: np.ndarray         # (n_s,) 0-1 organised opposition

    @classmethod
    def initial(cls, states, n_policies: int, election_years: np.ndarray, par) -> "StateArrays":
        """No policy in force; the baseline climate and pending litigation of the states table."""
        n_s = len(states)
        on = np.zeros((n_s, n_policies), bool)
        climate = states["climate"].to_numpy(float)
        return cls(policy_on=on, policy_ever=np.zeros_like(on), enacted_quarter=np.full(on.shape, -1),
                   climate_baseline=climate, climate=climate.copy(), climate_shock=np.zeros(n_s),
                   governor_flipped=np.zeros(n_s, bool),
                   litigation=states["litigation_pending"].to_numpy(bool).copy(),
                   spending_progress=np.zeros(n_s), adequacy_progress=np.zeros(n_s), comparability=np.zeros(n_s),
                   election_years=election_years, capital=np.full(n_s, par.capital_initial),
                   opposition=np.zeros(n_s))


@dataclass
class CoalitionArrays:
    """Advocacy coalitions: one per state (rows 0..n_s-1) and the national one (last row)."""

    breadth: np.ndarray            # (n_s + 1,)
    strength: np.ndarray           # (n_s + 1,)
    last_win_quarter: np.ndarray   # (n_s + 1,) quarter of the last public win
    win_share: np.ndarray          # (n_s,) 0-1 proof points from local wins, per state
    national_win_share: float = 0.0

    @classmethod
    def initial(cls, favorable: np.ndarray, par) -> "CoalitionArrays":
        """Baseline breadth (broader in favorable states), initial strength, no win yet."""
        n_s = len(favorable)
        breadth = np.full(n_s + 1, par.coalition_baseline_breadth)
        breadth[:-1] += par.coalition_favorable_breadth_bonus * favorable
        return cls(breadth=breadth, strength=np.full(n_s + 1, par.coalition_initial_strength),
                   last_win_quarter=np.full(n_s + 1, NO_WIN), win_share=np.zeros(n_s))


class Cells:
    """The active (district, program) cells, as parallel arrays: `district`, `program`,
    implementation `phase`, `quarters_in_phase`, `fidelity` (0-1), and for the reflect step
    (mechanisms/cycle.py) `pilot` (started as a pilot), `start_cut` (the district's cut in the
    program's gap when it started: its baseline), `refined` (refined once after a weak result),
    `start_quarter`, `quarters_reached` (quarters with schools reached) and `root` (designed for the
district's root cause, not a surface-level fix). Ended cells are
    marked `dead` and removed by `compact()`, so positions stay valid within a stage."""

    __slots__ = ("district", "program", "phase", "quarters_in_phase", "fidelity", "pilot", "start_cut", "refined",
                 "start_quarter", "quarters_reached", "root", "dead")
    COLUMNS = ("district", "program", "phase", "quarters_in_phase", "fidelity", "pilot", "start_cut", "refined",
               "start_quarter", "quarters_reached", "root")
    DTYPES = (np.int64, np.int64, np.int64, np.int64, float, bool, float, np.int8, np.int64, np.int64, bool)

    def __init__(self):
        for name, dt in zip(self.COLUMNS, self.DTYPES):
            setattr(self, name, np.zeros(0, dt))
        self.dead = np.zeros(0, bool)

    def __len__(self):
        return len(self.district)

    def append(self, district, program, phase, fidelity, pilot=None, start_cut=None, start_quarter=0, root=None):
        """Add new cells (dead ones are dropped first)."""
        self.compact()
        n = len(district)
        new = {"district": district, "program": program, "phase": phase, "fidelity": fidelity,
               "pilot": np.zeros(n, bool) if pilot is None else pilot,
               "start_cut": np.zeros(n) if start_cut is None else start_cut,
               "start_quarter": np.full(n, start_quarter, np.int64),
               "root": np.ones(n, bool) if root is None else root}
        for name, dt in zip(self.COLUMNS, self.DTYPES):
            col = new.get(name)
            setattr(self, name, np.concatenate([getattr(self, name), np.zeros(n, dt) if col is None else np.asarray(col, dt)]))
        self.dead = np.zeros(len(self.district), bool)

    def compact(self):
        """Drop the cells marked dead."""
        if self.dead.any():
            keep = ~self.dead
            for name in self.COLUMNS:
                setattr(self, name, getattr(self, name)[keep])
            self.dead = np.zeros(len(self.district), bool)


@dataclass
class DistrictArrays:
    """Per-district state (the guide's constraints and pitfalls) and the dense program matrices,
    stored program-major (n_k, n_d) for speed."""

    burnout: np.ndarray            # (n_d,) 0-1 staff burnout
    buy_in: np.ndarray             # (n_d,) 0-1 staff and community buy-in
    prerequisites: np.ndarray      # (n_d,) bool: the guide's prerequisites in place
    equity_as_lens: np.ndarray     # (n_d,) bool: equity run as a lens (not cut first)
    program_wins: np.ndarray       # (n_d,) public wins so far
    running: np.ndarray            # (n_k, n_d) bool: program active
    phase: np.ndarray              # (n_k, n_d) int8 implementation phase (last phase where not active)
    reached: np.ndarray            # (n_k, n_d) int8 furthest phase ever reached (-1: never started)
    ended_quarter: np.ndarray      # (n_k, n_d) int16 quarter the program last ended
    cells: Cells = field(default_factory=Cells)

    @classmethod
    def initial(cls, world, n_programs: int, equity_as_lens: np.ndarray) -> "DistrictArrays":
        """The world's baseline buy-in and prerequisites; no burnout, no program."""
        n_d, n_k = world.n_districts, n_programs
        return cls(burnout=np.zeros(n_d), buy_in=world.d_buy_in.copy(), prerequisites=world.d_prereq.copy(),
                   equity_as_lens=equity_as_lens, program_wins=np.zeros(n_d, int),
                   running=np.zeros((n_k, n_d), bool), phase=np.zeros((n_k, n_d), np.int8),
                   reached=np.full((n_k, n_d), -1, np.int8), ended_quarter=np.full((n_k, n_d), NEVER_ENDED, np.int16))


@dataclass
class OutcomeArrays:
    """Outcome modifiers, each kept as a state part plus a district part (see
    mechanisms/outcomes.py), and the achievement and graduation gains accumulated so far."""

    segregation_cut: np.ndarray     # (n_d,) share of within-district deviation removed (1 - seg_keep)
    region_mixing: np.ndarray       # (n_r,) how far districts' mixes moved toward their region's
    suspension_state_others: np.ndarray   # (n_s,) suspension-rate cut, non-Black groups, from policy
    suspension_state_black: np.ndarray    # (n_s,) the same for Black students
    suspension_district_others: np.ndarray  # (n_d,) what district programs add
    suspension_district_black: np.ndarray
    ap_state: np.ndarray            # (n_s,) course-access gap cut from policy
    ap_district: np.ndarray         # (n_d,)
    teacher_state: np.ndarray       # (n_s,) teacher-experience gap cut from policy
    teacher_district: np.ndarray    # (n_d,)
    gain: np.ndarray                # (3, n_d) achievement gain (SD) per school = g0 + g1 phi_s + g2 tau_s
    graduation: np.ndarray          # (2, n_d) graduation gain (share) per school = h0 + h1 phi_s
    gain_minority: np.ndarray       # (n_d,) extra gain of Black and Hispanic students, SD
    graduation_minority: np.ndarray  # (n_d,)

    @classmethod
    def initial(cls, n_s: int, n_d: int, n_r: int) -> "OutcomeArrays":
        """Every modifier and gain at zero (the baseline)."""
        z = np.zeros
        return cls(z(n_d), z(n_r), z(n_s), z(n_s), z(n_d), z(n_d), z(n_s), z(n_d), z(n_s), z(n_d),
                   z((3, n_d)), z((2, n_d)), z(n_d), z(n_d))

    def ap_cut(self, d_state: np.ndarray) -> np.ndarray:
        """(n_d,) course-access gap cut in each district."""
        return self.ap_state[d_state] + self.ap_district

    def teacher_cut(self, d_state: np.ndarray) -> np.ndarray:
        """(n_d,) teacher-experience gap cut in each district."""
        return self.teacher_state[d_state] + self.teacher_district
