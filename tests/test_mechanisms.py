"""Each mechanism module on its own: what one call does to the arrays, with the inputs
controlled (uniforms of 0 or 1, parameters pushed to an extreme), plus the layout rules the
modules keep (every behavioural number from the registry; every parameter read is declared)."""

import ast
import dataclasses
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from equitysim import load_scenario
from equitysim import params as P
from equitysim.ensemble import replication_rng
from equitysim.mechanisms import (adoption, backlash, capacity, coalitions, courts, cycle, diffusion, elections,
                                  funding, implementation, opposition, outcomes, reflection)
from equitysim.model import EquityModel
from equitysim.numerics import DT, hazard

from .conftest import SCENARIOS

MECHANISMS = Path(__file__).resolve().parents[1] / "equitysim" / "mechanisms"
# Numbers allowed in the mechanism modules other than 0, 0.5, 1 and 2, each a named module
# constant that is not a belief about the world: units, the calendar, sampling tuning.
NAMED_CONSTANTS = {"START_YEAR", "PRESIDENTIAL_CYCLE", "CONSTRAINTS", "FEW_CANDIDATES", "FIRST_CHUNK", "CHUNK_GROWTH",
                   "DOMAIN_OF_CHANNEL"}   # the last: indices of the gap domains (cycle.py)


def _model(scale=0.05, seed=0, **params):
    spec = load_scenario(SCENARIOS / "roadmap.toml").model_copy(update={"scale": scale})
    if params:
        spec = spec.with_parameters(**params)
    return EquityModel(spec, rng=replication_rng(seed, 0))


def _set(m, **values):
    """The model with some parameter values replaced (the typed parameters are frozen)."""
    m.par = dataclasses.replace(m.par, **values)
    m.p.update(values)
    return m


def _with_programs(m, n=20, program="restorative", phase=None):
    """Start `program` in the first n eligible districts (moved to `phase` if given)."""
    k = m.program_index[program]
    d = np.flatnonzero(m.eligible[:, k])[:n]
    capacity.fix_for_quarter(m)
    m.start_cells(d, np.full(len(d), k))
    if phase is not None:
        m.cells.phase[:] = phase
        m.district_arrays.phase[k, d] = phase
    return d, k


# ---------------------------------------------------------------------- layout rules
def test_no_behavioural_number_is_written_in_a_mechanism_module():
    bad = []
    for f in sorted(MECHANISMS.glob("*.py")):
        tree = ast.parse(f.read_text())
        named = {id(node.value) for node in tree.body if isinstance(node, ast.Assign)
                 for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name) and n.id in NAMED_CONSTANTS}
        named |= {id(c) for node in tree.body if isinstance(node, ast.Assign) and id(node.value) in named
                  for c in ast.walk(node.value)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and type(node.value) in (int, float)
                    and node.value not in (0, 0.5, 1, 2) and id(node) not in named):
                bad.append(f"{f.name}:{node.lineno}: {node.value!r}")
    assert not bad, "numbers that belong in the parameter registry:\n" + "\n".join(bad)


def test_the_literal_check_can_fail(tmp_path, monkeypatch):
    """The check above flags a planted constant (so it is not vacuous)."""
    planted = tmp_path / "planted.py"
    planted.write_text("def f(x):\n    return x * 0.92\n")
    monkeypatch.setattr(sys.modules[__name__], "MECHANISMS", tmp_path)
    with pytest.raises(AssertionError, match="planted.py:2: 0.92"):
        test_no_behavioural_number_is_written_in_a_mechanism_module()


def test_every_parameter_a_module_reads_is_declared_in_its_docstring():
    reg = P.registry()
    for f in sorted(MECHANISMS.glob("*.py")):
        if f.name == "__init__.py":
            continue
        src = f.read_text()
        read = set(re.findall(r"\bpar\.([a-z_0-9]+)", src)) & set(reg)
        doc = ast.get_docstring(ast.parse(src)) or ""
        declared = set(re.findall(r"[a-z_0-9]+", doc.split("Reads:")[-1])) if "Reads:" in doc else set()
        assert read <= declared, f"{f.name} reads {sorted(read - declared)} without declaring them"


def test_every_structural_parameter_names_the_module_that_reads_it():
    for p in P.registry().values():
        if p.group != "structural":
            continue
        mod = re.search(r"\(((?:mechanisms/)?[a-z_]+\.py)\)$", p.description)
        assert mod, f"{p.name}: the description does not end with the module that reads it"
        src = (MECHANISMS.parent / mod.group(1)).read_text()
        assert f"par.{p.name}" in src or f"fx.{p.name}" in src, f"{p.name} is not read by {mod.group(1)}"


