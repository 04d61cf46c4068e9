"""Diffusion and proof points (the roadmap's multi-level diagram: success stories travel up
and sideways; states imitate neighbours, districts their regional peers).

Reads: diffusion_neighbor_weight, success_story_weight, story_floor.
"""

from __future__ import annotations

import numpy as np


def neighbour_policy_share(m) -> np.ndarray:
    """(n_s, n_p) share of each state's neighbours with each policy in force."""
    return m.fixed.adjacency_share @ m.state_arrays.policy_on


def regional_peer_share(m) -> np.ndarray:
    """(n_k, n_r) share of each region's districts running each program."""
    w, cells, n_k = m.world, m.cells, len(m.programs)
    n_r = w.n_regions
    counts = np.bincount(cells.program * n_r + w.d_region[cells.district], minlength=n_k * n_r)
    return counts.reshape(n_k, n_r) * m.fixed.region_inv


def state_story_multiplier(m) -> np.ndarray:
    """(n_s,) pace multiplier from proof points: `story_floor` without any local win, rising
    with the state's (or half the national) win share."""
    coal = m.coalition_arrays
    return m.par.story_floor + m.par.success_story_weight * np.maximum(coal.win_share, coal.national_win_share / 2)


def national_story_multiplier(m) -> float:
    """The federal counterpart of `state_story_multiplier`, from the national win share."""
    return m.par.story_floor + m.par.success_story_weight * m.coalition_arrays.national_win_share


def by_phase(stories: np.ndarray, phase1: np.ndarray) -> np.ndarray:
    """(n_rows, n_s): phase-1 rows are the roadmap's 'achievable victories' and go ahead
    without proof points (multiplier at least 1); later rows move at the story multiplier."""
    return np.where(phase1[:, None], np.maximum(stories, 1.0)[None, :], stories[None, :])
