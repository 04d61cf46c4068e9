"""Replications of one scenario, in parallel, with one result per seed.

Each replication's random stream comes from the master seed and the replication's key
(`SeedSequence(seed, spawn_key=(key,))`), so results are identical whatever the number of
workers or the order in which replications run. The world is built once per worker process.
"""

from __future__ import annotations

import json
import math
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


# State policies whose per-state adoption `states=True` records at each year end (the state map).
STATE_POLICIES = ("funding_bill", "weighted_funding", "adequacy_standard", "integration_incentives",
                  "discipline_mandate")
# Key of the milestone definitions a record carries to `run` (popped there: not a column).
MILESTONES = "_milestones"
# Column of an adaptive run's record: the JSON list of [year, branch] switches of sequencing.
PATHWAY = "pathway"
# Per-state status codes in `EnsembleResult.states`.
NEVER, REPEALED, IN_FORCE = 0, 1, 2


def _state_policies(states, model) -> tuple[str, ...]:
    if states is False or states is None:
        return ()
    names = STATE_POLICIES if states is True else tuple(states)
    unknown = [n for n in names if n not in model.policy_index]
    if unknown:
        raise ValueError(f"states: unknown state policies {unknown}; expected some of {list(model.policies)}")
    return names


def run_replication(spec: ScenarioSpec, seed: int, key, trajectories: bool = False,
                    states: bool | Sequence[str] = False) -> dict:
    """Run one replication and return a flat record: indicators met, risk counts, year-10
    metrics and (optionally) the yearly trajectory.

    `states=True` (or a list of state policy names) adds `states`: an int8 array
    (years, policies, n_states) of each state's status at each year end, 0 = never enacted,
    1 = enacted then repealed, 2 = in force, with `state_policies` naming the middle axis.
    Recording only reads the model between steps, so the draws are those of `model.run()`."""
    model = EquityModel(spec, rng=replication_rng(seed, key), world=world_for(spec))
    policies = _state_policies(states, model)
    if policies:
        cols = [model.policy_index[p] for p in policies]
        yearly = []
        while model.running:
            model.step()
            if model.quarter % 4 == 0:  # a year has just ended
                yearly.append((model.state_policy_ever[:, cols].astype(np.int8) + model.state_policy_on[:, cols]).T)
    else:
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
    rec.update({f"district.{k}": v for k, v in model.district_summary().items()})
    for ms in model.milestones:
        rec[f"milestone.{ms.id}"] = bool(model.milestone_values.get(ms.id, -math.inf) >= ms.target)
    rec[MILESTONES] = [(ms.id, ms.target, ms.year, ms.unit) for ms in model.milestones]
    if model.adaptation is not None:   # adaptive plans: when each rule first fired, the branches taken
        rec.update({f"adapt.{k}": v for k, v in model.adaptation.first_years().items()})
        rec.update({f"adapt_fires.{r.name}": float(n) for r, n in zip(model.adaptation.rules, model.adaptation.fires)})
        rec[PATHWAY] = json.dumps(model.adaptation.switches())
    if trajectories:
        rec["trajectory"] = [{"year": 0, **{k: model.baseline[k] for k in _ind.TRAJECTORY_METRICS}}] + [
            {"year": h["year"], **{k: h[k] for k in _ind.TRAJECTORY_METRICS}} for h in model.history]
    if policies:
        rec["states"] = np.stack(yearly) if yearly else np.zeros((0, len(policies), model.n_states), np.int8)
        rec["state_policies"] = policies
    return rec


def _run_chunk(spec, seed, keys, trajectories, states=False, parameters=None):
    if parameters is None or parameters.table is None:
        return [run_replication(spec, seed, k, trajectories, states) for k in keys]
    return [run_replication(parameters.apply(spec, seed, k), seed, k, trajectories, states) for k in keys]


def _states_frame(records: list[dict], codes: list[str]) -> pd.DataFrame:
    """One row per (replication, year, policy), one int8 column per state (status codes)."""
    blocks, keys, years, pols = [], [], [], []
    for r in records:
        arr, names = r.pop("states"), r.pop("state_policies")
        n_y, n_p, _ = arr.shape
        blocks.append(arr.reshape(n_y * n_p, -1))
        keys += [r["key"]] * (n_y * n_p)
        years += list(np.repeat(np.arange(1, n_y + 1), n_p))
        pols += list(names) * n_y
    df = pd.DataFrame(np.concatenate(blocks) if blocks else np.zeros((0, len(codes)), np.int8), columns=codes)
    df.insert(0, "policy", pols)
    df.insert(0, "year", np.asarray(years, dtype=int))
    df.insert(0, "key", keys)
    return df


