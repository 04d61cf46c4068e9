"""The search: enumerate the decision space when it fits the budget, else Optuna's TPE sampler;
the table of candidates (expected indicators met, interval, worst-case regret), the answers
written as scenario files, the chart, and the confirmation runs."""

from __future__ import annotations

import json
import math
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..indicators import Z95
from ..narrative import describe_difference
from ..plots import tradeoff_chart
from ..scenario import ScenarioSpec
from .candidates import (Candidate, all_candidates, candidate_from_key, candidate_scenario, futures,
                         roadmap_candidate)
from .confirm import confirm, confirm_seed
from .evaluation import evaluate_candidates, open_search_dir
from .spec import SearchSpec


@dataclass
class SearchResult:
    """A search's answers: the table of candidates, the futures, the best-expected, most robust and
    roadmap rows, the files written and, if asked, the confirmation runs."""

    spec: SearchSpec
    table: pd.DataFrame           # one row per evaluated candidate (roadmap included)
    futures: list[dict]
    best_expected: pd.Series
    most_robust: pd.Series
    roadmap: pd.Series
    files: dict[str, str]
    confirmed: pd.DataFrame | None = None   # fresh runs of the answers and the roadmap (see confirm.confirm)
    confirmed_indicators: pd.DataFrame | None = None  # P(met) per indicator (rows) and answer (columns)

    def to_json(self) -> dict:
        cols = ["candidate", "expected_met", "ci_low", "ci_high", "max_regret"]
        cand = self.table[cols + [c for c in self.table if c.startswith("start.") or c in ("pace", "lead", "first_where")]]
        return {
            "evaluated": int(len(self.table)),
            "best_expected": {"scenario_file": self.files.get("best_expected"),
                              "expected_met": float(self.best_expected.expected_met),
                              "ci_low": float(self.best_expected.ci_low), "ci_high": float(self.best_expected.ci_high)},
            "most_robust": {"scenario_file": self.files.get("most_robust"),
                            "max_regret": float(self.most_robust.max_regret)},
            "roadmap": {"expected_met": float(self.roadmap.expected_met), "ci_low": float(self.roadmap.ci_low),
                        "ci_high": float(self.roadmap.ci_high), "max_regret": float(self.roadmap.max_regret)},
            "candidates": json.loads(cand.sort_values("expected_met", ascending=False).head(20).to_json(orient="records")),
            "confirmation": None if self.confirmed is None else {
                "replications_per_future": self.spec.confirm_replications, "seed": confirm_seed(self.spec),
                "rows": json.loads(self.confirmed.to_json(orient="records"))},
        }

    def sentences(self) -> list[str]:
        return describe_difference(self)


def search(spec: SearchSpec, base: ScenarioSpec, out: str | Path | None = None, jobs: int = 1,
           progress=None) -> SearchResult:
    """Run the search, each candidate's runs in `out/runs/<candidate id>/` (resuming whatever is
    there) or, with no `out`, in a temporary directory. `progress(n)`: n more candidates run."""
    futs = futures(spec)
    with ExitStack() as stack:
        root = Path(out) if out else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="equitysim-")))
        runs = open_search_dir(root, spec)
        evals: dict[str, list[list[float]]] = {}  # the candidates asked for, in order

        def evaluate(cands: list[Candidate]) -> list[list[list[float]]]:
            new = [c for c in dict.fromkeys(cands) if c.key() not in evals]
            if new:
                values, ran = evaluate_candidates(spec, base, new, futs, runs, jobs)
                evals.update(values)
                if progress and ran:
                    progress(ran)
            return [evals[c.key()] for c in cands]

        road = roadmap_candidate(spec, base)
        method = spec.optimizer
        if method == "auto":
            method = "enumerate" if spec.space_size <= spec.budget else "tpe"
        if method == "enumerate":
            cands = list(all_candidates(spec))[: spec.budget]
            step = max(1, 2 * jobs)  # candidates per batch; their chunks (one per future) share the workers
            evaluate([road] + cands[:step])
            for i in range(step, len(cands), step):
                evaluate(cands[i:i + step])
        else:
            evaluate([road])
            _tpe(spec, evaluate)
        table = _table(spec, evals, futs, road)
        best = table.sort_values(["expected_met", "max_regret"], ascending=[False, True]).iloc[0]
        robust = table.sort_values(["max_regret", "expected_met"], ascending=[True, False]).iloc[0]
        roadmap = table[table.candidate == road.key()].iloc[0]
        confirmed = per_indicator = None
        if spec.confirm_replications:
            picks = {"best_expected": best.candidate, "most_robust": robust.candidate, "roadmap": road.key()}
            confirmed, per_indicator = confirm(spec, base, picks, futs, root, jobs, progress)
    files = {}
    if out:
        files = _write_answers(spec, base, table, Path(out))
        tradeoff_chart(table, Path(out) / "tradeoff.png")
        if confirmed is not None:
            confirmed.to_csv(Path(out) / "confirmed.csv", index=False)
            per_indicator.to_csv(Path(out) / "confirmed_indicators.csv")
    return SearchResult(spec, table, futs, best, robust, roadmap, files, confirmed, per_indicator)


