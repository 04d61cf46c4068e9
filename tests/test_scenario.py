import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from equitysim import ScenarioError, load_scenario, parse_scenario
from equitysim.actions import default_catalogue

from .conftest import SCENARIOS

SHIPPED = sorted(SCENARIOS.glob("*.toml"))
REQUIRED = {"roadmap", "no_action", "all_at_once", "funding_first", "integration_first", "local_first",
            "federal_led", "low_budget", "low_buy_in"}


def test_all_required_scenarios_ship_and_validate():
    assert REQUIRED <= {p.stem for p in SHIPPED}
    for p in SHIPPED:
        spec = load_scenario(p)
        assert spec.name == p.stem


def test_roadmap_switches_on_every_catalogue_group():
    spec = load_scenario(SCENARIOS / "roadmap.toml")
    assert {e.group for e in spec.sequence} == set(default_catalogue().groups)


def _err(tmp_path, text):
    f = tmp_path / "s.toml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(f))
    return msg


@pytest.mark.parametrize("text, field, expected", [
    ('name = "x"\n[strategy]\npacing = 1.5\n', "strategy.pacing", "<= 1"),
    ('name = "x"\n[[sequence]]\ngroup = "nope"\n', "sequence.0.group", "action groups"),
    ('name = "x"\n[parameters]\nnot_a_param = 1\n', "parameters", "registry"),
    ('name = "x"\nsurprise = 1\n', "surprise", "unknown field"),
    ('[strategy]\n', "name", "required"),
    ('name = "x"\n[[sequence]]\ngroup = "coalition"\nwhere = ["ZZ"]\n', "sequence.0.where", "state codes"),
    ('name = "x"\n[[sequence]]\ngroup = "coalition"\nstart_year = 3\nend_year = 1\n', "sequence.0", "end_year"),
    ('name = "x"\n[strategy]\nlegal_design = "maybe"\n', "strategy.legal_design", "within_law"),
    ('name = "x"\n[uncertainty]\nrecession_prob = [0.3, 0.1]\n', "uncertainty", "low < high"),
    ('name = "x\n', "(syntax)", "valid TOML"),
])
def test_loader_errors_name_file_field_and_expectation(tmp_path, text, field, expected):
    msg = _err(tmp_path, text)
    assert f": {field}" in msg and expected in msg


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(ScenarioError, match="existing scenario file"):
        load_scenario(tmp_path / "missing.toml")
    f = tmp_path / "bin.toml"
    f.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ScenarioError):
        load_scenario(f)


# ---- fuzzing: whatever a file holds, the loader returns a spec or raises ScenarioError

toml_scalars = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, width=32), st.booleans(),
                         st.text(max_size=12))
field_names = st.sampled_from(["name", "description", "years", "scale", "world_seed", "strategy", "sequence",
                               "parameters", "uncertainty", "events", "pacing", "group", "start_year",
                               "recession_prob", "where", "intensity", "targets", "bogus"])
values = st.recursive(toml_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(field_names, children, max_size=4)), max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(field_names, values, max_size=8))
def test_fuzz_parse_never_crashes(data):
    try:
        spec = parse_scenario(data, "fuzz.toml")
    except ScenarioError as e:
        assert str(e).startswith("fuzz.toml: ") and "\n" not in str(e)
    else:
        assert spec.name


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_bytes_never_crash(tmp_path_factory, blob):
    f = tmp_path_factory.mktemp("fz") / "x.toml"
    f.write_bytes(blob)
    try:
        load_scenario(f)
    except ScenarioError:
        pass


def test_mutating_the_roadmap_one_field_at_a_time(tmp_path):
    """Each shipped field set to a wrong type gives a one-line error naming that field."""
    base = tomllib.loads((SCENARIOS / "roadmap.toml").read_text())
    for key in ["coalition_investment", "pacing", "funding_diversification", "technical_assistance"]:
        data = {**base, "strategy": {**base["strategy"], key: "lots"}}
        with pytest.raises(ScenarioError, match=rf"strategy\.{key}: expected a number"):
            parse_scenario(data, "mut.toml")
