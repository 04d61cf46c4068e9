"""Charts: titles that state the finding, the tile grid, numbers drawn equal to numbers computed."""

import re

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest

from equitysim import narrative as N
from equitysim import plots as P
from equitysim.plots.style import text_colour
from equitysim.ensemble import EnsembleResult
from equitysim.indicators import indicators
from equitysim.world import load_states

from ._present import REPS, result_set


def _texts(fig):
    return [t.get_text() for t in fig.findobj(mpl.text.Text)]


def test_tile_grid_has_every_state_once():
    g = P.tile_grid()
    assert sorted(g.index) == sorted(load_states().index)
    assert not g.duplicated(["row", "col"]).any()


def test_okabe_ito_and_text_contrast():
    assert len(set(P.OKABE_ITO)) == 8
    assert text_colour(mpl.colors.to_rgba("#08306B")) == "white"
    assert text_colour(mpl.colors.to_rgba("#F7FBFF")) == "black"


def test_indicator_chart_title_counts_match_the_summary():
    res = result_set()
    s = res["roadmap"].summary()
    likely, unlikely = int((s.p_met >= 2 / 3).sum()), int((s.p_met < 1 / 3).sum())
    fig = P.indicator_chart({"roadmap": res["roadmap"]})
    title = next(t for t in _texts(fig) if t.startswith("The roadmap as written"))
    assert f"{likely} of 12 indicators likely" in title and f"{unlikely} unlikely" in title
    # one marker per indicator and scenario, coloured from the palette
    lines = [ln for ln in fig.axes[0].lines if ln.get_marker() not in (None, "None", "")]
    assert len([ln for ln in lines if ln.get_marker() == "o"]) == 12
    assert {mpl.colors.to_hex(ln.get_color()) for ln in lines} <= {c.lower() for c in P.OKABE_ITO}


def test_indicator_chart_comparison_names_best_by_likely_count():
    res = result_set()
    fig = P.indicator_chart(res)
    counts = {n: int((r.summary().p_met >= 2 / 3).sum()) for n, r in res.items()}
    best = max(counts, key=lambda n: (counts[n], res[n].expected_met()))
    title = N.indicator_finding(res)
    worst = min(counts, key=lambda n: (counts[n], res[n].expected_met()))
    if counts[best] == counts[worst]:
        assert title.startswith(f"Every scenario makes {counts[best]} of 12 indicators likely; "
                                f"{N.scenario_phrase(best)} meets the most on average")
    else:
        assert title.startswith(N.capitalize(N.scenario_phrase(best))) and f"({counts[best]} of 12)" in title
    assert title in [t.replace("\n", " ") for t in _texts(fig)]


def _fake(met: bool, n: int = 10) -> EnsembleResult:
    from equitysim import load_scenario

    from .conftest import SCENARIOS
    runs = pd.DataFrame({f"met.{i.id}": [met] * n for i in indicators()} | {"key": range(n)})
    return EnsembleResult(load_scenario(SCENARIOS / "roadmap.toml"), 1, runs)


@pytest.mark.parametrize("met", [True, False])
def test_indicator_chart_at_zero_and_one(met):
    """All met / none met: intervals touch 0 or 1 (a rounding error there once broke the chart)."""
    fig = P.indicator_chart(_fake(met))
    expected = "12 of 12 indicators likely, 0 toss-ups, 0 unlikely" if met else "0 of 12 indicators likely, 0 toss-ups, 12 unlikely"
    assert expected in " ".join(_texts(fig))


def test_trajectory_chart_medians_are_the_data():
    res = result_set()
    fig = P.trajectory_chart(res, metrics=["suspension_gap_pp", "achievement_gap"])
    ax = fig.axes[0]
    med = res["roadmap"].trajectories.groupby("year")["suspension_gap_pp"].median()
    line = ax.lines[0]
    np.testing.assert_allclose(line.get_ydata(), med.to_numpy())
    assert len(ax.lines) == 2  # one median per scenario
    finding = N.trajectory_finding(res, ["suspension_gap_pp", "achievement_gap"])
    assert finding.startswith("Under the roadmap as written") and "%" in finding


def test_trajectory_chart_needs_trajectories():
    with pytest.raises(ValueError, match="trajectories=True"):
        P.trajectory_chart(_fake(True))
    with pytest.raises(ValueError, match="unknown metrics"):
        P.trajectory_chart(result_set(), metrics=["nope"])


def test_state_map_tiles_show_the_shares():
    r = result_set()["funding_first"]
    fig = P.state_map(r, policies=["weighted_funding"], year=5)
    share = r.state_share("weighted_funding", 5)
    texts = _texts(fig)
    # each tile's second line is its share; check every state against the computed share
    codes = list(P.tile_grid().index)
    pct = [t for t in texts if re.fullmatch(r"\d+%", t)]
    assert len(pct) >= 51
    ax = fig.axes[0]
    for code in codes:
        label = next(t for t in ax.texts if t.get_text() == code)
        x, y = label.get_position()
        below = next(t for t in ax.texts if t.get_position()[0] == x and t.get_position()[1] < y
                     and abs(t.get_position()[1] - y) < 0.5)
        assert below.get_text() == f"{share[code]:.0%}", code
    k = int((share >= 0.5).sum())
    assert f"in force in {k} states" in " ".join(texts).replace("\n", " ")
    assert f"share of {REPS} simulated futures" in " ".join(texts).replace("\n", " ")


def test_state_map_errors():
    with pytest.raises(ValueError, match="states=True"):
        P.state_map(_fake(True))
    with pytest.raises(ValueError, match="not in these results"):
        P.state_map(result_set(), scenario="nope")


def test_diffusion_graph_edges_run_from_earlier_to_later_neighbours():
    r = result_set()["roadmap"]
    g, adj, codes = P.diffusion_graph(r, "weighted_funding")
    assert g.number_of_nodes() == 51
    pos = {c: i for i, c in enumerate(codes)}
    for u, v in g.edges:
        assert adj[pos[u], pos[v]] == 1
        assert g.nodes[u]["median_year"] < g.nodes[v]["median_year"]
        assert g.nodes[u]["share"] >= 0.5 and g.nodes[v]["share"] >= 0.5
    fig = P.diffusion_network(r, "weighted_funding")
    assert any("weighted-funding reform" in t for t in _texts(fig))


def test_save_writes_a_png(tmp_path):
    out = P.save(P.indicator_chart(result_set()), tmp_path / "x.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert P.to_data_uri(P.status_map({"weighted_funding": np.zeros(51, int)}, list(P.tile_grid().index))).startswith(
        "data:image/png;base64,")


def test_comparison_finding_without_and_with_a_tie():
    assert N.indicator_finding({"roadmap": _fake(True), "no_action": _fake(False)}) == (
        "The roadmap as written makes the most indicators likely (12 of 12); no campaign at all the fewest (0)")
    assert N.indicator_finding({"roadmap": _fake(True), "no_action": _fake(True)}).startswith(
        "Every scenario makes 12 of 12 indicators likely")
