"""The fast model against the per-agent reference (benchmarks/reference): the correctness oracle.

Deterministic parts must agree exactly (to rounding): the world both build on, and every metric
computed from the same state. Stochastic parts must agree in distribution: replications of both
on a small world are compared indicator by indicator and metric by metric (Fisher's exact test
for indicators met, Kolmogorov-Smirnov for indicator values, year-10 metrics and risk counts),
none may reject at a Bonferroni-corrected family-wise level of 1%.

Size: the issue asks for 200 replications of each at scale 0.05; a reference replication takes
a few seconds, so CI runs EQUITYSIM_ORACLE_REPLICATIONS (default 40) and the full 200 are run
with `python benchmarks/run.py --oracle 200` (see docs/performance.md for the last result).
"""

import os

import numpy as np
import pandas as pd
import pytest
from joblib import Parallel, delayed

from benchmarks.reference import ReferenceModel, plain_measure, run_reference
from benchmarks.reference.compare import compare
from equitysim import load_scenario
from equitysim.ensemble import replication_rng, run, run_replication
from equitysim.model import EquityModel, world_for
from equitysim.scenario import Event
from equitysim.world import BLACK, HISPANIC, WHITE

from .conftest import SCENARIOS

REPS = int(os.environ.get("EQUITYSIM_ORACLE_REPLICATIONS", "40"))
SCALE = 0.05


def roadmap(scale=SCALE):
    return load_scenario(SCENARIOS / "roadmap.toml").model_copy(update={"scale": scale})


def stress(scale=SCALE):
    """The roadmap with the levers and events the plain roadmap leaves untouched: race-conscious
    designs, no pilots, equity as a lens in a third of districts, no locks, a recession, hostile
    federal and state governments and a court ruling."""
    spec = roadmap(scale)
    strategy = spec.strategy.model_copy(update={"legal_design": "race_conscious", "pilot_first": False,
                                                "equity_as_lens": 0.3, "lock_in": False, "pacing": 0.8})
    events = [Event(kind="recession", year=1.0), Event(kind="hostile_states", year=3.0),
              Event(kind="hostile_federal", year=4.0), Event(kind="court_ruling", year=5.0)]
    return spec.model_copy(update={"name": "stress", "strategy": strategy, "events": events})


def adaptive(scale=SCALE):
    """The shipped adaptive roadmap (issue 19) with a recession and a hostile federal
    administration forced, so that every rule has its occasion: the reference must follow the
    same rules (signposts read from its agents, the same timetable edits)."""
    spec = load_scenario(SCENARIOS / "roadmap_adaptive.toml").model_copy(update={"scale": scale})
    return spec.model_copy(update={"events": [Event(kind="recession", year=2.0), Event(kind="hostile_federal", year=4.0)]})


def posterior_draw(scale=SCALE):
    """The roadmap at the shipped posterior's draw farthest from the registry defaults (issue 16:
    runs draw their parameters from the posterior, so the reference must agree there too)."""
    from equitysim import params as P
    from equitysim.posterior import shipped

    table = shipped().table
    reg = P.registry()
    dist = sum(((table[n] - reg[n].default) / (reg[n].high - reg[n].low)) ** 2 for n in table.columns)
    row = table.iloc[int(dist.to_numpy().argmax())]
    spec = roadmap(scale).with_parameters(**{k: float(v) for k, v in row.items()})
    return spec.model_copy(update={"name": "posterior_draw"})


JOBS = int(os.environ.get("EQUITYSIM_ORACLE_JOBS", "1"))   # pytest -n 2 already uses both cores


def _reference_runs(spec, n, seed):
    if JOBS == 1:
        world = world_for(spec)
        return pd.DataFrame([run_reference(spec, seed * 100_000 + k, world) for k in range(n)])
    return pd.DataFrame(Parallel(n_jobs=JOBS, backend="loky")(delayed(run_reference)(spec, seed * 100_000 + k)
                                                               for k in range(n)))


