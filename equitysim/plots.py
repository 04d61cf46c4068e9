"""Charts for people who do not read tables (matplotlib, no pyplot state).

Every function takes a result set (anything `resultsets.load_results` accepts: an
EnsembleResult, a dict scenario -> EnsembleResult, or a results path) and returns a
`matplotlib.figure.Figure` whose title states the finding, not the variable:

- `indicator_chart`: P(met) of the twelve indicators with 95% intervals, by horizon and scenario,
  against the "unlikely / toss-up / likely" lines;
- `trajectory_chart`: median and 50%/90% bands of the roadmap metrics over the ten years;
- `state_map`: a US tile-grid map (one square per state) of the share of futures in which each
  state has a policy in force by a chosen year;
- `diffusion_network`: how a policy spreads across bordering states (networkx).

Colours are Okabe-Ito (categorical) and single-hue or viridis ramps (sequential), all safe for
colour-blind readers; fonts are sized for a slide.
"""

from __future__ import annotations

import base64
import io
import math
import textwrap
import tomllib
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import indicators as _ind
from .resultsets import load_results

# Okabe & Ito (2008) colour-blind-safe palette, yellow last (weak on white).
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
# P(met) thresholds that the charts and sentences call unlikely / toss-up / likely.
LIKELY, UNLIKELY = 2 / 3, 1 / 3
STATUS_COLOURS = {0: "#E4E4E4", 1: "#D55E00", 2: "#0072B2"}  # never, repealed, in force
MAP_POLICIES = ("weighted_funding", "integration_incentives", "discipline_mandate")
DEFAULT_METRICS = ("dissimilarity_within_district", "spending_gap", "adequacy_gap", "suspension_gap_pp",
                   "ap_gap", "achievement_gap")
STYLE = {
    "font.size": 13, "axes.titlesize": 14, "axes.labelsize": 13, "xtick.labelsize": 12,
    "ytick.labelsize": 12, "legend.fontsize": 12, "figure.titlesize": 18, "axes.spines.top": False,
    "axes.spines.right": False, "figure.dpi": 100, "savefig.dpi": 150,
}


# ---------------------------------------------------------------------------- words
@cache
def words() -> dict:
    """The presentation vocabulary (data/presentation.toml)."""
    return tomllib.loads(resources.files("equitysim").joinpath("data/presentation.toml").read_text())


def scenario_phrase(name: str) -> str:
    """'the roadmap as written', or "the 'my_plan' scenario" for a name the vocabulary lacks."""
    return words()["scenarios"].get(name, f"the '{name}' scenario")


def metric_label(name: str) -> str:
    return words()["metrics"].get(name, {}).get("label", name.replace("_", " "))


def metric_phrase(name: str) -> str:
    """The metric as the subject of a sentence ('the share of students in under-funded districts')."""
    m = words()["metrics"].get(name, {})
    return m.get("phrase", "the " + metric_label(name).lower())


def policy_label(name: str) -> str:
    return words()["policies"].get(name, name.replace("_", " ").capitalize())


def likelihood(p: float) -> str:
    """'likely' (P >= 2/3), 'a toss-up', or 'unlikely' (P < 1/3)."""
    if p >= LIKELY:
        return "likely"
    return "unlikely" if p < UNLIKELY else "a toss-up"


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _wrap(s: str, width: int = 80) -> str:
    return "\n".join(textwrap.wrap(s, width))


def scale_of(result) -> float:
    """The world scale a result ran at (1.0 when unknown)."""
    return float(result.spec.scale)


# ---------------------------------------------------------------------------- tile grid
@cache
def tile_grid() -> pd.DataFrame:
    """(row, col) of each state's square on the US tile-grid map, indexed by state code."""
    with resources.files("equitysim").joinpath("data/tile_grid.csv").open() as f:
        return pd.read_csv(f, dtype={"state": str}).set_index("state")


def _text_colour(rgba) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def draw_tiles(ax, colours: dict, labels: dict | None = None, title: str | None = None):
    """Draw the tile-grid map on `ax`: `colours` maps state code -> colour, `labels` maps state
    code -> a second line under the code (e.g. '62%')."""
    grid = tile_grid()
    for code, (row, col) in grid[["row", "col"]].iterrows():
        c = mpl.colors.to_rgba(colours.get(code, "#FFFFFF"))
        ax.add_patch(mpl.patches.FancyBboxPatch((col + 0.05, -row - 0.95), 0.9, 0.9,
                                                boxstyle="round,pad=0,rounding_size=0.08",
                                                facecolor=c, edgecolor="white", linewidth=1.5))
        tc = _text_colour(c)
        extra = (labels or {}).get(code)
        ax.text(col + 0.5, -row - 0.5 + (0.14 if extra else 0), code, ha="center", va="center",
                fontsize=11, fontweight="bold", color=tc)
        if extra:
            ax.text(col + 0.5, -row - 0.68, extra, ha="center", va="center", fontsize=8.5, color=tc)
    ax.set_xlim(-0.1, grid["col"].max() + 1.1)
    ax.set_ylim(-grid["row"].max() - 1.1, 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, loc="left", fontsize=13)


