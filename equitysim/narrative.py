"""Every plain-language sentence the package writes for advocates, generated from the numbers.

- vocabulary (data/presentation.toml): `scenario_phrase`, `metric_label`, `metric_phrase`,
  `policy_label`, `likelihood` (unlikely / a toss-up / likely);
- indicators: `sentence`, `indicator_sentences`, `headlines` (the report), `indicator_finding`
  and `trajectory_finding` (chart titles), `expected_met_line` (`equitysim run`);
- sensitivity: `summary_sentences` (Sobol, eFAST, Morris), `describe_box` (scenario discovery);
- sequencing: `describe_difference` (the answers against the roadmap), `tradeoff_title`.

The number of indicators is always the catalogue's (`indicator_count`, from
data/indicators.toml), never written into a sentence by hand.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from functools import cache
from importlib import resources

import pandas as pd

from . import indicators as _ind
from . import params as _params
from .resultsets import load_results, median_change, scale_of, trajectory_bands

# P(met) thresholds that the charts and sentences call unlikely / toss-up / likely.
LIKELY, UNLIKELY = 2 / 3, 1 / 3
_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                 "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
                 "nineteen", "twenty")


# ---------------------------------------------------------------------------- vocabulary
@cache
def words() -> dict:
    """The presentation vocabulary (data/presentation.toml)."""
    return tomllib.loads(resources.files("equitysim").joinpath("data/presentation.toml").read_text())


def indicator_count() -> int:
    """How many success indicators the catalogue (data/indicators.toml) defines."""
    return len(_ind.indicators())


def count_word(n: int) -> str:
    """A count in words up to twenty ('twelve'), in digits above."""
    return _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else str(n)


def scenario_phrase(name: str) -> str:
    """'the roadmap as written', or "the 'my_plan' scenario" for a name the vocabulary lacks."""
    return words()["scenarios"].get(name, f"the '{name}' scenario")


def metric_label(name: str) -> str:
    """A metric's short label ('within-district segregation')."""
    return words()["metrics"].get(name, {}).get("label", name.replace("_", " "))


def metric_phrase(name: str) -> str:
    """The metric as the subject of a sentence ('the share of students in under-funded districts')."""
    m = words()["metrics"].get(name, {})
    return m.get("phrase", "the " + metric_label(name).lower())


def policy_label(name: str) -> str:
    """A state policy's label ('Weighted funding')."""
    return words()["policies"].get(name, name.replace("_", " ").capitalize())


def likelihood(p: float) -> str:
    """'likely' (P >= 2/3), 'a toss-up', or 'unlikely' (P < 1/3)."""
    if p >= LIKELY:
        return "likely"
    return "unlikely" if p < UNLIKELY else "a toss-up"


def capitalize(s: str) -> str:
    """The first letter upper-cased, the rest left alone."""
    return s[:1].upper() + s[1:]


def change_label(x: float) -> str:
    """A relative change (share, -0.03 = 3% down) for a label: one decimal under 1%, a true minus sign."""
    text = f"{x:+.1%}" if abs(x) < 0.01 else f"{x:+.0%}"
    return text.replace("-", "\u2212") + " vs start"


def states_phrase(k: int) -> str:
    """'1 state', '5 states'."""
    return f"{k} state" if k == 1 else f"{k} states"


# ---------------------------------------------------------------------------- indicators
def fmt_n(x: float) -> str:
    """A count or share without a needless '.0'."""
    return f"{x:g}" if x != int(x) else f"{int(x)}"


def indicator_body(ind: _ind.Indicator, scale: float = 1.0) -> str:
    """What meeting the indicator means, as a clause ('at least 15 states introduce ...'), with
    the target scaled to a world `scale` times the US."""
    template = words()["indicators"].get(ind.id, f"{ind.label.lower()} ({ind.target}) by year {{year}}")
    return template.format(n=fmt_n(ind.threshold_at(scale)), pct=fmt_n(round(ind.threshold * 100, 1)),
                           year=ind.horizon_year)


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _interval(lo: float, hi: float) -> str:
    return f"{lo * 100:.0f}\u2013{hi * 100:.0f}%"


