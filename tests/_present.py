"""Small result sets shared by the presentation tests (built once per test process)."""

from functools import cache

from equitysim import load_scenario
from equitysim.ensemble import run

from .conftest import SCENARIOS

SCALE = 0.05
REPS = 8


@cache
def result_set():
    """roadmap and funding_first at scale 0.05, 8 replications, seed 5, with trajectories and
    per-state records."""
    out = {}
    for name in ("roadmap", "funding_first"):
        spec = load_scenario(SCENARIOS / f"{name}.toml").model_copy(update={"scale": SCALE})
        out[name] = run(spec, REPS, seed=5, trajectories=True, states=True)
    return out
