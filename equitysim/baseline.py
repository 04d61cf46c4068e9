"""Summaries of the baseline world of real districts (what `equitysim world` prints) and its
calibration against the shipped state totals and published national benchmarks.

`world_summary` gives the figures the issue asks `equitysim world --json` to print;
`calibration` sets each calibrated quantity beside its target and stated tolerance (the targets
come from data/states.csv and data/national_benchmarks.csv; sources in data/SOURCES.md).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from . import metrics as M
from .world import BLACK, HISPANIC, WHITE, World, build_world, load_districts

# Digest 2022 Table 214.20 size classes (students) and the benchmark rows holding their counts.
SIZE_CLASSES = ((1, 299), (300, 599), (600, 999), (1000, 2499), (2500, 4999), (5000, 9999),
                (10000, 24999), (25000, None))
_SIZE_ROWS = ("districts_1_299", "districts_300_599", "districts_600_999", "districts_1000_2499",
              "districts_2500_4999", "districts_5000_9999", "districts_10000_24999", "districts_25000_plus")


@cache
def benchmarks() -> pd.Series:
    """Published national figures (national_benchmarks.csv) as name -> value."""
    path = resources.files("equitysim").joinpath("data/national_benchmarks.csv")
    df = pd.read_csv(path, dtype={"value": str})
    return pd.to_numeric(df.set_index("name")["value"], errors="coerce")


def _baseline_metrics(w: World) -> dict:
    """The model's own metrics at the start of a run on world `w` (no campaign)."""
    from .model import EquityModel
    from .scenario import ScenarioSpec

    spec = ScenarioSpec(name="baseline", scale=w.scale, world_seed=w.seed, years=1)
    return EquityModel(spec, rng=0, world=w).baseline


def _district_dissimilarity(w: World) -> np.ndarray:
    """Per district: White vs Black+Hispanic dissimilarity between its schools (0 for one school)."""
    e = w.s_enroll_by_group
    return M.dissimilarity_by_group(e[:, WHITE], e[:, BLACK] + e[:, HISPANIC], w.s_district, w.n_districts)


def _positive_median(d: np.ndarray) -> float:
    pos = d[d > 1e-9]
    return float(np.median(pos)) if pos.size else 0.0


def dissimilarity_fit(w: World) -> dict:
    """How closely the synthesised schools reproduce each multi-school district's published
    within-district dissimilarity (SEDA 2021-22 ds_wht_min; filled values excluded): the
    distribution of |synthesised - published| over those districts."""
    d = _district_dissimilarity(w)
    pub = (w.d_nschools >= 2) & ~w.districts["dissimilarity_filled"].to_numpy(bool)
    err = np.abs(d - w.districts["dissimilarity"].to_numpy(float))[pub]
    if not err.size:
        return {"districts": 0, "median_abs_error": 0.0, "p90_abs_error": 0.0, "max_abs_error": 0.0,
                "share_within_0_01": 1.0}
    return {"districts": int(err.size), "median_abs_error": float(np.median(err)),
            "mean_abs_error": float(err.mean()), "p90_abs_error": float(np.quantile(err, 0.9)),
            "p99_abs_error": float(np.quantile(err, 0.99)), "max_abs_error": float(err.max()),
            "share_within_0_01": float((err <= 0.01).mean())}


def _group_rates(dist: pd.DataFrame, kind: str, mask=None) -> dict:
    """Enrollment-weighted suspension (kind 'susp', rates by group x district enrollment by group)
    or AP (kind 'ap', summed counts) rates of White, Black and Hispanic students (shares 0-1)."""
    m = np.ones(len(dist), bool) if mask is None else mask
    x = dist[m]
    out = {}
    for g in ("white", "black", "hispanic"):
        if kind == "susp":
            n = x["enrollment"].to_numpy(float) * x[f"share_{g}"].to_numpy(float)
            out[g] = float(np.dot(n, x[f"susp_{g}"]) / n.sum()) if n.sum() > 0 else float("nan")
        else:
            hs = x[f"hs_{g}"].to_numpy(float)
            out[g] = float(x[f"ap_{g}_students"].sum() / hs.sum()) if hs.sum() > 0 else float("nan")
    return out


