"""The one-page report: sentences a coalition can quote, the charts, the assumptions that matter,
and how to reproduce it, as one self-contained HTML page (images inline, no external assets)
and optionally a PDF handout.

    from equitysim.report import write_report
    write_report({"roadmap": result}, "report.html", pdf=True)

Numbers come from a result set (see `resultsets.load_results`); every sentence is generated
from them by `equitysim.narrative`, never written by hand.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
import platform
import textwrap
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from . import indicators as _ind
from . import params as _params
from . import plots as P
from .narrative import capitalize, fmt_n, headlines, indicator_sentences, likelihood, scenario_phrase
from .resultsets import load_results, scale_of, spec_hash

SENSITIVITY_COLUMNS = ("ST", "S1", "mu_star", "importance")


# ---------------------------------------------------------------------------- uncertainties and assumptions
def read_sensitivity(source) -> pd.DataFrame:
    """A sensitivity result as a table: a `parameter` column and one index column (ST, S1,
    mu_star or importance), optionally an `output` column. Accepts a DataFrame, a CSV/Parquet path,
    or the output directory of `equitysim sensitivity` (its indices.csv)."""
    if isinstance(source, pd.DataFrame):
        df = source.copy()
    else:
        path = Path(source)
        if path.is_dir():  # the output directory of `equitysim sensitivity`
            path = path / "indices.csv"
        try:
            df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        except FileNotFoundError:
            raise ValueError(f"{path}: expected an existing CSV or Parquet file of sensitivity indices") from None
        except Exception as e:
            raise ValueError(f"{path}: expected a readable CSV or Parquet file ({e.__class__.__name__})") from None
    if "parameter" not in df.columns and df.index.name == "parameter":
        df = df.reset_index()
    # The column that holds the indices: the candidate with the most values (a Morris table from
    # `equitysim sensitivity` may also carry an all-zero ST column for constant outputs).
    present = [c for c in SENSITIVITY_COLUMNS if c in df.columns]
    col = max(present, key=lambda c: (int(df[c].notna().sum()), -present.index(c))) if present else None
    if "parameter" not in df.columns or col is None:
        where = "" if isinstance(source, pd.DataFrame) else f"{source}: "
        raise ValueError(f"{where}expected columns 'parameter' and one of {', '.join(SENSITIVITY_COLUMNS)}")
    df = df.rename(columns={col: "index"})
    df.attrs["index_name"] = col
    return df


def decisive_uncertainties(sensitivity, k: int = 2) -> list[dict]:
    """The k parameters with the largest sensitivity index (the largest over outputs when there
    are several), with their registry entries."""
    df = read_sensitivity(sensitivity)
    name = df.attrs["index_name"]
    reg = _params.registry()
    best = df.sort_values("index", ascending=False).drop_duplicates("parameter")
    out = []
    for row in best.head(k).itertuples():
        p = reg.get(row.parameter)
        out.append({"parameter": row.parameter, "index": float(row.index), "index_name": name,
                    "output": getattr(row, "output", None),
                    "description": p.description if p else "(not in the parameter registry)",
                    "unit": p.unit if p else "", "low": p.low if p else math.nan, "high": p.high if p else math.nan,
                    "source": p.source if p else ""})
    return out


def key_assumptions(results, sensitivity=None, k: int = 6) -> tuple[pd.DataFrame, str]:
    """The assumptions that matter most, from the parameter registry, and how they were chosen.

    With a sensitivity result: the k most influential parameters. Without one: the scenario's
    own uncertain parameters first, then registry parameters whose source is an assumption
    (not a study), ranked by the width of their plausible range relative to the default."""
    reg = _params.registry()
    if sensitivity is not None:
        df = read_sensitivity(sensitivity)
        names = list(df.sort_values("index", ascending=False).drop_duplicates("parameter")["parameter"])
        names = [n for n in names if n in reg][:k]
        how = f"the {k} parameters with the largest sensitivity index ({df.attrs['index_name']}) in the sensitivity result given"
    else:
        res = load_results(results)
        flagged = [n for r in res.values() for n in r.spec.uncertainty if n in reg]

        def width(p):
            return (p.high - p.low) / abs(p.default) if p.default else math.inf

        rest = sorted((p for p in reg.values() if p.is_assumption and p.group not in ("world", "structural") and p.name not in flagged),
                      key=width, reverse=True)
        names = list(dict.fromkeys(flagged))[:k]
        names += [p.name for p in rest][: k - len(names)]
        how = ("no sensitivity result was given, so these are the scenario's own uncertain parameters (if any) and "
               "then the registry's assumed (not measured) parameters whose plausible range is widest relative to "
               "the value used; run a sensitivity analysis to rank them by influence")
    rows = [{"parameter": n, "what it is": reg[n].description, "value used": f"{reg[n].default:g} {reg[n].unit}",
             "plausible range": f"{reg[n].low:g} to {reg[n].high:g}", "source": reg[n].source} for n in names]
    return pd.DataFrame(rows), how


# ---------------------------------------------------------------------------- reproducibility
def _version(pkg: str) -> str:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return "unknown"


def reproducibility(results, command: str | None = None) -> dict:
    """Versions, per-scenario seed, replications, scale, scenario file and settings hashes, command."""
    from . import __version__

    res = load_results(results)
    scen = []
    for name, r in res.items():
        known = r.meta.get("spec_known", True)
        scen.append({
            "scenario": name, "replications": r.replications, "seed": r.seed if r.seed is not None else "unknown",
            "scale": scale_of(r) if known else "unknown",
            "scenario file": r.meta.get("scenario_file", "(not recorded)"),
            "scenario file sha256": r.meta.get("scenario_sha256", "(not recorded)"),
            "settings sha256": spec_hash(r.spec) if known else "(unknown)",
        })
    return {"equitysim": __version__, "python": platform.python_version(), "mesa": _version("mesa"),
            "numpy": _version("numpy"), "command": command or "(not recorded)",
            "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "scenarios": scen}


# ---------------------------------------------------------------------------- the page
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1a1a1a;
max-width:1100px;margin:2em auto;padding:0 1.2em;line-height:1.45}
h1{font-size:2em;margin-bottom:.2em}h2{font-size:1.4em;margin-top:1.8em;border-bottom:2px solid #0072B2;padding-bottom:.2em}
.sub{color:#444;margin-top:0}.note{background:#FFF6E0;border-left:4px solid #E69F00;padding:.5em .9em}
.headlines li{font-size:1.25em;margin:.5em 0}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{color:#444;font-size:.95em}
table{border-collapse:collapse;font-size:.92em;width:100%}th,td{border-bottom:1px solid #ddd;padding:.35em .5em;
text-align:left;vertical-align:top}th{background:#f3f6f9}
details{margin:.6em 0}footer{margin-top:2.5em;color:#444;font-size:.88em;border-top:1px solid #ccc;padding-top:.8em}
code{background:#f3f3f3;padding:0 .25em}
"""


