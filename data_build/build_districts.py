"""Build equitysim/data/districts.parquet: one row per real US school district (NCES LEA id, name,
state) with its enrollment by race, schools, spending, within-district dissimilarity, suspension and
AP rates by race and child poverty. Provenance only: nothing here runs when the model runs.

Inputs (all from the public GitHub repository skhaji/pracc_handoff, commit
fe1861976fbe9c598497f1668c829a3ad69a912d; the processing scripts that made them are in that
repository's scripts/ folder):

    data/processed/nces_data.csv          CCD 2022-23 enrollment by race (ELSI export), F-33 current
                                          expenditure per pupil 2020-21
    data/processed/crdc_data_21.csv       CRDC 2020-21: schools per district, AP and high-school
                                          enrollment by race, out-of-school suspension rates by race
                                          (students without disabilities; rates rounded to 0.01)
    data/processed/dissimilarity_22.csv   SEDA / Segregation Explorer 2021-22 within-district
                                          dissimilarity between schools (ds_wht_min: White vs
                                          Black + Hispanic + Native American students)
    data/processed/edge_data_2018_22.csv  NCES EDGE ACS 2018-22 school-district profiles: share of
                                          children in poverty (pct_poverty)

    data/raw/social_capital_atlas_2022/social_capital_high_school.csv
                                          Opportunity Insights Social Capital Atlas (Chetty et al.
                                          2022), high schools: NCES school id (its first 7 digits are
                                          the district's LEA id), county FIPS, students in grades 9-12

plus the Census Bureau's CBSA delineation (county -> metropolitan / micropolitan statistical area)
in NBER's `cbsa2fipsxw.csv` copy, from the public GitHub repository HimesGroup/BMIN503_Final_Project
at commit 9fa5c33196fccd5bd9b4135d4aeb535b3bf55393 (a 2015-vintage delineation; titles such as
"San Francisco-Oakland-Hayward, CA"), and equitysim/data/states.csv (USPS codes; the NY state total
used for New York City).

Run from the repository root:

    python data_build/build_districts.py [path/to/pracc_handoff/git-dir]

(default git dir: /work/.mirror/skhaji+pracc_handoff/repo; the files are read with `git show`).
Every gap is filled by the rule printed beside it and flagged in a boolean `<field>_filled`
column; data/SOURCES.md ("districts.parquet") documents the rules and the checks printed here.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

COMMIT = "fe1861976fbe9c598497f1668c829a3ad69a912d"
CBSA_GIT = "/work/.mirror/HimesGroup+BMIN503_Final_Project/repo"
CBSA_COMMIT = "9fa5c33196fccd5bd9b4135d4aeb535b3bf55393"
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "equitysim/data/districts.parquet"

FIPS = {"01": "AL", "02": "AK", "04": "AZ", "05": "AR", "06": "CA", "08": "CO", "09": "CT", "10": "DE",
        "11": "DC", "12": "FL", "13": "GA", "15": "HI", "16": "ID", "17": "IL", "18": "IN", "19": "IA",
        "20": "KS", "21": "KY", "22": "LA", "23": "ME", "24": "MD", "25": "MA", "26": "MI", "27": "MN",
        "28": "MS", "29": "MO", "30": "MT", "31": "NE", "32": "NV", "33": "NH", "34": "NJ", "35": "NM",
        "36": "NY", "37": "NC", "38": "ND", "39": "OH", "40": "OK", "41": "OR", "42": "PA", "44": "RI",
        "45": "SC", "46": "SD", "47": "TN", "48": "TX", "49": "UT", "50": "VT", "51": "VA", "53": "WA",
        "54": "WV", "55": "WI", "56": "WY"}
NYC = "3620580"
GROUPS = ("white", "black", "hispanic")
CRDC_GROUP = {"white": "white", "black": "black", "hispanic": "latinx"}


def read(git_dir: str, path: str, commit: str = COMMIT, dtype=None) -> pd.DataFrame:
    raw = subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:{path}"], check=True,
                         capture_output=True).stdout
    return pd.read_csv(io.BytesIO(raw), dtype=dtype or {"district_id": str, "state": str})


def regions(git_dir: str, leaid: pd.Series, state: pd.Series) -> pd.DataFrame:
    """Each district's county (the county of most of its grade 9-12 students in the Social Capital
    Atlas's public high schools) and that county's CBSA; the region key is the CBSA within the
    state (a metro split by a state line gives one region per state), else the county (counties
    outside any CBSA), else empty (districts without a high school in the atlas: `region_filled`)."""
    hs = read(git_dir, "data/raw/social_capital_atlas_2022/social_capital_high_school.csv",
              dtype={"high_school": str, "county": str, "zip": str})
    hs = hs[hs.high_school.str.len() == 12].copy()          # public schools: 12-digit NCES ids
    hs["leaid"] = hs.high_school.str[:7]
    hs["county"] = hs.county.str.zfill(5)
    hs["students_9_to_12"] = hs.students_9_to_12.fillna(0)
    by = hs.groupby(["leaid", "county"]).students_9_to_12.sum().reset_index()
    by = by.sort_values(["leaid", "students_9_to_12", "county"], ascending=[True, False, True])
    county = by.drop_duplicates("leaid").set_index("leaid").county
    cb = read(CBSA_GIT, "cbsa2fipsxw.csv", CBSA_COMMIT, dtype=str).dropna(subset=["fipsstatecode"])
    cb["county"] = cb.fipsstatecode.str.zfill(2) + cb.fipscountycode.str.zfill(3)
    cb = cb.drop_duplicates("county").set_index("county")
    c = leaid.map(county)
    code = c.map(cb.cbsacode)
    title = c.map(cb.cbsatitle)
    kind = c.map(cb.metropolitanmicropolitanstatis)
    key = np.where(code.notna(), state + ":cbsa:" + code.fillna(""),
                   np.where(c.notna(), state + ":county:" + c.fillna(""), ""))
    name = np.where(code.notna(), title.fillna("") + " (" + kind.fillna("").str.replace(" Statistical Area", "")
                    + ", " + state + " part)", np.where(c.notna(), "county " + c.fillna("") + " (outside any CBSA)", ""))
    return pd.DataFrame({"county_fips": c.fillna("").to_numpy(), "cbsa": code.fillna("").to_numpy(),
                         "region_key": key, "region_name": name, "region_filled": c.isna().to_numpy()})


def state_rate(df, num, den):
    """Per state: sum(num) / sum(den) over the rows where both are present (a Series by state)."""
    ok = df[num].notna() & df[den].notna() & (df[den] > 0)
    g = df[ok].groupby("state")
    return g[num].sum() / g[den].sum()


def main(git_dir: str) -> None:
    nces = read(git_dir, "data/processed/nces_data.csv")
    crdc = read(git_dir, "data/processed/crdc_data_21.csv").drop(columns="district")
    dis = read(git_dir, "data/processed/dissimilarity_22.csv")[["district_id", "ds_wht_min"]]
    edge = read(git_dir, "data/processed/edge_data_2018_22.csv")[["district_id", "pct_poverty"]]
    states = pd.read_csv(ROOT / "equitysim/data/states.csv", keep_default_na=False, na_values=[""]).set_index("state")
    x = nces.merge(crdc, on="district_id", how="left").merge(dis, on="district_id", how="left") \
            .merge(edge, on="district_id", how="left")
    x["state"] = x.district_id.str[:2].map(FIPS)
    print(f"{len(x)} EDGE districts; {x.state.isna().sum()} in territories (dropped)")
    x = x[x.state.notna()].copy()

    out = pd.DataFrame({"leaid": x.district_id, "name": x.district, "state": x.state})
    enroll = x.enroll_23.to_numpy(float).copy()
    # New York City (one LEA in this list; CCD reports its students under 32 geographic
    # sub-districts that the list omits): the state total minus NY's other districts.
    nyc = (x.district_id == NYC).to_numpy()
    ny_other = np.nansum(enroll[(x.state == "NY").to_numpy() & ~nyc])
    enroll[nyc] = states.loc["NY", "enrollment"] - ny_other
    out["enrollment_filled"] = nyc
    keep = np.nan_to_num(enroll) > 0
    print(f"dropped {int((~keep).sum())} districts with no 2022-23 enrollment (not operating / merged)")
    out["enrollment"] = enroll
    cnt = {"white": x.white_enroll_23, "black": x.black_enroll_23, "hispanic": x.latinx_enroll_23}
    other = x[["enroll_native_23", "aapi_enroll_23", "hawpi_enroll_23", "two_plus_race_enroll_23"]].sum(axis=1, min_count=1)
    race = np.stack([cnt["white"], cnt["black"], cnt["hispanic"], other], 1).astype(float)
    race_missing = np.isnan(race).any(1) | (np.nansum(race, 1) <= 0)
    # Missing race counts: the state's shares over its other districts (New York City: the
    # national shares of Digest 2022 Table 216.30, 2021-22, since NY's other districts are not
    # like the city).
    tot = np.nansum(race, 1, keepdims=True)
    share = np.divide(race, tot, out=np.zeros_like(race), where=tot > 0)
    df_sh = pd.DataFrame(race[~race_missing & keep], columns=list("WBHO"))
    df_sh["state"] = x.state.to_numpy()[~race_missing & keep]
    st_sh = df_sh.groupby("state").sum()
    st_sh = st_sh.div(st_sh.sum(axis=1), axis=0)
    fill = st_sh.reindex(x.state).to_numpy().copy()
    fill[nyc] = np.array([45.3, 14.9, 28.4, 11.4]) / 100
    share[race_missing] = fill[race_missing]
    for j, g in enumerate(("white", "black", "hispanic", "other")):
        out[f"share_{g}"] = share[:, j]
    out["race_filled"] = race_missing

    # Schools (CRDC 2020-21): missing -> enrollment / the state's median students per school, >= 1.
    sch = x.schools.to_numpy(float).copy()
    per = pd.Series(enroll / sch, index=x.index).where((sch > 0) & keep).groupby(x.state).median()
    est = np.maximum(1, np.round(enroll / per.reindex(x.state).to_numpy()))
    miss = ~(sch > 0)
    out["schools"] = np.where(miss, np.nan_to_num(est, nan=1), sch).astype(int)
    out["schools_filled"] = miss
    # A district never has more schools than students.
    out["schools"] = np.minimum(out["schools"], np.maximum(1, np.nan_to_num(enroll).astype(int)))

    # Spending per pupil (F-33 2020-21 current expenditure per pupil): missing -> the state's
    # median district; winsorised at the national 1st and 99th percentiles (flagged).
    pp = x.expend_per_pupil_21.to_numpy(float).copy()
    st_med = pd.Series(pp).where(keep).groupby(x.state.to_numpy()).median()
    miss = np.isnan(pp)
    pp = np.where(miss, st_med.reindex(x.state).to_numpy(), pp)
    lo, hi = np.nanpercentile(pp[keep], [1, 99])
    out["spend_winsorised"] = (pp < lo) | (pp > hi)
    out["spend_per_pupil"] = np.clip(pp, lo, hi)
    out["spend_filled"] = miss

    # Within-district dissimilarity (SEDA 2021-22, ds_wht_min). One school: 0 by definition.
    # Missing with two or more schools: the median published value of the state's districts in
    # the same school-count class (2-4, 5-19, 20+), else the national median of that class.
    D = x.ds_wht_min.to_numpy(float).copy()
    ns = out["schools"].to_numpy()
    cls = np.digitize(ns, [2, 5, 20])
    t = pd.DataFrame({"D": D, "state": x.state.to_numpy(), "cls": cls})[(~np.isnan(D)) & keep & (ns >= 2)]
    by_sc = t.groupby(["state", "cls"]).D.median()
    by_c = t.groupby("cls").D.median()
    miss = np.isnan(D)
    fillD = np.array([by_sc.get((s, c), by_c.get(c, 0.0)) if n >= 2 else 0.0
                      for s, c, n in zip(x.state, cls, ns)])
    out["dissimilarity"] = np.where(miss, fillD, D)
    out["dissimilarity_filled"] = miss

    # Suspension (CRDC 2020-21, students without disabilities receiving one or more OOS, share
    # of enrollment): a missing rate (group absent, suppressed, district not in CRDC) -> the
    # state's enrollment-weighted rate of that group.
    x["_n_all"] = enroll
    for g in GROUPS + ("all",):
        col = "pct_oos_d" if g == "all" else f"pct_{CRDC_GROUP[g]}_oos_d"
        n = x["_n_all"] if g == "all" else cnt[g]
        x["_susp_num"] = x[col] * n
        x["_susp_den"] = n
        sr = state_rate(x, "_susp_num", "_susp_den")
        r = x[col].to_numpy(float)
        miss = np.isnan(r)
        out[f"susp_{g}"] = np.where(miss, sr.reindex(x.state).to_numpy(), r)
        out[f"susp_{g}_filled"] = miss

    # AP (CRDC 2020-21): students in at least one AP course / students in the same high schools,
    # by group, and the counts behind them (so national rates are exact sums). No high school or
    # no students of the group -> the state's rate (flagged; counts 0).
    for g in GROUPS:
        c = CRDC_GROUP[g]
        num, den = x[f"d_ap_enroll_{c}"].to_numpy(float), x[f"d_hs_enroll_{c}"].to_numpy(float)
        out[f"hs_{g}"] = np.nan_to_num(den)
        out[f"ap_{g}_students"] = np.nan_to_num(num)
        sr = state_rate(x, f"d_ap_enroll_{c}", f"d_hs_enroll_{c}")
        ok = (den > 0) & ~np.isnan(num)
        out[f"ap_{g}"] = np.where(ok, np.divide(num, den, out=np.zeros_like(num), where=ok),
                                  sr.reindex(x.state).to_numpy())
        out[f"ap_{g}_filled"] = ~ok

    # Child poverty (ACS 2018-22 via EDGE; percent of children in poverty): missing -> the state's
    # enrollment-weighted mean.
    pov = x.pct_poverty.to_numpy(float).copy()
    x["_pov_num"], x["_pov_den"] = pov * enroll, np.where(np.isnan(pov), np.nan, enroll)
    sp = state_rate(x, "_pov_num", "_pov_den")
    miss = np.isnan(pov)
    out["child_poverty_pct"] = np.where(miss, sp.reindex(x.state).to_numpy(), pov)
    out["child_poverty_filled"] = miss

    out = pd.concat([out.reset_index(drop=True), regions(git_dir, x.district_id.reset_index(drop=True),
                                                         x.state.reset_index(drop=True))], axis=1)
    out = out[keep].reset_index(drop=True)
    order = pd.Categorical(out.state, categories=list(states.index), ordered=True)
    out = out.assign(_o=order).sort_values(["_o", "leaid"]).drop(columns="_o").reset_index(drop=True)
    flags = [c for c in out if c.endswith("_filled") or c.endswith("_winsorised")]
    out[flags] = out[flags].astype(bool)
    out["enrollment"] = out["enrollment"].round().astype(int)
    print(f"{len(out)} districts, {out.schools.sum():,} schools, {out.enrollment.sum():,} students")
    for f in flags:
        print(f"  {f}: {int(out[f].sum())}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    out.to_parquet(OUT, index=False, compression="zstd")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror/skhaji+pracc_handoff/repo")