def sentence(ind: _ind.Indicator, p: float, lo: float, hi: float, scenario: str, scale: float = 1.0,
             n: int | None = None) -> str:
    """'Under the roadmap as written, at least 15 states introduce funding bills by year 2 in 62%
    of simulated futures (58-66%).' p, lo, hi: P(met) and its interval (shares 0-1). With `n`
    replications, 0% and 100% read 'in none of the n' and 'in all n'."""
    if n and p == 0:
        share = f"in none of the {n} simulated futures"
    elif n and p == 1:
        share = f"in all {n} simulated futures"
    else:
        share = f"in {_pct(p)} of simulated futures"
    return f"Under {scenario_phrase(scenario)}, {indicator_body(ind, scale)} {share} ({_interval(lo, hi)})."


def indicator_sentences(results) -> dict[str, list[tuple[str, float, str]]]:
    """Per scenario: (indicator id, P(met), sentence) for every indicator of the catalogue."""
    res = load_results(results)
    out = {}
    inds = {i.id: i for i in _ind.indicators()}
    for name, r in res.items():
        s = r.summary()
        out[name] = [(row.id, float(row.p_met),
                      sentence(inds[row.id], row.p_met, row.ci_low, row.ci_high, name, scale_of(r), r.replications))
                     for row in s.itertuples()]
    return out


def _headlines_one(name: str, r, s: pd.DataFrame, inds: dict, k: int) -> list[str]:
    """One scenario: how many indicators are likely; the likely indicator with the latest horizon;
    the closest call; the unlikely indicator with the earliest horizon."""
    scale = scale_of(r)
    lik = s[s.p_met >= LIKELY]
    unl = s[s.p_met < UNLIKELY]
    out = [f"Under {scenario_phrase(name)}, {len(lik)} of the {len(inds)} success indicators are "
           f"likely to be met (in at least two thirds of {r.replications} simulated futures) and "
           f"{len(unl)} are unlikely (in under a third); on average {r.expected_met():.1f} are met."]
    picks = []
    if len(lik):
        picks.append(max(lik.index, key=lambda i: (inds[i].horizon_year, lik.loc[i, "p_met"])))
    toss = s[(s.p_met >= UNLIKELY) & (s.p_met < LIKELY)]
    if len(toss):
        picks.append(min(toss.index, key=lambda i: abs(toss.loc[i, "p_met"] - 0.5)))
    if len(unl):
        picks.append(min(unl.index, key=lambda i: (inds[i].horizon_year, unl.loc[i, "p_met"])))
    for i in picks:
        row = s.loc[i]
        out.append(sentence(inds[i], row.p_met, row.ci_low, row.ci_high, name, scale, r.replications))
    return out[:k]


def headlines(results, k: int = 4) -> list[str]:
    """A few sentences worth quoting, chosen by rule from the numbers.

    One scenario: how many indicators are likely; the likely indicator with the latest horizon;
    the closest call; the unlikely indicator with the earliest horizon. Several scenarios: the
    best scenario by expected indicators met, then the indicators on which the scenarios differ
    most (largest gap in P(met))."""
    res = load_results(results)
    inds = {i.id: i for i in _ind.indicators()}
    n_ind = len(inds)
    summ = {n: r.summary().set_index("id") for n, r in res.items()}
    if len(res) == 1:
        (name, r), = res.items()
        return _headlines_one(name, r, summ[name], inds, k)
    exp = {n: r.expected_met() for n, r in res.items()}
    best = max(exp, key=exp.get)
    worst = min(exp, key=exp.get)
    out = [f"{capitalize(scenario_phrase(best))} meets the most indicators: {exp[best]:.1f} of {n_ind} on average "
           f"across simulated futures, against {exp[worst]:.1f} under {scenario_phrase(worst)}."]
    p = pd.DataFrame({n: s["p_met"] for n, s in summ.items()})
    spread = (p.max(axis=1) - p.min(axis=1)).sort_values(ascending=False)
    for i in spread.index[: k - 1]:
        if spread[i] < 0.2:  # differences smaller than this are not a headline
            break
        hi, lo = p.loc[i].idxmax(), p.loc[i].idxmin()
        scale = scale_of(res[hi])
        out.append(f"{capitalize(scenario_phrase(hi))} raises the chance that {indicator_body(inds[i], scale)} to "
                   f"{_pct(p.loc[i, hi])} of simulated futures, from {_pct(p.loc[i, lo])} under "
                   f"{scenario_phrase(lo)}.")
    return out


