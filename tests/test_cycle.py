"""The practitioner's cycle (mechanisms/cycle.py), one step at a time on a small world, with the
inputs controlled. The face-validity checks on paired replications are expectations `cycle_*` of
equitysim/validation.py (run by tests/test_validation.py, shown in docs/validation.md)."""

import dataclasses
import json

import numpy as np
import pytest

from equitysim import load_scenario
from equitysim.ensemble import replication_rng
from equitysim.mechanisms import capacity, cycle, diffusion, elections, implementation
from equitysim.model import EquityModel

from .conftest import SCENARIOS


def _model(scale=0.05, seed=0, strategy=None, **params):
    spec = load_scenario(SCENARIOS / "roadmap.toml").model_copy(update={"scale": scale})
    if strategy:
        spec = spec.model_copy(update={"strategy": spec.strategy.model_copy(update=strategy)})
    if params:
        spec = spec.with_parameters(**params)
    return EquityModel(spec, rng=replication_rng(seed, 0))


def _set(m, **values):
    m.par = dataclasses.replace(m.par, **values)
    m.p.update(values)
    return m


def _start(m, d, program):
    k = m.program_index[program]
    capacity.fix_for_quarter(m)
    m.start_cells(d, np.full(len(d), k))
    return k


# ---------------------------------------------------------------------- diagnose
def test_a_district_without_habit_focuses_on_its_largest_gap():
    m = _set(_model(), diagnosis_noise_prepared=0.0, diagnosis_noise_unprepared=0.0, diagnosis_support_weight=0.0)
    cycle.diagnose(m)
    own = cycle.baseline_gaps(m)[cycle.program_domains(m)] * m.fixed.eligible_by_program
    has = own.max(0) > 0
    np.testing.assert_array_equal(own[m.cycle.focus[has], np.flatnonzero(has)], own[:, has].max(0))
    fit = cycle.fit_of(m, m.cycle.focus[has], np.flatnonzero(has))
    np.testing.assert_allclose(fit, 1)


def test_habit_moves_the_focus_of_unprepared_districts_more():
    m = _model()
    prepared = m.district_arrays.prerequisites
    _set(m, diagnosis_noise_prepared=0.0, diagnosis_noise_unprepared=0.0, diagnosis_support_weight=0.0)
    cycle.diagnose(m)
    by_data = m.cycle.focus.copy()
    _set(m, diagnosis_noise_prepared=0.3, diagnosis_noise_unprepared=1.5)
    cycle.diagnose(m)
    moved = m.cycle.focus != by_data
    # On the world of real districts course access is at the nation's level everywhere and most
    # discipline gaps are near their state's, so a small spread already moves many prepared
    # districts between near-equal gaps (0.36 of them here, 0.49 of the unprepared; about 300 of
    # each, so a margin of 0.08 is over two standard errors of the difference).
    assert moved[~prepared].mean() > moved[prepared].mean() + 0.08


def test_closing_a_gap_moves_the_next_diagnosis():
    m = _set(_model(), diagnosis_noise_prepared=0.0, diagnosis_noise_unprepared=0.0, diagnosis_support_weight=0.0)
    cycle.diagnose(m)
    k = m.program_index["restorative"]
    d = np.flatnonzero(m.cycle.focus == k)[:10]
    assert len(d)
    m.outcome_arrays.suspension_district_black[d] = 1.0   # the discipline gap closed
    cycle.diagnose(m)
    assert (m.cycle.focus[d] != k).all()


