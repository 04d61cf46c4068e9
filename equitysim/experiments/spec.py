"""What an experiment is: the TOML schema (pydantic), the design over uncertain parameters
(grid, Latin hypercube or a SALib sampler) and the validated `Experiment` (spec, scenarios,
design) with the order of its runs and chunks.

The file format is described in `equitysim/experiments/__init__.py` and docs/experiments.md.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, field_validator, model_validator

from .. import params as _params
from ..model import WORLD_PARAMS
from ..scenario import ScenarioError, ScenarioSpec, _describe, load_scenario, read_toml
from ..schema import Strict

SAMPLERS = ("sobol", "morris", "fast", "latin", "finite_diff")
MAX_POINTS = 100_000  # design points; each runs every scenario x replications times


class ExperimentError(ScenarioError):
    """A bad experiment file or results directory; str(err) is one line: 'where: field: expected ...'."""


class Design(Strict):
    """Which parameter values each design point sets (on top of every scenario)."""

    method: Literal["none", "grid", "lhs", "salib"] = "none"
    sampler: Literal["sobol", "morris", "fast", "latin", "finite_diff"] | None = None
    samples: int | None = Field(None, ge=1, le=MAX_POINTS)
    levels: int | None = Field(None, ge=2, le=1000)
    seed: int | None = Field(None, ge=0)
    parameters: list[str] | dict[str, tuple[float, float]] | None = None
    options: dict[str, bool | int | float | str] = Field(default_factory=dict)

    @field_validator("parameters")
    @classmethod
    def _known(cls, v):
        if v is None:
            return v
        reg = _params.registry()
        names = list(v)
        if not names:
            raise ValueError("a non-empty list or table of registry parameter names")
        if len(set(names)) != len(names):
            raise ValueError("each parameter once")
        for k in names:
            if k not in reg:
                raise ValueError(f"parameter names from the registry (unknown: {k}; see `equitysim params`)")
        if isinstance(v, dict):
            for k, (lo, hi) in v.items():
                p = reg[k]
                if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                    raise ValueError(f"[low, high] with low < high (got {k} = [{lo}, {hi}])")
                if lo < p.low or hi > p.high:
                    raise ValueError(f"a range within the registry's [{p.low:g}, {p.high:g}] for {k} "
                                     f"(got [{lo:g}, {hi:g}])")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        m = self.method
        if m == "none":
            if self.parameters or self.samples or self.levels or self.sampler or self.options:
                raise ValueError("no parameters, samples, levels, sampler or options with method 'none' "
                                 "(choose grid, lhs or salib to vary parameters)")
        elif m == "grid":
            if self.levels is None:
                raise ValueError("levels (values per parameter) with method 'grid'")
            if not self.parameters:
                raise ValueError("named parameters with method 'grid' (a full grid over many is too big)")
            if self.samples or self.sampler or self.options:
                raise ValueError("no samples, sampler or options with method 'grid'")
            if self.levels ** len(self.parameters) > MAX_POINTS:
                raise ValueError(f"at most {MAX_POINTS:,} grid points (got {self.levels}^{len(self.parameters)})")
        else:
            if self.samples is None:
                raise ValueError(f"samples (number of points{', the base sample N' if m == 'salib' else ''}) "
                                 f"with method '{m}'")
            if self.levels:
                raise ValueError(f"no levels with method '{m}' (levels is for 'grid')")
            if m == "salib" and self.sampler is None:
                raise ValueError(f"a sampler ({', '.join(SAMPLERS)}) with method 'salib'")
            if m == "lhs" and (self.sampler or self.options):
                raise ValueError("no sampler or options with method 'lhs' (use method 'salib' for those)")
        return self


class Outputs(Strict):
    """What each run keeps besides whether each indicator is met (always kept)."""

    values: bool = True
    risks: bool = True
    metrics: bool = True
    trajectories: bool = False
    # The statistics the calibration compares with history (validation.trace: reforms, plans,
    # laws, turnover, elections, recessions, indices), as `hist.<statistic>` columns; a run then
    # traces the model instead of running it for its indicators (no met/value/risk columns).
    history: bool = False


class ExperimentSpec(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    scenarios: Literal["all"] | list[str] = "all"
    scenarios_dir: str = "../scenarios"
    replications: int = Field(ge=1, le=1_000_000)
    seed: int = Field(ge=0)
    scale: float = Field(1.0, gt=0, le=20)
    years: int | None = Field(None, ge=1, le=20)
    chunk_size: int = Field(20, ge=1, le=100_000)
    # Replication r of every design point draws the same random stream (key (0, r) instead of
    # (point, r)): common random numbers across points, so that parameter effects are not buried
    # in simulation noise (used by sensitivity analysis).
    crn_across_points: bool = False
    # What a run's key (first element, replication r second) is taken from: "point" (p, r), common
    # random numbers across scenarios; "replication" (0, r), common across scenarios and points
    # (what crn_across_points = true means); "scenario" (i, r) with i the scenario's index in the
    # experiment, so scenario i replication r draws the same stream in every experiment that lists
    # it i-th (used by the sequencing search, where scenario i is future i).
    key_by: Literal["point", "replication", "scenario"] = "point"
    design: Design = Design()
    outputs: Outputs = Outputs()
    # Where each run's parameters come from before the design's values apply (posterior.py):
    # "posterior" (the default: the shipped posterior of the calibration to history; replication r
    # draws by its block, the same draw at every point and in every scenario, and the same as
    # `equitysim run` with the same seed), "defaults" (the registry's values) or a calibration
    # directory / posterior CSV (relative to the experiment file).
    parameters: str = Field("posterior", min_length=1)

    @field_validator("scenarios")
    @classmethod
    def _non_empty(cls, v):
        if isinstance(v, list) and (not v or len(set(v)) != len(v)):
            raise ValueError("'all' or a non-empty list of distinct scenario names or paths")
        return v

    @model_validator(mode="after")
    def _one_key(self):
        if self.crn_across_points and self.key_by == "scenario":
            raise ValueError("crn_across_points = true only with key_by 'point' or 'replication' "
                             "(it means key_by = 'replication')")
        return self

    @property
    def run_key(self) -> str:
        """The key_by in effect: "replication" when crn_across_points is set."""
        return "replication" if self.crn_across_points else self.key_by


def _validate(data: dict, source: str) -> ExperimentSpec:
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as e:
        loc, expected = _describe(e.errors()[0])
        raise ExperimentError(f"{source}: {loc}: {expected}") from None

# ------------------------------------------------------------------------------------- experiment

@dataclass(frozen=True, eq=False)
class Experiment:
    """A validated experiment: its spec, the scenarios it runs (scale and years applied) and its
    design (one row per point, one column per varied parameter)."""

    spec: ExperimentSpec
    scenarios: tuple[ScenarioSpec, ...]
    design: pd.DataFrame
    source: str = "<experiment>"

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.scenarios]

    @property
    def n_points(self) -> int:
        return len(self.design)

    @property
    def n_runs(self) -> int:
        return len(self.scenarios) * self.n_points * self.spec.replications

    @property
    def n_chunks(self) -> int:
        return -(-self.n_runs // self.spec.chunk_size)

    def runs(self) -> Iterator[tuple[int, int, int]]:
        """(scenario index, point, replication) in execution order: point, then scenario, then
        replication, so consecutive runs share a world when world parameters vary by point."""
        s, r = len(self.scenarios), self.spec.replications
        for p in range(self.n_points):
            for i in range(s):
                for k in range(r):
                    yield i, p, k

    def run_at(self, i: int) -> tuple[int, int, int]:
        """The i-th run of `runs()`."""
        rest, k = divmod(i, self.spec.replications)
        p, s = divmod(rest, len(self.scenarios))
        return s, p, k

    def chunk(self, c: int) -> list[tuple[int, int, int]]:
        """The runs of chunk c: chunk_size consecutive runs of `runs()` (fixed by the experiment,
        whatever the number of workers)."""
        size = self.spec.chunk_size
        return [self.run_at(i) for i in range(c * size, min((c + 1) * size, self.n_runs))]

    def identity(self) -> dict:
        """What must not change between a sweep and its resume (everything that decides a result)."""
        exp = self.spec.model_dump(mode="json")
        # where the scenarios were found does not matter, only what they say (compared below)
        for k in ("description", "scenarios", "scenarios_dir"):
            exp.pop(k)
        # left out at its default, so that directories made before the option existed still resume
        if exp["key_by"] == "point":
            exp.pop("key_by")
        if not exp["outputs"]["history"]:
            exp["outputs"].pop("history")
        if exp["parameters"] == "defaults":
            exp.pop("parameters")
        else:   # what the runs draw from, not where it was found
            exp["parameters"] = self.parameter_source().digest()
        return {"experiment": exp,
                "scenarios": [s.model_dump(mode="json") for s in self.scenarios],
                "design": _design_hash(self.design)}

    def parameter_source(self):
        from ..posterior import load
        value = self.spec.parameters
        if value not in ("posterior", "defaults") and not Path(value).is_absolute():
            value = str(Path(self.source).parent / value) if self.source and not self.source.startswith("<") else value
        return load(value)

    def identity_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()


def _design_hash(design: pd.DataFrame) -> str:
    # 12 significant digits: robust to last-bit differences between machines, not to a real change
    payload = {"columns": list(design.columns),
               "values": [[float(f"{x:.12g}") for x in row] for row in design.to_numpy(dtype=float)],
               "points": len(design)}
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def parse_experiment(data: dict, source: str = "<experiment>", base_dir: str | Path = ".",
                     scenarios: Iterable[ScenarioSpec] | None = None) -> Experiment:
    """Validate an experiment given as a dict; scenario names and paths resolve against base_dir.

    `scenarios`: ScenarioSpec objects already made (e.g. by code) to run instead of files; `data`
    then names none (no `scenarios` or `scenarios_dir`), and the spec's `scenarios` becomes their
    names. The experiment's scale (and years, if given) apply to them as to files, and their full
    contents are part of the experiment's identity, so a resume checks them.
    """
    if scenarios is None:
        spec = _validate(data, source)
        scenarios = _resolve_scenarios(spec, Path(base_dir), source)
    else:
        named = [k for k in ("scenarios", "scenarios_dir") if k in data]
        if named:
            raise ExperimentError(f"{source}: {named[0]}: expected no scenario names or folder when the "
                                  f"scenarios are given as objects")
        spec = _validate(data, source)
        scenarios = _prepare_scenarios(spec, list(scenarios), source)
        spec = spec.model_copy(update={"scenarios": [s.name for s in scenarios]})
    try:
        design = make_design(spec.design, spec.seed, scenarios)
    except ExperimentError as e:
        raise ExperimentError(f"{source}: {e}") from None
    exp = Experiment(spec, scenarios, design, source)
    if spec.parameters != "defaults":
        try:
            exp.parameter_source()
        except ScenarioError as e:
            raise ExperimentError(f"{source}: parameters: {str(e).removeprefix('--parameters: ')}") from None
    return exp


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; raises ExperimentError (or, for a scenario it names,
    ScenarioError) with a one-line message."""
    p = Path(path)
    return parse_experiment(read_toml(p, "experiment", ExperimentError), str(p), p.parent)


