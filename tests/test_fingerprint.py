"""Behaviour pinned: the fingerprint of a few replications on a small world must not move.

The hashes below were computed with `python benchmarks/fingerprint.py --replications 4 --scale
0.05 --seed 1` after the behaviour change of issue 14 ("behaviour, not targets": adoption from
effort, capital and opposition). Before it, the layout refactor of issue 13 had left the earlier
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
    "roadmap": "87597feebd2f1f6e46929c56aa6edb533f934d1b2353c3be571c389d4631093f",
    "all_at_once": "70e9e867e91eb5418ab6a9279e958342272b4247d07fb3f30637a444aeb5246c",
    "low_budget": "e302eebd290705715de105e2bea852eec38f4ed8c9f2e51018aa12421cf81b34",
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
