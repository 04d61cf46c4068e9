"""Costed-out adequacy (equitysim/adequacy.py, issue 18): each district's required spending from
the School Finance Indicators Database, the fallback where SFID has none, and the adequacy
standard actually bringing districts to it."""

import csv
from pathlib import Path

import numpy as np

from equitysim import adequacy as A
from equitysim import load_scenario
from equitysim.ensemble import replication_rng
from equitysim.mechanisms import funding
from equitysim.model import EquityModel, world_for

from .conftest import SCENARIOS

CSV = Path(__file__).resolve().parents[1] / "equitysim" / "data" / "adequacy_sfid.csv"


def _world(scale=0.25):
    return world_for(load_scenario(SCENARIOS / "roadmap.toml").model_copy(update={"scale": scale}))


def _row(state, year=A.SFID_YEAR):
    with CSV.open() as f:
        return next(r for r in csv.DictReader(f) if r["state"] == state and int(r["year"]) == year)


def test_ratios_are_read_from_the_sfid_file():
    r = _row("AL")
    A_, R = float(r["actual_spending_pp_usd"]), float(r["required_spending_pp_usd"])
    A5, R5 = float(r["actual_spending_q5_highest_poverty_pp_usd"]), float(r["required_spending_q5_highest_poverty_pp_usd"])
    got = A.sfid_ratios().loc["AL"]
    assert abs(got["a_all"] - A_ / R) < 1e-12
    assert abs(got["a_q5"] - A5 / R5) < 1e-12
    assert abs(got["a_rest"] - (A_ - A5 / 5) / (R - R5 / 5)) < 1e-12
    assert {"HI", "VT"}.isdisjoint(A.sfid_ratios().index)
    assert len(A.sfid_ratios()) == 49


def test_required_spending_per_district_and_the_fallback():
    w = _world()
    req = A.required_ratio(w, 0.92)
    codes = w.states.index.to_numpy()[w.d_state]
    ratios = A.sfid_ratios()
    top = w.d_highest_need_fifth
    for code in ("AL", "NH", "CA"):
        d = codes == code
        a = np.where(top[d], ratios.loc[code, "a_q5"], ratios.loc[code, "a_rest"])
        np.testing.assert_allclose(req[d], (1 + w.d_spend_tilt[d]) / a, rtol=1e-12)
    for code in ("HI", "VT"):
        assert (req[codes == code] == 0.92).all()
    base = 1 + w.d_spend_tilt
    short = A.shortfall_by_state(w, base, req)
    idx = {c: i for i, c in enumerate(w.states.index)}
    assert short[idx["AL"]] == 1.0            # SFID: Alabama short statewide and in Q5
    assert short[idx["NH"]] == 0.0            # New Hampshire above in both
    assert 0 < short[idx["NY"]] < 0.5         # New York: only its highest-poverty fifth falls short


def test_the_highest_need_fifth_holds_about_a_fifth_of_each_states_students():
    w = _world()
    top = w.d_highest_need_fifth
    share = (np.bincount(w.d_state, weights=w.d_enroll * top, minlength=w.n_states)
             / np.bincount(w.d_state, weights=w.d_enroll, minlength=w.n_states))
    multi = np.bincount(w.d_state, minlength=w.n_states) >= 20
    assert np.median(share[multi]) > 0.12 and np.median(share[multi]) < 0.28
    need = w.districts["child_poverty_pct"].to_numpy(float)
    for s in np.flatnonzero(multi)[:10]:   # the fifth is the poorest of its state (child poverty, as SFID ranks)
        d = w.d_state == s
        if top[d].any() and (~top[d]).any():
            assert need[d][top[d]].min() >= need[d][~top[d]].max()


def test_a_full_adequacy_standard_brings_every_district_to_its_level():
    spec = load_scenario(SCENARIOS / "roadmap.toml").model_copy(update={"scale": 0.1})
    m = EquityModel(spec, rng=replication_rng(0, 0))
    before = funding.district_spending_ratio(m).copy()
    req = funding.adequacy_required(m)
    assert (before < req).mean() > 0.3
    m.state_arrays.adequacy_progress[:] = 1.0
    after = funding.district_spending_ratio(m)
    assert (after >= req).all()
    assert (after[before >= req + m.par.adequacy_margin] == before[before >= req + m.par.adequacy_margin]).all()
    assert m.measure()["adequacy_gap"] == 0.0
