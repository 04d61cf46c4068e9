"""Scenario files: a sequencing of action groups plus strategy knobs, validated by a schema.

A scenario is TOML a strategist edits without Python:

    name = "roadmap"
    [strategy]
    pacing = 0.5
    [[sequence]]
    group = "federal_administrative"
    start_year = 0
    end_year = 2

`load_scenario(path)` returns a `ScenarioSpec` or raises `ScenarioError` whose message is one
line naming the file, the field and what was expected.

Mesa 3.5 passes model parameters as a typed `Scenario` (mesa.experimental.scenarios); the only
import of that experimental module is here, in `EquityScenario`.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_serializer, model_validator

from . import params as _params
from .actions import WHERE, default_catalogue
from .schema import Strict

try:  # the one place the experimental Mesa API is touched
    from mesa.experimental.scenarios import Scenario as _MesaScenario
except ImportError:  # pragma: no cover - older Mesa
    _MesaScenario = object


class ScenarioError(ValueError):
    """A scenario file is malformed; str(err) is one line: 'file: field: expected ...'."""


def _finite(v: float) -> float:
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError("a finite number")
    return v


class SequenceEntry(Strict):
    """One action group switched on over a window of years, for a set of states."""

    group: str
    start_year: float = Field(0.0, ge=0, le=20)
    end_year: float | None = Field(None, ge=0, le=30)
    where: str | list[str] = "default"
    intensity: float = Field(1.0, ge=0, le=5)
    targets: dict[str, float] = Field(default_factory=dict)

    @field_validator("group")
    @classmethod
    def _known_group(cls, v: str) -> str:
        groups = default_catalogue().groups
        if v not in groups:
            raise ValueError(f"one of the catalogue's action groups ({', '.join(groups)})")
        return v

    @field_validator("where")
    @classmethod
    def _known_where(cls, v):
        if isinstance(v, str):
            if v != "default" and v not in WHERE:
                raise ValueError(f"'default', one of {', '.join(WHERE)}, or a list of state codes and districts")
        else:
            from .places import PlaceError, district_leaid
            from .world import load_states
            codes = set(load_states().index)
            if not v:
                raise ValueError("a non-empty list of two-letter state codes and districts (NCES ids or names)")
            out = []
            for c in v:
                if c in codes:
                    out.append(c)
                    continue
                if re.fullmatch(r"[A-Za-z]{2}", c):
                    raise ValueError(f"a list of two-letter state codes and districts (unknown: {c})")
                try:
                    out.append(district_leaid(c))
                except PlaceError as e:
                    raise ValueError(f"a list of state codes and districts ({e})") from None
            return out
        return v

    @field_validator("targets")
    @classmethod
    def _known_targets(cls, v: dict) -> dict:
        ids = {a.id for a in default_catalogue().actions}
        for k, x in v.items():
            if k not in ids:
                raise ValueError(f"action ids from the catalogue as keys (unknown: {k})")
            if not (x >= 0 and math.isfinite(x)):
                raise ValueError(f"non-negative target counts (got {k} = {x})")
        return v

    @model_validator(mode="after")
    def _window(self):
        if self.end_year is not None and self.end_year <= self.start_year:
            raise ValueError("end_year greater than start_year")
        return self


class Event(Strict):
    """A named stress event forced on every replication (for stress tests and robustness search)."""

    kind: Literal["recession", "hostile_federal", "hostile_states", "court_ruling"]
    year: float = Field(ge=0, le=20)


class Strategy(Strict):
    """The roadmap's strategy levers (each risk's mitigation is one of them)."""

    coalition_investment: float = Field(0.5, ge=0, le=1)
    pacing: float = Field(0.5, ge=0, le=1)
    funding_diversification: float = Field(0.3, ge=0, le=1)
    legal_design: Literal["within_law", "race_conscious"] = "within_law"
    technical_assistance: float = Field(0.5, ge=0, le=1)
    pilot_first: bool = True
    equity_as_lens: float | None = Field(None, ge=0, le=1)
    budget_multiplier: float = Field(1.0, ge=0, le=5)
    buy_in_multiplier: float = Field(1.0, ge=0, le=2)
    lock_in: bool = True
    # the guide's burnout mitigations (pitfall 4), shares of the maximum, each with a cost
    leadership_rotation: float = Field(0.0, ge=0, le=1)
    release_time: float = Field(0.0, ge=0, le=1)   # stipends and release time for equity teams
    # districts decide on their own outcome change (refine, replace, abandon, scale); False: keep everything
    reflect_on_outcomes: bool = True


# ---------------------------------------------------------------- adaptive plans ([[adapt]] rules)
# When a rule is checked, in quarters: the roadmap's evaluation timeline ("Progress reports:
# Quarterly; Outcome evaluation: Annual; Comprehensive review: Every 3 years"). A calendar, not a
# belief about the world.
REVIEW_QUARTERS = {"quarterly": 1, "yearly": 4, "every_3_years": 12}
# Checks on an event (the roadmap's "Strategic adjustment: As needed"): the quarter in which a
# recession starts, or in which the federal administration turns hostile.
CHECK_EVENTS = ("recession_starts", "federal_turns_hostile")
# What a rule watches (mechanisms/adaptation.py computes each with a few numpy reductions):
SIGNPOSTS = {
    "indicator_progress": "progress of one success indicator (`indicator`) along a straight path from its "
                          "baseline to its target by its horizon year, at the last year end (1 = on the path)",
    "indicators_on_track": "share of the success indicators on or ahead of their path at the last year end",
    "metric": "a year-end metric (`metric`) as a share of its baseline value",
    "risk_count": "events of a risk counter (`risk`) over the last `window_years` years",
    "opposition": "national organised opposition (enrollment-weighted mean of the states', 0-1)",
    "support_funding_share": "share of the support actions in force the campaign budget pays for (1 = fully funded)",
    "capital": "mean political capital of the state governments (0-1)",
    "burnout": "mean staff burnout in districts running at least one program (0-1)",
    "buy_in": "mean staff and community buy-in over all districts (0-1)",
    "coalition_breadth": "national coalition breadth (0-1)",
    "in_recession": "1 during a recession, else 0",
    "federal_hostile": "1 while the federal administration is hostile, else 0",
}
# Strategy knobs a rule may change during a run (the others are read once, when the model starts).
ADAPTIVE_KNOBS = ("pacing", "coalition_investment", "funding_diversification", "technical_assistance",
                  "legal_design", "lock_in")
# What each `do` needs besides itself.
ACTION_FIELDS = {"pause": ("group",), "resume": ("group",), "shift": ("group", "years"),
                 "scale": ("group", "factor"), "move": ("group", "to", "share"),
                 "set": ("knob", "value"), "adjust": ("knob", "by"), "switch": ("fallback",)}


def _known_group(v: str) -> str:
    groups = default_catalogue().groups
    if v not in groups:
        raise ValueError(f"one of the catalogue's action groups ({', '.join(groups)})")
    return v


class AdaptAction(Strict):
    """What a rule does when it fires (`do`):

    pause / resume a group's push; shift a group's entries not yet finished later (`years` > 0) or
    earlier (< 0, never before now); scale a group's push (`factor`); move a `share` of a group's
    push (its intensity: the staff, money and organising behind it) to group `to`; set or adjust a
    strategy knob; switch to a named fallback sequencing (`[[fallbacks]]`)."""

    do: Literal["pause", "resume", "shift", "scale", "move", "set", "adjust", "switch"]
    group: str | None = None
    to: str | None = None
    years: float | None = Field(None, ge=-20, le=20)
    factor: float | None = Field(None, ge=0, le=5)
    share: float | None = Field(None, ge=0, le=1)
    knob: Literal["pacing", "coalition_investment", "funding_diversification", "technical_assistance",
                  "legal_design", "lock_in"] | None = None
    value: float | bool | str | None = None
    by: float | None = Field(None, ge=-1, le=1)
    fallback: str | None = None

    @field_validator("group", "to")
    @classmethod
    def _groups(cls, v):
        return None if v is None else _known_group(v)

    @model_validator(mode="after")
    def _needs(self):
        need = ACTION_FIELDS[self.do]
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"'{missing[0]}' for do = '{self.do}' (it needs {', '.join(need)})")
        extra = [f for f in ("group", "to", "years", "factor", "share", "knob", "value", "by", "fallback")
                 if f not in need and getattr(self, f) is not None]
        if extra:
            raise ValueError(f"only {', '.join(need)} for do = '{self.do}' (not {extra[0]})")
        if self.do == "set":
            Strategy.model_validate({self.knob: self.value})  # the knob's own type and range
        if self.do == "adjust" and self.knob in ("legal_design", "lock_in"):
            raise ValueError(f"do = 'set' for {self.knob} (it is not a number)")
        if self.do == "move" and self.group == self.to:
            raise ValueError("'to' a group other than 'group'")
        return self


class AdaptRule(Strict):
    """One adaptation rule: checked at the roadmap's review points (`check`), it fires when its
    signpost is `above` (or `below`) the threshold, then waits `cooldown_years` before it may fire
    again. A rule with no signpost fires at every check (for event checks). A rule fires only if
    one of its actions changes the plan or a knob (resuming a group that is not paused does not)."""

    name: str = Field(min_length=1)
    description: str = ""
    check: Literal["quarterly", "yearly", "every_3_years", "recession_starts", "federal_turns_hostile"]
    signpost: Literal[tuple(SIGNPOSTS)] | None = None
    indicator: str | None = None
    metric: str | None = None
    risk: str | None = None
    window_years: float | None = Field(None, gt=0, le=20)
    above: float | None = None
    below: float | None = None
    cooldown_years: float = Field(ge=0, le=30)
    max_fires: int | None = Field(None, ge=1)
    actions: list[AdaptAction] = Field(min_length=1)

    @field_validator("indicator")
    @classmethod
    def _indicator(cls, v):
        from .indicators import indicators
        ids = [i.id for i in indicators()]
        if v is not None and v not in ids:
            raise ValueError(f"a success indicator id ({', '.join(ids)})")
        return v

    @field_validator("metric")
    @classmethod
    def _metric(cls, v):
        from .indicators import TRAJECTORY_METRICS
        if v is not None and v not in TRAJECTORY_METRICS:
            raise ValueError(f"a year-end metric ({', '.join(TRAJECTORY_METRICS)})")
        return v

    @field_validator("risk")
    @classmethod
    def _risk(cls, v):
        from .model import RISK_COUNTS
        names = RISK_COUNTS + ("recessions",)
        if v is not None and v not in names:
            raise ValueError(f"a risk counter ({', '.join(names)})")
        return v

    @field_validator("above", "below")
    @classmethod
    def _finite_threshold(cls, v):
        return None if v is None else _finite(v)

    @model_validator(mode="after")
    def _signpost(self):
        needs = {"indicator_progress": "indicator", "metric": "metric", "risk_count": "risk"}
        for kind, f in needs.items():
            if self.signpost == kind and getattr(self, f) is None:
                raise ValueError(f"'{f}' for signpost = '{kind}'")
            if self.signpost != kind and getattr(self, f) is not None:
                raise ValueError(f"no '{f}' unless signpost = '{kind}'")
        if self.signpost == "risk_count" and self.window_years is None:
            raise ValueError("'window_years' for signpost = 'risk_count' (years counted back)")
        if self.signpost != "risk_count" and self.window_years is not None:
            raise ValueError("no 'window_years' unless signpost = 'risk_count'")
        n = (self.above is not None) + (self.below is not None)
        if self.signpost is None and n:
            raise ValueError("a signpost for the threshold (or no 'above'/'below')")
        if self.signpost is not None and n != 1:
            raise ValueError("exactly one of 'above' or 'below' (the signpost's threshold)")
        return self

    @property
    def period_quarters(self) -> int | None:
        """Quarters between scheduled checks (None for an event check)."""
        return REVIEW_QUARTERS.get(self.check)


class Fallback(Strict):
    """A named fallback sequencing a rule may switch to: its entries' years count from the switch."""

    name: str = Field(min_length=1)
    description: str = ""
    sequence: list[SequenceEntry] = Field(min_length=1)


