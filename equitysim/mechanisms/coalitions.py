"""Coalitions (roadmap: "build broad coalitions"; phases core -> expansion -> electoral
engagement -> normalization).

Breadth grows with organizing investment and plan support; strength follows breadth and recent
wins; a year without a win costs `coalition_fatigue` (the roadmap's "fatigue" risk). Breadth
damps backlash (backlash.py) and strength lifts adoption (adoption.py).

Reads: coalition_growth, coalition_fatigue, coalition_support_floor, coalition_support_weight,
coalition_strength_floor, coalition_strength_breadth_weight, coalition_strength_win_bonus,
coalition_strength_adjustment, coalition_strength_min, coalition_win_memory_quarters,
coalition_expansion_breadth, coalition_electoral_breadth, coalition_normalization_breadth,
broad_coalition_breadth.
"""

from __future__ import annotations

import numpy as np

from ..numerics import DT, clip

PHASES = ("core", "expansion", "electoral", "normalization")


def grow(m) -> None:
    """One quarter of organizing: breadth toward 1, strength toward its target."""
    par, q, coal = m.par, m.quarter, m.coalition_arrays
    invest = m.spec.strategy.coalition_investment
    support = min(1.0, par.coalition_support_floor + m.support("coalition_growth") * par.coalition_support_weight)
    b = coal.breadth
    b += par.coalition_growth * invest * support * DT * (1 - b)
    won = (q - coal.last_win_quarter) < par.coalition_win_memory_quarters
    target = par.coalition_strength_floor + par.coalition_strength_breadth_weight * b + par.coalition_strength_win_bonus * won
    k = coal.strength
    k += (target - k) * par.coalition_strength_adjustment - par.coalition_fatigue * DT * ~won
    clip(k, par.coalition_strength_min, 1.0, out=k)
    clip(b, 0.0, 1.0, out=b)


def phase_of(breadth: float, par) -> str:
    """The roadmap's coalition phase at a given breadth."""
    cuts = [par.coalition_expansion_breadth, par.coalition_electoral_breadth, par.coalition_normalization_breadth]
    return PHASES[int(np.digitize(breadth, cuts))]


def dynamic_state_masks(m, out: np.ndarray) -> np.ndarray:
    """(3, n_s) bool, the row `where` values decided during the run: all states; states with a
    broad coalition; states with local successes (a nonzero win share)."""
    np.greater_equal(m.coalition_arrays.breadth[:-1], m.par.broad_coalition_breadth, out=out[1])
    np.greater(m.coalition_arrays.win_share, 0, out=out[2])
    return out
