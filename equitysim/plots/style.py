"""The charts' common ground: the colour-blind-safe palette, type sizes for a slide, the US
tile-grid map, and writing a figure to a file or an inline PNG."""

from __future__ import annotations

import base64
import io
import textwrap
from functools import cache
from importlib import resources
from pathlib import Path

import matplotlib as mpl
import pandas as pd
from matplotlib.figure import Figure

# Okabe & Ito (2008) colour-blind-safe palette, yellow last (weak on white).
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
# P(met) thresholds that the charts and sentences call unlikely / toss-up / likely.
LIKELY, UNLIKELY = 2 / 3, 1 / 3
STATUS_COLOURS = {0: "#E4E4E4", 1: "#D55E00", 2: "#0072B2"}  # never, repealed, in force
STYLE = {
    "font.size": 13, "axes.titlesize": 14, "axes.labelsize": 13, "xtick.labelsize": 12,
    "ytick.labelsize": 12, "legend.fontsize": 12, "figure.titlesize": 18, "axes.spines.top": False,
    "axes.spines.right": False, "figure.dpi": 100, "savefig.dpi": 150,
}


def wrap(s: str, width: int = 80) -> str:
    """`s` broken into lines of at most `width` characters."""
    return "\n".join(textwrap.wrap(s, width))


# ---------------------------------------------------------------------------- tile grid
@cache
def tile_grid() -> pd.DataFrame:
    """(row, col) of each state's square on the US tile-grid map, indexed by state code."""
    with resources.files("equitysim").joinpath("data/tile_grid.csv").open() as f:
        return pd.read_csv(f, dtype={"state": str}).set_index("state")


def text_colour(rgba) -> str:
    """Black or white, whichever reads better on the colour `rgba`."""
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
        tc = text_colour(c)
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

