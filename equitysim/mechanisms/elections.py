"""Leadership change (roadmap risk table: "leadership change"; guide: superintendent turnover).

Federal elections every four years, governors on each state's real calendar, the stress events
that turn governments hostile, what a hostile administration does to federal actions, the
political climate that follows from who governs, and superintendent turnover in districts
running reforms.

Reads: federal_flip_prob, governor_flip_prob, hostile_repeal_prob, federal_law_repeal_share,
hostile_appropriation_cut,
hostile_event_climate, climate_min, climate_max, coalition_electoral_breadth,
superintendent_turnover, turnover_program_loss, climate_reference.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

import numpy as np

from ..numerics import DT, clip, hazard, nonzero
from . import capital, opposition

START_YEAR = 2027  # roadmap year 1 (assumption: the campaign starts in January 2027)
PRESIDENTIAL_CYCLE = 4  # years


@cache
def election_calendar() -> dict:
    """The shipped governor election calendar (data/elections.toml)."""
    return tomllib.loads(resources.files("equitysim").joinpath("data/elections.toml").read_text())


def governor_election_years(state_codes, years: int) -> np.ndarray:
    """(n_s, years + 1) calendar years with a governor election in each state over the run
    (-1 pads the rows)."""
    cal = election_calendar()
    span = np.arange(START_YEAR, START_YEAR + years + 1)
    out = np.full((len(state_codes), len(span)), -1)
    for i, code in enumerate(state_codes):
        first = cal["first"].get(code, cal["default_first"])
        term = cal["term"].get(code, cal["default_term"])
        ys = [y for y in span if y >= first and (y - first) % term == 0]
        out[i, :len(ys)] = ys
    return out


def federal_election(m, u_flip: float) -> None:
    """A presidential election (November of years divisible by four) flips the administration
    with `federal_flip_prob`; the 'hostile_federal' event makes it hostile."""
    fed, par = m.federal_arrays, m.par
    prob = par.federal_flip_prob
    if fed.supportive:   # organised opposition makes a favourable administration likelier to lose
        prob *= opposition.electoral_multiplier(opposition.national(m), par)
    if m.is_november and m.calendar_year % PRESIDENTIAL_CYCLE == 0 and u_flip < prob:
        if fed.supportive:
            capital.federal_election_loss(m)
        fed.supportive = not fed.supportive
        m.count("leadership_changes")
    if m.event_now("hostile_federal") and fed.supportive:
        fed.supportive = False
        capital.federal_election_loss(m)
        m.count("leadership_changes")


def hostile_administration(m, u_repeal: np.ndarray) -> None:
    """A hostile administration rescinds guidance and regulations at once; laws survive unless
    repealed (a share `federal_law_repeal_share` of the hostile repeal hazard) or, for
    appropriations, cut (`hostile_appropriation_cut`); locked laws survive. `u_repeal`: one
    uniform per federal action."""
    fed, par = m.federal_arrays, m.par
    locked = m.federal_channel("lock:federal") > 0
    fed.action_on &= (fed.kind == "law")
    if not locked:
        # unlocked laws are repealed; unlocked appropriations (laws with a cost) also cut
        # two independent chances (repeal; for appropriations also a cut): either ends the action
        repeal = hazard(par.hostile_repeal_prob * par.federal_law_repeal_share)
        cut = hazard(par.hostile_appropriation_cut) * (fed.cost_musd > 0)
        h = 1 - (1 - repeal) * (1 - cut)
        fed.action_on &= ~(fed.action_on & (u_repeal < h))


def governor_elections(m, u_flip: np.ndarray) -> None:
    """Governor elections on the real calendar flip a state's government with
    `governor_flip_prob` (raised by organised opposition where the government is favourable to
    the roadmap; a favourable government voted out loses capital); the 'hostile_states' event
    flips every leaning-favourable state."""
    states, par = m.state_arrays, m.par
    favourable = np.where(states.governor_flipped, 1 - states.climate_baseline, states.climate_baseline) >= par.climate_reference
    if m.is_november:
        elect = (states.election_years == m.calendar_year).any(1)
        prob = par.governor_flip_prob * np.where(favourable, opposition.electoral_multiplier(states.opposition, par), 1.0)
        flips = elect & (u_flip < prob)
        states.governor_flipped ^= flips
        capital.election_loss(m, flips & favourable)
        m.count("leadership_changes", int(flips.sum()))
    if m.event_now("hostile_states"):
        turned = ~states.governor_flipped & (states.climate_baseline > par.hostile_event_climate)
        states.governor_flipped |= turned
        capital.election_loss(m, turned)


def state_climate(m) -> None:
    """Climate = the baseline climate mirrored where the government flipped, plus what an
    electorally engaged coalition adds (plan support 'climate'), minus backlash shocks."""
    par, states = m.par, m.state_arrays
    base = np.where(states.governor_flipped, 1 - states.climate_baseline, states.climate_baseline)
    engaged = (m.coalition_arrays.breadth[:-1] >= par.coalition_electoral_breadth) * m.support("climate")
    clip(base + engaged + states.climate_shock, par.climate_min, par.climate_max, out=states.climate)


def superintendent_turnover(m, g: np.random.Generator) -> None:
    """Districts running programs change superintendent with `superintendent_turnover` a year
    (raised by burnout); the feedback loop starts again (cycle.py); a new one drops each program that is neither institutionalised nor run
    as a lens with `turnover_program_loss`."""
    par, dist, cells = m.par, m.district_arrays, m.cells
    cd, ck = cells.district, cells.program
    if not len(cd):
        return
    n_d = m.world.n_districts
    reform = nonzero(np.bincount(cd, minlength=n_d))
    m.cycle_stats["reform_years"] += len(reform) * DT   # exposure, for the turnover rate (cycle.summary)
    leave = reform[g.random(len(reform)) < hazard(par.superintendent_turnover * (1 + dist.burnout[reform]))]
    m.count("superintendent_changes", len(leave))
    if len(leave):
        m.cycle.feedback[leave] = 0.0   # new leadership: the frontline-feedback loop starts again
        left = np.zeros(n_d, bool)
        left[leave] = True
        at_risk = nonzero(left[cd] & (cells.phase < m.program_table.final_phase[ck]) & ~dist.equity_as_lens[cd])
        m.end_cells(at_risk[g.random(len(at_risk)) < par.turnover_program_loss], "dropped")
        cells.compact()