# ---------------------------------------------------------------------- design
def test_design_weights_favour_the_focus_cheap_programs_under_budget_pressure_and_respect_the_cap():
    m = _model()
    capacity.fix_for_quarter(m)
    peers = diffusion.regional_peer_share(m)
    w = cycle.design_weights(m, peers)
    focus = m.cycle.focus
    has = focus >= 0
    cols = np.flatnonzero(has)
    # the focus program outweighs the same program elsewhere at the same budget pressure
    assert np.median(w[focus[cols], cols]) > 2 * np.median(w[(focus[cols] + 1) % w.shape[0], cols])
    # budget pressure: the cheapest program gains on the dearest
    cheap, dear = m.program_index["detracking"], m.program_index["restorative"]
    assert m.fixed.base_cost[cheap] < m.fixed.base_cost[dear]
    m.quarter_capacity.log_factor = m.quarter_capacity.log_factor + np.log(0.3)
    w_low = cycle.design_weights(m, peers)
    assert np.median(w_low[cheap] / w_low[dear]) > np.median(w[cheap] / w[dear])
    # at the cap a district starts nothing
    d = np.flatnonzero(m.fixed.eligible_by_program.all(0))[:3]
    for prog in ("restorative", "detracking", "teacher_assignment"):
        _start(m, d, prog)
    capacity.fix_for_quarter(m)
    w = cycle.design_weights(m, diffusion.regional_peer_share(m))
    assert (w[:, d] == 0).all()


def test_starts_beyond_the_cap_in_one_quarter_are_dropped_in_priority_order():
    m = _model()
    capacity.fix_for_quarter(m)
    d = np.array([5, 5, 5, 5, 7, 5])
    k = np.array([0, 2, 3, 4, 2, 1])
    kd, kk = cycle.keep_within_cap(m, d, k)
    cap = int(m.par.max_concurrent_programs)
    assert list(kd) == [5] * cap + [7] and list(kk) == [0, 2, 3][:cap] + [2]
    m.district_arrays.burnout[5] = 0.9   # short of time: one goal
    capacity.fix_for_quarter(m)
    kd, kk = cycle.keep_within_cap(m, d, k)
    assert list(kd) == [5, 7] and list(kk) == [0, 2]


def test_low_buy_in_starts_a_volunteer_pilot_whatever_the_strategy():
    m = _model(strategy={"pilot_first": False})
    d = np.flatnonzero(m.fixed.eligible_by_program[m.program_index["restorative"]])[:20]
    m.district_arrays.buy_in[d[:10]] = 0.1
    m.district_arrays.buy_in[d[10:]] = 0.9
    _start(m, d, "restorative")
    c = m.cells
    assert (c.phase[:10] == 0).all() and c.pilot[:10].all()
    assert (c.phase[10:] > 0).all() and not c.pilot[10:].any()


def test_mitigations_are_paid_from_the_general_program_money():
    m = _model(strategy={"leadership_rotation": 1.0, "release_time": 1.0})
    d = np.arange(10)
    _start(m, d, "restorative")
    cost = cycle.mitigation_cost(m)
    expected = (m.par.rotation_cost_musd + m.par.release_cost_musd) * m.fixed.size_cost[d].sum()
    assert cost == pytest.approx(expected) and cost > 0
    assert cycle.mitigation_cost(_model()) == 0


def test_data_and_listening_find_the_root_cause_more_often_and_learning_helps():
    m = _model(scale=0.1)
    n_d = m.world.n_districts
    d = np.arange(n_d)
    k = np.full(n_d, m.program_index["restorative"])
    pre = m.district_arrays.prerequisites
    found = cycle.root_cause_found(m, k, d)
    # the shares follow the two chances (a uniform hiddenness; about 600 districts each side)
    assert abs(found[pre].mean() - m.par.root_cause_found_prepared) < 0.06
    assert abs(found[~pre].mean() - m.par.root_cause_found_unprepared) < 0.06
    m.cycle.learning[:] = 0.5   # half the miss chance
    again = cycle.root_cause_found(m, k, d)
    assert (again >= found).all()
    assert abs(again[~pre].mean() - (1 - 0.5 * (1 - m.par.root_cause_found_unprepared))) < 0.06
    # a start records it
    _start(m, d[:50], "restorative")
    np.testing.assert_array_equal(m.cells.root, again[:50])


