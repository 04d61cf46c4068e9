"""Validation against history and face validity (equitysim/validation.py, docs/validation.md).

Fixed seeds on small worlds: state-level patterns do not depend on the world's scale (there are
always 51 states), district-level ones are expressed at full-US scale."""

import re

import pandas as pd
import pytest

from equitysim import validation as V

from .conftest import ROOT

SCALE, REPS = 0.05, 6
# Face-validity pairs, as many as docs/validation.md uses: on the world of real districts the
# no-diffusion effect at 10 pairs (seed 7) came out -0.42% (5 of 10 pairs in direction) against
# -1.4% at 30 pairs, -3.7% and -4.3% at 10 pairs of seeds 8 and 9, -2.9% at 30 pairs on a 0.1
# world: the effect is real, 10 pairs too few to show it reliably.
FV_REPS = 30


@pytest.fixture(scope="module")
def traces():
    spec = V.no_action_spec(scale=SCALE)
    return pd.DataFrame([V.trace(spec, seed=11, key=k) for k in range(REPS)])


def _band(pid):
    p = {x.id: x for x in V.patterns()}[pid]
    return p.low, p.high


def test_patterns_point_at_sourced_benchmarks():
    bm = V.benchmarks()
    pts = V.patterns()
    assert len(pts) >= 4
    for p in pts:
        assert p.benchmark in bm.index and len(bm.loc[p.benchmark, "source"]) > 20
        assert p.low <= p.history <= p.high, p.id
        assert p.kind in ("independent", "input check")
    assert sum(p.kind == "independent" for p in pts) >= 4


def test_superintendent_turnover_reproduces_grissom_andersen(traces):
    # 45% of California superintendents left within three years (Grissom & Andersen 2012).
    assert traces["superintendent_exit_3yr"].mean() == pytest.approx(0.45, abs=0.02)


def test_share_of_states_reforming_matches_history(traces):
    lo, hi = _band("sfr_share")
    assert lo <= traces["sfr_share_states"].mean() <= hi


def test_segregation_drifts_slowly_without_a_campaign(traces):
    lo, hi = _band("segregation_drift")
    x = traces["seg_drift_pct_per_year"]
    assert (x >= lo).all() and (x <= hi).all()


def test_suspension_disparity_persists_without_a_campaign(traces):
    lo, hi = _band("suspension_persistence")
    assert lo <= traces["suspension_ratio_change_pct"].mean() <= hi


def test_governorships_change_at_historical_rate(traces):
    lo, hi = _band("governor_changes")
    assert lo <= traces["governor_changes_per_election"].mean() <= hi


# Known mismatches (docs/validation.md gives the suggested change): these fail today and must start
# failing loudly (strict) once the model is fixed, so that the marker is removed.
def test_state_restorative_laws_spread_like_history(traces):
    lo, hi = _band("rj_state_laws")
    assert lo <= traces["rj_laws_per_year"].mean() <= hi


@pytest.mark.xfail(strict=True, reason="superintendent hazard does not depend on district poverty/minority share")
def test_superintendent_turnover_higher_in_high_minority_districts(traces):
    lo, hi = _band("superintendent_poverty")
    assert lo <= traces["superintendent_ratio_minority"].mean() <= hi


@pytest.mark.xfail(strict=True, reason="repeat school-finance reforms within a state are not represented")
def test_yearly_count_of_reforms_matches_history(traces):
    lo, hi = _band("sfr_rate")
    assert lo <= traces["sfr_per_year"].mean() <= hi


@pytest.mark.parametrize("expectation", V.EXPECTATIONS, ids=[e.id for e in V.EXPECTATIONS])
def test_face_validity(expectation):
    r = V.check_expectation(expectation, replications=FV_REPS, seed=7, scale=SCALE)
    assert r["holds"], (f"{expectation.statement} base {r['base']:.4g}, variant {r['variant']:.4g}, "
                        f"relative {r['relative']:+.2%} (needed {expectation.min_effect:.1%} {expectation.direction})")


