import numpy as np
import pytest

from equitysim.world import GROUPS, build_world, load_states


@pytest.fixture(scope="module")
def full():
    return build_world(1.0)


def test_state_table_is_complete():
    st = load_states()
    assert len(st) == 51
    assert st["enrollment"].sum() == 49_452_864  # NCES Digest 203.20 fall 2021 US total
    shares = st[[f"share_{g}" for g in GROUPS]].to_numpy()
    np.testing.assert_allclose(shares.sum(1), 1.0, atol=1e-9)


def test_full_scale_is_the_real_district_table(full):
    from equitysim.world import load_districts
    tab = load_districts()
    n = full.n_states
    # Every real district once, in table order, with its published enrollment, mix and schools.
    assert full.n_districts == len(tab) == tab["leaid"].nunique() > 13_000
    np.testing.assert_array_equal(full.districts["leaid"].to_numpy(), tab["leaid"].to_numpy())
    np.testing.assert_allclose(full.d_enroll, tab["enrollment"].to_numpy(float))
    np.testing.assert_array_equal(full.d_nschools, tab["schools"].to_numpy())
    np.testing.assert_allclose(full.d_share, tab[[f"share_{g}" for g in GROUPS]].to_numpy(), atol=1e-12)
    assert (full.states.index[full.d_state] == tab["state"].to_numpy()).all()
    assert (np.diff(full.d_state) >= 0).all() and (np.bincount(full.d_state, minlength=n) >= 1).all()
    # Schools add up to their district: students and students by group.
    np.testing.assert_allclose(np.add.reduceat(full.s_enroll, full.d_first_school), full.d_enroll, rtol=1e-9)
    by_group = np.add.reduceat(full.s_enroll_by_group, full.d_first_school)
    np.testing.assert_allclose(by_group, full.d_share * full.d_enroll[:, None], rtol=1e-7, atol=1e-6)
    assert (full.s_share >= -1e-12).all()
    np.testing.assert_allclose(full.s_share.sum(1), 1, atol=1e-9)


def test_flags_mark_every_filled_value():
    from equitysim.world import load_districts
    tab = load_districts()
    for col in ("schools", "spend", "dissimilarity", "race", "child_poverty", "susp_black", "ap_black"):
        assert tab[f"{col}_filled"].dtype == bool
    # The published columns have no gaps left: every gap was filled, and flagged.
    value_cols = [c for c in tab if not c.endswith(("_filled", "_winsorised")) and c not in ("leaid", "name", "state")]
    assert not tab[value_cols].isna().any().any()
    assert (tab.loc[tab.schools_filled, "schools"] >= 1).all()
    assert tab.loc[tab.leaid == "3620580", "enrollment_filled"].all()  # New York City: state residual
    assert tab.dissimilarity_filled.sum() < 0.03 * len(tab)


def test_schools_reproduce_published_dissimilarity(full):
    from equitysim.baseline import _district_dissimilarity, dissimilarity_fit
    d = _district_dissimilarity(full)
    np.testing.assert_allclose(d, full.d_dissimilarity_fit, atol=1e-9)
    fit = dissimilarity_fit(full)
    assert fit["districts"] > 10_000
    assert fit["median_abs_error"] < 1e-6 and fit["share_within_0_01"] > 0.99
    # A district's schools differ only if the published index says so.
    one = full.d_nschools == 1
    assert (d[one] == 0).all()


def test_spending_mean_equals_published_figure(full):
    tot = np.bincount(full.d_state, weights=full.d_enroll)
    mean_ratio = np.bincount(full.d_state, weights=full.d_enroll * (1 + full.d_spend_tilt)) / tot
    np.testing.assert_allclose(mean_ratio, 1.0, atol=1e-9)
    # and districts keep their published ratio to each other within a state
    tab = full.districts
    ca = (tab.state == "CA").to_numpy()
    r = (1 + full.d_spend_tilt[ca]) / tab.spend_per_pupil.to_numpy()[ca]
    np.testing.assert_allclose(r, r[0], rtol=1e-9)


