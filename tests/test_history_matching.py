"""Calibration to history (issue 16): history matching recovers a known truth, resumes, gives the
same posterior on 1 and 2 workers, rejects bad files in one line; the shipped posterior changes
`run` and is drawn the same way in every scenario."""

import json

import numpy as np
import pandas as pd
import pytest

from equitysim import params as P
from equitysim.calibration import CalibrationError, CalibrationSpec, calibrate_spec, history_dir, load_calibration
from equitysim.cli import main
from equitysim.ensemble import run
from equitysim.posterior import load as load_parameters, shipped, shipped_path
from equitysim.validation import trace

from .conftest import SCENARIOS

ROOT = SCENARIOS.parent
TRUTH = {"superintendent_turnover": 0.17, "governor_flip_prob": 0.28}
SCALE = 0.02


def _synthetic(seed=5, waves=2, points=30, reps=2, check=40, size=200):
    """A calibration whose targets the model itself made at TRUTH (20 no-action runs)."""
    spec = load_calibration(ROOT / "experiments" / "calibration.toml")[0]
    truth_spec = _no_action().with_parameters(**TRUTH)
    runs = pd.DataFrame([trace(truth_spec, 99, (0, k)) for k in range(20)])
    targets = {
        "exits": {"statistic": "superintendent_exit_3yr", "value": float(runs.superintendent_exit_3yr.mean()),
                  "sd": 0.005, "series": "superintendent_turnover.csv"},
        "flips": {"statistic": "governor_changes_per_election", "value": float(runs.governor_changes_per_election.mean()),
                  "sd": 0.02, "series": "governor_party_changes.csv"},
    }
    data = {"name": "synthetic", "seed": seed, "scale": SCALE, "years": 10, "replications": reps, "chunk_size": 5,
            "parameters": list(TRUTH), "targets": targets,
            "waves": [{"points": points, "cutoff": 3.0}] * waves,
            "emulator": {"restarts": 1, "candidates": 3000}, "posterior": {"size": size, "check_runs": check}}
    return CalibrationSpec.model_validate(data), spec


def _no_action():
    from equitysim.validation import no_action_spec
    return no_action_spec(SCALE)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    cal, _ = _synthetic()
    out = tmp_path_factory.mktemp("synthetic")
    return calibrate_spec(cal, ROOT / "experiments", out), out


def test_synthetic_truth_is_recovered(synthetic):
    summary, out = synthetic
    post = pd.read_csv(out / "posterior.csv", comment="#")
    reg = P.registry()
    # within tolerance of the truth, and clearly narrower than the prior
    assert abs(post.superintendent_turnover.mean() - TRUTH["superintendent_turnover"]) < 0.01
    assert abs(post.governor_flip_prob.mean() - TRUTH["governor_flip_prob"]) < 0.05
    for n in TRUTH:
        assert summary["parameters"][n]["width_ratio"] < 0.6, n
    # the prior mean is far from the truth: a calibration that returned the prior would fail above
    assert abs(summary["parameters"]["superintendent_turnover"]["prior"]["mean"] - 0.17) > 0.02
    assert reg["superintendent_turnover"].low <= post.superintendent_turnover.min()
    assert summary["simulations"] == 2 * 30 * 2 + 40
    assert all(t["mean_in_band"] for t in summary["targets"].values())


def _tiny(seed=3):
    cal, _ = _synthetic(seed=seed, waves=2, points=8, reps=1, check=10, size=20)
    return cal


def test_resume_reruns_only_what_is_missing_and_gives_the_same_posterior(tmp_path):
    cal = _tiny()
    base = ROOT / "experiments"
    first = calibrate_spec(cal, base, tmp_path / "a")
    posterior = (tmp_path / "a" / "posterior.csv").read_text()
    assert first["simulations_run_now"] == first["simulations"] == 8 + 8 + 10
    # an interruption: a chunk of wave 2 and one of the check lost
    (tmp_path / "a" / "wave-2" / "runs" / "chunk-000001.parquet").unlink()
    (tmp_path / "a" / "check" / "runs" / "chunk-000000.parquet").unlink()
    again = calibrate_spec(cal, base, tmp_path / "a")
    assert again["simulations_run_now"] == 3 + 5   # chunks of 5 runs: wave 2 has 5 + 3, the check 5 + 5
    assert (tmp_path / "a" / "posterior.csv").read_text() == posterior
    assert calibrate_spec(cal, base, tmp_path / "a")["simulations_run_now"] == 0
    # a different calibration into the same directory is refused, nothing overwritten
    other = cal.model_copy(update={"seed": 4})
    with pytest.raises(CalibrationError, match="--out: expected the calibration that made this directory"):
        calibrate_spec(other, base, tmp_path / "a")
    assert (tmp_path / "a" / "posterior.csv").read_text() == posterior


