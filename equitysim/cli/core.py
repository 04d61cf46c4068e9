"""`equitysim run`, `validate`, `params` and `world`: the model's own commands."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..narrative import expected_met_line
from ..progress import progress_bar
from ..scenario import load_scenario
from .present import output_file  # checks run --report's path before any work

SCENARIO = click.Path(path_type=Path)


@click.command()
@click.argument("scenario", type=SCENARIO)
@click.option("--replications", "-n", type=click.IntRange(min=1), default=200, show_default=True,
              help="Number of replications")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True, help="Master seed")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes")
@click.option("--scale", type=click.FloatRange(0.001, 20), default=None,
              help="World scale (default: the scenario's, normally 1.0 = the real US)")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Also write one row per replication to this Parquet file")
@click.option("--report", type=click.Path(path_type=Path, dir_okay=False), default=None,
              callback=output_file,
              help="Also write a self-contained HTML report (charts, sentences, state map) to this file")
@click.option("--parameters", "parameters", default="posterior", show_default=True, metavar="posterior|defaults|DIR",
              help="Where each replication's parameters come from: the shipped posterior of the calibration to "
                   "history (one draw per replication, the same in every scenario), the registry defaults, or a "
                   "calibration directory (equitysim calibrate --out DIR)")
def run(scenario, replications, seed, jobs, scale, as_json, out, report, parameters):
    """Run a scenario and print P(indicator met) with 95% Wilson intervals."""
    from ..posterior import load as load_parameters

    source = load_parameters(parameters)
    spec = load_scenario(scenario)
    if scale is not None:
        spec = spec.model_copy(update={"scale": scale})
    from ..ensemble import run as run_ensemble

    with progress_bar(replications, spec.name) as advance:
        result = run_ensemble(spec, replications, seed=seed, jobs=jobs, progress=advance,
                              trajectories=report is not None, states=report is not None, parameters=source)
    if out is not None:
        result.runs.to_parquet(out)
    if report is not None:
        from .present import write_run_report
        write_run_report(click.get_current_context(), result, scenario, report)
    if as_json:
        click.echo(json.dumps(result.to_json()))
        return
    _print_table(result)


def _print_table(result):
    from rich.console import Console
    from rich.table import Table

    s = result.summary()
    t = Table(title=f"{result.spec.name}: {result.replications} replications, seed {result.seed}, "
                    f"scale {result.spec.scale:g}, parameters {result.meta.get('parameters', 'scenario')}")
    t.add_column("indicator", no_wrap=True)
    t.add_column("target", no_wrap=True)
    for col in ("year", "P(met)", "95% CI"):
        t.add_column(col, justify="right", no_wrap=True)
    split = result.variance_from_parameters()
    if split:
        t.add_column("from params", justify="right", no_wrap=True)
    for r in s.itertuples():
        cells = [r.id, r.target, str(r.horizon_year), f"{r.p_met:.2f}", f"{r.ci_low:.2f}-{r.ci_high:.2f}"]
        if split:
            v = split[r.id]
            cells.append("-" if v != v else f"{v:.0%}")
        t.add_row(*cells)
    con = Console(width=max(110, Console().width))
    con.print(t)
    if split:
        from ..narrative import parameter_uncertainty_line
        line = parameter_uncertainty_line(split, {r.id: r.p_met for r in s.itertuples()})
        if line:
            con.print(line)
    con.print(expected_met_line(result.expected_met()))
    ms = result.milestones()
    if len(ms):
        m = Table(title="Roadmap milestones (the catalogue's per-action targets; evaluation only)")
        m.add_column("milestone", no_wrap=True)
        for col in ("target", "year", "P(met)", "95% CI"):
            m.add_column(col, justify="right", no_wrap=True)
        for r in ms.itertuples():
            m.add_row(r.id, f"{r.target:g} {r.unit}s", str(r.year), f"{r.p_met:.2f}", f"{r.ci_low:.2f}-{r.ci_high:.2f}")
        con.print(m)
    ad = result.adaptations()
    if ad:
        a = Table(title="Adaptation rules: share of runs in which each fired, and when it first did")
        a.add_column("rule", no_wrap=True)
        for col in ("fired (share of runs)", "mean first year", "mean fires per run"):
            a.add_column(col, justify="right", no_wrap=True)
        for x in ad:
            a.add_row(x["rule"], f"{x['fired_share']:.2f}",
                      "-" if x["mean_first_year"] is None else f"{x['mean_first_year']:.2f}", f"{x['mean_fires']:.2f}")
        con.print(a)
    con.print("Mean risk events per replication: " + ", ".join(
        f"{k.replace('_', ' ')} {v:.1f}" for k, v in result.risks().items()))


@click.command()
@click.argument("scenario", type=SCENARIO)
def validate(scenario):
    """Check a scenario file against the schema and the catalogue."""
    spec = load_scenario(scenario)
    click.echo(f"{scenario}: ok ({spec.name}: {len(spec.sequence)} sequence entries, "
               f"{len(spec.parameters)} parameter overrides"
               + (f", {len(spec.adapt)} adaptation rules, {len(spec.fallbacks)} fallback sequencings" if spec.adapt else "")
               + ")")


@click.command()
@click.option("--markdown", is_flag=True, help="Print docs/parameters.md")
@click.option("--json", "as_json", is_flag=True, help="Print the registry as JSON")
@click.option("--salib", is_flag=True,
              help="Print a SALib problem (one JSON object; SALib's ProblemSpec(json.load(f)) reads it)")
@click.option("--names", default=None, metavar="A,B,C",
              help="With --salib: comma-separated registry parameters (default: those the default "
                   "experiment design varies)")
def params(markdown, as_json, salib, names):
    """The parameter registry: name, unit, default, range, source."""
    from .. import params as P

    if names is not None and not salib:
        raise click.UsageError("--names: expected --salib with it (--names chooses the SALib problem's parameters)")
    if salib:
        from ..interop import InteropError, salib_problem_dict

        if names is not None and not [x for x in names.split(",") if x.strip()]:
            raise click.BadParameter("expected comma-separated registry parameter names, got an empty list",
                                     param_hint="'--names'")
        try:
            problem = salib_problem_dict(names)
        except InteropError as e:
            raise click.BadParameter(str(e).removeprefix("parameters: "), param_hint="'--names'") from None
        click.echo(json.dumps(problem))
        return
    if markdown:
        click.echo(P.markdown(), nl=False)
        return
    if as_json:
        click.echo(P.table().to_json(orient="records"))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title="equitysim parameters", show_lines=False)
    for col in ("name", "unit", "default", "range", "dist", "source"):
        t.add_column(col, overflow="fold")
    for p in P.registry().values():
        t.add_row(p.name, p.unit, f"{p.default:g}", f"{p.low:g}-{p.high:g}", p.dist, p.source)
    Console().print(t)


@click.command()
@click.option("--scale", type=click.FloatRange(0.001, 20), default=1.0, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=2027, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout")
@click.option("--state", "state", default=None, metavar="XX", help="Print the baseline of one state (USPS code)")
@click.option("--district", "district", default=None, metavar="ID|NAME",
              help="Print the baseline of one real district (7-digit NCES LEA id, or name; 'Name, ST' when names repeat)")
def world(scale, seed, as_json, state, district):
    """Summarise the baseline world of real districts, its calibration, or one state or district."""
    if state is not None and district is not None:
        raise click.UsageError("--state and --district: expected one of them, not both")
    if state is not None or district is not None:
        return _place(scale, seed, as_json, state, district)
    from ..baseline import by_state, calibration, national_figures, world_summary
    from ..world import build_world

    s = world_summary(scale, seed)
    if as_json:
        click.echo(json.dumps(s))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console(width=max(120, Console().width))
    con.print(f"states {s['states']}, districts {s['districts']:,} (all real: NCES LEA ids), schools "
              f"{s['schools']:,}, students {s['students']:,} (data year {s['source_year']}, scale {scale:g}, seed {seed})")
    f = s["dissimilarity_fit"]
    con.print(f"synthesised schools vs each district's published dissimilarity ({f['districts']:,} districts with "
              f"two or more schools): median |error| {f['median_abs_error']:.4f}, 90th percentile "
              f"{f['p90_abs_error']:.4f}, max {f['max_abs_error']:.3f}; {100 * f['share_within_0_01']:.1f}% within 0.01")
    con.print(f"median within-district dissimilarity (districts above 0) {s['dissimilarity_median']:.3f}; "
              f"model's Black/white suspension ratio {s['suspension_ratio_black_white']:.2f}")
    nat = Table("national figure", "world", "published", "tolerance", "ok", "published figure",
                title="National figures of the real-district world" + (f" (counts / scale {scale:g})" if scale != 1 else ""))
    for r in national_figures(build_world(scale, seed)).itertuples():
        nat.add_row(r.figure, f"{r.world:,.3f}", f"{r.published:,.3f}", f"{r.low:,.3f} to {r.high:,.3f}",
                    "yes" if r.ok else "NO", r.basis)
    con.print(nat)
    cal = Table("calibration check", "model", "target", "tolerance", "ok", "target from",
                title="Calibration (data/SOURCES.md, data/national_benchmarks.csv)")
    for r in calibration(scale, seed).itertuples():
        cal.add_row(r.check, f"{r.model:,.3f}", f"{r.target:,.3f}", f"{r.low:,.3f} to {r.high:,.3f}",
                    "yes" if r.ok else "NO", r.basis)
    con.print(cal)
    if scale != 1.0:
        con.print("The national tolerances apply to the full-size world (scale 1); a subsample of real districts "
                  "has sampling error (large districts weigh heavily in the AP and segregation figures).")
    t = Table("state", "per-pupil $", "districts", "schools", "students", "students (states.csv)",
              title="By state (world: the real districts; states.csv also counts charter agencies and state-run schools)")
    for code, row in by_state(scale, seed).iterrows():
        t.add_row(code, f"{row.per_pupil:,.0f}", f"{row.districts:,}", f"{row.schools:,}", f"{row.students:,}",
                  f"{row.students_data:,}")
    con.print(t)


def _place(scale, seed, as_json, state, district):
    from ..places import PlaceError, district_baseline, state_baseline
    from ..world import build_world

    w = build_world(scale, seed)
    try:
        out = state_baseline(w, state) if state is not None else district_baseline(w, district)
    except PlaceError as e:
        raise click.BadParameter(str(e), param_hint="'--state'" if state is not None else "'--district'") from None
    if as_json:
        click.echo(json.dumps(out))
        return
    pct = lambda x: "n/a" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    sh = out["race_shares"]
    mix = ", ".join(f"{g} {100 * v:.1f}%" for g, v in sh.items())
    susp = ", ".join(f"{g} {pct(v)}" for g, v in out["suspension_rates_2020_21"].items())
    ap = ", ".join(f"{g} {pct(v)}" for g, v in out["ap_rates_2020_21"].items())
    lines = []
    if state is not None:
        lines += [f"{out['name']} ({out['state']}): {out['districts']:,} real districts, {out['schools']:,} schools, "
                  f"{out['students']:,} students in them (states.csv: {out['students_states_csv']:,} incl. charter "
                  f"agencies){'' if scale == 1 else f'; world scale {scale:g}'}",
                  f"students: {mix}",
                  f"per-pupil current spending ${out['per_pupil_state']:,.0f} (state mean, 2020-21); districts' 10th-90th "
                  f"percentile ${out['per_pupil_districts_p10_p90'][0]:,.0f}-${out['per_pupil_districts_p10_p90'][1]:,.0f}",
                  f"within-district dissimilarity (enrollment-weighted) {out['dissimilarity_within_weighted']:.3f}; "
                  f"{out['diverse_districts']:,} districts diverse enough for integration plans; {out['regions']} regions "
                  f"({len(out['metro_regions'])} metropolitan areas)",
                  f"out-of-school suspension 2020-21 (CRDC): {susp}; Black/White ratio "
                  + ("n/a" if out["suspension_ratio_black_white_2020_21"] is None
                     else f"{out['suspension_ratio_black_white_2020_21']:.2f}"),
                  f"AP participation 2020-21 (CRDC): {ap}",
                  f"children in poverty (ACS 2018-22) {out['child_poverty_pct']:.1f}%; political climate "
                  f"{out['climate']:.2f}{', roadmap favorable state' if out['favorable'] else ''}"
                  f"{', school-finance litigation pending' if out['litigation_pending'] else ''}",
                  "filled values (documented rules, data/SOURCES.md): "
                  + ", ".join(f"{k} {v}" for k, v in out["filled"].items() if v),
                  "largest districts:"]
        lines += [f"  {d['leaid']} {d['name']}: {d['students']:,} students, {d['schools']} schools, "
                  f"dissimilarity {d['dissimilarity']:.3f}; {d['region_name']}" for d in out["largest_districts"]]
    else:
        lines += [f"{out['name']} ({out['state']}, NCES {out['leaid']}): {out['students']:,} students, "
                  f"{out['schools']} schools",
                  f"students: {mix}",
                  f"per-pupil current spending ${out['spend_per_pupil_f33_2020_21']:,.0f} (F-33 2020-21); in the model "
                  f"${out['spend_per_pupil_model']:,.0f} (state mean x the district's ratio to it)",
                  f"within-district dissimilarity: published {out['dissimilarity_published']:.3f} (SEDA 2021-22), "
                  f"synthesised schools {out['dissimilarity_schools']:.3f}; schools' Black+Hispanic share "
                  f"{100 * out['school_minority_share_range'][0]:.0f}-{100 * out['school_minority_share_range'][1]:.0f}%",
                  f"out-of-school suspension 2020-21 (CRDC, students without disabilities): {susp}",
                  f"AP participation 2020-21 (CRDC): {ap}",
                  f"children in poverty (ACS 2018-22) {out['child_poverty_pct']:.1f}%; region: {out['region_name']} "
                  f"({out['region_districts']} districts); "
                  + ("eligible for integration plans" if out["diverse"] else "not eligible for integration plans "
                     "(needs two or more schools and 20-80% Black+Hispanic students)"),
                  "filled values: " + (", ".join(out["filled"]) if out["filled"] else "none")]
    click.echo("\n".join(lines))
