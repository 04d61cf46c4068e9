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
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

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
                raise ValueError(f"'default', one of {', '.join(WHERE)}, or a list of state codes")
        else:
            from .world import load_states
            codes = set(load_states().index)
            bad = [c for c in v if c not in codes]
            if bad or not v:
                raise ValueError(f"a non-empty list of two-letter state codes (unknown: {', '.join(bad)})")
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