def _e(x) -> str:
    return html.escape(str(x))


def _figure(fig, alt: str, caption: str) -> str:
    return (f'<figure><img alt="{_e(alt)}" src="{P.to_data_uri(fig)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def adaptation_table(result) -> pd.DataFrame:
    """Per rule: the share of futures in which it fired and the distribution of its first year."""
    rows = []
    for a, rule in zip(result.adaptations(), result.spec.adapt):
        first = result.runs[f"adapt.{a['rule']}"].dropna() if f"adapt.{a['rule']}" in result.runs else pd.Series([], dtype=float)
        q = first.quantile([0.1, 0.5, 0.9]) if len(first) else None
        rows.append({"rule": a["rule"], "checked": rule.check.replace("_", " "),
                     "fired in (share of futures)": f"{a['fired_share']:.0%}",
                     "first year: 10% / median / 90%": "-" if q is None else " / ".join(f"{v:.2f}" for v in q),
                     "fires per future": f"{a['mean_fires']:.2f}"})
    return pd.DataFrame(rows)


def _table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>" for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def figures(results, map_year: int = 5, map_policies=P.MAP_POLICIES, network_policy: str = "weighted_funding"):
    """The report's figures as (key, Figure, alt text, caption), for whatever the results hold."""
    res = load_results(results)
    out = [("indicators", P.indicator_chart(res), "Chart: probability that each success indicator is met",
            "Each dot is the share of simulated futures in which the indicator is met; the bar is its 95% interval. "
            "Right of the second dashed line: likely; left of the first: unlikely.")]
    if any(r.states is not None for r in res.values()):
        name = next(n for n, r in res.items() if r.states is not None)
        out.append(("map", P.state_map(res, map_policies, year=map_year, scenario=name, ncols=2),
                    "Map: share of futures in which each state has each policy in force",
                    f"One square per state (and DC), {scenario_phrase(name)}: the darker, the more simulated "
                    f"futures in which the state has the policy in force at the end of year {map_year}."))
        out.append(("network", P.diffusion_network(res, network_policy, scenario=name),
                    "Network: how the policy spreads across bordering states",
                    "States that share a border are joined; arrows show which neighbour usually moves first."))
    adaptive = [n for n, r in res.items() if r.spec.adapt]
    if adaptive:
        out.append(("pathways", P.pathways_chart(res, scenario=adaptive[0]),
                    "Chart: adaptation pathways, the sequencing branches futures take over time",
                    f"{capitalize(scenario_phrase(adaptive[0]))}: one line per sequencing branch (the plan as written "
                    "and each fallback); the wider the line, the more futures are on it; markers show where futures "
                    "switch, sized by the share switching then."))
        out.append(("adaptations", P.adaptations_chart(res, scenario=adaptive[0]),
                    "Chart: how often each adaptation rule fired and when it first did",
                    "Bars: share of futures in which each rule fired. Dots: the year it first fired in each "
                    "future (the black bar holds the middle half)."))
    if any(r.trajectories is not None for r in res.values()):
        out.append(("trajectories", P.trajectory_chart(res), "Charts: roadmap metrics over ten years",
                    "The line is the median future; bands hold the middle 50% and 90% of futures."))
    return out


def build_report(results, sensitivity=None, command: str | None = None, map_year: int = 5,
                 title: str | None = None, figs=None) -> str:
    """The report as one self-contained HTML page (a string)."""
    res = load_results(results)
    names = list(res)
    figs = figs if figs is not None else figures(res, map_year=map_year)
    heads = headlines(res)
    sentences = indicator_sentences(res)
    assumptions, how = key_assumptions(res, sensitivity)
    rep = reproducibility(res, command)
    title = title or ("What the simulation says: " + ", ".join(scenario_phrase(n) for n in names))
    reps = sorted({r.replications for r in res.values()})
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>",
             f"<h1>{_e(capitalize(title))}</h1>",
             f"<p class='sub'>{'/'.join(map(str, reps))} simulated futures{' per scenario' if len(res) > 1 else ''} "
             f"of a ten-year campaign "
             f"across the 50 states and DC, the 13,054 real school districts and their 84,700 schools (equitysim).</p>"]
    scales = {scale_of(r) for r in res.values() if r.meta.get("spec_known", True)}
    if scales - {1.0}:
        s = sorted(scales - {1.0})[0]
        ex = next(i for i in _ind.indicators() if i.scales_with_world)
        parts.append(f"<p class='note'>These runs used a world {s:g} times the size of the US; district and region "
                     f"targets are scaled to match (for example {ex.target} becomes {fmt_n(ex.threshold_at(s))}). "
                     f"Run at scale 1 for figures to quote.</p>")
    for r in res.values():
        if r.meta.get("note"):
            parts.append(f"<p class='note'>{_e(r.meta['note'])}.</p>")
    parts.append("<h2>Headlines</h2><ul class='headlines'>" + "".join(f"<li>{_e(h)}</li>" for h in heads) + "</ul>")
    from .narrative import parameter_uncertainty_line
    for name, r in res.items():   # runs that drew their parameters from a calibration's posterior
        split = r.variance_from_parameters() if hasattr(r, "variance_from_parameters") else {}
        line = parameter_uncertainty_line(split, dict(zip(r.summary()["id"], r.summary()["p_met"]))) if split else ""
        if line:
            parts.append(f"<p class='note'>{_e(capitalize(scenario_phrase(name)))}: {_e(line)}</p>")
    fig_by = {k: (f, a, c) for k, f, a, c in figs}
    parts.append("<h2>How likely is each success indicator?</h2>")
    if "indicators" in fig_by:
        parts.append(_figure(*fig_by["indicators"]))
    if "map" in fig_by:
        parts.append(f"<h2>Where: the states, by year {map_year}</h2>" + _figure(*fig_by["map"]))
    if "network" in fig_by:
        parts.append(_figure(*fig_by["network"]))
    if "pathways" in fig_by:
        parts.append("<h2>How the plan adapted</h2>" + _figure(*fig_by["pathways"]) + _figure(*fig_by["adaptations"]))
        for name, r in res.items():
            if r.spec.adapt:
                parts.append(_table(adaptation_table(r)))
    if "trajectories" in fig_by:
        parts.append("<h2>Over ten years: the roadmap's metrics</h2>" + _figure(*fig_by["trajectories"]))
    panel = district_panel(res)
    if panel:
        parts.append("<h2>What districts did</h2><p>The practitioner's cycle inside every district, means per "
                     "simulated future: programs scaled, refined, replaced or abandoned on the district's own "
                     "results, districts that moved equity into their core processes (a lens), and the mean "
                     "fidelity and burnout of districts running programs.</p>" + panel)
    parts.append("<h2>Every indicator, in a sentence</h2>")
    for name, rows in sentences.items():
        items = "".join(f"<li>{_e(s)} <em>({likelihood(p)})</em></li>" for _, p, s in rows)
        parts.append(f"<details{' open' if len(sentences) == 1 else ''}><summary>{_e(capitalize(scenario_phrase(name)))}"
                     f"</summary><ul>{items}</ul></details>")
    if sensitivity is not None:
        parts.append("<h2>The two most decisive uncertainties</h2><ol>")
        for u in decisive_uncertainties(sensitivity):
            out = f" for {u['output']}" if u.get("output") else ""
            parts.append(f"<li><strong>{_e(u['description'])}</strong> (<code>{_e(u['parameter'])}</code>, "
                         f"plausible range {u['low']:g} to {u['high']:g} {_e(u['unit'])}): sensitivity index "
                         f"{u['index_name']} = {u['index']:.2f}{_e(out)}. Source: {_e(u['source'])}</li>")
        parts.append("</ol>")
    parts.append("<h2>The assumptions that matter most</h2>"
                 f"<p>Chosen as {_e(how)}. Every parameter, with its source, is in "
                 "<code>equitysim params</code> (docs/parameters.md).</p>" + _table(assumptions))
    rows = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in s.values()) + "</tr>" for s in rep["scenarios"])
    head = "".join(f"<th>{_e(k)}</th>" for k in rep["scenarios"][0])
    parts.append("<footer><strong>Reproduce this page.</strong> "
                 f"equitysim {_e(rep['equitysim'])}, Python {_e(rep['python'])}, Mesa {_e(rep['mesa'])}, "
                 f"numpy {_e(rep['numpy'])}; generated {_e(rep['generated'])}.<br>Command: "
                 f"<code>{_e(rep['command'])}</code>"
                 f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
                 "<p>The same scenario file, seed and number of replications give the same numbers on any "
                 "machine and with any number of workers.</p></footer></body></html>")
    return "\n".join(parts)


