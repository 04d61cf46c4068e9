"""The one-page report about one state (`equitysim report ... --state XX`): its real districts at
baseline, its map, and the state-level indicators of the simulated futures (the share of futures
in which the state has each roadmap policy in force, year by year), as one self-contained HTML
page. Numbers come from the world (places.state_baseline) and the result set; nothing is written
by hand.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from . import plots as P
from .narrative import capitalize, policy_label, scenario_phrase
from .places import state_baseline
from .report import CSS, _figure, _table, reproducibility
from .resultsets import load_results


def _e(x) -> str:
    return html.escape(str(x))


def _world_of(r):
    from .model import world_for
    from .world import build_world

    spec = getattr(r, "spec", None)
    if spec is not None and r.meta.get("spec_known", True):
        return world_for(spec)
    return build_world(1.0)


def state_policy_table(res, code: str, policies=P.MAP_POLICIES) -> pd.DataFrame:
    """Per scenario and policy: the share of futures in which state `code` has the policy in force
    at the end of each recorded year, and the median year it is first enacted (in the futures
    where it is)."""
    rows = []
    for name, r in res.items():
        if r.states is None:
            continue
        years = sorted(set(int(y) for y in r.states["year"]))
        for p in policies:
            if not (r.states["policy"] == p).any():
                continue
            row = {"scenario": scenario_phrase(name), "policy": policy_label(p)}
            for y in years:
                row[f"year {y}"] = f"{r.state_share(p, y)[code]:.0%}"
            first = r.first_enacted(p)[code]
            row["enacted in (share of futures)"] = f"{first.notna().mean():.0%}"
            row["median first year"] = "-" if first.isna().all() else f"{np.nanmedian(first):g}"
            rows.append(row)
    return pd.DataFrame(rows)


def build_state_report(results, code: str, map_year: int = 5, command: str | None = None) -> str:
    """The state page as one self-contained HTML string (PlaceError for an unknown state)."""
    res = load_results(results)
    first = next(iter(res.values()))
    w = _world_of(first)
    b = state_baseline(w, code)
    code = b["state"]
    sh = b["race_shares"]
    pct = lambda x: "n/a" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    title = f"{b['name']}: its districts and its simulated future"
    reps = sorted({r.replications for r in res.values()})
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>",
             f"<h1>{_e(title)}</h1>",
             f"<p class='sub'>{'/'.join(map(str, reps))} simulated futures of "
             f"{_e(', '.join(scenario_phrase(n) for n in res))}, on a world of the real US school districts "
             f"(equitysim; world scale {w.scale:g}).</p>",
             "<h2>The state at baseline</h2><ul>",
             f"<li>{b['districts']:,} school districts with {b['schools']:,} schools and {b['students']:,} students"
             + (f" (all public students, incl. charter agencies: {b['students_states_csv']:,})" if w.scale == 1 else
                f" in this world's sample of the state's real districts (scale {w.scale:g})") + ".</li>",
             f"<li>Students: White {100 * sh['white']:.1f}%, Black {100 * sh['black']:.1f}%, Hispanic "
             f"{100 * sh['hispanic']:.1f}%, other {100 * sh['other']:.1f}%. Children in poverty: "
             f"{b['child_poverty_pct']:.1f}%.</li>",
             f"<li>Current spending per pupil ${b['per_pupil_state']:,.0f} (2020-21); the middle 80% of districts spend "
             f"${b['per_pupil_districts_p10_p90'][0]:,.0f} to ${b['per_pupil_districts_p10_p90'][1]:,.0f}.</li>",
             f"<li>Segregation between schools within districts: {b['dissimilarity_within_weighted']:.2f} "
             f"(dissimilarity, White vs Black and Hispanic students, enrollment-weighted); "
             f"{b['diverse_districts']:,} districts are diverse enough for integration plans.</li>",
             "<li>Out-of-school suspensions 2020-21: "
             + ", ".join(f"{g} {pct(v)}" for g, v in b["suspension_rates_2020_21"].items())
             + " of students (a year of much remote instruction). AP participation: "
             + ", ".join(f"{g} {pct(v)}" for g, v in b["ap_rates_2020_21"].items()) + ".</li>",
             f"<li>Political climate for equity reform at the start: {b['climate']:.2f} (0-1)"
             f"{'; a roadmap favorable state' if b['favorable'] else ''}"
             f"{'; school-finance litigation pending' if b['litigation_pending'] else ''}.</li></ul>"]
    largest = pd.DataFrame([{"NCES id": d["leaid"], "district": d["name"], "students": f"{d['students']:,}",
                             "schools": d["schools"], "dissimilarity": f"{d['dissimilarity']:.2f}"}
                            for d in b["largest_districts"]])
    parts.append("<h3>Largest districts</h3>" + _table(largest))
    tab = state_policy_table(res, code)
    if len(tab):
        parts.append(f"<h2>{_e(code)}'s state-level indicators: the roadmap's policies in force</h2>"
                     "<p>Share of simulated futures in which the state has each policy in force at the end of each "
                     "year.</p>" + _table(tab))
        name = next(n for n, r in res.items() if r.states is not None)
        fig = P.state_map(res, P.MAP_POLICIES, year=map_year, scenario=name, ncols=3)
        parts.append(f"<h2>The map, year {map_year}</h2>" + _figure(
            fig, f"Map: share of futures in which each state has each policy in force, {code} among them",
            f"One square per state; {code}'s square shows the figures in the table above for year {map_year}."))
    else:
        parts.append("<p class='note'>These results hold no per-state record (run scenario files, or save results "
                     "with their state records), so the state's own indicators are not shown.</p>")
    filled = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in b["filled"].items() if v)
    parts.append(f"<p class='note'>Sources: data/SOURCES.md (CCD 2022-23 enrollment, CRDC 2020-21, F-33 2020-21, "
                 f"SEDA 2021-22, ACS 2018-22). Values filled by a documented rule in this state's districts: "
                 f"{_e(filled or 'none')}.</p>")
    rep = reproducibility(res, command)
    parts.append(f"<footer><strong>Reproduce this page.</strong> equitysim {_e(rep['equitysim'])}; generated "
                 f"{_e(rep['generated'])}.<br>Command: <code>{_e(rep['command'])}</code></footer></body></html>")
    return "\n".join(parts)


def write_state_report(results, code: str, out, map_year: int = 5, command: str | None = None):
    from pathlib import Path

    out = Path(out)
    out.write_text(build_state_report(results, code, map_year=map_year, command=command), encoding="utf-8")
    return [out]


__all__ = ["build_state_report", "state_policy_table", "write_state_report", "capitalize"]
