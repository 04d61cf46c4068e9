"""The interactive page's model and panels, without a browser (test_browser.py drives the page)."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("solara", reason="the interactive page needs the 'app' extra")

from equitysim import app as A  # noqa: E402
from equitysim import indicators as _ind  # noqa: E402
from equitysim import load_scenario  # noqa: E402
from equitysim import params as _params  # noqa: E402

from .conftest import SCENARIOS  # noqa: E402


@pytest.fixture(autouse=True)
def scenarios_dir(monkeypatch):
    monkeypatch.setenv("EQUITYSIM_SCENARIOS", str(SCENARIOS))
    A.scenario_files.cache_clear()


@pytest.mark.parametrize("text, value, noted", [("42", 42, False), (" 7 ", 7, False), ("abc", None, True),
                                                ("-3", None, True), ("", None, True), (12, 12, False)])
def test_parse_seed_never_fails(text, value, noted):
    v, note = A.parse_seed(text)
    assert isinstance(v, int) and v >= 0
    assert (note is not None) == noted
    if value is not None:
        assert v == value
    else:
        assert v == A.parse_seed(text)[0]  # the same text gives the same seed


def test_sliders_change_the_scenario_as_labelled():
    base = load_scenario(SCENARIOS / "roadmap.toml")
    reg = _params.registry()
    same = A.app_spec("roadmap", scale=0.05)
    assert same.strategy == base.strategy and same.parameters == base.parameters and same.scale == 0.05
    s = A.app_spec("roadmap", coalition_investment=0.5, pacing=-0.2, budget=2.0, backlash_risk=2.0,
                   leadership_risk=3.0, coalition_breadth=0.1, scale="0.1")
    assert s.strategy.coalition_investment == 1.0  # 0.7 + 0.5, clipped to the schema's maximum
    assert s.strategy.pacing == pytest.approx(base.strategy.pacing - 0.2)
    assert s.strategy.budget_multiplier == pytest.approx(2 * base.strategy.budget_multiplier)
    assert s.parameters["backlash_rate"] == pytest.approx(2 * reg["backlash_rate"].default)
    assert s.parameters["federal_flip_prob"] == 0.95  # a probability stays below 1
    assert s.parameters["coalition_baseline_breadth"] == pytest.approx(reg["coalition_baseline_breadth"].default + 0.1)
    assert s.scale == 0.1


def test_reset_with_typed_seed_as_mesa_does_it():
    """SolaraViz's Reset rebuilds the model from the page's parameters; the seed arrives as text
    (Mesa 3.5.1's InputText), which must not crash."""
    from mesa.visualization.solara_viz import _build_model_init_kwargs

    params = {k: (v["value"] if isinstance(v, dict) else v.value) for k, v in A.model_params().items()}
    params.update(scale="0.05", seed="2031", coalition_breadth=0.2)
    model = A.AppModel(scale="0.05")
    kwargs = _build_model_init_kwargs(model, params, add_scenario_when_empty=True, require_model_accepts_scenario=True)
    again = type(model)(**kwargs)
    assert again.app_seed == 2031 and again.seed_note is None
    params["seed"] = "not a number"
    odd = type(model)(**_build_model_init_kwargs(model, params, add_scenario_when_empty=True,
                                                 require_model_accepts_scenario=True))
    assert "not a number" in odd.seed_note


def test_the_page_draws_its_future_from_the_posterior():
    """One future's parameters: the shipped posterior's row for the seed (as `run --seed S` draws for
    replication 0), the scenario's own [parameters] kept, risk sliders multiplying the drawn value;
    "defaults" is the registry's values. The panel says which."""
    from equitysim import params as P
    from equitysim.posterior import shipped

    src = shipped()
    m = A.AppModel(scale="0.05", seed="7")
    j = src.index(7, 0)
    assert m.parameter_row == j
    scenario_own = set(A.load_scenario(A.scenario_files()["roadmap"]).parameters)
    drawn = {k: v for k, v in src.draw(7, 0).items() if k not in scenario_own}
    assert {k: m.p[k] for k in drawn} == pytest.approx(drawn)
    assert f"draw {j + 1} of the {len(src.table)}" in A.indicator_html(A.indicator_view(m))
    doubled = A.AppModel(scale="0.05", seed="7", backlash_risk=2.0)
    assert doubled.p["backlash_rate"] == pytest.approx(2 * drawn["backlash_rate"])
    d = A.AppModel(scale="0.05", seed="7", parameters="defaults")
    reg = P.registry()
    assert d.parameter_row is None and d.p["backlash_rate"] == reg["backlash_rate"].default
    assert m.p["backlash_rate"] != d.p["backlash_rate"]
    assert "registry defaults" in A.indicator_html(A.indicator_view(d))


def test_same_seed_same_future():
    a, b = A.AppModel(scale="0.05", seed="3"), A.AppModel(scale="0.05", seed="3")
    for _ in range(8):
        a.step()
        b.step()
    assert A.indicator_view(a)["rows"] == A.indicator_view(b)["rows"]


def test_indicator_panel_judges_like_the_ensemble():
    m = A.AppModel(scale="0.05", seed="11")
    early = A.indicator_view(m)
    assert early["when"].startswith("Start of year 1") and early["decided"] == 0
    assert {r["status"] for r in early["rows"]} <= {"reached", "not yet"}
    while m.running:
        m.step()
    view = A.indicator_view(m)
    truth = _ind.evaluate(m.snapshots, m.baseline, m.world.scale)
    assert {r["id"]: r["status"] == "met" for r in view["rows"]} == truth
    assert view["decided"] == 12 and view["met"] == sum(truth.values())
    html = A.indicator_html(view)
    assert html.count("<tr data-indicator=") == 12 and f"{view['met']} of 12 indicators met" in html


def test_map_and_metric_figures_show_the_model():
    m = A.AppModel(scale="0.05", seed="5")
    for _ in range(12):
        m.step()
    st = A.state_status(m)["weighted_funding"]
    j = m.policy_index["weighted_funding"]
    assert np.array_equal(st == 2, m.state_arrays.policy_on[:, j]) and np.array_equal(st >= 1, m.state_arrays.policy_ever[:, j])
    fig = A.map_figure(m, "weighted_funding")
    k = int(m.state_arrays.policy_on[:, j].sum())
    assert f"in force in {k} state" in fig._suptitle.get_text().replace("\n", " ")
    metrics = A.metrics_figure(m)
    ys = metrics.axes[0].lines[0].get_ydata()
    assert len(ys) == 1 + len(m.history) == 4
    assert ys[-1] == pytest.approx(m.history[-1][A.APP_METRICS[0]])


def test_app_file_runs_as_a_script_as_solara_run_does():
    """`solara run equitysim/app.py` executes the file outside the package and looks up Page."""
    from solara.autorouting import source_to_module

    mod = source_to_module(Path(A.__file__), initial_namespace={"__name__": "__main__"})
    page = getattr(mod, "Page")
    assert callable(page) and getattr(mod, "page") is page