def _ap_gap(r: dict, dist: pd.DataFrame, mask=None) -> float:
    """1 - (Black+Hispanic AP rate) / White AP rate, from summed counts."""
    m = np.ones(len(dist), bool) if mask is None else mask
    x = dist[m]
    num = x["ap_black_students"].sum() + x["ap_hispanic_students"].sum()
    den = x["hs_black"].sum() + x["hs_hispanic"].sum()
    return float(1 - (num / den) / r["white"]) if den > 0 and r["white"] > 0 else float("nan")


def national_figures(w: World) -> pd.DataFrame:
    """The real-district world's national figures beside the published ones (at scale < 1 the
    counts are the world's divided by its scale). Columns: figure, world, published, low, high,
    ok, basis. Counts differ by design (the world holds the regular geographic districts only;
    see data/SOURCES.md); suspension and AP are the CRDC 2020-21 district figures summed."""
    bm = benchmarks()
    dist = w.districts
    sc = w.scale
    st = w.states
    rows = []

    def add(fig, val, pub, lo, hi, basis):
        rows.append({"figure": fig, "world": float(val), "published": float(pub), "low": float(lo),
                     "high": float(hi), "ok": bool(lo <= val <= hi), "basis": basis})

    n_pub = bm["districts_regular_total"]
    add("districts", w.n_districts / sc, n_pub, 0.95 * n_pub, 1.02 * n_pub,
        "Digest 2022 Table 214.20: 13,318 regular districts (2021-22); world: EDGE geographic districts with 2022-23 students")
    s_pub = bm["public_schools_operating_2021_22"]
    add("schools", w.n_schools / sc, s_pub, 0.80 * s_pub, 1.0 * s_pub,
        "CCD Table 3 (2021-22): 99,271 incl. charter and state-run schools; world: CRDC 2020-21 schools of the districts")
    e_pub = float(st["enrollment"].sum())
    add("students", w.d_enroll.sum() / sc, e_pub, 0.90 * e_pub, 1.0 * e_pub,
        "Digest 203.20 fall 2021 (49.45 million, incl. charter agencies); world: CCD 2022-23 district enrollment")
    pp = st["per_pupil_current_expenditure"].to_numpy(float)[w.d_state] * (1 + w.d_spend_tilt)
    nat_pp = float(np.dot(pp, w.d_enroll) / w.d_enroll.sum())
    add("per-pupil current spending ($)", nat_pp, bm["per_pupil_current_us_2020_21"],
        0.97 * bm["per_pupil_current_us_2020_21"], 1.03 * bm["per_pupil_current_us_2020_21"], "Digest 236.65 (2020-21): U.S. $14,295; world: states' published means weighted by district enrollment")
    r = _group_rates(dist, "susp")
    ratio_pub = bm["oss_ratio_black_white_2020_21"]
    add("Black/White suspension ratio, CRDC 2020-21 (districts' rates)", r["black"] / r["white"], ratio_pub,
        ratio_pub - SUSPENSION_RATIO_TOLERANCE, ratio_pub + SUSPENSION_RATIO_TOLERANCE,
        "Digest 2023 Table 233.28: 2.32% / 1.42% (all students); the district file counts students without "
        "disabilities and rounds rates to 0.01")
    a = _group_rates(dist, "ap")
    ap_pub = bm["ap_gap_black_hispanic_white_2020_21"]
    add("AP gap, Black+Hispanic vs White (1 - ratio), CRDC 2020-21", _ap_gap(a, dist), ap_pub,
        ap_pub - AP_GAP_TOLERANCE, ap_pub + AP_GAP_TOLERANCE,
        "CRDC 2020-21 district aggregates (national_benchmarks.csv ap_gap_black_hispanic_white_2020_21); "
        "an input check: the world's AP counts are the same file's")
    d = _district_dissimilarity(w)
    e = w.s_enroll_by_group
    wt = np.bincount(w.s_district, weights=e[:, WHITE] + e[:, BLACK] + e[:, HISPANIC], minlength=w.n_districts)
    t = bm["seg_within_district_dissim_wmin_enrollweighted_2022"]
    add("within-district dissimilarity, enrollment-weighted", (d * wt).sum() / wt.sum(), t, t - 0.02, t + 0.02,
        "SEDA 2021-22 (ds_wht_min), national_benchmarks.csv; schools synthesised to each district's figure")
    t = bm["seg_within_district_dissim_wmin_median_positive_2022"]
    add("within-district dissimilarity, median over districts above 0", _positive_median(d), t, t - 0.02, t + 0.02,
        "SEDA 2021-22 (ds_wht_min), median over districts with a positive index")
    return pd.DataFrame(rows)


