"""`equitysim validation`: the no-action baseline against history and the face-validity checks
(equitysim/validation.py), printed as Markdown or written to docs/validation.md."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("validation")
@click.option("--replications", "-n", type=click.IntRange(min=2), default=20, show_default=True,
              help="No-action replications for the historical patterns")
@click.option("--scale", type=click.FloatRange(0.01, 1.0), default=0.2, show_default=True,
              help="World scale of the no-action runs")
@click.option("--fv-replications", type=click.IntRange(min=2), default=30, show_default=True,
              help="Paired replications per face-validity check")
@click.option("--fv-scale", type=click.FloatRange(0.01, 1.0), default=0.1, show_default=True,
              help="World scale of the face-validity runs")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True, help="Master seed")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the Markdown page here instead of printing it")
def validation(replications, scale, fv_replications, fv_scale, seed, jobs, out):
    """Compare the no-action baseline with history and check face validity (docs/validation.md)."""
    from .. import validation as V

    if out is not None and not out.parent.exists():
        raise click.BadParameter(f"directory {out.parent} does not exist", param_hint="--out")
    rep = V.report(replications=replications, seed=seed, scale=scale, fv_replications=fv_replications,
                   fv_scale=fv_scale, jobs=jobs)
    text = V.markdown(rep)
    if out is None:
        click.echo(text, nl=False)
        return
    out.write_text(text)
    h, fv = rep["history"], rep["face_validity"]
    click.echo(f"{out}: {int((h.verdict == 'consistent').sum())} of {len(h)} historical patterns consistent, "
               f"{int(fv.holds.sum())} of {len(fv)} face-validity expectations hold")
