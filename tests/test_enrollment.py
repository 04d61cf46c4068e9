"""Enrollment responds to integration (mechanisms/enrollment.py, issue 18): exits undo part of the
integration gain, more so with organised opposition and with other districts nearby; the
districts lose students and budget; interdistrict programs are open to high-minority districts."""

import dataclasses

import numpy as np
from equitysim import load_scenario
from equitysim.ensemble import replication_rng, run
from equitysim.mechanisms import capacity, enrollment
from equitysim.model import EquityModel
from equitysim.world import BLACK, HISPANIC

from .conftest import SCENARIOS

NO_FLIGHT = {"white_flight_offset": 0.0, "white_enrollment_loss": 0.0}


def _model(scale=0.05, seed=0, **params):
    spec = load_scenario(SCENARIOS / "roadmap.toml").model_copy(update={"scale": scale})
    if params:
        spec = spec.with_parameters(**params)
    return EquityModel(spec, rng=replication_rng(seed, 0))


def _with_plans(m, opposition=0.0):
    """Every diverse district at half a full controlled-choice cut, every region mixing at half."""
    O = m.outcome_arrays
    O.segregation_cut[m.world.d_diverse] = 0.5 * m.par.controlled_choice_segregation_cut
    O.region_mixing[:] = 0.5 * m.par.interdistrict_segregation_cut
    m.state_arrays.opposition[:] = opposition
    m.cache.clear()
    return m


def test_offsets_follow_the_formula_and_rise_with_opposition():
    m = _with_plans(_model())
    par = m.par
    within0, inter0 = enrollment.offsets(m)
    n = np.bincount(m.world.d_region)[m.world.d_region]
    nearby = par.white_flight_nearby_floor + (1 - par.white_flight_nearby_floor) * (n - 1) / n
    expected = par.white_flight_offset * par.white_flight_voluntary_share * nearby
    np.testing.assert_allclose(within0, expected, rtol=1e-12)
    np.testing.assert_allclose(inter0, par.white_flight_offset * par.white_flight_voluntary_share
                               * par.white_flight_nearby_floor, rtol=1e-12)
    _with_plans(m, opposition=0.8)
    within1, inter1 = enrollment.offsets(m)
    np.testing.assert_allclose(within1, within0 * (1 + par.white_flight_opposition_weight * 0.8), rtol=1e-12)
    assert (inter1 > inter0).all()


def test_more_districts_nearby_means_more_exits():
    m = _with_plans(_model())
    n = np.bincount(m.world.d_region)[m.world.d_region]
    within, _ = enrollment.offsets(m)
    alone, crowded = n == n.min(), n == n.max()
    assert n.min() < n.max()
    assert within[alone].max() < within[crowded].min()


def test_exits_undo_part_of_the_integration_gain_and_cost_budget():
    m = _with_plans(_model(), opposition=0.5)
    cut, mix = enrollment.integration_in_effect(m)
    O = m.outcome_arrays
    diverse = m.world.d_diverse
    assert (cut[diverse] < O.segregation_cut[diverse]).all() and (cut[diverse] > 0).all()
    assert (mix < O.region_mixing[m.world.d_region]).all()
    loss = enrollment.enrollment_loss(m)
    white = m.world.d_share[:, 0]
    assert (loss[white > 0] > 0).all() and loss.max() < 1
    # the capacity's budget factor carries the loss
    capacity.fix_for_quarter(m)
    with_loss = m.quarter_capacity.log_factor.copy()
    m.par = dataclasses.replace(m.par, white_enrollment_loss=0.0)
    capacity.fix_for_quarter(m)
    np.testing.assert_allclose(with_loss - m.quarter_capacity.log_factor,
                               np.log1p(-m.par.enrollment_budget_elasticity * loss), rtol=1e-10, atol=1e-15)
    # and with no plan nobody leaves
    O.segregation_cut[:] = 0
    O.region_mixing[:] = 0
    m.par = dataclasses.replace(m.par, white_enrollment_loss=0.16)
    assert not enrollment.enrollment_loss(m).any()


def test_school_mix_uses_what_exits_leave():
    m = _with_plans(_model(), opposition=1.0)
    flight = m.school_enrollment().copy()
    m.par = dataclasses.replace(m.par, white_flight_offset=0.0)
    m.cache.clear()
    none = m.school_enrollment()
    w = m.world
    # schools keep more of their baseline deviation from the district mix when families leave
    dev_flight = np.abs(flight / w.s_enroll[:, None] - none / w.s_enroll[:, None]).sum()
    assert dev_flight > 0


def test_high_minority_districts_can_join_interdistrict_programs():
    m = _model(scale=0.1)
    w, F = m.world, m.fixed
    k_inter = m.program_table.interdistrict_magnet
    k_cc = m.program_table.controlled_choice
    minority = w.d_share[:, BLACK] + w.d_share[:, HISPANIC]
    high = (minority > 0.8) & w.d_mixed_region
    assert high.sum() > 10
    assert F.eligible_by_program[k_inter][high].all()
    assert not F.eligible_by_program[k_cc][high].any()
    alone = ~w.d_mixed_region
    assert not F.eligible_by_program[k_inter][alone].any()


def test_flight_shrinks_the_fall_in_segregation():
    """Same seeds, with and without exits: the within-district dissimilarity falls less with
    them (common random numbers; 12 replications at scale 0.1)."""
    spec = load_scenario(SCENARIOS / "roadmap.toml").model_copy(update={"scale": 0.1})
    on = run(spec, 12, seed=5, jobs=1).runs
    off = run(spec.with_parameters(**NO_FLIGHT), 12, seed=5, jobs=1).runs
    fall_on = (on["baseline.dissimilarity_within_district"] - on["metric.dissimilarity_within_district"]).mean()
    fall_off = (off["baseline.dissimilarity_within_district"] - off["metric.dissimilarity_within_district"]).mean()
    assert fall_off > 0
    assert fall_on < fall_off * 0.95
