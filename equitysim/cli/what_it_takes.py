"""`equitysim what-it-takes`: the least-cost change to a scenario that makes an indicator likely."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..scenario import load_scenario


@click.command("what-it-takes")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--indicator", required=True, help="An indicator id (see `equitysim run`), or 'all'")
@click.option("--probability", type=click.FloatRange(0.01, 0.99), default=0.5, show_default=True,
              help="P(met) to reach")
@click.option("--levers", default="effort,start,where,funds,budget", show_default=True,
              help="Comma-separated levers the search may change")
@click.option("--scale", type=click.FloatRange(0.01, 20), default=0.25, show_default=True,
              help="World scale of the search and the confirmation runs")
@click.option("--trials", type=click.IntRange(min=1), default=40, show_default=True, help="Settings to evaluate")
@click.option("--replications", "-n", type=click.IntRange(min=2), default=20, show_default=True,
              help="Runs per setting during the search")
@click.option("--confirm", "confirm_replications", type=click.IntRange(min=2), default=100, show_default=True,
              help="Fresh runs that confirm the answer")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Directory for the runs (resumable), the answer scenario files and JSON "
                   "[default: results/what_it_takes/<scenario>]")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (a list for --indicator all)")
def what_it_takes_command(scenario, indicator, probability, levers, scale, trials, replications,
                          confirm_replications, seed, jobs, out, as_json):
    """Find the least-cost change (effort, earlier starts, wider reach, money) that reaches
    P(indicator met) >= the probability; confirmed on fresh runs."""
    from .. import indicators as _ind
    from ..progress import progress_bar
    from ..what_it_takes import what_it_takes

    spec = load_scenario(scenario).model_copy(update={"scale": scale})
    ids = [i.id for i in _ind.indicators()] if indicator == "all" else [indicator]
    chosen = tuple(x.strip() for x in levers.split(",") if x.strip())
    out = out or Path("results") / "what_it_takes" / spec.name
    answers = []
    for ind in ids:
        with progress_bar(trials + 1, f"{ind} (settings)", unit="settings") as advance:
            answers.append(what_it_takes(spec, ind, probability, chosen, trials, replications, confirm_replications,
                                         seed, out / ind if len(ids) > 1 else out, jobs, progress=advance))
    if as_json:
        objs = [a.to_json() for a in answers]
        click.echo(json.dumps(objs if len(ids) > 1 else objs[0]))
        return
    for a in answers:
        click.echo(f"\n{a.indicator.id}" + ("" if a.reached else " (not reached)"))
        for s in a.sentences():
            click.echo("  " + s)
        if a.scenario_file:
            click.echo(f"  Scenario file: {a.scenario_file}")