class ScenarioSpec(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    years: int = Field(10, ge=1, le=20)
    scale: float = Field(1.0, gt=0, le=20)
    world_seed: int = Field(2027, ge=0)
    strategy: Strategy = Strategy()
    sequence: list[SequenceEntry] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    parameters: dict[str, float] = Field(default_factory=dict)
    uncertainty: dict[str, tuple[float, float]] = Field(default_factory=dict)
    adapt: list[AdaptRule] = Field(default_factory=list)
    fallbacks: list[Fallback] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _drop_empty_adaptation(self, handler):
        """A static scenario dumps as before (no `adapt`, no `fallbacks`), so the identities of
        results written before adaptive plans existed still match."""
        data = handler(self)
        if isinstance(data, dict):
            for k in ("adapt", "fallbacks"):
                if k in data and not data[k]:
                    del data[k]
        return data

    @model_validator(mode="after")
    def _adaptation(self):
        names = [r.name for r in self.adapt]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise ValueError(f"@adapt.{names.index(dup)}.name|rule names used once each ('{dup}' is used twice)")
        fb = [f.name for f in self.fallbacks]
        planned = {e.group for e in self.sequence} | {e.group for f in self.fallbacks for e in f.sequence}
        for i, r in enumerate(self.adapt):
            for j, a in enumerate(r.actions):
                where = f"adapt.{i}.actions.{j}"
                if a.do == "switch" and a.fallback not in fb:
                    raise ValueError(f"@{where}.fallback|a fallback named in [[fallbacks]] "
                                     f"({', '.join(fb) or 'none defined'}), got {a.fallback!r}")
                for g in (a.group, a.to):
                    if g is not None and g not in planned:
                        raise ValueError(f"@{where}|a group in the scenario's sequence or a fallback's "
                                         f"('{g}' is in neither)")
        return self

    @field_validator("parameters")
    @classmethod
    def _known_params(cls, v: dict) -> dict:
        reg = _params.registry()
        for k, x in v.items():
            if k not in reg:
                raise ValueError(f"parameter names from the registry (unknown: {k}; see `equitysim params`)")
            _finite(x)
        return v

    @field_validator("uncertainty")
    @classmethod
    def _known_ranges(cls, v: dict) -> dict:
        reg = _params.registry()
        for k, (lo, hi) in v.items():
            if k not in reg:
                raise ValueError(f"parameter names from the registry (unknown: {k}; see `equitysim params`)")
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"[low, high] with low < high (got {k} = [{lo}, {hi}])")
        return v

    def param_values(self) -> dict[str, float]:
        """Registry defaults with this scenario's overrides applied."""
        return _params.resolve(self.parameters)

    def with_parameters(self, **values: float) -> "ScenarioSpec":
        return self.model_copy(update={"parameters": {**self.parameters, **values}})