# ---------------------------------------------------------------------- backlash
def test_backlash_hits_climate_strength_and_visible_programs():
    m = _model()
    _with_programs(m, 30, "controlled_choice", phase=3)
    n_s, n_p = m.state_arrays.policy_on.shape
    strength0 = m.coalition_arrays.strength.copy()
    m.state_arrays.opposition[:] = 0.2
    backlash.state_backlash(m, np.zeros(n_s), np.ones((n_s, n_p)))   # every state with visibility is hit
    hit = m.state_arrays.climate_shock < 0
    assert m.counts["backlash_events"] == hit.sum() > 0
    # the event recruits organised opposition: a share of the remaining room, only where hit
    np.testing.assert_allclose(m.state_arrays.opposition[hit], 0.2 + m.par.backlash_opposition_gain * 0.8)
    assert (m.state_arrays.opposition[~hit] == 0.2).all()
    np.testing.assert_allclose(m.state_arrays.climate_shock[hit], -m.par.backlash_climate_hit)
    np.testing.assert_allclose(m.coalition_arrays.strength[:-1][hit], strength0[:-1][hit] * m.par.backlash_strength_keep)
    assert (m.coalition_arrays.strength[:-1][~hit] == strength0[:-1][~hit]).all()
    backlash.fade(m)
    np.testing.assert_allclose(m.state_arrays.climate_shock[hit], -m.par.backlash_climate_hit * m.par.climate_shock_decay)


def test_no_backlash_without_visibility_or_with_full_damping():
    m = _model()
    n_s, n_p = m.state_arrays.policy_on.shape
    assert not backlash.visibility(m).any()          # nothing enacted, nothing running
    backlash.state_backlash(m, np.zeros(n_s), np.zeros((n_s, n_p)))
    assert m.counts["backlash_events"] == 0


def test_hostile_governments_repeal_one_unlocked_policy():
    m = _model()
    S = m.state_arrays
    S.policy_on[:, :3] = True
    S.climate[:] = m.par.hostile_climate - 0.01
    S.climate[0] = m.par.hostile_climate + 0.01      # not hostile
    backlash.hostile_repeal(m, np.zeros(len(S.climate)))
    assert S.policy_on[0, :3].all()
    assert (S.policy_on[1:, :3].sum(1) == 2).all()


# ---------------------------------------------------------------------- coalitions and diffusion
def test_coalitions_grow_with_investment_and_tire_without_wins():
    m = _model()
    C = m.coalition_arrays
    b0, k0 = C.breadth.copy(), C.strength.copy()
    coalitions.grow(m)
    assert (C.breadth >= b0).all() and (C.breadth > b0).any()
    m = _set(_model(), coalition_growth=0.0, coalition_fatigue=0.5)
    k0 = m.coalition_arrays.strength.copy()
    coalitions.grow(m)   # no win yet: fatigue
    assert (m.coalition_arrays.strength < k0).all()
    assert coalitions.phase_of(0.0, m.par) == "core" and coalitions.phase_of(0.99, m.par) == "normalization"


def test_neighbour_share_is_the_share_of_adjacent_states():
    m = _model()
    j = m.policy_index["weighted_funding"]
    m.state_arrays.policy_on[:5, j] = True
    share = diffusion.neighbour_policy_share(m)[:, j]
    adj = m.world.adjacency
    expect = (adj[:, :5].sum(1)) / np.maximum(adj.sum(1), 1)
    np.testing.assert_allclose(share, expect)


def test_phase_one_rows_need_no_proof_points():
    stories = np.array([0.5, 2.0])
    out = diffusion.by_phase(stories, np.array([True, False]))
    np.testing.assert_array_equal(out, [[1.0, 2.0], [0.5, 2.0]])


# ---------------------------------------------------------------------- elections
def test_governor_elections_flip_only_states_electing_this_year():
    m = _model()
    m.quarter = 3   # November of year 1
    electing = (m.state_arrays.election_years == m.calendar_year).any(1)
    assert 0 < electing.sum() < m.n_states
    elections.governor_elections(m, np.zeros(m.n_states))
    np.testing.assert_array_equal(m.state_arrays.governor_flipped, electing)
    elections.state_climate(m)
    S = m.state_arrays
    flipped_climate = np.clip(1 - S.climate_baseline, m.par.climate_min, m.par.climate_max)
    np.testing.assert_allclose(S.climate[electing], flipped_climate[electing])


def test_hostile_administration_keeps_only_laws():
    m = _model()
    F = m.federal_arrays
    F.action_on[:] = True
    F.supportive = False
    elections.hostile_administration(m, np.ones(len(F.action_on)))   # no repeal draw succeeds
    np.testing.assert_array_equal(F.action_on, F.kind == "law")


