"""Court challenges (roadmap risk table: "court challenges"; mitigation: legal design within
the law, federal guidance on legal options).

Integration programs that could use a race-conscious design are challenged; race-conscious
designs are challenged more often and struck down far more often than race-neutral ones.

Reads: court_challenge_rate, court_rate_within_law_share, court_strike_prob_race_conscious,
court_strike_prob_within_law, legal_clarity_max.
"""

from __future__ import annotations

import numpy as np

from ..numerics import hazard, nonzero


def court_challenges(m, u: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Competing risk on each active program's uniform `u` (claims [lo, lo + hazard)); the
    'court_ruling' stress event challenges every program at risk. Returns the new `lo`."""
    par, cells = m.par, m.cells
    race = m.spec.strategy.legal_design == "race_conscious"
    rate = par.court_challenge_rate * (1.0 if race else par.court_rate_within_law_share)
    at_risk = m.program_table.race_conscious_possible[cells.program] & (m.cells_coverage() > 0) & ~cells.dead
    h = hazard(rate) * at_risk
    challenged = (u >= lo) & (u < lo + h)
    if m.event_now("court_ruling"):
        challenged |= at_risk
    n = int(challenged.sum())
    if n:
        m.count("court_challenges", n)
        strike = par.court_strike_prob_race_conscious if race else par.court_strike_prob_within_law
        strike *= 1 - min(par.legal_clarity_max, m.federal_channel("legal_clarity"))
        i = nonzero(challenged)
        m.end_cells(i[m.rng_cond.random(n) < strike], "struck")
    return lo + h
