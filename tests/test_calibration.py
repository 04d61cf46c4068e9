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
              "suspension_ratio_black_white", "source_year"}


@pytest.fixture(scope="module")
def cal():
    return calibration(1.0).set_index("check")


def test_world_json_has_exactly_the_issue_keys(capsys):
    assert main(["world", "--json"]) == 0
    w = json.loads(capsys.readouterr().out)
    assert set(w) == WORLD_KEYS
    st = load_states()
    # The full-size world matches the shipped totals exactly.
    assert w["states"] == 51
    assert w["students"] == int(st["enrollment"].sum()) == 49_452_864
    assert w["districts"] == int(st["districts"].sum()) == 13_373
    assert w["schools"] == 99_271  # CCD Table 3 2021-22 (25 states' counts estimated to this total)
    assert w["per_pupil_by_state"] == {c: float(v) for c, v in st["per_pupil_current_expenditure"].items()}
    assert 3.38 <= w["suspension_ratio_black_white"] <= 4.19  # CRDC 2011-12 / 2013-14: 3.58, 3.99


def test_world_table_prints_calibration(capsys):
    assert main(["world", "--scale", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "Calibration" in out and "within-district dissimilarity" in out and "NY" in out


def test_every_state_total_matches_its_data():
    b = by_state(1.0)
    assert (b.districts == b.districts_data).all()
    assert (b.schools == b.schools_data).all()
    assert (b.students == b.students_data).all()


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
    for phrase in ("schools_estimated", "race_national_fallback", "climate", "progressivity_tilt_scale"):
        assert phrase in text


def test_summary_is_deterministic_and_scales():
    a, b = world_summary(0.05, seed=3), world_summary(0.05, seed=3)
    assert a == b
    assert a["students"] == pytest.approx(49_452_864 * 0.05, abs=1)
    assert np.isclose(sum(1 for _ in a["per_pupil_by_state"]), 51)
