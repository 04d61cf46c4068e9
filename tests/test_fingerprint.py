"""Behaviour pinned: the fingerprint of a few replications on a small world must not move.

The hashes below were computed with `python benchmarks/fingerprint.py --replications 4 --scale
0.05 --seed 1` on the world of real districts (issue 15: the districts, their schools, their regions
(CBSAs and counties) and the subsample of a 0.05 world all changed on purpose). Before that, after the behaviour change of issue 14 ("behaviour, not targets": adoption from
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
    "roadmap": "59f836ce0c956379791c59cede7ec8bd5b1da801aa0c496f15501acf7864270e",
    "all_at_once": "7dbe27509d15da02d0ceec11a362db4f8834d34a49e951837fe433ccc10a430b",
    "low_budget": "e7c44ef010891ad1977dff9daec91511cfb5c60659f4cf21653064355f59f8a7",
    "no_action": "764b1bb4f7a02af1eaf9518814edba059ff1cead7bc11fe6a35f4055344f0f5d",
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
