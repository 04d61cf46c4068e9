"""The baseline United States: states and real districts from shipped data, schools synthesised.

State figures come from `data/states.csv`, the districts are the real ones of
`data/districts.parquet` (NCES LEA id, name, enrollment by race, schools, spending, segregation,
discipline, AP, poverty; sources and fill rules in `data/SOURCES.md`). Schools are synthesised
inside each district to its published school count, racial mix and within-district
dissimilarity. Schools are stored contiguously by district, so per-district sums are
`np.add.reduceat` over school arrays.

Everything here is built once per (scale, seed, parameters) and never mutated by a model run.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from . import params as _params
from .network import adjacency_matrix

GROUPS = ("white", "black", "hispanic", "other")
WHITE, BLACK, HISPANIC, OTHER = range(4)
# National shares, NCES Digest 2022 Table 216.30 (2021-22); used only where a state's are missing.
NATIONAL_RACE_SHARES = np.array([45.3, 14.9, 28.4, 11.4]) / 100
NATIONAL_SCHOOLS = 99_271  # CCD 2021-22 Table 3, operating public schools


def _data_path(name: str):
    return resources.files("equitysim").joinpath(f"data/{name}")


def load_states() -> pd.DataFrame:
    """The shipped per-state table, indexed by USPS code, with missing figures filled and flagged.

    Columns ending in `_estimated` say which cells were filled here rather than read from a
    published table (see data/SOURCES.md for how).
    """
    df = pd.read_csv(_data_path("states.csv"), dtype={"state": str}, keep_default_na=False,
                     na_values=[""])
    df = df.set_index("state")
    race_cols = ["pct_white", "pct_black", "pct_hispanic", "pct_asian", "pct_other"]
    race_missing = df[race_cols].isna().any(axis=1)
    # Every state's racial mix is an estimate (see SOURCES.md); these four use national shares.
    df["race_national_fallback"] = race_missing
    shares = np.empty((len(df), 4))
    shares[:] = NATIONAL_RACE_SHARES
    if (~race_missing).any():
        r = df.loc[~race_missing, race_cols].to_numpy(float)
        shares[~race_missing.to_numpy()] = np.c_[r[:, 0], r[:, 1], r[:, 2], r[:, 3] + r[:, 4]] / r.sum(1, keepdims=True)
    for g, name in enumerate(GROUPS):
        df[f"share_{name}"] = shares[:, g]

    # Schools: where a state's count is missing, estimate it from its districts and enrollment
    # (least squares on the states with published counts), scaled so that the national total
    # matches CCD's 99,271 exactly (largest-remainder rounding; flagged `schools_estimated`).
    sch_missing = df["schools"].isna()
    df["schools_estimated"] = sch_missing
    if sch_missing.any():
        df.loc[sch_missing, "schools"] = _estimate_schools(df, sch_missing.to_numpy())
    df["schools"] = df["schools"].astype(int)
    df["districts"] = df["districts"].astype(int)

    cats = tomllib.loads(_data_path("categories.toml").read_text())
    df["favorable"] = df.index.isin(cats["favorable"]["states"])
    df["demographic_pressure"] = df.index.isin(cats["demographic_pressure"]["states"])
    if "litigation_pending" in df:
        df["litigation_pending"] = df["litigation_pending"].fillna(0).astype(int).astype(bool)
    else:
        df["litigation_pending"] = False
    df["climate"] = _baseline_climate(df)
    return df


def _estimate_schools(df: pd.DataFrame, missing: np.ndarray) -> np.ndarray:
    """Estimated school counts for the `missing` rows (ESTIMATE; method in data/SOURCES.md).

    schools ~ a x districts + b x enrollment, fitted by least squares on the states with a
    published count, then scaled so that all states together have CCD's national total, rounded
    by largest remainder (so the total is exact) and kept at least one school per district.
    """
    known = df.loc[~missing]
    X = known[["districts", "enrollment"]].to_numpy(float)
    coef, *_ = np.linalg.lstsq(X, known["schools"].to_numpy(float), rcond=None)
    guess = np.maximum(df.loc[missing, ["districts", "enrollment"]].to_numpy(float) @ coef, 1)
    target = NATIONAL_SCHOOLS - int(known["schools"].sum())
    guess *= target / guess.sum()
    out = np.floor(guess).astype(int)
    out[np.argsort(-(guess - out))[: target - out.sum()]] += 1
    # A state never has fewer schools than districts (each district runs at least one).
    return np.maximum(out, df.loc[missing, "districts"].to_numpy(int))


def _baseline_climate(df: pd.DataFrame) -> np.ndarray:
    """Political climate for equity reform, 0-1, from partisan control where the data give it.

    Without partisan data every state starts at 0.5; the roadmap's favorable states at 0.75 and
    demographic-pressure states at 0.45 (assumption, stated in docs/model.md).
    """
    climate = np.full(len(df), 0.5)
    gov = df["governor_party_2025"] if "governor_party_2025" in df else pd.Series(index=df.index, dtype=object)
    leg_col = "legislature_control_2025_model"
    leg = df[leg_col] if leg_col in df else pd.Series(index=df.index, dtype=object)
    score = {"D": 1.0, "R": 0.0}
    g = gov.map(score).to_numpy(float)
    lg = leg.map(score).to_numpy(float)
    have = ~np.isnan(g)
    party = np.where(np.isnan(lg), g, (g + np.nan_to_num(lg, nan=0.5)) / 2)
    climate[have] = 0.3 + 0.4 * party[have]
    climate[df["favorable"].to_numpy()] = np.maximum(climate[df["favorable"].to_numpy()], 0.75)
    climate[df["demographic_pressure"].to_numpy()] = np.clip(climate[df["demographic_pressure"].to_numpy()], 0.35, 0.5)
    return climate


@dataclass(frozen=True)
class World:
    """The baseline, as arrays. Schools are sorted by district; districts by state."""

    scale: float
    seed: int
    states: pd.DataFrame
    adjacency: np.ndarray
    # districts
    d_state: np.ndarray
    d_region: np.ndarray
    d_first_school: np.ndarray
    d_nschools: np.ndarray
    d_enroll: np.ndarray
    d_share: np.ndarray          # (n_d, 4) racial mix
    d_spend_tilt: np.ndarray     # per-pupil spending relative to state mean, minus 1
    d_prereq: np.ndarray
    d_community: np.ndarray
    d_union: np.ndarray
    d_principal: np.ndarray
    d_lens: np.ndarray
    d_buy_in: np.ndarray
    # schools
    s_district: np.ndarray
    s_enroll: np.ndarray         # total students
    s_share: np.ndarray          # (n_s, 4) racial mix at baseline
    s_spend_dev: np.ndarray      # school spending relative to its district, minus 1
    s_texp_dev: np.ndarray       # years of teacher experience relative to the mean
    s_susp_noise: np.ndarray
    s_high_minority: np.ndarray  # top quartile of minority share (enrollment-weighted) at baseline
    s_low_minority: np.ndarray   # bottom quartile
    n_regions: int
    r_state: np.ndarray
    districts: pd.DataFrame = None             # the kept real districts' rows of data/districts.parquet
    d_dissimilarity_target: np.ndarray = None  # published within-district dissimilarity (0 for one school)
    d_dissimilarity_fit: np.ndarray = None     # the synthesised schools' dissimilarity
    r_name: np.ndarray = None                  # each region's place (CBSA or county) or group
    meta: dict = field(default_factory=dict)

    @property
    def n_states(self) -> int:
        return len(self.states)

    @property
    def n_districts(self) -> int:
        return len(self.d_state)

    @property
    def n_schools(self) -> int:
        return len(self.s_district)

    @cached_property
    def s_dev(self) -> np.ndarray:
        """(n_schools, 4) each school's racial mix minus its district's (rows sum to 0)."""
        return self.s_share - self.d_share[self.s_district]

    @cached_property
    def s_enroll_by_group(self) -> np.ndarray:
        """(n_schools, 4) baseline students by group."""
        return self.s_share * self.s_enroll[:, None]

    @cached_property
    def d_highest_need_fifth(self) -> np.ndarray:
        """Districts in their state's highest-need fifth of students (adequacy.highest_need_fifth)."""
        from .adequacy import highest_need_fifth
        return highest_need_fifth(self)

    @cached_property
    def d_mixed_region(self) -> np.ndarray:
        """Districts with another district in their region to pair with (interdistrict programs
        join a city district and its suburbs, whatever the city district's own mix)."""
        return np.bincount(self.d_region, minlength=self.n_regions)[self.d_region] >= 2

    @cached_property
    def d_diverse(self) -> np.ndarray:
        """Districts where integration is possible: two or more schools and a mixed enrollment."""
        m = self.d_share[:, BLACK] + self.d_share[:, HISPANIC]
        return (self.d_nschools >= 2) & (m >= 0.2) & (m <= 0.8)


