"""The baseline of one state or one real district: what `equitysim world --state/--district`
prints and what `report --state` puts on its page.

Districts are found by NCES LEA id (7 digits; 6 accepted for ids that lost their leading zero) or
by name (case-insensitive; "Name, ST" or "Name (ST)" picks the state when names repeat). Errors
are one line (PlaceError) naming what was asked and what would be accepted.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .world import BLACK, HISPANIC, WHITE, World

GROUPS3 = ("white", "black", "hispanic")


class PlaceError(ValueError):
    """An unknown or ambiguous state or district (message: one line)."""


def state_index(w: World, code: str) -> int:
    c = code.strip().upper()
    if c not in w.states.index:
        raise PlaceError(f"unknown state {code!r}: expected a USPS code of the 50 states or DC (e.g. CA, NY, DC)")
    return int(w.states.index.get_loc(c))


def find_districts(w: World, key: str | int) -> np.ndarray:
    """Indices (in the world) of the districts `key` names: an NCES id, or a name."""
    return _match(w.districts, w.states.index, key, f"in the world (scale {w.scale:g})")


def _match(dist: pd.DataFrame, codes, key, where_txt: str) -> np.ndarray:
    k = str(key).strip()
    if re.fullmatch(r"\d{6,7}", k):
        hit = np.flatnonzero(dist["leaid"].to_numpy() == k.zfill(7))
        if not hit.size:
            raise PlaceError(f"no district with NCES id {k!r} {where_txt}; "
                             f"expected a 7-digit NCES LEA id of a district with students in 2022-23")
        return hit[:1]
    name, st = k, None
    m = re.fullmatch(r"(.+?)\s*(?:,\s*|\()([A-Za-z]{2})\)?", k)
    if m and m.group(2).upper() in codes:
        name, st = m.group(1), m.group(2).upper()
    names = dist["name"].str.lower().to_numpy()
    ok = np.ones(len(dist), bool) if st is None else dist["state"].to_numpy() == st
    hit = np.flatnonzero(ok & (names == name.lower()))
    if not hit.size:
        hit = np.flatnonzero(ok & (np.char.find(names.astype(str), name.lower()) >= 0))
    if not hit.size:
        raise PlaceError(f"no district named {k!r} {where_txt}; expected a 7-digit NCES "
                         f"LEA id (e.g. 0100390) or a district name (e.g. 'Birmingham City School District')")
    return hit


def _one(dist: pd.DataFrame, hit: np.ndarray, key) -> int:
    if hit.size > 1:
        few = "; ".join(f"{dist.leaid.iloc[i]} {dist.name.iloc[i]} ({dist.state.iloc[i]})" for i in hit[:5])
        more = f" and {hit.size - 5} more" if hit.size > 5 else ""
        raise PlaceError(f"district {str(key)!r} matches {hit.size} districts: {few}{more}; "
                         f"give the NCES id or 'Name, ST'")
    return int(hit[0])


def district_leaid(key: str | int) -> str:
    """The NCES id of the one real district (of the full table) that `key` names (PlaceError if
    none or several): used to check scenario files' `where` lists."""
    from .world import load_districts, load_states

    tab = load_districts()
    return str(tab.leaid.iloc[_one(tab, _match(tab, load_states().index, key, "among the real districts"), key)])


def find_district(w: World, key: str | int) -> int:
    """The one district `key` names (PlaceError if none or several)."""
    return _one(w.districts, find_districts(w, key), key)


def _rates(dist: pd.DataFrame, kind: str) -> dict:
    out = {}
    for g in GROUPS3:
        if kind == "susp":
            n = dist["enrollment"].to_numpy(float) * dist[f"share_{g}"].to_numpy(float)
            out[g] = float(np.dot(n, dist[f"susp_{g}"]) / n.sum()) if n.sum() > 0 else None
        else:
            hs = float(dist[f"hs_{g}"].sum())
            out[g] = float(dist[f"ap_{g}_students"].sum() / hs) if hs > 0 else None
    return out


def _ratio(a, b):
    return float(a / b) if a is not None and b else None


def _synth_dissim(w: World) -> np.ndarray:
    from .baseline import _district_dissimilarity
    return _district_dissimilarity(w)


