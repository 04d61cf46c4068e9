"""Reflection (the guide's Step 4 "Reflect, Adjust, and Scale": "Compare your metrics to the
baseline ... Celebrate wins publicly to build buy-in"; the roadmap's "Success stories inform
federal/state action").

Once a year every district judges its programs on its own outcome change against its baseline
(cycle.reflect_programs: scale, refine, replace, abandon, honest or hidden failures). A district
with a program measured at the win level has a public win: wins raise buy-in and fidelity
locally, give each state and the nation proof points (win shares, weighted by plan support for
success stories: peers' odds through the network, diffusion.py) and broaden the state's
coalition. Then districts move between lens and program, and diagnose again (cycle.py).

Reads: federal_data_weight, win_buy_in_gain, win_fidelity_gain, story_base,
state_win_reference_share, national_win_reference_share, coalition_breadth_per_win.
"""

from __future__ import annotations

import numpy as np

from . import cycle


def data_support(m) -> np.ndarray:
    """(n_d,) data work reaching each district: plan support, federal data-collection actions and
    its state's data work (e.g. sunset reviews), the last two weighted by `federal_data_weight`."""
    par = m.par
    state = m.state_effects_now().channels.get("data", np.zeros(m.n_states))
    return m.support("data") + (m.federal_channel("data") + state[m.world.d_state]) * par.federal_data_weight


def reflect(m) -> None:
    """The yearly reflect step, for every district at once."""
    par, w, q = m.par, m.world, m.quarter
    cells, dist, coal = m.cells, m.district_arrays, m.coalition_arrays
    g = m.quarter_rng()
    win = cycle.reflect_programs(m, g, data_support(m))
    cells.compact()
    win_d = np.flatnonzero(win)
    dist.program_wins[win_d] += 1
    dist.buy_in[win_d] = np.minimum(dist.buy_in[win_d] + par.win_buy_in_gain, 1)
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
    cycle.lens_transitions(m, g, win)
    cycle.diagnose(m)
