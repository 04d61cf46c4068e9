"""Behaviour pinned: the fingerprint of a few replications on a small world must not move.

The hashes below were computed with `python benchmarks/fingerprint.py --replications 4 --scale
0.05 --seed 1` after the behaviour change of issue 14 ("behaviour, not targets": adoption from
effort, capital and opposition), then again in session 4 for three fixes of it (district effort
counted once, a hostile repeal and an appropriation cut as independent chances, an enacted policy no
longer feeding opposition as a campaign) and a backlash event recruiting organised opposition
(`backlash_opposition_gain`). Before it, the layout refactor of issue 13 had left the earlier
pins (computed on 9ba82f8) identical. A change that is meant to change behaviour updates them in
the same commit and says so; a refactor must not.

They hash floats at 10 significant digits (`rounded`), so a last-bit difference of a math
library does not move them while any change of a rule does.
"""

import pytest

from benchmarks.fingerprint import scenario_fingerprint
from equitysim import load_scenario

from .conftest import SCENARIOS

PINNED = {
    "roadmap": "71b2cc6331e4592ce77f8a76406f183ad282ea5a2cea3ac9dcc3bdce504bd2be",
    "all_at_once": "3af4a9bea7d2295a7626841bef0be3c111e997fac383be0973237bc402518e53",
    "low_budget": "0f78ad912b1b5764d34cbfe99eb6635b393c051e668f033de191f5ad7be8e05a",
    "no_action": "3b8b47c0948b995d3d5ca126318d5cd6fedeaae6dc5167e3d39b1808ae9df9e7",
}


def _spec(name, **params):
    spec = load_scenario(SCENARIOS / f"{name}.toml").model_copy(update={"scale": 0.05})
    return spec.with_parameters(**params) if params else spec


@pytest.mark.parametrize("name", sorted(PINNED))
def test_fingerprint_is_unchanged(name):
    assert scenario_fingerprint(_spec(name), 4, seed=1)["rounded"] == PINNED[name], (
        f"{name}: behaviour changed on the 0.05 world; if that is intended, update PINNED with "
        f"`python benchmarks/fingerprint.py --replications 4 --scale 0.05 --seed 1 --json` and say why")


def test_fingerprint_moves_with_any_parameter():
    """The fingerprint sees a change of one structural constant (so it can fail)."""
    moved = scenario_fingerprint(_spec("roadmap", climate_shock_decay=0.9), 4, seed=1)["rounded"]
    assert moved != PINNED["roadmap"]


def test_fingerprint_is_the_same_on_two_workers():
    assert scenario_fingerprint(_spec("roadmap"), 4, seed=1, jobs=2)["exact"] == \
        scenario_fingerprint(_spec("roadmap"), 4, seed=1, jobs=1)["exact"]
