"""The strategist's page without a browser: scenario names only from the directory, composed
plans through the files' schema, the saved file round trip, one ensemble at a time, the paired
statistics, the cost by level (test_browser.py drives the page itself)."""

import json
import threading
import time

import pytest

from equitysim import load_scenario
from equitysim import strategist as S
from equitysim.cli import main
from equitysim.ensemble import run as run_ensemble
from equitysim.experiments.statistics import paired_difference_interval
from equitysim.scenario import ScenarioError

from .conftest import SCENARIOS

TINY = 0.03  # a world 3% of the US: a replication in a few hundredths of a second


@pytest.fixture(autouse=True)
def scenarios_dir(monkeypatch):
    monkeypatch.setenv("EQUITYSIM_SCENARIOS", str(SCENARIOS))
    S.scenario_files.cache_clear()
    yield
    S.scenario_files.cache_clear()


# ---------------------------------------------------------------------------- names, not paths
@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", str(SCENARIOS / "roadmap.toml"), "roadmap.toml",
                                  "scenarios/roadmap", "./roadmap", "roadmap/", "ROADMAP", "", " roadmap", None, 3,
                                  ["roadmap"], "roadmap\x00", "..", "~/roadmap"])
def test_a_crafted_path_is_refused(name):
    with pytest.raises(S.PageInputError) as err:
        S.scenario_file(name)
    msg = str(err.value)
    assert msg.startswith("base scenario: expected one of ") and "roadmap" in msg and "\n" not in msg


def test_only_the_directory_files_are_listed_and_a_link_out_is_refused(tmp_path, monkeypatch):
    (tmp_path / "mine.toml").write_text((SCENARIOS / "no_action.toml").read_text().replace('"no_action"', '"mine"'))
    (tmp_path / "notes.txt").write_text("not a scenario")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "hidden.toml").write_text('name = "hidden"\n')
    outside = tmp_path.parent / f"{tmp_path.name}-outside.toml"
    outside.write_text('name = "outside"\n')
    (tmp_path / "linked.toml").symlink_to(outside)
    monkeypatch.setenv("EQUITYSIM_SCENARIOS", str(tmp_path))
    S.scenario_files.cache_clear()
    assert set(S.scenario_files()) == {"mine", "linked"}
    assert S.base_spec("mine").name == "mine"
    for bad in ("hidden", "sub/hidden", "notes", "../" + outside.stem):
        with pytest.raises(S.PageInputError):
            S.scenario_file(bad)
    with pytest.raises(S.PageInputError, match="links elsewhere"):
        S.scenario_file("linked")


def test_the_app_command_stays_on_loopback_unless_told():
    from equitysim.cli.present import app_command

    host = next(p for p in app_command.params if p.name == "host")
    assert host.default == "127.0.0.1"


# ---------------------------------------------------------------------------- composing
def _draft(**strategy):
    base = S.base_spec("roadmap")
    d = S.draft_from(base)
    d["strategy"].update(strategy)
    return base, d


def test_an_unchanged_draft_is_the_base():
    base, d = _draft()
    plan = S.compose(base, d)
    assert plan.model_dump(exclude={"name", "description"}) == base.model_dump(exclude={"name", "description"})
    assert plan.name == "roadmap_edited" and "no changes" in plan.description


def test_changes_reach_the_plan_and_its_description():
    base, d = _draft(pacing=0.8, pilot_first=False)
    i = next(k for k, e in enumerate(d["sequence"]) if e["group"] == "state_funding_bills")
    d["sequence"][i].update(start_year=1.0, end_year=4.0, intensity=1.5, where="favorable")
    d["sequence"] = [e for e in d["sequence"] if e["group"] != "local_detracking"]
    plan = S.compose(base, d, scale=0.1)
    entry = next(e for e in plan.sequence if e.group == "state_funding_bills")
    assert (entry.start_year, entry.end_year, entry.intensity, entry.where) == (1.0, 4.0, 1.5, "favorable")
    assert plan.strategy.pacing == 0.8 and plan.strategy.pilot_first is False and plan.scale == 0.1
    assert "local_detracking" not in {e.group for e in plan.sequence}
    for words in ("pacing 0.5 -> 0.8", "state_funding_bills start_year 0.0 -> 1.0", "local_detracking removed"):
        assert words in plan.description