def test_superintendent_turnover_drops_programs_not_run_as_a_lens():
    m = _set(_model(), superintendent_turnover=1e6, turnover_program_loss=1.0)
    d, k = _with_programs(m, 40)
    m.district_arrays.equity_as_lens[d] = False
    m.district_arrays.equity_as_lens[d[:10]] = True
    elections.superintendent_turnover(m, np.random.default_rng(0))
    assert m.counts["superintendent_changes"] == 40
    assert sorted(m.cells.district.tolist()) == sorted(d[:10].tolist())


# ---------------------------------------------------------------------- funding
def test_a_recession_lasts_its_length_and_cuts_programs_run_as_a_program():
    m = _model()
    funding.business_cycle(m, 0.0)
    n = int(round(m.par.recession_length))
    assert m.federal_arrays.recession_quarters_left == n and m.counts["recessions"] == 1
    m = _set(m, recession_program_cut_prob=1.0)
    d, k = _with_programs(m, 30)
    m.district_arrays.equity_as_lens[d] = False
    m.district_arrays.equity_as_lens[d[:12]] = True
    prob = 1 - m.spec.strategy.funding_diversification
    lo = funding.recession_cuts(m, np.full(len(m.cells), prob / 2), np.zeros(len(m.cells)))
    m.cells.compact()
    assert m.counts["funding_cuts"] == 18 and set(m.cells.district.tolist()) == set(d[:12].tolist())
    np.testing.assert_allclose(lo, prob)
    for _ in range(n):
        funding.business_cycle(m, 1.0)
    assert not m.federal_arrays.in_recession


def test_family_funds_fall_in_a_recession():
    m = _model()
    before = funding.family_funds(m, "general")
    m.federal_arrays.recession_quarters_left = 2
    after = funding.family_funds(m, "general")
    assert after == pytest.approx(before - m.par.local_general_funds_musd * m.par.recession_budget_cut
                                  * (1 - m.spec.strategy.funding_diversification) * m.spec.strategy.budget_multiplier
                                  * m.world.scale)


def test_spending_moves_toward_the_progressive_formula_with_reform_progress():
    m = _model()
    r0 = funding.district_spending_ratio(m).copy()
    m.state_arrays.spending_progress[:] = 1.0
    r1 = funding.district_spending_ratio(m)    # the cache is keyed on the progress arrays
    w, F, p = m.world, m.fixed, m.par
    tilt = w.d_spend_tilt
    expect = 1 + p.funding_reform_weight * (F.district_minority_share - F.state_minority_share[w.d_state]) \
        + np.maximum(tilt, 0) * p.positive_tilt_keep
    np.testing.assert_allclose(r1, expect, rtol=1e-12)
    np.testing.assert_allclose(r0, 1 + tilt, rtol=1e-12)


# ---------------------------------------------------------------------- courts
def test_court_challenges_strike_race_conscious_designs_more_often():
    def struck(design):
        m = _model()
        m.spec = m.spec.model_copy(update={"strategy": m.spec.strategy.model_copy(update={"legal_design": design})})
        _set(m, court_challenge_rate=1e6)
        _with_programs(m, 200, "controlled_choice", phase=3)
        courts.court_challenges(m, np.full(len(m.cells), 0.5), np.zeros(len(m.cells)))
        return m.counts["court_challenges"], int(m.cells.dead.sum())

    n_rc, struck_rc = struck("race_conscious")
    n_wl, struck_wl = struck("within_law")
    assert n_rc == n_wl > 0
    assert struck_rc > struck_wl


# ---------------------------------------------------------------------- capacity
def test_capacity_is_the_geometric_mean_of_the_three_constraints():
    m = _model()
    capacity.fix_for_quarter(m)
    D, F = m.district_arrays, m.fixed
    time = np.clip(1 - D.burnout, m.par.capacity_time_min, 1)
    buy = np.clip(D.buy_in * m.spec.strategy.buy_in_multiplier, m.par.capacity_buy_in_min, 1)
    expect = (F.budget_base * funding.district_budget_factor(m) * time * buy) ** (1 / 3)
    np.testing.assert_allclose(m.capacity, expect, rtol=1e-12)
    lo, hi = m.quarter_capacity.range()
    assert lo <= m.capacity.min() and m.capacity.max() <= hi * (1 + 1e-12)
    D.burnout[:] = 1.0   # burnout takes effect next quarter, when the inputs are fixed again
    np.testing.assert_allclose(m.capacity, expect, rtol=1e-12)
    capacity.fix_for_quarter(m)
    assert (m.capacity < expect).all()