def expected_met_line(expected: float) -> str:
    """'Expected indicators met: 6.15 of N', N the catalogue's count (`expected`: mean met per run)."""
    return f"Expected indicators met: {expected:.2f} of {indicator_count()}"


# ---------------------------------------------------------------------------- chart titles
def indicator_finding(res) -> str:
    """One sentence: how many indicators are likely under each scenario (a result set)."""
    summ = {n: r.summary().set_index("id") for n, r in res.items()}
    counts = {n: (int((s["p_met"] >= LIKELY).sum()), int((s["p_met"] < UNLIKELY).sum())) for n, s in summ.items()}
    n_ind = indicator_count()
    if len(res) == 1:
        (name, (lik, unl)), = counts.items()
        toss = n_ind - lik - unl
        return (f"{capitalize(scenario_phrase(name))}: {lik} of {n_ind} indicators likely, "
                f"{toss} toss-up{'s' if toss != 1 else ''}, {unl} unlikely")
    exp = {n: r.expected_met() for n, r in res.items()}
    best = max(counts, key=lambda n: (counts[n][0], exp[n]))
    worst = min(counts, key=lambda n: (counts[n][0], exp[n]))
    if counts[best][0] == counts[worst][0]:
        # A tie on likely indicators: say so, and separate them by indicators met on average.
        return (f"Every scenario makes {counts[best][0]} of {n_ind} indicators likely; {scenario_phrase(best)} "
                f"meets the most on average ({exp[best]:.1f}, against {exp[worst]:.1f} under {scenario_phrase(worst)})")
    return (f"{capitalize(scenario_phrase(best))} makes the most indicators likely ({counts[best][0]} of {n_ind}); "
            f"{scenario_phrase(worst)} the fewest ({counts[worst][0]})")


def trajectory_finding(res, metrics: Sequence[str]) -> str:
    """One sentence: the metric that improves most (median future, relative to year 0) under the
    first scenario with trajectories, and its change under the others."""
    with_traj = {n: r for n, r in res.items() if r.trajectories is not None}
    first = next(iter(with_traj))
    changes = {}
    for m in metrics:
        c = median_change(trajectory_bands(with_traj[first].trajectories, m))
        if not math.isnan(c):
            good = words()["metrics"].get(m, {}).get("better", "lower") == "lower"
            changes[m] = -c if good else c
    years = int(with_traj[first].trajectories["year"].max())
    if not changes:
        return f"Roadmap metrics over {years} years under {scenario_phrase(first)}"
    m = max(changes, key=changes.get)
    c = median_change(trajectory_bands(with_traj[first].trajectories, m))
    verb = "falls" if c < 0 else "rises"
    text = f"Under {scenario_phrase(first)}, {metric_phrase(m)} {verb} {abs(c):.0%} in {years} years (median future)"
    others = {n: median_change(trajectory_bands(r.trajectories, m)) for n, r in with_traj.items() if n != first}
    if others:
        text += "; " + ", ".join(f"{n}: {v:+.0%}".replace("-", "\u2212") for n, v in others.items())
    return text


# ---------------------------------------------------------------------------- sensitivity
def parameter_label(name: str) -> str:
    """A registry parameter in words (its description up to the first parenthesis)."""
    p = _params.registry().get(name)
    return (p.description.split(" (")[0] if p else name.replace("_", " "))


