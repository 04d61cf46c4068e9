"""Reflection (the guide's cycle: reflect on results; a public win raises local buy-in and,
through the network, state and federal odds; pitfall "measuring the wrong thing").

Once a year each district's best program is checked: when its coverage x fidelity is visibly
effective and the district's data can show it, it is a public win. Wins raise buy-in and
fidelity locally, give each state and the nation proof points (win shares, weighted by plan
support for success stories) and broaden the state's coalition.

Reads: reflect_win_threshold, reflect_win_scale, data_quality_base, federal_data_weight,
win_buy_in_gain, win_fidelity_gain, story_base, state_win_reference_share,
national_win_reference_share, coalition_breadth_per_win.
"""

from __future__ import annotations

import numpy as np


def data_quality(m) -> np.ndarray:
    """(n_d,) probability (0-1) that a real win shows in a district's data: plan, federal and
    state data work (e.g. sunset reviews) sharpen it."""
    par = m.par
    state = m.state_effects_now().channels.get("data", np.zeros(m.n_states))
    national = par.data_quality_base + m.support("data") + m.federal_channel("data") * par.federal_data_weight
    return np.minimum(1.0, national + state[m.world.d_state] * par.federal_data_weight)


def reflect(m) -> None:
    """The yearly reflect step, for every district at once."""
    par, w, q = m.par, m.world, m.quarter
    cells, dist, coal = m.cells, m.district_arrays, m.coalition_arrays
    g = m.quarter_rng()
    eff = m.cells_coverage() * cells.fidelity
    quality = data_quality(m)
    # A district wins when its best program is visibly effective and the data show it.
    good = np.zeros(w.n_districts, bool)
    good[cells.district[eff > par.reflect_win_threshold * par.reflect_win_scale]] = True
    cand = np.flatnonzero(good)
    win_d = cand[g.random(len(cand)) < quality[cand]]
    dist.program_wins[win_d] += 1
    dist.buy_in[win_d] = np.minimum(dist.buy_in[win_d] + par.win_buy_in_gain, 1)
    win = np.zeros(w.n_districts, bool)
    win[win_d] = True
    f = win[cells.district]
    cells.fidelity[f] = np.minimum(cells.fidelity[f] + par.win_fidelity_gain, 1)
    stories = par.story_base + m.support("stories")
    n_s = np.bincount(w.d_state, minlength=m.n_states)
    wins_s = np.bincount(w.d_state[win_d], minlength=m.n_states)
    coal.win_share = np.minimum(1, wins_s / (par.state_win_reference_share * n_s + 1) * stories)
    coal.national_win_share = float(min(1, len(win_d) / (par.national_win_reference_share * w.n_districts + 1) * stories))
    coal.last_win_quarter[:-1][wins_s > 0] = q
    if len(win_d) > 0:
        coal.last_win_quarter[-1] = q
    coal.breadth[:-1] = np.minimum(1, coal.breadth[:-1] + par.coalition_breadth_per_win * (wins_s > 0) * stories)
