import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# In CI a missing test dependency fails the test instead of skipping it (what CI installs it tests).
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="session")
def roadmap():
    from equitysim import load_scenario
    return load_scenario(SCENARIOS / "roadmap.toml")


@pytest.fixture(scope="session")
def small(roadmap):
    """The roadmap on a world a tenth of the US."""
    return roadmap.model_copy(update={"scale": 0.1})