def is_zero(row: pd.Series, method: str) -> bool:
    """An effect indistinguishable from zero: its interval reaches zero (or the output is constant)."""
    if row.get("constant", False):
        return True
    if method == "morris":
        return row["mu_star"] - row["mu_star_conf"] <= 0 or row["mu_star"] < 1e-9
    return row["ST"] - row["ST_conf"] <= 0.01


def output_labels() -> dict[str, str]:
    """Sensitivity outputs in words: p_met.<id> and value.<id> for every indicator."""
    labels = {}
    for i in _ind.indicators():
        labels[f"p_met.{i.id}"] = f"Whether {i.phrase}"
        labels[f"value.{i.id}"] = f"{i.label} (year {i.horizon_year}, the measure behind whether {i.phrase})"
    return labels


def _effects(g: pd.DataFrame, method: str, top: int) -> list[str]:
    """The `top` largest effects in one output's indices, in words."""
    if method == "morris":
        live = g.sort_values("mu_star", ascending=False).head(top)
        return [f"{parameter_label(r.parameter)} {'moves it most' if i == 0 else 'comes next'} "
                f"(mu* {r.mu_star:.2f} +- {r.mu_star_conf:.2f}"
                f"{', non-linear or interacting' if r.sigma > r.mu_star else ''})"
                for i, r in enumerate(live.itertuples())]
    parts = []
    for r in g.sort_values("ST", ascending=False).head(top).itertuples():
        lo, hi = max(0.0, r.ST - r.ST_conf), min(1.0, r.ST + r.ST_conf)
        parts.append(f"{parameter_label(r.parameter)} explains about {100 * min(max(r.ST, 0), 1):.0f}% "
                     f"({100 * lo:.0f}-{100 * hi:.0f}%) of the variance")
    return parts


def summary_sentences(indices: pd.DataFrame, method: str, output_labels: dict[str, str] | None = None,
                      top: int = 2) -> list[str]:
    """Plain-language sentences generated from sensitivity indices, one paragraph per output."""
    labels = output_labels or {}
    out = []
    for output, g in indices.groupby("output", sort=False):
        what = labels.get(output, output.replace("_", " "))
        if g["constant"].all():
            out.append(f"{what}: the outcome did not vary across the sampled futures, so no parameter can be "
                       f"said to drive it.")
            continue
        zero = [r.parameter for _, r in g.iterrows() if is_zero(r, method)]
        parts = _effects(g[~g.parameter.isin(zero)], method, top)
        s = f"{what}: " + ("; ".join(parts) if parts else "no parameter has an effect distinguishable from zero")
        if zero:
            s += ". No effect distinguishable from zero: " + ", ".join(parameter_label(z) for z in zero)
        out.append(s + ".")
    return out


def describe_box(found: dict, plan: str, indicator: str) -> str:
    """'When X exceeds a and Y is below b, the plan fails in 78% of futures; 64% of all failures
    fall here.' (`found`: what `sensitivity.discover` returns.)"""
    if not found["box"]:
        return (f"No region of the sampled parameter space stands out: {plan} misses {indicator} in "
                f"{100 * found['base_rate']:.0f}% of futures, spread across the space.")
    conds = []
    for name, (lo, hi) in found["box"].items():
        flo, fhi = found["full_ranges"][name]
        label = parameter_label(name).lower()
        if lo > flo and hi < fhi:
            conds.append(f"{label} is between {lo:.3g} and {hi:.3g}")
        elif lo > flo:
            conds.append(f"{label} exceeds {lo:.3g}")
        else:
            conds.append(f"{label} is below {hi:.3g}")
    return (f"When {' and '.join(conds)}, {plan} misses {indicator} in {100 * found['density']:.0f}% of futures "
            f"(against {100 * found['base_rate']:.0f}% overall); {100 * found['coverage']:.0f}% of all failures "
            f"fall in this region, which holds {100 * found['mass']:.0f}% of the futures.")