def state_baseline(w: World, code: str, top: int = 10) -> dict:
    """One state's baseline: its districts (real), schools, students, racial mix, spending,
    segregation, discipline, AP and poverty figures, its political starting point, and its
    largest districts."""
    s = state_index(w, code)
    st = w.states.iloc[s]
    m = w.d_state == s
    dist = w.districts[m]
    e = dist["enrollment"].to_numpy(float)
    sh = dist[[f"share_{g}" for g in ("white", "black", "hispanic", "other")]].to_numpy(float)
    D = _synth_dissim(w)[m]
    eg = w.s_enroll_by_group
    wt = np.bincount(w.s_district, weights=eg[:, WHITE] + eg[:, BLACK] + eg[:, HISPANIC], minlength=w.n_districts)[m]
    pp = float(st["per_pupil_current_expenditure"])
    susp, ap = _rates(dist, "susp"), _rates(dist, "ap")
    order = np.argsort(-e)[:top]
    idx = np.flatnonzero(m)
    return {
        "state": w.states.index[s], "name": str(st["name"]), "scale": w.scale,
        "districts": int(m.sum()), "schools": int(dist["schools"].sum()), "students": int(e.sum()),
        "students_states_csv": int(st["enrollment"]),
        "race_shares": {g: float(np.dot(e, sh[:, j]) / e.sum()) for j, g in enumerate(("white", "black", "hispanic", "other"))},
        "per_pupil_state": pp,
        "per_pupil_districts_p10_p90": [float(x) for x in np.quantile(pp * (1 + w.d_spend_tilt[m]), [0.1, 0.9])],
        "dissimilarity_within_weighted": float(np.dot(D, wt) / wt.sum()) if wt.sum() > 0 else 0.0,
        "diverse_districts": int(w.d_diverse[m].sum()),
        "suspension_rates_2020_21": susp,
        "suspension_ratio_black_white_2020_21": _ratio(susp["black"], susp["white"]),
        "ap_rates_2020_21": ap,
        "child_poverty_pct": float(np.dot(e, dist["child_poverty_pct"]) / e.sum()),
        "regions": int((w.r_state == s).sum()),
        "metro_regions": sorted({str(w.r_name[x]) for x in np.unique(w.d_region[m]) if "Metropolitan" in str(w.r_name[x])}),
        "climate": float(st["climate"]), "favorable": bool(st["favorable"]),
        "litigation_pending": bool(st["litigation_pending"]),
        "governor_party_2025": None if pd.isna(st.get("governor_party_2025")) else str(st.get("governor_party_2025")),
        "filled": {c.removesuffix("_filled"): int(dist[c].sum()) for c in dist if c.endswith("_filled")},
        "largest_districts": [{"leaid": dist["leaid"].iloc[i], "name": dist["name"].iloc[i],
                               "students": int(e[i]), "schools": int(dist["schools"].iloc[i]),
                               "dissimilarity": float(D[i]), "region": int(w.d_region[idx[i]]),
                               "region_name": str(w.r_name[w.d_region[idx[i]]])} for i in order],
    }


def district_baseline(w: World, key: str | int) -> dict:
    """One real district's baseline: published figures (with the fill flags) beside the
    synthesised schools' and the model's starting values."""
    i = find_district(w, key)
    r = w.districts.iloc[i]
    s = int(w.d_state[i])
    D = float(_synth_dissim(w)[i])
    pp_state = float(w.states["per_pupil_current_expenditure"].iloc[s])
    first, n = int(w.d_first_school[i]), int(w.d_nschools[i])
    s_min = w.s_share[first:first + n, BLACK] + w.s_share[first:first + n, HISPANIC]
    susp = {g: float(r[f"susp_{g}"]) for g in GROUPS3}
    ap = {g: float(r[f"ap_{g}"]) for g in GROUPS3}
    return {
        "leaid": r["leaid"], "name": r["name"], "state": r["state"], "scale": w.scale,
        "students": int(r["enrollment"]), "schools": n,
        "race_shares": {g: float(r[f"share_{g}"]) for g in ("white", "black", "hispanic", "other")},
        "spend_per_pupil_f33_2020_21": float(r["spend_per_pupil"]),
        "spend_per_pupil_model": pp_state * (1 + float(w.d_spend_tilt[i])),
        "dissimilarity_published": float(r["dissimilarity"]), "dissimilarity_schools": D,
        "school_minority_share_range": [float(s_min.min()), float(s_min.max())],
        "suspension_rates_2020_21": susp,
        "ap_rates_2020_21": ap,
        "child_poverty_pct": float(r["child_poverty_pct"]),
        "region": int(w.d_region[i]),
        "region_name": str(w.r_name[w.d_region[i]]),
        "county_fips": str(r["county_fips"]) or None,
        "region_districts": int((w.d_region == w.d_region[i]).sum()),
        "diverse": bool(w.d_diverse[i]),
        "filled": sorted(c.removesuffix("_filled") for c in w.districts if c.endswith("_filled") and bool(r[c])),
    }
