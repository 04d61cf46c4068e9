"""EMA Workbench and SALib interop (equitysim.interop, `equitysim params --salib`)."""

import json
import sys

import numpy as np
import pytest

from equitysim import params as P
from equitysim.cli import main
from equitysim.model import WORLD_PARAMS

from .conftest import SCENARIOS

ema = pytest.importorskip("ema_workbench")  # the test extra installs it; CI runs these

from equitysim.interop import InteropError, ema_model, outcome_names, salib_problem_spec  # noqa: E402

ROADMAP = SCENARIOS / "roadmap.toml"
SCALE, REPS = 0.05, 2


def _direct(spec, values: dict, seed: int) -> dict:
    """The outcomes of one experiment computed with equitysim.run itself."""
    import equitysim as es

    r = es.run(spec.with_parameters(**{k: float(v) for k, v in values.items()}), replications=REPS, seed=seed)
    out = {f"p_met_{row.id}": row.p_met for row in r.summary().itertuples()}
    out["expected_met"] = r.expected_met()
    out.update({f"metric_{k}": v for k, v in r.metrics().items()})
    return out


@pytest.fixture(scope="module")
def model():
    return ema_model(ROADMAP, replications=REPS, scale=SCALE, seed=7)


@pytest.fixture(scope="module")
def performed(model):
    from ema_workbench import SequentialEvaluator, perform_experiments

    with SequentialEvaluator(model) as evaluator:
        return perform_experiments(model, scenarios=4, evaluator=evaluator,
                                   uncertainty_sampling_kwargs={"rng": 42})


def test_uncertainties_are_the_default_design_parameters_with_registry_ranges(model):
    from ema_workbench import IntegerParameter, RealParameter

    reg = P.registry()
    expected = [n for n, p in reg.items() if n not in WORLD_PARAMS and p.group != "structural"]
    unc = {u.name: u for u in model.uncertainties}
    assert list(unc) == expected and len(expected) > 50
    for n, u in unc.items():
        assert (u.lower_bound, u.upper_bound) == (reg[n].low, reg[n].high), n
        kind = IntegerParameter if reg[n].unit == "quarters" else RealParameter
        assert type(u) is kind, n
    assert isinstance(unc["recession_length"], IntegerParameter)


def test_integer_parameters_and_narrowed_ranges():
    from ema_workbench import IntegerParameter, RealParameter

    m = ema_model(ROADMAP, replications=1, scale=SCALE,
                  parameters=["region_size", "readoption_lockout_quarters", "coalition_win_memory_quarters",
                              "backlash_rate", "district_cost_medium_enrollment"])
    kinds = {u.name: type(u) for u in m.uncertainties}
    assert kinds == {"region_size": IntegerParameter, "readoption_lockout_quarters": IntegerParameter,
                     "coalition_win_memory_quarters": IntegerParameter, "backlash_rate": RealParameter,
                     "district_cost_medium_enrollment": RealParameter}
    m = ema_model(ROADMAP, replications=1, scale=SCALE, parameters={"backlash_rate": (0.3, 0.5)},
                  outcomes=["expected_met", "p_met_funding_reform_10_states"])
    (u,) = m.uncertainties
    assert (u.name, u.lower_bound, u.upper_bound) == ("backlash_rate", 0.3, 0.5)
    assert [o.name for o in m.outcomes] == ["expected_met", "p_met_funding_reform_10_states"]


def test_perform_experiments_matches_equitysim_run(model, performed, roadmap):
    experiments, outcomes = performed
    reg = P.registry()
    names = [u.name for u in model.uncertainties]
    assert len(experiments) == 4
    for n in names:
        col = experiments[n].to_numpy(dtype=float)
        assert ((col >= reg[n].low) & (col <= reg[n].high)).all(), n
    assert (experiments["recession_length"] == experiments["recession_length"].round()).all()
    assert set(outcomes) == set(outcome_names())
    spec = roadmap.model_copy(update={"scale": SCALE})
    for i, row in experiments.iterrows():
        want = _direct(spec, {n: row[n] for n in names}, seed=7)
        got = {k: float(v[i]) for k, v in outcomes.items()}
        assert got == pytest.approx(want, abs=0, rel=1e-12), f"experiment {i}"
    # the experiments differ (else the comparison above proves little)
    assert len({tuple(np.round(experiments[names].to_numpy(dtype=float)[i], 9)) for i in range(4)}) == 4


