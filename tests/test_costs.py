"""`equitysim cost`: planned spending by year and level against the roadmap's tables."""

import json

import pytest

from equitysim import load_scenario
from equitysim.actions import default_catalogue
from equitysim.cli import main
from equitysim.costs import planned_costs, roadmap_tables

from .conftest import SCENARIOS

SCALE = 0.05


def _spec(name="roadmap"):
    return load_scenario(SCENARIOS / f"{name}.toml").model_copy(update={"scale": SCALE})


def test_the_roadmap_tables_are_the_seed_s_figures():
    t = roadmap_tables()
    assert sum(v for k, v in t["federal"].items() if k != "total") == t["federal"]["total"] == 3800
    assert t["state_average"]["integration_incentives"] == [20, 50]
    assert t["district_medium"]["restorative_practices"] == [0.5, 2.0]


def test_no_action_costs_nothing_and_the_roadmap_costs_something():
    none = planned_costs(_spec("no_action"))
    assert all(v == 0 for k in ("federal_musd", "states_musd", "districts_musd", "support_musd") for v in none[k])
    road = planned_costs(_spec())
    assert len(road["years"]) == 10 and all(len(road[k]) == 10 for k in ("federal_musd", "total_musd"))
    assert road["total_musd"][-1] > road["total_musd"][0] > 0   # the plan grows over its phases


def test_federal_spending_is_the_catalogue_cost_of_the_actions_scheduled():
    """In year 10 of the roadmap every federal group has started: the federal line is the sum of
    the catalogue's federal costs."""
    cat = default_catalogue()
    road = planned_costs(_spec())
    assert road["federal_musd"][-1] == pytest.approx(sum(a.cost_musd for a in cat.federal_actions))


def test_district_spending_scales_with_the_world():
    small, big = planned_costs(_spec()), planned_costs(_spec().model_copy(update={"scale": 0.1}))
    assert big["districts_musd"][-1] == pytest.approx(2 * small["districts_musd"][-1], rel=0.25)
    assert big["federal_musd"] == small["federal_musd"]


def test_support_actions_cost_more_when_pushed_harder():
    """Effort is money: a support group pushed at intensity 2 costs twice as much, and the
    campaign budget (funding.support_funding_share) sees the same plan cost."""
    spec = _spec()
    cat = default_catalogue()
    support = {e.group for e in spec.sequence
               if all(a.level not in ("federal", "state", "local") for a in cat.by_group(e.group))}
    assert support
    harder = spec.model_copy(update={"sequence": [e.model_copy(update={"intensity": 2.0}) if e.group in support else e
                                                  for e in spec.sequence]})
    one, two = planned_costs(spec), planned_costs(harder)
    assert one["support_musd"][0] > 0
    assert two["support_musd"] == pytest.approx([2 * x for x in one["support_musd"]])
    assert two["federal_musd"] == one["federal_musd"] and two["states_musd"] == one["states_musd"]


def test_pushing_a_government_group_harder_costs_advocacy():
    spec = _spec()
    harder = spec.model_copy(update={"sequence": [e.model_copy(update={"intensity": 3.0}) if e.group == "state_funding_bills" else e
                                                  for e in spec.sequence]})
    one, two = planned_costs(spec), planned_costs(harder)
    entry = next(e for e in spec.sequence if e.group == "state_funding_bills")
    extra = 2 * spec.param_values()["advocacy_cost_musd_per_effort"]          # intensity 3: two units above 1
    years = [y for y in one["years"] if entry.start_year <= y - 1 < entry.end_year]
    assert years
    for y in one["years"]:
        want = extra if y in years else 0.0
        assert two["support_musd"][y - 1] - one["support_musd"][y - 1] == pytest.approx(want)
    assert two["states_musd"] == one["states_musd"]


def test_cost_command_json_and_errors(capsys, tmp_path):
    assert main(["cost", str(SCENARIOS / "roadmap.toml"), "--scale", str(SCALE), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"scenario", "years", "federal_musd", "states_musd", "districts_musd", "roadmap_tables"} <= set(out)
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[sequence]]\ngroup = "no_such_group"\nstart_year = 0\n')
    assert main(["cost", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.toml" in err[0]


def test_the_plan_cache_sees_the_parameters_the_compiler_reads():
    """Two runs on one world that differ only in a parameter compile_plan reads must not share a
    compiled plan (a sweep over advocacy_cost_musd_per_effort would otherwise reuse a stale one)."""
    from equitysim.model import EquityModel
    from equitysim.plan import PLAN_PARAMS

    spec = _spec()
    harder = spec.model_copy(update={"sequence": [e.model_copy(update={"intensity": 2.0}) if e.group == "state_funding_bills" else e
                                                  for e in spec.sequence]})
    assert "advocacy_cost_musd_per_effort" in PLAN_PARAMS
    a = EquityModel(harder, rng=1)
    b = EquityModel(harder.with_parameters(advocacy_cost_musd_per_effort=25.0), rng=1, world=a.world)
    assert b.plan is not a.plan
    assert (b.plan.cost_by_quarter - a.plan.cost_by_quarter).max() == pytest.approx(15.0)
