"""`equitysim sensitivity` and `equitysim discover`."""

from __future__ import annotations

import json
from pathlib import Path

import click

PATH = click.Path(path_type=Path)


@click.command()
@click.argument("sensitivity_file", type=PATH)
@click.option("--out", "-o", type=PATH, required=True, help="Directory for runs (resumable), indices, plots, summary")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--backend", type=click.Choice(["loky", "dask", "ray"]), default="loky", show_default=True)
@click.option("--address", default=None, help="Scheduler address for dask or ray")
@click.option("--resume", is_flag=True, help="Finish an interrupted run in --out")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout")
def sensitivity(sensitivity_file, out, jobs, backend, address, resume, as_json):
    """Global sensitivity analysis (Sobol, Morris or eFAST) of every indicator."""
    from ..progress import ProgressBar
    from ..sensitivity import run_sensitivity

    bar = ProgressBar(Path(sensitivity_file).stem, enabled=not as_json)
    try:
        res = run_sensitivity(sensitivity_file, out, jobs=jobs, backend=backend, address=address, resume=resume,
                              on_start=bar.start, progress=bar.advance)
    finally:
        bar.stop()
    if as_json:
        click.echo(json.dumps(res.to_json()))
        return
    for s in res.summary:
        click.echo(s)
    if res.convergence is not None:
        bad = res.convergence[res.convergence.disagree]
        click.echo(f"Convergence (N vs N/2): {'settled' if bad.empty else f'{len(bad)} indices not settled'}; "
                   f"details in {out}/convergence.csv")
    click.echo(f"Indices: {out}/indices.csv; plots: {out}/{res.spec.method}_p_met.png and _value.png (and .svg)")


@click.command()
@click.argument("results", type=PATH)
@click.option("--scenario", required=True, help="Scenario name in the results")
@click.option("--indicator", required=True, help="Indicator id, e.g. funding_reform_10_states")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout")
def discover(results, scenario, indicator, as_json):
    """Scenario discovery (PRIM): the futures in which a plan misses an indicator."""
    from ..sensitivity import discover_from_results

    found = discover_from_results(results, scenario, indicator)
    if as_json:
        click.echo(json.dumps({"scenario": scenario, "indicator": indicator, "sentence": found["sentence"],
                               "box": {k: list(v) for k, v in found["box"].items()},
                               "coverage": found["coverage"], "density": found["density"], "mass": found["mass"],
                               "base_rate": found["base_rate"],
                               "trajectory": json.loads(found["trajectory"].to_json(orient="records"))}))
        return
    click.echo(found["sentence"])
    if len(found["trajectory"]):
        click.echo("Peeling trajectory (coverage, density, mass, restricted dimensions):")
        step = max(1, len(found["trajectory"]) // 8)
        for r in found["trajectory"].iloc[::step].itertuples(index=False):
            click.echo(f"  coverage {r[0]:.2f}  density {r[1]:.2f}  mass {r[2]:.2f}  dims {int(r[3])}")