def test_a_design_past_the_root_cause_reaches_a_share_of_the_fidelity():
    m = _model()
    _start(m, np.arange(40), "restorative")
    m.cycle.feedback[:] = 0.0
    m.cells.root[:] = True
    full, _ = cycle.feedback_and_turnover(m)
    m.cycle.feedback[:] = 0.0   # the loop moves at each call: the same start for both
    m.cells.root[:] = False
    past, _ = cycle.feedback_and_turnover(m)
    np.testing.assert_allclose(past, full * m.par.root_cause_miss_share)
    assert m.par.root_cause_miss_share < 1


def test_a_refined_design_goes_back_to_the_diagnosis():
    m = _set(_model(), measure_noise_sd=0.0, failure_report_prepared=1.0, failure_report_unprepared=1.0,
             failure_learning_gain=1.0)   # an honest report teaches everything: the root cause is found
    d, _ = _judged(m)
    m.cells.root[:] = False
    cycle.reflect_programs(m, np.random.default_rng(1), np.zeros(m.world.n_districts))
    assert (m.cells.refined == 1).all() and m.cells.root.all()
    m2 = _set(_model(), measure_noise_sd=0.0, failure_report_prepared=0.0, failure_report_unprepared=0.0)
    d, k = _judged(m2)
    before = cycle.root_cause_found(m2, np.full(len(d), k), d)
    m2.cells.root[:] = False
    cycle.reflect_programs(m2, np.random.default_rng(1), np.zeros(m2.world.n_districts))
    np.testing.assert_array_equal(m2.cells.root, before)   # nothing learned: the same chance as at the start


# ---------------------------------------------------------------------- implement
def test_the_feedback_loop_needs_listening_and_restarts_with_a_new_superintendent():
    m = _model()
    d = np.arange(40)
    _start(m, d, "restorative")
    for _ in range(12):
        cycle.feedback_and_turnover(m)
    pre = m.district_arrays.prerequisites[d]
    assert m.cycle.feedback[d][pre].min() > m.cycle.feedback[d][~pre].max()
    _set(m, superintendent_turnover=1e6, turnover_program_loss=0.0)
    elections.superintendent_turnover(m, np.random.default_rng(0))
    assert (m.cycle.feedback[d] == 0).all()


def test_burnout_mitigations_slow_burnout_and_staff_turnover():
    out = {}
    for label, strat in (("none", {}), ("both", {"leadership_rotation": 1.0, "release_time": 1.0})):
        m = _model(strategy=strat)
        d = np.arange(30)
        _start(m, d, "restorative")
        _start(m, d, "detracking")
        for _ in range(8):
            implementation.fidelity_and_burnout(m)
        out[label] = (m.district_arrays.burnout[d].mean(), m.cycle.staff_turnover[d].mean())
    assert out["both"][0] < out["none"][0] and out["both"][1] < out["none"][1]


# ---------------------------------------------------------------------- reflect
def _judged(m, program="restorative", n=30):
    d = np.flatnonzero(m.fixed.eligible_by_program[m.program_index[program]])[:n]
    k = _start(m, d, program)
    m.cells.quarters_reached[:] = 8
    m.quarter = 11
    return d, k


def test_a_program_that_does_not_work_is_refined_then_replaced_or_abandoned():
    m = _set(_model(), measure_noise_sd=0.0)
    d, k = _judged(m)
    g = np.random.default_rng(1)
    cycle.reflect_programs(m, g, np.zeros(m.world.n_districts))   # no change since the start: refine
    assert m.cycle_counts["programs_refined"] == len(d) and (m.cells.refined == 1).all()
    m.cells.compact()
    cycle.reflect_programs(m, g, np.zeros(m.world.n_districts))   # still nothing: drop
    dropped = m.cycle_counts["programs_replaced"] + m.cycle_counts["programs_abandoned"]
    assert dropped == len(d) and m.cycle.abandoned[k, d].all()
    assert not m.district_arrays.running[k, d].any()


