"""What a plan costs: planned spending by year and level, as scheduled before any risk, beside
the roadmap's resource tables (data/resources.toml).

As scheduled means: every federal action in force from the first quarter its group allows until
its group ends; every state row's policy in the number of states the row aims for (at most the
states it applies to), each state paying the policy's catalogue cost once; every local row's
program in the number of districts it aims for (scaled with the world), each at the catalogue
cost of a medium district times the mean enrollment multiplier of the districts eligible for it;
support actions (organizing, coalition, data, messaging) at their national cost times the intensity they
are pushed with, plus the advocacy that pushing a government group harder than intensity 1 costs
(`advocacy_cost_musd_per_effort` per unit above 1). Laws that never pass, policies repealed, programs cut or the federal budget cap are what the model adds on top;
this is the plan a strategist is asking others to pay for.

Units: millions of dollars a year.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

import numpy as np

from .actions import Catalogue, default_catalogue
from .fixed import Fixed
from .plan import compile_plan
from .scenario import ScenarioSpec

QUARTERS = 4


@cache
def roadmap_tables() -> dict:
    """The roadmap's resource tables ($M a year; ranges as [low, high])."""
    return tomllib.loads(resources.files("equitysim").joinpath("data/resources.toml").read_text())


def _yearly(by_quarter: np.ndarray, years: int) -> list[float]:
    """Mean over each year's quarters (a cost in force for part of a year counts pro rata)."""
    return [float(x) for x in by_quarter[:years * QUARTERS].reshape(years, QUARTERS).mean(1)]


def planned_costs(spec: ScenarioSpec, catalogue: Catalogue | None = None, world=None) -> dict:
    """Planned spending of `spec` by year and level:
    {"scenario", "years", "federal_musd", "states_musd", "districts_musd", "support_musd",
     "total_musd", "roadmap_tables"} (lists over years 1..spec.years)."""
    from .model import world_for

    cat = catalogue or default_catalogue()
    w = world if world is not None else world_for(spec)
    plan = compile_plan(spec, cat, w)
    n_q = spec.years * QUARTERS
    q = np.arange(n_q)
    fed = np.zeros(n_q)
    for i, a in enumerate(cat.federal_actions):
        fed += a.cost_musd * ((plan.fed_start[i] <= q) & (q < plan.fed_end[i]))
    from .channels import FUNDING_POLICIES
    from .params import values

    par = values(spec.param_values())
    policy_cost = {}
    for a in cat.actions:
        if a.level == "state":
            policy_cost[a.policy] = max(policy_cost.get(a.policy, 0.0), a.cost_musd)
    for name in FUNDING_POLICIES:   # funding equalisation: the registry's cost per state (as the model)
        policy_cost[name] = max(policy_cost.get(name, 0.0), par.funding_reform_cost_musd)
    states = np.zeros(n_q)
    for policy in {r.action.policy for r in plan.state_rows}:
        rows = [r for r in plan.state_rows if r.action.policy == policy]
        planned = np.zeros(n_q)
        for r in rows:
            n = min(r.target, float(np.count_nonzero(r.mask)))
            planned = np.maximum(planned, n * ((r.start_q <= q) & (q < r.end_q)))
        states += policy_cost[policy] * planned
    programs = list(cat.programs.values())
    index = {pr.id: k for k, pr in enumerate(programs)}
    base_cost = np.zeros(len(programs))
    for a in cat.actions:
        if a.level == "local":
            base_cost[index[a.policy]] = max(base_cost[index[a.policy]], a.cost_musd)
    fixed = Fixed.get(w, programs, base_cost, par)
    districts = np.zeros(n_q)
    for k, pr in enumerate(programs):
        rows = [r for r in plan.local_rows if r.index == k]
        if not rows:
            continue
        eligible = fixed.eligible_by_program[k]
        per_district = base_cost[k] * float(fixed.size_cost[eligible].mean()) if eligible.any() else 0.0
        planned = np.zeros(n_q)
        for r in rows:
            planned = np.maximum(planned, min(r.target, float(eligible.sum())) * ((r.start_q <= q) & (q < r.end_q)))
        districts += per_district * planned
    support = plan.cost_by_quarter[:n_q]
    years = spec.years
    out = {"scenario": spec.name, "years": list(range(1, years + 1)),
           "federal_musd": _yearly(fed, years), "states_musd": _yearly(states, years),
           "districts_musd": _yearly(districts, years), "support_musd": _yearly(support, years)}
    out["total_musd"] = [sum(x) for x in zip(out["federal_musd"], out["states_musd"], out["districts_musd"],
                                             out["support_musd"])]
    out["scale"] = spec.scale
    out["roadmap_tables"] = roadmap_tables()
    return out


def comparison(costs: dict, n_states: int = 51) -> list[str]:
    """Plain sentences comparing the plan's peak yearly spending with the roadmap's tables."""
    tables = costs["roadmap_tables"]
    fed_peak = max(costs["federal_musd"])
    fed_table = tables["federal"]["total"]
    state_avg = max(costs["states_musd"]) / n_states
    lo = sum(v[0] for v in tables["state_average"].values())
    hi = sum(v[1] for v in tables["state_average"].values())
    return [
        f"Federal: at most ${fed_peak:,.0f}M a year planned, against the roadmap's ${fed_table:,.0f}M "
        f"({100 * (fed_peak / fed_table - 1):+.0f}%).",
        f"States: at most ${state_avg:,.1f}M a year for the average state, against ${lo:g}-{hi:g}M in the "
        f"roadmap's table (integration incentives, teacher incentives, technical assistance; funding "
        f"equalization is 'variable' there).",
    ]
