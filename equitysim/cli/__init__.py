"""The `equitysim` command line: one group, `app`, and the commands of each layer, one module
each (`core`: run, validate, params, world; `cost`; `experiments`: sweep, summarize, compare; `sequencing`:
sequence; `what_it_takes`: what-it-takes; `sensitivity`: sensitivity, discover; `validation`; `calibration`: calibrate; `present`: report, plot, app).

Every bad input (a scenario file, a flag) ends with one line on stderr naming the file or flag,
the field and what was expected, and exit code 2; never a traceback.
"""

from __future__ import annotations

import click

from ..scenario import ScenarioError
from . import experiments as _experiments  # sweep, summarize, compare
from .calibration import calibrate
from . import sensitivity as _sensitivity  # sensitivity, discover
from . import validation as _validation  # validation
from .core import params, run, validate, world
from .cost import cost
from .present import app_command, plot_command, report_command  # presentation
from .sequencing import sequence
from .what_it_takes import what_it_takes_command


@click.group(help="Simulate an education-equity implementation roadmap and estimate how likely each "
                  "success indicator is to be met.")
@click.version_option(package_name="equitysim")
def app():
    pass


for _cmd in (run, validate, params, world, cost, _experiments.sweep, _experiments.summarize, _experiments.compare,
             sequence, _sensitivity.sensitivity, _sensitivity.discover, _validation.validation,
             report_command, plot_command, app_command, what_it_takes_command, calibrate):
    app.add_command(_cmd)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: one-line errors and exit code 2 for any bad input."""
    try:
        rc = app.main(args=argv, standalone_mode=False, prog_name="equitysim")
    except ScenarioError as e:
        click.echo(f"equitysim: {e}", err=True)
        return 2
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help())
        return 0
    except click.UsageError as e:
        where = f"{e.ctx.command_path}: " if e.ctx else ""
        click.echo(f"{where or 'equitysim: '}{e.format_message()}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("equitysim: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    return rc if isinstance(rc, int) else 0