def test_the_same_experiments_give_the_same_outcomes(model, performed):
    from ema_workbench import SequentialEvaluator, perform_experiments

    experiments, outcomes = performed
    with SequentialEvaluator(model) as evaluator:
        again_x, again_y = perform_experiments(model, scenarios=4, evaluator=evaluator,
                                               uncertainty_sampling_kwargs={"rng": 42})
    names = [u.name for u in model.uncertainties]
    assert np.array_equal(again_x[names].to_numpy(dtype=float), experiments[names].to_numpy(dtype=float))
    for k in outcomes:
        assert np.array_equal(again_y[k], outcomes[k]), k


def test_the_model_function_survives_pickling(model, performed):
    """EMA's MultiprocessingEvaluator pickles the model: the copy must give the same outcomes."""
    import pickle

    experiments, outcomes = performed
    names = [u.name for u in model.uncertainties]
    copy = pickle.loads(pickle.dumps(model))
    got = copy.function(**{n: experiments[n].iloc[0] for n in names})
    assert got == {k: float(v[0]) for k, v in outcomes.items()}


def test_bad_arguments_are_one_line_errors():
    for kwargs, needle in [
        ({"parameters": ["backlash_rate", "no_such_param"]}, "no_such_param"),
        ({"parameters": {"backlash_rate": (0.1, 0.5)}}, "within the registry's [0.2, 0.8]"),
        ({"outcomes": ["p_met_nope"]}, "p_met_nope"),
        ({"replications": 0}, "replications"),
    ]:
        with pytest.raises(InteropError) as e:
            ema_model(ROADMAP, scale=SCALE, **kwargs)
        assert needle in str(e.value) and "\n" not in str(e.value)


def test_missing_ema_workbench_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "ema_workbench", None)  # import fails as if not installed
    with pytest.raises(ImportError) as e:
        ema_model(ROADMAP)
    assert "equitysim[ema]" in str(e.value) and "\n" not in str(e.value)


# ---------------------------------------------------------------------------------------- SALib

def _salib(capsys, *names):
    from SALib import ProblemSpec

    argv = ["params", "--salib"] + (["--names", ",".join(names)] if names else [])
    assert main(argv) == 0
    out = capsys.readouterr().out
    return ProblemSpec(json.loads(out))  # one JSON object, nothing else on stdout


def test_params_salib_round_trips_into_a_problem_spec_that_samples(capsys):
    reg = P.registry()
    names = ["backlash_rate", "recession_length", "governor_flip_prob", "spending_achievement_effect"]
    sp = _salib(capsys, *names)
    assert sp["names"] == names and sp["num_vars"] == 4
    assert [b[:2] for b in sp["bounds"]] == [[reg[n].low, reg[n].high] for n in names]
    assert sp["dists"] == ["unif", "unif", "triang", "triang"]
    assert sp["bounds"][2][2] == pytest.approx((reg["governor_flip_prob"].default - 0.08) / (0.35 - 0.08))
    X = sp.sample_sobol(8, calc_second_order=False, seed=1).samples
    assert X.shape == (8 * (4 + 2), 4)
    for j, n in enumerate(names):
        assert (X[:, j] >= reg[n].low).all() and (X[:, j] <= reg[n].high).all(), n
        assert X[:, j].std() > 0, n


def test_params_salib_default_is_the_default_design_and_equals_the_python_side(capsys):
    sp = _salib(capsys)
    py = salib_problem_spec()
    reg = P.registry()
    assert sp["names"] == py["names"] == [u for u in reg if u not in WORLD_PARAMS and reg[u].group != "structural"]
    assert sp["bounds"] == py["bounds"] and sp["dists"] == py["dists"]
    X = sp.sample_sobol(8, calc_second_order=False, seed=2).samples
    lows = np.array([reg[n].low for n in sp["names"]])
    highs = np.array([reg[n].high for n in sp["names"]])
    assert ((X >= lows) & (X <= highs)).all()


@pytest.mark.parametrize("argv, needle", [
    (["params", "--salib", "--names", "backlash_rate,bogus_param"], "bogus_param"),
    (["params", "--salib", "--names", ","], "--names"),
    (["params", "--names", "backlash_rate"], "--salib"),
])
def test_params_salib_bad_names_is_one_line_and_exit_2(capsys, argv, needle):
    rc = main(argv)
    cap = capsys.readouterr()
    err = cap.err.strip()
    assert rc == 2 and cap.out == ""
    assert "\n" not in err and needle in err and "--names" in err and "Traceback" not in err


def test_salib_problem_spec_unknown_name():
    with pytest.raises(InteropError, match="unknown: nope"):
        salib_problem_spec(["backlash_rate", "nope"])