@pytest.mark.parametrize("change, message", [
    (lambda d: d["sequence"][3].update(end_year=0.0),
     "strategist page: sequence.3 (state_funding_bills): expected end_year greater than start_year"),
    (lambda d: d["sequence"][3].update(start_year=25.0),
     "strategist page: sequence.3 (state_funding_bills).start_year: expected a number <= 20.0, got 25.0"),
    (lambda d: d["sequence"][0].update(where="moon"), "sequence.0 (federal_administrative).where: expected 'default', one of all"),
    (lambda d: d["sequence"][0].update(where=["CA", "XX"]), "unknown: XX"),
    (lambda d: d["sequence"][0].update(intensity=-1.0), "intensity: expected a number >= 0"),
    (lambda d: d["strategy"].update(pacing=1.5), "strategist page: strategy.pacing: expected a number <= 1.0, got 1.5"),
    (lambda d: d["strategy"].update(legal_design="anything"), "strategy.legal_design: expected one of"),
    (lambda d: d["strategy"].update(bribery=1.0), "strategy.bribery: expected no such field"),
    (lambda d: d.update(name=""), "strategist page: name: expected a non-empty string"),
    (lambda d: d["sequence"].append({"group": "moonshot", "start_year": 0.0}), "(moonshot).group: expected one of the catalogue"),
])
def test_a_bad_plan_gets_the_files_one_line_message(change, message):
    base, d = _draft()
    change(d)
    with pytest.raises(ScenarioError) as err:
        S.compose(base, d)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_saved_file_loads_back_to_the_same_plan_and_validates(tmp_path, capsys):
    base, d = _draft(technical_assistance=0.9, equity_as_lens=0.4)
    d["sequence"][0].update(where=["CA", "NY"], intensity=2.0)
    d["sequence"][4].update(end_year=None)
    plan = S.compose(base, d, scale=0.25)
    text = S.scenario_toml(plan, S.reproduce_command(plan, 100, 1))
    assert text.startswith("# Saved from equitysim's strategist page.")
    assert "equitysim run roadmap_edited.toml -n 100 --seed 1" in text
    f = tmp_path / S.saved_name(plan)
    f.write_text(text)
    assert load_scenario(f) == plan
    assert main(["validate", str(f)]) == 0
    assert "ok (roadmap_edited" in capsys.readouterr().out


def test_every_field_survives_the_file():
    base, d = _draft()
    d["sequence"][9]["targets"] = {"detracking_pilots": 12.0}
    plan = S.compose(base, d)
    plan = type(plan).model_validate({**plan.model_dump(), "parameters": {"backlash_rate": 0.6},
                                      "uncertainty": {"recession_prob": (0.1, 0.3)},
                                      "events": [{"kind": "recession", "year": 3.0}]})
    assert plan.events and plan.sequence[9].targets
    import tomllib

    assert S.parse_scenario(tomllib.loads(S.scenario_toml(plan)), "x") == plan


def test_saved_names_are_plain_file_names():
    base, d = _draft()
    d["name"] = "../../etc/my plan"
    assert S.saved_name(S.compose(base, d)) == "etc_my_plan.toml"


# ---------------------------------------------------------------------------- one run at a time
@pytest.mark.parametrize("futures", [0, -1, 1001, 2.5, "100", True, None])
def test_futures_are_capped(futures):
    guard = S.RunGuard(max_futures=1000)
    with pytest.raises(S.PageInputError, match=r"^futures: expected a whole number from 1 to 1000, got "):
        with guard.claim(futures, "x"):
            pass


