"""Presentation commands: `equitysim report`, `equitysim plot`, `equitysim app`, and the report
written by `equitysim run ... --report`.

A SOURCE is a results directory (see `resultsets.load_results`), a Parquet file written by
`equitysim run --out`, or a scenario file (.toml), which is run first with --replications,
--seed, --scale and --jobs (recording trajectories and per-state adoption for the charts).
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
from pathlib import Path

import click

from ..scenario import load_scenario

PLOT_KINDS = ("indicators", "trajectories", "map", "network", "pathways", "adaptations")


def output_file(ctx, param, value):
    """Click callback: an output file whose directory exists, checked before any work is done."""
    if value is None:
        return value
    path = Path(value)
    if path.is_dir() or str(value).endswith(("/", "\\")):
        raise click.BadParameter(f"{value}: expected a file name, got a directory")
    if not path.parent.is_dir():
        raise click.BadParameter(f"{value}: expected a file in an existing directory ({path.parent} does not exist)")
    return path


def command_line(ctx: click.Context) -> str:
    """The command as a user would type it again (for the reproducibility footer)."""
    words = [ctx.command_path]
    for p in ctx.command.params:
        v = ctx.params.get(p.name)
        if isinstance(p, click.Argument):
            words += [str(x) for x in (v if isinstance(v, (list, tuple)) else [v]) if x is not None]
        elif v is not None and v != p.default and v != () and not (p.is_flag and not v):
            opt = max(p.opts, key=len)
            if p.is_flag:
                words.append(opt)
            else:
                for x in (v if isinstance(v, (list, tuple)) else [v]):
                    words += [opt, str(x)]
    return shlex.join(words)


def _annotate(result, scenario_path: Path):
    from ..resultsets import file_hash

    result.meta["scenario_file"] = str(scenario_path)
    result.meta["scenario_sha256"] = file_hash(scenario_path)
    return result


def gather(sources, replications: int, seed: int, jobs: int, scale: float | None, parameters: str = "posterior"):
    """A result set from the given sources, running any scenario files (each replication drawing
    its parameters from `parameters`: the shipped posterior by default, as `run` does)."""
    from ..ensemble import run as run_ensemble
    from ..posterior import load as load_parameters

    source = load_parameters(parameters) if any(Path(s).suffix == ".toml" for s in sources) else None
    from ..resultsets import ResultsError, load_results

    items = []
    for s in sources:
        p = Path(s)
        if p.suffix == ".toml":
            spec = load_scenario(p)  # ScenarioError -> one line, exit 2 (cli.main)
            if scale is not None:
                spec = spec.model_copy(update={"scale": scale})
            click.echo(f"running {spec.name}: {replications} replications, seed {seed}, scale {spec.scale:g}", err=True)
            items.append(_annotate(run_ensemble(spec, replications, seed=seed, jobs=jobs, trajectories=True,
                                                states=True, parameters=source), p))
        else:
            items.append(p)
    try:
        return load_results(items)
    except ResultsError as e:
        raise click.UsageError(str(e)) from None


def _run_options(f):
    for opt in reversed([
        click.option("--replications", "-n", type=click.IntRange(min=1), default=100, show_default=True,
                     help="Replications per scenario file given as a SOURCE"),
        click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True,
                     help="Master seed for scenario files"),
        click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Worker processes for scenario files"),
        click.option("--scale", type=click.FloatRange(0.001, 20), default=None,
                     help="World scale for scenario files (default: the scenario's)"),
        click.option("--parameters", default="posterior", show_default=True, metavar="posterior|defaults|DIR",
                     help="Where scenario files' replications draw their parameters (as in `run`)"),
    ]):
        f = opt(f)
    return f


@click.command("report")
@click.argument("sources", nargs=-1, required=True)
@click.option("--out", "-o", type=click.Path(path_type=Path, dir_okay=False), default=Path("report.html"),
              show_default=True, callback=output_file, help="The HTML page to write")
@click.option("--pdf", is_flag=True, help="Also write a PDF handout beside it (same name, .pdf)")
@click.option("--sensitivity", type=click.Path(path_type=Path), default=None,
              help="Output directory of `equitysim sensitivity`, or a CSV/Parquet of indices "
                   "(columns: parameter, and ST, S1, mu_star or importance)")
@click.option("--map-year", type=click.IntRange(1, 20), default=5, show_default=True,
              help="Year shown on the state map")
@click.option("--save", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Also save the results to this directory (readable by report and plot)")
@click.option("--state", "state", default=None, metavar="XX",
              help="The one-page report about one state (USPS code): its districts, its map, its state-level indicators")
@_run_options
@click.pass_context
def report_command(ctx, sources, out, pdf, sensitivity, map_year, save, state, replications, seed, jobs, scale,
                   parameters):
    """One self-contained report page from results or scenario files (SOURCES)."""
    from .. import report as R

    if state is not None:
        from ..world import load_states
        if state.strip().upper() not in load_states().index:
            raise click.BadParameter(f"unknown state {state!r}: expected a USPS code of the 50 states or DC "
                                     f"(e.g. CA, NY, DC)", param_hint="'--state'")
        if pdf or sensitivity is not None:
            raise click.UsageError("--state: the state page is HTML only (without --pdf and --sensitivity)")
    res = gather(sources, replications, seed, jobs, scale, parameters)
    if state is not None:
        from ..state_report import write_state_report
        if save is not None:
            from ..resultsets import save_results
            save_results(res, save)
        for w in write_state_report(res, state.strip().upper(), out, map_year=map_year, command=command_line(ctx)):
            click.echo(f"wrote {w}", err=True)
        return
    if save is not None:
        from ..resultsets import save_results
        save_results(res, save)
    if sensitivity is not None:
        try:
            R.read_sensitivity(sensitivity)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--sensitivity") from None
    written = R.write_report(res, out, pdf=pdf, sensitivity=sensitivity, command=command_line(ctx),
                             map_year=map_year)
    for w in written:
        click.echo(f"wrote {w}", err=True)


@click.command("plot")
@click.argument("sources", nargs=-1, required=True)
@click.option("--kind", type=click.Choice(PLOT_KINDS), default="indicators", show_default=True)
@click.option("--out", "-o", type=click.Path(path_type=Path, dir_okay=False), default=None, callback=output_file,
              help="Image file (.png, .svg, .pdf); default <kind>.png")
@click.option("--policy", "policies", multiple=True,
              help="State policy for map/network (repeatable; map default: weighted_funding, "
                   "integration_incentives, discipline_mandate; network default: weighted_funding)")
@click.option("--year", type=click.IntRange(1, 20), default=5, show_default=True, help="Year shown on the map")
@click.option("--ever", is_flag=True, help="Map: enacted at any time by --year, rather than in force then")
@click.option("--scenario", "scenario_name", default=None, help="Scenario shown on the map/network (default: the first)")
@click.option("--metric", "metrics", multiple=True, help="Trajectory metric (repeatable)")
@_run_options
def plot_command(sources, kind, out, policies, year, ever, scenario_name, metrics, replications, seed, jobs, scale,
                 parameters):
    """One chart from results or scenario files (SOURCES)."""
    from .. import plots as P

    res = gather(sources, replications, seed, jobs, scale, parameters)
    out = out or Path(f"{kind}.png")
    try:
        if kind == "indicators":
            fig = P.indicator_chart(res)
        elif kind == "trajectories":
            fig = P.trajectory_chart(res, metrics or P.DEFAULT_METRICS)
        elif kind == "map":
            fig = P.state_map(res, policies or P.MAP_POLICIES, year=year, scenario=scenario_name, ever=ever)
        elif kind == "pathways":
            fig = P.pathways_chart(res, scenario=scenario_name)
        elif kind == "adaptations":
            fig = P.adaptations_chart(res, scenario=scenario_name)
        else:
            fig = P.diffusion_network(res, policies[0] if policies else "weighted_funding", scenario=scenario_name)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    P.save(fig, out)
    click.echo(f"wrote {out}", err=True)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@click.command("app")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (the default serves this machine only)")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0: any free port")
@click.option("--scenarios", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Directory of scenario files to pick from (default: the repository's scenarios/)")
@click.option("--scale", type=click.FloatRange(0.001, 20), default=None,
              help="World scale the page starts with (default 1.0, the real US)")
@click.option("--open/--no-open", "open_browser", default=True, show_default=True, help="Open a browser")
def app_command(host, port, scenarios, scale, open_browser):
    """The interactive page on http://HOST:PORT: one future (Mesa SolaraViz) at /, the
    strategist's page (many futures of a plan composed on the page) at /strategist."""
    try:
        import solara  # noqa: F401
    except ImportError:
        raise click.UsageError("the interactive page needs solara: pip install 'equitysim[app]'") from None
    env = dict(os.environ)
    if scenarios is not None:
        if not scenarios.is_dir():
            raise click.BadParameter(f"{scenarios}: expected a directory of scenario files", param_hint="--scenarios")
        env["EQUITYSIM_SCENARIOS"] = str(scenarios.resolve())
    if scale is not None:
        env["EQUITYSIM_APP_SCALE"] = str(scale)
    port = port or _free_port(host)
    cmd = [sys.executable, "-m", "solara", "run", "equitysim.app", "--host", host, "--port", str(port),
           "--open" if open_browser else "--no-open", "--production"]
    click.echo(f"equitysim app on http://{host}:{port} (Ctrl-C stops it)", err=True)
    sys.stderr.flush()
    # Become the server (no child process left behind when this one is stopped).
    os.execve(sys.executable, cmd, env)


def write_run_report(ctx: click.Context, result, scenario: Path, out: Path):
    """The report for `equitysim run SCENARIO --report OUT` (one scenario)."""
    from ..report import write_report

    _annotate(result, scenario)
    for w in write_report(result, out, command=command_line(ctx)):
        click.echo(f"wrote {w}", err=True)


