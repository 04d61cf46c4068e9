"""Every catalogue field, channel and `where` value does something (or is marked
documentation-only), and no adoption rule reads a target: the catalogue's per-action targets
and the indicators' thresholds are evaluation only."""

import dataclasses
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from benchmarks.fingerprint import scenario_fingerprint
from equitysim import indicators as _ind
from equitysim import load_scenario
from equitysim.actions import default_catalogue
from equitysim.ensemble import run
from equitysim.plan import _static_mask
from equitysim.model import world_for

from .conftest import ROOT, SCENARIOS

PKG = ROOT / "equitysim"
RAW = tomllib.loads((PKG / "data" / "actions.toml").read_text())
DOC = "documentation only"
# Each catalogue field: the file that reads it and a token that does the reading.
ACTION_FIELDS = {
    "id": ("milestones.py", "r.action.id"), "group": ("plan.py", "by_group(entry.group)"),
    "level": ("plan.py", "a.level"), "phase": ("rows.py", "row.action.phase == 1"),
    "kind": ("arrays.py", "a.kind"), "feasibility": ("arrays.py", "a.feasibility"),
    "policy": ("plan.py", "a.policy"), "where": ("plan.py", "_static_mask(where, world"),
    "eligibility": ("rows.py", "row.action.eligibility"), "requires": ("rows.py", "row.action.requires"),
    "delay_months": ("actions.py", "delay_months"), "plan_years": ("plan.py", "a.plan_years"),
    "cost_musd": ("channels.py", "a.cost_musd"), "backlash": ("rows.py", "row.action.backlash"),
    "effects": ("channels.py", "a.effects"),
    "target": ("milestones.py", "r.target"),     # evaluation only: see the test below
    "name": DOC, "mechanism": DOC, "target_note": DOC, "plan_note": DOC,
}
PROGRAM_FIELDS = {
    "channel": ("fixed.py", "pr.channel"), "family": ("fixed.py", "pr.family"),
    "visible": ("programs.py", "pr.visible"), "race_conscious_possible": ("programs.py", "pr.race_conscious_possible"),
    "unit": ("milestones.py", ".unit"), "phases": ("programs.py", "pr.phase_quarters"),
    "name": DOC, "timeline_source": DOC,
}


def _source(name: str) -> str:
    return (PKG / name).read_text()


def _all_sources() -> str:
    return "\n".join(f.read_text() for f in PKG.rglob("*.py"))


@pytest.mark.parametrize("table, rows", [(ACTION_FIELDS, RAW["action"]), (PROGRAM_FIELDS, list(RAW["programs"].values()))],
                         ids=["actions", "programs"])
def test_every_field_is_read_or_marked_documentation(table, rows):
    used = {k for r in rows for k in r}
    unknown = used - set(table)
    assert not unknown, f"catalogue fields nobody has classified: {sorted(unknown)}"
    for field in used:
        if table[field] == DOC:
            continue
        path, token = table[field]
        assert token in _source(path), f"{field}: {path} does not read it ({token!r})"


def _channels_by_level():
    out = {}
    for a in default_catalogue().actions:
        for e in a.effects:
            out.setdefault(a.level if a.level != "local" else "state", set()).add(e.channel)
    return out


def test_every_effect_channel_is_read_at_its_level():
    """Federal channels through `federal_channel`, state ones from the state channels, support
    ones through `support`; 'hazard:X' names a policy or program whose hazard reads it."""
    src = _all_sources()
    cat = default_catalogue()
    policies, programs = set(cat.state_policies), set(cat.programs)
    for level, channels in _channels_by_level().items():
        for ch in sorted(channels):
            if ch.startswith("hazard:"):
                target = ch.split(":", 1)[1]
                if level == "support":
                    assert target in policies, f"support {ch}: only policy hazards are read from support"
                    assert 'support(f"hazard:' in src
                else:
                    assert target in policies | programs, f"{level} {ch}: no such policy or program"
                continue
            if ch.startswith("funds:"):
                pattern = {"federal": 'federal_channel(f"funds:', "state": 'channels.get(f"funds:'}[level]
            elif ch.startswith("lock:"):
                pattern = {"federal": 'federal_channel("lock:federal")', "state": f'"{ch}"'}[level]
            else:
                pattern = {"federal": f'federal_channel("{ch}")', "state": f'.get("{ch}"',
                           "support": f'support("{ch}")'}[level]
            also = f'effect_of("{ch}")' if level == "federal" else pattern   # a count read off the effects
            assert pattern in src or also in src, f"{level} channel {ch!r} is read by no mechanism ({pattern!r} not found)"


def test_every_where_value_means_something():
    w = world_for(load_scenario(SCENARIOS / "roadmap.toml").model_copy(update={"scale": 0.05}))
    for a in default_catalogue().actions:
        if a.level in ("state", "local"):
            mask = _static_mask(a.where, w)
            assert mask.any(), f"{a.id}: where = {a.where!r} selects no state"
    with pytest.raises(ValueError, match="unknown value"):
        _static_mask("high_property_tax", w)


def test_no_mechanism_reads_a_target_or_the_time_left():
    for f in (PKG / "mechanisms").glob("*.py"):
        src = f.read_text()
        for token in (".target", "pace_end", "need"):
            assert not re.search(rf"{re.escape(token)}\b", src), f"{f.name} reads {token}"


def _spec():
    return load_scenario(SCENARIOS / "roadmap.toml").model_copy(update={"scale": 0.05})


def test_changing_every_target_moves_no_run():
    """Ten times every catalogue target (through the scenario's `targets`) and ten times every
    indicator threshold: the same runs, only the milestones' and indicators' verdicts change."""
    base = _spec()
    cat = default_catalogue()
    seq = []
    for entry in base.sequence:
        targets = {a.id: a.target * 10 for a in cat.by_group(entry.group) if a.level in ("state", "local")}
        seq.append(entry.model_copy(update={"targets": targets}))
    bigger = base.model_copy(update={"sequence": seq})
    assert scenario_fingerprint(bigger, 3, seed=2)["exact"] == scenario_fingerprint(base, 3, seed=2)["exact"]
    one = run(base, 3, seed=2).milestones()
    ten = run(bigger, 3, seed=2).milestones()
    assert (ten["target"].to_numpy() == one["target"].to_numpy() * 10).all()


def test_changing_indicator_thresholds_moves_no_run(monkeypatch):
    plain = run(_spec(), 3, seed=2).runs
    changed = tuple(dataclasses.replace(i, threshold=i.threshold * 10) for i in _ind.indicators())
    monkeypatch.setattr(_ind, "indicators", lambda: changed)
    moved = run(_spec(), 3, seed=2).runs
    behaviour = [c for c in plain.columns if c.startswith(("metric.", "risk.", "baseline."))]
    assert plain[behaviour].equals(moved[behaviour])