def _tpe(spec: SearchSpec, evaluate) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=max(3, min(10, spec.budget // 3)))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    seen: set[str] = set()
    asks = 0
    while len(seen) < min(spec.budget, spec.space_size) and asks < 20 * spec.budget:
        trial = study.ask()
        asks += 1
        c = Candidate(
            tuple(trial.suggest_categorical(f"start.{b.name}", spec.start_years) for b in spec.blocks),
            trial.suggest_categorical("pace", spec.paces),
            trial.suggest_categorical("lead", spec.leads),
            trial.suggest_categorical("first_where", spec.first_where),
        )
        vals = evaluate([c])[0]
        seen.add(c.key())
        study.tell(trial, float(np.mean([np.mean(v) for v in vals])))


def _table(spec: SearchSpec, evals: dict[str, list[list[float]]], futs: list[dict], road: Candidate) -> pd.DataFrame:
    """One row per candidate: expected indicators met (mean over futures of the mean over runs),
    a 95% interval, and the worst-case regret against the best candidate in each future."""
    keys = list(evals)
    per_future = np.array([[np.mean(v) for v in evals[k]] for k in keys])  # (cands, futures)
    best_in_future = per_future.max(0)
    rows = []
    for i, k in enumerate(keys):
        starts, pace, lead, fw = json.loads(k)
        runs = np.concatenate([np.asarray(v) for v in evals[k]])
        sd = runs.std(ddof=1) if len(runs) > 1 else 0.0
        # Interval for the expected count: mean of per-future means, normal approximation over runs.
        m = float(per_future[i].mean())
        half = Z95 * sd / math.sqrt(len(runs))
        row = {"candidate": k, "expected_met": m, "ci_low": m - half, "ci_high": m + half,
               "max_regret": float((best_in_future - per_future[i]).max()),
               "is_roadmap": k == road.key()}
        row.update({f"start.{b.name}": s for b, s in zip(spec.blocks, starts)})
        row.update(pace=pace, lead=lead, first_where=fw)
        row.update({f"future.{f['name']}": float(per_future[i, j]) for j, f in enumerate(futs)})
        rows.append(row)
    return pd.DataFrame(rows)


def _write_answers(spec: SearchSpec, base: ScenarioSpec, table: pd.DataFrame, out: Path) -> dict:
    import tomli_w

    files = {}
    picks = {"best_expected": table.sort_values(["expected_met", "max_regret"], ascending=[False, True]).iloc[0],
             "most_robust": table.sort_values(["max_regret", "expected_met"], ascending=[True, False]).iloc[0]}
    for label, row in picks.items():
        scn = candidate_scenario(spec, base, candidate_from_key(row.candidate), f"{spec.name}_{label}")
        data = json.loads(scn.model_dump_json(exclude_none=True))
        data.pop("scale", None)  # the file runs at whatever scale the user asks for
        path = out / f"{label}.toml"
        path.write_text(f"# {label.replace('_', ' ')} sequencing found by `equitysim sequence` ({spec.name})\n"
                        + tomli_w.dumps(data))
        files[label] = str(path)
    table.to_csv(out / "candidates.csv", index=False)
    return files
