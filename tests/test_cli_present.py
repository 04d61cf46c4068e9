"""equitysim report / plot / run --report, and their one-line errors."""

import re

import pytest

from equitysim.cli import main
from equitysim.resultsets import file_hash, save_results

from ._present import result_set
from .conftest import SCENARIOS

ROADMAP = str(SCENARIOS / "roadmap.toml")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("seq")
    save_results(result_set(), d)
    return d


def test_run_with_report(tmp_path, capsys):
    out = tmp_path / "roadmap.html"
    rc = main(["run", ROADMAP, "-n", "3", "--seed", "4", "--scale", "0.05", "--report", str(out), "--json"])
    cap = capsys.readouterr()
    assert rc == 0 and cap.out.count("\n") == 1  # --json still prints exactly one object
    html = out.read_text()
    assert len(re.findall(r'src="data:image/png;base64,', html)) == 4  # indicators, map, network, trajectories
    assert file_hash(ROADMAP) in html and "--report" in html and "--seed 4" in html


def test_report_from_saved_results_and_from_scenario_files(saved, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(saved), "--out", str(out), "--pdf", "--map-year", "2"]) == 0
    assert out.exists() and out.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
    assert "by year 2" in out.read_text()
    out2 = tmp_path / "r2.html"
    save = tmp_path / "saved"
    assert main(["report", ROADMAP, str(SCENARIOS / "no_action.toml"), "-n", "2", "--scale", "0.05",
                 "--out", str(out2), "--save", str(save)]) == 0
    html = out2.read_text()
    assert "no campaign at all" in html and (save / "no_action" / "states.parquet").exists()


@pytest.mark.parametrize("kind", ["indicators", "trajectories", "map", "network"])
def test_plot_each_kind(saved, tmp_path, kind):
    out = tmp_path / f"{kind}.png"
    assert main(["plot", str(saved), "--kind", kind, "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv, needle", [
    (["report", "/no/such/dir"], "/no/such/dir"),
    (["plot", "SAVED", "--kind", "pie"], "--kind"),
    (["plot", "SAVED", "--kind", "map", "--policy", "nope"], "nope"),
    (["plot", "SAVED", "--kind", "map", "--scenario", "nope"], "nope"),
    (["plot", "PLAIN", "--kind", "map"], "states=True"),
    (["report", "SAVED", "--sensitivity", "/no/such.csv"], "--sensitivity"),
    (["report", "nope.toml"], "nope.toml"),
    (["run", ROADMAP, "--report", "/no/such/dir/"], "--report"),
])
def test_bad_input_is_one_line_and_exit_2(saved, tmp_path, capsys, argv, needle):
    plain = tmp_path / "plain.parquet"
    result_set()["roadmap"].runs.to_parquet(plain)
    argv = [str(saved) if a == "SAVED" else str(plain) if a == "PLAIN" else a for a in argv]
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    last = err[-1] if err else ""
    assert rc == 2 and needle in last and "Traceback" not in "\n".join(err)
