"""Experiments at scale: scenarios x a design over uncertain parameters x replications, run in
chunks on joblib (loky), dask or ray, streamed to a resumable Parquet dataset, then summarised
(P(met) with Wilson intervals) and compared (paired differences with Newcombe intervals).

An experiment file is TOML, validated like a scenario file:

    name = "sequencing"
    scenarios = "all"              # or a list of names in scenarios_dir, or paths to .toml files
    replications = 500             # per design point
    seed = 1                       # master seed
    scale = 1.0                    # world scale for every scenario
    chunk_size = 20                # runs per chunk (= per Parquet file)
    key_by = "point"               # random streams: point (default) | replication | scenario
    [design]
    method = "lhs"                 # none | grid | lhs | salib
    samples = 50                   # lhs / salib: number of points (salib: base sample N)
    parameters = ["backlash_rate"] # ranges from the registry; or a table name = [low, high]
    [outputs]
    trajectories = false           # yearly metric trajectories (indicators are always kept)

Reproducibility: the run with key (design point p, replication r) draws its random stream from
`SeedSequence(seed, spawn_key=(p, r))` (`ensemble.replication_rng`), the same in every scenario
(common random numbers), so a run's result depends only on the experiment, never on the backend,
the number of workers, the order of execution or a resume. `key_by` changes the key's first
element: "replication" uses 0 (the same stream at every point too, as `crn_across_points = true`
does), "scenario" uses the scenario's index i in the experiment (key (i, r): each scenario draws
its own streams, shared by every point). Chunks are fixed by the experiment (not by the number
of workers), so the dataset's files are the same too.

On disk (`out/`): `experiment.json` (the manifest: spec, scenarios, design hash, package versions,
seed, start time), `runs/chunk-NNNNNN.parquet` (one row per run) and, if asked,
`trajectories/chunk-NNNNNN.parquet`. Every file is written to a hidden temporary name, flushed to
disk and renamed, so a reader never sees half a file; a chunk is done when its `runs/` file exists.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import platform
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import indicators as _ind
from . import params as _params
from .ensemble import run_replication
from .model import WORLD_PARAMS
from .scenario import ScenarioError, ScenarioSpec, _describe, load_scenario, read_toml

FORMAT = 1
MANIFEST = "experiment.json"
LOCK = ".lock"
SAMPLERS = ("sobol", "morris", "fast", "latin", "finite_diff")
BACKENDS = ("loky", "dask", "ray")
Z95 = 1.959964
MAX_POINTS = 100_000  # design points; each runs every scenario x replications times
_CHUNK_RE = re.compile(r"^chunk-(\d+)\.parquet$")


class ExperimentError(ScenarioError):
    """A bad experiment file or results directory; str(err) is one line: 'where: field: expected ...'."""


# ------------------------------------------------------------------------------------------ schema

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Design(_Strict):
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


class Outputs(_Strict):
    """What each run keeps besides whether each indicator is met (always kept)."""

    values: bool = True
    risks: bool = True
    metrics: bool = True
    trajectories: bool = False


class ExperimentSpec(_Strict):
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
        return {"experiment": exp,
                "scenarios": [s.model_dump(mode="json") for s in self.scenarios],
                "design": _design_hash(self.design)}

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
    return Experiment(spec, scenarios, design, source)


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
    value of those builds another world, which is slower) and those a scenario fixes in its
    `[parameters]` (varying them would erase what distinguishes that scenario).
    """
    if design.method == "none":
        return {}
    reg = _params.registry()
    if design.parameters is None:
        fixed = {k for s in scenarios for k in s.parameters}
        return {k: (p.low, p.high) for k, p in reg.items() if k not in WORLD_PARAMS and k not in fixed}
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


# --------------------------------------------------------------------------------------- one chunk

def _chunk_task(exp: Experiment, c: int) -> dict:
    runs = exp.chunk(c)
    points = sorted({p for _, p, _ in runs})
    return {"chunk": c, "seed": exp.spec.seed, "runs": runs, "scenarios": exp.scenarios,
            "points": {p: {k: float(v) for k, v in exp.design.loc[p].items()} for p in points},
            "outputs": exp.spec.outputs, "key_by": exp.spec.run_key}