def test_keep_everything_makes_no_decision():
    m = _set(_model(strategy={"reflect_on_outcomes": False}), measure_noise_sd=0.0)
    d, k = _judged(m)
    for _ in range(3):
        cycle.reflect_programs(m, np.random.default_rng(1), np.zeros(m.world.n_districts))
    assert sum(m.cycle_counts.values()) == 0 and m.district_arrays.running[k, d].all()


def test_a_program_that_works_is_scaled_and_won_on_its_own_outcome():
    m = _set(_model(), measure_noise_sd=0.0)
    d, k = _judged(m)
    m.outcome_arrays.suspension_district_black[d] = cycle.full_effect(m)[k]   # its full effect reached
    phase = m.cells.phase.copy()
    win = cycle.reflect_programs(m, np.random.default_rng(1), np.zeros(m.world.n_districts))
    assert win[d].all() and m.cycle_counts["programs_scaled"] == (phase < m.program_table.final_phase[k]).sum()
    implementation.advance_phases(_set(m, stall_fidelity=0.0), np.random.default_rng(2))
    assert (m.cells.phase > phase).all()


def test_an_honest_failure_teaches_a_hidden_one_does_not():
    out = {}
    for label, report in (("honest", 1.0), ("hidden", 0.0)):
        m = _set(_model(), measure_noise_sd=0.0, failure_report_prepared=report, failure_report_unprepared=report)
        d, _ = _judged(m)
        cycle.reflect_programs(m, np.random.default_rng(1), np.zeros(m.world.n_districts))
        out[label] = m.cycle.learning[d]
    assert (out["honest"] > 0).all() and (out["hidden"] == 0).all()


def test_measuring_the_wrong_thing_makes_the_measure_noisier():
    spreads = {}
    for wrong in (False, True):
        m = _model()
        d, k = _judged(m, n=200)
        m.cycle.wrong_measure[:] = wrong
        m.outcome_arrays.suspension_district_black[d] = 0.6 * cycle.full_effect(m)[k]
        wins = [cycle.reflect_programs(_set(m, reflect_scale_signal=10.0, reflect_fail_signal=-10.0),
                                       np.random.default_rng(s), np.zeros(m.world.n_districts))[d].mean()
                for s in range(5)]
        spreads[wrong] = np.mean(wins)
    # a true change of 60% of the full effect is a win (>= 0.25) for nearly every district that measures well
    assert spreads[False] > 0.99 and spreads[True] < spreads[False] - 0.1


def test_sustained_wins_make_a_lens_and_sustained_pressure_drifts_back():
    m = _set(_model(), lens_move_prob=1.0, lens_drift_prob=1.0)
    dist = m.district_arrays
    dist.equity_as_lens[:] = False
    m.cycle.wrong_measure[:] = False
    win = np.zeros(m.world.n_districts, bool)
    win[:20] = True
    for _ in range(int(m.par.lens_win_years)):
        cycle.lens_transitions(m, np.random.default_rng(0), win)
    assert dist.equity_as_lens[:20].all() and not dist.equity_as_lens[20:].any()
    assert m.cycle_counts["moved_to_lens"] == 20
    dist.burnout[:10] = 1.0
    for _ in range(int(m.par.lens_pressure_years)):
        cycle.lens_transitions(m, np.random.default_rng(0), np.zeros(m.world.n_districts, bool))
    assert not dist.equity_as_lens[:10].any() and dist.equity_as_lens[10:20].all()


# ---------------------------------------------------------------------- the run
def test_a_run_reports_what_districts_did(tmp_path, capsys):
    from equitysim.cli import main

    rc = main(["run", str(SCENARIOS / "roadmap.toml"), "-n", "2", "--scale", "0.05", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    keys = {"programs_scaled", "programs_refined", "programs_replaced", "programs_abandoned", "moved_to_lens",
            "mean_fidelity", "mean_burnout"}
    assert keys <= set(out["districts"])
    assert out["districts"]["programs_scaled"] > 0 and 0 < out["districts"]["mean_fidelity"] < 1