def _resolve_scenarios(spec: ExperimentSpec, base: Path, source: str) -> tuple[ScenarioSpec, ...]:
    folder = base / spec.scenarios_dir
    if spec.scenarios == "all":
        files = sorted(folder.glob("*.toml"))
        if not files:
            raise ExperimentError(f"{source}: scenarios_dir: expected a folder with scenario files, "
                                  f"got {spec.scenarios_dir!r} ({folder} has no .toml file)")
    else:
        files = []
        for entry in spec.scenarios:
            f = base / entry if (entry.endswith(".toml") or "/" in entry) else folder / f"{entry}.toml"
            if not f.is_file():
                raise ExperimentError(f"{source}: scenarios: expected scenario names in {folder} or paths "
                                      f"to .toml files, got {entry!r} ({f} does not exist)")
            files.append(f)
    return _prepare_scenarios(spec, [load_scenario(f) for f in files], source)


def _prepare_scenarios(spec: ExperimentSpec, scenarios: list[ScenarioSpec], source: str) -> tuple[ScenarioSpec, ...]:
    """The experiment's scale and years applied; one scenario per name."""
    if not scenarios:
        raise ExperimentError(f"{source}: scenarios: expected at least one scenario")
    update = {"scale": spec.scale}
    if spec.years is not None:
        update["years"] = spec.years
    scenarios = tuple(s.model_copy(update=update) for s in scenarios)
    names = [s.name for s in scenarios]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ExperimentError(f"{source}: scenarios: expected scenarios with distinct names "
                              f"(more than one is named {', '.join(dup)})")
    return scenarios