def test_plausible_national_distributions(full):
    from equitysim.baseline import world_summary
    s = world_summary(1.0)
    # SEDA 2021-22: median 0.152 over districts with a positive index (see calibration)
    assert 0.13 <= s["dissimilarity_median"] <= 0.17
    small = (full.d_enroll < 1000).mean()
    assert 0.42 <= small <= 0.52  # Digest 214.20: 47% of regular districts enrol < 1,000


@pytest.mark.parametrize("scale", [0.05, 0.1, 0.25])
def test_scale_is_a_stratified_subsample_of_real_districts(full, scale):
    w = build_world(scale, seed=5)
    n_s_full = np.bincount(full.d_state, minlength=51)
    n_s = np.bincount(w.d_state, minlength=51)
    np.testing.assert_array_equal(n_s, np.maximum(1, np.round(n_s_full * scale)))
    assert w.districts["leaid"].is_unique
    assert set(w.districts["leaid"]) <= set(full.districts["leaid"])
    # Size classes keep their proportions (systematic sampling along size within each state).
    edges = [0, 300, 1000, 2500, 10000, np.inf]
    share_full = np.histogram(full.d_enroll, edges)[0] / full.n_districts
    share = np.histogram(w.d_enroll, edges)[0] / w.n_districts
    assert np.abs(share - share_full).max() < 0.03
    assert w.d_enroll.sum() == pytest.approx(full.d_enroll.sum() * scale, rel=0.25)


def test_same_seed_same_world_and_scale():
    a, b = build_world(0.1, seed=5), build_world(0.1, seed=5)
    np.testing.assert_array_equal(a.s_share, b.s_share)
    c = build_world(0.1, seed=6)
    assert not np.array_equal(a.s_share, c.s_share)
    assert a.n_districts == pytest.approx(13_054 * 0.1, rel=0.05)


def test_network_levels_and_borders():
    from equitysim.network import build_network, peers, state_border_graph
    w = build_world(0.05)
    g = build_network(w)
    kinds = {}
    for _, k in g.nodes(data="kind"):
        kinds[k] = kinds.get(k, 0) + 1
    assert kinds["federal"] == 1 and kinds["state"] == 51 and kinds["coalition"] == 52
    assert kinds["district"] == w.n_districts and kinds["school"] == w.n_schools
    # Every school is governed by exactly one district, every district by one state.
    assert all(g.in_degree(f"school:{j}") == 1 for j in range(0, w.n_schools, 97))
    b = state_border_graph(w.states)
    assert set(b["CA"]) == {"OR", "NV", "AZ"} and b.degree("AK") == 0 and b.degree("HI") == 0
    assert (w.adjacency == w.adjacency.T).all() and w.adjacency.sum() == 2 * b.number_of_edges()
    p = peers(g, 0)
    assert all(w.d_region[int(x.split(":")[1])] == w.d_region[0] for x in p)


def test_regions_are_real_places(full):
    tab = full.districts
    known = ~tab.region_filled.to_numpy()
    assert known.mean() > 0.7 and full.d_enroll[known].sum() > 0.9 * full.d_enroll.sum()
    # every region lies in one state, and districts of one CBSA within a state share a region
    assert (full.r_state[full.d_region] == full.d_state).all()
    keyed = tab[known].assign(region=full.d_region[known])
    assert (keyed.groupby("region_key").region.nunique() == 1).all()
    assert (keyed.groupby("region").region_key.nunique() == 1).all()
    la = full.d_region[(tab.leaid == "0622710").to_numpy()][0]
    assert full.r_name[la].startswith("Los Angeles-Long Beach-Anaheim, CA")
    lb = full.d_region[(tab.leaid == "0622500").to_numpy()][0]   # Long Beach Unified: the same metro
    assert la == lb
    # New York-Newark-Jersey City is split by the state line
    ny = set(tab.loc[tab.cbsa == "35620", "state"])
    assert ny >= {"NY", "NJ"} and len(set(full.d_region[(tab.cbsa == "35620").to_numpy()])) == len(ny)
