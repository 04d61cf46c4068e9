"""The interactive page: Mesa's SolaraViz around one simulated future.

    equitysim app                      # or: solara run equitysim/app.py

Two pages: this one (one future, "/") and the strategist's page ("/strategist", many futures of a
plan composed on the page; `equitysim.strategist_page`).

Pick a scenario, move the strategy and risk sliders, press Reset, then Step or Play through the
quarters: the indicator panel, the state map and the metric plots follow the model. The page
draws 51 state tiles and a few lines, never the 99,000 schools, so it stays responsive at full
US scale (a quarter takes about 0.05 s to simulate there).

Sliders are *changes from the chosen scenario* (strategy knobs as additions, budget, buy-in and
risks as multipliers), so the scenario's own sequencing and settings stay in force until moved.

Each slider shows its value and its unit (`UnitSlider`, drawn by `value_user_inputs` in place of
Mesa's UserInputs, whose sliders show no number). Mesa 3.5 labels its only tab "Page 0"
(hard-coded in ComponentsView); the page hides that tab bar (`HIDE_MESA_TABS`).

The future's parameters come from the shipped posterior of the calibration to history (one draw,
chosen by the seed as `equitysim run --seed S` draws replication 0's; the panel names the row),
or from the registry defaults ("Parameters" select); risk sliders multiply the drawn values.

Mesa 3.5.1's InputText hands the seed to the model as text, and `Model(rng="42")` then fails
on Reset (mesa issue 3516); here the seed is a model parameter of its own, parsed by
`parse_seed`, so any text works.
"""

from __future__ import annotations

import os
import threading
import zlib

import numpy as np

# Absolute imports: `solara run equitysim/app.py` executes this file as a script, not as part
# of the package.
from equitysim import indicators as _ind
from equitysim import plots as P
from equitysim.narrative import change_label, policy_label, states_phrase
from equitysim.model import START_YEAR, EquityModel, world_for
from equitysim.scenario import ScenarioSpec, load_scenario
from equitysim.strategist import scenario_dir, scenario_files  # noqa: F401  (one list of scenario files)

APP_POLICIES = ("weighted_funding", "integration_incentives", "discipline_mandate")
SHORT_LABELS = {"weighted_funding": "Funding", "integration_incentives": "Integration",
                "discipline_mandate": "Discipline"}
APP_METRICS = ("dissimilarity_within_district", "adequacy_gap", "suspension_gap_pp", "achievement_gap")
# Risk sliders multiply these registry parameters; probabilities are capped below 1.
RISK_PARAMS = {
    "backlash_risk": ("backlash_rate",),
    "leadership_risk": ("federal_flip_prob", "governor_flip_prob"),
    "recession_risk": ("recession_prob",),
    "failure_risk": ("implementation_failure_rate",),
    "court_risk": ("court_challenge_rate",),
}
PROBABILITIES = {"federal_flip_prob", "governor_flip_prob", "recession_prob"}
SCALES = ("1.0", "0.25", "0.1", "0.05")


def default_scale() -> str:
    return str(float(os.environ.get("EQUITYSIM_APP_SCALE", "1.0")))


def parse_seed(text) -> tuple[int, str | None]:
    """A seed from what was typed: a whole number >= 0 is used as is; anything else is hashed
    (CRC-32) to one, with a note saying so. Never raises."""
    s = str(text).strip()
    try:
        v = int(s)
        if v >= 0:
            return v, None
    except ValueError:
        pass
    v = zlib.crc32(s.encode())
    return v, f"seed {s!r} is not a whole number >= 0; used {v}"


def _clip(x, lo, hi):
    return float(min(max(x, lo), hi))


