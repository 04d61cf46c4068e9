"""The strategist's page (Solara; the second page of `equitysim app`, at /strategist).

Pick a base scenario from the scenarios directory; every action group of its sequence is a bar on
the horizon's timeline (click a group's name to edit its start and end years, intensity and
`where`, or to add or drop it); set the strategy knobs; press Run. N futures of the plan (default
100, at full US scale) run in the background through the CLI's ensemble code, paired with the
base scenario's futures (the same seed: common random numbers), and the page answers with the
indicator chart, the paired difference per indicator, the risk counts, the plan's cost by level
and a few sentences. "Save as scenario" downloads the plan as a scenario file that
`equitysim run` reproduces.

The base scenario's futures are run, once per server and setting, as soon as the base, the
number of futures, the seed and the scale have stood still for a moment (EQUITYSIM_STRATEGIST_PRERUN_DELAY
seconds, default 2; "off" never); a Run then only needs the plan's futures. The logic, without
widgets, is `equitysim.strategist`.

Environment: EQUITYSIM_STRATEGIST_FUTURES (default 100) and EQUITYSIM_STRATEGIST_SCALE (default
1.0) set the page's starting values; EQUITYSIM_APP_MAX_FUTURES (default 1000) caps a Run.
"""

from __future__ import annotations

import html
import os
import time

import solara
import solara.lab

from . import strategist as S
from .actions import default_catalogue
from .scenario import ScenarioError

LEVEL_COLOURS = {"federal": "#0072B2", "state": "#E69F00", "local": "#009E73", "support": "#CC79A7"}
# (label, unit, min, max, step) of the strategy knobs that are numbers
KNOBS = {
    "coalition_investment": ("Coalition investment", "share of the maximum organizing effort", 0.0, 1.0, 0.05),
    "pacing": ("Pacing", "0 slowest, 0.5 the roadmap's pace, 1 full pace", 0.0, 1.0, 0.05),
    "funding_diversification": ("Funding diversification", "share of the maximum (0-1)", 0.0, 1.0, 0.05),
    "technical_assistance": ("Technical assistance", "share of the maximum", 0.0, 1.0, 0.05),
    "budget_multiplier": ("Budget", "x the catalogue's budget", 0.0, 5.0, 0.05),
    "buy_in_multiplier": ("Local buy-in", "x the world's buy-in", 0.0, 2.0, 0.05),
    "leadership_rotation": ("Leadership rotation", "share of equity teams rotating their lead (costs district money)", 0.0, 1.0, 0.05),
    "release_time": ("Stipends and release time", "share of the maximum for equity teams (costs district money)", 0.0, 1.0, 0.05),
}
FLAGS = {"pilot_first": "Pilot first (programs start as pilots)",
         "lock_in": "Lock reforms in law (institutionalize)",
         "reflect_on_outcomes": "Districts reflect on their own outcomes (refine, replace, abandon, scale)"}
LEGAL = ("within_law", "race_conscious")
WHERE_WORDS = {"default": "default (each action's own)", "list": "these states (codes below)"}


def default_futures() -> int:
    try:
        return int(os.environ.get("EQUITYSIM_STRATEGIST_FUTURES", S.DEFAULT_FUTURES))
    except ValueError:
        return S.DEFAULT_FUTURES


def default_scale() -> str:
    return str(float(os.environ.get("EQUITYSIM_STRATEGIST_SCALE", "1.0")))


def prerun_delay() -> float | None:
    v = os.environ.get("EQUITYSIM_STRATEGIST_PRERUN_DELAY", "2")
    if v.strip().lower() in ("off", "no", "none", ""):
        return None
    try:
        return max(0.0, float(v))
    except ValueError:
        return 2.0


def group_level(group: str) -> str:
    acts = default_catalogue().by_group(group)
    levels = {a.level for a in acts}
    for lv in ("federal", "state", "local"):
        if levels == {lv}:
            return lv
    return next((lv for lv in ("federal", "state", "local") if lv in levels), "support")


def first_group(spec) -> str:
    return spec.sequence[0].group if spec.sequence else next(iter(default_catalogue().groups))


