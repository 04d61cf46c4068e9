"""One state or one real district: `equitysim world --state/--district` and `report --state`,
through the CLI (tests/test_cli.py has the general one-line-error rules)."""

import json

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