# ---------------------------------------------------------------------- implementation
def test_burnout_grows_with_concurrent_programs_and_fidelity_follows_capacity():
    m = _model()
    d, k = _with_programs(m, 20, "restorative")
    m.start_cells(d[:10], np.full(10, m.program_index["detracking"]))   # ten districts run two
    D = m.district_arrays
    fid0 = m.cells.fidelity.copy()
    implementation.fidelity_and_burnout(m)
    p = m.par
    # the practitioner's cycle: feedback loop, fit to the district's gaps, the root cause found or
    # missed, staff turnover (cycle.py)
    cd, ck = m.cells.district, m.cells.program
    cycle_mult = (1 + p.feedback_fidelity_gain * m.cycle.feedback[cd]) * (
        p.misfit_fidelity_share + (1 - p.misfit_fidelity_share) * cycle.fit_of(m, ck, cd)) * np.where(
        m.cells.root, 1.0, p.root_cause_miss_share)
    kept = 1 - p.staff_turnover_fidelity_loss * hazard(m.cycle.staff_turnover[cd])
    np.testing.assert_allclose(D.burnout[d[:10]], np.clip((2 * p.burnout_rate - p.burnout_recovery) * DT, 0, 1))
    np.testing.assert_allclose(D.burnout[d[10:]], np.clip((p.burnout_rate - p.burnout_recovery) * DT, 0, 1))
    others = np.setdiff1d(np.arange(m.world.n_districts), d)
    assert (D.burnout[others] == 0).all()
    # fidelity closes `fidelity_adjustment` of the distance to its target
    cd = m.cells.district
    cap = m.quarter_capacity.at(cd)
    n_running = np.bincount(cd, minlength=m.world.n_districts)[cd]
    ta = implementation.technical_assistance(m, cd)
    target = np.clip(cap * np.where(D.prerequisites[cd], 1.0, p.fidelity_unprepared_share)
                     * (p.rush_base - p.rush_per_pacing * m.spec.strategy.pacing) * (1 + p.ta_fidelity_gain * ta)
                     / (1 + p.attention_cost * (n_running - 1)) * cycle_mult, 0, 1)
    assert (n_running == 2).sum() == 20 and (target[n_running == 2] < 1).all()
    np.testing.assert_allclose(m.cells.fidelity, (fid0 + (target - fid0) * p.fidelity_adjustment) * kept, rtol=1e-12)


def test_weak_programs_stall_and_strong_ones_advance():
    m = _set(_model(), stall_prob=1.0)
    _with_programs(m, 20)
    c = m.cells
    c.quarters_in_phase[:] = 100
    c.fidelity[:10] = m.par.stall_fidelity / 2
    c.fidelity[10:] = 0.9
    phase0 = c.phase.copy()
    implementation.advance_phases(m, np.random.default_rng(0))
    assert (c.phase[:10] == phase0[:10]).all() and (c.phase[10:] == phase0[10:] + 1).all()
    np.testing.assert_array_equal(m.phase[c.district, c.program], c.phase)


def test_failures_rise_without_technical_assistance_and_spare_institutionalised_programs():
    m = _model()
    _with_programs(m, 50)
    c = m.cells
    c.phase[:10] = m.program_table.final_phase[c.program[:10]]
    cap = implementation.fidelity_and_burnout(m)
    u = np.full(len(c), 0.0)
    lo = implementation.failures(m, u, np.zeros(len(c)), cap)
    assert (lo[:10] == 0).all() and (lo[10:] > 0).all()
    assert m.counts["implementation_failures"] == 40 and not c.dead[:10].any()


# ---------------------------------------------------------------------- outcomes
def test_outcome_modifiers_close_their_lag_toward_program_effects():
    m = _model()
    d, k = _with_programs(m, 10, "controlled_choice")
    eff = m.cells_coverage() * m.cells.fidelity
    outcomes.relax_modifiers(m)
    np.testing.assert_allclose(m.outcome_arrays.segregation_cut[d],
                               m.par.outcome_adjustment * m.par.controlled_choice_segregation_cut * eff)
    assert m.outcome_arrays.segregation_cut.sum() == pytest.approx(m.outcome_arrays.segregation_cut[d].sum())


def test_a_year_of_spending_above_baseline_raises_achievement():
    m = _model()
    m.state_arrays.spending_progress[:] = 1.0
    outcomes.accumulate(m)
    assert np.abs(m.outcome_arrays.gain).sum() > 0