# ---------------------------------------------------------------------------- HTML pieces
def timeline_bar_html(entry: dict | None, years: int, changed: bool, selected: bool, level: str) -> str:
    """One group's bar over the horizon (years 0..years), or an empty track when not in the plan."""
    cells = "".join(f"<div style='position:absolute;left:{100 * y / years}%;top:0;bottom:0;"
                    f"border-left:1px solid #ddd'></div>" for y in range(1, years))
    bar = ""
    if entry is not None:
        s = min(entry["start_year"], years)
        e = years if entry.get("end_year") is None else min(entry["end_year"], years)
        width = max(100 * (e - s) / years, 0.8)
        opacity = min(0.35 + 0.65 * min(entry.get("intensity", 1.0), 2) / 2, 1.0)
        outline = "outline:2px solid #D55E00;" if changed else ""
        bar = (f"<div class='bar' data-start='{s:g}' data-end='{e:g}' style='position:absolute;left:{100 * s / years}%;"
               f"width:{width}%;top:3px;bottom:3px;background:{LEVEL_COLOURS[level]};opacity:{opacity:.2f};"
               f"border-radius:3px;{outline}'></div>")
    shade = "background:#FFF4E5;" if selected else ""
    return (f"<div style='position:relative;height:22px;min-width:320px;{shade}border-bottom:1px solid #eee'>"
            f"{cells}{bar}</div>")


def years_axis_html(years: int) -> str:
    ticks = "".join(f"<span style='position:absolute;left:{100 * y / years}%;transform:translateX(-50%)'>"
                    f"{y}</span>" for y in range(0, years + 1))
    return (f"<div style='position:relative;height:16px;min-width:320px;font-size:11px;color:#555'>{ticks}</div>"
            "<div style='font-size:11px;color:#555'>years from the start of the campaign (0 = start of year 1)</div>")


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def paired_html(diffs, base_label: str, plan_label: str) -> str:
    e = html.escape
    rows = []
    for r in diffs.itertuples():
        real = r.ci_low > 0 or r.ci_high < 0
        style = "font-weight:bold" if real else ""
        rows.append(
            f"<tr data-indicator='{e(r.indicator)}' data-p-plan='{r.p_scenario!r}' data-p-base='{r.p_baseline!r}' "
            f"data-diff='{r.diff!r}' style='{style}'><td>{e(r.label)}</td><td>{r.horizon_year}</td>"
            f"<td>{_pct(r.p_scenario)}</td><td>{_pct(r.p_baseline)}</td>"
            f"<td>{100 * r.diff:+.0f}</td><td>{100 * r.ci_low:+.0f} to {100 * r.ci_high:+.0f}</td></tr>")
    return ("<table class='paired-table' style='border-collapse:collapse;width:100%;font-size:13px'>"
            f"<thead><tr style='text-align:left;border-bottom:1px solid #ccc'><th>indicator</th><th>by year</th>"
            f"<th>P(met), {e(plan_label)}</th><th>P(met), {e(base_label)}</th><th>difference (points)</th>"
            f"<th>95% interval (paired)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            "<p style='font-size:12px;color:#555'>Each future of the plan is paired with the base's future of the "
            "same seed and key; the interval is Newcombe's for paired proportions (as <code>equitysim compare</code>). "
            "Bold: the interval excludes zero.</p>")


