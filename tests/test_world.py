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


def test_full_scale_matches_state_totals_exactly(full):
    st = full.states
    n = full.n_states
    enr = np.bincount(full.d_state, weights=full.d_enroll, minlength=n)
    np.testing.assert_allclose(enr, st["enrollment"].to_numpy(), rtol=1e-9)
    np.testing.assert_array_equal(np.bincount(full.d_state, minlength=n), st["districts"].to_numpy())
    np.testing.assert_array_equal(np.bincount(full.d_state, weights=full.d_nschools, minlength=n).astype(int),
                                  st["schools"].to_numpy())
    assert full.n_districts == st["districts"].sum()
    # Schools add up to their district; racial mix adds up to the state's.
    np.testing.assert_allclose(np.add.reduceat(full.s_enroll, full.d_first_school), full.d_enroll, rtol=1e-9)
    by_group = np.stack([np.bincount(full.d_state, weights=full.d_enroll * full.d_share[:, g], minlength=n)
                         for g in range(4)], 1) / enr[:, None]
    np.testing.assert_allclose(by_group, st[[f"share_{g}" for g in GROUPS]].to_numpy(), atol=1e-6)


def test_spending_mean_equals_published_figure(full):
    tot = np.bincount(full.d_state, weights=full.d_enroll)
    mean_ratio = np.bincount(full.d_state, weights=full.d_enroll * (1 + full.d_spend_tilt)) / tot
    np.testing.assert_allclose(mean_ratio, 1.0, atol=1e-9)


def test_plausible_national_distributions(full):
    from equitysim.baseline import world_summary
    s = world_summary(1.0)
    # SEDA 2021-22: median 0.15 over districts with several schools per grade (see calibration)
    assert 0.1 <= s["dissimilarity_median"] <= 0.3
    small = (full.d_enroll < 1000).mean()
    assert 0.42 <= small <= 0.52  # Digest 214.20: 47% of regular districts enrol < 1,000


def test_same_seed_same_world_and_scale():
    a, b = build_world(0.1, seed=5), build_world(0.1, seed=5)
    np.testing.assert_array_equal(a.s_share, b.s_share)
    c = build_world(0.1, seed=6)
    assert not np.array_equal(a.s_share, c.s_share)
    assert a.n_districts == pytest.approx(13_373 * 0.1, rel=0.05)
    assert abs(a.d_enroll.sum() - 49_452_864 * 0.1) < 1


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