# ---------------------------------------------------------------------- reflection and adoption
def test_reflection_turns_visible_effective_programs_into_wins():
    m = _set(_model(), measure_noise_sd=0.0, reflect_win_threshold=0.0)
    d, k = _with_programs(m, 15)
    m.cells.quarters_reached[:] = 4   # a year with schools reached: judged on its (zero) change
    buy0 = m.district_arrays.buy_in[d].copy()
    m.quarter = 3
    reflection.reflect(m)
    assert (m.district_arrays.program_wins[d] == 1).all()
    np.testing.assert_allclose(m.district_arrays.buy_in[d], np.minimum(buy0 + m.par.win_buy_in_gain, 1))
    assert m.coalition_arrays.national_win_share > 0 and (m.coalition_arrays.last_win_quarter[-1] == 3)


def test_effort_has_diminishing_returns_and_eligibility_conditions():
    m = _model()
    e = adoption.effort_multiplier(np.array([0.0, 0.5, 1.0, 2.0, 4.0]), m.par)
    assert e[0] == 0 and e[2] == pytest.approx(1.0)
    assert (np.diff(e) > 0).all() and (np.diff(e) / np.diff([0.0, 0.5, 1.0, 2.0, 4.0]))[1:].max() < 1   # concave
    assert e[3] < 2 * e[2]
    m.district_arrays.buy_in[:] = 1.0
    assert adoption.eligibility_condition(m, "community_support").all()
    with pytest.raises(KeyError):
        adoption.eligibility_condition(m, "no_such_condition")


def test_state_adoption_follows_the_hazard():
    m = _model()
    n_s, n_p = m.state_arrays.policy_on.shape
    adoption.state_adoption(m, np.ones((n_s, n_p)))      # uniforms of 1: nothing is adopted
    assert not m.state_arrays.policy_on.any()
    adoption.state_adoption(m, np.zeros((n_s, n_p)))     # uniforms of 0: whatever has a hazard
    j = m.policy_index["funding_bill"]
    assert m.state_arrays.policy_on[:, j].all()          # the background rate reaches every state
    assert (m.state_arrays.enacted_quarter[:, j] == 0).all()


def test_the_hazard_helper():
    assert hazard(0.0) == 0 and hazard(-1.0) == 0
    assert hazard(4.0) == pytest.approx(1 - np.exp(-1))


def test_repeal_and_appropriation_cut_are_independent_chances():
    """An unlocked appropriation ends with 1 - (1 - repeal)(1 - cut), not repeal + cut."""
    m = _model()
    F, par = m.federal_arrays, m.par
    repeal = hazard(par.hostile_repeal_prob * par.federal_law_repeal_share)
    cut = hazard(par.hostile_appropriation_cut)
    both = 1 - (1 - repeal) * (1 - cut)
    assert both < repeal + cut
    approp = (F.kind == "law") & (F.cost_musd > 0)
    assert approp.any()
    for u, survives in (((both + repeal + cut) / 2, True), (both * 0.999, False)):
        F.action_on[:] = approp          # appropriations only: nothing locks them
        F.supportive = False
        assert m.federal_channel("lock:federal") == 0
        elections.hostile_administration(m, np.full(len(F.action_on), u))
        assert (F.action_on[approp] == survives).all(), u


def test_district_returns_to_effort_diminish_like_the_states():
    """The district push is push rate x effort_multiplier(effort), effort entering once."""
    m = _model()
    a = m.rows_local.active_at(m.quarter)
    assert len(a)
    rates = []
    for pace in (0.5, 1.0, 2.0):
        m.pace = pace
        base, ms, _ = adoption._row_rates(m, a)
        rates.append(base[:, None] * ms)
    intensity = m.rows_local.intensity[a][:, None]
    for pace, r in zip((1.0, 2.0), rates[1:]):
        ratio = adoption.effort_multiplier(intensity * pace, m.par) / adoption.effort_multiplier(intensity * 0.5, m.par)
        pushed = rates[0] > 0
        np.testing.assert_allclose((r / np.where(pushed, rates[0], 1))[pushed], np.broadcast_to(ratio, r.shape)[pushed])
        assert (ratio < pace / 0.5).all()   # diminishing, not proportional


def test_an_enacted_policy_stops_feeding_opposition_as_a_campaign():
    m = _model()
    R = m.rows_state
    a = R.active_at(m.quarter)
    assert len(a)
    before = opposition.pushed_visibility(m)
    m.state_arrays.policy_on[:, R.index[a]] = True
    after = opposition.pushed_visibility(m)
    assert (after <= before).all() and (after < before).any()
    m.state_arrays.policy_on[:] = False
    np.testing.assert_allclose(opposition.pushed_visibility(m), before)
