"""The roadmap's milestones (the catalogue's per-action targets) are reported beside the
indicators: evaluated from the model's state at the row's horizon, never read by a mechanism."""

import json

import numpy as np

from equitysim import load_scenario
from equitysim.cli import main
from equitysim.ensemble import replication_rng, run
from equitysim.milestones import value_now
from equitysim.model import EquityModel

from .conftest import SCENARIOS

SCALE = 0.05


def _spec(name="roadmap"):
    return load_scenario(SCENARIOS / f"{name}.toml").model_copy(update={"scale": SCALE})


def test_every_state_and_local_row_is_a_milestone_judged_at_its_horizon():
    m = EquityModel(_spec(), rng=replication_rng(1, 0))
    rows = m.plan.state_rows + m.plan.local_rows
    assert len(m.milestones) == len(rows) > 10
    ids = [ms.id for ms in m.milestones]
    assert len(set(ids)) == len(ids)
    restorative = next(ms for ms in m.milestones if ms.id == "restorative_practices_expansion")
    assert restorative.target == 500 * SCALE and restorative.unit == "district"
    m.run()
    assert set(m.milestone_values) == set(ids)
    # at year 10 every milestone that is judged then equals a plain count of the state
    for ms in m.milestones:
        if ms.year == 10:
            assert m.milestone_values[ms.id] == value_now(m, ms)
    regions = next(ms for ms in m.milestones if ms.unit == "region")
    running = m.active[:, regions.index] & regions.state_mask[m.world.d_state]
    assert value_now(m, regions) == len(np.unique(m.world.d_region[running]))


def test_milestones_reach_run_json_and_leave_the_indicators_alone(capsys):
    res = run(_spec(), replications=4, seed=1)
    ms = res.milestones()
    assert len(ms) and ms["p_met"].between(0, 1).all() and (ms["ci_low"] <= ms["p_met"]).all()
    for r in ms.itertuples():
        assert r.p_met == res.runs[f"milestone.{r.id}"].mean()
    assert main(["run", str(SCENARIOS / "roadmap.toml"), "-n", "4", "--seed", "1", "--scale", str(SCALE), "--json",
                 "--parameters", "defaults"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [m["id"] for m in out["milestones"]] == list(ms["id"])
    assert {"id", "target", "year", "p_met", "ci_low", "ci_high"} == set(out["milestones"][0])
    assert out["indicators"] == res.to_json()["indicators"]


def test_no_action_has_no_milestones():
    assert len(run(_spec("no_action"), replications=1, seed=1).milestones()) == 0