def build_world(scale: float = 1.0, seed: int = 2027, overrides: dict | None = None) -> World:
    """The real districts (data/districts.parquet) and their synthesised schools.

    `scale` < 1 keeps a proportional subsample of real districts, stratified by state and size
    (at least one per state); `scale` > 1 repeats districts the same way. District figures stay
    the real ones, so the world's totals are about `scale` times the real totals.
    """
    return _build_world(float(scale), int(seed), tuple(sorted((overrides or {}).items())))


@lru_cache(maxsize=1)
def load_districts() -> pd.DataFrame:
    """The shipped table of real districts (one row each, ordered by state as in states.csv,
    then NCES LEA id); sources and fill rules in data/SOURCES.md, built by
    data_build/build_districts.py. `*_filled` columns flag values filled by a documented rule."""
    return pd.read_parquet(_data_path("districts.parquet"))


def _sample_districts(rng, d_state_all: np.ndarray, enroll: np.ndarray, n_st: int, scale: float) -> np.ndarray:
    """Indices of the districts kept at `scale`: per state, systematic sampling along the
    districts ordered by enrollment (a random start), so every state and size class keeps its
    proportion (at least one district per state); at scale 1 every district once. Returned in
    table order."""
    if scale == 1.0:
        return np.arange(d_state_all.size)
    n_s = np.bincount(d_state_all, minlength=n_st)
    k_s = np.maximum(1, np.round(n_s * scale)).astype(int)
    u = rng.random(n_st)
    order = np.lexsort((enroll, d_state_all))     # by state, then enrollment
    starts = np.r_[0, np.cumsum(n_s)[:-1]]
    st_of_pick = np.repeat(np.arange(n_st), k_s)
    i = np.arange(k_s.sum()) - np.repeat(np.cumsum(k_s) - k_s, k_s)
    rank = np.floor((i + u[st_of_pick]) * n_s[st_of_pick] / k_s[st_of_pick]).astype(int)
    return np.sort(order[starts[st_of_pick] + np.minimum(rank, n_s[st_of_pick] - 1)])


