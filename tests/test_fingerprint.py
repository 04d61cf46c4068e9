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
    "roadmap": "642335549a464ed2fa32762751a8ecb881caa2096a6c9745dc2609f9042a86c2",
    "all_at_once": "b0f77e263eff3fcc78131e2496b7c5b943c04935ddbec78645ce245c516d0196",
    "low_budget": "e1d5598deb6d380ebed3d8ed3b7f9284116422a5ba73a1aea0b83395eba5cb21",
    "no_action": "27972b60359c2255f9f3a072dc3ab977edaf26f15f79c260b512ef487214eff6",
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
