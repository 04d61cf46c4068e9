import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from equitysim import ScenarioError, load_scenario
from equitysim.sequencing import Candidate, candidate_scenario, load_search, search
from equitysim.sequencing.runner import _table

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
    assert set(out) == {"evaluated", "best_expected", "most_robust", "roadmap", "candidates", "confirmation"}
    assert set(out["best_expected"]) == {"scenario_file", "expected_met", "ci_low", "ci_high"}
    assert {"expected_met", "max_regret"} <= set(out["roadmap"]) and "max_regret" in out["most_robust"]
    for label in ("best_expected", "most_robust"):
        path = Path(out[label]["scenario_file"])
        scn = load_scenario(path)
        assert scn.sequence
    assert out["best_expected"]["expected_met"] >= out["roadmap"]["expected_met"]
    assert out["most_robust"]["max_regret"] <= out["roadmap"]["max_regret"]
    assert len(enumerated.sentences()) == 2


def test_resume_runs_only_what_is_missing(tmp_path, monkeypatch):
    from equitysim.experiments import read_runs
    from equitysim.experiments import runner as experiments
    from equitysim.sequencing import candidate_id

    spec, base = _spec(budget=4, optimizer="enumerate")
    out = tmp_path / "s"
    done = []
    first = search(spec, base, out=out, progress=done.append)
    assert sum(done) == 4  # the roadmap is one of the 4 enumerated candidates
    index = json.loads((out / "runs" / "index.json").read_text())
    assert sorted(index.values()) == sorted(p.name for p in (out / "runs").iterdir() if p.is_dir())
    # Every candidate is an ordinary results directory of the experiments runner, one chunk per future.
    road = Candidate((0.0, 0.0, 0.0), base.strategy.pacing, "all", "default")
    runs = read_runs(out / "runs" / candidate_id(road))
    assert len(runs) == len(first.futures) * spec.replications
    assert index[road.key()] == candidate_id(road)
    # Simulate a crash: one candidate lost one future's chunk (and left a torn temporary file),
    # another lost all of its runs but its manifest.
    a, b = (out / "runs" / index[k] for k in list(index)[1:3])
    (a / "runs" / "chunk-000001.parquet").unlink()
    (a / "runs" / ".chunk-000001.parquet.999.tmp").write_bytes(b"PAR1 half")
    for f in (b / "runs").iterdir():
        f.unlink()
    untouched = {p: p.stat().st_mtime_ns for d in (out / "runs").iterdir() if d.is_dir() and d not in (a, b)
                 for p in d.rglob("*")}
    calls = []
    real = experiments.run_replication

    def counting(scn, seed, key, **kw):
        calls.append((scn.description, key))
        return real(scn, seed, key, **kw)

    monkeypatch.setattr(experiments, "run_replication", counting)
    again = []
    second = search(spec, base, out=out, progress=again.append)
    assert sum(again) == 2
    desc = {d: json.loads((d / "experiment.json").read_text())["identity"]["scenarios"][0]["description"]
            for d in (a, b)}
    r = range(spec.replications)
    expected = [(desc[a], (1, k)) for k in r] + [(desc[b], (f, k)) for f in range(len(first.futures)) for k in r]
    assert sorted(calls) == sorted(expected)
    assert {p: p.stat().st_mtime_ns for p in untouched} == untouched  # finished candidates only read
    assert not list(out.rglob(".*.tmp"))
    assert second.to_json() == first.to_json()
    pd.testing.assert_frame_equal(second.table, first.table)
    calls.clear()
    assert search(spec, base, out=out).to_json() == first.to_json() and not calls
    with pytest.raises(ScenarioError, match="same search") as e:
        search(spec.model_copy(update={"seed": 99}), base, out=out)
    assert str(out) in str(e.value) and "\n" not in str(e.value)


