"""Charts of a calibration (`equitysim calibrate`): each target's history against the prior and
posterior predictive intervals, and each calibrated parameter's prior against its posterior."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .style import OKABE_ITO, STYLE


def series_chart(summary: dict) -> Figure:
    """One row per target: the historical value and band, the prior predictive 5-95% interval
    (wave 1's runs) and the posterior predictive 5-95% interval and mean (the check's runs)."""
    import matplotlib as mpl

    targets = summary["targets"]
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(11, 0.75 * len(targets) + 1.8))
        axes = fig.subplots(len(targets), 1, squeeze=False)[:, 0]
        for ax, (k, t) in zip(axes, targets.items()):
            lo, hi = t["band"]
            ax.axvspan(lo, hi, color="#dddddd", label="history band")
            ax.plot([t["history"]], [0], marker="|", color="black", markersize=22, mew=3, label="history")
            pr, pp = t["prior_predictive"], t["posterior_predictive"]
            ax.plot([pr["p05"], pr["p95"]], [0.25, 0.25], color=OKABE_ITO[5], lw=4, label="prior predictive 5-95%")
            ax.plot([pp["p05"], pp["p95"]], [-0.25, -0.25], color=OKABE_ITO[0], lw=4,
                    label="posterior predictive 5-95%")
            ax.plot([pp["mean"]], [-0.25], "o", color=OKABE_ITO[1], label="posterior predictive mean")
            ax.set_yticks([])
            ax.set_ylim(-0.6, 0.6)
            ax.set_ylabel(f"{k}{' (held out)' if t['held_out'] else ''}\n{t['statistic']}", rotation=0, ha="right",
                          va="center", fontsize=10)
            ax.tick_params(axis="x", labelsize=9)
            for s in ("left", "top", "right"):
                ax.spines[s].set_visible(False)
        n_in = sum(t["mean_in_band"] for t in targets.values() if not t["held_out"])
        n_fit = sum(not t["held_out"] for t in targets.values())
        fig.suptitle(f"History against the calibrated model: {n_in} of {n_fit} fitted series' posterior means "
                     f"in band", fontsize=14)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9, frameon=False)
        fig.subplots_adjust(left=0.33, right=0.98, top=0.93, bottom=0.1, hspace=0.9)
    return fig


def parameter_chart(summary: dict, posterior) -> Figure:
    """Per calibrated parameter: the prior density (registry distribution) and the posterior
    sample's histogram over the registry range."""
    import matplotlib as mpl

    params = summary["parameters"]
    n = len(params)
    cols = 3
    rows = -(-n // cols)
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(12, 2.6 * rows + 0.8))
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, (name, p) in zip(axes, params.items()):
            lo, hi, d = p["low"], p["high"], p["default"]
            x = np.linspace(lo, hi, 200)
            if p["dist"] == "triangular":
                dens = np.where(x <= d, 2 * (x - lo) / ((hi - lo) * max(d - lo, 1e-12)),
                                2 * (hi - x) / ((hi - lo) * max(hi - d, 1e-12)))
            else:
                dens = np.full_like(x, 1 / (hi - lo))
            ax.hist(posterior[name], bins=20, range=(lo, hi), density=True, color=OKABE_ITO[0], alpha=0.6,
                    label="posterior")
            ax.plot(x, dens, color="black", lw=1.5, label="prior")
            ax.axvline(d, color=OKABE_ITO[1], ls="--", lw=1, label="registry default")
            ax.set_title(f"{name}\n90% width x{p['width_ratio']:.2f}", fontsize=10)
            ax.tick_params(labelsize=8)
            ax.set_yticks([])
        for ax in axes[n:]:
            ax.set_visible(False)
        narrowed = sum(p["width_ratio"] < 0.8 for p in params.values())
        fig.suptitle(f"Prior and posterior: history narrows {narrowed} of {n} parameters by more than 20%",
                     fontsize=14)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9, frameon=False)
        fig.subplots_adjust(top=0.88, bottom=0.1, hspace=0.7)
    return fig
