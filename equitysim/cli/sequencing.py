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
    from ..progress import progress_bar
    from ..sequencing import load_search, search

    spec, base = load_search(search_file)
    out = out or Path("results") / spec.name
    adaptive = 0 if spec.adaptive is None else min(spec.adaptive.budget, spec.adaptive_size) * len(spec.adaptive.on)
    total = min(spec.budget, spec.space_size) + 1 + adaptive + ((5 if adaptive else 3) if spec.confirm_replications else 0)
    with progress_bar(total, f"{spec.name} (candidates)", unit="candidates") as advance:
        res = search(spec, base, out=out, jobs=jobs, progress=advance)
    if as_json:
        click.echo(json.dumps(res.to_json()))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console(width=120)
    t = Table(title=f"{spec.name}: {len(res.table)} sequencings evaluated on {len(res.futures)} futures "
                    f"x {spec.replications} runs")
    for col in ("expected met", "95% CI", "max regret", *[b.name.replace("_", " ") for b in spec.blocks],
                "pace", "lead", "first"):
        t.add_column(col, no_wrap=col == "95% CI")
    top = res.table.sort_values("expected_met", ascending=False).head(10)
    for _, r in top.iterrows():
        t.add_row(f"{r.expected_met:.2f}", f"{r.ci_low:.2f}-{r.ci_high:.2f}", f"{r.max_regret:.2f}",
                  *[f"year {r[f'start.{b.name}'] + 1:g}" for b in spec.blocks],
                  f"{r.pace:g}", r.lead, r.first_where)
    con.print(t)
    if res.confirmed is not None:
        c = Table(title=f"Confirmation: {spec.confirm_replications} fresh runs per future, paired with the roadmap")
        for col in ("answer", "expected met", "95% CI", "difference vs roadmap", "95% CI of the difference"):
            c.add_column(col)
        for _, r in res.confirmed.iterrows():
            c.add_row(r.answer.replace("_", " "), f"{r.expected_met:.2f}", f"{r.ci_low:.2f}-{r.ci_high:.2f}",
                      f"{r.difference_vs_roadmap:+.2f}", f"{r.diff_ci_low:+.2f} to {r.diff_ci_high:+.2f}")
        con.print(c)
    if res.best_adaptive is not None:
        _static_vs_adaptive(con, res)
    for s in res.sentences():
        con.print(s)
    more = f", {out}/best_static.toml and {out}/best_adaptive.toml" if res.best_adaptive is not None else ""
    con.print(f"Answers written to {out}/best_expected.toml and {out}/most_robust.toml{more}; chart: {out}/tradeoff.png")


def _static_vs_adaptive(con, res):
    from rich.table import Table

    t = Table(title="The best static and the best adaptive plan, side by side (search runs)")
    for col in ("plan", "expected met", "95% CI", "worst-case regret", "rules"):
        t.add_column(col)
    for label, r in (("best static", res.best_static), ("best adaptive", res.best_adaptive)):
        t.add_row(label, f"{r.expected_met:.2f}", f"{r.ci_low:.2f}-{r.ci_high:.2f}", f"{r.max_regret:.2f}", r.rules)
    con.print(t)
    if res.confirmed_by_future is not None:
        f = Table(title="Where adapting helps most: best adaptive - best static, paired on the fresh confirmation runs")
        src = res.confirmed_by_future
    else:
        f = Table(title="Where adapting helps most: best adaptive - best static (search runs)")
        src = res.adapting_helps
    for col in ("future", "static", "adaptive", "difference", "95% CI"):
        f.add_column(col)
    for _, r in src.iterrows():
        ci = f"{r.ci_low:+.2f} to {r.ci_high:+.2f}" if "ci_low" in src else "-"
        f.add_row(r.future, f"{r.best_static:.2f}", f"{r.best_adaptive:.2f}", f"{r.difference:+.2f}", ci)
    con.print(f)
    if res.confirmed is not None and "difference_vs_best_static" in res.confirmed:
        a = res.confirmed[res.confirmed.answer == "best_adaptive"].iloc[0]
        con.print(f"Confirmed on fresh runs: the best adaptive plan meets {a.expected_met:.2f} indicators "
                  f"({a.ci_low:.2f}-{a.ci_high:.2f}), {a.difference_vs_best_static:+.2f} against the best static plan "
                  f"(paired 95% CI {a.vs_static_ci_low:+.2f} to {a.vs_static_ci_high:+.2f}).")