def app_spec(scenario: str = "roadmap", coalition_investment: float = 0.0, coalition_breadth: float = 0.0,
             pacing: float = 0.0, technical_assistance: float = 0.0, budget: float = 1.0, buy_in: float = 1.0,
             backlash_risk: float = 1.0, leadership_risk: float = 1.0, recession_risk: float = 1.0,
             failure_risk: float = 1.0, court_risk: float = 1.0, scale: float | str = 1.0,
             draw: dict | None = None) -> ScenarioSpec:
    """The chosen scenario with the sliders applied (strategy knobs added, budget, buy-in and
    risk levels multiplied), clipped to the schema's bounds. `draw`: a posterior parameter set
    set under the scenario's own [parameters] (which keep their values) before the multipliers."""
    base = load_scenario(scenario_files()[scenario])
    if draw:
        base = base.with_parameters(**{k: v for k, v in draw.items() if k not in base.parameters})
    st = base.strategy
    strategy = st.model_copy(update={
        "coalition_investment": _clip(st.coalition_investment + coalition_investment, 0, 1),
        "pacing": _clip(st.pacing + pacing, 0, 1),
        "technical_assistance": _clip(st.technical_assistance + technical_assistance, 0, 1),
        "budget_multiplier": _clip(st.budget_multiplier * budget, 0, 5),
        "buy_in_multiplier": _clip(st.buy_in_multiplier * buy_in, 0, 2),
    })
    values = base.param_values()
    params = dict(base.parameters)
    mult = {"backlash_risk": backlash_risk, "leadership_risk": leadership_risk, "recession_risk": recession_risk,
            "failure_risk": failure_risk, "court_risk": court_risk}
    for knob, m in mult.items():
        if m != 1.0:
            for name in RISK_PARAMS[knob]:
                v = values[name] * m
                params[name] = _clip(v, 0, 0.95) if name in PROBABILITIES else max(v, 0.0)
    if coalition_breadth:
        params["coalition_baseline_breadth"] = _clip(values["coalition_baseline_breadth"] + coalition_breadth, 0, 1)
    return base.model_copy(update={"strategy": strategy, "parameters": params, "scale": float(scale)})


class AppModel(EquityModel):
    """EquityModel built from the page's controls (keyword arguments only, as SolaraViz
    re-creates the model with them on Reset). No argument is called `scenario`: SolaraViz would
    then pass the old model's Mesa Scenario object into it on Reset."""

    def __init__(self, scenario_name: str = "roadmap", coalition_investment: float = 0.0, coalition_breadth: float = 0.0,
                 pacing: float = 0.0, technical_assistance: float = 0.0, budget: float = 1.0, buy_in: float = 1.0,
                 backlash_risk: float = 1.0, leadership_risk: float = 1.0, recession_risk: float = 1.0,
                 failure_risk: float = 1.0, court_risk: float = 1.0, scale: str = "1.0", seed: str = "42",
                 parameters: str = "posterior"):
        from equitysim.posterior import load as load_parameters

        seed_value, self.seed_note = parse_seed(seed)
        source = load_parameters(parameters)
        self.parameter_source = source.label
        self.parameter_row = source.index(seed_value, 0)   # None at the defaults
        self.parameter_rows = 0 if source.table is None else len(source.table)
        spec = app_spec(scenario_name, coalition_investment, coalition_breadth, pacing, technical_assistance, budget,
                        buy_in, backlash_risk, leadership_risk, recession_risk, failure_risk, court_risk, scale,
                        draw=source.draw(seed_value, 0))
        super().__init__(spec, rng=seed_value, world=world_for(spec))
        self.app_seed = seed_value
        self.scenario_name = scenario_name
        # The page reads the arrays while Play steps the model in another thread.
        self.lock = threading.RLock()
        self._now = (-1, None)

    def step(self):
        with self.lock:
            super().step()

    def now(self) -> dict:
        """Every metric at the current quarter (cached per quarter)."""
        with self.lock:
            if self._now[0] != self.quarter:
                self._now = (self.quarter, self.measure())
            return self._now[1]


# ---------------------------------------------------------------------------- what the panels show
def when(model: EquityModel) -> str:
    q = model.quarter
    if q == 0:
        return f"Start of year 1 ({START_YEAR})"
    year, qq = divmod(q - 1, 4)
    return f"Year {year + 1}, quarter {qq + 1} ({START_YEAR + year})"


