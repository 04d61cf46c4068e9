"""The baseline world against the shipped state totals and the published national benchmarks
(equitysim.baseline.calibration; targets from data/states.csv and data/national_benchmarks.csv)."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from equitysim.baseline import benchmarks, by_state, calibration, world_summary
from equitysim.cli import main
from equitysim.world import _data_path, load_states

WORLD_KEYS = {"states", "districts", "schools", "students", "per_pupil_by_state", "dissimilarity_median",
              "dissimilarity_fit", "suspension_ratio_black_white", "real_districts", "district_names", "source_year"}


@pytest.fixture(scope="module")
def cal():
    return calibration(1.0).set_index("check")


def test_world_json_has_exactly_the_issue_keys(capsys):
    assert main(["world", "--json"]) == 0
    w = json.loads(capsys.readouterr().out)
    assert set(w) == WORLD_KEYS
    st = load_states()
    from equitysim.world import load_districts
    tab = load_districts()
    # The full-size world is the real district table.
    assert w["states"] == 51
    assert w["districts"] == w["real_districts"] == len(tab) == len(w["district_names"]) > 13_000
    assert w["students"] == int(tab["enrollment"].sum())
    assert w["schools"] == int(tab["schools"].sum())
    assert ["0100390", "Birmingham City School District", "AL"] in w["district_names"]
    assert w["per_pupil_by_state"] == {c: float(v) for c, v in st["per_pupil_current_expenditure"].items()}
    assert 3.38 <= w["suspension_ratio_black_white"] <= 4.19  # CRDC 2011-12 / 2013-14: 3.58, 3.99
    assert w["dissimilarity_fit"]["median_abs_error"] < 0.001


def test_world_table_prints_calibration(capsys):
    assert main(["world", "--scale", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "Calibration" in out and "within-district dissimilarity" in out and "NY" in out


def test_state_totals_are_the_real_districts_and_cover_states_csv():
    b = by_state(1.0)
    # The districts of the table cover most of each state's students; the rest are in charter
    # agencies and state-run schools (and, for NY, New York City is the state's residual).
    # (2022-23 counts against fall 2021: a few states grew by up to 1%.)
    cov = b.students / b.students_data
    assert (cov <= 1.02).all() and cov.median() > 0.9 and cov["DC"] < 0.6  # DC: DCPS only, charters apart
    assert (b.districts >= 1).all() and (b.schools >= b.districts).all()


def test_national_suspension_ratio_and_ap_gap_match_crdc_2020_21():
    from equitysim.baseline import AP_GAP_TOLERANCE, SUSPENSION_RATIO_TOLERANCE, national_figures
    from equitysim.world import build_world
    nf = national_figures(build_world(1.0)).set_index("figure")
    bm = benchmarks()
    s = nf.loc["Black/White suspension ratio, CRDC 2020-21 (districts' rates)"]
    assert s.published == bm["oss_ratio_black_white_2020_21"]
    assert abs(s.world - s.published) <= SUSPENSION_RATIO_TOLERANCE
    a = nf.loc["AP gap, Black+Hispanic vs White (1 - ratio), CRDC 2020-21"]
    assert abs(a.world - bm["ap_gap_black_hispanic_white_2020_21"]) <= AP_GAP_TOLERANCE
    assert nf.ok.all(), nf[~nf.ok].to_string()


def test_every_calibration_check_within_tolerance(cal):
    bad = cal[~cal.ok]
    assert bad.empty, "outside tolerance:\n" + bad[["model", "low", "high"]].to_string()
    assert len(cal) >= 18


@pytest.mark.parametrize("check, target_row", [
    ("within-district dissimilarity, enrollment-weighted", "seg_within_district_dissim_wmin_enrollweighted_2022"),
    ("spending in Black+Hispanic vs White students' districts (ratio)", "funding_progressivity_us_state_local_adj"),
])
def test_targets_are_the_published_benchmarks(cal, check, target_row):
    assert cal.loc[check, "target"] == pytest.approx(benchmarks()[target_row])


def test_district_sizes_follow_digest_214_20(cal):
    assert abs(cal.loc["districts under 1,000 students (%)", "model"] - 47.6) <= 3
    assert cal.loc["district size classes: max |world - data| share (pp)", "model"] <= 3


def test_suspension_and_ap_gaps_match_crdc(cal):
    assert 3.38 <= cal.loc["Black/White suspension risk ratio", "model"] <= 4.19
    assert cal.loc["AP participation gap, Black+Hispanic vs White (1 - ratio)", "model"] == pytest.approx(0.229, abs=0.04)


def test_estimated_schools_are_flagged_and_fill_the_national_total():
    raw = pd.read_csv(_data_path("states.csv"), keep_default_na=False, na_values=[""]).set_index("state")
    st = load_states()
    assert (st["schools_estimated"] == raw["schools"].isna()).all()
    assert st.loc[~st.schools_estimated, "schools"].equals(raw.loc[raw.schools.notna(), "schools"].astype(int))
    assert st["schools"].sum() == 99_271
    assert (st["schools"] >= st["districts"]).all()


def test_benchmarks_have_sources():
    df = pd.read_csv(_data_path("national_benchmarks.csv"), dtype=str, keep_default_na=False)
    assert df["name"].is_unique
    for r in df.itertuples():
        assert len(r.source) >= 20 and r.source not in ("same table", "same source"), r.name
        if not r.value:
            assert "NOT FILLED" in r.source, r.name
        elif not r.name.endswith("_bracket"):  # a size bracket is the one text value
            float(r.value)
    filled = benchmarks().dropna()
    assert len(filled) >= 90 and all(math.isfinite(v) for v in filled)


def test_sources_md_documents_every_column():
    text = _data_path("SOURCES.md").read_text()
    cols = pd.read_csv(_data_path("states.csv"), nrows=0).columns
    missing = [c for c in cols if f"`{c}`" not in text]
    assert not missing, f"columns of states.csv not documented in SOURCES.md: {missing}"
    for phrase in ("schools_estimated", "race_national_fallback", "climate", "districts.parquet", "dissimilarity_filled"):
        assert phrase in text


def test_summary_is_deterministic_and_scales():
    a, b = world_summary(0.05, seed=3), world_summary(0.05, seed=3)
    assert a == b
    full = world_summary(1.0)
    assert a["students"] == pytest.approx(full["students"] * 0.05, rel=0.3)
    assert a["districts"] == pytest.approx(full["districts"] * 0.05, rel=0.1)
    assert np.isclose(sum(1 for _ in a["per_pupil_by_state"]), 51)