DISTRICT_COLUMNS = {"programs_scaled": "scaled", "programs_refined": "refined", "programs_replaced": "replaced",
                    "programs_abandoned": "abandoned", "moved_to_lens": "moved to a lens",
                    "mean_fidelity": "mean fidelity", "mean_burnout": "mean burnout"}


def district_panel(res) -> str:
    """A small table of what districts did per scenario ('' when the results carry no record)."""
    rows = []
    for name, r in res.items():
        runs = getattr(r, "runs", None)
        if runs is None or not any(f"district.{k}" in runs for k in DISTRICT_COLUMNS):
            continue
        row = {"scenario": name}
        for k, label in DISTRICT_COLUMNS.items():
            v = float(runs[f"district.{k}"].mean()) if f"district.{k}" in runs else float("nan")
            row[label] = "n/a" if v != v else (f"{v:.2f}" if k.startswith("mean_") else f"{v:.1f}")
        rows.append(row)
    return _table(pd.DataFrame(rows)) if rows else ""


def _text_page(pdf, title: str, paragraphs: list[str], size=(8.27, 11.69)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    y = 0.94
    fig.text(0.07, y, textwrap.fill(title, 60), fontsize=17, fontweight="bold", va="top")
    y -= 0.04 * (len(textwrap.wrap(title, 60)) + 0.5)
    for para in paragraphs:
        lines = textwrap.wrap(para, 88) or [""]
        if y - 0.022 * len(lines) < 0.04:
            pdf.savefig(fig)
            fig = Figure(figsize=size)
            y = 0.95
        fig.text(0.07, y, "\n".join(lines), fontsize=10.5, va="top", linespacing=1.4)
        y -= 0.0195 * len(lines) + 0.018
    pdf.savefig(fig)


def write_pdf(results, path, sensitivity=None, command=None, map_year: int = 5, figs=None) -> Path:
    """A PDF handout: the headlines, then each chart on its own page, then assumptions and footer."""
    from matplotlib.backends.backend_pdf import PdfPages

    res = load_results(results)
    figs = figs if figs is not None else figures(res, map_year=map_year)
    path = Path(path)
    assumptions, how = key_assumptions(res, sensitivity)
    rep = reproducibility(res, command)
    with PdfPages(path) as pdf:
        _text_page(pdf, "What the simulation says: " + ", ".join(scenario_phrase(n) for n in res),
                   ["\u2022 " + h for h in headlines(res)])
        for _, fig, _, caption in figs:
            pdf.savefig(fig, bbox_inches="tight")
        paras = [f"Chosen as {how}."]
        paras += [f"{r['parameter']}: {r['what it is']}; value used {r['value used']}, plausible range "
                  f"{r['plausible range']}. Source: {r['source']}" for r in assumptions.to_dict("records")]
        paras += ["", f"Reproduce: equitysim {rep['equitysim']}, Python {rep['python']}, Mesa {rep['mesa']}; "
                      f"command: {rep['command']}"]
        paras += ["; ".join(f"{k}: {v}" for k, v in s.items()) for s in rep["scenarios"]]
        _text_page(pdf, "The assumptions that matter most", paras)
    return path


def write_report(results, out, pdf: bool = False, sensitivity=None, command: str | None = None,
                 map_year: int = 5) -> list[Path]:
    """Write the HTML report to `out` (and, with `pdf`, the handout beside it as .pdf)."""
    res = load_results(results)
    figs = figures(res, map_year=map_year)
    out = Path(out)
    out.write_text(build_report(res, sensitivity, command, map_year, figs=figs), encoding="utf-8")
    written = [out]
    if pdf:
        written.append(write_pdf(res, out.with_suffix(".pdf"), sensitivity, command, map_year, figs=figs))
    return written