# ---------------------------------------------------------------------------- indicator chart
def _summaries(res) -> dict[str, pd.DataFrame]:
    return {n: r.summary().set_index("id") for n, r in res.items()}


def indicator_finding(res) -> str:
    """One sentence: how many indicators are likely under each scenario."""
    summ = _summaries(res)
    counts = {n: (int((s["p_met"] >= LIKELY).sum()), int((s["p_met"] < UNLIKELY).sum())) for n, s in summ.items()}
    n_ind = len(_ind.indicators())
    if len(res) == 1:
        (name, (lik, unl)), = counts.items()
        toss = n_ind - lik - unl
        return (f"{_cap(scenario_phrase(name))}: {lik} of {n_ind} indicators likely, "
                f"{toss} toss-up{'s' if toss != 1 else ''}, {unl} unlikely")
    exp = {n: r.expected_met() for n, r in res.items()}
    best = max(counts, key=lambda n: (counts[n][0], exp[n]))
    worst = min(counts, key=lambda n: (counts[n][0], exp[n]))
    if counts[best][0] == counts[worst][0]:
        # A tie on likely indicators: say so, and separate them by indicators met on average.
        return (f"Every scenario makes {counts[best][0]} of {n_ind} indicators likely; {scenario_phrase(best)} "
                f"meets the most on average ({exp[best]:.1f}, against {exp[worst]:.1f} under {scenario_phrase(worst)})")
    return (f"{_cap(scenario_phrase(best))} makes the most indicators likely ({counts[best][0]} of {n_ind}); "
            f"{scenario_phrase(worst)} the fewest ({counts[worst][0]})")


def indicator_chart(results, title: str | None = None) -> Figure:
    """P(indicator met) with its 95% interval, grouped by horizon, one colour per scenario."""
    res = load_results(results)
    summ = _summaries(res)
    inds = _ind.indicators()
    names = list(res)
    n_s = len(names)
    scales = {scale_of(r) for r in res.values()}
    finding = _wrap(title or indicator_finding(res), 90)
    reps = sorted({r.replications for r in res.values()})
    sub = (f"P(indicator met) across {'/'.join(map(str, reps))} simulated futures"
           f"{' per scenario' if n_s > 1 else ''}; bars: 95% intervals")
    if scales != {1.0}:
        sub += f"; district and region targets scaled to a {'/'.join(f'{s:g}' for s in sorted(scales))}-size world"
    sub = _wrap(sub, 120)
    with mpl.rc_context(STYLE):
        rows = len(inds) + len(_ind.HORIZONS)
        # Heights in inches: title lines, subtitle lines, legend, the band words, then the rows.
        head = 0.42 * (finding.count("\n") + 1) + 0.26 * (sub.count("\n") + 1) + (0.45 if n_s > 1 else 0) + 0.55
        body = rows * (0.36 + 0.12 * n_s)
        H = head + body + 0.9
        fig = Figure(figsize=(13, H))
        ax = fig.add_axes((0.36, 0.75 / H, 0.6, body / H))
        ax.axvspan(-0.02, UNLIKELY, color="#F4F4F4", zorder=0)
        ax.axvspan(LIKELY, 1.02, color="#EAF2F8", zorder=0)
        for x in (UNLIKELY, LIKELY):
            ax.axvline(x, color="#555555", linestyle="--", linewidth=1.2, zorder=1)
        y, ticks, labels = 0.0, [], []
        dodge = np.linspace(-0.25, 0.25, n_s) if n_s > 1 else np.zeros(1)
        horizon_words = {2: "short term", 5: "medium term", 10: "long term"}
        for h in _ind.HORIZONS:
            ax.text(-0.01, y, f"By year {h} ({horizon_words.get(h, '')})", transform=ax.get_yaxis_transform(),
                    ha="right", va="center", fontsize=13, fontweight="bold")
            y += 1
            for ind in (i for i in inds if i.horizon_year == h):
                for k, name in enumerate(names):
                    r = summ[name].loc[ind.id]
                    eb = ax.errorbar(r.p_met, y + dodge[k], xerr=[[max(r.p_met - r.ci_low, 0)], [max(r.ci_high - r.p_met, 0)]],
                                     fmt=MARKERS[k % 8], color=OKABE_ITO[k % 8], markersize=8, capsize=3,
                                     linewidth=2, zorder=3, label=name if ind is _first(inds, h) and h == _ind.HORIZONS[0] else None)
                    for art in eb.lines[0:1]:
                        art.set_clip_on(False)
                ticks.append(y)
                labels.append(f"{ind.label} ({_target_text(ind, scales)})")
                y += 1
        ax.set_yticks(ticks, labels)
        ax.set_ylim(y - 0.4, -0.6)
        ax.set_xlim(-0.02, 1.02)
        ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
        ax.set_xlabel("share of simulated futures in which the indicator is met")
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        for x, word in ((UNLIKELY / 2, "unlikely"), ((UNLIKELY + LIKELY) / 2, "toss-up"), ((LIKELY + 1) / 2, "likely")):
            ax.text(x, -0.65, word, ha="center", va="bottom", fontsize=13, fontstyle="italic", color="#333333")
        top = 1 - 0.2 / H
        fig.text(0.02, top, finding, ha="left", va="top", fontsize=18, fontweight="bold")
        top -= (0.42 * (finding.count("\n") + 1) + 0.08) / H
        fig.text(0.02, top, sub, ha="left", va="top", fontsize=12, color="#333333")
        if n_s > 1:
            ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0 + 0.5 / body), ncol=min(n_s, 4), frameon=False,
                      fontsize=12)
    return fig


