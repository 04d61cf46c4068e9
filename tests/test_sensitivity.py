import numpy as np
import pandas as pd
import pytest
from SALib.test_functions import Ishigami

from equitysim import narrative as N
from equitysim import sensitivity as S
from equitysim.plots import plot_indices

PROBLEM = {"num_vars": 4, "names": ["x1", "x2", "x3", "dummy"], "bounds": [[-np.pi, np.pi]] * 4}
# Analytical Sobol' indices of the Ishigami function (a = 7, b = 0.1).
S1_TRUE = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0, "dummy": 0.0}
ST_TRUE = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437, "dummy": 0.0}


@pytest.fixture(scope="module")
def sobol():
    X = S.sample(PROBLEM, "sobol", 1024, seed=3)
    Y = pd.DataFrame({"ishigami": Ishigami.evaluate(X[:, :3]), "flat": np.ones(len(X))})
    return X, Y, S.analyze(PROBLEM, "sobol", X, Y, seed=3)


def test_sobol_recovers_ishigami(sobol):
    _, _, idx = sobol
    g = idx[idx.output == "ishigami"].set_index("parameter")
    for p in PROBLEM["names"]:
        assert g.loc[p, "S1"] == pytest.approx(S1_TRUE[p], abs=0.07)
        assert g.loc[p, "ST"] == pytest.approx(ST_TRUE[p], abs=0.07)


def test_no_effect_parameter_is_reported_as_none(sobol):
    _, _, idx = sobol
    words = N.summary_sentences(idx, "sobol", {"ishigami": "The test output"})
    assert "No effect distinguishable from zero: dummy" in words[0]
    assert "x1 explains about 5" in words[0]
    assert "did not vary" in words[1]


def test_convergence_check(sobol):
    X, Y, _ = sobol
    c = S.convergence(PROBLEM, "sobol", X, Y[["ishigami"]], seed=3)
    assert set(c.columns) >= {"ST", "ST_half", "disagree"}
    assert not c.disagree.any()
    # A design too small to settle shows up as disagreement somewhere or wide intervals.
    Xs = S.sample(PROBLEM, "sobol", 16, seed=3)
    cs = S.convergence(PROBLEM, "sobol", Xs, pd.DataFrame({"ishigami": Ishigami.evaluate(Xs[:, :3])}), seed=3)
    assert cs.ST_conf_half.mean() > 2 * c.ST_conf_half.mean()


def test_morris_ranks_dummy_last():
    X = S.sample(PROBLEM, "morris", 60, seed=2)
    idx = S.analyze(PROBLEM, "morris", X, pd.DataFrame({"y": Ishigami.evaluate(X[:, :3])}), seed=2)
    g = idx.set_index("parameter")
    assert g.loc["dummy", "mu_star"] == pytest.approx(0.0)
    assert g.mu_star.idxmin() == "dummy" and g.loc["x1", "mu_star"] > 3


def test_fast_screening():
    X = S.sample(PROBLEM, "fast", 400, seed=2)
    g = S.analyze(PROBLEM, "fast", X, pd.DataFrame({"y": Ishigami.evaluate(X[:, :3])}), seed=2).set_index("parameter")
    assert g.loc["x1", "S1"] == pytest.approx(0.31, abs=0.06)
    assert g.loc["dummy", "S1"] < 0.02


def test_prim_finds_a_planted_failure_region():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"recession_prob": rng.uniform(0.08, 0.3, 2000), "coalition_growth": rng.uniform(0.15, 0.6, 2000),
                      "noise": rng.integers(0, 5, 2000)})
    inside = (X.recession_prob > 0.2) & (X.coalition_growth < 0.3)
    failed = np.where(inside, rng.random(2000) < 0.9, rng.random(2000) < 0.1).astype(float)
    found = S.discover(X, failed)
    assert set(found["box"]) == {"recession_prob", "coalition_growth"}
    assert found["box"]["recession_prob"][0] == pytest.approx(0.2, abs=0.02)
    assert found["box"]["coalition_growth"][1] == pytest.approx(0.3, abs=0.03)
    assert found["density"] > 0.8 and found["coverage"] > 0.5
    assert len(found["trajectory"]) > 3
    text = N.describe_box(found, "the roadmap", "funding reform in 10 states")
    assert "exceeds 0.2" in text and "of all failures" in text