# ---------------------------------------------------------------------------- sequencing
def tradeoff_title(table: pd.DataFrame) -> str:
    """The sequencing search chart's title: how the roadmap compares with the best sequencing."""
    r = table[table.is_roadmap]
    best = table.sort_values("expected_met", ascending=False).iloc[0]
    rob = table.sort_values("max_regret").iloc[0]
    road = r.iloc[0] if len(r) else None
    if road is not None and road.candidate == best.candidate == rob.candidate:
        return f"The roadmap as written is both the best and the most robust of {len(table)} sequencings"
    if road is not None and best.expected_met > road.expected_met:
        return (f"The best sequencing meets {best.expected_met - road.expected_met:.1f} more indicators "
                f"than the roadmap on average")
    return f"{len(table)} sequencings: expected value against worst-case regret"


def _differences(spec, row: pd.Series, road: pd.Series) -> list[str]:
    """How a candidate's decisions differ from the roadmap's, as clauses."""
    diffs = []
    for b in spec.blocks:
        a, r = row[f"start.{b.name}"], road[f"start.{b.name}"]
        if a != r:
            diffs.append(f"starts {b.name.replace('_', ' ')} in year {a + 1:g} instead of year {r + 1:g}")
    if row.pace != road.pace:
        diffs.append(f"paces reform at {row.pace:g} instead of {road.pace:g}")
    if row.lead != road.lead:
        diffs.append(f"lets the {row.lead} level lead" if row.lead != "all" else "moves all levels at once")
    if row.first_where != road.first_where:
        diffs.append(f"starts state action in {row.first_where.replace('_', ' ')} states")
    return diffs


def _confirmation_sentences(res) -> list[str]:
    """The answers re-run on fresh runs, against the roadmap, and the indicators behind the gain."""
    out = []
    r = res.confirmed.set_index("answer")
    n = res.spec.confirm_replications
    for label, name in (("best_expected", "highest expected value"), ("most_robust", "most robust")):
        if label == "most_robust" and r.loc[label, "candidate"] == r.loc["best_expected", "candidate"]:
            continue
        x, road_c = r.loc[label], r.loc["roadmap"]
        if x.candidate == road_c.candidate:
            continue
        noise = x.diff_ci_low <= 0 <= x.diff_ci_high
        why = ""
        if res.confirmed_indicators is not None:
            d = (res.confirmed_indicators[label] - res.confirmed_indicators["roadmap"]).sort_values()
            phrase = {i.id: i.phrase or i.label for i in _ind.indicators()}
            parts = [f'"{phrase.get(k, k)}" ({100 * v:+.0f} percentage points)'
                     for k, v in d[::-1].items() if v >= 0.02][:2]
            lost = [f'"{phrase.get(k, k)}" ({100 * v:+.0f})' for k, v in d.items() if v <= -0.02][:1]
            if parts and not noise:
                why = " The gain comes mostly from indicators met more often: " + " and ".join(parts)
                why += (f"; it meets {lost[0]} less often." if lost else ".")
        out.append(
            f"Re-run on {n} fresh runs per future (runs not used to choose it), the sequencing with the {name} "
            f"meets {x.expected_met:.2f} ({x.ci_low:.2f}-{x.ci_high:.2f}) against the roadmap's "
            f"{road_c.expected_met:.2f} ({road_c.ci_low:.2f}-{road_c.ci_high:.2f}): a difference of "
            f"{x.difference_vs_roadmap:+.2f} indicators (95% interval {x.diff_ci_low:+.2f} to {x.diff_ci_high:+.2f}, "
            f"paired run by run)" + (", within simulation noise." if noise else ".") + why)
    return out