# Stated tolerances of the national CRDC 2020-21 comparisons (tests/test_calibration.py).
# Suspension: the district file rounds each rate to 0.01 where national rates are 0.01-0.02 and
# counts students without disabilities only, while the Digest counts all students: +-0.3.
SUSPENSION_RATIO_TOLERANCE = 0.3
# AP: the same counts summed, so only subsampling and the districts dropped (no 2022-23
# students) move it: +-0.01.
AP_GAP_TOLERANCE = 0.01


def world_summary(scale: float = 1.0, seed: int = 2027) -> dict:
    """Counts, per-state spending, the real districts and calibration targets of the baseline world.

    Keys: states, districts, schools, students, per_pupil_by_state (USPS code -> dollars of
    current spending per pupil, the state's published mean), dissimilarity_median (median
    within-district White vs Black+Hispanic dissimilarity over districts where it is above 0,
    0-1), dissimilarity_fit (the synthesised schools against each district's published index:
    median and other quantiles of the absolute error), suspension_ratio_black_white (the model's
    baseline Black/White out-of-school-suspension risk ratio), real_districts (how many districts
    are real ones, all of them), district_names (NCES LEA id, name and state of every district),
    source_year.
    """
    w = build_world(scale, seed)
    d = _district_dissimilarity(w)
    dist = w.districts
    return {
        "states": int(w.n_states),
        "districts": int(w.n_districts),
        "schools": int(w.n_schools),
        "students": int(round(w.d_enroll.sum())),
        "per_pupil_by_state": {c: float(v) for c, v in w.states["per_pupil_current_expenditure"].items()},
        "dissimilarity_median": _positive_median(d),
        "dissimilarity_fit": dissimilarity_fit(w),
        "suspension_ratio_black_white": float(_baseline_metrics(w)["suspension_ratio_black_white"]),
        "real_districts": int(dist["leaid"].nunique()),
        "district_names": [[i, n, s] for i, n, s in zip(dist["leaid"], dist["name"], dist["state"])],
        "source_year": w.meta["source_year"],
    }


def by_state(scale: float = 1.0, seed: int = 2027) -> pd.DataFrame:
    """Per state: the shipped figures beside the world's (districts, schools, students), whether
    the state's published school count is missing, and per-pupil spending (dollars). The world's
    figures are its real districts' (at scale 1); the shipped ones include charter agencies and
    state-run schools, which the district table leaves out."""
    w = build_world(scale, seed)
    st = w.states
    n = w.n_states
    return pd.DataFrame({
        "per_pupil": st["per_pupil_current_expenditure"].to_numpy(float),
        "districts": np.bincount(w.d_state, minlength=n),
        "districts_data": st["districts"].to_numpy(),
        "schools": np.bincount(w.d_state, weights=w.d_nschools, minlength=n).astype(int),
        "schools_data": st["schools"].to_numpy(),
        "schools_estimated": st["schools_estimated"].to_numpy(),
        "students": np.round(np.bincount(w.d_state, weights=w.d_enroll, minlength=n)).astype(int),
        "students_data": st["enrollment"].to_numpy(),
    }, index=st.index)


def _row(check, model, target, low, high, basis):
    return {"check": check, "model": float(model), "target": float(target), "low": float(low),
            "high": float(high), "ok": bool(low <= model <= high), "basis": basis}


def _state_total_rows(w: World, bm: pd.Series, scale: float) -> list[dict]:
    """State totals: the world's districts, schools and students are the real districts' (so at
    scale 1 they equal data/districts.parquet exactly); against states.csv they cover the
    regular geographic districts only (charter agencies, state-run schools excluded), reported as
    coverage; per-pupil spending matches the state's published mean exactly."""
    st, n = w.states, w.n_states
    dist_all = load_districts()
    rows = []
    enr = np.bincount(w.d_state, weights=w.d_enroll, minlength=n)
    if scale == 1.0:
        idx = st.index.get_indexer(dist_all["state"])
        tab = np.bincount(idx, weights=dist_all["enrollment"].to_numpy(float), minlength=n)
        rows.append(_row("students: max |world - district table| over states", np.abs(enr - tab).max(), 0, 0, 0.5,
                         "data/districts.parquet (CCD 2022-23 district enrollment)"))
        ns = np.bincount(w.d_state, weights=w.d_nschools, minlength=n)
        tab_s = np.bincount(idx, weights=dist_all["schools"].to_numpy(float), minlength=n)
        rows.append(_row("schools: max |world - district table| over states", np.abs(ns - tab_s).max(), 0, 0, 0,
                         "data/districts.parquet (CRDC 2020-21 schools per district)"))
    cov = enr / scale / st["enrollment"].to_numpy(float)
    rows.append(_row("students: district table / states.csv, median over states", np.median(cov), 1, 0.9, 1.05,
                     "states.csv enrollment (Digest 203.20, fall 2021, incl. charter agencies)"))
    spend = np.bincount(w.d_state, weights=w.d_enroll * (1 + w.d_spend_tilt), minlength=n) / enr
    rows.append(_row("per-pupil spending: max |state mean / published - 1|", np.abs(spend - 1).max(), 0, 0, 1e-9,
                     "states.csv per-pupil current expenditure (Digest 236.65, 2020-21)"))
    return rows