def _value_text(ind: _ind.Indicator, now: dict, base: dict) -> str:
    v = _ind.value(ind, now, base)
    if ind.rule == "yes":
        return "yes" if v >= 1 else "no"
    if ind.rule == "reduced_by":
        ref = 1.0 if ind.measure == "opportunity_gap_index" else base[ind.measure]
        return change_label(v / ref - 1) if ref else "n/a"
    if ind.measure == "integration_share_diverse":
        return f"{v:.0%} of diverse districts"
    return f"{v:g}"


def indicator_view(model: EquityModel) -> dict:
    """The indicator panel as data: where the run is, and each indicator's status now.

    status: 'met' / 'missed' once the horizon is past (judged on the snapshot, as the ensemble
    does); before it, 'reached' if the current value already meets the target, else 'not yet'."""
    scale = model.world.scale
    now = model.now() if hasattr(model, "now") else model.measure()
    rows = []
    for ind in _ind.indicators():
        snap = model.snapshots.get(ind.horizon_year)
        if snap is not None:
            status = "met" if _ind.is_met(ind, snap, model.baseline, scale) else "missed"
            shown = snap
        else:
            status = "reached" if _ind.is_met(ind, now, model.baseline, scale) else "not yet"
            shown = now
        target = ind.target
        if ind.scales_with_world and scale != 1.0:
            target = f"{ind.threshold_at(scale):g} {ind.target.split(' ', 1)[1]}"
        rows.append({"id": ind.id, "label": ind.label, "target": target, "year": ind.horizon_year,
                     "value": _value_text(ind, shown, model.baseline), "status": status})
    st = model.spec.strategy
    knobs = (f"coalition investment {st.coalition_investment:.2f}, pacing {st.pacing:.2f}, technical assistance "
             f"{st.technical_assistance:.2f}, budget x{st.budget_multiplier:.2f}, buy-in x{st.buy_in_multiplier:.2f}")
    changed = {k: v for k, v in model.spec.parameters.items()}
    row = getattr(model, "parameter_row", None)
    drawn = (f"parameters: draw {row + 1} of the {model.parameter_rows} in the calibrated posterior"
             if row is not None else "parameters: the registry defaults")
    return {"parameter_source": drawn, "when": when(model), "quarter": model.quarter, "scenario": getattr(model, "scenario_name", model.spec.name),
            "rows": rows, "met": sum(r["status"] == "met" for r in rows),
            "decided": sum(r["status"] in ("met", "missed") for r in rows), "knobs": knobs,
            "parameters": changed, "seed": getattr(model, "app_seed", None),
            "seed_note": getattr(model, "seed_note", None), "scale": scale,
            "risks": {k.replace("_", " "): int(v) for k, v in model.counts.items()},
            "districts": district_view(model)}


DISTRICT_LABELS = {"programs_scaled": "programs scaled", "programs_refined": "refined", "programs_replaced": "replaced",
                   "programs_abandoned": "abandoned", "moved_to_lens": "districts moved to a lens",
                   "mean_fidelity": "mean fidelity", "mean_burnout": "mean burnout"}


def district_view(model) -> dict[str, str]:
    """What districts did in the practitioner's cycle so far (label -> value text)."""
    summary = model.district_summary() if hasattr(model, "district_summary") else {}
    out = {}
    for k, label in DISTRICT_LABELS.items():
        v = summary.get(k, float("nan"))
        out[label] = "n/a" if v != v else (f"{v:.2f}" if k.startswith("mean_") else f"{int(v)}")
    return out


STATUS_STYLE = {"met": ("#0072B2", "white"), "reached": ("#56B4E9", "black"), "missed": ("#D55E00", "white"),
                "not yet": ("#EEEEEE", "black")}


