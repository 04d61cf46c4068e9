"""One state or one real district: `equitysim world --state/--district` and `report --state`,
through the CLI (tests/test_cli.py has the general one-line-error rules)."""

import json

import numpy as np

import pytest

from equitysim.cli import main
from equitysim.world import build_world, load_districts

from .conftest import SCENARIOS


def test_world_district_by_id_prints_its_published_and_synthesised_figures(capsys):
    assert main(["world", "--district", "0100390", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    row = load_districts().set_index("leaid").loc["0100390"]
    assert d["name"] == row["name"] == "Birmingham City School District" and d["state"] == "AL"
    assert d["students"] == row["enrollment"] and d["schools"] == row["schools"]
    assert d["dissimilarity_schools"] == pytest.approx(row["dissimilarity"], abs=1e-9)
    assert d["race_shares"]["black"] == pytest.approx(row["share_black"])
    # the same district by name, and by a six-digit id that lost its leading zero
    assert main(["world", "--district", "birmingham city school district, al", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["leaid"] == "0100390"
    assert main(["world", "--district", "100390"]) == 0
    out = capsys.readouterr().out
    assert "Birmingham City School District (AL, NCES 0100390)" in out and "published 0.549" in out


def test_world_state_prints_its_districts(capsys):
    assert main(["world", "--state", "ca", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    tab = load_districts()
    ca = tab[tab.state == "CA"]
    assert s["state"] == "CA" and s["districts"] == len(ca) and s["students"] == ca.enrollment.sum()
    assert s["largest_districts"][0]["name"] == "Los Angeles Unified School District"
    assert main(["world", "--state", "CA"]) == 0
    out = capsys.readouterr().out
    assert "California (CA)" in out and "Los Angeles Unified" in out and "largest districts" in out


@pytest.mark.parametrize("argv, needle", [
    (["world", "--state", "ZZ"], "unknown state 'ZZ'"),
    (["world", "--district", "9999999"], "no district with NCES id '9999999'"),
    (["world", "--district", "Nowhere At All Unified"], "no district named 'Nowhere At All Unified'"),
    (["world", "--district", "Jefferson County"], "matches 13 districts"),
    (["world", "--state", "CA", "--district", "0100390"], "not both"),
    (["report", str(SCENARIOS / "roadmap.toml"), "--state", "XX"], "unknown state 'XX'"),
])
def test_unknown_or_ambiguous_places_are_one_line_errors(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_district_missing_from_a_subsample_says_so(capsys):
    w = build_world(0.05)
    gone = sorted(set(load_districts().leaid) - set(w.districts.leaid))[0]
    assert main(["world", "--scale", "0.05", "--district", gone]) == 2
    assert "scale 0.05" in capsys.readouterr().err


def test_report_state_writes_the_state_page(tmp_path, capsys):
    out = tmp_path / "ca.html"
    assert main(["report", str(SCENARIOS / "roadmap.toml"), "--state", "CA", "-n", "3", "--scale", "0.05",
                 "-o", str(out)]) == 0
    page = out.read_text()
    assert "California: its districts and its simulated future" in page
    assert "Largest districts" in page and "state-level indicators" in page and "<img" in page
    w = build_world(0.05)
    big = w.districts[w.districts.state == "CA"].sort_values("enrollment").iloc[-1]["name"]
    assert big in page


def _spec_with_where(tmp_path, where):
    import tomllib
    from equitysim.scenario import load_scenario
    text = (f'name = "named"\nscale = 1.0\nyears = 3\n[[sequence]]\ngroup = "local_restorative"\nstart_year = 0\n'
            f'where = {json.dumps(where)}\n[[sequence]]\ngroup = "state_funding_bills"\nstart_year = 0\n'
            f'where = {json.dumps(where)}\n')
    tomllib.loads(text)
    f = tmp_path / "named.toml"
    f.write_text(text)
    return load_scenario(f), f


def test_sequence_where_accepts_named_districts_and_lists(tmp_path):
    from equitysim.actions import default_catalogue
    from equitysim.model import world_for
    from equitysim.plan import compile_plan
    from equitysim.rows import RowTable
    spec, _ = _spec_with_where(tmp_path, ["VT", "0100390", "Jefferson County School District, KY"])
    assert spec.sequence[0].where == ["VT", "0100390", "2102990"]   # names become NCES ids
    w = world_for(spec)
    plan = compile_plan(spec, default_catalogue(), w)
    (local,), state_rows = plan.local_rows, plan.state_rows
    codes = list(w.states.index)
    # the states: the listed one and those of the listed districts
    assert {codes[i] for i in np.flatnonzero(local.mask)} == {"VT", "AL", "KY"}
    assert {codes[i] for i in np.flatnonzero(state_rows[0].mask)} == {"VT", "AL", "KY"}
    # the districts: Vermont's, and the two named ones, nothing else in AL or KY
    want = (w.districts.state == "VT").to_numpy() | w.districts.leaid.isin(["0100390", "2102990"]).to_numpy()
    np.testing.assert_array_equal(local.districts, want)
    table = RowTable.build(plan.local_rows, plan.n_q, w.n_states, {p: i for i, p in enumerate(default_catalogue().state_policies)},
                           w.d_state)
    np.testing.assert_array_equal(table.district_mask[0], want)
    assert state_rows[0].districts is None


def test_sequence_where_names_only_districts_runs_in_both_models(tmp_path):
    from benchmarks.reference import run_reference
    w = build_world(0.05)
    la = w.districts[w.districts.state == "CA"].sort_values("enrollment").leaid.iloc[-1]
    spec, _ = _spec_with_where(tmp_path, [la])
    spec = spec.model_copy(update={"scale": 0.05})
    from equitysim.model import EquityModel
    m = EquityModel(spec, rng=1)
    assert m.rows_local.district_mask.sum() == 1 and m.rows_local.district_mask[0, w.districts.leaid == la].all()
    m.run()
    run_reference(spec, 1)


@pytest.mark.parametrize("where, needle", [
    (["CA", "Nowhere At All Unified"], "no district named 'Nowhere At All Unified'"),
    (["Jefferson County"], "matches 13 districts"),
    (["QQ"], "unknown: QQ"),
])
def test_sequence_where_bad_district_is_one_line(tmp_path, capsys, where, needle):
    _, f = _spec_with_where(tmp_path, ["CA"])
    f.write_text(f.read_text().replace('["CA"]', json.dumps(where), 1))
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "sequence" in err and "where" in err and len(err.splitlines()) == 1
