import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from equitysim import ScenarioError, load_scenario
from equitysim.sequencing import Candidate, _table, candidate_scenario, load_search, search

ROOT = Path(__file__).resolve().parents[1]
QUICK = ROOT / "experiments" / "sequencing_search_quick.toml"


def _spec(**update):
    spec, base = load_search(QUICK)
    return spec.model_copy(update=update), base


def test_regret_and_expected_value_by_hand():
    from equitysim.sequencing import SearchSpec
    spec, _ = _spec()
    futs = [{"name": "a"}, {"name": "b"}]
    k1 = json.dumps([[0.0, 0.0, 0.0], 0.5, "all", "default"])
    k2 = json.dumps([[3.0, 0.0, 0.0], 0.5, "all", "default"])
    evals = {k1: [[4, 6], [2, 2]], k2: [[3, 3], [4, 4]]}   # per-future means: k1 (5, 2), k2 (3, 4)
    t = _table(spec, evals, futs, Candidate((0.0, 0.0, 0.0), 0.5, "all", "default")).set_index("candidate")
    assert t.loc[k1, "expected_met"] == pytest.approx(3.5) and t.loc[k2, "expected_met"] == pytest.approx(3.5)
    assert t.loc[k1, "max_regret"] == pytest.approx(2.0)   # future b: 4 - 2
    assert t.loc[k2, "max_regret"] == pytest.approx(2.0)   # future a: 5 - 3
    assert bool(t.loc[k1, "is_roadmap"]) and not bool(t.loc[k2, "is_roadmap"])
    assert t.loc[k1, "ci_low"] < 3.5 < t.loc[k1, "ci_high"]


def test_candidate_scenario_moves_blocks_and_keeps_offsets():
    spec, base = _spec()
    c = Candidate((3.0, 0.0, 0.0), 0.5, "all", "default")
    scn = candidate_scenario(spec, base, c, "x")
    starts = {e.group: e.start_year for e in scn.sequence}
    # Funding block: bills started at 0 and the wave at 2 in the roadmap -> now 3 and 5.
    assert starts["state_funding_bills"] == 3.0 and starts["state_funding_wave"] == 5.0
    assert starts["local_restorative"] == 0.0
    # The roadmap's own position in the space reproduces the roadmap.
    same = candidate_scenario(spec, base, Candidate((0.0, 0.0, 0.0), base.strategy.pacing, "all", "default"), "r")
    assert [e.start_year for e in same.sequence] == [e.start_year for e in base.sequence]
    # A local lead delays federal groups by three years.
    led = candidate_scenario(spec, base, Candidate((0.0, 0.0, 0.0), 0.5, "local", "default"), "l")
    fed = {e.group: e.start_year for e in led.sequence}["federal_administrative"]
    assert fed == 3.0


@pytest.fixture(scope="module")
def enumerated(tmp_path_factory):
    spec, base = _spec(start_years=[0.0, 2.0, 4.0], budget=27, optimizer="enumerate", replications=2)
    return search(spec, base, out=tmp_path_factory.mktemp("enum"), jobs=2)


def test_tpe_finds_the_enumerated_optimum(enumerated, tmp_path):
    spec, base = _spec(start_years=[0.0, 2.0, 4.0], budget=14, optimizer="tpe", replications=2)
    # Reuse the enumeration's evaluations (same spec digest is not required: copy the values only).
    res = search(spec, base, out=None, jobs=2)
    assert len(res.table) <= 15
    best_enum = enumerated.best_expected
    assert res.best_expected.expected_met == pytest.approx(best_enum.expected_met)
    assert res.best_expected.candidate == best_enum.candidate


def test_answers_are_runnable_scenarios_and_json(enumerated):
    out = enumerated.to_json()
    assert out["evaluated"] == 27
    assert set(out) == {"evaluated", "best_expected", "most_robust", "roadmap", "candidates"}
    for label in ("best_expected", "most_robust"):
        path = Path(out[label]["scenario_file"])
        scn = load_scenario(path)
        assert scn.sequence
    assert out["best_expected"]["expected_met"] >= out["roadmap"]["expected_met"]
    assert out["most_robust"]["max_regret"] <= out["roadmap"]["max_regret"]
    assert len(enumerated.sentences()) == 2


def test_resume_runs_only_what_is_missing(tmp_path):
    spec, base = _spec(budget=4, optimizer="enumerate")
    out = tmp_path / "s"
    done = []
    first = search(spec, base, out=out, progress=done.append)
    assert sum(done) == 4  # the roadmap is one of the 4 enumerated candidates
    lines = (out / "evaluations.jsonl").read_text().splitlines()
    # Simulate a crash: last record lost, the one before cut in half.
    (out / "evaluations.jsonl").write_text("\n".join(lines[:-2] + [lines[-2][:20]]) + "\n")
    again = []
    second = search(spec, base, out=out, progress=again.append)
    assert sum(again) == 2
    assert second.to_json() == first.to_json()
    with pytest.raises(ScenarioError, match="same search"):
        search(spec.model_copy(update={"seed": 99}), base, out=out)


def test_bad_search_file(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('name = "s"\nbase = "nope.toml"\n[[blocks]]\nname = "a"\ngroups = ["coalition"]\n')
    with pytest.raises(ScenarioError, match="base: expected an existing scenario file"):
        load_search(f)
    f.write_text('name = "s"\nbase = "x.toml"\npaces = [2.0]\n[[blocks]]\nname = "a"\ngroups = ["coalition"]\n')
    with pytest.raises(ScenarioError, match=r"paces: expected paces between 0 and 1"):
        load_search(f)
