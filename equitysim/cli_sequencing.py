"""`equitysim sequence`: search for the best and the most robust sequencing."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("search_file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Directory for each candidate's runs (runs/<id>, resumable), candidates.csv, tradeoff.png and "
                   "the answer scenario files [default: results/<name>]")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout")
def sequence(search_file, out, jobs, as_json):
    """Search the sequencing space for the best-expected and the most robust sequencing."""
    from .cli import progress_bar
    from .sequencing import load_search, search

    spec, base = load_search(search_file)
    out = out or Path("results") / spec.name
    with progress_bar(min(spec.budget, spec.space_size) + 1, f"{spec.name} (candidates)") as advance:
        res = search(spec, base, out=out, jobs=jobs, progress=advance)
    if as_json:
        click.echo(json.dumps(res.to_json()))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console(width=120)
    t = Table(title=f"{spec.name}: {len(res.table)} sequencings evaluated on {len(res.futures)} futures "
                    f"x {spec.replications} runs")
    for col in ("expected met", "95% CI", "max regret", *[b.name for b in spec.blocks], "pace", "lead", "first"):
        t.add_column(col)
    top = res.table.sort_values("expected_met", ascending=False).head(10)
    for _, r in top.iterrows():
        t.add_row(f"{r.expected_met:.2f}", f"{r.ci_low:.2f}-{r.ci_high:.2f}", f"{r.max_regret:.2f}",
                  *[f"year {r[f'start.{b.name}'] + 1:g}" for b in spec.blocks],
                  f"{r.pace:g}", r.lead, r.first_where)
    con.print(t)
    for s in res.sentences():
        con.print(s)
    con.print(f"Answers written to {out}/best_expected.toml and {out}/most_robust.toml; chart: {out}/tradeoff.png")
