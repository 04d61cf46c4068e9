"""load_results: one adapter from results in memory or on disk to a result set."""

import json

import pandas as pd
import pytest

from equitysim.cli import main
from equitysim.resultsets import ResultsError, load_results, save_results, spec_hash

from ._present import result_set
from .conftest import SCENARIOS


def test_in_memory_forms():
    res = result_set()
    r = res["roadmap"]
    assert list(load_results(r)) == ["roadmap"]
    assert list(load_results(res)) == ["roadmap", "funding_first"]
    assert list(load_results([r, r])) == ["roadmap", "roadmap (2)"]
    with pytest.raises(ResultsError):
        load_results({})
    with pytest.raises(ResultsError, match="expected an EnsembleResult"):
        load_results({"x": 3})


def test_save_and_load_round_trip_keeps_order_and_content(tmp_path):
    res = {"funding_first": result_set()["funding_first"], "roadmap": result_set()["roadmap"]}
    save_results(res, tmp_path / "seq")
    back = load_results(tmp_path / "seq")
    assert list(back) == ["funding_first", "roadmap"]  # display order, not alphabetical by accident
    for name, r in res.items():
        b = back[name]
        assert b.seed == r.seed and spec_hash(b.spec) == spec_hash(r.spec)
        pd.testing.assert_frame_equal(b.runs, r.runs)
        pd.testing.assert_frame_equal(b.trajectories, r.trajectories)
        pd.testing.assert_frame_equal(b.states, r.states)
        pd.testing.assert_frame_equal(b.summary(), r.summary())
    one = load_results(tmp_path / "seq" / "roadmap")
    assert list(one) == ["roadmap"]


def test_bare_parquet_from_run_out(tmp_path, capsys):
    out = tmp_path / "plain" / "roadmap.parquet"
    out.parent.mkdir()
    assert main(["run", str(SCENARIOS / "roadmap.toml"), "-n", "3", "--scale", "0.05", "--out", str(out)]) == 0
    capsys.readouterr()
    for source in (out, out.parent):
        r = load_results(source)["roadmap"]
        assert r.replications == 3 and r.meta["spec_known"] is False and r.seed is None
        assert len(r.summary()) == 12


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("make, needle", [
    (lambda d: d / "missing", "expected an existing results directory"),
    (lambda d: d, "expected scenario result directories"),
    (lambda d: _write(d / "x.txt", "x"), "expected a results directory or a .parquet"),
    (lambda d: _write(d / "bad.parquet", "not parquet"), "expected a readable Parquet"),
    (lambda d: _write(d / "s" / "meta.json", "{}").parent, "expected JSON with 'spec'"),
    (lambda d: _write(d / "s" / "meta.json", '{"spec": {"name": "x"}, "seed": 1}').parent, "expected runs.parquet"),
])
def test_bad_paths_give_one_line(tmp_path, make, needle):
    with pytest.raises(ResultsError) as e:
        load_results(make(tmp_path))
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_meta_records_the_spec(tmp_path):
    save_results(result_set()["roadmap"], tmp_path)
    meta = json.loads((tmp_path / "roadmap" / "meta.json").read_text())
    assert meta["spec"]["name"] == "roadmap" and meta["spec"]["scale"] == 0.05 and meta["replications"] == 8


def test_experiment_store_is_read_per_scenario(tmp_path):
    """A sweep's results directory (the experiments store) gives one result per scenario."""
    from equitysim.experiments import parse_experiment, read_runs, sweep

    exp = parse_experiment({"name": "tiny", "scenarios": ["roadmap", "no_action"], "scenarios_dir": str(SCENARIOS),
                            "replications": 3, "seed": 2, "scale": 0.05, "chunk_size": 3,
                            "design": {"method": "lhs", "samples": 2, "parameters": ["backlash_rate"]},
                            "outputs": {"trajectories": True}})
    sweep(exp, tmp_path / "store", jobs=1)
    res = load_results(tmp_path / "store")
    runs = read_runs(tmp_path / "store")
    assert list(res) == ["roadmap", "no_action"]
    for name, r in res.items():
        mine = runs[runs.scenario == name]
        assert r.replications == len(mine) == 6 and r.spec.scale == 0.05 and r.seed == 2
        expected = mine[[c for c in mine if c.startswith("met.")]].mean()
        got = r.summary().set_index("id")["p_met"]
        assert all(got[c.split(".", 1)[1]] == v for c, v in expected.items())
        assert r.trajectories is not None and r.trajectories.year.max() == 10
        assert "pooled over its 2 design points" in r.meta["note"]
    from equitysim.report import build_report
    html = build_report(res)
    assert "pooled over its 2 design points" in html and html.count("data:image/png") == 2  # no state map
