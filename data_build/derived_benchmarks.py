"""Recompute the COMPUTED rows of equitysim/data/national_benchmarks.csv that come from the
district files of GitHub skhaji/pracc_handoff (commit fe1861976fbe9c598497f1668c829a3ad69a912d):

    git show fe18619:data/processed/crdc_data_21.csv      > crdc_data_21.csv     (CRDC 2020-21 aggregates)
    git show fe18619:data/processed/dissimilarity_22.csv  > dissimilarity_22.csv (SEDA segregation, 2021-22)
    git show fe18619:data/processed/nces_data.csv         > nces_data.csv        (CCD 2022-23 districts)

    python data_build/derived_benchmarks.py crdc_data_21.csv dissimilarity_22.csv nces_data.csv

Prints: AP participation by race (ap_*_2020_21 rows), within-district dissimilarity
(seg_within_district_dissim_wmin_* rows, seg_share_districts_with_within_grade_choice_2022) and the
share of districts under 1,000 students in 2022-23 (share_districts_under_1000_2022_23).
"""
import sys

import numpy as np
import pandas as pd

crdc, dis, nces = (pd.read_csv(f, dtype={"district_id": str}) for f in sys.argv[1:4])

groups = {"white": "white", "black": "black", "hispanic": "latinx", "asian": "asian"}
ap = {g: crdc[f"d_ap_enroll_{c}"].sum() / crdc[f"d_hs_enroll_{c}"].sum() for g, c in groups.items()}
print("AP participation (share of high-school students in >=1 AP course):",
      {g: round(100 * v, 2) for g, v in ap.items()})
print("  Black/White", round(ap["black"] / ap["white"], 3), " Hispanic/White", round(ap["hispanic"] / ap["white"], 3))
print("  Black share of AP", round(100 * crdc.d_ap_enroll_black.sum() / crdc.d_ap_enroll.sum(), 1),
      "of high-school enrollment", round(100 * crdc.d_hs_enroll_black.sum() / crdc.d_hs_enroll.sum(), 1))

x = dis.merge(nces, on="district_id", how="left")
w = x.white_enroll_23 + x.black_enroll_23 + x.latinx_enroll_23
ok = x.ds_wht_min.notna() & w.notna()
pos = ok & (x.ds_wht_min > 0)
print("within-district dissimilarity (ds_wht_min): weighted mean", round(np.average(x.ds_wht_min[ok], weights=w[ok]), 3),
      "over", int(ok.sum()), "districts; median over D>0", round(x.ds_wht_min[pos].median(), 3),
      f"({int(pos.sum())} districts, {100 * pos.sum() / ok.sum():.1f}%)")
e = nces.enroll_23.dropna()
print("districts under 1,000 students (2022-23):", round(100 * (e < 1000).mean(), 1), "% of", len(e),
      "; median", e.median())
