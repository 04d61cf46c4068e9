"""`equitysim sweep`, `summarize` and `compare`: experiments at scale from the command line.

Bad input (an experiment file, a results directory, a flag) ends with one line on stderr and exit
code 2 (ExperimentError is a ScenarioError, which `cli.main` turns into that line).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..progress import ProgressBar

PATH = click.Path(path_type=Path)


@click.command()
@click.argument("experiment", type=PATH)
@click.option("--out", "-o", type=PATH, required=True, help="Results directory (Parquet chunks + experiment.json)")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (dask/ray: local workers when no --address)")
@click.option("--backend", type=click.Choice(["loky", "dask", "ray"]), default="loky", show_default=True,
              help="Where chunks run: joblib's loky, a dask cluster or ray")
@click.option("--address", default=None, help="Scheduler to connect to (dask: tcp://host:8786; ray: host:6379)")
@click.option("--resume", is_flag=True, help="Continue a sweep in --out: run only the chunks not on disk")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no closing line")
def sweep(experiment, out, jobs, backend, address, resume, quiet):
    """Run an experiment: scenarios x design points x replications, streamed to Parquet."""
    from .. import experiments as E

    exp = E.load_experiment(experiment)
    E.check_backend(backend, address)
    bar = ProgressBar(exp.spec.name, not quiet)
    try:
        report = E.sweep(exp, out, jobs=jobs, backend=backend, address=address, resume=resume,
                         on_start=bar.start, progress=bar.advance)
    except KeyboardInterrupt:
        bar.stop()
        st = E.status(out) if E.ResultStore(out).exists() else None
        if st:
            click.echo(f"equitysim sweep: interrupted with {st['runs']} of {st['runs_total']} runs on disk in "
                       f"{out}; continue with --resume", err=True)
        raise
    finally:
        bar.stop()
    if not quiet and report.runs_done == 0:
        click.echo(f"equitysim sweep: nothing to run: all {report.runs_total} runs are already in {out}", err=True)
    elif not quiet:
        where = f"{jobs} {backend} worker{'s' if jobs > 1 else ''}" if not address else f"{backend} at {address}"
        prior = f" ({report.runs_before} already on disk)" if report.runs_before else ""
        click.echo(f"equitysim sweep: {report.runs_done} runs in {report.seconds:.1f} s ({report.rate:.2f} runs/s) "
                   f"on {where}{prior}; {report.runs_before + report.runs_done} of {report.runs_total} runs in {out}",
                   err=True)


@click.command()
@click.argument("results", type=PATH)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout")
@click.option("--half-width", type=click.FloatRange(0.001, 0.5), default=0.02, show_default=True,
              help="Target half-width of the 95% interval, for the replications-needed column")
def summarize(results, as_json, half_width):
    """P(met) per scenario x indicator with 95% Wilson intervals, and the runs needed for +-2 points."""
    from .. import experiments as E

    s = E.summarize(results, half_width=half_width)
    st = E.status(results)
    needed = s.groupby("indicator", sort=False)["n_needed"].max()
    if as_json:
        rows = [{"scenario": r.scenario, "indicator": r.indicator, "p_met": _num(r.p_met),
                 "ci_low": _num(r.ci_low), "ci_high": _num(r.ci_high), "n": int(r.n)} for r in s.itertuples()]
        click.echo(json.dumps({"rows": rows, "half_width": half_width,
                               "replications_needed": {k: (None if v != v else int(v)) for k, v in needed.items()}}))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console(width=max(100, Console().width))
    done = "" if st["complete"] else f" (incomplete: {st['runs']} of {st['runs_total']} runs)"
    t = Table(title=f"{st['name']}: P(indicator met), 95% Wilson interval{done}")
    for col, just in (("scenario", "left"), ("indicator", "left"), ("P(met)", "right"), ("95% CI", "right"),
                      ("n", "right")):
        t.add_column(col, justify=just, no_wrap=True)
    last = None
    for r in s.itertuples():
        t.add_row(r.scenario if r.scenario != last else "", r.indicator, f"{r.p_met:.3f}",
                  f"{r.ci_low:.3f}-{r.ci_high:.3f}", str(r.n), end_section=False)
        last = r.scenario
    con.print(t)
    n = int(s["n"].max()) if len(s) else 0
    t2 = Table(title=f"Runs per scenario for a 95% interval within +-{100 * half_width:g} points (now {n})")
    t2.add_column("indicator", no_wrap=True)
    t2.add_column("runs needed (worst scenario)", justify="right")
    for k, v in needed.items():
        t2.add_row(k, "-" if v != v else f"{int(v):,}")
    con.print(t2)


@click.command()
@click.argument("results", type=PATH)
@click.option("--baseline", required=True, help="Scenario to compare every other scenario with (e.g. roadmap)")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout")
def compare(results, baseline, as_json):
    """Paired differences in P(met) against a baseline scenario (common random numbers), 95% intervals."""
    from .. import experiments as E

    c = E.compare(results, baseline)
    if as_json:
        rows = [{"scenario": r.scenario, "indicator": r.indicator, "diff": _num(r.diff), "ci_low": _num(r.ci_low),
                 "ci_high": _num(r.ci_high), "design_effect": _num(r.design_effect)} for r in c.itertuples()]
        click.echo(json.dumps({"baseline": baseline, "rows": rows}))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console(width=max(120, Console().width))
    clustered = bool((c["design_effect"] > 1).any())
    t = Table(title=f"P(met) minus P(met | {baseline}), paired by run key; 95% Newcombe interval"
                    + (", widened by the design effect of shared parameter draws" if clustered else ""))
    for col, just in (("scenario", "left"), ("indicator", "left"), ("diff", "right"), ("95% CI", "right"),
                      ("P base", "right"), ("P", "right"), ("pairs", "right")):
        t.add_column(col, justify=just, no_wrap=True)
    last = None
    for r in c.itertuples():
        sig = "" if r.ci_low <= 0 <= r.ci_high else " *"
        t.add_row(r.scenario if r.scenario != last else "", r.indicator, f"{r.diff:+.3f}{sig}",
                  f"{r.ci_low:+.3f} to {r.ci_high:+.3f}", f"{r.p_baseline:.3f}", f"{r.p_scenario:.3f}", str(r.n))
        last = r.scenario
    con.print(t)
    con.print("* the interval excludes 0")


def _num(x) -> float | None:
    x = float(x)
    return None if x != x else round(x, 6)
