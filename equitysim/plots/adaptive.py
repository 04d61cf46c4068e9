"""Charts of adaptive plans ([[adapt]] rules): the pathways chart (time across, one line per
sequencing branch, line width by the share of futures on it, markers where futures switch) and
the adaptations chart (how often each rule fired, and when it first did)."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from ..mechanisms.adaptation import AS_WRITTEN
from ..narrative import adaptations_title, pathways_title
from ..resultsets import load_results
from .style import MARKERS, OKABE_ITO, STYLE

WIDTH_MAX = 14.0   # points: the line of a branch every future is on
LABEL_MIN = 0.1    # switches made by fewer futures than this are drawn but not labelled


def _adaptive(results, scenario: str | None):
    res = load_results(results)
    names = [n for n, r in res.items() if r.spec.adapt] if scenario is None else [scenario]
    if not names or names[0] not in res or not res[names[0]].spec.adapt:
        raise ValueError("no adaptive scenario in these results (a scenario with [[adapt]] rules)"
                         if scenario is None else f"{scenario}: expected an adaptive scenario of these results")
    return names[0], res[names[0]]


def branch_shares(result, step: float = 0.25) -> tuple[np.ndarray, list[str], np.ndarray, list]:
    """Times (years), branches, shares (branches, times) of futures on each branch at each time,
    and the switches [(year, from, to, share of futures)]."""
    years = result.spec.years
    ways = result.pathways()
    branches = [AS_WRITTEN] + [f.name for f in result.spec.fallbacks]
    for w in ways:
        for _, b in w:
            if b not in branches:
                branches.append(b)
    branches = [b for b in branches if b == AS_WRITTEN or any(b == x for w in ways for _, x in w)] or [AS_WRITTEN]
    t = np.arange(0, years + step / 2, step)
    share = np.zeros((len(branches), len(t)))
    moves: dict[tuple, int] = {}
    for w in ways:
        cur, last = AS_WRITTEN, 0.0
        for y, b in list(w) + [(years + step, None)]:
            share[branches.index(cur), (t >= last) & (t < y)] += 1
            if b is not None:
                moves[(y, cur, b)] = moves.get((y, cur, b), 0) + 1
                cur, last = b, y
    n = max(len(ways), 1)
    return t, branches, share / n, [(y, a, b, k / n) for (y, a, b), k in sorted(moves.items())]


def first_arrivals(result) -> dict[str, list[float]]:
    """Branch -> the year each future first reached it (futures that never did left out)."""
    out: dict[str, list[float]] = {}
    for w in result.pathways():
        seen = set()
        for y, b in w:
            if b not in seen and b != AS_WRITTEN:
                out.setdefault(b, []).append(y)
                seen.add(b)
    return out


def pathways_chart(results, scenario: str | None = None, title: str | None = None) -> Figure:
    """Adaptation pathways of an adaptive scenario: one horizontal line per sequencing branch (the
    plan as written, each fallback, and either with a group paused), as wide as the share of futures on it at each time, with a
    marker and a connector where futures switch (marker size by the share switching then)."""
    name, r = _adaptive(results, scenario)
    t, branches, share, moves = branch_shares(r)
    with_style = dict(STYLE)
    fig = Figure(figsize=(10, 1.6 + 0.9 * len(branches)))
    with __import__("matplotlib").rc_context(with_style):
        ax = fig.subplots()
        for i, b in enumerate(branches):
            col = OKABE_ITO[i % len(OKABE_ITO)]
            seg = np.stack([np.column_stack([t[:-1], np.full(len(t) - 1, i)]),
                            np.column_stack([t[1:], np.full(len(t) - 1, i)])], 1)
            w = share[i, :-1]
            keep = w > 0
            ax.add_collection(LineCollection(seg[keep], linewidths=0.5 + WIDTH_MAX * w[keep], colors=col,
                                             capstyle="butt"))
            on = share[i].max()
            ax.text(t[-1] + 0.15, i, f"{b}\n(at most {on:.0%} of futures)", va="center", fontsize=10, color=col)
        for k, (y, a, b, s) in enumerate(moves):
            ya, yb = branches.index(a), branches.index(b)
            ax.plot([y, y], [ya, yb], color="#555555", linewidth=0.5 + WIDTH_MAX * s, alpha=0.35,
                    solid_capstyle="butt")
            ax.scatter([y], [yb], s=30 + 400 * s, marker=MARKERS[1], color=OKABE_ITO[branches.index(b) % len(OKABE_ITO)],
                       edgecolors="black", zorder=3)
            if s >= LABEL_MIN:
                ax.annotate(f"{s:.0%}", (y, yb), textcoords="offset points", xytext=(0, 12), ha="center", fontsize=9)
        ax.set_yticks([])
        ax.set_ylim(-0.7, len(branches) - 0.3)
        ax.set_xlim(0, t[-1] + 3.2)
        ax.set_xticks(range(0, int(t[-1]) + 1))
        ax.set_xlabel("years from the start of the campaign")
        ax.spines["left"].set_visible(False)
        ax.set_title(title or pathways_title(name, r.replications, first_arrivals(r)), loc="left", fontsize=12)
        fig.tight_layout()
    return fig


def adaptations_chart(results, scenario: str | None = None, title: str | None = None) -> Figure:
    """Per rule: the share of futures in which it fired (bar) and, beside it, when it first fired
    (one dot per future that fired, jittered; the bar is the middle half)."""
    name, r = _adaptive(results, scenario)
    rules = [a.name for a in r.spec.adapt]
    info = {a["rule"]: a for a in r.adaptations()}
    fig = Figure(figsize=(11, 1.4 + 0.6 * len(rules)))
    with __import__("matplotlib").rc_context(STYLE):
        ax1, ax2 = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1, 2]})
        y = np.arange(len(rules))[::-1]
        ax1.barh(y, [info[n]["fired_share"] for n in rules], color=OKABE_ITO[0])
        ax1.set_xlim(0, 1)
        ax1.set_xlabel("share of futures it fired in")
        ax1.set_yticks(y, [n.replace("_", " ") for n in rules], fontsize=9)
        rng = np.random.default_rng(0)   # jitter only (a picture, not a result)
        for yi, n in zip(y, rules):
            col = f"adapt.{n}"
            first = r.runs[col].to_numpy(float) if col in r.runs else np.array([])
            first = first[~np.isnan(first)]
            if len(first):
                ax2.scatter(first, yi + rng.uniform(-0.25, 0.25, len(first)), s=10, alpha=0.5, color=OKABE_ITO[1])
                q1, q3 = np.quantile(first, [0.25, 0.75])
                ax2.plot([q1, q3], [yi, yi], color="black", linewidth=3)
        ax2.set_xlim(0, r.spec.years)
        ax2.set_xlabel("year it first fired (dots: futures; bar: middle half)")
        fig.suptitle(title or adaptations_title(name, r.replications, [info[n] for n in rules]), x=0.01, ha="left",
                     fontsize=12)
        fig.tight_layout()
    return fig