# ----------------------------------------------------------------------------------------- design

def design_parameters(design: Design, scenarios: Iterable[ScenarioSpec] = ()) -> dict[str, tuple[float, float]]:
    """The parameters a design varies and their ranges.

    Named parameters keep the experiment's ranges, or the registry's when given as a list. When the
    design names none, it varies every registry parameter except the world-synthesis ones (each
    value of those builds another world, which is slower), the structural constants (group
    `structural`: reference points, caps and adjustment speeds of the mechanisms; name them to vary
    them) and those a scenario fixes in its `[parameters]` (varying them would erase what
    distinguishes that scenario).
    """
    if design.method == "none":
        return {}
    reg = _params.registry()
    if design.parameters is None:
        fixed = {k for s in scenarios for k in s.parameters}
        return {k: (p.low, p.high) for k, p in reg.items()
                if k not in WORLD_PARAMS and p.group != "structural" and k not in fixed}
    if isinstance(design.parameters, dict):
        return {k: (float(lo), float(hi)) for k, (lo, hi) in design.parameters.items()}
    return {k: (reg[k].low, reg[k].high) for k in design.parameters}


def make_design(design: Design, seed: int, scenarios: Iterable[ScenarioSpec] = ()) -> pd.DataFrame:
    """One row per design point (index 0..P-1), one column per varied parameter.

    grid: every combination of `levels` evenly spaced values per parameter (ends included);
    lhs: SALib's Latin hypercube with `samples` points; salib: the named SALib sampler with base
    sample `samples` and `options` passed on (e.g. calc_second_order = false for sobol). Random
    designs are seeded by `design.seed`, else the master seed. Random designs follow each parameter's
    registry distribution (uniform, or triangular peaked at the default) over its range; grids are
    evenly spaced.
    """
    ranges = design_parameters(design, scenarios)
    if design.method == "none":
        return pd.DataFrame(index=pd.RangeIndex(1, name="point"))
    names = list(ranges)
    n_points = _design_size(design, len(names))
    if n_points > MAX_POINTS:
        what = "levels" if design.method == "grid" else "samples"
        raise ExperimentError(f"design.{what}: expected at most {MAX_POINTS:,} design points "
                              f"(this design has {n_points:,} over {len(names)} parameters)")
    if design.method == "grid":
        axes = [np.linspace(lo, hi, design.levels) for lo, hi in ranges.values()]
        values = np.array(list(itertools.product(*axes)), dtype=float)
    else:
        # Registry distributions (uniform or triangular peaked at the default) over the ranges.
        problem = _params.salib_problem(names, ranges)
        sampler = "latin" if design.method == "lhs" else design.sampler
        values = _salib_sample(sampler, problem, design.samples, design.options,
                               seed if design.seed is None else design.seed)
    df = pd.DataFrame(values, columns=names)
    df.index = pd.RangeIndex(len(df), name="point")
    return df


