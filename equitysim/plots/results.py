"""Charts of an ensemble's results: P(met) of every indicator (`indicator_chart`) and the
metrics' trajectories over the years (`trajectory_chart`); and one future's metrics so far
(`history_chart`, the interactive page)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from .. import indicators as _ind
from ..narrative import (LIKELY, UNLIKELY, change_label, indicator_finding, metric_label, trajectory_finding,
                         words)
from ..resultsets import load_results, scale_of, trajectory_bands
from .style import MARKERS, OKABE_ITO, STYLE, wrap

DEFAULT_METRICS = ("dissimilarity_within_district", "spending_gap", "adequacy_gap", "suspension_gap_pp",
                   "ap_gap", "achievement_gap")


# ---------------------------------------------------------------------------- indicator chart
def indicator_chart(results, title: str | None = None) -> Figure:
    """P(indicator met) with its 95% interval, grouped by horizon, one colour per scenario."""
    res = load_results(results)
    summ = {n: r.summary().set_index("id") for n, r in res.items()}
    inds = _ind.indicators()
    names = list(res)
    n_s = len(names)
    scales = {scale_of(r) for r in res.values()}
    finding = wrap(title or indicator_finding(res), 90)
    reps = sorted({r.replications for r in res.values()})
    sub = (f"P(indicator met) across {'/'.join(map(str, reps))} simulated futures"
           f"{' per scenario' if n_s > 1 else ''}; bars: 95% intervals")
    if scales != {1.0}:
        sub += f"; district and region targets scaled to a {'/'.join(f'{s:g}' for s in sorted(scales))}-size world"
    sub = wrap(sub, 120)
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
    finding = wrap(title or trajectory_finding(with_traj, metrics), 95)
    head = 0.42 * (finding.count("\n") + 1) + 0.35 + (0.45 if len(with_traj) > 1 else 0) + 0.1
    H = 3.9 * nrow + head
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(5.4 * ncol, H), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
        for ax, m in zip(axes, metrics):
            for k, (name, r) in enumerate(with_traj.items()):
                q = trajectory_bands(r.trajectories, m)
                c = OKABE_ITO[k % 8]
                ax.fill_between(q.index, q["p5"], q["p95"], color=c, alpha=0.12, linewidth=0)
                ax.fill_between(q.index, q["p25"], q["p75"], color=c, alpha=0.30, linewidth=0)
                ax.plot(q.index, q["p50"], color=c, linewidth=2.5, label=name,
                        linestyle=("-", "--", ":", "-.")[k % 4])
            ax.set_title(wrap(metric_label(m), 40), loc="left", fontsize=13)
            ax.set_ylabel(wrap(words()["metrics"].get(m, {}).get("unit", ""), 34), fontsize=11)
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


# ---------------------------------------------------------------------------- one future
def history_chart(history: list[dict], years: int, metrics: Sequence[str]) -> Figure:
    """The metrics at each year end of one simulated future, each panel in its own unit.

    `history`: one dict of metrics per year end, starting with year 0 (the baseline), each with a
    `year` key; `years`: the run's length (the x axis). Used by the interactive page."""
    with mpl.rc_context(STYLE):
        # A fixed layout: constrained layout and tight bounding boxes triple the drawing time.
        fig = Figure(figsize=(16, 3.6))
        fig.subplots_adjust(left=0.05, right=0.99, bottom=0.17, top=0.84, wspace=0.32)
        axes = fig.subplots(1, 4).ravel()
        for ax, m in zip(axes, metrics):
            xs = [h["year"] for h in history]
            ys = [h[m] for h in history]
            ax.plot(xs, ys, color=OKABE_ITO[0], linewidth=2.5, marker="o", markersize=4)
            ax.set_xlim(0, years)
            ax.set_title(wrap(metric_label(m), 34), loc="left", fontsize=13)
            ax.set_ylabel(wrap(words()["metrics"][m]["unit"], 28), fontsize=10)
            ax.set_xlabel("year")
            ax.grid(axis="y", color="#DDDDDD")
            ax.ticklabel_format(axis="y", useOffset=False)
            base = history[0][m]
            if base > 0:
                # Show at least -30%..+5% of the start, so that noise does not look like a trend.
                ax.set_ylim(min(min(ys), 0.7 * base), max(max(ys), 1.05 * base))
                ax.text(0.98, 0.92, change_label(ys[-1] / base - 1), transform=ax.transAxes,
                        ha="right", fontsize=12, fontweight="bold")
    return fig