def _first(inds, h):
    return next(i for i in inds if i.horizon_year == h)


def _target_text(ind, scales) -> str:
    if not ind.scales_with_world or scales == {1.0}:
        return ind.target
    unit = ind.target.split(" ", 1)[1] if " " in ind.target else ""
    return f"{'/'.join(f'{ind.threshold_at(s):g}' for s in sorted(scales))} {unit}".strip()


# ---------------------------------------------------------------------------- trajectories
def _bands(traj: pd.DataFrame, metric: str) -> pd.DataFrame:
    q = traj.groupby("year")[metric].quantile([0.05, 0.25, 0.5, 0.75, 0.95]).unstack()
    q.columns = ["p5", "p25", "p50", "p75", "p95"]
    return q


def _relative_change(q: pd.DataFrame) -> float:
    """Median change from year 0 to the last year, as a share of year 0 (NaN if year 0 <= 0)."""
    start, end = q["p50"].iloc[0], q["p50"].iloc[-1]
    return (end - start) / start if start > 1e-9 else math.nan


def trajectory_finding(res, metrics: Sequence[str] = DEFAULT_METRICS) -> str:
    with_traj = {n: r for n, r in res.items() if r.trajectories is not None}
    first = next(iter(with_traj))
    changes = {}
    for m in metrics:
        q = _bands(with_traj[first].trajectories, m)
        c = _relative_change(q)
        if not math.isnan(c):
            good = words()["metrics"].get(m, {}).get("better", "lower") == "lower"
            changes[m] = -c if good else c
    years = int(with_traj[first].trajectories["year"].max())
    if not changes:
        return f"Roadmap metrics over {years} years under {scenario_phrase(first)}"
    m = max(changes, key=changes.get)
    c = _relative_change(_bands(with_traj[first].trajectories, m))
    verb = "falls" if c < 0 else "rises"
    text = f"Under {scenario_phrase(first)}, {metric_phrase(m)} {verb} {abs(c):.0%} in {years} years (median future)"
    others = {n: _relative_change(_bands(r.trajectories, m)) for n, r in with_traj.items() if n != first}
    if others:
        text += "; " + ", ".join(f"{n}: {v:+.0%}".replace("-", "\u2212") for n, v in others.items())
    return text


