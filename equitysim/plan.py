"""Compile a scenario's sequencing against the catalogue into arrays the model reads each quarter.

A `Plan` answers: in quarter q, which federal actions may be taken, which state policies and
district programs are being pushed (toward which target, in which states), and how strong each
support channel (coalition growth, technical assistance, data...) is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import params as _params
from .actions import Catalogue
from .scenario import ScenarioSpec
from .world import World

PHASE_YEARS = {1: 2, 2: 3, 3: 5}  # years over which a row's target is planned, by roadmap phase


@dataclass
class Row:
    """One state or local action row switched on by the scenario."""

    action: object
    index: int            # policy index (state rows) or program index (local rows)
    start_q: int
    end_q: int
    pace_end_q: int
    target: float
    where: str
    mask: np.ndarray      # states the row applies to (dynamic 'where' values refine it at run time)
    intensity: float
    districts: np.ndarray | None = None  # local rows of a `where` list naming districts: the districts it pushes in


@dataclass
class Plan:
    n_q: int
    fed_start: np.ndarray   # first quarter each federal action may take effect (n_q if never)
    fed_end: np.ndarray
    fed_intensity: np.ndarray
    state_rows: list[Row]
    local_rows: list[Row]
    support: dict[str, np.ndarray]   # channel -> strength per quarter (national)
    cost_by_quarter: np.ndarray       # campaign: support actions' cost x intensity, extra advocacy, $M/yr
    backlash_by_quarter: np.ndarray   # support actions' backlash weight x intensity in force

    def support_backlash_at(self, q: int) -> float:
        """How contested the support actions in force are (backlash weight x intensity)."""
        return float(self.backlash_by_quarter[min(q, self.n_q - 1)])

    def support_at(self, channel: str, q: int) -> float:
        s = self.support.get(channel)
        return 0.0 if s is None else float(s[min(q, self.n_q - 1)])


# The registry parameters compile_plan reads (the model's plan cache keys on their values).
PLAN_PARAMS = ("advocacy_cost_musd_per_effort", "adequacy_level", "without_adequacy_share")


def _listed_districts(where: list[str], world: World) -> np.ndarray:
    """(n_d,) bool: the districts a `where` list names (NCES ids; the scenario schema turned names
    into ids). A district not in a subsampled world is simply absent."""
    return world.districts["leaid"].isin([x for x in where if len(x) == 7]).to_numpy()


def _district_mask(where, world: World) -> np.ndarray | None:
    """For a `where` list naming districts: the districts of the listed states plus the listed
    districts (None when the list holds states only)."""
    if not isinstance(where, list) or all(len(x) == 2 for x in where):
        return None
    return world.states.index.isin(where)[world.d_state] | _listed_districts(where, world)


def _static_mask(where: str | list[str], world: World, par=None) -> np.ndarray:
    st = world.states
    n = len(st)
    if isinstance(where, list):
        # the listed states, and the states of the listed districts
        states = st.index.isin(where)
        states[np.unique(world.d_state[_listed_districts(where, world)])] = True
        return states
    if where in ("all", "broad_coalition", "local_successes"):
        return np.ones(n, bool)
    if where == "favorable":
        return st["favorable"].to_numpy()
    if where == "demographic_pressure":
        return st["demographic_pressure"].to_numpy()
    if where == "litigation":
        m = st["litigation_pending"].to_numpy()
        return m if m.any() else np.ones(n, bool)
    if where == "without_adequacy":
        # States whose formula leaves `without_adequacy_share` or more of students below adequacy at baseline.
        par = par if par is not None else _params.values(_params.defaults())
        return world_adequacy_shortfall(world, par.adequacy_level) >= par.without_adequacy_share
    raise ValueError(f"where: unknown value {where!r}")


def world_adequacy_shortfall(world: World, level: float) -> np.ndarray:
    """Per state: share of students in districts spending below their costed-out adequacy level
    at baseline (equitysim/adequacy.py; `level` = `adequacy_level`, the fallback where SFID has none)."""
    from .adequacy import required_ratio, shortfall_by_state
    return shortfall_by_state(world, 1 + world.d_spend_tilt, required_ratio(world, level))


def compile_plan(spec: ScenarioSpec, catalogue: Catalogue, world: World, entries=None) -> Plan:
    """The plan of `spec`'s sequence, or of `entries` (objects with the same fields as a
    SequenceEntry, plus `served_q`: quarters of the catalogue's delays already served, for the
    timetables an adaptive plan rewrites during a run; mechanisms/adaptation.py)."""
    n_q = spec.years * 4
    fed = catalogue.federal_actions
    fed_index = {a.id: i for i, a in enumerate(fed)}
    fed_start = np.full(len(fed), n_q + 1)
    fed_end = np.zeros(len(fed), int)
    fed_int = np.zeros(len(fed))
    policies = {p: i for i, p in enumerate(catalogue.state_policies)}
    programs = {p: i for i, p in enumerate(catalogue.programs)}
    state_rows, local_rows = [], []
    support: dict[str, np.ndarray] = {}
    cost = np.zeros(n_q)
    contested = np.zeros(n_q)

    par = _params.values(spec.param_values())
    advocacy = par.advocacy_cost_musd_per_effort
    for entry in (spec.sequence if entries is None else entries):
        served = getattr(entry, "served_q", 0)
        s_q = int(round(entry.start_year * 4))
        e_q = n_q if entry.end_year is None else int(round(entry.end_year * 4))
        if entry.intensity > 1 and any(a.level in ("federal", "state", "local") for a in catalogue.by_group(entry.group)):
            # effort above the plan's on a government group is advocacy the campaign pays for
            cost[s_q:e_q] += advocacy * (entry.intensity - 1)
        for a in catalogue.by_group(entry.group):
            start = s_q + max(a.delay_q - served, 0)
            if start >= e_q:
                continue
            target = entry.targets.get(a.id, a.target)
            if a.level == "local":
                target *= world.scale  # district and region counts shrink with the world
            where = a.where if entry.where == "default" else entry.where
            pace_years = a.plan_years or PHASE_YEARS.get(a.phase, 3)
            pace_end = min(e_q, s_q + int(round(4 * pace_years)))
            if a.level == "federal":
                i = fed_index[a.id]
                fed_start[i] = min(fed_start[i], start)
                fed_end[i] = max(fed_end[i], e_q)
                fed_int[i] = max(fed_int[i], entry.intensity)
            elif a.level in ("state", "local"):
                row = Row(a, policies[a.policy] if a.level == "state" else programs[a.policy],
                          start, e_q, max(pace_end, start + 2), target, where if isinstance(where, str) else "list",
                          _static_mask(where, world, par), entry.intensity,
                          _district_mask(where, world) if a.level == "local" else None)
                (state_rows if a.level == "state" else local_rows).append(row)
            else:
                for e in a.effects:
                    arr = support.setdefault(e.channel, np.zeros(n_q))
                    arr[start:e_q] += e.size * entry.intensity
                cost[start:e_q] += a.cost_musd * entry.intensity   # more effort is more organizers, more money
                contested[start:e_q] += a.backlash * entry.intensity
    return Plan(n_q, fed_start, fed_end, fed_int, state_rows, local_rows, support, cost, contested)