def indicator_html(view: dict) -> str:
    import html

    e = html.escape
    rows = "".join(
        f"<tr data-indicator='{e(r['id'])}'><td>{e(r['label'])}</td><td>{e(r['target'])}</td><td>{r['year']}</td>"
        f"<td class='value'>{e(r['value'])}</td><td style='white-space:nowrap'><span style='background:{STATUS_STYLE[r['status']][0]};"
        f"color:{STATUS_STYLE[r['status']][1]};padding:1px 7px;border-radius:9px'>{e(r['status'])}</span></td></tr>"
        for r in view["rows"])
    note = f"<p style='color:#D55E00'>{e(view['seed_note'])}</p>" if view["seed_note"] else ""
    risks = ", ".join(f"{k} {v}" for k, v in view["risks"].items() if v)
    return (f"<div style='font-size:14px;line-height:1.3'><h3 class='when' style='margin:0 0 4px 0'>{e(view['when'])}: "
            f"{view['met']} of {len(view['rows'])} indicators met so far ({view['decided']} decided)</h3>"
            f"<p style='margin:2px 0;color:#333'>One simulated future of <b>{e(view['scenario'])}</b>, seed "
            f"<span class='seed'>{view['seed']}</span>, world scale {view['scale']:g}. "
            f"<span class='knobs'>{e(view['knobs'])}</span>; <span class='parameter-source'>"
            f"{e(view.get('parameter_source', ''))}</span>.</p>{note}"
            f"<p style='margin:2px 0;color:#333'>Risk events so far: {e(risks) or 'none'}.</p>"
            f"{district_html(view.get('districts', {}))}"
            "<table style='border-collapse:collapse;width:100%' class='indicator-table'>"
            "<thead><tr style='text-align:left;border-bottom:1px solid #ccc'><th>indicator</th><th>target</th>"
            f"<th>by year</th><th>value</th><th>status</th></tr></thead><tbody>{rows}</tbody></table>"
            "<p style='color:#555;font-size:13px'>Probabilities need many futures: "
            "<code>equitysim report</code> runs them.</p></div>")


def district_html(districts: dict[str, str]) -> str:
    """The small panel of what districts did (the practitioner's cycle)."""
    import html

    if not districts:
        return ""
    cells = "".join(f"<span style='display:inline-block;padding:0 6px'><b>{html.escape(v)}</b> {html.escape(k)}</span>"
                    for k, v in districts.items())
    return ("<div class='district-cycle' style='font-size:12px;margin:4px 0;padding:2px;border:1px solid #ddd'>"
            f"<b>What districts did so far</b> (diagnose, design, implement, reflect): {cells}</div>")


def state_status(model: EquityModel, policies=APP_POLICIES) -> dict[str, np.ndarray]:
    """Per policy, each state's status now: 0 never enacted, 1 enacted then repealed, 2 in force."""
    with getattr(model, "lock", threading.RLock()):
        states = model.state_arrays
        return {p: (states.policy_ever[:, model.policy_index[p]].astype(np.int8) + states.policy_on[:, model.policy_index[p]])
                for p in policies}


def map_figure(model: EquityModel, policy: str = APP_POLICIES[0], status: np.ndarray | None = None):
    """The tile-grid map of one policy in this future: in force, enacted then repealed, never."""
    st = state_status(model, (policy,))[policy] if status is None else status
    return P.status_map({policy: st}, list(model.world.states.index),
                        title=f"{policy_label(policy)} in force in {states_phrase(int((st == 2).sum()))}")


def metrics_figure(model: EquityModel, metrics=APP_METRICS):
    """The metrics at each year end so far, each panel in its own unit."""
    with getattr(model, "lock", threading.RLock()):
        hist = [dict(model.baseline, year=0)] + list(model.history)
    return P.history_chart(hist, model.spec.years, metrics)


# ---------------------------------------------------------------------------- the page
def _slider_class():
    from mesa.visualization import Slider

    class UnitSlider(Slider):
        """A Mesa Slider that knows its unit: drawn with its value and unit (`value_user_inputs`)."""

        def __init__(self, label, value, min, max, step, unit: str, kind: str = "add"):
            super().__init__(label, value, min, max, step)
            self.unit, self.kind = unit, kind

        def value_text(self, v: float) -> str:
            return f"x{v:.2f}" if self.kind == "times" else f"{v:+.2f}"

    return UnitSlider