# ---------------------------------------------------------------------- deterministic parts
def test_reference_builds_the_same_world_and_baseline():
    spec = roadmap()
    ref = ReferenceModel(spec, 1)
    fast = EquityModel(spec, rng=1)
    w = fast.world
    assert ref.world is w   # the same cached world object
    # Every school and district agent carries the world's figures.
    assert len(ref.districts) == w.n_districts and len(ref.schools) == w.n_schools
    enroll = np.array([sum(sc.enroll for sc in d.schools) for d in ref.districts])
    np.testing.assert_allclose(enroll, w.d_enroll, rtol=1e-12)
    np.testing.assert_array_equal([d.state.index for d in ref.districts], w.d_state)
    # ... and is the real district of the same NCES id.
    assert [d.leaid for d in ref.districts] == list(w.districts["leaid"])
    assert all(d.state.code == w.districts["state"].iloc[d.index] for d in ref.districts)
    for k, v in ref.baseline.items():
        assert fast.baseline[k] == pytest.approx(v, rel=1e-9, abs=1e-12), k


def _plain_arrays(m, gain_all, grad_all):
    """The arrays plain_measure reads, from the fast model's dense (public) state."""
    return {
        "enrollment": m.school_enrollment(), "school_spending_ratio": m.school_spending_ratio(),
        "teacher_experience": m.school_teacher_experience(), "gain_all": gain_all, "grad_all": grad_all,
        "district_spending_ratio": m.district_spending_ratio(), "susp_cut": m.susp_cut, "ap_cut": m.ap_cut,
        "gain_minority": m.gain_minority, "grad_minority": m.grad_minority, "active": m.active, "phase": m.phase,
        "reached": m.reached, "st_on": m.state_policy_on, "st_ever": m.state_policy_ever,
        "fed_ever": m.federal_arrays.action_ever, "national_coalition_breadth": m.coalition_arrays.breadth[-1],
    }


def _assert_same(fast: dict, plain: dict):
    for k, v in plain.items():
        assert fast[k] == pytest.approx(v, rel=1e-9, abs=1e-12), k