def trajectory_chart(results, metrics: Sequence[str] = DEFAULT_METRICS, title: str | None = None) -> Figure:
    """Median and 50%/90% bands of each metric over the years, one colour per scenario.

    Needs results run with `trajectories=True`."""
    res = load_results(results)
    with_traj = {n: r for n, r in res.items() if r.trajectories is not None}
    if not with_traj:
        raise ValueError("no trajectories in these results: run the ensemble with trajectories=True "
                         "(equitysim report/plot do this when they run a scenario)")
    unknown = [m for m in metrics if m not in _ind.TRAJECTORY_METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; expected some of {list(_ind.TRAJECTORY_METRICS)}")
    n = len(metrics)
    ncol = 3 if n > 4 else min(n, 2)
    nrow = math.ceil(n / ncol)
    finding = _wrap(title or trajectory_finding(with_traj, metrics), 95)
    head = 0.42 * (finding.count("\n") + 1) + 0.35 + (0.45 if len(with_traj) > 1 else 0) + 0.1
    H = 3.9 * nrow + head
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(5.4 * ncol, H), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
        for ax, m in zip(axes, metrics):
            for k, (name, r) in enumerate(with_traj.items()):
                q = _bands(r.trajectories, m)
                c = OKABE_ITO[k % 8]
                ax.fill_between(q.index, q["p5"], q["p95"], color=c, alpha=0.12, linewidth=0)
                ax.fill_between(q.index, q["p25"], q["p75"], color=c, alpha=0.30, linewidth=0)
                ax.plot(q.index, q["p50"], color=c, linewidth=2.5, label=name,
                        linestyle=("-", "--", ":", "-.")[k % 4])
            ax.set_title(_wrap(metric_label(m), 40), loc="left", fontsize=13)
            ax.set_ylabel(_wrap(words()["metrics"].get(m, {}).get("unit", ""), 34), fontsize=11)
            ax.set_xlabel("year")
            ax.xaxis.set_major_locator(mpl.ticker.MultipleLocator(2))
            ax.grid(axis="y", color="#DDDDDD", linewidth=0.8)
        for ax in axes[n:]:
            ax.set_visible(False)
        top = 1 - 0.15 / H
        fig.text(0.01, top, finding, ha="left", va="top", fontsize=18, fontweight="bold")
        top -= (0.42 * (finding.count("\n") + 1) + 0.05) / H
        fig.text(0.01, top, "Line: median future; dark band: middle 50% of futures; light band: 90%",
                 ha="left", va="top", fontsize=12, color="#333333")
        if len(with_traj) > 1:
            top -= 0.35 / H
            fig.legend(*axes[0].get_legend_handles_labels(), loc="upper left", bbox_to_anchor=(0.01, top),
                       ncol=min(len(with_traj), 4), frameon=False)
        fig.get_layout_engine().set(rect=(0, 0, 1, 1 - head / H))
    return fig


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
        finding = _wrap(finding, 55 * ncols)
        fig.text(0.01, 1 - 0.15 / H, finding, ha="left", va="top", fontsize=18, fontweight="bold")
        head = 0.42 * (finding.count("\n") + 1) + 0.35
        if n > ncols * (nrows - 1) and n % ncols:  # room in the last row: put the scale there
            cax = fig.add_axes((0.5 + 0.1 / ncols, 0.9 / H + 1.2 / H, 0.8 / ncols, 0.25 / H))
        else:
            cax = fig.add_axes((0.35, 0.35 / H, 0.3, 0.22 / H))
        cb = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
        cb.ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
        cb.set_label(_wrap(f"share of {r.replications} simulated futures in which the state has it {verb} "
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
            fig.suptitle(_wrap(title, 46 * n), x=0.01, ha="left", fontweight="bold", fontsize=13)
        fig.subplots_adjust(left=0.01, right=0.99, top=0.82, bottom=0.1, wspace=0.04)
    return fig


# ---------------------------------------------------------------------------- diffusion network
def diffusion_graph(result, policy: str):
    """networkx DiGraph over the states: node attributes `share` (futures in which the state ever
    enacts `policy`) and `median_year` (median year of first enactment where it does); an edge
    u -> v joins bordering states that both enact it in most futures, u typically first."""
    import networkx as nx

    from .network import adjacency_matrix as adjacency
    from .world import load_states

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
            text_colours[c] = _text_colour(col)
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
        fig.suptitle(_wrap(title or finding, 100), x=0.02, ha="left", fontweight="bold")
        fig.text(0.02, 0.885, "Colour: median year a state first enacts it (grey: in fewer than half of futures); "
                 "size: share of futures; arrows: along a border, from the usual earlier adopter",
                 ha="left", va="top", fontsize=11.5, color="#333333")
        cax = fig.add_axes((0.35, 0.06, 0.3, 0.025))
        cb = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
        cb.set_label("median year first enacted")
    return fig


# ---------------------------------------------------------------------------- output
def save(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    return path


def to_data_uri(fig: Figure, dpi: int = 110) -> str:
    """The figure as an inline PNG (data: URI) for a self-contained HTML page."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


KINDS = {"indicators": indicator_chart, "trajectories": trajectory_chart, "map": state_map,
         "network": diffusion_network}
