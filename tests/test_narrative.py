"""The narrative module: the indicator count in every sentence is the catalogue's, never a
number written by hand, and the vocabulary reads as the presentation file says."""

import dataclasses
import inspect
import re

import pandas as pd
import pytest

from equitysim import indicators as I
from equitysim import narrative as N


def _fewer(monkeypatch, k: int):
    """A catalogue with only its first k indicators."""
    short = I.indicators()[:k]
    monkeypatch.setattr(I, "indicators", lambda: short)
    return short


def test_the_count_is_the_catalogues(monkeypatch):
    n = len(I.indicators())
    assert N.indicator_count() == n
    assert N.expected_met_line(6.154) == f"Expected indicators met: 6.15 of {n}"
    _fewer(monkeypatch, 5)
    assert N.indicator_count() == 5
    assert N.expected_met_line(3.0) == "Expected indicators met: 3.00 of 5"


class _Result:
    """A stand-in for EnsembleResult: a summary table and expected_met."""

    def __init__(self, p: float, inds):
        self.p = p
        self.inds = inds
        self.replications = 10

    def summary(self):
        return pd.DataFrame({"id": [i.id for i in self.inds], "p_met": self.p, "ci_low": 0.0, "ci_high": 1.0})

    def expected_met(self):
        return self.p * len(self.inds)


def test_chart_and_search_sentences_follow_the_catalogue(monkeypatch):
    short = _fewer(monkeypatch, 7)
    title = N.indicator_finding({"roadmap": _Result(1.0, short)})
    assert title.endswith("7 of 7 indicators likely, 0 toss-ups, 0 unlikely")
    row = pd.Series({"candidate": "a", "expected_met": 3.0, "ci_low": 2.5, "ci_high": 3.5, "max_regret": 0.4,
                     "pace": 0.5, "lead": "all", "first_where": "default", "start.b": 0.0})
    spec = type("Spec", (), {"blocks": [type("Block", (), {"name": "b"})()], "confirm_replications": 0})()
    res = type("Res", (), {"spec": spec, "roadmap": row, "best_expected": row, "most_robust": row.copy(),
                           "confirmed": None})()
    sentences = N.describe_difference(res)
    assert "It meets 3.00 of 7 indicators on average" in sentences[0]


def test_no_sentence_builder_hard_codes_a_count():
    source = inspect.getsource(N)
    assert not re.search(r"of 1[0-9]\b|\btwelve\b.*indicators", source.replace('"twelve",', ""))


def test_count_word_and_vocabulary():
    assert N.count_word(12) == "twelve" and N.count_word(3) == "three" and N.count_word(40) == "40"
    assert N.scenario_phrase("no_such_plan") == "the 'no_such_plan' scenario"
    assert [N.likelihood(p) for p in (0.9, 0.5, 0.1)] == ["likely", "a toss-up", "unlikely"]
    assert N.change_label(-0.004) == "\u22120.4% vs start" and N.change_label(0.25) == "+25% vs start"
    assert N.states_phrase(1) == "1 state" and N.states_phrase(3) == "3 states"


def test_markdown_names_the_count_in_words(monkeypatch):
    assert "The roadmap's twelve success indicators" in I.markdown()
    short = _fewer(monkeypatch, 3)
    assert "The roadmap's three success indicators" in I.markdown()
    assert sum(line.startswith("| `") for line in I.markdown().splitlines()) == len(short)


def test_wilson_half_width_is_the_interval_of_indicators():
    from equitysim.experiments import wilson_half_width

    for k, n in ((3, 17), (50, 100), (1, 400)):
        lo, hi = I.wilson_interval(k, n)
        assert wilson_half_width(k / n, n) == pytest.approx((hi - lo) / 2, abs=1e-15)
    assert dataclasses.is_dataclass(I.Indicator)