def test_same_posterior_on_one_and_two_workers(tmp_path):
    cal = _tiny(seed=8)
    base = ROOT / "experiments"
    calibrate_spec(cal, base, tmp_path / "one", jobs=1)
    calibrate_spec(cal, base, tmp_path / "two", jobs=2)
    a = pd.read_csv(tmp_path / "one" / "posterior.csv", comment="#")
    b = pd.read_csv(tmp_path / "two" / "posterior.csv", comment="#")
    pd.testing.assert_frame_equal(a, b)


BAD = [
    ({"parameters": ["no_such_parameter"]}, "parameters"),
    ({"parameters": ["district_size_sigma"]}, "parameters"),
    ({"targets": {"x": {"statistic": "nope", "value": 1, "sd": 1, "series": "nber_recessions.csv"}}}, "targets.x.statistic"),
    ({"targets": {"x": {"statistic": "recessions_per_year", "value": 1, "sd": 1, "series": "none.csv"}}}, "targets.x.series"),
    ({"targets": {"x": {"statistic": "recessions_per_year", "value": 1, "sd": 0, "series": "nber_recessions.csv"}}}, "targets.x.sd"),
    ({"targets": {"x": {"statistic": "recessions_per_year", "value": 1, "sd": 1, "held_out": True,
                        "series": "nber_recessions.csv"}}}, "targets"),
    ({"waves": []}, "waves"),
    ({"waves": [{"points": 1, "cutoff": 3}]}, "waves.0.points"),
    ({"method": "abc"}, "method"),
    ({"replications": 0}, "replications"),
]