def risk_html(risks) -> str:
    rows = "".join(f"<tr data-risk='{html.escape(r.risk)}' data-plan='{r.plan!r}' data-base='{r.base!r}'>"
                   f"<td>{html.escape(r.risk)}</td><td>{r.plan:.2f}</td><td>{r.base:.2f}</td></tr>"
                   for r in risks.itertuples())
    return ("<table class='risk-table' style='border-collapse:collapse;font-size:13px'><thead><tr style='text-align:left'>"
            "<th>risk events per future (mean)</th><th>plan</th><th>base</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def cost_html(plan_cost: dict, base_cost: dict) -> str:
    rows = "".join(f"<tr data-level='{lv}'><td>{lv}</td><td>{plan_cost[lv]['mean']:,.1f}</td>"
                   f"<td>{plan_cost[lv]['peak']:,.1f}</td><td>{base_cost[lv]['mean']:,.1f}</td></tr>"
                   for lv in S.LEVELS)
    tp = sum(v["mean"] for v in plan_cost.values())
    tb = sum(v["mean"] for v in base_cost.values())
    return ("<table class='cost-table' style='border-collapse:collapse;font-size:13px'><thead><tr style='text-align:left'>"
            "<th>level</th><th>plan, mean $M/yr</th><th>plan, peak year $M/yr</th><th>base, mean $M/yr</th></tr></thead>"
            f"<tbody>{rows}<tr style='border-top:1px solid #ccc'><td>total</td><td>{tp:,.1f}</td><td></td>"
            f"<td>{tb:,.1f}</td></tr></tbody></table>"
            "<p style='font-size:12px;color:#555'>As planned (catalogue cost x planned target while each group is "
            "on), before any risk; support = organizing, coalition, data and messaging.</p>")


TABLE_STYLE = """
.strategist-result table th, .strategist-result table td { padding: 2px 8px; vertical-align: top; }
.strategist-result table td:not(:first-child) { text-align: right; white-space: nowrap; }
.strategist-result table { margin-bottom: 8px; }
"""


# ---------------------------------------------------------------------------- the page
CAPTION = {"font-size": "12px", "color": "#555", "margin-top": "-14px"}


@solara.component
def PageTabs():
    """The app's two pages as tabs under the app bar (Solara's own tabs would say "Home")."""
    with solara.AppBar():
        with solara.lab.Tabs(align="center"):
            solara.lab.Tab("One future", path_or_route="/")
            solara.lab.Tab("Strategist: many futures", path_or_route="/strategist")


@solara.component
def KnobSlider(label: str, unit: str, value: float, on_value, lo: float, hi: float, step: float):
    """A slider whose label says its value, with its unit under it."""
    text = f"x{value:.2f}" if unit.startswith("x ") else f"{value:.2f}"
    with solara.Column(gap="0px", classes=["equitysim-slider"]):
        solara.SliderFloat(f"{label} {text}", value=value, on_value=on_value, min=lo, max=hi, step=step)
        solara.Text("times " + unit[2:] if unit.startswith("x ") else unit, style=CAPTION)


@solara.component
def StrategyCard(strategy: dict, set_knob):
    with solara.Card("Strategy knobs", classes=["strategist-knobs"]):
        for k, (label, unit, lo, hi, step) in KNOBS.items():
            KnobSlider(label, unit, float(strategy[k]), lambda v, k=k: set_knob(k, round(float(v), 4)), lo, hi, step)
        solara.Select("Legal design", value=strategy["legal_design"], values=list(LEGAL),
                      on_value=lambda v: set_knob("legal_design", v))
        for k, label in FLAGS.items():
            solara.Checkbox(label=label, value=bool(strategy[k]), on_value=lambda v, k=k: set_knob(k, bool(v)))
        lens = strategy.get("equity_as_lens")
        solara.Checkbox(label="Set the share of districts running equity as a lens (otherwise each district's own)",
                        value=lens is not None, on_value=lambda v: set_knob("equity_as_lens", 0.5 if v else None))
        if lens is not None:
            KnobSlider("Equity as a lens", "share of districts", float(lens),
                       lambda v: set_knob("equity_as_lens", round(float(v), 4)), 0.0, 1.0, 0.05)


@solara.component
def EntryEditor(group: str, index: int | None, entry: dict | None, years: int, toggle, update):
    level = group_level(group)
    with solara.Card(f"{group}", subtitle=f"{S.group_label(group)} ({level})", classes=["strategist-editor"]):
        solara.Checkbox(label="In the plan", value=entry is not None, on_value=toggle)
        if entry is None:
            solara.Text("Not in the plan: tick the box to add it (from year 0 to the end).")
            return
        solara.InputFloat("Starts (years from the campaign start; 0 = start of year 1)", value=entry["start_year"],
                          on_value=lambda v: update(start_year=v), classes=["start-year"])
        solara.InputFloat("Ends (years; empty = runs to the end of the horizon)", value=entry.get("end_year"),
                          optional=True, on_value=lambda v: update(end_year=v), classes=["end-year"])
        KnobSlider("Intensity", "x the catalogue's effort for this group", float(entry["intensity"]),
                   lambda v: update(intensity=round(float(v), 4)), 0.0, 5.0, 0.05)
        where = entry["where"]
        choice = "list" if isinstance(where, list) else where
        words = {w: WHERE_WORDS.get(w, w.replace("_", " ")) for w in (*S.where_choices(), "list")}
        back = {v: k for k, v in words.items()}
        solara.Select("Where (which states)", value=words[choice], values=list(words.values()),
                      on_value=lambda v: update(where=(list(where) if isinstance(where, list) else ["CA"])
                                                if back[v] == "list" else back[v]),
                      classes=["where-select"])
        if isinstance(where, list):
            solara.InputText("State codes (comma separated)", value=", ".join(where), classes=["where-states"],
                             on_value=lambda v: update(where=[c.strip().upper() for c in v.split(",") if c.strip()]))


@solara.component
def StrategistPage():
    names = list(S.scenario_files())
    first = "roadmap" if "roadmap" in names else names[0]
    base_name, set_base_name = solara.use_state(first)
    futures, set_futures = solara.use_state(default_futures())
    seed, set_seed = solara.use_state(S.DEFAULT_SEED)
    scale, set_scale = solara.use_state(default_scale())
    scales = list(S.SCALES) if scale in S.SCALES else [scale, *S.SCALES]

    base = solara.use_memo(lambda: S.base_spec(base_name), [base_name])
    draft, set_draft = solara.use_state(S.draft_from(base))
    selected, set_selected = solara.use_state(first_group(base))
    progress = solara.use_reactive({"label": "", "done": 0, "total": 0})
    base_status = solara.use_reactive("")
    clicked_at = solara.use_ref(0.0)

    base_error, set_base_error = solara.use_state("")

    def choose_base(name):
        try:
            spec = S.base_spec(name)  # a name from the list; anything else is refused
        except (S.PageInputError, ScenarioError) as err:
            set_base_error(str(err))
            return
        set_base_error("")
        set_base_name(name)
        set_draft(S.draft_from(spec))
        set_selected(first_group(spec))

    # The plan as the page composes it, validated by the scenario files' schema.
    def composed():
        try:
            return S.compose(base, draft, scale=float(scale)), None
        except ScenarioError as err:
            return None, str(err)
    plan, plan_error = solara.use_memo(composed, [draft, base_name, scale])
    futures_error = None
    try:
        S.GUARD.check_futures(futures)
    except S.PageInputError as err:
        futures_error = str(err)
    scaled_base = solara.use_memo(lambda: base.model_copy(update={"scale": float(scale)}), [base_name, scale])

    def set_knob(k, v):
        set_draft({**draft, "strategy": {**draft["strategy"], k: v}})

    seq = draft["sequence"]
    index = next((i for i, e in enumerate(seq) if e["group"] == selected), None)

    def update(**changes):
        if index is None:
            return
        new = [dict(e) for e in seq]
        new[index].update(changes)
        set_draft({**draft, "sequence": new})

    def toggle(on):
        if on and index is None:
            set_draft({**draft, "sequence": [*seq, {"group": selected, "start_year": 0.0, "end_year": None,
                                                    "intensity": 1.0, "where": "default", "targets": {}}]})
        elif not on and index is not None:
            set_draft({**draft, "sequence": [e for i, e in enumerate(seq) if i != index]})

    # ------------------------------------------------------------------ background work
    def prerun():
        delay = prerun_delay()
        if delay is None or futures_error:
            return None
        end = time.monotonic() + delay
        while time.monotonic() < end:
            time.sleep(0.1)
            if not prerun_task.is_current():
                return None
        if S.cached_base(scaled_base, futures, seed) is not None:
            base_status.set(f"The base's {futures} futures are ready.")
            return None

        def tick(label, done, total):
            base_status.set(f"Running the base's futures in the background: {done} of {total}.")

        got = S.prepare_base(scaled_base, futures, seed, progress=tick)
        if prerun_task.is_current():
            base_status.set(f"The base's {futures} futures are ready." if got is not None else
                            "The server is busy: the base's futures will run with your plan.")
        return None

    prerun_task = solara.lab.use_task(prerun, dependencies=[base_name, futures, seed, scale], raise_error=False)

    def work():
        from . import plots as P

        progress.set({"label": "waiting for the server", "done": 0, "total": futures})

        def tick(label, done, total):
            progress.set({"label": label, "done": done, "total": total})
        try:
            out = S.run_paired(plan, scaled_base, futures, seed, progress=tick)
        except (S.Busy, S.PageInputError) as err:
            return {"error": str(err)}
        base_status.set(f"The base's {futures} futures are ready.")
        diffs = S.paired_differences(out.plan_result, out.base_result)
        labels = S.result_labels(out)
        fig = P.indicator_chart({labels[0]: out.plan_result, labels[1]: out.base_result})
        answer = {"outcome": out, "diffs": diffs, "labels": labels, "figure": fig,
                  "risks": S.risk_table(out.plan_result, out.base_result),
                  "cost": (S.plan_cost_by_level(out.plan), S.plan_cost_by_level(out.base)),
                  "sentences": S.sentences(out, diffs), "json": out.plan_result.to_json(),
                  "expected": (out.plan_result.expected_met(), out.base_result.expected_met())}
        answer["seconds"] = time.perf_counter() - clicked_at.current
        return answer

    run_task = solara.lab.use_task(work, dependencies=None, raise_error=False)

    def press_run():
        clicked_at.current = time.perf_counter()
        run_task()

    busy = run_task.pending
    # ------------------------------------------------------------------ layout
    PageTabs()
    with solara.Column(classes=["strategist"], style={"padding": "8px", "max-width": "1500px"}):
        solara.Markdown("## The strategist's page: many futures of a plan\n"
                        "Pick a base scenario, change its timeline and strategy, press **Run**: the plan's futures "
                        "run beside the base's (the same seeds), and the page says what changes.")
        with solara.Row(style={"flex-wrap": "wrap", "gap": "12px", "align-items": "flex-start"}):
            solara.Select("Base scenario", value=base_name, values=names, on_value=choose_base,
                          classes=["base-select"], style={"min-width": "220px"})
            solara.InputText("Plan name", value=draft["name"], on_value=lambda v: set_draft({**draft, "name": v.strip()}),
                             classes=["plan-name"])
            solara.InputInt(f"Futures (1 to {S.GUARD.max_futures})", value=futures, on_value=set_futures,
                            classes=["futures"])
            solara.InputInt("Seed", value=seed, on_value=lambda v: set_seed(max(0, int(v))), classes=["seed"])
            solara.Select("World scale (1 = the US)", value=scale, values=scales, on_value=set_scale,
                          classes=["scale-select"], style={"min-width": "180px"})
        with solara.Row(style={"flex-wrap": "wrap", "gap": "16px", "align-items": "flex-start"}):
            with solara.Column(style={"flex": "3 1 620px"}):
                with solara.Card("Timeline: every action group of the plan", classes=["strategist-timeline"]):
                    with solara.Row(style={"gap": "4px"}):
                        solara.Div(style={"width": "250px", "flex": "none"})
                        with solara.Div(style={"flex": "1"}):
                            solara.HTML(tag="div", unsafe_innerHTML=years_axis_html(base.years))
                    before = {e.group: e for e in base.sequence}
                    in_plan = [e["group"] for e in seq]
                    rest = [g for g in default_catalogue().groups if g not in in_plan]
                    for g in [*in_plan, *rest]:
                        e = next((x for x in seq if x["group"] == g), None)
                        b = before.get(g)
                        changed = (e is None) != (b is None) or (e is not None and any(
                            e.get(k) != getattr(b, k) for k in ("start_year", "end_year", "intensity", "where")))
                        with solara.Row(classes=["timeline-row"], style={"align-items": "center", "gap": "4px"}):
                            solara.Button(g, text=True, small=True, on_click=lambda g=g: set_selected(g),
                                          classes=["group-button"],
                                          style={"width": "250px", "flex": "none", "justify-content": "flex-start",
                                                 "text-transform": "none",
                                                 "color": "#000" if e is not None else "#999"})
                            with solara.Div(style={"flex": "1"}):
                                solara.HTML(tag="div", unsafe_innerHTML=timeline_bar_html(
                                    e, base.years, changed, g == selected, group_level(g)),
                                    classes=[f"bar-{g}"])
                    solara.HTML(tag="div", unsafe_innerHTML=" ".join(
                        f"<span style='background:{c};color:white;padding:0 6px;border-radius:3px;font-size:11px'>{lv}</span>"
                        for lv, c in LEVEL_COLOURS.items()) + " <span style='font-size:11px'>outlined: changed from the base; "
                        "fainter: lower intensity</span>")
            with solara.Column(style={"flex": "2 1 380px"}):
                EntryEditor(selected, index, seq[index] if index is not None else None, base.years, toggle, update)
                StrategyCard(draft["strategy"], set_knob)
        if base_error:
            solara.Error(base_error, classes=["base-error"])
        if plan_error:
            solara.Error(plan_error, classes=["plan-error"])
        if futures_error:
            solara.Error(futures_error, classes=["futures-error"])
        with solara.Row(style={"align-items": "center", "gap": "12px"}):
            solara.Button("Run", color="primary", on_click=press_run, disabled=busy or bool(plan_error or futures_error),
                          classes=["run-button"])
            if plan is not None and not futures_error:
                solara.FileDownload(lambda: S.scenario_toml(plan, S.reproduce_command(plan, futures, seed)),
                                    filename=S.saved_name(plan), label="Save as scenario", mime_type="application/toml")
            solara.Text(base_status.value, classes=["base-status"])
        if busy:
            p = progress.value
            pct = 100 * p["done"] / p["total"] if p["total"] else 0
            with solara.Column(classes=["strategist-progress"]):
                solara.ProgressLinear(value=pct if p["done"] else True)
                solara.Text(f"{p['label']}: {p['done']} of {p['total']} futures" if p["done"] else
                            f"{p['label']}...")
        if run_task.error:
            solara.Error(f"The run failed: {run_task.exception!r}", classes=["run-error"])
        answer = run_task.value if run_task.finished else None
        if answer is not None and "error" in answer:
            solara.Warning(answer["error"], classes=["run-refused"])
        elif answer is not None:
            Results(answer)


@solara.component
def Results(answer: dict):
    out = answer["outcome"]
    plan_label, base_label = answer["labels"]
    exp_plan, exp_base = answer["expected"]
    with solara.Column(classes=["strategist-result"]):
        solara.Style(TABLE_STYLE)
        solara.HTML(tag="div", classes=["result-head"], unsafe_innerHTML=(
            f"<h3 style='margin:4px 0' data-seconds='{answer['seconds']:.3f}' data-futures='{out.futures}' "
            f"data-seed='{out.seed}' data-scale='{out.plan.scale:g}'>{out.futures} futures of "
            f"<b>{html.escape(plan_label)}</b> against <b>{html.escape(base_label)}</b> (seed {out.seed}, world scale "
            f"{out.plan.scale:g}): answered in <span class='seconds'>{answer['seconds']:.1f}</span> s</h3>"
            f"<p style='margin:2px 0'>Expected indicators met: <span class='expected-plan'>{exp_plan:.2f}</span> "
            f"under the plan, <span class='expected-base'>{exp_base:.2f}</span> under the base. "
            f"{'The base futures were already run (cached).' if out.base_was_cached else 'The base futures ran first.'}"
            "</p>"))
        with solara.Column(classes=["strategist-sentences"]):
            for s in answer["sentences"]:
                solara.Markdown(s)
        with solara.Row(style={"flex-wrap": "wrap", "gap": "16px", "align-items": "flex-start"}):
            with solara.Column(style={"flex": "3 1 640px"}, classes=["strategist-chart"]):
                solara.FigureMatplotlib(answer["figure"], format="png", dpi=72)
            with solara.Column(style={"flex": "2 1 420px"}):
                solara.HTML(tag="div", unsafe_innerHTML=paired_html(answer["diffs"], base_label, plan_label),
                            classes=["strategist-paired"])
                solara.HTML(tag="div", unsafe_innerHTML=risk_html(answer["risks"]), classes=["strategist-risks"])
                solara.HTML(tag="div", unsafe_innerHTML=cost_html(*answer["cost"]), classes=["strategist-cost"])
        solara.HTML(tag="pre", classes=["strategist-json"], style={"display": "none"},
                    unsafe_innerHTML=html.escape(__import__("json").dumps(answer["json"])))