def _composition_rows(w: World, bm: pd.Series) -> list[dict]:
    """National racial composition against the Digest figures (percent of students)."""
    rows = []
    # Racial composition against the national Digest figures (state shares are estimates).
    nat = (w.d_share * w.d_enroll[:, None]).sum(0) / w.d_enroll.sum()
    for g, name in ((WHITE, "white"), (BLACK, "black"), (HISPANIC, "hispanic")):
        t = bm[f"race_share_{name}_2021_22"]
        rows.append(_row(f"{name} share of students (%)", 100 * nat[g], t, t - 1.5, t + 1.5,
                         "Digest 2022 Table 216.30 (2021-22); state shares are 2022-23 estimates"))
    return rows


def _size_rows(w: World, bm: pd.Series) -> list[dict]:
    """The district size distribution against Digest Table 214.20 (percent of districts)."""
    rows = []
    # District size distribution.
    sizes = np.array([bm[r] for r in _SIZE_ROWS])
    target = sizes / sizes.sum()
    edges = [lo for lo, _ in SIZE_CLASSES] + [np.inf]
    # District sizes do not change with scale (enrollment and district counts shrink together).
    world_share = np.histogram(w.d_enroll, bins=edges)[0] / w.n_districts
    rows.append(_row("districts under 1,000 students (%)", 100 * world_share[:3].sum(), 100 * target[:3].sum(),
                     100 * target[:3].sum() - 3, 100 * target[:3].sum() + 3, "Digest 2022 Table 214.20 (2021-22)"))
    rows.append(_row("district size classes: max |world - data| share (pp)",
                     100 * np.abs(world_share - target).max(), 0, 0, 3, "Digest 2022 Table 214.20, 8 size classes"))
    return rows


def _segregation_rows(w: World, bm: pd.Series, base: dict) -> list[dict]:
    """Within- and between-district dissimilarity (0-1) against SEDA and the literature."""
    rows = []
    # Segregation.
    d = _district_dissimilarity(w)
    e = w.s_enroll_by_group
    wt = np.bincount(w.s_district, weights=e[:, WHITE] + e[:, BLACK] + e[:, HISPANIC], minlength=w.n_districts)
    t = bm["seg_within_district_dissim_wmin_enrollweighted_2022"]
    rows.append(_row("within-district dissimilarity, enrollment-weighted", (d * wt).sum() / wt.sum(), t,
                     t - 0.04, t + 0.04, "SEDA 2021-22 district file (ds_wht_min), computed"))
    t = bm["seg_within_district_dissim_wmin_median_positive_2022"]
    rows.append(_row("within-district dissimilarity, median over districts above 0",
                     _positive_median(d), t, t - 0.03, t + 0.03,
                     "SEDA 2021-22 median over districts with a positive index"))
    rows.append(_row("national between-school dissimilarity", base["dissimilarity"], 0.55, 0.45, 0.65,
                     "assumption: order of magnitude in Reardon & Owens (2014); no figure with this group definition read"))
    return rows


