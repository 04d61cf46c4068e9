"""Adaptive plans ([[adapt]] rules, mechanisms/adaptation.py): the schema's one-line errors, rules
that never fire leave the run bit-identical, a rule fires exactly when its signpost crosses the
threshold and respects its cool-down, event checks, the timetable edits, and the reference model
following the same rules."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from benchmarks.reference import ReferenceModel
from equitysim import load_scenario
from equitysim.cli import main
from equitysim.ensemble import replication_rng, run, run_replication
from equitysim.mechanisms import adaptation as A
from equitysim.mechanisms import opposition
from equitysim.model import EquityModel
from equitysim.scenario import AdaptRule, Event, parse_scenario

from .conftest import SCENARIOS

SCALE = 0.05


def _base(years=10, **upd):
    spec = load_scenario(SCENARIOS / "roadmap.toml").model_copy(update={"scale": SCALE, "years": years, **upd})
    return spec


def _with_rules(spec, *rules, fallbacks=()):
    data = json.loads(spec.model_dump_json())
    data["adapt"] = list(rules)
    data["fallbacks"] = list(fallbacks)
    return parse_scenario(data, "test")


def _rule(name="r", check="quarterly", signpost="opposition", cooldown=0.0, actions=None, **kw):
    r = {"name": name, "check": check, "cooldown_years": cooldown,
         "actions": actions or [{"do": "adjust", "knob": "pacing", "by": -0.1}]}
    if signpost is not None:
        r["signpost"] = signpost
    r.update(kw)
    return r


# ---------------------------------------------------------------------- the schema
RULE = '''
[[adapt]]
name = "a"
check = "yearly"
signpost = "opposition"
above = 0.3
cooldown_years = 1
[[adapt.actions]]
do = "pause"
group = "coalition"
'''


@pytest.mark.parametrize("edit, field, expected", [
    (('check = "yearly"', 'check = "monthly"'), "adapt.0.check", "expected one of"),
    (('signpost = "opposition"', 'signpost = "mood"'), "adapt.0.signpost", "expected one of"),
    (('above = 0.3', 'above = 0.3\nbelow = 0.1'), "adapt.0", "exactly one of 'above' or 'below'"),
    (('cooldown_years = 1\n', ''), "adapt.0.cooldown_years", "expected a value"),
    (('cooldown_years = 1', 'cooldown_years = -1'), "adapt.0.cooldown_years", "expected a number >= 0"),
    (('do = "pause"', 'do = "explode"'), "adapt.0.actions.0.do", "expected one of"),
    (('group = "coalition"', 'group = "coalition"\nyears = 2'), "adapt.0.actions.0", "only group for do = 'pause'"),
    (('group = "coalition"', 'group = "nope"'), "adapt.0.actions.0.group", "catalogue's action groups"),
    (('group = "coalition"', 'group = "federal_permanent"'), "adapt.0.actions.0", "in the scenario's sequence"),
    (('do = "pause"\ngroup = "coalition"', 'do = "switch"\nfallback = "plan_b"'), "adapt.0.actions.0.fallback",
     "a fallback named in [[fallbacks]]"),
    (('do = "pause"\ngroup = "coalition"', 'do = "set"\nknob = "pacing"\nvalue = 3'), "adapt.0.actions.0.pacing",
     "a number <= 1"),
    (('do = "pause"\ngroup = "coalition"', 'do = "adjust"\nknob = "pilot_first"\nby = 0.1'),
     "adapt.0.actions.0.knob", "expected one of"),
    (('signpost = "opposition"', 'signpost = "risk_count"\nrisk = "backlash_events"'), "adapt.0",
     "'window_years' for signpost = 'risk_count'"),
    (('signpost = "opposition"', 'signpost = "indicator_progress"\nindicator = "nope"'), "adapt.0.indicator",
     "a success indicator id"),
    (('name = "a"', 'name = "a"\nbogus = 1'), "adapt.0.bogus", "expected no such field"),
])
def test_a_bad_rule_is_one_line_naming_file_field_and_expectation(tmp_path, capsys, edit, field, expected):
    f = tmp_path / "plan.toml"
    assert edit[0] in RULE
    f.write_text('name = "p"\n[[sequence]]\ngroup = "coalition"\n' + RULE.replace(edit[0], edit[1], 1))
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith(f"equitysim: {f}: {field}: "), err
    assert expected in err, err


def test_the_good_rule_validates_and_the_shipped_adaptive_roadmap_too(tmp_path, capsys):
    f = tmp_path / "plan.toml"
    f.write_text('name = "p"\n[[sequence]]\ngroup = "coalition"\n' + RULE)
    assert main(["validate", str(f)]) == 0
    assert main(["validate", str(SCENARIOS / "roadmap_adaptive.toml")]) == 0
    out = capsys.readouterr().out
    assert "5 adaptation rules" in out


def test_a_static_scenario_dumps_as_before():
    spec = _base()
    assert "adapt" not in spec.model_dump() and "fallbacks" not in json.loads(spec.model_dump_json())


# ---------------------------------------------------------------------- never firing = static
NEVER = [
    _rule("q", "quarterly", "opposition", above=2.0),
    _rule("y", "yearly", "indicators_on_track", below=-1.0),
    _rule("t", "every_3_years", "burnout", above=2.0, actions=[{"do": "pause", "group": "coalition"}]),
    _rule("rec", "recession_starts", "in_recession", below=-1.0, actions=[{"do": "switch", "fallback": "b"}]),
    _rule("hostile", "federal_turns_hostile", "risk_count", risk="funding_cuts", window_years=1.0, above=1e9,
          actions=[{"do": "move", "group": "coalition", "to": "local_restorative", "share": 0.5}]),
]
FALLBACK = [{"name": "b", "sequence": [{"group": "coalition"}]}]


def test_rules_that_never_fire_give_bit_identical_results():
    static = _base()
    static = static.model_copy(update={"events": [Event(kind="recession", year=2.0), Event(kind="hostile_federal", year=4.0)]})
    adaptive = _with_rules(static, *NEVER, fallbacks=FALLBACK)
    for key in range(3):
        a = run_replication(static, 5, key, trajectories=True)
        b = run_replication(adaptive, 5, key, trajectories=True)
        extra = {k for k in b if k.startswith(("adapt", "pathway"))}
        assert set(b) - set(a) == extra and len(extra) == 2 * len(NEVER) + 1
        assert all(math.isnan(b[f"adapt.{r['name']}"]) for r in NEVER)
        for k in a:
            va, vb = a[k], b[k]
            assert va == vb or (isinstance(va, float) and math.isnan(va) and math.isnan(vb)), k
    # and the models' state at the end, array by array
    m1 = EquityModel(static, rng=replication_rng(5, 0)).run()
    m2 = EquityModel(adaptive, rng=replication_rng(5, 0)).run()
    assert m2.adaptation.log == [] and m1.history == m2.history and m1.counts == m2.counts
    assert np.array_equal(m1.district_arrays.burnout, m2.district_arrays.burnout)
    assert np.array_equal(m1.state_arrays.opposition, m2.state_arrays.opposition)


# ---------------------------------------------------------------------- firing exactly at the crossing
def _signpost_path(spec, seed, read):
    """The signpost at each between-quarters check of a static run: {quarter about to start: value}."""
    m = EquityModel(spec, rng=replication_rng(seed, 0))
    out = {}
    while m.running:
        m.step()
        if m.running:
            out[m.quarter] = read(m)
    return out


@pytest.mark.parametrize("kind, side", [("opposition", "above"), ("support_funding_share", "below"),
                                        ("burnout", "above")])
def test_a_rule_fires_exactly_when_its_signpost_crosses_the_threshold(kind, side):
    spec = _base(years=6)
    probe = AdaptRule.model_validate(_rule(signpost=kind, above=0.0))
    path = _signpost_path(spec, 3, lambda m: A.signpost(m, probe))
    qs, values = np.array(list(path)), np.array(list(path.values()))
    lo, hi = values.min(), values.max()
    threshold = float(lo + (hi - lo) * 0.6) if side == "above" else float(lo + (hi - lo) * 0.4)
    crossed = values > threshold if side == "above" else values < threshold
    first = int(qs[np.argmax(crossed)])
    assert crossed.any() and not crossed[0] and first < qs[-1]
    m = EquityModel(_with_rules(spec, _rule(signpost=kind, cooldown=20.0, **{side: threshold})),
                    rng=replication_rng(3, 0)).run()
    assert [q for q, _, _ in m.adaptation.log] == [first]    # once: the cool-down outlasts the run
    # a threshold just past the signpost's extreme never fires
    edge = float(hi + 1e-9) if side == "above" else float(lo - 1e-9)
    m = EquityModel(_with_rules(spec, _rule(signpost=kind, cooldown=0.0, **{side: edge})),
                    rng=replication_rng(3, 0)).run()
    assert m.adaptation.log == []


def test_a_rule_respects_its_cool_down_and_max_fires():
    spec = _base(years=10)
    always = dict(signpost="opposition", above=-1.0)
    m = EquityModel(_with_rules(spec, _rule(cooldown=1.5, **always)), rng=replication_rng(1, 0)).run()
    qs = [q for q, _, _ in m.adaptation.log]
    # pacing 0.5 in steps of -0.1 reaches 0 and then adjusting changes nothing: not a fire
    assert qs == [1, 7, 13, 19, 25]
    m = EquityModel(_with_rules(spec, _rule(cooldown=0.0, max_fires=2, **always)), rng=replication_rng(1, 0)).run()
    assert [q for q, _, _ in m.adaptation.log] == [1, 2] and m.spec.strategy.pacing == pytest.approx(0.3)
    assert m.pace == pytest.approx(EquityModel(_base().model_copy(update={"strategy": m.spec.strategy})).pace)


def test_review_points_and_events():
    spec = _base(years=10).with_parameters(recession_prob=0.0, federal_flip_prob=0.0)
    spec = spec.model_copy(update={"events": [Event(kind="recession", year=2.0), Event(kind="hostile_federal", year=4.0)]})
    rules = [_rule("y", "yearly", cooldown=0.0, above=-1.0, actions=[{"do": "adjust", "knob": "coalition_investment", "by": 0.01}]),
             _rule("t", "every_3_years", cooldown=0.0, above=-1.0, actions=[{"do": "adjust", "knob": "technical_assistance", "by": 0.01}]),
             _rule("rec", "recession_starts", None, cooldown=0.0, actions=[{"do": "adjust", "knob": "pacing", "by": -0.01}]),
             _rule("hostile", "federal_turns_hostile", None, cooldown=0.0,
                   actions=[{"do": "adjust", "knob": "funding_diversification", "by": 0.01}])]
    m = EquityModel(_with_rules(spec, *rules), rng=replication_rng(2, 0)).run()
    by = {n: [q for q, r, _ in m.adaptation.log if r == n] for n in ("y", "t", "rec", "hostile")}
    assert by["y"] == list(range(4, 40, 4)) and by["t"] == [12, 24, 36]
    assert by["rec"] == [9]           # the forced recession starts in quarter 8; checked before quarter 9
    assert by["hostile"] == [17]      # the forced hostile administration takes office in quarter 16


# ---------------------------------------------------------------------- timetable edits
def _tt(*entries):
    return A.Timetable(tuple(A.Entry(g, s, e, "default", 1.0, ()) for g, s, e in entries))


def test_pause_resume_shift_scale_move_switch():
    tt = _tt(("a", 0, 20), ("b", 8, None), ("c", 0, None))
    p = A.pause(tt, "a", 6)
    assert [(e.group, e.start_q, e.end_q) for e in p.entries if e.group == "a"] == [("a", 0, 6)]
    assert A.pause(p, "a", 7) is None                       # already paused
    r = A.resume(p, "a", 10)
    again = [e for e in r.entries if e.group == "a" and e.start_q == 10]
    assert len(again) == 1 and again[0].end_q == 24 and again[0].served_q == 6   # its 14 quarters left, delays served
    assert A.resume(r, "a", 11) is None                      # nothing held: not a fire
    s = A.shift(tt, "b", 1.0, 4)
    assert [(e.start_q, e.end_q) for e in s.entries if e.group == "b"] == [(12, None)]
    assert A.shift(tt, "a", -1.0, 4) is None                 # under way: cannot start earlier
    assert [(e.start_q, e.end_q) for e in A.shift(tt, "b", -3.0, 4).entries if e.group == "b"] == [(4, None)]
    sc = A.scale(tt, "c", 2.0, 4)
    assert [(e.start_q, e.end_q, e.intensity) for e in sc.entries if e.group == "c"] == [(0, 4, 1.0), (4, None, 2.0)]
    mv = A.move(tt, "c", "b", 0.25, 4)
    assert [e.intensity for e in mv.entries if e.group == "b"] == [1.25]
    assert [e.intensity for e in mv.entries if e.group == "c"] == [1.0, 0.75]
    fb = type("F", (), {"name": "plan_b", "sequence": load_scenario(SCENARIOS / "roadmap.toml").sequence[:1]})
    sw = A.switch(tt, fb, 8)
    assert sw.branch == "plan_b" and all(e.end_q is not None and e.end_q <= 8 for e in sw.entries if e.group in ("a", "c"))
    assert [(e.group, e.start_q) for e in sw.entries][-1] == (fb.sequence[0].group, 8)
    assert A.switch(sw, fb, 12) is None


def test_a_paused_group_stops_pushing_and_the_past_is_kept():
    spec = _base(years=4)
    rule = _rule(check="yearly", cooldown=10.0, above=-1.0, actions=[{"do": "pause", "group": "local_restorative"}])
    m = EquityModel(_with_rules(spec, rule), rng=replication_rng(0, 0))
    m.run()
    assert m.adaptation.log[0][0] == 4
    groups = lambda q: {m.plan.local_rows[r].action.group for r in m.rows_local.active_at(q)}  # noqa: E731
    assert all("local_restorative" not in groups(q) for q in range(4, 16))
    assert "local_restorative" in groups(2)               # before the pause it was pushed


# ---------------------------------------------------------------------- reporting and the reference
def test_run_json_reports_each_rule(capsys):
    assert main(["run", str(SCENARIOS / "roadmap_adaptive.toml"), "-n", "3", "--seed", "1", "--scale", "0.05",
                 "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    spec = load_scenario(SCENARIOS / "roadmap_adaptive.toml")
    assert [a["rule"] for a in obj["adaptations"]] == [r.name for r in spec.adapt]
    for a in obj["adaptations"]:
        assert 0 <= a["fired_share"] <= 1 and set(a) == {"rule", "fired_share", "mean_first_year"}
        assert (a["mean_first_year"] is None) == (a["fired_share"] == 0)


def test_ensemble_adaptations_and_pathways():
    spec = load_scenario(SCENARIOS / "roadmap_adaptive.toml").model_copy(update={"scale": SCALE})
    res = run(spec, 4, seed=1)
    review = next(a for a in res.adaptations() if a["rule"] == "comprehensive_review_strategic_adjustment")
    ways = res.pathways()
    first = [next((y for y, b in w if b.startswith("concentrate_on_local_wins")), None) for w in ways]
    assert len(ways) == 4 and review["fired_share"] == sum(y is not None for y in first) / 4
    assert all(y in (3.0, 6.0, 9.0) for y in first if y is not None)   # the fallback comes at a review
    assert all(b.startswith(("as written", "concentrate_on_local_wins")) for w in ways for _, b in w)
    paused = [b for w in ways for _, b in w if "paused" in b]
    assert paused and all(b.endswith("+ local_program_expansion paused") for b in paused)


def test_the_reference_follows_the_rules():
    spec = _base(years=4)
    rules = [_rule("pace", check="yearly", cooldown=0.0, above=-1.0),
             _rule("pause", check="every_3_years", cooldown=0.0, above=-1.0,
                   actions=[{"do": "pause", "group": "local_program_expansion"}])]
    ref = ReferenceModel(_with_rules(spec, *rules), 7).run()
    assert [(q, r) for q, r, _ in ref.adaptation.log] == [(4, "pace"), (8, "pace"), (12, "pace"), (12, "pause")]
    assert ref.spec.strategy.pacing == pytest.approx(0.2)
    assert ref.pace == pytest.approx(EquityModel(spec.model_copy(update={"strategy": ref.spec.strategy})).pace)
    pushed = lambda rows, q: {r.row.action.group for r in rows if r.row.start_q <= q < r.row.end_q}  # noqa: E731
    assert "local_program_expansion" in pushed(ReferenceModel(spec, 7).local_rows, 12)
    assert "local_program_expansion" not in pushed(ref.local_rows, 12) | pushed(ref.local_rows, 15)
    # the signposts read from the agents equal the fast model's on the same (baseline) state
    fast = EquityModel(spec, rng=replication_rng(0, 0))
    plain = ReferenceModel(spec, 0)
    for kind in ("opposition", "support_funding_share", "capital", "buy_in", "coalition_breadth", "in_recession",
                 "federal_hostile", "burnout"):
        r = AdaptRule.model_validate(_rule(signpost=kind, above=0.0))
        assert A.signpost(fast, r) == pytest.approx(plain.signpost(r)), kind


# ---------------------------------------------------------------------- the search over adaptation
ADAPTIVE_QUICK = SCENARIOS.parent / "experiments" / "adaptive_search_quick.toml"


@pytest.fixture(scope="module")
def adaptive_search(tmp_path_factory):
    out = tmp_path_factory.mktemp("adaptive") / "res"
    assert main(["sequence", str(ADAPTIVE_QUICK), "--out", str(out), "--jobs", "1", "--json"]) == 0
    return out


def test_the_search_reports_static_and_adaptive_side_by_side(adaptive_search, capsys):
    from equitysim.sequencing import load_search
    from equitysim.sequencing.candidates import candidate_from_key

    out = adaptive_search
    spec, base = load_search(ADAPTIVE_QUICK)
    table = pd.read_csv(out / "candidates.csv")
    static, adaptive = table[~table.adaptive], table[table.adaptive]
    assert len(static) == spec.space_size and len(adaptive) == spec.adaptive.budget
    for label in ("best_static", "best_adaptive"):
        load_scenario(out / f"{label}.toml")   # runnable scenario files
    assert load_scenario(out / "best_adaptive.toml").adapt and not load_scenario(out / "best_static.toml").adapt
    conf = pd.read_csv(out / "confirmed.csv")
    assert set(conf.answer) == {"best_expected", "most_robust", "roadmap", "best_static", "best_adaptive"}
    row = conf[conf.answer == "best_static"].iloc[0]
    assert row.difference_vs_best_static == 0 and row.vs_static_ci_low == 0
    by = pd.read_csv(out / "confirmed_by_future.csv")
    assert len(by) == 2 and (by.ci_low <= by.difference).all() and (by.difference <= by.ci_high).all()
    assert list(by.difference) == sorted(by.difference, reverse=True)
    # regret over static and adaptive candidates together
    fut = [c for c in table if c.startswith("future.")]
    regret = (table[fut].max() - table[fut]).max(axis=1)
    assert np.allclose(regret, table.max_regret)
    assert all(candidate_from_key(k).adaptive == a for k, a in zip(table.candidate, table.adaptive))


def test_adaptive_candidates_share_the_static_runs_where_no_rule_fires(adaptive_search):
    """Common random numbers: in every run where no rule of an adaptive candidate fired, it meets
    exactly the indicators its static timetable meets in the same run."""
    from equitysim.experiments import read_runs

    index = json.loads((adaptive_search / "runs" / "index.json").read_text())
    road = read_runs(adaptive_search / "runs" / index['[[0.0], 0.5, "all", "default"]'])
    met = [c for c in road if c.startswith("met.")]
    road = road.set_index(["scenario", "replication"])[met]
    compared = 0
    for key, d in index.items():
        if len(json.loads(key)) < 5 or json.loads(key)[0] != [0.0]:
            continue
        runs = read_runs(adaptive_search / "runs" / d)
        fired = runs[[c for c in runs if c.startswith("adapt.")]].notna().any(axis=1)
        quiet = runs[~fired].set_index(["scenario", "replication"])[met]
        assert (quiet == road.loc[quiet.index]).all().all()
        compared += len(quiet)
    assert compared > 0


def test_a_bad_adaptive_search_file_is_one_line(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text(ADAPTIVE_QUICK.read_text().replace('base = "../scenarios/roadmap.toml"',
                                                    f'base = "{SCENARIOS / "roadmap.toml"}"')
                 .replace('scenario = "../scenarios/roadmap_adaptive.toml"',
                          f'scenario = "{SCENARIOS / "roadmap_adaptive.toml"}"')
                 .replace('rule = "comprehensive_review_strategic_adjustment"', 'rule = "nope"'))
    assert main(["sequence", str(f), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{f}: adaptive.rules.0.rule: expected a rule of" in err


def test_pathways_and_adaptations_charts_in_the_report_and_as_files(tmp_path, capsys):
    from equitysim.plots.adaptive import branch_shares
    from equitysim.report import build_report

    spec = load_scenario(SCENARIOS / "roadmap_adaptive.toml").model_copy(update={"scale": SCALE})
    res = run(spec, 5, seed=2, trajectories=True)
    t, branches, share, moves = branch_shares(res)
    assert branches[0] == A.AS_WRITTEN and np.allclose(share.sum(0), 1.0)   # every future on one branch
    switches = sum(len(w) for w in res.pathways())
    assert switches and sum(s for *_, s in moves) == pytest.approx(switches / 5)
    html = build_report({"roadmap_adaptive": res})
    assert "How the plan adapted" in html and "comprehensive_review_strategic_adjustment" in html
    for kind, ext in (("pathways", "png"), ("pathways", "svg"), ("adaptations", "svg")):
        out = tmp_path / f"{kind}.{ext}"
        assert main(["plot", str(SCENARIOS / "roadmap_adaptive.toml"), "--kind", kind, "-n", "3", "--scale", "0.05",
                     "--out", str(out)]) == 0
        assert out.stat().st_size > 1000
    # a static scenario has no pathways: one line, exit 2
    assert main(["plot", str(SCENARIOS / "roadmap.toml"), "--kind", "pathways", "-n", "2", "--scale", "0.05",
                 "--out", str(tmp_path / "x.png")]) == 2
    assert "no adaptive scenario" in capsys.readouterr().err


def test_a_switch_carries_on_the_groups_under_way():
    fb = type("F", (), {"name": "b", "sequence": load_scenario(SCENARIOS / "roadmap.toml").sequence[:1]})
    g = fb.sequence[0].group
    sw = A.switch(_tt((g, 0, None), ("x", 0, None)), fb, 8)
    carried = [e for e in sw.entries if e.start_q == 8]
    assert [(e.group, e.served_q) for e in carried] == [(g, 8)]       # its delays served in quarters 0-7
    assert [(e.group, e.end_q) for e in sw.entries if e.group == "x"] == [("x", 8)]


def test_the_shipped_fallback_keeps_what_the_roadmap_has_under_way_at_year_3():
    """Switching at the three-year review stops no group the roadmap still runs then (the fallback
    changes intensities and where, and adds nothing the roadmap lacks)."""
    spec = load_scenario(SCENARIOS / "roadmap_adaptive.toml")
    fb = spec.fallbacks[0]
    running = {e.group for e in spec.sequence if e.start_year < 3 and (e.end_year is None or e.end_year > 3)}
    later = {e.group for e in spec.sequence if e.start_year >= 3}
    assert running | later == {e.group for e in fb.sequence}
