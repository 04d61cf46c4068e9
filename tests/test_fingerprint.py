"""Behaviour pinned: the fingerprint of a few replications on a small world must not move.

The hashes below were computed with `python benchmarks/fingerprint.py --replications 4 --scale
0.05 --seed 1` after the behaviour change of issue 14 ("behaviour, not targets": adoption from
effort, capital and opposition), then again in session 4 for three fixes of it (district effort
counted once, a hostile repeal and an appropriation cut as independent chances, an enacted policy no
longer feeding opposition as a campaign). Before it, the layout refactor of issue 13 had left the earlier
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
    "roadmap": "d6c0bb7ef94513e109479330dcf75d7bddff9770e28f900ab1959edd01e6072d",
    "all_at_once": "316515864fb0a58b34d1b4d51c0c81bdae3ebb1658830f34cb9baeadc5390141",
    "low_budget": "94d3e2228223a95b4766a111920f7fb4782cccf2c4366ed0dba9788ba2fe930b",
    "no_action": "e585ee976c63bc69a69e125f35e8bba97d5950749a7e843c5aaa0fb2f4a978f8",
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
