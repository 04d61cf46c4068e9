"""Charts of the analyses: sensitivity indices (`plot_indices`) and the sequencing search's
trade-off between expected value and worst-case regret (`tradeoff_chart`). Both write PNG
files (and SVG for the indices) through pyplot's Agg backend."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..narrative import indicator_count, tradeoff_title
from .style import OKABE_ITO


def plot_indices(indices: pd.DataFrame, method: str, path_stem: str, output_labels: dict | None = None) -> list[str]:
    """Sobol/eFAST bars with intervals per output, or Morris mu*-sigma scatter; PNG and SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outputs = list(dict.fromkeys(indices.output))
    n = len(outputs)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    for ax, out in zip(axes.flat, outputs):
        g = indices[indices.output == out]
        title = (output_labels or {}).get(out, out.replace("_", " "))
        if method == "morris":
            ax.errorbar(g.mu_star, g.sigma, xerr=g.mu_star_conf, fmt="o", color=OKABE_ITO[0])
            for r in g.itertuples():
                ax.annotate(r.parameter.replace("_", " "), (r.mu_star, r.sigma), fontsize=7)
            ax.set_xlabel("mu* (mean |elementary effect|)")
            ax.set_ylabel("sigma")
            top = g.sort_values("mu_star", ascending=False).iloc[0].parameter
        else:
            g = g.sort_values("ST")
            y = np.arange(len(g))
            ax.barh(y - 0.2, g.S1, 0.4, xerr=g.S1_conf, color=OKABE_ITO[0], label="first order (S1)")
            ax.barh(y + 0.2, g.ST, 0.4, xerr=g.ST_conf, color=OKABE_ITO[1], label="total (ST)")
            ax.set_yticks(y, [p.replace("_", " ") for p in g.parameter], fontsize=8)
            ax.set_xlim(0, 1)
            ax.set_xlabel("share of variance")
            top = g.iloc[-1].parameter
            ax.legend(fontsize=7, frameon=False)
        ax.set_title(f"{title}:\n{top.replace('_', ' ')} matters most", fontsize=10)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    paths = [f"{path_stem}.png", f"{path_stem}.svg"]
    for p in paths:
        fig.savefig(p, dpi=130)
    plt.close(fig)
    return paths


def tradeoff_chart(table: pd.DataFrame, path: str | Path) -> None:
    """The sequencing search's chart, written to `path` (PNG): every candidate's expected
    indicators met against its worst-case regret (indicators), the roadmap, the best and the most
    robust marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    adaptive = table["adaptive"].astype(bool) if "adaptive" in table else pd.Series(False, index=table.index)
    ax.scatter(table.max_regret[~adaptive], table.expected_met[~adaptive], s=18, color="#0072B2", alpha=0.6,
               label="static candidates" if adaptive.any() else "candidates")
    if adaptive.any():
        ax.scatter(table.max_regret[adaptive], table.expected_met[adaptive], s=22, marker="^", color="#E69F00",
                   alpha=0.7, label="adaptive candidates ([[adapt]] rules)")
    r = table[table.is_roadmap]
    ax.scatter(r.max_regret, r.expected_met, s=80, color="#D55E00", marker="D", label="roadmap as written")
    best = table.sort_values("expected_met", ascending=False).iloc[0]
    rob = table.sort_values("max_regret").iloc[0]
    ax.scatter([best.max_regret], [best.expected_met], s=90, facecolors="none", edgecolors="#009E73", linewidths=2,
               label="best expected")
    ax.scatter([rob.max_regret], [rob.expected_met], s=90, marker="s", facecolors="none", edgecolors="#CC79A7",
               linewidths=2, label="most robust")
    ax.set_xlabel("worst-case regret across futures (indicators; further left is safer)")
    ax.set_ylabel(f"expected indicators met (of {indicator_count()}; higher is better)")
    title = tradeoff_title(table)
    ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