@dataclass
class EnsembleResult:
    """Replications of one scenario: one row per replication in `runs`."""

    spec: ScenarioSpec
    seed: int
    runs: pd.DataFrame
    trajectories: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)
    # Per-state policy status at each year end (key, year, policy, one int8 column per state;
    # 0 never enacted, 1 enacted then repealed, 2 in force), when run with `states=`.
    states: pd.DataFrame | None = None

    @property
    def replications(self) -> int:
        return len(self.runs)

    def summary(self) -> pd.DataFrame:
        """P(met) per indicator with a 95% Wilson interval (at the effective sample size when
        replications in blocks share a posterior parameter draw: `posterior.blocked_interval`)."""
        rows = []
        n = len(self.runs)
        drawn = self.meta.get("parameter_rows") is not None
        if drawn:
            from .posterior import blocked_interval
        for i in _ind.indicators():
            k = int(self.runs[f"met.{i.id}"].sum())
            if drawn:
                lo, hi, _ = blocked_interval(self.runs[f"met.{i.id}"].to_numpy(), self.runs["key"].to_numpy())
            else:
                lo, hi = _ind.wilson_interval(k, n)
            rows.append({"id": i.id, "label": i.label, "horizon_year": i.horizon_year, "target": i.target,
                         "p_met": k / n if n else float("nan"), "ci_low": lo, "ci_high": hi})
        return pd.DataFrame(rows)

    def risks(self) -> dict[str, float]:
        return {k: float(self.runs[f"risk.{k}"].mean()) for k in RISK_COUNTS}

    def districts(self) -> dict[str, float]:
        """What districts did in the practitioner's cycle, means per replication: programs
        scaled, refined, replaced, abandoned, districts moved to a lens, mean fidelity and
        burnout (and staff turnover, district spending)."""
        cols = [c for c in self.runs if c.startswith("district.")]
        return {c.removeprefix("district."): float(self.runs[c].mean()) for c in cols}

    def metrics(self) -> dict[str, float]:
        return {k: float(self.runs[f"metric.{k}"].mean()) for k in _ind.TRAJECTORY_METRICS}

    def baseline_metrics(self) -> dict[str, float]:
        return {k: float(self.runs[f"baseline.{k}"].mean()) for k in _ind.TRAJECTORY_METRICS}

    def state_share(self, policy: str, year: int, ever: bool = False) -> pd.Series:
        """Share of replications in which each state has `policy` in force at the end of `year`
        (or, with `ever`, has enacted it at some time by then), indexed by state code."""
        if self.states is None:
            raise ValueError("no per-state record: run the ensemble with states=True")
        rows = self.states[(self.states["policy"] == policy) & (self.states["year"] == year)]
        if rows.empty:
            have = sorted(set(self.states["policy"]))
            raise ValueError(f"no record of {policy!r} at year {year}; recorded policies {have}, "
                             f"years 1-{int(self.states['year'].max())}")
        codes = [c for c in self.states.columns if c not in ("key", "year", "policy")]
        status = rows[codes].to_numpy()
        return pd.Series(((status >= REPEALED) if ever else (status == IN_FORCE)).mean(0), index=codes)

    def first_enacted(self, policy: str) -> pd.DataFrame:
        """Year in which each state first enacted `policy` in each replication (NaN: never),
        one row per replication key, one column per state."""
        if self.states is None:
            raise ValueError("no per-state record: run the ensemble with states=True")
        rows = self.states[self.states["policy"] == policy]
        codes = [c for c in self.states.columns if c not in ("key", "year", "policy")]
        enacted = rows[codes].to_numpy() >= REPEALED
        year = np.where(enacted, rows["year"].to_numpy()[:, None], np.inf)
        first = pd.DataFrame(year, columns=codes).groupby(rows["key"].to_numpy()).min()
        return first.replace(np.inf, np.nan)

    def milestones(self) -> pd.DataFrame:
        """P(met) per roadmap milestone (the catalogue's per-action targets, evaluation only) with
        a 95% Wilson interval: id, target, unit, year, p_met, ci_low, ci_high."""
        rows = []
        n = len(self.runs)
        for mid, target, year, unit in self.meta.get("milestones", []):
            k = int(self.runs[f"milestone.{mid}"].sum())
            lo, hi = _ind.wilson_interval(k, n)
            rows.append({"id": mid, "target": target, "unit": unit, "year": year,
                         "p_met": k / n if n else float("nan"), "ci_low": lo, "ci_high": hi})
        return pd.DataFrame(rows, columns=["id", "target", "unit", "year", "p_met", "ci_low", "ci_high"])

    def adaptations(self) -> list[dict]:
        """Per [[adapt]] rule: share of runs in which it fired, mean year of its first firing (over
        those runs; None if it never fired) and mean fires per run."""
        out = []
        for r in self.spec.adapt:
            first = self.runs[f"adapt.{r.name}"].to_numpy(float) if f"adapt.{r.name}" in self.runs else np.array([np.nan])
            fired = ~np.isnan(first)
            out.append({"rule": r.name, "fired_share": float(fired.mean()),
                        "mean_first_year": float(first[fired].mean()) if fired.any() else None,
                        "mean_fires": float(self.runs[f"adapt_fires.{r.name}"].mean()) if f"adapt_fires.{r.name}" in self.runs else 0.0})
        return out

    def pathways(self) -> list[list[tuple[float, str]]]:
        """Per run: [(year, branch)] each time its sequencing switched branch."""
        if PATHWAY not in self.runs:
            return [[] for _ in range(len(self.runs))]
        return [[tuple(x) for x in json.loads(p)] for p in self.runs[PATHWAY]]

    def expected_met(self) -> float:
        return float(self.runs[[c for c in self.runs if c.startswith("met.")]].sum(axis=1).mean())

    def variance_from_parameters(self) -> dict[str, float]:
        """Per indicator, the share of the variance of "met" that comes from the parameters drawn
        rather than chance (posterior.variance_split); empty when the run drew no parameters."""
        if self.meta.get("parameter_rows") is None:
            return {}
        from .posterior import variance_split
        keys = self.runs["key"].to_numpy()
        return {i.id: variance_split(self.runs[f"met.{i.id}"].to_numpy(), keys) for i in _ind.indicators()}

    def to_json(self) -> dict:
        s = self.summary()
        split = self.variance_from_parameters()
        return {
            "scenario": self.spec.name,
            **({"parameters": self.meta["parameters"]} if "parameters" in self.meta else {}),
            "replications": self.replications,
            "seed": self.seed,
            "indicators": [
                {"id": r.id, "horizon_year": int(r.horizon_year), "target": r.target,
                 "p_met": round(float(r.p_met), 6), "ci_low": round(float(r.ci_low), 6),
                 "ci_high": round(float(r.ci_high), 6),
                 **({"variance_from_parameters": _round_or_none(split[r.id])} if split else {})}
                for r in s.itertuples()],
            "risks": {k: round(v, 6) for k, v in self.risks().items()},
            "districts": {k: (round(v, 6) if math.isfinite(v) else None) for k, v in self.districts().items()},
            "metrics": {k: round(v, 6) for k, v in self.metrics().items()},
            "milestones": [
                {"id": r.id, "target": round(float(r.target), 6), "year": int(r.year), "p_met": round(float(r.p_met), 6),
                 "ci_low": round(float(r.ci_low), 6), "ci_high": round(float(r.ci_high), 6)}
                for r in self.milestones().itertuples()],
            **({"adaptations": [   # adaptive plans only: a static scenario's JSON is unchanged
                {"rule": a["rule"], "fired_share": round(a["fired_share"], 6),
                 "mean_first_year": None if a["mean_first_year"] is None else round(a["mean_first_year"], 6)}
                for a in self.adaptations()]} if self.spec.adapt else {}),
        }


