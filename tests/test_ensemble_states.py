"""The per-state adoption record (`states=True`) behind the state map and diffusion network."""

import numpy as np
import pandas as pd
import pytest

from equitysim import load_scenario
from equitysim.ensemble import IN_FORCE, STATE_POLICIES, run, run_replication

from .conftest import SCENARIOS


@pytest.fixture(scope="module")
def spec():
    return load_scenario(SCENARIOS / "roadmap.toml").model_copy(update={"scale": 0.05})


@pytest.fixture(scope="module")
def pair(spec):
    return run(spec, 6, seed=9, states=True), run(spec, 6, seed=9)


def test_recording_states_changes_no_result(pair):
    with_states, without = pair
    pd.testing.assert_frame_equal(with_states.runs, without.runs)
    assert without.states is None


def test_states_frame_shape(pair, spec):
    st = pair[0].states
    assert list(st.columns[:3]) == ["key", "year", "policy"]
    assert len(st.columns) == 3 + 51
    assert len(st) == 6 * spec.years * len(STATE_POLICIES)
    assert set(np.unique(st.iloc[:, 3:].to_numpy())) <= {0, 1, 2}


def test_states_agree_with_the_indicator_counts(pair):
    """The map's numbers are the indicators' numbers: states with weighted funding in force at
    year 5 and states that ever had a funding bill by year 2, per replication."""
    r = pair[0]
    st, runs = r.states, r.runs.set_index("key")
    codes = st.columns[3:]
    y5 = st[(st.year == 5) & (st.policy == "weighted_funding")].set_index("key")
    assert ((y5[codes] == IN_FORCE).sum(axis=1) == runs["value.funding_reform_10_states"]).all()
    y2 = st[(st.year == 2) & (st.policy == "funding_bill")].set_index("key")
    assert ((y2[codes] >= 1).sum(axis=1) == runs["value.funding_bills_15_states"]).all()


def test_share_and_first_enacted(pair):
    r = pair[0]
    last = int(r.states.year.max())
    ever = r.state_share("weighted_funding", last, ever=True)
    first = r.first_enacted("weighted_funding")
    assert len(first) == 6 and list(first.columns) == list(ever.index)
    np.testing.assert_allclose(first.notna().mean().to_numpy(), ever.to_numpy())
    in_force = r.state_share("weighted_funding", last)
    assert (in_force <= ever + 1e-12).all()
    assert first.min().min() >= 1 and first.max().max() <= last


def test_same_states_whatever_the_number_of_workers(spec):
    one = run(spec, 4, seed=2, states=True, jobs=1)
    two = run(spec, 4, seed=2, states=True, jobs=2, chunk_size=1)
    pd.testing.assert_frame_equal(one.states, two.states)


def test_chosen_policies_and_unknown_policy(spec):
    rec = run_replication(spec, 1, 0, states=["comparability"])
    assert rec["states"].shape == (spec.years, 1, 51) and rec["state_policies"] == ("comparability",)
    with pytest.raises(ValueError, match="unknown state policies"):
        run_replication(spec, 1, 0, states=["no_such_policy"])
    with pytest.raises(ValueError, match="states=True"):
        run(spec, 1, seed=1).state_share("weighted_funding", 5)