def model_params() -> dict:
    UnitSlider = _slider_class()
    names = list(scenario_files())
    scales = list(SCALES) if default_scale() in SCALES else [default_scale(), *SCALES]
    added = "added to the scenario's"
    return {
        "scenario_name": {"type": "Select", "value": "roadmap" if "roadmap" in names else names[0], "values": names,
                     "label": "Scenario"},
        "coalition_investment": UnitSlider("Coalition investment", 0.0, -0.5, 0.5, 0.05,
                                           f"share of the maximum organizing effort, {added}"),
        "coalition_breadth": UnitSlider("Broader coalition", 0.0, -0.15, 0.3, 0.05,
                                        "coalition breadth at the start (0-1), added to the registry's 0.25"),
        "pacing": UnitSlider("Pacing", 0.0, -0.5, 0.5, 0.05, f"0 slowest to 1 full pace, {added}"),
        "technical_assistance": UnitSlider("Technical assistance", 0.0, -0.5, 0.5, 0.05,
                                           f"share of the maximum, {added}"),
        "budget": UnitSlider("Budget", 1.0, 0.25, 2.0, 0.25, "times the scenario's budget", "times"),
        "buy_in": UnitSlider("Local buy-in", 1.0, 0.5, 1.5, 0.1, "times the scenario's local buy-in", "times"),
        "backlash_risk": UnitSlider("Backlash risk", 1.0, 0.0, 2.0, 0.25,
                                    "times the backlash rate (per state per year at full visibility)", "times"),
        "leadership_risk": UnitSlider("Leadership-change risk", 1.0, 0.0, 2.0, 0.25,
                                      "times the chance of a hostile administration or governor per election", "times"),
        "recession_risk": UnitSlider("Recession risk", 1.0, 0.0, 2.0, 0.25,
                                     "times the recession hazard (0.18 a year)", "times"),
        "failure_risk": UnitSlider("Implementation-failure risk", 1.0, 0.0, 2.0, 0.25,
                                   "times the failure hazard (per program per year)", "times"),
        "court_risk": UnitSlider("Court-challenge risk", 1.0, 0.0, 2.0, 0.25,
                                 "times the challenge rate (per race-conscious program per year)", "times"),
        "scale": {"type": "Select", "value": default_scale(), "values": scales, "label": "World scale (1 = the US)"},
        "seed": {"type": "InputText", "value": "42", "label": "Seed"},
        "parameters": {"type": "Select", "value": "posterior", "values": ["posterior", "defaults"],
                       "label": "Parameters (calibrated posterior draw, or registry defaults)"},
    }


def value_user_inputs():
    """Mesa's UserInputs, except that a UnitSlider shows its current value in its label and its
    unit under it (Mesa's sliders show neither)."""
    import solara
    from mesa.visualization import solara_viz

    original = getattr(solara_viz, "_mesa_user_inputs", solara_viz.UserInputs)
    solara_viz._mesa_user_inputs = original

    @solara.component
    def ValueSlider(name, options, on_change):
        value, set_value = solara.use_state(options.value)

        def changed(v):
            set_value(v)
            if on_change:
                on_change(name, v)

        with solara.Column(gap="0px", classes=["equitysim-slider"]):
            solara.SliderFloat(f"{options.label} {options.value_text(value)}", value=value, on_value=changed,
                               min=options.min, max=options.max, step=options.step)
            solara.Text(options.unit, style={"font-size": "12px", "color": "#555", "margin-top": "-14px"})

    @solara.component
    def UserInputs(user_params, on_change=None):
        for name, options in user_params.items():
            if hasattr(options, "value_text"):
                ValueSlider(name, options, on_change)
            else:
                original({name: options}, on_change=on_change)

    return UserInputs