def _design_size(design: Design, d: int) -> int:
    """Number of points a design will have over d parameters (before sampling it)."""
    if design.method == "grid":
        return design.levels ** d
    n = design.samples
    if design.method == "lhs":
        return n
    second = design.options.get("calc_second_order", True)
    factor = {"sobol": 2 * d + 2 if second else d + 2, "morris": d + 1, "fast": d, "latin": 1,
              "finite_diff": d + 1}[design.sampler]
    return n * factor


def _salib_sample(sampler: str, problem: dict, n: int, options: dict, seed: int) -> np.ndarray:
    import warnings
    from importlib import import_module

    module = import_module("SALib.sample." + {"fast": "fast_sampler"}.get(sampler, sampler))
    try:
        with warnings.catch_warnings():
            # sobol warns when N is not a power of 2; the design is still valid
            warnings.simplefilter("ignore", UserWarning)
            out = module.sample(problem, n, seed=seed, **options)
    except TypeError as e:
        raise ExperimentError(f"design.options: expected options that SALib's {sampler} sampler accepts "
                              f"({_one_line(e)})") from None
    except Exception as e:  # a third-party sampler refusing the settings: say so in one line
        raise ExperimentError(f"design: expected settings SALib's {sampler} sampler accepts "
                              f"({e.__class__.__name__}: {_one_line(e)})") from None
    return np.asarray(out, dtype=float)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:200]