def _round_or_none(x: float):
    return None if not math.isfinite(x) else round(float(x), 6)


def run(spec: ScenarioSpec, replications: int = 100, seed: int = 0, jobs: int = 1,
        trajectories: bool = False, progress: Callable[[int], None] | None = None,
        chunk_size: int | None = None, states: bool | Sequence[str] = False,
        parameters=None) -> EnsembleResult:
    """Run `replications` of `spec` on `jobs` worker processes (joblib/loky).

    `progress(n)` is called with the number of replications finished in each chunk.
    `states=True` (or a list of state policies) also records each state's policy status at
    each year end in `EnsembleResult.states` (for the state map and the diffusion network).
    `parameters` (a `posterior.ParameterSource`): replication r runs with the parameter set it
    draws from it (the same draw in every scenario; `posterior.py`); None runs every replication
    at the scenario's parameters and leaves the JSON without a "parameters" key.
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
            results.append(_run_chunk(spec, seed, c, trajectories, states, parameters))
            if progress:
                progress(len(c))
    else:
        par = Parallel(n_jobs=jobs, backend="loky", return_as="generator")
        results = []
        for c, res in zip(chunks, par(delayed(_run_chunk)(spec, seed, c, trajectories, states, parameters) for c in chunks)):
            results.append(res)
            if progress:
                progress(len(c))
    records = sorted((r for chunk in results for r in chunk), key=lambda r: r["key"])
    meta = {"milestones": records[0][MILESTONES]}
    if parameters is not None:
        meta["parameters"] = parameters.label
        if parameters.table is not None:   # which posterior row each replication drew
            meta["parameter_rows"] = [parameters.index(seed, r["key"]) for r in records]
    for r in records:
        del r[MILESTONES]
    traj = None
    if trajectories:
        traj = pd.DataFrame([{"key": r["key"], **t} for r in records for t in r.pop("trajectory")])
    st = None
    if states is not False and states is not None:
        st = _states_frame(records, list(world_for(spec).states.index))
    runs = pd.DataFrame(records)
    return EnsembleResult(spec, seed, runs, traj, meta=meta, states=st)
