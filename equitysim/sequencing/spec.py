"""The search file: the decision space (blocks of action groups, start years, paces, leading
level, where state action starts), the futures, the budget and the confirmation runs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .. import params as _params
from ..actions import WHERE, default_catalogue
from ..scenario import Event, ScenarioError, ScenarioSpec, load_scenario, read_toml, validate
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
    def space_size(self) -> int:
        return len(self.start_years) ** len(self.blocks) * len(self.paces) * len(self.leads) * len(self.first_where)


def load_search(path: str | Path) -> tuple[SearchSpec, ScenarioSpec]:
    """Read a search file and its base scenario; one-line ScenarioError on any problem."""
    p = Path(path)
    spec = validate(SearchSpec, read_toml(p, "search"), str(p))
    base_path = (p.parent / spec.base) if not Path(spec.base).is_absolute() else Path(spec.base)
    if not base_path.exists():
        raise ScenarioError(f"{p}: base: expected an existing scenario file (not found: {base_path})")
    base = load_scenario(base_path).model_copy(update={"scale": spec.scale})
    return spec, base