def test_fast_metrics_equal_the_plain_computation_on_the_same_state():
    """Year by year, the fast model's metrics (per-district sums, decomposed outcome modifiers)
    equal the plain school-by-school computation on its own state, with gains accumulated
    school by school alongside it; then again after forcing strong interdistrict mixing, where
    school shares must be clipped."""
    spec = roadmap(0.1).model_copy(update={"strategy": roadmap().strategy.model_copy(update={"pacing": 1.0})})
    m = EquityModel(spec, rng=replication_rng(3, 0))
    w, p = m.world, m.p
    spend0, texp0 = m.school_spending_ratio(), m.school_teacher_experience()

    def exposure(e):
        mino = e[:, BLACK] + e[:, HISPANIC]
        num = np.bincount(w.s_district, weights=mino * e[:, WHITE] / w.s_enroll, minlength=w.n_districts)
        den = np.bincount(w.s_district, weights=mino, minlength=w.n_districts)
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    expo0 = exposure(m.school_enrollment())
    gain, grad, gain_min = np.zeros(w.n_schools), np.zeros(w.n_schools), np.zeros(w.n_districts)
    while m.running:
        m.step()
        if m.quarter % 4:
            continue
        spend_rel = m.school_spending_ratio() / spend0 - 1
        gain += (p["spending_achievement_effect"] * spend_rel / 0.1
                 + p["teacher_achievement_effect"] * (m.school_teacher_experience() - texp0) * p["teacher_effect_yearly_share"])
        grad += p["spending_graduation_effect"] / 12 * spend_rel / 0.1
        expo = exposure(m.school_enrollment()) - expo0
        gain_min += p["integration_achievement_effect"] / 10 * expo + p["ap_achievement_effect"] / 10 * m.ap_cut
        np.testing.assert_allclose(m.gain_all, gain, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(m.gain_minority, gain_min, rtol=1e-9, atol=1e-12)
        _assert_same(m.history[-1], plain_measure(w, p, m.catalogue, _plain_arrays(m, gain, grad)))
    O = m.outcome_arrays
    assert (O.segregation_cut > 0).sum() > 50 and O.region_mixing.max() > 0   # the run did move mixes
    # Strong interdistrict mixing everywhere: some schools' formula shares go negative (the
    # caches are keyed on these arrays, so nothing needs clearing).
    O.region_mixing[:] = 0.9
    O.segregation_cut[:] = np.where(O.segregation_cut > 0, 0.05, 0.0)
    d_now = w.d_share + m.inter_mix[:, None] * (m.fixed.region_share[w.d_region] - w.d_share)
    raw = m.seg_keep[w.s_district][:, None] * w.s_dev + d_now[w.s_district]
    assert (raw < 0).any()
    _assert_same(m.measure(), plain_measure(w, p, m.catalogue, _plain_arrays(m, gain, grad)))


def test_adoption_hazards_equal_the_plain_rule_and_respect_their_bounds():
    """The adoption hazard of every (district, program) equals the plain per-row formula, and
    the thinning bound of each candidate stratum is never below a hazard in it."""
    from benchmarks.reference.plain_adoption import plain_hazards
    from equitysim.mechanisms import adoption

    m = EquityModel(stress(0.1), rng=replication_rng(4, 0))
    seen = []
    original = adoption.adopt_programs

    def check(model, g):
        h = plain_hazards(model)
        hazard, bound = adoption.district_hazards(model)
        n_d, n_k = h.shape
        S = adoption.focus_strata(model)
        assert sorted(np.concatenate(S.strata_pool).tolist()) == sorted(np.concatenate(model.fixed.strata_pool).tolist())
        for i, pool in enumerate(S.strata_pool):
            k = S.stratum_program[i]
            np.testing.assert_allclose(hazard(pool, np.full(len(pool), k)), h[pool, k], rtol=1e-12, atol=1e-15)
            assert (h[pool, k] <= bound[i] * (1 + 1e-12)).all()
        seen.append(float(h.sum()))
        return original(model, g)

    adoption.adopt_programs = check
    try:
        m.run()
    finally:
        adoption.adopt_programs = original
    assert len(seen) == 40 and max(seen) > 1


# ---------------------------------------------------------------------- distributions
@pytest.mark.parametrize("make", [roadmap, stress, adaptive, posterior_draw],
                         ids=["roadmap", "stress", "adaptive", "posterior_draw"])
def test_fast_model_and_reference_agree_in_distribution(make):
    spec = make()
    fast = run(spec, REPS, seed=11, jobs=JOBS).runs
    ref = _reference_runs(spec, REPS, seed=12)
    res = compare(fast, ref)
    bad = res[res["reject"]]
    assert bad.empty, "fast and reference differ:\n" + bad.to_string()
    # the comparison had something to compare
    assert (res["test"] != "equal").sum() >= 20


def test_the_comparison_detects_a_small_change_in_a_rule():
    """The same comparison, same size, tells apart the model from one whose programs fail 60%
    more often (a change the reference comparison must be able to catch). Measured with 40
    replications at scale 0.05 and three seed pairs (21/22, 31/32, 41/42): on the synthetic world a
    60% change rejected with smallest p 4e-12, 1e-9 and 5e-13, a 40% change with 5e-4 (not below
    the corrected 0.01/42), 2e-6 and 5e-7; on the world of real districts (issue 15) 60% rejects
    with 1.9e-6, 4.3e-12 and 3.1e-11, 40% with 2.2e-5, 1.2e-7 and 2.2e-5 (before the enrollment
    response of issue 18 the 40% change missed on 21/22, p 0.014), so 40% sits near the edge of
    this size's power and 60% does not."""
    spec = roadmap()
    base = run(spec, REPS, seed=21, jobs=JOBS).runs
    worse = run(spec.with_parameters(implementation_failure_rate=spec.param_values()["implementation_failure_rate"] * 1.6),
                REPS, seed=22, jobs=JOBS).runs
    assert compare(base, worse)["reject"].any()


def test_replication_records_have_the_reference_keys():
    spec = roadmap()
    fast = run_replication(spec, 1, 0)
    ref = run_reference(spec, 1)
    assert {k for k in ref} <= set(fast)
