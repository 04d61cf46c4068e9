"""The search file: the decision space (blocks of action groups, start years, paces, leading
level, where state action starts), the futures, the budget and the confirmation runs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .. import params as _params
from ..actions import WHERE, default_catalogue
from ..scenario import AdaptAction, Event, ScenarioError, ScenarioSpec, load_scenario, read_toml, validate
from ..schema import Strict

LEADS = ("all", "federal", "state", "local")
# Years by which each level starts after the leading one ("build on wins": the leader goes first).
LEAD_SHIFT = {
    "all": {"federal": 0, "state": 0, "local": 0, "support": 0},
    "federal": {"federal": 0, "state": 1, "local": 2, "support": 0},
    "state": {"federal": 2, "state": 0, "local": 1, "support": 0},
    "local": {"federal": 3, "state": 1, "local": 0, "support": 0},
}


def _all_known(names: list[str], known, what: str) -> list[str]:
    """`names` unchanged when each is in `known`; else ValueError naming the unknown ones."""
    bad = [x for x in names if x not in known]
    if bad:
        raise ValueError(f"{what} (unknown: {', '.join(bad)})")
    return names


class Block(Strict):
    """A named set of action groups that start together (their offsets kept)."""

    name: str
    groups: list[str] = Field(min_length=1)

    @field_validator("groups")
    @classmethod
    def _known(cls, v):
        return _all_known(v, default_catalogue().groups, "catalogue action groups")


class StressFuture(Strict):
    """A named future: events and parameter values imposed on every candidate."""

    name: str
    events: list[Event] = Field(default_factory=list)
    parameters: dict[str, float] = Field(default_factory=dict)


class Futures(Strict):
    """The futures: `draws` Latin-hypercube draws over `parameters` (registry ranges) and the stress futures."""

    draws: int = Field(6, ge=0, le=500)
    parameters: list[str] = Field(default_factory=lambda: ["recession_prob", "backlash_rate", "federal_flip_prob",
                                                            "implementation_failure_rate", "coalition_growth"])
    stress: list[StressFuture] = Field(default_factory=list)

    @field_validator("parameters")
    @classmethod
    def _known(cls, v):
        return _all_known(v, _params.registry(), "registry parameter names")


class RuleChoices(Strict):
    """One rule of the adaptive scenario, and what the search may try for it: each threshold, each
    alternative list of actions, and (with `optional`) leaving the rule out."""

    rule: str
    thresholds: list[float] = Field(default_factory=list, description="values of its above/below threshold "
                                    "(empty: the rule's own)")
    actions: list[list[AdaptAction]] = Field(default_factory=list, description="alternative action lists "
                                             "(empty: the rule's own)")
    optional: bool = True

    @field_validator("actions")
    @classmethod
    def _non_empty(cls, v):
        if any(not a for a in v):
            raise ValueError("non-empty lists of actions")
        return v


class AdaptiveSpace(Strict):
    """Adaptation searched on top of sequencings: the rules (and fallbacks) of `scenario`, each
    with its choices, added to the roadmap's timetable and to the best static candidate's."""

    scenario: str = Field(description="adaptive scenario file whose [[adapt]] rules and [[fallbacks]] are "
                                      "searched (path relative to the search file)")
    budget: int = Field(24, ge=1, le=100_000, description="adaptive candidates evaluated at most, per timetable")
    on: list[Literal["roadmap", "best_static"]] = Field(default_factory=lambda: ["roadmap", "best_static"],
                                                        min_length=1)
    rules: list[RuleChoices] = Field(min_length=1)


class SearchSpec(Strict):
    """A search file: the base scenario, the decision space, the futures, the budget."""

    name: str
    base: str = Field(description="scenario file the candidates vary (path relative to the search file)")
    scale: float = Field(1.0, gt=0, le=20)
    seed: int = Field(0, ge=0)
    replications: int = Field(10, ge=1, le=10_000, description="runs per candidate and future")
    budget: int = Field(60, ge=1, le=100_000, description="candidates evaluated at most")
    confirm_replications: int = Field(0, ge=0, le=10_000, description=(
        "fresh runs per future re-evaluating the best, the most robust and the roadmap after the search "
        "(their own seed; 0: none), so the answers' estimates are not inflated by picking the best of many"))
    optimizer: Literal["auto", "enumerate", "tpe"] = "auto"
    blocks: list[Block] = Field(min_length=1)
    start_years: list[float] = Field(default_factory=lambda: [0.0, 2.0, 4.0], min_length=1)
    paces: list[float] = Field(default_factory=lambda: [0.5], min_length=1)
    leads: list[Literal["all", "federal", "state", "local"]] = Field(default_factory=lambda: ["all"], min_length=1)
    first_where: list[str] = Field(default_factory=lambda: ["default"], min_length=1)
    futures: Futures = Futures()
    adaptive: AdaptiveSpace | None = None

    @field_validator("start_years", "paces")
    @classmethod
    def _within(cls, v, info: ValidationInfo):
        what, lo, hi = {"start_years": ("start years", 0, 9), "paces": ("paces", 0, 1)}[info.field_name]
        if any(not (lo <= x <= hi) for x in v):
            raise ValueError(f"{what} between {lo} and {hi}")
        return v

    @field_validator("first_where")
    @classmethod
    def _where(cls, v):
        bad = [w for w in v if w != "default" and w not in WHERE]
        if bad:
            raise ValueError(f"'default' or one of {', '.join(WHERE)} (unknown: {', '.join(bad)})")
        return v

    @model_validator(mode="after")
    def _disjoint(self):
        seen = {}
        for b in self.blocks:
            for g in b.groups:
                if g in seen:
                    raise ValueError(f"each group in one block only ({g} is in {seen[g]} and {b.name})")
                seen[g] = b.name
        return self

    @property
    def adaptive_size(self) -> int:
        """Adaptive candidates on one timetable (rule settings, off included, less all-off)."""
        n = 1
        for rc in (self.adaptive.rules if self.adaptive else []):
            n *= max(len(rc.thresholds), 1) * max(len(rc.actions), 1) + rc.optional
        return n - all(rc.optional for rc in self.adaptive.rules) if self.adaptive else 0

    @property
    def space_size(self) -> int:
        return len(self.start_years) ** len(self.blocks) * len(self.paces) * len(self.leads) * len(self.first_where)


def load_search(path: str | Path) -> tuple[SearchSpec, ScenarioSpec]:
    """Read a search file and its base scenario; one-line ScenarioError on any problem. With an
    [adaptive] table, the base scenario carries the adaptive scenario's rules and fallbacks (the
    candidates switch them on or off; `base.adapt` is the menu, never run as such)."""
    p = Path(path)
    spec = validate(SearchSpec, read_toml(p, "search"), str(p))
    base_path = (p.parent / spec.base) if not Path(spec.base).is_absolute() else Path(spec.base)
    if not base_path.exists():
        raise ScenarioError(f"{p}: base: expected an existing scenario file (not found: {base_path})")
    base = load_scenario(base_path).model_copy(update={"scale": spec.scale})
    if spec.adaptive is not None:
        a = spec.adaptive
        ad_path = (p.parent / a.scenario) if not Path(a.scenario).is_absolute() else Path(a.scenario)
        if not ad_path.exists():
            raise ScenarioError(f"{p}: adaptive.scenario: expected an existing scenario file (not found: {ad_path})")
        ad = load_scenario(ad_path)
        names = [r.name for r in ad.adapt]
        for i, rc in enumerate(a.rules):
            if rc.rule not in names:
                raise ScenarioError(f"{p}: adaptive.rules.{i}.rule: expected a rule of {ad_path} "
                                    f"({', '.join(names) or 'it has none'}), got {rc.rule!r}")
            rule = ad.adapt[names.index(rc.rule)]
            if rc.thresholds and rule.signpost is None:
                raise ScenarioError(f"{p}: adaptive.rules.{i}.thresholds: expected none (rule {rc.rule!r} has no "
                                    f"signpost)")
        menu = [ad.adapt[names.index(rc.rule)] for rc in a.rules]
        base = base.model_copy(update={"adapt": menu, "fallbacks": list(ad.fallbacks)})
    return spec, base

