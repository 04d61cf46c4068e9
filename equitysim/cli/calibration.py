"""`equitysim calibrate`: history matching of the no-action model to the historical series.

Bad input (a calibration file, a flag) ends with one line on stderr and exit code 2
(CalibrationError is a ScenarioError, which `cli.main` turns into that line).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

PATH = click.Path(path_type=Path)


@click.command("calibrate")
@click.argument("calibration", type=PATH)
@click.option("--out", "-o", type=PATH, required=True,
              help="Results directory (one experiment per wave, the check, posterior.csv, calibration.json); "
                   "rerunning the same command resumes it")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes")
@click.option("--backend", type=click.Choice(["loky", "dask", "ray"]), default="loky", show_default=True,
              help="Where the runs' chunks go (the experiments runner's backends)")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout")
def calibrate(calibration, out, jobs, backend, as_json):
    """Calibrate the no-action model to history (history matching with GP emulators) and write a
    posterior sample of the calibrated parameters (OUT/posterior.csv)."""
    from ..calibration import calibrate as run_calibration, markdown_tables

    argv = sys.argv[1:] if sys.argv and Path(sys.argv[0]).name in ("equitysim", "__main__.py") else None
    command = "equitysim " + shlex.join(argv) if argv else (
        f"equitysim calibrate {calibration} --out {out} --jobs {jobs}")
    summary = run_calibration(calibration, out, jobs=jobs, backend=backend, command=command)
    if as_json:
        click.echo(json.dumps(summary, default=float))
        return
    click.echo(f"{summary['name']}: {summary['simulations']} simulations ({summary['simulations_run_now']} run now) "
               f"in {summary['seconds']:.1f} s; {summary['prior_share_not_implausible']:.1%} of the prior is not "
               f"implausible at cutoff {summary['final_cutoff']:g}; posterior of {summary['posterior_size']} draws "
               f"(effective sample {summary['effective_sample_size']:.0f}) in {out / 'posterior.csv'}")
    click.echo(markdown_tables(summary))