def test_plots_written(sobol, tmp_path):
    _, _, idx = sobol
    paths = plot_indices(idx, "sobol", str(tmp_path / "sobol"))
    assert all((tmp_path / p.split("/")[-1]).stat().st_size > 1000 for p in paths)


# ---- through the experiments runner and the same analysis path

from pathlib import Path  # noqa: E402

from equitysim.sensitivity import SensitivityResult, load_sensitivity, outputs_by_point, run_sensitivity  # noqa: E402

EXP = Path(__file__).resolve().parents[1] / "experiments"


def test_ishigami_through_the_results_format():
    """Ishigami values laid out as the runner's runs table (point, replication, value.*) go through
    outputs_by_point and SensitivityResult exactly as model results do."""
    spec, _ = load_sensitivity(EXP / "sobol_quick.toml")
    spec = spec.model_copy(update={"samples": 512})
    problem = {"num_vars": 4, "names": ["x1", "x2", "x3", "dummy"], "bounds": [[-np.pi, np.pi]] * 4}
    X = S.sample(problem, "sobol", 512, seed=1)
    y = Ishigami.evaluate(X[:, :3])
    runs = pd.DataFrame({"point": np.repeat(np.arange(len(X)), 2), "replication": np.tile([0, 1], len(X)),
                         "met.ishigami": np.repeat(y > 0, 2), "value.ishigami": np.repeat(y, 2)})
    Y = outputs_by_point(runs)
    assert list(Y.columns) == ["p_met.ishigami", "value.ishigami"] and len(Y) == len(X)
    res = SensitivityResult(spec, problem, X, Y[["value.ishigami"]], seed=1)
    g = res.indices.set_index("parameter")
    for p in problem["names"]:
        assert g.loc[p, "ST"] == pytest.approx(ST_TRUE[p], abs=0.08)
    assert res.to_json()["converged"] is True


@pytest.fixture(scope="module")
def quick_sobol(tmp_path_factory):
    out = tmp_path_factory.mktemp("sob")
    return out, run_sensitivity(EXP / "sobol_quick.toml", out, jobs=1)


def test_parameter_without_effect_is_reported_as_none(quick_sobol):
    """Under a race-neutral legal design the race-conscious strike probability cannot matter."""
    _, res = quick_sobol
    g = res.indices[res.indices.parameter == "court_strike_prob_race_conscious"]
    assert (g.ST.abs() < 1e-12).all() and (g.S1.abs() < 1e-12).all()
    assert all("Chance a challenged race-conscious design is struck down" in s for s in res.summary
               if "No effect" in s)
    js = res.to_json()
    assert js["method"] == "sobol" and js["n"] == 8
    assert {"output", "parameter", "S1", "S1_conf", "ST", "ST_conf"} == set(js["indices"][0])


def test_identical_across_worker_counts(quick_sobol, tmp_path):
    out1, res1 = quick_sobol
    res2 = run_sensitivity(EXP / "sobol_quick.toml", tmp_path / "two", jobs=2)
    pd.testing.assert_frame_equal(res1.indices, res2.indices)
    assert (out1 / "summary.json").read_text() == (tmp_path / "two" / "summary.json").read_text()
    assert (out1 / "sobol_value.png").exists() and (out1 / "sobol_value.svg").exists()


def test_morris_quick_runs_and_discovery(tmp_path):
    from equitysim.sensitivity import discover_from_results
    res = run_sensitivity(EXP / "morris_quick.toml", tmp_path, jobs=2)
    assert {"mu_star", "mu_star_conf", "sigma"} <= set(res.to_json()["indices"][0])
    zero = res.indices[res.indices.parameter == "court_strike_prob_race_conscious"]
    assert (zero.mu_star.abs() < 1e-12).all()
    found = discover_from_results(tmp_path / "runs", "roadmap", "controlled_choice_100_districts")
    assert "sentence" in found and found["base_rate"] >= 0


def test_bad_sensitivity_file(tmp_path):
    from equitysim.experiments import ExperimentError
    f = tmp_path / "s.toml"
    f.write_text('name = "s"\nmethod = "anova"\nparameters = ["recession_prob"]\nsamples = 4\n')
    with pytest.raises(ExperimentError, match="method: expected one of"):
        load_sensitivity(f)
    f.write_text('name = "s"\nmethod = "sobol"\nparameters = ["nope"]\nsamples = 4\n')
    with pytest.raises(ExperimentError, match="nope"):
        load_sensitivity(f)
