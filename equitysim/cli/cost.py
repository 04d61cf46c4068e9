"""`equitysim cost`: what a plan costs, by year and level, against the roadmap's tables."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..scenario import load_scenario


@click.command("cost")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout")
@click.option("--scale", type=click.FloatRange(0.001, 20), default=None,
              help="World scale (default: the scenario's); district costs scale with it")
def cost(scenario, as_json, scale):
    """Planned spending by year and level ($M a year, as scheduled before any risk)."""
    from ..costs import comparison, planned_costs

    spec = load_scenario(scenario)
    if scale is not None:
        spec = spec.model_copy(update={"scale": scale})
    c = planned_costs(spec)
    if as_json:
        click.echo(json.dumps(c))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{spec.name}: planned spending, $M a year (scale {spec.scale:g}; before any risk)")
    for col in ("year", "federal", "states", "districts", "support", "total"):
        t.add_column(col, justify="right")
    for i, y in enumerate(c["years"]):
        t.add_row(str(y), *(f"{c[k][i]:,.0f}" for k in ("federal_musd", "states_musd", "districts_musd",
                                                           "support_musd", "total_musd")))
    con = Console(width=max(100, Console().width))
    con.print(t)
    for line in comparison(c):
        con.print(line)