def _line_pattern(d_share: np.ndarray, s_enroll: np.ndarray, d_first: np.ndarray, s_district: np.ndarray) -> np.ndarray:
    """The most segregated mix a district's schools can hold with these sizes: its students
    lined up White, other, Hispanic, Black and cut into its schools in order. (n_s, 4) shares;
    district totals are preserved exactly."""
    e_d = np.add.reduceat(s_enroll, d_first)
    before = np.r_[0.0, np.cumsum(e_d)[:-1]]
    c1 = (np.cumsum(s_enroll) - before[s_district]) / e_d[s_district]
    c0 = c1 - s_enroll / e_d[s_district]
    order = (WHITE, OTHER, HISPANIC, BLACK)
    G = np.cumsum(np.c_[np.zeros(len(d_share)), d_share[:, order]], 1)[s_district]
    out = np.empty((s_enroll.size, 4))
    for j, g in enumerate(order):
        out[:, g] = np.clip(np.minimum(c1, G[:, j + 1]) - np.maximum(c0, G[:, j]), 0, None)
    return out / out.sum(1, keepdims=True)


def _dissimilarity(share: np.ndarray, s_enroll: np.ndarray, d_first: np.ndarray, s_district: np.ndarray) -> np.ndarray:
    """Per district: White vs Black+Hispanic dissimilarity between its schools (0 where a group is absent)."""
    w0 = share[:, WHITE] * s_enroll
    m0 = (share[:, BLACK] + share[:, HISPANIC]) * s_enroll
    W, M = np.add.reduceat(w0, d_first), np.add.reduceat(m0, d_first)
    ok = (W > 0) & (M > 0)
    fa = np.divide(w0, W[s_district], out=np.zeros_like(w0), where=ok[s_district])
    fb = np.divide(m0, M[s_district], out=np.zeros_like(m0), where=ok[s_district])
    return 0.5 * np.add.reduceat(np.abs(fa - fb), d_first)


