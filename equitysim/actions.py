"""The roadmap's action catalogue (data/actions.toml) loaded into plain records.

Every action row names the group a scenario sequences, its level, its delay, its target and
what it changes while in force (`effects`, as channels the model understands; see CHANNELS).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

LEVELS = ("federal", "state", "local", "support")
WHERE = ("all", "favorable", "litigation", "demographic_pressure", "without_adequacy",
         "broad_coalition", "local_successes")
ELIGIBILITY = ("diverse_enrollment", "mixed_region", "community_support", "union_cooperation", "principal_leadership")
FEASIBILITY = ("certain", "high", "moderate", "low")
# What an effect may act on. "hazard:X" multiplies adoption hazards of policy/program X by
# (1 + size); "funds:F" adds size million dollars a year to program family F; "lock:L" protects
# policies from repeal; the rest are documented in docs/model.md.
CHANNELS = {
    "guidance", "legal_clarity", "data", "ta", "within_district_spending", "litigation",
    "suspension", "spending_progressivity", "adequacy", "ap_gap", "teacher_gap",
    "coalition_growth", "community_support", "prerequisites", "stories", "fidelity",
    "backlash_damping", "climate", "visibility", "backlash_repeal_cut",
}
CHANNEL_PREFIXES = ("hazard:", "funds:", "lock:")
LOCKS = ("federal", "state", "funding")
FAMILIES = ("integration", "general")


@dataclass(frozen=True)
class Effect:
    channel: str
    size: float


@dataclass(frozen=True)
class Action:
    id: str
    group: str
    level: str
    phase: int
    name: str
    mechanism: str
    delay_q: int
    kind: str
    feasibility: str
    policy: str
    target: float
    target_note: str
    where: str
    eligibility: tuple[str, ...]
    requires: tuple[str, ...]
    cost_musd: float
    backlash: float
    effects: tuple[Effect, ...]
    plan_years: float = 0.0


@dataclass(frozen=True)
class Program:
    id: str
    name: str
    family: str
    channel: str
    visible: float
    race_conscious_possible: bool
    unit: str
    phase_names: tuple[str, ...]
    phase_quarters: np.ndarray
    phase_coverage: np.ndarray
    timeline_source: str

    @property
    def pilot_phase(self) -> int:
        """Index of the first phase with any coverage (the pilot or initial implementation)."""
        return int(np.argmax(self.phase_coverage > 0))


@dataclass(frozen=True)
class Catalogue:
    groups: dict[str, str]
    actions: tuple[Action, ...]
    programs: dict[str, Program]

    @property
    def state_policies(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.policy for a in self.actions if a.level == "state"))

    @property
    def federal_actions(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.level == "federal")

    def by_group(self, group: str) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.group == group)


class CatalogueError(ValueError):
    pass


def _check(cond: bool, where: str, msg: str) -> None:
    if not cond:
        raise CatalogueError(f"{where}: {msg}")


def parse_catalogue(raw: dict, source: str = "actions.toml") -> Catalogue:
    groups = dict(raw.get("groups", {}))
    programs = {}
    for pid, p in raw.get("programs", {}).items():
        ph = p["phases"]
        where = f"{source}: programs.{pid}"
        _check(p.get("family") in FAMILIES, where, f"family must be one of {FAMILIES}")
        _check(len(ph) >= 2 and ph[-1]["quarters"] == 0, where, "phases must end with an open-ended phase (quarters = 0)")
        programs[pid] = Program(
            pid, p["name"], p["family"], p["channel"], float(p.get("visible", 0.0)),
            bool(p.get("race_conscious_possible", False)), p.get("unit", "district"),
            tuple(x["name"] for x in ph), np.array([x["quarters"] for x in ph], int),
            np.array([x["coverage"] for x in ph], float), p.get("timeline_source", ""),
        )
    actions = []
    seen = set()
    for i, a in enumerate(raw.get("action", [])):
        where = f"{source}: action[{i}] ({a.get('id', '?')})"
        _check("id" in a and a["id"] not in seen, where, "needs a unique id")
        seen.add(a["id"])
        _check(a.get("group") in groups, where, f"group '{a.get('group')}' is not declared in [groups]")
        _check(a.get("level") in LEVELS, where, f"level must be one of {LEVELS}")
        effects = tuple(Effect(e["channel"], float(e["size"])) for e in a.get("effects", []))
        for e in effects:
            ok = e.channel in CHANNELS or e.channel.startswith(CHANNEL_PREFIXES)
            _check(ok, where, f"unknown effect channel '{e.channel}'")
            if e.channel.startswith("lock:"):
                _check(e.channel[5:] in LOCKS, where, f"lock must be one of {LOCKS}")
            if e.channel.startswith("funds:"):
                _check(e.channel[6:] in FAMILIES, where, f"funds family must be one of {FAMILIES}")
        level = a["level"]
        if level == "local":
            _check(a.get("policy") in programs, where, f"policy '{a.get('policy')}' is not a declared program")
        if level == "state":
            _check(bool(a.get("policy")), where, "state actions need a policy")
        if level in ("state", "local"):
            _check(float(a.get("target", 0)) > 0, where, "state and local actions need a positive target")
        _check(a.get("where", "all") in WHERE, where, f"where must be one of {WHERE}")
        for e in a.get("eligibility", []):
            _check(e in ELIGIBILITY, where, f"eligibility must be among {ELIGIBILITY}")
        if level == "federal":
            _check(a.get("feasibility") in FEASIBILITY, where, f"feasibility must be one of {FEASIBILITY}")
        actions.append(Action(
            id=a["id"], group=a["group"], level=level, phase=int(a.get("phase", 1)), name=a["name"],
            mechanism=a.get("mechanism", ""), delay_q=int(round(a.get("delay_months", 0) / 3)),
            kind=a.get("kind", level), feasibility=a.get("feasibility", "certain"),
            policy=a.get("policy", ""), target=float(a.get("target", 0)), target_note=a.get("target_note", ""),
            where=a.get("where", "all"), eligibility=tuple(a.get("eligibility", [])),
            requires=tuple(a.get("requires", [])), cost_musd=float(a.get("cost_musd", 0)),
            backlash=float(a.get("backlash", 0)), effects=effects,
            plan_years=float(a.get("plan_years", 0)),
        ))
    policies = {a.policy for a in actions if a.level == "state"}
    for a in actions:
        for r in a.requires:
            _check(r in policies, f"{source}: action {a.id}", f"requires unknown policy '{r}'")
    return Catalogue(groups, tuple(actions), programs)


@cache
def default_catalogue() -> Catalogue:
    text = resources.files("equitysim").joinpath("data/actions.toml").read_text()
    return parse_catalogue(tomllib.loads(text), "equitysim/data/actions.toml")


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    if path is None:
        return default_catalogue()
    return parse_catalogue(tomllib.loads(Path(path).read_text()), str(path))