def test_results_do_not_depend_on_the_store_or_the_workers(tmp_path):
    """In memory or in a directory, on one worker or two: the same table; and each value is the run
    with key (future, replication) of the candidate's scenario under that future."""
    from equitysim.ensemble import run_replication
    from equitysim.sequencing import apply_future

    spec, base = _spec(budget=3, optimizer="enumerate", replications=2, scale=0.02)
    base = base.model_copy(update={"scale": 0.02})
    ref = search(spec, base, out=None, jobs=1)
    assert len(ref.table) == 3 and len(ref.futures) == 3
    for out, jobs in ((None, 2), (tmp_path / "one", 1), (tmp_path / "two", 2)):
        res = search(spec, base, out=out, jobs=jobs)
        pd.testing.assert_frame_equal(res.table, ref.table)
    assert ref.table["future.draw 0"].nunique() > 1  # candidates differ, so the comparison means something
    c = Candidate((0.0, 3.0, 0.0), 0.5, "all", "default")
    f = 2
    scn = apply_future(candidate_scenario(spec, base, c, "candidate"), ref.futures[f])
    direct = [sum(v for k, v in run_replication(scn, spec.seed, (f, r)).items() if k.startswith("met."))
              for r in range(spec.replications)]
    row = ref.table.set_index("candidate").loc[c.key()]
    assert row[f"future.{ref.futures[f]['name']}"] == pytest.approx(np.mean(direct))


def test_bad_search_file(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('name = "s"\nbase = "nope.toml"\n[[blocks]]\nname = "a"\ngroups = ["coalition"]\n')
    with pytest.raises(ScenarioError, match="base: expected an existing scenario file"):
        load_search(f)
    f.write_text('name = "s"\nbase = "x.toml"\npaces = [2.0]\n[[blocks]]\nname = "a"\ngroups = ["coalition"]\n')
    with pytest.raises(ScenarioError, match=r"paces: expected paces between 0 and 1"):
        load_search(f)


def test_confirmation_reruns_the_answers_on_fresh_runs_paired_with_the_roadmap(tmp_path, monkeypatch):
    """Adding confirmation to a finished search runs only the answers and the roadmap, with their own
    seed; the roadmap's difference from itself is exactly 0 and the others' are run-by-run means."""
    from equitysim.experiments import runner as experiments
    from equitysim.sequencing import apply_future, confirm_seed, describe_difference

    spec, base = _spec(budget=4, optimizer="enumerate", replications=2, scale=0.02)
    base = base.model_copy(update={"scale": 0.02})
    out = tmp_path / "s"
    plain = search(spec, base, out=out)
    assert plain.confirmed is None and plain.to_json()["confirmation"] is None
    calls = []
    real = experiments.run_replication

    def counting(scn, seed, key, **kw):
        calls.append(seed)
        return real(scn, seed, key, **kw)

    monkeypatch.setattr(experiments, "run_replication", counting)
    spec_c = spec.model_copy(update={"confirm_replications": 3})
    res = search(spec_c, base, out=out)   # same directory: the search's runs are read, not re-run
    picks = {plain.best_expected.candidate, plain.most_robust.candidate, plain.roadmap.candidate}
    assert calls and set(calls) == {confirm_seed(spec)} and confirm_seed(spec) != spec.seed
    assert len(calls) == len(picks) * len(res.futures) * 3
    pd.testing.assert_frame_equal(res.table, plain.table)
    c = res.confirmed.set_index("answer")
    assert list(c.index) == ["best_expected", "most_robust", "roadmap"]
    assert c.loc["roadmap", "difference_vs_roadmap"] == 0 and c.loc["roadmap", "diff_ci_low"] == 0
    # By hand: the best answer's fresh runs, minus the roadmap's, future by future and run by run.
    monkeypatch.setattr(experiments, "run_replication", real)

    def fresh(key):
        cand = Candidate(*[tuple(v) if i == 0 else v for i, v in enumerate(json.loads(key))])
        scn = candidate_scenario(spec, base, cand, "candidate")
        return np.array([[sum(v for k, v in real(apply_future(scn, f), confirm_seed(spec), (i, r)).items()
                              if k.startswith("met.")) for r in range(3)] for i, f in enumerate(res.futures)])

    best, road = fresh(c.loc["best_expected", "candidate"]), fresh(c.loc["roadmap", "candidate"])
    assert c.loc["best_expected", "expected_met"] == pytest.approx(best.mean())
    assert c.loc["best_expected", "difference_vs_roadmap"] == pytest.approx((best - road).mean())
    assert c.loc["best_expected", "runs"] == best.size
    assert (out / "confirmed.csv").exists() and res.to_json()["confirmation"]["rows"][2]["answer"] == "roadmap"
    assert any("fresh runs" in s for s in describe_difference(res)) or (
        c.loc["best_expected", "candidate"] == c.loc["roadmap", "candidate"])
