from pathlib import Path

from equitysim import params as P
from equitysim.actions import default_catalogue

ROOT = Path(__file__).resolve().parents[1]


def test_every_parameter_is_documented():
    reg = P.registry()
    assert len(reg) >= 40
    for p in reg.values():
        assert p.unit and p.source and p.description
        assert p.low <= p.default <= p.high
        assert p.dist in {"uniform", "triangular", "normal", "loguniform"}


def test_every_source_is_a_study_a_roadmap_figure_or_a_reasoned_assumption():
    """A source cites a study or table with its year, the roadmap or the practitioner's guide
    (quoting the passage that states the mechanism), a calibration/computation
    against shipped data, or says 'assumption' and gives the reasoning."""
    import re

    for p in P.registry().values():
        s = p.source.strip()
        if s.lower().startswith("assumption"):
            assert len(s) >= 40, f"{p.name}: an assumption needs its reasoning, got {s!r}"
        else:
            cited = re.search(r"(19|20)\d\d", s) or s.lower().startswith(("roadmap", "guide", "calibration", "computed"))
            assert cited, f"{p.name}: source names no study with a year, roadmap figure or calibration: {s!r}"


def test_every_parameter_is_used_by_the_code():
    """Read as `par.<name>` (the typed parameters), `fx.<name>` (the world-fixed inputs) or by
    its quoted name (world synthesis, scenarios)."""
    import re

    src = "\n".join(f.read_text() for f in (ROOT / "equitysim").rglob("*.py"))
    unused = [n for n in P.registry() if not re.search(rf'(\b(par|fx)\.{n}\b|"{n}")', src)]
    assert not unused, f"parameters never read by the model: {unused}"


def test_typed_parameters_are_read_by_attribute_and_reject_typos():
    import pytest

    par = P.values(P.defaults())
    assert par.backlash_rate == P.registry()["backlash_rate"].default
    with pytest.raises(AttributeError):
        par.backlash_rat  # noqa: B018
    with pytest.raises(Exception):
        par.backlash_rate = 1.0


def test_docs_parameters_md_is_in_sync():
    assert (ROOT / "docs" / "parameters.md").read_text() == P.markdown(), \
        "regenerate with: equitysim params --markdown > docs/parameters.md"


def test_catalogue_covers_the_roadmap_tables():
    cat = default_catalogue()
    assert len(cat.actions) >= 60
    targets = {a.id: a.target for a in cat.actions}
    # The roadmap's expansion targets, as data.
    assert targets["restorative_practices_expansion"] == 500
    assert targets["detracking_expansion"] == 100
    assert targets["discipline_mandates"] == 25
    assert targets["integration_incentive_states"] == 15
    # The roadmap's federal resource table (~$4B a year in five lines), each line counted once.
    federal = sum(a.cost_musd for a in cat.federal_actions)
    assert abs(federal / 3800 - 1) <= 0.1
    assert sum(a.cost_musd for a in cat.actions if a.id in ("msap_expansion", "magnet_triple")) == 1000
    assert sum(a.cost_musd for a in cat.actions
               if a.id in ("integration_incentive_grants", "voluntary_integration_grants")) == 2000


def test_salib_problem_follows_registry_distributions():
    from SALib.sample import latin
    reg = P.registry()
    tri = next(n for n, p in reg.items() if p.dist == "triangular")
    uni = next(n for n, p in reg.items() if p.dist == "uniform")
    prob = P.salib_problem([tri, uni])
    assert prob["dists"] == ["triang", "unif"]
    X = latin.sample(prob, 4000, seed=1)
    p = reg[tri]
    assert X[:, 0].min() >= p.low and X[:, 0].max() <= p.high
    # A triangular distribution's mean is (low + high + mode) / 3.
    assert X[:, 0].mean() == __import__("pytest").approx((p.low + p.high + p.default) / 3, rel=0.02)
    assert X[:, 1].mean() == __import__("pytest").approx((reg[uni].low + reg[uni].high) / 2, rel=0.02)