def test_concurrent_runs_do_not_pile_up():
    """Eight Runs at once: one runs, one waits for it, six are refused at once with a message;
    never two at a time."""
    guard = S.RunGuard(max_futures=100, max_waiting=1)
    active, peak, lock = [0], [0], threading.Lock()
    started, refused = [], []
    gate = threading.Barrier(8)

    def press(i):
        gate.wait()
        try:
            with guard.claim(10, f"run {i}", wait=30):
                with lock:
                    active[0] += 1
                    peak[0] = max(peak[0], active[0])
                started.append(i)
                time.sleep(0.4)
                with lock:
                    active[0] -= 1
        except S.Busy as err:
            refused.append(str(err))

    threads = [threading.Thread(target=press, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert peak[0] == 1
    assert len(started) == 2 and len(refused) == 6
    assert all(m.startswith("Another run is in progress on this server: run ") and "was not started" in m
               for m in refused)
    assert guard.running is None
    with guard.claim(5, "afterwards"):  # free again
        assert guard.running == "afterwards"


def test_a_waiting_run_gives_up_after_its_wait():
    guard = S.RunGuard()
    with guard.claim(5, "long"):
        t0 = time.monotonic()
        with pytest.raises(S.Busy, match=r"Waited 0.3 s for the run in progress \(long"):
            with guard.claim(5, "second", wait=0.3):
                pass
        assert time.monotonic() - t0 >= 0.3


def test_the_guard_is_released_when_a_run_fails():
    guard = S.RunGuard()
    with pytest.raises(RuntimeError):
        with guard.claim(5, "boom"):
            raise RuntimeError("model failed")
    assert guard.running is None


# ---------------------------------------------------------------------------- running and reading
@pytest.fixture(scope="module")
def outcome():
    S.scenario_files.cache_clear()
    base = S.base_spec("roadmap").model_copy(update={"scale": TINY})
    d = S.draft_from(base)
    d["strategy"]["coalition_investment"] = 0.0
    d["strategy"]["lock_in"] = False
    plan = S.compose(base, d, scale=TINY)
    return S.run_paired(plan, base, 12, 5, guard=S.RunGuard(), jobs=1)


def test_the_page_runs_the_clis_ensemble_paired_by_seed(outcome):
    assert outcome.futures == 12 and outcome.seed == 5
    from equitysim.posterior import shipped

    # the page's futures are the CLI's: parameters drawn from the shipped posterior, paired by key
    same = run_ensemble(outcome.plan, 12, seed=5, jobs=1, parameters=shipped())
    assert same.to_json() == outcome.plan_result.to_json()
    assert list(outcome.plan_result.runs["key"]) == list(outcome.base_result.runs["key"]) == list(range(12))
    assert outcome.base_result.to_json() == run_ensemble(outcome.base, 12, seed=5, jobs=1, parameters=shipped()).to_json()
    assert outcome.plan_result.meta["parameter_rows"] == outcome.base_result.meta["parameter_rows"]


def test_the_base_is_run_once_per_setting(outcome):
    again = S.run_paired(outcome.plan, outcome.base, 12, 5, guard=S.RunGuard(), jobs=1)
    assert again.base_was_cached and again.base_result is outcome.base_result
    assert S.prepare_base(outcome.base, 12, 5, guard=S.RunGuard()) is outcome.base_result


def test_prepare_base_does_not_queue_behind_a_run():
    guard = S.RunGuard()
    base = S.base_spec("no_action").model_copy(update={"scale": TINY})
    with guard.claim(3, "someone else's run"):
        assert S.prepare_base(base, 3, 99, guard=guard) is None


def test_paired_differences_are_newcombes_on_the_runs(outcome):
    d = S.paired_differences(outcome.plan_result, outcome.base_result)
    assert len(d) == 12 and set(d.columns) >= {"indicator", "label", "diff", "ci_low", "ci_high", "p_scenario", "p_baseline"}
    p, b = outcome.plan_result.runs, outcome.base_result.runs
    for r in d.itertuples():
        x, y = p[f"met.{r.indicator}"].to_numpy(bool), b[f"met.{r.indicator}"].to_numpy(bool)
        want = paired_difference_interval(int((x & y).sum()), int((x & ~y).sum()), int((~x & y).sum()),
                                          int((~x & ~y).sum()))
        assert (r.diff, r.ci_low, r.ci_high) == pytest.approx(want)
        assert r.p_scenario == pytest.approx(x.mean()) and r.p_baseline == pytest.approx(y.mean())


def test_an_unchanged_plan_differs_by_nothing():
    base = S.base_spec("roadmap").model_copy(update={"scale": TINY})
    out = S.run_paired(S.compose(base, S.draft_from(base), scale=TINY), base, 6, 2, guard=S.RunGuard(), jobs=1)
    d = S.paired_differences(out.plan_result, out.base_result)
    assert (d["diff"] == 0).all() and (d["only_scenario"] == 0).all() and (d["only_baseline"] == 0).all()
    assert "no indicator's chance differs" in " ".join(S.sentences(out, d))


def test_risks_sentences_and_reproduction(outcome, tmp_path, capsys):
    risks = S.risk_table(outcome.plan_result, outcome.base_result)
    assert list(risks["plan"]) == list(outcome.plan_result.risks().values())
    said = S.sentences(outcome)
    assert 2 <= len(said) <= 3 and all(s.endswith(".") for s in said)
    assert any("the roadmap as written" in s for s in said)
    # The saved file reproduces the page's numbers through the CLI.
    f = tmp_path / S.saved_name(outcome.plan)
    f.write_text(S.scenario_toml(outcome.plan))
    # the page draws each future's parameters from the shipped posterior, as `run` does by default
    assert main(["run", str(f), "-n", "12", "--seed", "5", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["parameters"] == "posterior"
    assert cli == outcome.plan_result.to_json()


# ---------------------------------------------------------------------------- cost by level
def test_cost_by_level_follows_the_plan():
    from equitysim.actions import default_catalogue
    from equitysim.model import world_for
    from equitysim.plan import compile_plan

    base = S.base_spec("roadmap").model_copy(update={"scale": TINY})
    cost = S.plan_cost_by_level(base)
    assert set(cost) == {"federal", "state", "local", "support"}
    assert all(v["mean"] > 0 and v["peak"] >= v["mean"] for v in cost.values())
    # Support only: its cost is the compiled plan's, the other levels nothing.
    only = S.compose(base, {"name": "only_coalition", "strategy": base.strategy.model_dump(),
                            "sequence": [{"group": "coalition", "start_year": 2.0}]})
    c = S.plan_cost_by_level(only)
    plan = compile_plan(only, default_catalogue(), world_for(only))
    assert c["federal"]["mean"] == c["state"]["mean"] == c["local"]["mean"] == 0
    assert c["support"]["mean"] == pytest.approx(plan.cost_by_quarter.mean())
    # Starting every federal group five years later costs the federal level less.
    d = S.draft_from(base)
    for e in d["sequence"]:
        if e["group"].startswith("federal"):
            e["start_year"] = max(e["start_year"], 5.0)
    late = S.plan_cost_by_level(S.compose(base, d))
    assert late["federal"]["mean"] < cost["federal"]["mean"] and late["state"] == cost["state"]
