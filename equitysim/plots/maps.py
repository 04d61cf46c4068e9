"""Maps of where policy spreads: the share of futures in which each state has a policy
(`state_map`), one future's statuses (`status_map`) and diffusion across borders
(`diffusion_network`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from ..narrative import policy_label, scenario_phrase
from ..resultsets import load_results
from .style import STATUS_COLOURS, STYLE, draw_tiles, text_colour, tile_grid, wrap

MAP_POLICIES = ("weighted_funding", "integration_incentives", "discipline_mandate")


# ---------------------------------------------------------------------------- state map
def _pick(res, scenario: str | None):
    if scenario is None:
        scenario = next((n for n, r in res.items() if r.states is not None), next(iter(res)))
    if scenario not in res:
        raise ValueError(f"scenario {scenario!r} not in these results; expected one of {list(res)}")
    r = res[scenario]
    if r.states is None:
        raise ValueError("no per-state record in these results: run the ensemble with states=True "
                         "(equitysim report/plot do this when they run a scenario)")
    return scenario, r


def state_map(results, policies: Sequence[str] = MAP_POLICIES, year: int = 5, scenario: str | None = None,
              ever: bool = False, title: str | None = None, ncols: int | None = None) -> Figure:
    """US tile-grid maps, one per policy: the share of futures in which each state has the policy
    in force at the end of `year` (with `ever`: has enacted it by then)."""
    res = load_results(results)
    name, r = _pick(res, scenario)
    shares = {p: r.state_share(p, year, ever=ever) for p in policies}
    cmap = mpl.colormaps["Blues"]
    norm = mpl.colors.Normalize(0, 1)
    verb = "enacted" if ever else "in force"
    n = len(policies)
    ncols = min(ncols or n, n)
    nrows = math.ceil(n / ncols)
    with mpl.rc_context(STYLE):
        H = 4.6 * nrows + 1.9
        fig = Figure(figsize=(6.6 * ncols, H))
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax in axes[n:]:
            ax.axis("off")
        most = {}
        for ax, p in zip(axes, policies):
            s = shares[p]
            most[p] = int((s >= 0.5).sum())
            colours = {c: cmap(norm(0.06 + 0.94 * v)) for c, v in s.items()}
            draw_tiles(ax, colours, {c: f"{v:.0%}" for c, v in s.items()},
                       title=f"{policy_label(p)}: {most[p]} states in most futures")
        parts = [f"{policy_label(p).lower()} {verb} in {most[p]} states" if i == 0 else f"{policy_label(p).lower()} in {most[p]}"
                 for i, p in enumerate(policies)]
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        finding = title or f"By year {year} under {scenario_phrase(name)}, most simulated futures have {listed}"
        finding = wrap(finding, 55 * ncols)
        fig.text(0.01, 1 - 0.15 / H, finding, ha="left", va="top", fontsize=18, fontweight="bold")
        head = 0.42 * (finding.count("\n") + 1) + 0.35
        if n > ncols * (nrows - 1) and n % ncols:  # room in the last row: put the scale there
            cax = fig.add_axes((0.5 + 0.1 / ncols, 0.9 / H + 1.2 / H, 0.8 / ncols, 0.25 / H))
        else:
            cax = fig.add_axes((0.35, 0.35 / H, 0.3, 0.22 / H))
        cb = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
        cb.ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
        cb.set_label(wrap(f"share of {r.replications} simulated futures in which the state has it {verb} "
                           f"at year {year}", 50))
        fig.subplots_adjust(left=0.01, right=0.99, top=1 - head / H, bottom=1.1 / H if n % ncols == 0 else 0.1 / H,
                            wspace=0.05, hspace=0.12)
    return fig


def status_map(status: dict[str, np.ndarray], codes: Sequence[str], title: str = "") -> Figure:
    """Tile-grid maps of one simulated future: each state's status per policy (0 never enacted,
    1 enacted then repealed, 2 in force). Used by the interactive page."""
    with mpl.rc_context(STYLE):
        n = len(status)
        fig = Figure(figsize=(4.8 * n, 4.2))
        axes = fig.subplots(1, n, squeeze=False)[0]
        for ax, (p, st) in zip(axes, status.items()):
            colours = {c: STATUS_COLOURS[int(v)] for c, v in zip(codes, st)}
            draw_tiles(ax, colours, title=f"{policy_label(p)}: {int((st == 2).sum())} states" if n > 1 else None)
        handles = [mpl.patches.Patch(color=STATUS_COLOURS[k], label=lab)
                   for k, lab in ((2, "in force"), (1, "repealed"), (0, "never enacted"))]
        fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False, fontsize=11)
        if title:
            fig.suptitle(wrap(title, 46 * n), x=0.01, ha="left", fontweight="bold", fontsize=13)
        fig.subplots_adjust(left=0.01, right=0.99, top=0.82, bottom=0.1, wspace=0.04)
    return fig


# ---------------------------------------------------------------------------- diffusion network
def diffusion_graph(result, policy: str):
    """networkx DiGraph over the states: node attributes `share` (futures in which the state ever
    enacts `policy`) and `median_year` (median year of first enactment where it does); an edge
    u -> v joins bordering states that both enact it in most futures, u typically first."""
    import networkx as nx

    from ..network import adjacency_matrix as adjacency
    from ..world import load_states

    first = result.first_enacted(policy)
    share = first.notna().mean()
    median = first.median(skipna=True)
    states = load_states()
    adj = adjacency(states)
    codes = list(states.index)
    g = nx.DiGraph()
    for c in codes:
        g.add_node(c, share=float(share.get(c, 0.0)), median_year=float(median.get(c, np.nan)))
    for i, j in zip(*np.nonzero(np.triu(adj))):
        a, b = codes[i], codes[j]
        na, nb = g.nodes[a], g.nodes[b]
        if na["share"] >= 0.5 and nb["share"] >= 0.5 and na["median_year"] != nb["median_year"]:
            u, v = (a, b) if na["median_year"] < nb["median_year"] else (b, a)
            g.add_edge(u, v)
    return g, adj, codes


def diffusion_network(results, policy: str = "weighted_funding", scenario: str | None = None,
                      title: str | None = None) -> Figure:
    """How a policy spreads across bordering states: nodes on the tile grid, coloured by the
    median year a state first enacts it, sized by the share of futures in which it does; arrows
    run along borders from the typical earlier adopter to the later one."""
    import networkx as nx

    res = load_results(results)
    name, r = _pick(res, scenario)
    g, adj, codes = diffusion_graph(r, policy)
    grid = tile_grid()
    pos = {c: (grid.loc[c, "col"] + 0.5, -grid.loc[c, "row"] - 0.5) for c in codes}
    years = int(r.states["year"].max())
    cmap = mpl.colormaps["viridis"]
    norm = mpl.colors.Normalize(1, years)
    most = [c for c in codes if g.nodes[c]["share"] >= 0.5]
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(13, 8))
        ax = fig.add_axes((0.01, 0.1, 0.98, 0.74))
        border = nx.Graph([(codes[i], codes[j]) for i, j in zip(*np.nonzero(np.triu(adj)))])
        nx.draw_networkx_edges(border, pos, ax=ax, edge_color="#D0D0D0", width=1.0)
        nx.draw_networkx_edges(g, pos, ax=ax, edge_color="#444444", width=1.6, arrows=True, arrowsize=16,
                               arrowstyle="-|>", node_size=900, connectionstyle="arc3,rad=0.08")
        colours, sizes, text_colours = [], [], {}
        for c in codes:
            nd = g.nodes[c]
            col = cmap(norm(nd["median_year"])) if nd["share"] >= 0.5 else mpl.colors.to_rgba("#EEEEEE")
            colours.append(col)
            sizes.append(250 + 900 * nd["share"])
            text_colours[c] = text_colour(col)
        nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colours, node_size=sizes, edgecolors="#888888",
                               linewidths=0.8)
        for c in codes:
            ax.text(*pos[c], c, ha="center", va="center", fontsize=10, fontweight="bold", color=text_colours[c])
        ax.set_xlim(-0.2, grid["col"].max() + 1.2)
        ax.set_ylim(-grid["row"].max() - 1.2, 0.2)
        ax.set_aspect("equal")
        ax.axis("off")
        if most:
            first = sorted(most, key=lambda c: g.nodes[c]["median_year"])
            early = ", ".join(first[:3])
            finding = (f"Under {scenario_phrase(name)}, {policy_label(policy).lower()} starts in {early} "
                       f"(median year {g.nodes[first[0]]['median_year']:g}) and reaches {len(most)} states "
                       f"by year {years} in most futures")
        else:
            finding = (f"Under {scenario_phrase(name)}, {policy_label(policy).lower()} does not take hold: "
                       f"no state enacts it in most futures")
        fig.suptitle(wrap(title or finding, 100), x=0.02, ha="left", fontweight="bold")
        fig.text(0.02, 0.885, "Colour: median year a state first enacts it (grey: in fewer than half of futures); "
                 "size: share of futures; arrows: along a border, from the usual earlier adopter",
                 ha="left", va="top", fontsize=11.5, color="#333333")
        cax = fig.add_axes((0.35, 0.06, 0.3, 0.025))
        cb = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
        cb.set_label("median year first enacted")
    return fig