def _spending_rows(w: World, bm: pd.Series) -> list[dict]:
    """Spending in Black+Hispanic vs White students' districts (ratio) against Urban's progressivity."""
    st = w.states
    rows = []
    # Spending: the minority/White analogue of Urban's poor/non-poor progressivity ratio.
    pp = st["per_pupil_current_expenditure"].to_numpy(float)[w.d_state] * (1 + w.d_spend_tilt)
    mi = w.d_enroll * (w.d_share[:, BLACK] + w.d_share[:, HISPANIC])
    wh = w.d_enroll * w.d_share[:, WHITE]
    t = bm["funding_progressivity_us_state_local_adj"]
    rows.append(_row("spending in Black+Hispanic vs White students' districts (ratio)",
                     (pp * mi).sum() / mi.sum() / ((pp * wh).sum() / wh.sum()), t, 0.94, 1.03,
                     "Urban Institute progressivity, USA 2014-15: 0.979 state+local, 1.004 all sources (poverty, not race)"))
    return rows


def _outcome_rows(bm: pd.Series, base: dict) -> list[dict]:
    """Teachers (years), discipline (risk ratios), courses, achievement (SD) and graduation (pp): the
    model's own baseline metrics against published figures."""
    rows = []
    # Teachers, discipline, courses, outcomes: the model's own baseline metrics.
    from . import params as P
    p = P.defaults()
    rows.append(_row("teacher-experience gap, low- vs high-minority quartile (years)", base["teacher_experience_gap"],
                     p["teacher_experience_gap"], 1.0, 3.0, "assumption (no published national figure; see parameters)"))
    lo, hi = bm["oss_ratio_black_white_2011_12"], bm["oss_ratio_black_white_2013_14"]
    rows.append(_row("Black/White suspension risk ratio", base["suspension_ratio_black_white"], (lo + hi) / 2,
                     lo - 0.2, hi + 0.2, "Digest Tables 233.28/233.40 (CRDC 2011-12, 2013-14)"))
    lo, hi = bm["oss_ratio_hispanic_white_2013_14"], bm["oss_ratio_hispanic_white_2011_12"]
    rows.append(_row("Hispanic/White suspension risk ratio", base["suspension_ratio_hispanic_white"], (lo + hi) / 2,
                     lo - 0.2, hi + 0.2, "Digest Tables 233.28/233.40 (CRDC 2011-12, 2013-14)"))
    # Black+Hispanic AP gap relative to White, weighting the groups by enrollment as the model does.
    b_sh, h_sh = bm["race_share_black_2021_22"], bm["race_share_hispanic_2021_22"]
    b_rate = bm["ap_ratio_black_white_2020_21"] * bm["ap_rate_white_2020_21"]
    ap_t = 1 - (b_sh * b_rate + h_sh * bm["ap_rate_hispanic_2020_21"]) / ((b_sh + h_sh) * bm["ap_rate_white_2020_21"])
    rows.append(_row("AP participation gap, Black+Hispanic vs White (1 - ratio)", base["ap_gap"], ap_t,
                     ap_t - 0.04, ap_t + 0.04, "CRDC 2020-21 district aggregates, computed"))
    gap_pts = (b_sh * bm["naep_g8_math_gap_white_black"] + h_sh * bm["naep_g8_math_gap_white_hispanic"]) / (b_sh + h_sh)
    sd = bm["naep_g8_math_gap_white_black"] / bm["naep_g8_math_gap_white_black_sd"]
    rows.append(_row("achievement gap, Black+Hispanic vs White (SD)", base["achievement_gap"], gap_pts / sd,
                     gap_pts / sd - 0.08, gap_pts / sd + 0.08, "NAEP 2022 grade 8 math gaps / ESTIMATED SD of ~39 points"))
    grad_m = (b_sh * bm["acgr_black"] + h_sh * bm["acgr_hispanic"]) / (b_sh + h_sh)
    t = bm["acgr_white"] - grad_m
    rows.append(_row("graduation gap, White vs Black+Hispanic (pp)", base["graduation_gap_pp"], t, t - 1.2, t + 1.2,
                     "ACGR 2021-22 (EDFacts)"))
    return rows


def calibration(scale: float = 1.0, seed: int = 2027) -> pd.DataFrame:
    """Every calibrated quantity of the baseline world beside its target and tolerance.

    State totals must match exactly (at scale 1; at other scales the counts are scaled and
    rounded); national distributions must fall within the stated bands. Columns: check, model,
    target, low, high, ok, basis (where the target comes from).
    """
    w = build_world(scale, seed)
    bm = benchmarks()
    base = _baseline_metrics(w)
    rows = (_state_total_rows(w, bm, scale) + _composition_rows(w, bm) + _size_rows(w, bm)
            + _segregation_rows(w, bm, base) + _spending_rows(w, bm) + _outcome_rows(bm, base))
    return pd.DataFrame(rows)