def describe_difference(res) -> list[str]:
    """Plain sentences: how the best and the most robust sequencings differ from the roadmap
    (`res`: a `sequencing.SearchResult`), and what their confirmation runs say."""
    out = []
    road = res.roadmap
    n_ind = indicator_count()
    for label, row in (("The sequencing with the highest expected value", res.best_expected),
                       ("The most robust sequencing", res.most_robust)):
        if row is res.most_robust and row.candidate == res.best_expected.candidate:
            out.append("The most robust sequencing (the smallest worst-case regret across futures) is the same one.")
            continue
        diffs = _differences(res.spec, row, road)
        what = "; ".join(diffs) if diffs else "is the roadmap as written"
        if bool(row.get("adaptive", False)):
            what = ("is the roadmap's timetable" if not diffs else what) + f", adapted by the rules {row.rules}"
        out.append(f"{label} {what}. It meets {row.expected_met:.2f} of {n_ind} indicators on average "
                   f"({row.ci_low:.2f}-{row.ci_high:.2f}) against the roadmap's {road.expected_met:.2f} "
                   f"({road.ci_low:.2f}-{road.ci_high:.2f}); its worst-case regret is {row.max_regret:.2f} "
                   f"against the roadmap's {road.max_regret:.2f}.")
    if getattr(res, "best_adaptive", None) is not None:
        a, st = res.best_adaptive, res.best_static
        out.append(f"The best adaptive plan ({a.rules}) meets {a.expected_met:.2f} of {n_ind} indicators on average "
                   f"({a.ci_low:.2f}-{a.ci_high:.2f}) against the best static plan's {st.expected_met:.2f} "
                   f"({st.ci_low:.2f}-{st.ci_high:.2f}); worst-case regret {a.max_regret:.2f} against {st.max_regret:.2f}.")
        h = res.adapting_helps.iloc[0]
        if h.difference > 0:
            out.append(f"Adapting helps most in the future '{h.future}' ({h.difference:+.2f} indicators in the search runs).")
        else:
            out.append(f"In the search runs adapting helps in no future; it costs least in '{h.future}' "
                       f"({h.difference:+.2f} indicators).")
    if res.confirmed is not None:
        out += _confirmation_sentences(res)
    return out


def pathways_title(name: str, runs: int, arrivals: dict) -> str:
    """The pathways chart's finding: the branch most futures reach, and when most reach it
    (`arrivals`: branch -> the year each future first reached it)."""
    if not arrivals:
        return f"In none of {runs} futures did {scenario_phrase(name)} change its sequencing"
    b, years = max(arrivals.items(), key=lambda kv: len(kv[1]))
    when = max(set(years), key=years.count)
    return (f"{capitalize(scenario_phrase(name))}: {len(years) / runs:.0%} of {runs} futures reach '{b}', "
            f"most in year {when:g}")


def adaptations_title(name: str, runs: int, rows: list[dict]) -> str:
    """The adaptations chart's finding: the rule that fired in the most futures."""
    if not rows:
        return f"{capitalize(scenario_phrase(name))} has no adaptation rules"
    top = max(rows, key=lambda a: a["fired_share"])
    if top["fired_share"] == 0:
        return f"No adaptation rule of {scenario_phrase(name)} fired in {runs} futures"
    return (f"{capitalize(scenario_phrase(name))}: '{top['rule'].replace('_', ' ')}' fires in "
            f"{top['fired_share']:.0%} of {runs} futures, first around year {top['mean_first_year']:.1f}")


def parameter_uncertainty_line(split: dict[str, float], p_met: dict[str, float]) -> str:
    """One sentence on where the uncertainty of the indicators that are neither sure nor hopeless
    comes from (the share of the variance of "met" due to parameters, from a nested design)."""
    open_ = {k: v for k, v in split.items() if v == v and 0.0 < p_met.get(k, 0.0) < 1.0}
    if not open_:
        return ""
    know = sorted(k for k, v in open_.items() if v >= 0.6)
    split = sorted(k for k, v in open_.items() if 0.4 < v < 0.6)
    luck = sorted(k for k, v in open_.items() if v <= 0.4)
    parts = []
    if know:
        parts.append(f"most of the uncertainty about {', '.join(know)} is about what we do not know "
                     f"(effect sizes and rates), not luck")
    if split:
        parts.append(f"for {', '.join(split)} it is about evenly knowledge and chance")
    if luck:
        parts.append(f"for {', '.join(luck)} it is mostly chance")
    return "Parameters drawn from the calibrated posterior: " + "; ".join(parts) + "."
