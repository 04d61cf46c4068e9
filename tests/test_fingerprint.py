"""Behaviour pinned: the fingerprint of a few replications on a small world must not move.

The hashes below were computed with `python benchmarks/fingerprint.py --replications 4 --scale
0.05 --seed 1` for issue 17, the practitioner's cycle inside every district, brought onto the
world of real districts (diagnosis, design weights, the root cause of a gap found or missed,
feedback loop and staff turnover, reflection on the district's own outcome change, lens
transitions, burnout mitigations). Before that, on the world of real districts (issue 15: the
districts, their schools, their regions (CBSAs and counties) and the subsample of a 0.05 world
all changed on purpose; rebased on the enrollment response and costed-out adequacy of issue 18,
whose highest-need fifth is now ranked by the real districts' child poverty). Before that, after the behaviour change of issue 14 ("behaviour, not
targets": adoption from effort, capital and opposition), then again in session 4 for three fixes of it (district effort
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
    "roadmap": "f67d01aebd2fe1420910cbbe32a57b0266a39fa1a206fde695f46a469dfd6fac",
    "all_at_once": "efed62bef5c7cff5f9a73eaa803093c831a55f963b4efa33184b17d2b76499bb",
    "low_budget": "2b6309571cb22f86a1e3d5375ca8cdacd5f447820471f97d39af549b38b44a51",
    "no_action": "186e949da07ec118281f7126524966202d0bb939ee35d6421144d15565a442a3",
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
