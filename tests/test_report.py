"""The report: generated sentences, a self-contained page, assumptions, reproducibility, PDF."""

import re

import pandas as pd
import pytest

from equitysim import params as _params
from equitysim import narrative as N
from equitysim import report as R
from equitysim.indicators import indicators
from equitysim.resultsets import file_hash

from ._present import REPS, result_set
from .conftest import SCENARIOS

IND = {i.id: i for i in indicators()}


def test_sentence_reads_like_the_issue_example():
    s = N.sentence(IND["funding_bills_15_states"], 0.62, 0.58, 0.66, "roadmap")
    assert s == ("Under the roadmap as written, at least 15 states introduce funding bills by year 2 "
                 "in 62% of simulated futures (58\u201366%).")


def test_sentence_scales_district_targets_and_says_none_and_all():
    s = N.sentence(IND["integration_pilots_25_districts"], 0.0, 0.0, 0.3, "funding_first", scale=0.1, n=10)
    assert s.startswith("Under a funding-first sequence, at least 3 districts launch integration pilots by year 2")
    assert "in none of the 10 simulated futures" in s
    s = N.sentence(IND["discipline_disparity_minus_25pct"], 1.0, 0.7, 1.0, "my_plan", n=10)
    assert "the 'my_plan' scenario" in s and "shrinks by at least 25%" in s and "in all 10 simulated futures" in s


def test_every_indicator_has_a_sentence_template():
    words = N.words()
    assert set(words["indicators"]) == set(IND)
    for i in indicators():
        body = N.indicator_body(i)
        assert "{" not in body and f"year {i.horizon_year}" in body


def test_headlines_single_scenario_counts_match_the_summary():
    r = result_set()["roadmap"]
    s = r.summary()
    heads = R.headlines(r)
    likely, unlikely = int((s.p_met >= 2 / 3).sum()), int((s.p_met < 1 / 3).sum())
    assert f"{likely} of the 12 success indicators are likely" in heads[0]
    assert f"{unlikely} are unlikely" in heads[0] and f"{REPS} simulated futures" in heads[0]
    assert 2 <= len(heads) <= 4 and all(h.startswith("Under the roadmap as written") for h in heads)


def test_headlines_comparison_names_the_biggest_difference():
    res = result_set()
    p = pd.DataFrame({n: r.summary().set_index("id").p_met for n, r in res.items()})
    gap = (p.max(axis=1) - p.min(axis=1))
    heads = R.headlines(res)
    exp = {n: r.expected_met() for n, r in res.items()}
    assert heads[0].startswith(N.capitalize(N.scenario_phrase(max(exp, key=exp.get))))
    if gap.max() >= 0.2:
        top = gap.idxmax()
        assert N.indicator_body(IND[top], 0.05) in heads[1]
        assert f"{p.loc[top].max():.0%}" in heads[1] and f"{p.loc[top].min():.0%}" in heads[1]


def test_report_is_self_contained_and_complete(tmp_path):
    res = result_set()
    for r in res.values():
        r.meta.update(scenario_file=str(SCENARIOS / f"{r.spec.name}.toml"),
                      scenario_sha256=file_hash(SCENARIOS / f"{r.spec.name}.toml"))
    html = R.build_report(res, command="equitysim report x")
    # nothing fetched from elsewhere: every src is inline
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    srcs = re.findall(r'<img[^>]+src="([^"]+)"', html)
    assert len(srcs) == 4 and all(s.startswith("data:image/png;base64,") for s in srcs)
    for name, rows in R.indicator_sentences(res).items():
        assert len(rows) == 12
        for _, _, s in rows:
            assert R.html.escape(s) in html
    assert file_hash(SCENARIOS / "roadmap.toml") in html and "equitysim report x" in html
    assert "scaled to match" in html  # a small world is flagged
    assert "most decisive" not in html  # no sensitivity given, no such section


def test_sensitivity_section_and_assumptions(tmp_path):
    sens = pd.DataFrame({"parameter": ["policy_pace", "backlash_rate", "coalition_weight", "policy_pace"],
                         "output": ["a", "a", "a", "b"], "ST": [0.3, 0.5, 0.1, 0.6]})
    top = R.decisive_uncertainties(sens)
    assert [u["parameter"] for u in top] == ["policy_pace", "backlash_rate"]
    assert top[0]["index"] == 0.6 and top[0]["output"] == "b"
    f = tmp_path / "s.csv"
    sens.to_csv(f, index=False)
    html = R.build_report(result_set()["roadmap"], sensitivity=f)
    assert "The two most decisive uncertainties" in html
    assert _params.registry()["backlash_rate"].description in html
    table, how = R.key_assumptions(None, sensitivity=sens, k=3)
    assert list(table.parameter) == ["policy_pace", "backlash_rate", "coalition_weight"] and "sensitivity" in how


def test_sensitivity_directory_with_a_morris_table(tmp_path):
    """The layout `equitysim sensitivity` writes: out/indices.csv; Morris rows carry mu_star, and
    constant outputs an all-zero ST."""
    pd.DataFrame({"output": ["met.a", "met.a", "met.b"], "parameter": ["recession_prob", "backlash_rate", "policy_pace"],
                  "mu_star": [0.2, 0.4, None], "ST": [None, None, 0.0]}).to_csv(tmp_path / "indices.csv", index=False)
    top = R.decisive_uncertainties(tmp_path)
    assert [u["parameter"] for u in top] == ["backlash_rate", "recession_prob"] and top[0]["index_name"] == "mu_star"


def test_assumptions_without_sensitivity_are_assumed_and_widest():
    table, how = R.key_assumptions(result_set(), k=6)
    reg = _params.registry()
    assert len(table) == 6 and "no sensitivity result" in how
    widths = [(reg[n].high - reg[n].low) / abs(reg[n].default) for n in table.parameter]
    assert all(reg[n].is_assumption for n in table.parameter)
    assert widths == sorted(widths, reverse=True)


@pytest.mark.parametrize("content, needle", [("a,b\n1,2\n", "expected columns 'parameter'"), (None, "expected an existing")])
def test_bad_sensitivity_file(tmp_path, content, needle):
    f = tmp_path / "s.csv"
    if content is not None:
        f.write_text(content)
    with pytest.raises(ValueError, match=needle):
        R.read_sensitivity(f)


def test_write_report_with_pdf(tmp_path):
    written = R.write_report(result_set()["roadmap"], tmp_path / "r.html", pdf=True)
    assert [w.suffix for w in written] == [".html", ".pdf"]
    pdf = written[1].read_bytes()
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    # headlines, four charts (indicators, map, network, trajectories), assumptions and footer
    assert pdf.startswith(b"%PDF") and pages >= 6