_EXPECT = {
    "less_than_equal": "a number <= {le}",
    "less_than": "a number < {lt}",
    "greater_than_equal": "a number >= {ge}",
    "greater_than": "a number > {gt}",
    "float_parsing": "a number",
    "float_type": "a number",
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "string_too_short": "a non-empty string",
    "literal_error": "one of {expected}",
    "dict_type": "a table",
    "list_type": "a list",
    "model_type": "a table",
    "tuple_type": "a [low, high] pair",
    "too_short": "a [low, high] pair",
    "too_long": "a [low, high] pair",
}


def _describe(err: dict) -> tuple[str, str]:
    """(field path, 'expected ..., got ...') for the first pydantic error."""
    loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        return loc, "expected no such field (unknown field; check the spelling)"
    if kind == "missing":
        return loc, "expected a value (the field is required)"
    if kind in _EXPECT:
        expected = _EXPECT[kind].format(**err.get("ctx", {}))
    else:
        expected = err["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            expected = expected.removeprefix(prefix)
        if expected.startswith("@") and "|" in expected:   # a check across fields naming its own field
            where, expected = expected[1:].split("|", 1)
            loc = ".".join(x for x in (".".join(str(x) for x in err["loc"]), where) if x)
            return loc, f"expected {expected}"
    got = err.get("input")
    got_s = f", got {got!r}" if not isinstance(got, (dict, list)) else ""
    return loc, f"expected {expected}{got_s}"


def parse_scenario(data: dict, source: str = "<scenario>") -> ScenarioSpec:
    return validate(ScenarioSpec, data, source)


def read_toml(path: str | Path, what: str, error: type[ScenarioError] = ScenarioError) -> dict:
    """The table in a TOML file; `error` (a ScenarioError) with one line naming the file otherwise.
    `what` says what the file should be ("scenario", "experiment", ...)."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise error(f"{p}: (file): expected an existing {what} file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{p}: (file): expected a readable UTF-8 TOML file ({e.__class__.__name__})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise error(f"{p}: (syntax): expected valid TOML ({e})") from None


def validate(model: type[BaseModel], data: dict, source: str, error: type[ScenarioError] = ScenarioError):
    """`model` validated from `data`; `error` with one line (source: field: expected ...) otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        field, expected = _describe(e.errors()[0])
        raise error(f"{source}: {field}: {expected}") from None


def load_scenario(path: str | Path) -> ScenarioSpec:
    """Read and validate a scenario file; raises ScenarioError with a one-line message."""
    return parse_scenario(read_toml(path, "scenario"), str(path))


class EquityScenario(_MesaScenario):
    """Mesa-native parameter object: the validated spec plus the resolved parameter values."""

    spec: ScenarioSpec = None
    params: dict = None

    @classmethod
    def from_spec(cls, spec: ScenarioSpec, rng=None) -> "EquityScenario":
        return cls(rng=rng, spec=spec, params=spec.param_values())
