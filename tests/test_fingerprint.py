"""Behaviour pinned: the fingerprint of a few replications on a small world must not move.

The hashes below were computed on the commit before the model core was split into
`equitysim/mechanisms/` (9ba82f8) with `python benchmarks/fingerprint.py --replications 4
--scale 0.05 --seed 1`; the refactor left them identical (and the 50-replication full-scale
fingerprint of every shipped scenario, see docs/performance.md). A change that is meant to change
behaviour updates them in the same commit and says so; a refactor must not.

They hash floats at 10 significant digits (`rounded`), so a last-bit difference of a math
library does not move them while any change of a rule does.
"""

import pytest

from benchmarks.fingerprint import scenario_fingerprint
from equitysim import load_scenario

from .conftest import SCENARIOS

PINNED = {
    "roadmap": "b8d590e699dd41c9cab181089119b9314053431ad528169f0fc5b723a2f0e7f3",
    "all_at_once": "aba51ce62f3b66c9ce54b730e801ab4872412a9a2e22df905fe32a77c2978af6",
    "low_budget": "3a9d21025259c4a206bcf0e9f9e234ab3c4ecca05766e20eff21b1d49ca4e55f",
    "no_action": "88c7b21acf250ab106e181a357c26b5271a55bf9c9dff6bd463a45609a344d66",
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