@pytest.mark.parametrize("change, field", BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
def test_bad_calibration_file_is_one_line(tmp_path, capsys, change, field):
    import tomli_w
    import tomllib

    data = tomllib.loads((ROOT / "experiments" / "calibration.toml").read_text())
    data.update(change)
    data["scenarios_dir"] = str(SCENARIOS)
    f = tmp_path / "bad.toml"
    f.write_text(tomli_w.dumps(data))
    assert main(["calibrate", str(f), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(f) in err and f": {field}: expected" in err, err
    assert not (tmp_path / "out").exists()


def test_history_values_follow_from_the_history_files():
    spec, _ = load_calibration(ROOT / "experiments" / "calibration.toml")
    t = spec.targets
    rec = pd.read_csv(history_dir() / "nber_recessions.csv")
    assert t["recessions"].value == pytest.approx(((rec.onset_year >= 1945) & (rec.onset_year <= 2020)).sum() / 75, abs=1e-3)
    gov = pd.read_csv(history_dir() / "governor_party_changes.csv")
    fit, held = gov[~gov.held_out.map({"yes": True, "no": False}).astype(bool)], gov[gov.held_out == "yes"]
    assert t["governor_changes"].value == pytest.approx(fit.changed_party.sum() / fit.elections.sum(), abs=1e-3)
    assert t["governor_changes_later"].value == pytest.approx(held.changed_party.sum() / held.elections.sum(), abs=1e-3)
    ses = pd.read_csv(history_dir() / "ses_integration_counts.csv").set_index("year").districts
    assert t["integration_plans"].value == pytest.approx((ses[2007] - ses[1996]) / 11, abs=0.01)
    assert t["integration_plans_later"].value == pytest.approx((ses[2016] - ses[2007]) / 9, abs=0.01)
    assert t["integration_plans_later"].held_out and t["governor_changes_later"].held_out
    # every history file is described in SOURCES.md
    sources = (history_dir().parent / "SOURCES.md").read_text()
    for f in history_dir().glob("*.csv"):
        assert f"`{f.name}`" in sources, f.name


def test_shipped_posterior_is_the_calibration_files_parameters():
    from equitysim.calibration import uncalibrated
    from equitysim.model import WORLD_PARAMS

    spec, _ = load_calibration(ROOT / "experiments" / "calibration.toml")
    src = shipped()
    assert src.names[:len(spec.parameters)] == list(spec.parameters)
    assert 100 <= len(src.table) <= 5000 and src.weights.sum() == pytest.approx(1.0)
    # parameters history does not constrain keep their priors: every non-world parameter is drawn,
    # spread over its registry range (a sample at the defaults would fail here)
    reg = P.registry()
    others = uncalibrated(spec)
    assert src.names[len(spec.parameters):] == others and len(others) > 150
    assert not set(src.names) & (set(WORLD_PARAMS) | {n for n, p in reg.items() if p.group == "world"})
    for n in ("controlled_choice_segregation_cut", "backlash_rate", "opposition_decay", "capital_regeneration"):
        col, p = src.table[n], reg[n]
        assert col.min() < p.low + 0.1 * (p.high - p.low) and col.max() > p.high - 0.1 * (p.high - p.low), n
        mean = (p.low + p.high + p.default) / 3 if p.dist == "triangular" else (p.low + p.high) / 2
        assert abs(col.mean() - mean) < 0.05 * (p.high - p.low), n
    head = shipped_path().read_text().splitlines()[0]
    assert head.startswith("#") and "equitysim calibrate experiments/calibration.toml" in head and "commit" in head


def _roadmap(name="roadmap", scale=0.05):
    from equitysim import load_scenario
    return load_scenario(SCENARIOS / f"{name}.toml").model_copy(update={"scale": scale})


def test_posterior_default_changes_run_and_draws_are_paired(capsys):
    args = ["run", str(SCENARIOS / "roadmap.toml"), "-n", "12", "--seed", "3", "--scale", "0.05", "--json"]
    assert main(args) == 0
    post = json.loads(capsys.readouterr().out)
    assert main(args + ["--parameters", "defaults"]) == 0
    dflt = json.loads(capsys.readouterr().out)
    assert post["parameters"] == "posterior" and dflt["parameters"] == "defaults"
    assert post["metrics"] != dflt["metrics"]
    # --parameters defaults is the old behaviour exactly
    old = run(_roadmap(), 12, seed=3).to_json()
    assert {k: v for k, v in dflt.items() if k != "parameters"} == old
    # paired: replication r draws the same posterior row in every scenario, on any number of workers
    src = load_parameters("posterior")
    a = run(_roadmap(), 6, seed=3, parameters=src)
    b = run(_roadmap("no_action"), 6, seed=3, parameters=src, jobs=2, chunk_size=2)
    assert a.meta["parameter_rows"] == b.meta["parameter_rows"]
    assert a.meta["parameter_rows"][:5] == [a.meta["parameter_rows"][0]] * 5   # a block of 5 shares a draw
    assert a.meta["parameter_rows"][5] != a.meta["parameter_rows"][0]
    c = run(_roadmap(), 6, seed=3, parameters=src, jobs=2, chunk_size=2)
    assert a.to_json() == c.to_json()
    # a scenario's own [parameters] win over the draw
    fixed = _roadmap().with_parameters(governor_flip_prob=0.31)
    assert src.apply(fixed, 3, 0).parameters["governor_flip_prob"] == 0.31
    assert src.apply(_roadmap(), 3, 0).parameters["governor_flip_prob"] != 0.31


@pytest.mark.parametrize("value", ["/no/such/dir", "README.md"])
def test_bad_parameters_flag_is_one_line(capsys, value):
    assert main(["run", str(SCENARIOS / "roadmap.toml"), "-n", "2", "--scale", "0.05",
                 "--parameters", str(ROOT / value) if value == "README.md" else value]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and ("--parameters" in err or "README.md" in err), err


def test_variance_split_separates_parameters_from_chance():
    from equitysim.posterior import BLOCK, variance_split

    rng = np.random.default_rng(0)
    keys = np.arange(40 * BLOCK)
    # met decided by the block's draw alone: all the variance is about parameters
    by_block = np.repeat(rng.random(40) < 0.5, BLOCK)
    assert variance_split(by_block, keys) == pytest.approx(1.0)
    # met independent of the block (the same chance everywhere): close to none
    assert variance_split(rng.random(len(keys)) < 0.5, keys) < 0.15
    assert variance_split(np.ones(len(keys)), keys) == 0.0
    assert np.isnan(variance_split(np.ones(BLOCK), np.arange(BLOCK)))


def test_run_json_carries_the_variance_split(capsys):
    assert main(["run", str(SCENARIOS / "roadmap.toml"), "-n", "10", "--seed", "2", "--scale", "0.05", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    for row in obj["indicators"]:
        v = row["variance_from_parameters"]
        assert v is None or 0.0 <= v <= 1.0
    assert main(["run", str(SCENARIOS / "roadmap.toml"), "-n", "10", "--seed", "2", "--scale", "0.05", "--json",
                 "--parameters", "defaults"]) == 0
    assert all("variance_from_parameters" not in r for r in json.loads(capsys.readouterr().out)["indicators"])


def test_sweep_can_draw_from_the_posterior(tmp_path):
    from equitysim.experiments import parse_experiment, read_runs, sweep

    base = {"name": "p", "scenarios": ["roadmap", "no_action"], "scenarios_dir": str(SCENARIOS), "replications": 10,
            "seed": 4, "scale": 0.05, "chunk_size": 5}
    plain = parse_experiment({**base, "parameters": "defaults"}, "p.toml")
    post = parse_experiment(base, "p.toml")   # the posterior is the default
    assert post.spec.parameters == "posterior"
    assert plain.identity_hash() != post.identity_hash()
    assert "parameters" not in plain.identity()["experiment"]
    sweep(plain, tmp_path / "a")
    sweep(post, tmp_path / "b", jobs=2)
    a, b = read_runs(tmp_path / "a"), read_runs(tmp_path / "b")
    assert not a.filter(like="metric.").equals(b.filter(like="metric."))
    assert "parameter_row" not in a
    # replication r draws the same posterior row in every scenario, the row `equitysim run` draws
    # for replication r under the same seed; blocks of 5 share a draw
    expected = run(_roadmap(), 10, seed=4, parameters=load_parameters("posterior")).meta["parameter_rows"]
    for name, g in b.groupby("scenario"):
        assert g.sort_values("replication")["parameter_row"].tolist() == expected, name
    assert expected[:5] == [expected[0]] * 5 and expected[5] != expected[0]
    # the same runs on one worker as on two
    sweep(post, tmp_path / "c")
    c = read_runs(tmp_path / "c")
    key = ["scenario", "point", "replication"]
    pd.testing.assert_frame_equal(b.sort_values(key).reset_index(drop=True), c.sort_values(key).reset_index(drop=True))
    with pytest.raises(Exception, match="p.toml: parameters: expected"):
        parse_experiment({**base, "parameters": "/no/such"}, "p.toml")


def test_report_says_where_the_uncertainty_comes_from(tmp_path):
    args = ["report", str(SCENARIOS / "roadmap.toml"), "-n", "10", "--scale", "0.05", "--seed", "2"]
    assert main(args + ["--out", str(tmp_path / "a.html")]) == 0
    assert main(args + ["--out", str(tmp_path / "b.html"), "--parameters", "defaults"]) == 0
    assert "Parameters drawn from the calibrated posterior" in (tmp_path / "a.html").read_text()
    assert "Parameters drawn from the calibrated posterior" not in (tmp_path / "b.html").read_text()


def test_calibrate_command_json_and_resume(tmp_path, capsys):
    import tomli_w

    cal = _tiny(seed=11).model_dump(mode="json", exclude_none=True)
    cal["scenarios_dir"] = str(SCENARIOS)
    f = tmp_path / "cal.toml"
    f.write_text(tomli_w.dumps(cal))
    assert main(["calibrate", str(f), "--out", str(tmp_path / "out"), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["simulations"] == first["simulations_run_now"] == 26 and first["method"] == "history_matching"
    assert set(first["targets"]) == {"exits", "flips"} and (tmp_path / "out" / "posterior.csv").is_file()
    assert main(["calibrate", str(f), "--out", str(tmp_path / "out"), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["simulations_run_now"] == 0 and again["parameters"] == first["parameters"]
    # the directory is a calibration `run --parameters` accepts
    assert main(["run", str(SCENARIOS / "roadmap.toml"), "-n", "5", "--scale", "0.05", "--json",
                 "--parameters", str(tmp_path / "out")]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"] == str(tmp_path / "out")


def test_uncertainty_sentence_sorts_indicators_by_their_split():
    from equitysim.narrative import parameter_uncertainty_line

    line = parameter_uncertainty_line({"ind_a": 0.9, "ind_b": 0.5, "ind_c": 0.1, "ind_d": 0.9, "ind_e": float("nan")},
                                      {"ind_a": 0.5, "ind_b": 0.3, "ind_c": 0.7, "ind_d": 1.0, "ind_e": 0.5})
    know, rest = line.split("not luck")
    assert "about ind_a " in know and "ind_b" not in know and "ind_c" not in know
    assert "for ind_b it is about evenly" in rest and "for ind_c it is mostly chance" in rest
    assert "ind_d" not in line and "ind_e" not in line          # sure or undefined: not said
    assert parameter_uncertainty_line({"a": 0.9}, {"a": 1.0}) == ""


def test_compare_widens_intervals_for_runs_that_share_a_parameter_draw():
    from equitysim.experiments.statistics import compare
    from equitysim.posterior import design_effect

    rng = np.random.default_rng(1)
    blocks = np.repeat(np.arange(40), 5)
    # differences decided by the block alone: the effective sample is the 40 blocks, deff about 5
    by_block = np.repeat(rng.choice([-1.0, 0.0, 1.0], 40), 5)
    assert 4.0 < design_effect(by_block, blocks) < 6.0
    assert design_effect(rng.choice([-1.0, 0.0, 1.0], 200), blocks) < 1.5
    assert design_effect(np.zeros(200), blocks) == 1.0
    # the same runs with and without the posterior's column: same difference, wider interval
    met_a = np.repeat(rng.random(40) < 0.6, 5)
    met_b = np.repeat(rng.random(40) < 0.4, 5)
    rows = [{"scenario": s, "point": 0, "replication": r, "met.funding_reform_10_states": bool(m[r])}
            for s, m in (("a", met_a), ("b", met_b)) for r in range(200)]
    plain = pd.DataFrame(rows)
    drawn = plain.assign(parameter_row=np.repeat(np.arange(40), 5).tolist() * 2)
    p, d = compare(plain, "a").iloc[0], compare(drawn, "a").iloc[0]
    assert p["diff"] == d["diff"] and p.design_effect == 1.0 and d.design_effect > 3.0
    assert d.ci_low < p.ci_low and d.ci_high > p.ci_high
    assert (d.ci_high - d.ci_low) / (p.ci_high - p.ci_low) == pytest.approx(np.sqrt(d.design_effect), rel=0.05)


def test_intervals_account_for_replications_sharing_a_draw():
    """P(met)'s interval is Wilson's at the effective sample size when blocks share a draw: wider
    than the independent-runs interval when "met" follows the draw, the same when it does not."""
    from equitysim.experiments.statistics import summarize
    from equitysim.indicators import wilson_interval
    from equitysim.posterior import BLOCK, blocked_interval

    rng = np.random.default_rng(3)
    keys = np.arange(60 * BLOCK)
    follows = np.repeat(rng.random(60) < 0.5, BLOCK)
    lo, hi, deff = blocked_interval(follows, keys)
    wl, wh = wilson_interval(int(follows.sum()), len(keys))
    assert deff > 3 and lo < wl and hi > wh
    chance = rng.random(len(keys)) < 0.5
    assert blocked_interval(chance, keys)[2] < 1.5
    assert blocked_interval(np.zeros(len(keys)), keys) == (0.0, wilson_interval(0, len(keys))[1], 1.0)
    df = pd.DataFrame({"scenario": "a", "point": 0, "replication": keys, "met.funding_reform_10_states": follows})
    plain = summarize(df).iloc[0]
    drawn = summarize(df.assign(parameter_row=keys // BLOCK)).iloc[0]
    assert plain.p_met == drawn.p_met and (plain.ci_low, plain.ci_high) == pytest.approx((wl, wh))
    assert (drawn.ci_low, drawn.ci_high) == pytest.approx((lo, hi))
