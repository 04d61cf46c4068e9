"""Enrollment responds to integration plans: some families leave (issue 18; the roadmap's risk
table, "political backlash", and the desegregation literature's best-documented reaction).

Families who oppose an integration plan can move to another district of the same metropolitan
area or to a private school. Two consequences, both per district:

- **Part of the integration gain is undone.** Of the within-district segregation a controlled-
  choice plan removes, a share `offset` comes back through exits:

      offset_d = white_flight_offset x white_flight_voluntary_share x nearby_d
                 x (1 + white_flight_opposition_weight x opposition_state(d))      (clipped to 0-1)

  with nearby_d = floor + (1 - floor) x (other districts in d's region / districts in it): a
  family can only move to a district that is there (Reber 2005: flight was "particularly severe
  in districts with more public school districts in the same metropolitan area"); private
  schools remain everywhere (the floor). An interdistrict program covers the region, so its offset uses
  the floor alone. Reber (2005) measured an offset of about one third for court-ordered
  (mandatory) plans; the roadmap's programs are voluntary designs (controlled choice with
  guidelines, magnets), which lost fewer white students (Rossell & Clarke 1988), hence the
  voluntary share.
- **The district's budget shrinks** with the students it loses: a share
  white_share_d x white_enrollment_loss x (the same design, nearby and opposition factors)
  x plan_in_effect_d of its enrollment, where plan_in_effect_d (0-1) is how much of a full plan's
  integration the district has (its segregation cut over the full cut, plus its region's mixing
  over the full mixing). State aid follows students, fixed costs do not:
  budget factor x (1 - enrollment_budget_elasticity x loss).

The modifiers `segregation_cut` and `region_mixing` keep what the programs would do; the offsets
apply where the school mix is computed (outcomes.district_mix, outcomes.school_enrollment) and
in the capacity's budget (capacity.fix_for_quarter), with the opposition of that moment.

Reads: white_flight_offset, white_flight_voluntary_share, white_flight_nearby_floor,
white_flight_opposition_weight, white_enrollment_loss, enrollment_budget_elasticity,
controlled_choice_segregation_cut, interdistrict_segregation_cut.
"""

from __future__ import annotations

import numpy as np

from ..world import WHITE


def nearby_choice(m) -> np.ndarray:
    """(n_d,) 0-1: how much room families have to leave for another district: the floor (private
    schools) plus the rest in proportion to the share of other districts in the region."""
    cached = m.cache.get("nearby_choice")
    if cached is None:
        w, par = m.world, m.par
        n_in_region = np.bincount(w.d_region, minlength=w.n_regions)[w.d_region]
        share_others = (n_in_region - 1) / np.maximum(n_in_region, 1)
        floor = par.white_flight_nearby_floor
        cached = m.cache["nearby_choice"] = floor + (1 - floor) * share_others
    return cached


def _response(m) -> np.ndarray:
    """(n_d,) the design and opposition factors common to exits and lost enrollment."""
    par = m.par
    opposition = m.state_arrays.opposition[m.world.d_state]
    return par.white_flight_voluntary_share * (1 + par.white_flight_opposition_weight * opposition)


def offsets(m) -> tuple[np.ndarray, np.ndarray]:
    """((n_d,), (n_d,)) the share (0-1) of each district's within-district integration gain and of
    its interdistrict gain that exits undo now."""
    par = m.par
    response = _response(m) * par.white_flight_offset
    within = np.minimum(response * nearby_choice(m), 1.0)
    inter = np.minimum(response * par.white_flight_nearby_floor, 1.0)
    return within, inter


def integration_in_effect(m) -> tuple[np.ndarray, np.ndarray]:
    """((n_d,), (n_d,)) what remains after exits of each district's segregation cut (share of its
    within-district deviation removed) and of its move toward its region's mix."""
    O = m.outcome_arrays
    within, inter = offsets(m)
    return O.segregation_cut * (1 - within), O.region_mixing[m.world.d_region] * (1 - inter)


def plan_in_effect(m) -> np.ndarray:
    """(n_d,) 0-1: the district's integration as a share of a full plan's (segregation cut over
    the full cut, plus its region's mixing over the full mixing; capped at 1)."""
    par, O = m.par, m.outcome_arrays
    within = O.segregation_cut / par.controlled_choice_segregation_cut if par.controlled_choice_segregation_cut > 0 else 0.0
    inter = (O.region_mixing[m.world.d_region] / par.interdistrict_segregation_cut
             if par.interdistrict_segregation_cut > 0 else 0.0)
    return np.minimum(within + inter, 1.0)


def enrollment_loss(m) -> np.ndarray:
    """(n_d,) share (0-1) of each district's students who have left because of its integration."""
    par, w = m.par, m.world
    loss = w.d_share[:, WHITE] * par.white_enrollment_loss * _response(m) * nearby_choice(m) * plan_in_effect(m)
    return np.minimum(loss, 1.0)


def budget_log_factor(m) -> np.ndarray | float:
    """(n_d,) log of the budget multiplier the lost enrollment leaves (0 where nobody left; the
    number 0.0 while no district has any integration in effect)."""
    O = m.outcome_arrays
    if not (O.segregation_cut.any() or O.region_mixing.any()):
        return 0.0
    return np.log1p(-m.par.enrollment_budget_elasticity * enrollment_loss(m))
