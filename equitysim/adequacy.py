"""Costed-out adequacy (issue 18): what each district would have to spend, from the School Finance
Indicators Database's cost model, instead of a share of its state's own mean.

SFID (State Indicators Database, sixth release, 2020-21; `data/adequacy_sfid.csv`, sources in
`data/SOURCES.md`) gives per state the actual and the required (National Education Cost Model)
per-pupil spending, statewide and in the state's highest-poverty quintile of districts. A
district's required spending, relative to its state's baseline mean (the unit of the model's
spending ratio), is its own baseline ratio divided by the actual-to-required ratio of its group:

    required_d = (1 + tilt_d) / a_group(d)

where the group is the state's highest-need fifth of students (the SFID Q5 ratio a5) or the rest
(a_rest = (A - A5/5) / (R - R5/5), the statewide figures without the fifth in Q5). SFID ranks
districts by child poverty, and so does the world of real districts (issue 15: each district's
ACS child-poverty rate, data/districts.parquet `child_poverty_pct`; districts missing from the ACS
file carry their state's enrollment-weighted mean, flagged `child_poverty_filled`), ties broken by Black and
Hispanic share; a world without the field ranks by that share alone. Hawaii (one
district) and Vermont (excluded by SFID for 2017-2021) have no SFID figures: there the fallback
is the old rule, `adequacy_level` x the state's mean.

Pure functions of the world and one parameter; the model caches the result per run.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from .world import BLACK, HISPANIC, World

SFID_YEAR = 2021          # the 2020-21 school year, the model's spending year (states.csv)
TOP_SHARE = 0.2           # a quintile: the fifth of students SFID's Q5 figures describe


@lru_cache(maxsize=1)
def sfid_ratios() -> pd.DataFrame:
    """Per state (index: postal code): `a_all`, `a_q5`, `a_rest`, actual-to-required spending
    ratios (1 = exactly adequate) for SFID_YEAR."""
    path = resources.files("equitysim").joinpath("data/adequacy_sfid.csv")
    with resources.as_file(path) as p:
        raw = pd.read_csv(p)
    d = raw[raw["year"] == SFID_YEAR].set_index("state")
    A, R = d["actual_spending_pp_usd"], d["required_spending_pp_usd"]
    A5, R5 = d["actual_spending_q5_highest_poverty_pp_usd"], d["required_spending_q5_highest_poverty_pp_usd"]
    rest = (A - TOP_SHARE * A5) / (R - TOP_SHARE * R5)
    out = pd.DataFrame({"a_all": A / R, "a_q5": A5 / R5, "a_rest": rest})
    return out.dropna()


def highest_need_fifth(world: World) -> np.ndarray:
    """(n_d,) bool: districts in their state's highest-need fifth of students (ranked by child
    poverty, then Black and Hispanic share; a district is in it if the students ranked above its
    middle are under a fifth)."""
    minority = world.d_share[:, BLACK] + world.d_share[:, HISPANIC]
    cols = world.districts.columns if world.districts is not None else ()
    poverty = (world.districts["child_poverty_pct"].to_numpy(float) if "child_poverty_pct" in cols
               else np.zeros(world.n_districts))
    order = np.lexsort((-minority, -poverty, world.d_state))
    st, e = world.d_state[order], world.d_enroll[order]
    cum = np.cumsum(e)
    first = np.r_[0, np.flatnonzero(np.diff(st)) + 1]
    start = np.repeat(cum[first] - e[first], np.diff(np.r_[first, len(st)]))
    total = np.bincount(world.d_state, weights=world.d_enroll, minlength=world.n_states)[st]
    top = np.zeros(world.n_districts, bool)
    top[order] = (cum - start - e / 2) / total < TOP_SHARE
    return top


def required_ratio(world: World, fallback_level: float) -> np.ndarray:
    """(n_d,) per-pupil spending each district needs to be adequate, relative to its state's
    baseline mean (SFID's costed-out level; `fallback_level` where SFID has no figure)."""
    ratios = sfid_ratios().reindex(world.states.index)
    has = ratios["a_all"].notna().to_numpy()[world.d_state]
    a = np.where(world.d_highest_need_fifth, ratios["a_q5"].to_numpy()[world.d_state], ratios["a_rest"].to_numpy()[world.d_state])
    required = np.full(world.n_districts, float(fallback_level))
    required[has] = (1 + world.d_spend_tilt[has]) / a[has]
    return required


def shortfall_by_state(world: World, ratio: np.ndarray, required: np.ndarray) -> np.ndarray:
    """(n_s,) share of each state's students in districts spending below what they need."""
    tot = np.bincount(world.d_state, weights=world.d_enroll, minlength=world.n_states)
    return np.bincount(world.d_state, weights=world.d_enroll * (ratio < required), minlength=world.n_states) / tot