def _run_chunk(task: dict) -> tuple[int | tuple[int, int], pd.DataFrame, pd.DataFrame | None]:
    """Run one chunk (in a worker): the task's chunk id, its runs table and, if asked, its
    trajectories table. The world comes from the per-process cache, so it is built once per
    worker, not per run."""
    out: Outputs = task["outputs"]
    rows, traj = [], []
    for si, p, r in task["runs"]:
        values = task["points"][p]
        spec = task["scenarios"][si]
        if values:
            spec = spec.with_parameters(**values)
        first = {"scenario": si, "replication": 0}.get(task["key_by"], p)  # else "point"
        rec = run_replication(spec, task["seed"], (first, r), trajectories=out.trajectories)
        row = {"scenario": spec.name, "point": p, "replication": r}
        row.update({f"param.{k}": v for k, v in values.items()})
        for k, v in rec.items():
            kind = k.split(".", 1)[0]
            if kind == "met" or (kind == "value" and out.values) or (kind == "risk" and out.risks) or (
                    kind in ("metric", "baseline") and out.metrics):
                row[k] = v
        rows.append(row)
        if out.trajectories:
            traj.extend({"scenario": spec.name, "point": p, "replication": r, **t} for t in rec["trajectory"])
    return task["chunk"], _typed(pd.DataFrame(rows)), (_typed(pd.DataFrame(traj)) if out.trajectories else None)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Fixed column types, so that every chunk file has the same schema."""
    types = {}
    for c in df.columns:
        if c == "scenario":
            types[c] = "string"
        elif c in ("point", "replication", "year") or c.startswith("risk."):
            types[c] = "int64"
        elif c.startswith("met."):
            types[c] = "bool"
        else:
            types[c] = "float64"
    return df.astype(types)


# --------------------------------------------------------------------------------------- backends

def check_backend(backend: str, address: str | None = None) -> None:
    """Raise ExperimentError (one line) unless `backend` can run here with `address`."""
    if backend not in BACKENDS:
        raise ExperimentError(f"--backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "loky" and address:
        raise ExperimentError("--address: expected --backend dask or ray with it (loky runs on this machine)")
    if backend == "dask":
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise ExperimentError("--backend dask: expected dask[distributed] to be installed "
                                  "(pip install 'equitysim[dask]')") from None
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ExperimentError("--backend ray: expected ray to be installed (pip install 'equitysim[ray]')") from None


def _execute(tasks: Iterator[dict], backend: str, jobs: int, address: str | None) -> Iterator[tuple]:
    """Run chunk tasks and yield their results as they finish (in any order). At most about two
    tasks per worker are in flight, so memory stays bounded by a few chunks."""
    check_backend(backend, address)
    if backend == "loky":
        if jobs == 1:
            yield from map(_run_chunk, tasks)
            return
        from joblib import Parallel, delayed

        par = Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered", batch_size=1,
                       pre_dispatch="2 * n_jobs")
        yield from par(delayed(_run_chunk)(t) for t in tasks)
    elif backend == "dask":
        yield from _execute_dask(tasks, jobs, address)
    else:
        yield from _execute_ray(tasks, jobs, address)


def _execute_dask(tasks, jobs, address):
    import logging

    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if address:
        try:
            client = Client(address, timeout="20s")
        except (OSError, TimeoutError, ValueError) as e:
            raise ExperimentError(f"--address: expected a reachable dask scheduler, got {address!r} "
                                  f"({e.__class__.__name__})") from None
    else:
        # one single-threaded worker process per job, on the loopback interface only
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        workers = len(client.scheduler_info().get("workers", {})) or jobs
        window = 2 * workers
        pending = as_completed()
        for t in itertools.islice(tasks, window):
            pending.add(client.submit(_run_chunk, t, pure=False))
        for fut in pending:
            res = fut.result()
            fut.release()
            yield res
            nxt = next(tasks, None)
            if nxt is not None:
                pending.add(client.submit(_run_chunk, nxt, pure=False))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _execute_ray(tasks, jobs, address):
    import ray

    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            # a local ray on the loopback interface, one CPU per job
            ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False,
                     _node_ip_address="127.0.0.1")
    try:
        remote = ray.remote(num_cpus=1)(_run_chunk)
        window = 2 * max(1, int(ray.available_resources().get("CPU", jobs)))
        pending = [remote.remote(t) for t in itertools.islice(tasks, window)]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
            nxt = next(tasks, None)
            if nxt is not None:
                pending.append(remote.remote(nxt))
    finally:
        if started:
            ray.shutdown()


# ------------------------------------------------------------------------------------------ store

def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write to a hidden temporary file beside `path`, flush it to disk, then rename it over `path`:
    a reader (or a resume after kill -9) sees the whole file or none of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class ResultStore:
    """A results directory: `experiment.json`, `runs/` and optionally `trajectories/`."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.manifest_path = self.out / MANIFEST
        self.runs_dir = self.out / "runs"
        self.traj_dir = self.out / "trajectories"

    def chunk_path(self, c: int, kind: str = "runs") -> Path:
        return (self.runs_dir if kind == "runs" else self.traj_dir) / f"chunk-{c:06d}.parquet"

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def manifest(self) -> dict:
        try:
            m = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            raise ExperimentError(f"{self.out}: {MANIFEST}: expected a results directory made by "
                                  f"`equitysim sweep` (no {MANIFEST})") from None
        except (OSError, ValueError) as e:
            raise ExperimentError(f"{self.manifest_path}: (file): expected the JSON manifest `equitysim sweep` "
                                  f"writes ({e.__class__.__name__})") from None
        if not isinstance(m, dict) or m.get("format") != FORMAT or "identity" not in m:
            raise ExperimentError(f"{self.manifest_path}: format: expected an equitysim results manifest "
                                  f"of format {FORMAT}")
        return m

    def write_manifest(self, m: dict) -> None:
        _atomic_write(self.manifest_path, lambda p: p.write_text(json.dumps(m, indent=2) + "\n"))

    def done_chunks(self) -> set[int]:
        if not self.runs_dir.is_dir():
            return set()
        return {int(m.group(1)) for f in os.listdir(self.runs_dir) if (m := _CHUNK_RE.match(f))}

    def chunk_files(self, kind: str = "runs") -> list[Path]:
        return [self.chunk_path(c, kind) for c in sorted(self.done_chunks())]

    @contextmanager
    def lock(self):
        """Hold `.lock` in the directory while a sweep writes there: a second sweep into the same
        directory is refused. The operating system releases it when the process ends, even by kill -9."""
        import fcntl

        fd = os.open(self.out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ExperimentError(f"{self.out}: --out: expected no other sweep writing to this directory "
                                      f"(another one holds {LOCK})") from None
            yield
        finally:
            os.close(fd)

    def foreign_files(self) -> list[Path]:
        """Files in the directory that a sweep did not put there."""
        return [f for f in self.out.iterdir() if f.name != LOCK and not (f.name.startswith(".") and f.name.endswith(".tmp"))]

    def remove_temporaries(self) -> int:
        """Delete temporary files a killed sweep left behind (never a finished chunk)."""
        n = 0
        for d in (self.out, self.runs_dir, self.traj_dir):
            if d.is_dir():
                for f in d.iterdir():
                    if f.name.startswith(".") and f.name.endswith(".tmp"):
                        f.unlink(missing_ok=True)
                        n += 1
        return n

    def write_chunk(self, c: int, runs: pd.DataFrame, traj: pd.DataFrame | None) -> None:
        # trajectories first: the runs file is the chunk's commit mark
        if traj is not None:
            self.traj_dir.mkdir(exist_ok=True)
            t = pa.Table.from_pandas(traj, preserve_index=False)
            _atomic_write(self.chunk_path(c, "trajectories"), lambda p: pq.write_table(t, p))
        r = pa.Table.from_pandas(runs, preserve_index=False)
        _atomic_write(self.chunk_path(c), lambda p: pq.write_table(r, p))


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("equitysim", "mesa", "numpy", "pandas", "pyarrow", "SALib", "joblib", "dask", "distributed", "ray"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _first_difference(a, b, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path or '(top level)'} is {json.dumps(a)[:60]} on disk, {json.dumps(b)[:60]} now"


def _check_same(exp: Experiment, m: dict, out: Path) -> None:
    new = exp.identity()
    old = m["identity"]
    if hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest() == exp.identity_hash():
        return
    if old.get("experiment") != new["experiment"]:
        what = _first_difference(old.get("experiment"), new["experiment"])
    elif old.get("scenarios") != new["scenarios"]:
        names = [s.get("name") for s in old.get("scenarios", [])]
        if names != exp.names:
            what = f"scenarios are {', '.join(map(str, names))} on disk, {', '.join(exp.names)} now"
        else:
            bad = next(s["name"] for s, t in zip(old["scenarios"], new["scenarios"]) if s != t)
            what = f"scenario '{bad}' differs from the one on disk (was its file edited?)"
    else:
        what = "the design's parameter values differ (SALib or numpy version changed?)"
    raise ExperimentError(f"{out}: --resume: expected the experiment that made this directory "
                          f"('{m['identity']['experiment'].get('name')}'), but {what}")


# ------------------------------------------------------------------------------------------ sweep

@dataclass
class SweepReport:
    out: Path
    runs_total: int
    runs_before: int
    runs_done: int
    chunks_done: int
    seconds: float
    backend: str
    jobs: int

    @property
    def rate(self) -> float:
        return self.runs_done / self.seconds if self.seconds > 0 else float("nan")


def sweep(experiment: Experiment | str | Path, out: str | Path, *, jobs: int = 1, backend: str = "loky",
          address: str | None = None, resume: bool = False,
          on_start: Callable[[int, int], None] | None = None,
          progress: Callable[[int], None] | None = None) -> SweepReport:
    """Run every chunk of `experiment` not yet in `out`, writing each as it finishes.

    A new or empty `out` starts a sweep; an `out` holding results needs `resume=True` and the same
    experiment (else ExperimentError: nothing is overwritten). `on_start(total_runs, runs_on_disk)`
    is called once before running, `progress(n)` after each chunk with its number of runs.
    """
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    return sweep_many([(exp, out)], jobs=jobs, backend=backend, address=address, resume=resume,
                      on_start=on_start, progress=progress)[0]


def sweep_many(items: Iterable[tuple[Experiment, str | Path]], *, jobs: int = 1, backend: str = "loky",
               address: str | None = None, resume: bool = False,
               on_start: Callable[[int, int], None] | None = None,
               progress: Callable[[int], None] | None = None) -> list[SweepReport]:
    """`sweep` for several experiments, each into its own directory, with their chunks sharing one
    pool of workers (so short experiments keep every worker busy). Each directory is checked,
    locked and written exactly as `sweep` does; one report per experiment, in the given order.
    `on_start` and `progress` count the runs of all of them."""
    items = list(items)
    check_backend(backend, address)
    jobs = max(1, int(jobs))
    stores = [ResultStore(out) for _, out in items]
    seen: set[Path] = set()
    for store in stores:
        where = store.out.resolve()
        if where in seen:
            raise ExperimentError(f"{store.out}: --out: expected one experiment per directory (given twice)")
        seen.add(where)
        if store.out.exists() and not store.out.is_dir():
            raise ExperimentError(f"{store.out}: --out: expected a directory, got a file")
        if store.out.is_dir() and not store.exists() and store.foreign_files():
            raise ExperimentError(f"{store.out}: --out: expected a new or empty directory (it has files but "
                                  f"no {MANIFEST}, so it was not made by `equitysim sweep`)")
    with ExitStack() as held:
        todo, before = [], []
        for k, ((exp, _), store) in enumerate(zip(items, stores)):
            store.out.mkdir(parents=True, exist_ok=True)
            held.enter_context(store.lock())
            _start_or_resume(exp, store, resume)
            done = store.done_chunks()
            todo.extend((k, c) for c in range(exp.n_chunks) if c not in done)
            before.append(sum(_chunk_len(exp, c) for c in done))
        if on_start:
            on_start(sum(exp.n_runs for exp, _ in items), sum(before))
        t0 = time.perf_counter()
        n_runs, n_chunks = [0] * len(items), [0] * len(items)
        # a task's "chunk" is (experiment, chunk) here, so that each result goes to its directory
        tasks = ({**_chunk_task(items[k][0], c), "chunk": (k, c)} for k, c in todo)
        results = _execute(tasks, backend, jobs, address)
        try:
            for (k, c), runs, traj in results:
                stores[k].write_chunk(c, runs, traj)
                n_runs[k] += len(runs)
                n_chunks[k] += 1
                if progress:
                    progress(len(runs))
        finally:
            close = getattr(results, "close", None)
            if close:
                close()
    seconds = time.perf_counter() - t0
    return [SweepReport(store.out, exp.n_runs, before[k], n_runs[k], n_chunks[k], seconds, backend, jobs)
            for k, ((exp, _), store) in enumerate(zip(items, stores))]


def _start_or_resume(exp: Experiment, store: ResultStore, resume: bool) -> None:
    """With the directory locked: write a new manifest, or check the one there (resume) and note it."""
    if store.exists():
        m = store.manifest()
        if not resume:
            n = len(store.done_chunks())
            raise ExperimentError(f"{store.out}: --out: expected a new or empty directory (it holds {n} of "
                                  f"{m.get('chunks', '?')} chunks of experiment "
                                  f"'{m['identity']['experiment'].get('name')}'); "
                                  f"pass --resume to finish them, or choose another --out")
        _check_same(exp, m, store.out)
        store.remove_temporaries()
        m.setdefault("resumed", []).append(datetime.now(timezone.utc).isoformat(timespec="seconds"))
        store.write_manifest(m)
    else:
        if store.foreign_files():
            raise ExperimentError(f"{store.out}: --out: expected a new or empty directory (it has files but "
                                  f"no {MANIFEST}, so it was not made by `equitysim sweep`)")
        store.remove_temporaries()
        store.write_manifest({
            "format": FORMAT,
            "name": exp.spec.name,
            "description": exp.spec.description,
            "source": exp.source,
            "seed": exp.spec.seed,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": _versions(),
            "scenarios": exp.names,
            "design_parameters": list(exp.design.columns),
            "points": exp.n_points,
            "runs": exp.n_runs,
            "chunks": exp.n_chunks,
            "chunk_size": exp.spec.chunk_size,
            "identity": exp.identity(),
        })
    store.runs_dir.mkdir(exist_ok=True)


def _chunk_len(exp: Experiment, c: int) -> int:
    return max(0, min(exp.spec.chunk_size, exp.n_runs - c * exp.spec.chunk_size))


# ---------------------------------------------------------------------------------------- reading

def read_runs(out: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Every finished run in `out`, one row each, sorted by (scenario in experiment order, point,
    replication). Only finished chunks are read (never a temporary file)."""
    return _read(out, "runs", columns)


def read_trajectories(out: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Yearly metric trajectories (if the experiment kept them), sorted like `read_runs` then by year."""
    return _read(out, "trajectories", columns)


def _read(out, kind, columns):
    store = ResultStore(out)
    m = store.manifest()
    files = [f for f in store.chunk_files(kind) if f.exists()]
    if kind == "trajectories" and not files and not m["identity"]["experiment"]["outputs"]["trajectories"]:
        raise ExperimentError(f"{store.out}: outputs.trajectories: expected an experiment that kept "
                              f"trajectories (set [outputs] trajectories = true)")
    keys = ["scenario", "point", "replication"] + (["year"] if kind == "trajectories" else [])
    if columns is not None:
        columns = list(dict.fromkeys(keys + list(columns)))
    if not files:
        return pd.DataFrame(columns=columns or keys)
    import pyarrow.dataset as ds

    df = ds.dataset([str(f) for f in files], format="parquet").to_table(columns=columns).to_pandas()
    order = {n: i for i, n in enumerate(m["scenarios"])}
    df = df.assign(_o=df["scenario"].map(order)).sort_values(["_o"] + keys[1:], kind="stable")
    return df.drop(columns="_o").reset_index(drop=True)


# --------------------------------------------------------------------------------------- analysis

def wilson_half_width(p: float, n: int, z: float = Z95) -> float:
    """Half the width of the Wilson score interval at observed proportion p with n runs."""
    return z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)


def replications_needed(p: float, half_width: float = 0.02, z: float = Z95) -> int:
    """Smallest number of runs whose 95% Wilson interval, at the observed proportion p, has a
    half-width no wider than `half_width` (0.02 = 2 percentage points)."""
    if not (0 <= p <= 1) or not half_width > 0:
        raise ValueError("p in [0, 1] and half_width > 0")
    lo, hi = 1, 1
    while wilson_half_width(p, hi, z) > half_width:
        hi *= 2
    while lo < hi:  # the half-width falls as n grows
        mid = (lo + hi) // 2
        if wilson_half_width(p, mid, z) <= half_width:
            hi = mid
        else:
            lo = mid + 1
    return lo


def paired_difference_interval(a: int, b: int, c: int, d: int, z: float = Z95) -> tuple[float, float, float]:
    """Difference of two paired proportions and its 95% interval, by Newcombe's (1998) square-and-add
    method 10 (Wilson score intervals of both margins, combined with their estimated correlation).

    The paired table counts runs with the same key: a = met in both, b = met only in the first
    (the scenario), c = met only in the second (the baseline), d = met in neither. Returns
    (p1 - p2, lower, upper). Newcombe RG (1998), Improved confidence intervals for the difference
    between binomial proportions based on paired data, Statistics in Medicine 17:2635-2650.
    """
    n = a + b + c + d
    if n == 0:
        return float("nan"), -1.0, 1.0
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = _ind.wilson_interval(a + b, n, z)
    l2, u2 = _ind.wilson_interval(a + c, n, z)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    phi = 0.0
    if margins > 0:
        num = a * d - b * c
        # Newcombe's phi-hat: numerator shrunk by n/2 when positive, zero when between 0 and n/2
        num = num - n / 2 if num > n / 2 else (0.0 if num >= 0 else num)
        phi = num / math.sqrt(margins)
    dl1, du1, dl2, du2 = p1 - l1, u1 - p1, p2 - l2, u2 - p2
    lower = (p1 - p2) - math.sqrt(max(0.0, dl1 ** 2 - 2 * phi * dl1 * du2 + du2 ** 2))
    upper = (p1 - p2) + math.sqrt(max(0.0, du1 ** 2 - 2 * phi * du1 * dl2 + dl2 ** 2))
    return p1 - p2, max(-1.0, lower), min(1.0, upper)


def _met_columns(df: pd.DataFrame) -> list[str]:
    order = [f"met.{i.id}" for i in _ind.indicators()]
    return [c for c in order if c in df.columns]


def _load(results, columns=None) -> tuple[pd.DataFrame, list[str]]:
    if isinstance(results, pd.DataFrame):
        df = results
        names = list(dict.fromkeys(df["scenario"]))
    else:
        m = ResultStore(results).manifest()
        met = [f"met.{i.id}" for i in _ind.indicators()]
        df = read_runs(results, met + list(columns or []))
        names = m["scenarios"]
    return df, names


def summarize(results: str | Path | pd.DataFrame, half_width: float = 0.02) -> pd.DataFrame:
    """P(met) per scenario x indicator with a 95% Wilson interval, the number of runs `n`, and
    `n_needed`: the runs per scenario that would bring the interval's half-width under
    `half_width`, planned for the least favourable P(met) inside the current interval (the value
    nearest 0.5), so that a small pilot sweep does not under-promise; it converges to the figure
    at the observed P(met) as runs accumulate.

    Runs at different design points are pooled: P(met) is then the probability over the design's
    parameter distribution and the model's randomness. The Wilson interval treats runs as
    independent, which is exact with one design point (or one replication per point) and slightly
    optimistic when several replications share a point.
    """
    df, names = _load(results)
    rows = []
    for s in names:
        sub = df[df["scenario"] == s]
        n = len(sub)
        for col in _met_columns(df):
            k = int(sub[col].sum())
            lo, hi = _ind.wilson_interval(k, n)
            p = k / n if n else float("nan")
            # plan for the least favourable P still inside the interval (the one nearest 0.5):
            # a pilot sweep's P = 0 out of 4 must not promise that 93 runs will do
            worst = min(max(0.5, lo), hi)
            rows.append({"scenario": s, "indicator": col[4:], "p_met": p, "ci_low": lo, "ci_high": hi,
                         "n": n, "n_needed": replications_needed(worst, half_width) if n else None})
    return pd.DataFrame(rows, columns=["scenario", "indicator", "p_met", "ci_low", "ci_high", "n", "n_needed"])


def compare(results: str | Path | pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Paired differences in P(met) between each scenario and `baseline`, per indicator.

    Runs are paired by their key (design point, replication): the same parameter values and the
    same random stream in both scenarios (common random numbers), so the difference is estimated
    with far less noise than from two independent samples. `diff` = P(met | scenario) -
    P(met | baseline) over the paired runs; the 95% interval is Newcombe's (1998) score-based
    interval for paired proportions (method 10, see `paired_difference_interval`). Also gives `n`
    (pairs), `p_scenario`, `p_baseline`, `only_scenario` and `only_baseline` (discordant pairs).
    """
    df, names = _load(results)
    if baseline not in names:
        where = results if not isinstance(results, pd.DataFrame) else "results"
        raise ExperimentError(f"{where}: --baseline: expected one of the experiment's scenarios "
                              f"({', '.join(names)}), got {baseline!r}")
    met = _met_columns(df)
    keyed = df.set_index(["point", "replication"])
    base = keyed[keyed["scenario"] == baseline][met]
    rows = []
    for s in names:
        if s == baseline:
            continue
        other = keyed[keyed["scenario"] == s][met]
        x, y = other.align(base, join="inner", axis=0)
        n = len(x)
        for col in met:
            xs, ys = x[col].to_numpy(bool), y[col].to_numpy(bool)
            a, b = int((xs & ys).sum()), int((xs & ~ys).sum())
            c, d = int((~xs & ys).sum()), int((~xs & ~ys).sum())
            diff, lo, hi = paired_difference_interval(a, b, c, d)
            rows.append({"scenario": s, "indicator": col[4:], "diff": diff, "ci_low": lo, "ci_high": hi,
                         "n": n, "p_scenario": (a + b) / n if n else float("nan"),
                         "p_baseline": (a + c) / n if n else float("nan"),
                         "only_scenario": b, "only_baseline": c})
    return pd.DataFrame(rows, columns=["scenario", "indicator", "diff", "ci_low", "ci_high", "n", "p_scenario",
                                       "p_baseline", "only_scenario", "only_baseline"])


def status(out: str | Path) -> dict:
    """How far a results directory is: runs and chunks on disk of the total."""
    store = ResultStore(out)
    m = store.manifest()
    done = store.done_chunks()
    size, total = m["chunk_size"], m["runs"]
    runs = sum(max(0, min(size, total - c * size)) for c in done)
    return {"name": m["name"], "runs": runs, "runs_total": total, "chunks": len(done),
            "chunks_total": m["chunks"], "complete": len(done) == m["chunks"]}


__all__ = ["BACKENDS", "Design", "Experiment", "ExperimentError", "ExperimentSpec", "Outputs", "ResultStore",
           "SweepReport", "check_backend", "compare", "design_parameters", "load_experiment", "make_design",
           "paired_difference_interval", "parse_experiment", "read_runs", "read_trajectories",
           "replications_needed", "status", "summarize", "sweep", "sweep_many", "wilson_half_width"]