def test_same_seed_same_trace():
    spec = V.no_action_spec(scale=SCALE, years=3)
    a, b = V.trace(spec, 5, 0), V.trace(spec, 5, 0)
    assert a == b
    assert V.trace(spec, 5, 1) != a


def test_markdown_renders_both_parts():
    h = pd.DataFrame([{"id": p.id, "title": p.title, "unit": p.unit, "history": p.history, "low": p.low,
                       "high": p.high, "model": p.history, "model_p05": p.low, "model_p95": p.high,
                       "verdict": "consistent", "kind": p.kind} for p in V.patterns()])
    fv = pd.DataFrame([{"id": e.id, "statement": e.statement, "metric": e.metric, "direction": e.direction,
                        "base": 1.0, "variant": 2.0, "relative": 1.0, "min_effect": e.min_effect,
                        "holds": True, "pairs_in_direction": 1.0} for e in V.EXPECTATIONS])
    text = V.markdown({"settings": {"replications": 2, "seed": 1, "scale": 0.1, "fv_replications": 2,
                                    "fv_scale": 0.1}, "history": h, "face_validity": fv})
    assert text.count("**consistent**") == len(h)
    assert all(e.statement in text for e in V.EXPECTATIONS)


def test_markdown_renders_the_world_against_published_figures():
    wt = V.world_tables()
    nat = wt["national"]
    assert len(nat) >= 8 and nat.ok.all()   # the full world meets every national tolerance
    text = "\n".join(V._world_markdown(wt))
    for r in nat.itertuples():
        assert f"| {r.figure} | {V._fmt(r.published)} |" in text
    assert "**no**" not in text and f"{len(nat)} of {len(nat)} national figures" in text
    bad = dict(wt, national=nat.assign(ok=[False] + [True] * (len(nat) - 1)))
    text = "\n".join(V._world_markdown(bad))
    assert text.count("**no**") == 1 and f"{len(nat) - 1} of {len(nat)} national figures" in text


def test_docs_validation_md_is_current():
    """docs/validation.md is generated by scripts/validation.py; it must cover every pattern and
    expectation of the code, with model and history side by side."""
    text = (ROOT / "docs" / "validation.md").read_text()
    assert "do not edit by hand" in text
    for p in V.patterns():
        assert p.title in text, f"regenerate docs/validation.md: pattern {p.id} missing"
    for e in V.EXPECTATIONS:
        assert e.statement in text, f"regenerate docs/validation.md: expectation {e.id} missing"
    assert "## 3. The world of real districts against published figures" in text, "regenerate docs/validation.md"
    for f in V.world_tables()["national"].figure:
        assert f"| {f} |" in text, f"regenerate docs/validation.md: national figure {f!r} missing"
    history = text.split("## 2. Face validity")[0]   # the face-validity rows have intervals too
    rows = [l for l in history.splitlines() if l.startswith("| ") and "**" in l and " to " in l]
    assert len(rows) >= 4
    for l in rows:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", l.strip("|"))]   # '\|' is a pipe inside a cell
        float(cells[1].replace(",", ""))  # history
        float(cells[3].replace(",", ""))  # model


def test_cli_writes_the_page(tmp_path, capsys):
    from equitysim.cli import main

    out = tmp_path / "validation.md"
    rc = main(["validation", "-n", "2", "--scale", "0.02", "--fv-replications", "2", "--fv-scale", "0.02",
               "--out", str(out)])
    assert rc == 0
    assert "historical patterns consistent" in capsys.readouterr().out
    text = out.read_text()
    assert text.startswith("# Validation") and "## 2. Face validity" in text


def test_cli_bad_out_is_one_line(capsys):
    from equitysim.cli import main

    assert main(["validation", "--out", "/nonexistent-dir/v.md"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--out" in err and "Traceback" not in err
