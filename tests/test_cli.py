import json

import pytest

from equitysim.cli import main

from .conftest import SCENARIOS

ROADMAP = str(SCENARIOS / "roadmap.toml")


def test_run_json_prints_exactly_one_object(capsys):
    rc = main(["run", ROADMAP, "-n", "3", "--seed", "1", "--scale", "0.05", "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    obj = json.loads(out)  # fails if anything else is on stdout
    assert obj["scenario"] == "roadmap" and obj["replications"] == 3 and obj["seed"] == 1


def test_run_table(capsys):
    assert main(["run", ROADMAP, "-n", "2", "--scale", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "integration_pilots_25_districts" in out and "P(met)" in out and "Expected indicators met" in out


@pytest.mark.parametrize("argv, needle", [
    (["run", ROADMAP, "-n", "abc"], "--replications"),
    (["run", ROADMAP, "--jobs", "0"], "--jobs"),
    (["run", ROADMAP, "--bogus"], "--bogus"),
    (["run", "nope.toml"], "nope.toml"),
    (["validate", "nope.toml"], "nope.toml"),
    (["frobnicate"], "frobnicate"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert "\n" not in err and needle in err and "Traceback" not in err


def test_validate_bad_file(tmp_path, capsys):
    f = tmp_path / "plan.toml"
    f.write_text('name = "p"\n[strategy]\npacing = "fast"\n')
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"equitysim: {f}: strategy.pacing: expected a number, got 'fast'"


def test_params_and_world(capsys):
    assert main(["params", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"name", "unit", "default", "low", "high", "source"} <= set(rows[0])
    assert main(["world", "--scale", "0.05", "--json"]) == 0
    w = json.loads(capsys.readouterr().out)
    assert w["states"] == 51 and len(w["per_pupil_by_state"]) == 51