def _components():
    import solara
    from mesa.visualization.utils import update_counter

    # Each panel subscribes to Mesa's update counter, so it redraws after every Step/Play.
    @solara.component
    def IndicatorPanel(model):
        update_counter.get()
        solara.HTML(tag="div", unsafe_innerHTML=indicator_html(indicator_view(model)),
                    classes=["equitysim-indicators"])

    # The map and the metric plots are redrawn only when what they show changes (a policy
    # enacted or repealed; a year ended): matplotlib takes a few tenths of a second per figure.
    @solara.component
    def StateMapPanel(model):
        update_counter.get()
        labels = {SHORT_LABELS[p]: p for p in APP_POLICIES}
        choice, set_choice = solara.use_state(next(iter(labels)))
        policy = labels[choice]
        status = state_status(model, (policy,))[policy]
        key = [id(model), policy, status.tobytes()]
        fig = solara.use_memo(lambda: map_figure(model, policy, status), key)
        with solara.Column(classes=["equitysim-map"]):
            solara.ToggleButtonsSingle(value=choice, values=list(labels), on_value=set_choice)
            solara.Text(when(model))
            solara.FigureMatplotlib(fig, format="png", dpi=96, dependencies=key)

    @solara.component
    def MetricsPanel(model):
        update_counter.get()
        key = [id(model), len(model.history)]
        fig = solara.use_memo(lambda: metrics_figure(model), key)
        with solara.Column(classes=["equitysim-metrics"]):
            solara.FigureMatplotlib(fig, format="png", dpi=72, dependencies=key)

    return [(IndicatorPanel, 0), (StateMapPanel, 0), (MetricsPanel, 0)]


def _grid_layout(n: int) -> list[dict]:
    """Indicator panel and state map side by side, the metric plots full width below."""
    cells = [(0, 0, 6, 15), (6, 0, 6, 15), (0, 15, 12, 9)]
    extra = [(6 * (i % 2), 24 + 10 * (i // 2), 6, 10) for i in range(max(n - 3, 0))]
    return [{"i": i, "x": x, "y": y, "w": w, "h": h, "moved": False}
            for i, (x, y, w, h) in enumerate((cells + extra)[:n])]


def make_page():
    """The page as a Solara component: one model per browser session."""
    import solara
    from mesa.visualization import SolaraViz, solara_viz

    # Mesa 3.5 lays every component out half-width and ten rows high, too small for a table of
    # every indicator; give the panels room (users can still drag and resize them).
    if hasattr(solara_viz, "make_initial_grid_layout"):
        solara_viz.make_initial_grid_layout = _grid_layout
    params = model_params()
    components = _components()

    solara_viz.UserInputs = value_user_inputs()

    @solara.component
    def Page():
        # Built per session: a model made at import time would be shared by every visitor.
        model = solara.use_memo(lambda: AppModel(scale=params["scale"]["value"],
                                                 scenario_name=params["scenario_name"]["value"]), [])
        from equitysim.strategist_page import PageTabs

        with solara.Div(classes=["equitysim-one-future"]) as main:
            PageTabs()
            solara.Style(HIDE_MESA_TABS)
            SolaraViz(model, components=components, model_params=params,
                      name="equitysim: what if the coalition is broader?", play_interval=150)
        return main

    return Page


# Mesa 3.5's ComponentsView labels its one tab "Page 0" (hard-coded); the page has one tab, so the
# tab bar says nothing and is hidden (the app's own page links are in the app bar, outside it).
HIDE_MESA_TABS = ".equitysim-one-future .v-tabs { display: none !important; }"


def make_routes():
    """The app's two pages: one future at "/", the strategist's page at "/strategist"."""
    import solara

    from equitysim.strategist_page import StrategistPage

    return [solara.Route(path="/", component=__getattr__("Page"), label="One future"),
            solara.Route(path="strategist", component=StrategistPage, label="Strategist: many futures")]


_PAGE = []
_ROUTES = []


def __getattr__(name):
    # `solara run` looks up `routes` (and `Page`/`page`); build them only then (once), so that
    # importing this module for its functions (tests, notebooks) builds no model.
    if name in ("page", "Page"):
        if not _PAGE:
            _PAGE.append(make_page())
        return _PAGE[0]
    if name == "routes":
        if not _ROUTES:
            _ROUTES.append(make_routes())
        return _ROUTES[0]
    raise AttributeError(name)
