"""Political capital (roadmap: "build on wins", "avoid backlash triggers"; risk table "election
losses"): finite agenda space.

Each state government and the federal administration hold a stock of political capital (0-1).
Every enactment spends some, in proportion to how contested the measure is; time rebuilds it
(faster with a broad coalition), local wins add to it, backlash events and electoral losses
drain it. A pushed measure's odds scale with the capital left and fall with the number of
measures pushed at once (agenda crowding), so doing everything at once has a price.

Reads: capital_regeneration, capital_breadth_weight, capital_enactment_cost, capital_min_weight,
agenda_crowding, capital_backlash_loss, capital_election_keep, capital_win_gain.
"""

from __future__ import annotations

import numpy as np

from ..numerics import DT, clip


def regenerate(m) -> None:
    """One quarter of recovery toward 1, faster with a broad coalition (states and federal)."""
    par, states, coal, fed = m.par, m.state_arrays, m.coalition_arrays, m.federal_arrays
    rate = par.capital_regeneration * DT
    K = states.capital
    K += rate * (1 + par.capital_breadth_weight * coal.breadth[:-1]) * (1 - K)
    fed.capital += rate * (1 + par.capital_breadth_weight * float(coal.breadth[-1])) * (1 - fed.capital)


def weight(backlash: np.ndarray, par) -> np.ndarray:
    """Capital weight of measures with these backlash weights (at least capital_min_weight)."""
    return np.maximum(backlash, par.capital_min_weight)


def crowding_multiplier(capital, n_pushed, par):
    """Hazard multiplier of each pushed measure: capital left / (1 + crowding x (measures pushed
    at once - 1))."""
    return capital / (1 + par.agenda_crowding * np.maximum(n_pushed - 1, 0))


def spend_states(m, adopted: np.ndarray) -> None:
    """Enactments (n_s, n_p bool) spend capital by the policies' weights."""
    par, states = m.par, m.state_arrays
    cost = adopted @ weight(m.state_effects.policy_backlash, par) * par.capital_enactment_cost
    clip(states.capital - cost, 0, 1, out=states.capital)


def spend_federal(m, backlash: float) -> None:
    """A federal law enacted spends the administration's capital by its weight."""
    fed, par = m.federal_arrays, m.par
    fed.capital = max(0.0, fed.capital - par.capital_enactment_cost * max(backlash, par.capital_min_weight))


def backlash_hit(m, hit: np.ndarray) -> None:
    """A backlash event drains `capital_backlash_loss` in the states hit."""
    K = m.state_arrays.capital
    K[hit] = np.maximum(K[hit] - m.par.capital_backlash_loss, 0)


def election_loss(m, lost: np.ndarray) -> None:
    """A favourable state government voted out keeps `capital_election_keep` of its capital."""
    m.state_arrays.capital[lost] *= m.par.capital_election_keep


def federal_election_loss(m) -> None:
    m.federal_arrays.capital *= m.par.capital_election_keep


def wins(m) -> None:
    """A year's local wins (the states' win shares) add capital."""
    states = m.state_arrays
    clip(states.capital + m.par.capital_win_gain * m.coalition_arrays.win_share, 0, 1, out=states.capital)
