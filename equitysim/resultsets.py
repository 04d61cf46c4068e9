"""Where the charts and the report get their numbers: one adapter, `load_results`.

Every chart and the report take a *result set*, a dict scenario name -> EnsembleResult (one
per scenario, in display order). `load_results` makes one from whatever the user has:

- an `EnsembleResult` (from `equitysim.ensemble.run`), a list of them, or a dict of them;
- a directory written by `save_results` (one sub-directory per scenario, each holding
  `meta.json`, `runs.parquet` and, when recorded, `trajectories.parquet` and `states.parquet`),
  or one such scenario directory;
- a results directory of `equitysim sweep` (the experiments store, `experiment.json` with
  `runs/` and `trajectories/`): one result per scenario, pooled over the experiment's design
  points (the report says how many); the store keeps no per-state record, so no state map;
- a Parquet file of replications written by `equitysim run ... --out file.parquet`, or a
  directory of them (the scenario's name is the file's stem; its settings are unknown, so the
  report says so and assumes a full-scale world).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from .ensemble import EnsembleResult
from .scenario import ScenarioSpec

META = "meta.json"
INDEX = "index.json"  # display order of a saved result set


class ResultsError(ValueError):
    """A results path cannot be read; str(err) is one line naming the path and what was expected."""


def spec_hash(spec: ScenarioSpec) -> str:
    """SHA-256 of the validated scenario settings (canonical JSON), for the reproducibility footer."""
    text = json.dumps(spec.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def file_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def scale_of(result) -> float:
    """The world scale a result ran at (1.0 when unknown)."""
    return float(result.spec.scale)


def trajectory_bands(traj: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per year: the 5th, 25th, 50th, 75th and 95th percentiles of `metric` across runs (columns
    p5 ... p95, in the metric's unit)."""
    q = traj.groupby("year")[metric].quantile([0.05, 0.25, 0.5, 0.75, 0.95]).unstack()
    q.columns = ["p5", "p25", "p50", "p75", "p95"]
    return q


def median_change(bands: pd.DataFrame) -> float:
    """Median change from year 0 to the last year, as a share of year 0 (NaN if year 0 <= 0)."""
    start, end = bands["p50"].iloc[0], bands["p50"].iloc[-1]
    return (end - start) / start if start > 1e-9 else math.nan


def load_results(source) -> dict[str, EnsembleResult]:
    """A result set (dict scenario name -> EnsembleResult) from results in memory or on disk.

    Raises ResultsError (one line) when a path holds nothing readable."""
    if isinstance(source, EnsembleResult):
        return {source.spec.name: source}
    if isinstance(source, Mapping):
        out = {}
        for name, r in source.items():
            if not isinstance(r, EnsembleResult):
                raise ResultsError(f"{name}: expected an EnsembleResult, got {type(r).__name__}")
            out[str(name)] = r
        if not out:
            raise ResultsError("expected at least one result, got an empty dict")
        return out
    if isinstance(source, (str, Path)):
        return _load_path(Path(source))
    if isinstance(source, Iterable):
        out: dict[str, EnsembleResult] = {}
        for item in source:
            for name, r in load_results(item).items():
                key, i = name, 2
                while key in out:  # two runs of one scenario: keep both, told apart
                    key, i = f"{name} ({i})", i + 1
                out[key] = r
        if not out:
            raise ResultsError("expected at least one result, got none")
        return out
    raise ResultsError(f"expected an EnsembleResult, a dict of them or a results path, got {type(source).__name__}")


def _load_path(p: Path) -> dict[str, EnsembleResult]:
    if not p.exists():
        raise ResultsError(f"{p}: expected an existing results directory or Parquet file")
    if p.is_file():
        if p.suffix != ".parquet":
            raise ResultsError(f"{p}: expected a results directory or a .parquet file of replications")
        return {p.stem: _load_bare_parquet(p)}
    if (p / "experiment.json").exists():
        return _load_store(p)
    if (p / META).exists():
        r = _load_dir(p)
        return {r.spec.name: r}
    subdirs = sorted(d for d in p.iterdir() if d.is_dir() and (d / META).exists())
    if (p / INDEX).exists():
        try:
            order = [str(x) for x in json.loads((p / INDEX).read_text())["scenarios"]]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ResultsError(f"{p / INDEX}: expected JSON with a 'scenarios' list ({e.__class__.__name__})") from None
        rank = {name: i for i, name in enumerate(order)}
        subdirs.sort(key=lambda d: rank.get(d.name, len(rank)))
    if subdirs:
        return load_results(_load_dir(d) for d in subdirs)
    files = sorted(p.glob("*.parquet"))
    if files:
        return {f.stem: _load_bare_parquet(f) for f in files}
    raise ResultsError(f"{p}: expected scenario result directories (with {META}) or .parquet files of replications")


