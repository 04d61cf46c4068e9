"""Replications of one scenario, in parallel, with one result per seed.

Each replication's random stream comes from the master seed and the replication's key
(`SeedSequence(seed, spawn_key=(key,))`), so results are identical whatever the number of
workers or the order in which replications run. The world is built once per worker process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from . import indicators as _ind
from .model import RISK_COUNTS, EquityModel, world_for
from .scenario import ScenarioSpec


def replication_rng(seed: int, key: int | Sequence[int]) -> np.random.Generator:
    """The random generator of run `key` under master `seed` (common random numbers: the same
    key gives the same stream in every scenario)."""
    key = (key,) if isinstance(key, (int, np.integer)) else tuple(key)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def run_replication(spec: ScenarioSpec, seed: int, key, trajectories: bool = False) -> dict:
    """Run one replication and return a flat record: indicators met, risk counts, year-10
    metrics and (optionally) the yearly trajectory."""
    model = EquityModel(spec, rng=replication_rng(seed, key), world=world_for(spec))
    model.run()
    met = _ind.evaluate(model.snapshots, model.baseline, model.world.scale)
    last = model.history[-1] if model.history else model.baseline
    rec = {"key": key if isinstance(key, int) else tuple(key)}
    rec.update({f"met.{k}": bool(v) for k, v in met.items()})
    for i in _ind.indicators():
        snap = model.snapshots.get(i.horizon_year)
        rec[f"value.{i.id}"] = _ind.value(i, snap, model.baseline) if snap else float("nan")
    rec.update({f"risk.{k}": model.counts[k] for k in RISK_COUNTS})
    rec["risk.recessions"] = model.counts["recessions"]
    rec.update({f"metric.{k}": float(last[k]) for k in _ind.TRAJECTORY_METRICS})
    rec.update({f"baseline.{k}": float(model.baseline[k]) for k in _ind.TRAJECTORY_METRICS})
    if trajectories:
        rec["trajectory"] = [{"year": 0, **{k: model.baseline[k] for k in _ind.TRAJECTORY_METRICS}}] + [
            {"year": h["year"], **{k: h[k] for k in _ind.TRAJECTORY_METRICS}} for h in model.history]
    return rec


def _run_chunk(spec, seed, keys, trajectories):
    return [run_replication(spec, seed, k, trajectories) for k in keys]


@dataclass
class EnsembleResult:
    """Replications of one scenario: one row per replication in `runs`."""

    spec: ScenarioSpec
    seed: int
    runs: pd.DataFrame
    trajectories: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)

    @property
    def replications(self) -> int:
        return len(self.runs)

    def summary(self) -> pd.DataFrame:
        """P(met) per indicator with a 95% Wilson interval."""
        rows = []
        n = len(self.runs)
        for i in _ind.indicators():
            k = int(self.runs[f"met.{i.id}"].sum())
            lo, hi = _ind.wilson_interval(k, n)
            rows.append({"id": i.id, "label": i.label, "horizon_year": i.horizon_year, "target": i.target,
                         "p_met": k / n if n else float("nan"), "ci_low": lo, "ci_high": hi})
        return pd.DataFrame(rows)

    def risks(self) -> dict[str, float]:
        return {k: float(self.runs[f"risk.{k}"].mean()) for k in RISK_COUNTS}

    def metrics(self) -> dict[str, float]:
        return {k: float(self.runs[f"metric.{k}"].mean()) for k in _ind.TRAJECTORY_METRICS}

    def baseline_metrics(self) -> dict[str, float]:
        return {k: float(self.runs[f"baseline.{k}"].mean()) for k in _ind.TRAJECTORY_METRICS}

    def expected_met(self) -> float:
        return float(self.runs[[c for c in self.runs if c.startswith("met.")]].sum(axis=1).mean())

    def to_json(self) -> dict:
        s = self.summary()
        return {
            "scenario": self.spec.name,
            "replications": self.replications,
            "seed": self.seed,
            "indicators": [
                {"id": r.id, "horizon_year": int(r.horizon_year), "target": r.target,
                 "p_met": round(float(r.p_met), 6), "ci_low": round(float(r.ci_low), 6),
                 "ci_high": round(float(r.ci_high), 6)} for r in s.itertuples()],
            "risks": {k: round(v, 6) for k, v in self.risks().items()},
            "metrics": {k: round(v, 6) for k, v in self.metrics().items()},
        }


def run(spec: ScenarioSpec, replications: int = 100, seed: int = 0, jobs: int = 1,
        trajectories: bool = False, progress: Callable[[int], None] | None = None,
        chunk_size: int | None = None) -> EnsembleResult:
    """Run `replications` of `spec` on `jobs` worker processes (joblib/loky).

    `progress(n)` is called with the number of replications finished in each chunk.
    """
    if replications < 1:
        raise ValueError("replications must be at least 1")
    keys = list(range(replications))
    jobs = max(1, int(jobs))
    size = chunk_size or max(1, min(25, -(-replications // (4 * jobs))))
    chunks = [keys[i:i + size] for i in range(0, len(keys), size)]
    if jobs == 1:
        results = []
        for c in chunks:
            results.append(_run_chunk(spec, seed, c, trajectories))
            if progress:
                progress(len(c))
    else:
        par = Parallel(n_jobs=jobs, backend="loky", return_as="generator")
        results = []
        for c, res in zip(chunks, par(delayed(_run_chunk)(spec, seed, c, trajectories) for c in chunks)):
            results.append(res)
            if progress:
                progress(len(c))
    records = sorted((r for chunk in results for r in chunk), key=lambda r: r["key"])
    traj = None
    if trajectories:
        traj = pd.DataFrame([{"key": r["key"], **t} for r in records for t in r.pop("trajectory")])
    runs = pd.DataFrame(records)
    return EnsembleResult(spec, seed, runs, traj)