def _school_mix(d_share, target, s_enroll, d_first, s_district):
    """School racial mixes that add up to their district's and whose White vs Black+Hispanic
    dissimilarity is the district's published one: each school's mix is the district's moved a
    share lam_d of the way to the most segregated pattern (`_line_pattern`). Dissimilarity is
    linear in lam_d (every school's deviation from the district mix scales with it), so
    lam_d = target / D(pattern), capped at 1 where the pattern cannot reach the target.
    Returns (shares, achieved dissimilarity)."""
    pat = _line_pattern(d_share, s_enroll, d_first, s_district)
    d_max = _dissimilarity(pat, s_enroll, d_first, s_district)
    lam = np.clip(np.divide(target, d_max, out=np.zeros_like(d_max), where=d_max > 1e-12), 0, 1)
    L = lam[s_district, None]
    share = (1 - L) * d_share[s_district] + L * pat
    return share, lam * d_max


def _teacher_experience(rng, p, s_share, s_enroll):
    """Teacher experience relative to the mean (years): less in high-minority schools, the gap
    between the bottom and top minority quartiles `teacher_experience_gap` years on average.
    Returns (deviation, low-minority quartile flags, high-minority quartile flags)."""
    s_min = s_share[:, BLACK] + s_share[:, HISPANIC]
    q25, q75 = _weighted_quantiles(s_min, s_enroll, [0.25, 0.75])
    low_q, high_q = s_min <= q25, s_min >= q75
    texp = -(s_min - np.average(s_min, weights=s_enroll)) + rng.normal(0, 0.1, s_min.size)
    gap = np.average(texp[low_q], weights=s_enroll[low_q]) - np.average(texp[high_q], weights=s_enroll[high_q])
    return texp / gap * p["teacher_experience_gap"], low_q, high_q


def _regions(rng, p, n_d_s: np.ndarray, d_state: np.ndarray, dist: pd.DataFrame, codes):
    """Regions as real places: the districts of a state in the same CBSA (metropolitan or
    micropolitan area), or in the same county outside any CBSA, from each district's county
    (data/districts.parquet `region_key`; sources in data/SOURCES.md). Districts without a known
    county (no public high school in the Social Capital Atlas; `region_filled`) are grouped at
    random within their state in groups of about `region_size`. Regions are numbered by state.
    Returns (region of each district, regions per state, region names)."""
    n_d = d_state.size
    key = dist["region_key"].to_numpy(object).copy()
    name = dist["region_name"].to_numpy(object).copy()
    miss = key == ""
    if miss.any():
        size = max(1, int(round(p["region_size"])))
        n_m_s = np.bincount(d_state[miss], minlength=len(n_d_s))
        n_r_s = np.maximum(1, np.round(n_m_s / size)).astype(int)
        idx = np.flatnonzero(miss)
        o = np.lexsort((rng.permutation(idx.size), d_state[idx]))   # a random order within each state
        rank = np.empty(idx.size, int)
        st_m = d_state[idx]
        starts = np.r_[0, np.cumsum(n_m_s)[:-1]]
        rank[o] = np.arange(idx.size) - starts[st_m[o]]
        grp = rank % n_r_s[st_m]
        key[idx] = [f"{codes[s]}:group:{g}" for s, g in zip(st_m, grp)]
        name[idx] = [f"{codes[s]} districts without a known county, group {g + 1}" for s, g in zip(st_m, grp)]
    # number the regions by state, then key
    frame = pd.DataFrame({"s": d_state, "k": key})
    uniq = frame.drop_duplicates().sort_values(["s", "k"]).reset_index(drop=True)
    lookup = pd.Series(np.arange(len(uniq)), index=pd.MultiIndex.from_frame(uniq))
    d_region = lookup.reindex(pd.MultiIndex.from_frame(frame)).to_numpy().astype(int)
    r_name = np.empty(len(uniq), object)
    r_name[d_region] = name
    return d_region, np.bincount(uniq["s"].to_numpy(), minlength=len(n_d_s)), r_name