def _read_parquet(f: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(f)
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise ResultsError(f"{f}: expected a readable Parquet file ({e.__class__.__name__})") from None


def _load_dir(d: Path) -> EnsembleResult:
    try:
        meta = json.loads((d / META).read_text())
        spec = ScenarioSpec.model_validate(meta["spec"])
        seed = meta["seed"]
    except (OSError, ValueError, KeyError) as e:
        raise ResultsError(f"{d / META}: expected JSON with 'spec' and 'seed' ({e.__class__.__name__})") from None
    runs = _read_parquet(d / "runs.parquet") if (d / "runs.parquet").exists() else None
    if runs is None:
        raise ResultsError(f"{d}: expected runs.parquet beside {META}")
    traj = _read_parquet(d / "trajectories.parquet") if (d / "trajectories.parquet").exists() else None
    states = _read_parquet(d / "states.parquet") if (d / "states.parquet").exists() else None
    _check_runs(runs, d / "runs.parquet")
    return EnsembleResult(spec, seed, runs, traj, meta=meta.get("meta", {}), states=states)


def _load_store(p: Path) -> dict[str, EnsembleResult]:
    """One EnsembleResult per scenario of a sweep's results directory (experiments.ResultStore)."""
    from .experiments import ExperimentError, ResultStore, read_runs, read_trajectories

    try:
        m = ResultStore(p).manifest()
        runs = read_runs(p)
        kept = m["identity"]["experiment"]["outputs"].get("trajectories", False)
        traj = read_trajectories(p) if kept else None
    except ExperimentError as e:
        raise ResultsError(str(e)) from None
    if runs.empty:
        raise ResultsError(f"{p}: expected finished runs in runs/ (none yet; resume the sweep)")
    specs = {d["name"]: ScenarioSpec.model_validate(d) for d in m["identity"]["scenarios"]}
    points = int(m.get("points", 1))
    out = {}
    for name in m["scenarios"]:
        mine = runs[runs["scenario"] == name]
        if mine.empty:
            continue
        # a run's key in the store is (design point, replication)
        keyed = mine.assign(key=list(zip(mine["point"], mine["replication"])) if points > 1 else mine["replication"])
        t = None
        if traj is not None:
            tt = traj[traj["scenario"] == name]
            t = tt.assign(key=list(zip(tt["point"], tt["replication"])) if points > 1 else tt["replication"])
        note = (f"from experiment '{m.get('name')}' ({p}), pooled over its {points} design points "
                f"({', '.join(m.get('design_parameters', []))})" if points > 1 else None)
        meta = {"source": str(p), "experiment": m.get("name")}
        if note:
            meta["note"] = note
        out[name] = EnsembleResult(specs[name], m.get("seed"), keyed.reset_index(drop=True), t, meta=meta)
    return out


def _check_runs(runs: pd.DataFrame, where: Path):
    if not any(c.startswith("met.") for c in runs.columns) or runs.empty:
        raise ResultsError(f"{where}: expected one row per replication with met.<indicator> columns")


def _load_bare_parquet(f: Path) -> EnsembleResult:
    runs = _read_parquet(f)
    _check_runs(runs, f)
    spec = ScenarioSpec(name=f.stem)
    return EnsembleResult(spec, None, runs, meta={"source": str(f), "spec_known": False,
                                                  "note": "read from a bare Parquet file of replications: "
                                                          "scenario settings, seed and world scale unknown"})


def save_result(result: EnsembleResult, directory: str | Path) -> Path:
    """Write one result to `directory` (meta.json, runs/trajectories/states Parquet)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    from . import __version__

    meta = {"spec": result.spec.model_dump(mode="json"), "seed": result.seed,
            "replications": result.replications, "equitysim": __version__, "meta": result.meta}
    (d / META).write_text(json.dumps(meta, indent=1, default=str))
    result.runs.to_parquet(d / "runs.parquet")
    if result.trajectories is not None:
        result.trajectories.to_parquet(d / "trajectories.parquet")
    if result.states is not None:
        result.states.to_parquet(d / "states.parquet")
    return d


def save_results(results, directory: str | Path) -> Path:
    """Write a result set, one sub-directory per scenario (readable by `load_results`)."""
    d = Path(directory)
    names = []
    for name, r in load_results(results).items():
        names.append(_safe(name))
        save_result(r, d / names[-1])
    (d / INDEX).write_text(json.dumps({"scenarios": names}))
    return d


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "scenario"
