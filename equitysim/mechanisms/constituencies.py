"""Constituencies and layering (roadmap: "create constituencies", "layer complementary
reforms", "make reversal costly").

Enacted reforms create beneficiaries: each state's constituency is the sum over its policies in
force of (1 - backlash weight), so popular reforms count most. A constituency raises the odds
of what a campaign pushes next and makes repeal less likely.

Reads: constituency_effect.
"""

from __future__ import annotations

import numpy as np


def constituency(m) -> np.ndarray:
    """(n_s,) the constituency of each state's reforms in force."""
    return m.state_arrays.policy_on @ (1 - m.state_effects.policy_backlash)


def adoption_multiplier(m) -> np.ndarray:
    """(n_s,) 1 + constituency_effect x constituency."""
    return 1 + m.par.constituency_effect * constituency(m)


def repeal_divisor(m) -> np.ndarray:
    """(n_s,) what repeal probabilities are divided by: 1 + constituency_effect x constituency."""
    return adoption_multiplier(m)
