import math

import pytest

from equitysim import indicators as I


def test_twelve_indicators_with_the_roadmap_ids():
    ids = [i.id for i in I.indicators()]
    assert ids == [
        "integration_pilots_25_districts", "restorative_200_districts", "funding_bills_15_states",
        "federal_guidance_issued", "controlled_choice_100_districts", "interdistrict_40_regions",
        "funding_reform_10_states", "discipline_disparity_minus_25pct", "segregation_minus_20pct",
        "all_states_adequate_funding", "opportunity_gaps_minus_50pct", "integration_national_norm",
    ]
    assert {i.horizon_year for i in I.indicators()} == {2, 5, 10}
    assert all(i.operational for i in I.indicators())


def _ind(id_):
    return next(i for i in I.indicators() if i.id == id_)


def test_at_least_rule_and_world_scaling():
    ind = _ind("restorative_200_districts")
    assert I.is_met(ind, {"restorative_districts": 200}, {})
    assert not I.is_met(ind, {"restorative_districts": 199}, {})
    # A world a tenth the size needs a tenth of the districts.
    assert I.is_met(ind, {"restorative_districts": 20}, {}, scale=0.1)
    assert not I.is_met(ind, {"restorative_districts": 19}, {}, scale=0.1)
    # State counts do not scale.
    bills = _ind("funding_bills_15_states")
    assert not I.is_met(bills, {"funding_bills_states": 14}, {}, scale=0.1)


def test_reduced_by_rule():
    ind = _ind("discipline_disparity_minus_25pct")
    base = {"suspension_gap_pp": 10.0}
    assert I.is_met(ind, {"suspension_gap_pp": 7.5}, base)
    assert not I.is_met(ind, {"suspension_gap_pp": 7.6}, base)


def test_opportunity_gap_index():
    base = {"adequacy_gap": 0.2, "teacher_experience_gap": 2.0, "ap_gap": 0.25, "spending_gap": 0.001}
    now = {"adequacy_gap": 0.1, "teacher_experience_gap": 1.0, "ap_gap": 0.125, "spending_gap": 0.1}
    assert I.opportunity_gap_index(now, base) == pytest.approx(0.5)
    ind = _ind("opportunity_gaps_minus_50pct")
    assert I.is_met(ind, now, base)
    assert not I.is_met(ind, {**now, "ap_gap": 0.2}, base)


def test_evaluate_unreached_horizon_is_not_met():
    out = I.evaluate({}, {})
    assert set(out.values()) == {False} and len(out) == 12


def test_wilson_interval_known_values():
    # 50/100: Wilson 95% interval is (0.4038, 0.5962).
    lo, hi = I.wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    lo, hi = I.wilson_interval(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-4)
    lo, hi = I.wilson_interval(20, 20)
    assert hi == 1.0 and lo == pytest.approx(0.8389, abs=1e-4)
    assert not math.isnan(I.wilson_interval(0, 0)[0])


def test_docs_indicators_md_is_in_sync():
    from pathlib import Path
    doc = Path(__file__).resolve().parents[1] / "docs" / "indicators.md"
    assert doc.read_text() == I.markdown()


def test_wilson_interval_contains_the_estimate_at_the_edges():
    from equitysim.indicators import wilson_interval
    for n in (1, 6, 24, 100, 500):
        for k in (0, 1, n - 1, n):
            lo, hi = wilson_interval(k, n)
            assert 0.0 <= lo <= k / n <= hi <= 1.0
        assert wilson_interval(n, n)[1] == 1.0 and wilson_interval(0, n)[0] == 0.0
