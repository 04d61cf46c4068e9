"""Validation: the no-action baseline set against history, and face-validity expectations.

Experiment layer: this module runs the core model (it never changes it) and compares what the
model does with what happened.

* **Historical patterns** (`data/validation.toml`): the no-action scenario is run for ten years and
  a few quantities are traced quarter by quarter (reforms adopted, integration plans started,
  superintendents leaving, governorships changing party, segregation and suspension indices).
  Each is set beside a published figure (from `data/national_benchmarks.csv`) and its plausible
  band. Patterns whose parameter was set from the same source are marked "input check"; the
  others were not fitted to the figure they are compared with.
* **Face validity** (`EXPECTATIONS`): what must be true of any credible version of this model
  (switching diffusion off slows adoption, a deeper recession cuts more programs, broader
  coalitions meet less backlash, ...), checked on paired runs with common random numbers.

* **The world against published figures**: the full world of real districts (issue 15), its
  national figures and calibration checks beside the published ones (`world_tables`).

`report()` runs all three and `markdown()` renders docs/validation.md (`scripts/validation.py`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats

from . import indicators as _ind
from .ensemble import replication_rng
from .model import EquityModel, world_for
from .scenario import Event, ScenarioSpec, load_scenario, parse_scenario
from .world import BLACK, HISPANIC

DT = 0.25


@cache
def _defaults() -> dict[str, float]:
    from .params import defaults
    return defaults()


def _data(name: str):
    return resources.files("equitysim").joinpath(f"data/{name}")


@cache
def benchmarks() -> pd.DataFrame:
    """national_benchmarks.csv indexed by name (value as float, NaN where not filled)."""
    df = pd.read_csv(_data("national_benchmarks.csv"), dtype={"value": str})
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    return df.set_index("name")


@dataclass(frozen=True)
class Pattern:
    id: str
    title: str
    statistic: str          # key of the traced statistic (see `trace`)
    unit: str
    history: float
    low: float
    high: float
    benchmark: str          # row of national_benchmarks.csv the history value comes from
    period: str
    kind: str               # "independent" or "input check"
    model_note: str
    if_off: str             # what to change if the model falls outside the band


@cache
def patterns() -> tuple[Pattern, ...]:
    raw = tomllib.loads(_data("validation.toml").read_text())
    bm = benchmarks()
    out = []
    for pid, p in raw.items():
        # `history` in the file when the figure is derived from the benchmark row (see its comment).
        hist = float(p["history"]) if "history" in p else float(bm.loc[p["benchmark"], "value"])
        out.append(Pattern(pid, p["title"], p["statistic"], p["unit"], hist, p["band"][0], p["band"][1],
                           p["benchmark"], p["period"], p["kind"], p["model_note"], p["if_off"]))
    return tuple(out)


def no_action_spec(scale: float = 0.2, years: int = 10) -> ScenarioSpec:
    path = Path(__file__).resolve().parents[1] / "scenarios" / "no_action.toml"
    if path.exists():
        spec = load_scenario(path)
    else:  # installed without the scenarios folder: the same counterfactual, inline
        spec = parse_scenario({"name": "no_action", "strategy": {"coalition_investment": 0.0,
                               "technical_assistance": 0.0, "lock_in": False}})
    return spec.model_copy(update={"scale": scale, "years": years})


# ---------------------------------------------------------------------- tracing one run
def trace(spec: ScenarioSpec, seed: int, key: int) -> dict:
    """Run one replication quarter by quarter and return the statistics the patterns compare.

    Counts of districts are expressed at full US scale (divided by the world's scale). The
    superintendent statistics are the model's own exit hazards (1 - exp(-rate x (1 + burnout)
    x dt) per quarter, as in District.step_all) accumulated over each district's first three
    years, so they are exactly what the model draws from, without sampling noise.
    """
    world = world_for(spec)
    m = EquityModel(spec, rng=replication_rng(seed, key), world=world)
    p, scale, years = m.p, world.scale, spec.years
    wf, dm = m.policy_index["weighted_funding"], m.policy_index["discipline_mandate"]
    cc, re = m.program_index["controlled_choice"], m.program_index["restorative"]
    n_d = world.n_districts
    survive = np.ones(n_d)
    hazard_sum = np.zeros(n_d)
    adopt_wf = adopt_dm = flips = elections = 0
    while m.running:
        q = m.quarter
        states = m.state_arrays
        on0, flipped0 = states.policy_on.copy(), states.governor_flipped.copy()
        if q < 12:
            h = 1.0 - np.exp(-p["superintendent_turnover"] * (1 + m.district_arrays.burnout) * DT)
            survive *= 1.0 - h
            hazard_sum += h
        if m.is_november:
            elections += int((states.election_years == m.calendar_year).any(1).sum())
        m.step()
        new = m.state_arrays.policy_on & ~on0
        adopt_wf += int(new[:, wf].sum())
        adopt_dm += int(new[:, dm].sum())
        flips += int((m.state_arrays.governor_flipped != flipped0).sum())
    minority = world.d_share[:, BLACK] + world.d_share[:, HISPANIC]
    q25, q75 = np.quantile(minority, [0.25, 0.75])
    b, last = m.baseline, m.history[-1]
    started = m.outcome_counts["started"]
    return {
        "sfr_per_year": adopt_wf / years,
        "sfr_share_states": float(m.state_arrays.policy_ever[:, wf].mean()),
        "rj_laws_per_year": adopt_dm / years,
        "integration_starts_per_year": started[cc] / years / scale,
        "restorative_starts_per_year": started[re] / years / scale,
        "superintendent_exit_3yr": float(np.mean(1.0 - survive)),
        "superintendent_ratio_minority": float(hazard_sum[minority >= q75].mean() / hazard_sum[minority <= q25].mean()),
        "seg_drift_pct_per_year": 100 * ((last["dissimilarity"] / b["dissimilarity"]) ** (1 / years) - 1),
        "seg_within_drift_pct_per_year": 100 * ((last["dissimilarity_within_district"]
                                                 / b["dissimilarity_within_district"]) ** (1 / years) - 1),
        "suspension_ratio_change_pct": 100 * (last["suspension_ratio_black_white"] / b["suspension_ratio_black_white"] - 1),
        "recessions_per_year": m.counts["recessions"] / years,
        "governor_changes_per_election": flips / max(elections, 1),
    }


def _map(fn: Callable, args: list, jobs: int) -> list:
    if jobs <= 1:
        return [fn(*a) for a in args]
    return Parallel(n_jobs=jobs, backend="loky")(delayed(fn)(*a) for a in args)


def history_table(replications: int = 20, seed: int = 1, scale: float = 0.2, jobs: int = 1) -> pd.DataFrame:
    """One row per pattern: the history figure and band beside the model's mean and 5th-95th
    percentile over `replications` no-action runs, and a verdict."""
    spec = no_action_spec(scale)
    runs = pd.DataFrame(_map(trace, [(spec, seed, k) for k in range(replications)], jobs))
    rows = []
    for pt in patterns():
        x = runs[pt.statistic]
        mean = float(x.mean())
        verdict = "consistent" if pt.low <= mean <= pt.high else ("too high" if mean > pt.high else "too low")
        rows.append({"id": pt.id, "title": pt.title, "unit": pt.unit, "history": pt.history, "low": pt.low,
                     "high": pt.high, "model": mean, "model_p05": float(x.quantile(0.05)),
                     "model_p95": float(x.quantile(0.95)), "verdict": verdict, "kind": pt.kind})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- face validity
_OUTCOMES: dict = {}


def outcome(spec: ScenarioSpec, seed: int, key: int) -> dict:
    """Summary outcomes of one replication used by the face-validity expectations (counts of
    districts and programs at full US scale). Cached per process: base scenarios are shared by
    several expectations."""
    ck = (spec.model_dump_json(), seed, key)
    if ck not in _OUTCOMES:
        _OUTCOMES[ck] = _outcome(spec, seed, key)
    return _OUTCOMES[ck]


def _outcome(spec: ScenarioSpec, seed: int, key: int) -> dict:
    m = EquityModel(spec, rng=replication_rng(seed, key), world=world_for(spec))
    policy_years = 0
    kept, at_start = float("nan"), None   # programs running when the first recession starts
    own, closed = [], 0.0   # each year: programs' own outcome change x own gap; district gap closed
    k_rest = m.program_index["restorative"]
    while m.running:
        m.step()
        if m.quarter % 4 == 0:
            o, k = _own_outcomes(m)
            own.append(o[k == k_rest])
            closed += _district_gap_closed(m)
        if at_start is None and m.in_recession:
            at_start = m.district_arrays.running.copy()
        elif at_start is not None and kept != kept and not m.in_recession:
            kept = float((at_start & m.district_arrays.running).sum() / max(at_start.sum(), 1))
        if m.quarter % 4 == 0:
            policy_years += int(m.state_arrays.policy_on.sum())
    scale = m.world.scale
    met = _ind.evaluate(m.snapshots, m.baseline, scale)
    oc = m.outcome_counts
    last = m.history[-1]
    return {
        "indicators_met": sum(met.values()),
        "state_adoptions": int(m.state_arrays.policy_ever.sum()),
        "policy_years": policy_years,
        "active_programs": float(m.active.sum() / scale),
        "institutionalized_programs": float((m.active & (m.phase >= m.program_table.final_phase[None, :])).sum() / scale),
        "programs_started": float(oc["started"].sum() / scale),
        "backlash_events": m.counts["backlash_events"],
        "funding_cuts": m.counts["funding_cuts"] / scale,
        "court_challenges": m.counts["court_challenges"] / scale,
        "programs_struck": float(np.sum(oc.get("struck", 0)) / scale),
        "programs_dropped": float(np.sum(oc.get("dropped", 0)) / scale),
        "dissimilarity_change_pct": 100 * (last["dissimilarity"] / m.baseline["dissimilarity"] - 1),
        **_cycle_outcomes(m, kept),
        "restorative_own_outcome": float(np.concatenate(own).mean()) if sum(map(len, own)) else float("nan"),
        "gap_closed_per_musd": closed / max(m.district_summary()["spend_musd"], 1e-9),
    }


def _own_outcomes(m) -> tuple[np.ndarray, np.ndarray]:
    """For each program that has reached schools for a year: the district's own outcome change
    since it started (share of the program's full effect) x its own baseline gap in the domain
    (over its state's or the nation's level); and the programs."""
    from .mechanisms import cycle
    c = m.cells
    sel = np.flatnonzero(c.quarters_reached >= m.par.reflect_min_quarters)
    d, k = c.district[sel], c.program[sel]
    change = (cycle.cuts_at(m, k, d) - c.start_cut[sel]) / cycle.full_effect(m)[k]
    return change * cycle.baseline_gaps(m)[cycle.program_domains(m)[k], d], k


def _district_gap_closed(m) -> float:
    """How much of their own gaps the districts' programs have closed now: in every district and
    program domain it can run in, the district-level cut of the gap (what its own programs did,
    still there after a program ended, without the state's and federal policy parts) as a share of
    the program's full effect, times the district's baseline gap there (over its state's or the
    nation's level). Summed over the year ends, it is the outcome that district program money buys."""
    from .mechanisms import cycle
    O, w = m.outcome_arrays, m.world
    part = {"suspension": O.suspension_district_black, "ap_gap": O.ap_district, "teacher_gap": O.teacher_district,
            "segregation": O.segregation_cut, "interdistrict": O.region_mixing[w.d_region]}
    gaps, full = cycle.baseline_gaps(m)[cycle.program_domains(m)], cycle.full_effect(m)
    eligible = m.fixed.eligible_by_program
    return float(sum((part[pr.channel] * gaps[k] * eligible[k]).sum() / full[k] for k, pr in enumerate(m.programs)))


def _cycle_outcomes(m, kept: float) -> dict:
    """What the practitioner's cycle expectations read (mechanisms/cycle.py)."""
    summary = m.district_summary()
    started = m.outcome_counts["started"]
    return {
        "mean_cost_per_start": float((started * m.fixed.base_cost).sum() / max(started.sum(), 1)),
        "kept_through_recession": kept,
        "superintendent_turnover_rate": summary["superintendent_turnover"],
        "staff_turnover_rate": summary["mean_staff_turnover"],
    }


def _with(spec: ScenarioSpec, parameters: dict | None = None, strategy: dict | None = None,
          events: list | None = None) -> ScenarioSpec:
    upd = {}
    if parameters:
        upd["parameters"] = {**spec.parameters, **parameters}
    if strategy:
        upd["strategy"] = spec.strategy.model_copy(update=strategy)
    if events:
        upd["events"] = list(spec.events) + [Event(**e) for e in events]
    return spec.model_copy(update=upd)


@dataclass(frozen=True)
class Expectation:
    id: str
    statement: str
    base: str                                   # scenario file name (without .toml)
    change: Callable[[ScenarioSpec], ScenarioSpec]
    metric: str
    direction: str                              # "lower" or "higher": variant vs base
    min_effect: float                           # relative difference the variant must show
    note: str = ""                              # what the check shows about the mechanism
    base_change: Callable[[ScenarioSpec], ScenarioSpec] | None = None   # applied to both runs first


_DEEP_RECESSION = dict(parameters={"recession_budget_cut": 0.15, "recession_length": 8},
                      events=[{"kind": "recession", "year": 1}, {"kind": "recession", "year": 5}])
# What an unprepared district gets when it has the data and listening infrastructure of a prepared
# one (the prepared values of the cycle's parameters; the prerequisites themselves unchanged).
_AS_PREPARED = {"diagnosis_noise_unprepared": _defaults()["diagnosis_noise_prepared"], "feedback_unprepared_share": 1.0,
                "failure_report_unprepared": _defaults()["failure_report_prepared"],
                "root_cause_found_unprepared": _defaults()["root_cause_found_prepared"]}
_NARROW = dict(parameters={"coalition_baseline_breadth": 0.1}, strategy={"coalition_investment": 0.2})

EXPECTATIONS: tuple[Expectation, ...] = (
    Expectation("no_diffusion", "Without policy diffusion between neighbouring states and peer districts "
                "(diffusion_neighbor_weight = 0), fewer state policies are in force over the ten years.",
                "roadmap", lambda s: _with(s, parameters={"diffusion_neighbor_weight": 0.0}),
                "policy_years", "lower", 0.005,
                "Without the pacing rule of the first edition nothing makes up for slower diffusion: the effect "
                "is the neighbours' and peers' multiplier itself, still moderate because diffusion is one of many "
                "factors (climate, coalition, capital, opposition) in each hazard."),
    Expectation("deeper_recession", "A deeper, longer recession (forced in years 1 and 5, budget cut 15%, "
                "two years long) cuts more programs.", "roadmap", lambda s: _with(s, **_DEEP_RECESSION),
                "funding_cuts", "higher", 0.5),
    Expectation("deeper_recession_institutionalized", "The same deeper recession leaves fewer programs "
                "institutionalized at year 10.", "roadmap", lambda s: _with(s, **_DEEP_RECESSION),
                "institutionalized_programs", "lower", 0.05,
                "Programs cut in a recession are not replaced by a target-seeking rule: new starts come only "
                "from the push and the money left, and the recession cuts both district budgets and program "
                "money, so fewer programs live long enough to be institutionalized."),
    Expectation("narrow_coalitions_backlash", "Broad coalitions damp backlash: narrowing the roadmap's coalition "
                "(baseline breadth 0.1, organizing investment 0.2) brings more backlash events.", "roadmap",
                lambda s: _with(s, **_NARROW), "backlash_events", "higher", 0.3,
                "Broadening beyond the roadmap's own coalition changes little: at the roadmap's organizing "
                "investment, coalition breadth already approaches its maximum within the ten years."),
    Expectation("narrow_coalitions_adoption", "Broad coalitions win policies: the narrow coalition keeps fewer "
                "state policies in force.", "roadmap", lambda s: _with(s, **_NARROW), "policy_years", "lower", 0.05),
    Expectation("campaign_matters", "With no campaign at all, fewer success indicators are met than under "
                "the roadmap.", "roadmap", lambda s: base_spec("no_action", s.scale), "indicators_met", "lower", 0.5),
    Expectation("race_conscious", "Race-conscious designs are struck down by courts more often than "
                "designs within the law.", "roadmap",
                lambda s: _with(s, strategy={"legal_design": "race_conscious"}), "programs_struck", "higher", 1.0),
    Expectation("turnover", "More superintendent turnover (hazard 0.26 a year instead of 0.20) drops more "
                "programs.", "roadmap",
                lambda s: _with(s, parameters={"superintendent_turnover": 0.26}), "programs_dropped", "higher", 0.1),
    Expectation("fast_pacing", "Pushing every reform at full pace (pacing 1.0 instead of 0.5) provokes more "
                "backlash.", "roadmap", lambda s: _with(s, strategy={"pacing": 1.0}), "backlash_events", "higher", 0.1),
    # the practitioner's cycle (mechanisms/cycle.py)
    Expectation("cycle_data_listening", "Districts with data and listening infrastructure reach better outcomes for "
                "the same program: giving every district the diagnosis (focus and root cause), feedback loop and honest "
                "reporting of one with "
                "data and listening infrastructure (the prerequisites themselves unchanged) raises how much of its "
                "district's own discipline gap a restorative-practices program closes (mean over programs and years).",
                "roadmap", lambda s: _with(s, parameters=_AS_PREPARED),
                "restorative_own_outcome", "higher", 0.05,
                "Changing the prerequisites themselves would confound this: they also open detracking (principal "
                "leadership), and more programs at once cost leadership attention. How: with data and listening infrastructure a district finds the root cause of its gap more often "
                "(root_cause_found_prepared against _unprepared: a design past it reaches root_cause_miss_share of its "
                "fidelity), runs a stronger feedback loop and reports failures honestly, which teaches the refined "
                "design. The choice of focus alone hardly matters on the world of real districts (the focus's fit "
                "0.94 with data against 0.89 without: course access is at the nation's level everywhere and most "
                "discipline gaps are near their state's). Measured: +9.4% at scale 0.05 (30 pairs, seed 7, the "
                "test; 95% interval of the difference 0.014 to 0.080), +8.8% at scale 0.1 (60 pairs, seed 7; 0.029 "
                "to 0.063)."),
    Expectation("cycle_reflect_per_dollar", "Reflecting on outcomes beats keeping everything: with districts that "
                "never scale, refine, replace or abandon (reflect_on_outcomes = false), less of their own gaps is "
                "closed per dollar of district program money (the district-level cut of each gap, as a share of the "
                "program's full effect, x the district's own baseline gap, summed over districts, domains and year "
                "ends, over spending; the part of a dropped program's effect that lingers counts).", "roadmap",
                lambda s: _with(s, strategy={"reflect_on_outcomes": False}), "gap_closed_per_musd", "lower", 0.04,
                "Weak: at scale 0.05 (30 pairs, seed 7, the test) keeping everything closes 4.4% less per dollar, "
                "inside noise (95% interval of the difference -0.036 to 0.002); at scale 0.1 (60 pairs, seed 7) 6.3% "
                "less (-0.037 to -0.009). Programs designed past the root cause are the ones that do not work: "
                "reflection refines about 48 and replaces or abandons about 16 of some 295 starts (scale 0.05, per "
                "replication), and the family money they free buys new starts (about 20 more); scaling and refining "
                "the rest add little, and money, not the number of candidates, limits the starts."),
    Expectation("cycle_low_budget", "A low budget shifts districts toward low-cost actions: under the low-budget "
                "scenario the mean catalogue cost of a program start is lower.", "roadmap",
                lambda s: base_spec("low_budget", s.scale), "mean_cost_per_start", "lower", 0.14,
                "Less money alone shifts the mix (with cost_aversion = 0 in both runs: -6.2% at scale 0.1, 30 pairs, "
                "seed 1; -14.1% at scale 0.05, 30 pairs, seed 7: dear programs are the first that no longer fit the "
                "family's money); the design step's preference for cheap programs under budget pressure makes it "
                "-14.4% (95% interval of the difference -0.128 to -0.082) and -19.9% (-0.195 to -0.105). On this page "
                "the required 14% is met by a hair: the shift is real, its size near the threshold."),
    Expectation("cycle_lens_recession", "Equity as a lens keeps more of the work through a recession (forced in year "
                "3): with every district starting as a lens, a larger share of the programs running when the "
                "recession starts still runs when it ends.", "roadmap",
                lambda s: _with(s, strategy={"equity_as_lens": 1.0}), "kept_through_recession", "higher", 0.05,
                base_change=lambda s: _with(s, strategy={"equity_as_lens": 0.0}, events=[{"kind": "recession", "year": 3}])),
    Expectation("cycle_mitigation_superintendents", "Burnout mitigations (full leadership rotation and release "
                "time) lower superintendent turnover in districts running equity work.", "roadmap",
                lambda s: _with(s, strategy={"leadership_rotation": 1.0, "release_time": 1.0}),
                "superintendent_turnover_rate", "lower", 0.01),
    Expectation("cycle_mitigation_staff", "The same mitigations lower staff turnover.", "roadmap",
                lambda s: _with(s, strategy={"leadership_rotation": 1.0, "release_time": 1.0}),
                "staff_turnover_rate", "lower", 0.03),
)


def base_spec(name: str, scale: float) -> ScenarioSpec:
    path = Path(__file__).resolve().parents[1] / "scenarios" / f"{name}.toml"
    return load_scenario(path).model_copy(update={"scale": scale})


def check_expectation(e: Expectation, replications: int = 8, seed: int = 7, scale: float = 0.1,
                      jobs: int = 1) -> dict:
    """Paired runs (same replication keys, hence common random numbers) of the base scenario and
    its variant; returns both means, the relative difference and whether the expectation holds."""
    base = base_spec(e.base, scale)
    if e.base_change is not None:
        base = e.base_change(base)
    variant = e.change(base)
    args = [(s, seed, k) for s in (base, variant) for k in range(replications)]
    res = _map(outcome, args, jobs)
    b = np.array([r[e.metric] for r in res[:replications]], float)
    v = np.array([r[e.metric] for r in res[replications:]], float)
    bm, vm = float(b.mean()), float(v.mean())
    diff = v - b   # paired: a 95% t interval of the mean difference
    half = float(stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
    rel = (vm - bm) / abs(bm) if bm else (np.inf if vm > 0 else (-np.inf if vm < 0 else 0.0))
    ok = rel <= -e.min_effect if e.direction == "lower" else rel >= e.min_effect
    return {"id": e.id, "statement": e.statement, "metric": e.metric, "direction": e.direction,
            "base": bm, "variant": vm, "relative": float(rel), "min_effect": e.min_effect,
            "holds": bool(ok), "pairs_in_direction": float(np.mean(v < b if e.direction == "lower" else v > b)),
            "diff": float(diff.mean()), "diff_low": float(diff.mean()) - half, "diff_high": float(diff.mean()) + half}


def face_validity_table(replications: int = 8, seed: int = 7, scale: float = 0.1, jobs: int = 1) -> pd.DataFrame:
    return pd.DataFrame([check_expectation(e, replications, seed, scale, jobs) for e in EXPECTATIONS])


# ---------------------------------------------------------------------- the report
def world_tables(world_seed: int = 2027) -> dict:
    """The full world of real districts (scale 1) against the published figures: the national
    figures (baseline.national_figures), the synthesised schools against each district's published
    dissimilarity (baseline.dissimilarity_fit) and every calibration check (baseline.calibration)."""
    from .baseline import calibration, dissimilarity_fit, national_figures
    from .world import build_world

    w = build_world(1.0, world_seed)
    return {"world_seed": world_seed, "national": national_figures(w), "dissimilarity_fit": dissimilarity_fit(w),
            "calibration": calibration(1.0, world_seed)}


def report(replications: int = 20, seed: int = 1, scale: float = 0.2, fv_replications: int = 12,
           fv_scale: float = 0.1, jobs: int = 1, world_seed: int = 2027) -> dict:
    return {
        "settings": {"replications": replications, "seed": seed, "scale": scale,
                     "fv_replications": fv_replications, "fv_scale": fv_scale},
        "history": history_table(replications, seed, scale, jobs),
        "face_validity": face_validity_table(fv_replications, seed, fv_scale, jobs),
        "world": world_tables(world_seed),
    }


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "inf" if x > 0 else "-inf"
    a = abs(x)
    if a == 0:
        return "0"
    return f"{x:.3g}" if a < 1 else (f"{x:.2f}" if a < 100 else f"{x:,.0f}")


def markdown(rep: dict) -> str:
    s = rep["settings"]
    h, fv = rep["history"], rep["face_validity"]
    pts = {p.id: p for p in patterns()}
    bm = benchmarks()
    lines = [
        "# Validation",
        "",
        "Generated by `python scripts/validation.py` (equitysim/validation.py); do not edit by hand.",
        f"No-action runs: {s['replications']} replications, seed {s['seed']}, world scale {s['scale']:g} "
        "(counts of districts are scaled back to the full US). "
        f"Face-validity runs: {s['fv_replications']} paired replications per variant, scale {s['fv_scale']:g}.",
        "",
        "## 1. The no-action baseline against history",
        "",
        "The no-action scenario (no campaign; only the background rates of reform, the business cycle, "
        "elections and the risks run) is traced for ten years. Each pattern sets what the model does beside "
        "what happened. **independent** = the model was not fitted to this figure; **input check** = the "
        "parameter was set from the same source, so the row only confirms that the model's hazards produce "
        "the published rate.",
        "",
        "| pattern | history | plausible band | model (mean) | model 5-95% | verdict | kind |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in h.itertuples():
        lines.append(f"| {r.title} ({r.unit}) | {_fmt(r.history)} | {_fmt(r.low)} to {_fmt(r.high)} | "
                     f"{_fmt(r.model)} | {_fmt(r.model_p05)} to {_fmt(r.model_p95)} | **{r.verdict}** | {r.kind} |")
    lines += ["", "### Pattern by pattern", ""]
    for r in h.itertuples():
        p = pts[r.id]
        src = bm.loc[p.benchmark, "source"]
        lines += [f"**{p.title}.** History: {_fmt(p.history)} {p.unit} ({p.period}; `{p.benchmark}`: {src}). "
                  f"Model: {_fmt(r.model)} (5-95%: {_fmt(r.model_p05)} to {_fmt(r.model_p95)}), "
                  f"{r.verdict}. {p.model_note}"]
        if r.verdict != "consistent":
            lines += ["", f"*Off the band. Suggested change:* {p.if_off}"]
        lines.append("")
    n_ok = int((h.verdict == "consistent").sum())
    lines += [f"{n_ok} of {len(h)} patterns fall inside their historical band.", "",
              "## 2. Face validity", "",
              "What must be true of any credible version of this model. Each row compares a base scenario "
              "with a variant on paired replications (same replication keys, so the same business cycle, "
              "elections and draws); `relative` is (variant - base) / base of the mean; the expectation holds "
              "when it moves in the stated direction by at least the stated amount. The same expectations run "
              "as tests (tests/test_validation.py) on smaller worlds.", "",
              "`difference (95%)` is the mean paired difference (variant - base) with its t interval.", "",
              "| expectation | metric | base | variant | relative | difference (95%) | required | holds | pairs in direction |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in fv.itertuples():
        req = f"{'<=' if r.direction == 'lower' else '>='} {'-' if r.direction == 'lower' else '+'}{r.min_effect:.1%}"
        ci = (f"{_fmt(r.diff)} ({_fmt(r.diff_low)} to {_fmt(r.diff_high)})"
              if hasattr(r, "diff_low") and np.isfinite(r.diff_low) else "n/a")
        lines.append(f"| {r.statement} | `{r.metric}` | {_fmt(r.base)} | {_fmt(r.variant)} | {r.relative:+.1%} | "
                     f"{ci} | {req} | {'yes' if r.holds else '**no**'} | {r.pairs_in_direction:.0%} |")
    lines += ["", f"{int(fv.holds.sum())} of {len(fv)} face-validity expectations hold.", ""]
    notes = [e for e in EXPECTATIONS if e.note]
    if notes:
        lines += ["Notes on what the checks show:", ""]
        lines += [f"- **{e.id}**: {e.note}" for e in notes]
        lines.append("")
    if "world" in rep:
        lines += _world_markdown(rep["world"])
    return "\n".join(lines)


def _cell(text: str) -> str:
    """A Markdown table cell: a '|' inside the text would end the cell."""
    return str(text).replace("|", "\\|")


def _world_markdown(wt: dict) -> list[str]:
    nat, fit, cal = wt["national"], wt["dissimilarity_fit"], wt["calibration"]
    lines = ["## 3. The world of real districts against published figures", "",
             f"The baseline world at full size (scale 1, world seed {wt['world_seed']}): the 13,054 real NCES "
             "districts of data/districts.parquet (data_build/build_districts.py), their schools synthesised to "
             "each district's published figures. The same figures are printed by `equitysim world` and checked by "
             "tests/test_calibration.py; sources in data/SOURCES.md and data/national_benchmarks.csv.", "",
             "### National figures", "",
             "| figure | published | tolerance | world | within | basis |", "|---|---|---|---|---|---|"]
    for r in nat.itertuples():
        lines.append(f"| {_cell(r.figure)} | {_fmt(r.published)} | {_fmt(r.low)} to {_fmt(r.high)} | {_fmt(r.world)} | "
                     f"{'yes' if r.ok else '**no**'} | {_cell(r.basis)} |")
    lines += ["", f"{int(nat.ok.sum())} of {len(nat)} national figures within their tolerance.", "",
              "### Within-district dissimilarity of the synthesised schools", "",
              f"Over the {fit['districts']:,} districts with two or more schools and a published (not filled) "
              "White vs Black+Hispanic dissimilarity (SEDA 2021-22), |synthesised - published|: median "
              f"{fit['median_abs_error']:.2g}, mean {fit['mean_abs_error']:.2g}, 90th percentile "
              f"{fit['p90_abs_error']:.2g}, 99th percentile {fit['p99_abs_error']:.2g}, largest "
              f"{fit['max_abs_error']:.3g}; {fit['share_within_0_01']:.2%} of them within 0.01.", "",
              "### Calibration checks", "",
              "| check | target | band | world | within | basis |", "|---|---|---|---|---|---|"]
    for r in cal.itertuples():
        lines.append(f"| {_cell(r.check)} | {_fmt(r.target)} | {_fmt(r.low)} to {_fmt(r.high)} | {_fmt(r.model)} | "
                     f"{'yes' if r.ok else '**no**'} | {_cell(r.basis)} |")
    lines += ["", f"{int(cal.ok.sum())} of {len(cal)} calibration checks within their band.", ""]
    return lines


def write(path: str | Path, **kw) -> dict:
    rep = report(**kw)
    Path(path).write_text(markdown(rep))
    return rep
