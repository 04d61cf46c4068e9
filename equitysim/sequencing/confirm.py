"""Confirmation runs: the answers and the roadmap re-run on fresh runs (their own seed), paired
run by run, so the answers' estimates are not inflated by picking the best of many."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..experiments import read_runs
from ..indicators import Z95
from ..scenario import ScenarioSpec
from .candidates import candidate_from_key, candidate_id
from .evaluation import CONFIRM, evaluate_candidates
from .spec import SearchSpec


def confirm_seed(spec: SearchSpec) -> int:
    """The confirmation runs' seed: derived from the search seed, so their streams are independent
    of the search's (a fresh sample), and the same for every candidate confirmed (paired runs)."""
    return int(np.random.SeedSequence([spec.seed, 0xC0FF1]).generate_state(1)[0])


def confirm(spec: SearchSpec, base: ScenarioSpec, picks: dict[str, str], futs: list[dict], root: Path,
            jobs: int, progress=None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Fresh runs of the picked candidates (`confirm_replications` per future, seed `confirm_seed`,
    in `root/confirm/<candidate id>/`, resumable like the search's): an estimate of each answer
    that was not used to choose it, and its difference from the roadmap, run for run (same futures
    and run keys, so the pairing removes most of the noise). Also each answer's share of runs
    meeting each indicator (rows: indicator ids), which says where a difference comes from, and the
    indicators met per future and run of each candidate ({key: [[count per run] per future]})."""
    runs = root / CONFIRM
    runs.mkdir(exist_ok=True)
    cands = [candidate_from_key(k) for k in dict.fromkeys(picks.values())]
    values, ran = evaluate_candidates(spec, base, cands, futs, runs, jobs, spec.confirm_replications, confirm_seed(spec))
    if progress and ran:
        progress(ran)
    road = np.asarray(values[picks["roadmap"]], float)   # (futures, runs)
    rows = []
    for label, key in picks.items():
        x = np.asarray(values[key], float)
        mean, half = _mean_interval(x)
        d = x - road
        diff, dhalf = _mean_interval(d)
        rows.append({"answer": label, "candidate": key, "runs": int(x.size), "expected_met": mean,
                     "ci_low": mean - half, "ci_high": mean + half, "difference_vs_roadmap": diff,
                     "diff_ci_low": diff - dhalf, "diff_ci_high": diff + dhalf})
    rates = {}
    for label, key in picks.items():
        df = read_runs(runs / candidate_id(candidate_from_key(key)))
        met = [c for c in df.columns if c.startswith("met.")]
        rates[label] = df[met].astype(float).mean().rename(lambda c: c[4:])
    return pd.DataFrame(rows), pd.DataFrame(rates).rename_axis("indicator"), values


def _mean_interval(x: np.ndarray) -> tuple[float, float]:
    """Mean over futures of the mean over runs of x (futures, runs), and the half-width of its 95%
    normal interval over runs (the same approximation as the search table's)."""
    flat = x.ravel()
    sd = flat.std(ddof=1) if flat.size > 1 else 0.0
    return float(x.mean(1).mean()), Z95 * sd / math.sqrt(flat.size)