@lru_cache(maxsize=8)
def _build_world(scale: float, seed: int, overrides: tuple) -> World:
    p = _params.resolve(dict(overrides))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xC0DE,)))
    st = load_states()
    n_st = len(st)
    table = load_districts()
    d_state_all = st.index.get_indexer(table["state"])
    keep = _sample_districts(rng, d_state_all, table["enrollment"].to_numpy(float), n_st, scale)
    dist = table.iloc[keep].reset_index(drop=True)
    d_state = d_state_all[keep]
    n_d = d_state.size
    n_d_s = np.bincount(d_state, minlength=n_st)
    d_enroll = dist["enrollment"].to_numpy(float)
    d_share = dist[[f"share_{g}" for g in GROUPS]].to_numpy(float)
    d_ns = dist["schools"].to_numpy(int)
    d_first = np.r_[0, np.cumsum(d_ns)[:-1]]
    s_district = np.repeat(np.arange(n_d), d_ns)

    # Schools: sizes drawn around the district mean, mixes fitted to the published dissimilarity.
    sw = rng.gamma(4.0, size=s_district.size)
    s_enroll = sw / np.add.reduceat(sw, d_first)[s_district] * d_enroll[s_district]
    target = np.where(d_ns >= 2, dist["dissimilarity"].to_numpy(float), 0.0)
    s_share, d_dis = _school_mix(d_share, target, s_enroll, d_first, s_district)

    # Spending: each district's published per-pupil spending relative to its state's
    # enrollment-weighted mean over the kept districts, so each state's mean is its published figure.
    pp = dist["spend_per_pupil"].to_numpy(float)
    st_mean = np.bincount(d_state, weights=d_enroll * pp, minlength=n_st) / np.maximum(
        np.bincount(d_state, weights=d_enroll, minlength=n_st), 1e-300)
    d_spend_tilt = pp / st_mean[d_state] - 1
    s_spend_dev = rng.normal(0, 0.05, s_district.size)
    s_spend_dev -= (np.add.reduceat(s_spend_dev * s_enroll, d_first) / np.add.reduceat(s_enroll, d_first))[s_district]
    s_texp_dev, low_q, high_q = _teacher_experience(rng, p, s_share, s_enroll)

    # District capacity and the guide's prerequisites and eligibility conditions.
    d_prereq = rng.random(n_d) < p["district_prerequisites_share"]
    d_community = rng.random(n_d) < 0.5
    d_union = rng.random(n_d) < p["union_cooperation_share"]
    d_principal = rng.random(n_d) < 0.5
    d_lens = rng.random(n_d) < p["equity_as_lens_share"]
    d_buy_in = rng.beta(4, 4, n_d)
    d_region, n_r_s, r_name = _regions(rng, p, n_d_s, d_state, dist, list(st.index))
    # School suspension noise: lognormal around 1. The districts' published 2020-21 rates are
    # kept in `districts` for reports but not used here: that year many states taught remotely
    # (CA's rates were near 0), so its between-district pattern is not a baseline one.
    s_susp = np.exp(rng.normal(0, 0.3, s_district.size))

    return World(
        scale=scale, seed=seed, states=st, adjacency=adjacency_matrix(st),
        d_state=d_state, d_region=d_region, d_first_school=d_first, d_nschools=d_ns,
        d_enroll=d_enroll, d_share=d_share, d_spend_tilt=d_spend_tilt, d_prereq=d_prereq,
        d_community=d_community, d_union=d_union, d_principal=d_principal, d_lens=d_lens,
        d_buy_in=d_buy_in, s_district=s_district, s_enroll=s_enroll, s_share=s_share,
        s_spend_dev=s_spend_dev, s_texp_dev=s_texp_dev, s_susp_noise=s_susp,
        s_high_minority=high_q, s_low_minority=low_q,
        n_regions=int(n_r_s.sum()), r_state=np.repeat(np.arange(n_st), n_r_s),
        districts=dist, d_dissimilarity_target=target, d_dissimilarity_fit=d_dis, r_name=r_name,
        meta={"source_year": "2022-23 (CCD enrollment; CRDC 2020-21, F-33 2020-21, SEDA 2021-22)",
              "params": dict(overrides)},
    )


def _weighted_quantiles(x: np.ndarray, w: np.ndarray, qs) -> list[float]:
    o = np.argsort(x)
    cw = np.cumsum(w[o])
    cw /= cw[-1]
    return [float(x[o][np.searchsorted(cw, q)]) for q in qs]
