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
from .candidates import (OFF, Candidate, all_adaptive, all_candidates, candidate_from_key, candidate_scenario,
                         describe_rules, futures, roadmap_candidate)
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
    best_static: pd.Series | None = None      # with an [adaptive] table: the best plan without rules
    best_adaptive: pd.Series | None = None    # ... and the best with rules
    adapting_helps: pd.DataFrame | None = None   # per future: best adaptive - best static (search runs)
    confirmed_by_future: pd.DataFrame | None = None  # the same on the confirmation runs, with intervals

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
            **({} if self.best_adaptive is None else {"static_vs_adaptive": {
                label: {"candidate": row.candidate, "rules": row.rules, "expected_met": float(row.expected_met),
                        "ci_low": float(row.ci_low), "ci_high": float(row.ci_high),
                        "max_regret": float(row.max_regret), "scenario_file": self.files.get(label)}
                for label, row in (("best_static", self.best_static), ("best_adaptive", self.best_adaptive))} | {
                "adapting_helps_most": json.loads(self.adapting_helps.to_json(orient="records")),
                "confirmed_by_future": None if self.confirmed_by_future is None else
                json.loads(self.confirmed_by_future.to_json(orient="records"))}}),
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
        static_keys = list(evals)
        if spec.adaptive is not None:
            top = _table(spec, evals, futs, road).sort_values(["expected_met", "max_regret"], ascending=[False, True])
            ons = {"roadmap": road, "best_static": candidate_from_key(top.iloc[0].candidate)}
            for on in dict.fromkeys(ons[o].key() for o in spec.adaptive.on):
                _adaptive_search(spec, base, candidate_from_key(on), evaluate, jobs)
        table = _table(spec, evals, futs, road, spec if spec.adaptive else None)
        best = table.sort_values(["expected_met", "max_regret"], ascending=[False, True]).iloc[0]
        robust = table.sort_values(["max_regret", "expected_met"], ascending=[True, False]).iloc[0]
        roadmap = table[table.candidate == road.key()].iloc[0]
        best_static = best_adaptive = helps = by_future = None
        if spec.adaptive is not None:
            order = ["expected_met", "max_regret"]
            best_static = table[~table.adaptive].sort_values(order, ascending=[False, True]).iloc[0]
            best_adaptive = table[table.adaptive].sort_values(order, ascending=[False, True]).iloc[0]
            helps = _helps(table, best_static, best_adaptive, futs)
        confirmed = per_indicator = None
        if spec.confirm_replications:
            picks = {"best_expected": best.candidate, "most_robust": robust.candidate, "roadmap": road.key()}
            if spec.adaptive is not None:
                picks.update(best_static=best_static.candidate, best_adaptive=best_adaptive.candidate)
            confirmed, per_indicator, values = confirm(spec, base, picks, futs, root, jobs, progress)
            if spec.adaptive is not None:
                by_future = _paired_by_future(values[best_adaptive.candidate], values[best_static.candidate], futs)
                confirmed = _versus_static(confirmed, values, picks)
    files = {}
    if out:
        extra = {} if best_static is None else {"best_static": best_static, "best_adaptive": best_adaptive}
        files = _write_answers(spec, base, table, Path(out), extra)
        tradeoff_chart(table, Path(out) / "tradeoff.png")
        if confirmed is not None:
            confirmed.to_csv(Path(out) / "confirmed.csv", index=False)
            per_indicator.to_csv(Path(out) / "confirmed_indicators.csv")
        if helps is not None:
            helps.to_csv(Path(out) / "adapting_helps.csv", index=False)
        if by_future is not None:
            by_future.to_csv(Path(out) / "confirmed_by_future.csv", index=False)
    return SearchResult(spec, table, futs, best, robust, roadmap, files, confirmed, per_indicator,
                        best_static, best_adaptive, helps, by_future)


def _adaptive_search(spec: SearchSpec, base: ScenarioSpec, on: Candidate, evaluate, jobs: int) -> None:
    """Adaptive candidates on the timetable of `on`: every one if they fit the budget, else TPE
    over each rule's setting."""
    budget = spec.adaptive.budget
    if spec.adaptive_size <= budget:
        cands = list(all_adaptive(spec, base, on))
        step = max(1, 2 * jobs)
        for i in range(0, len(cands), step):
            evaluate(cands[i:i + step])
        return
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=spec.seed + 1, n_startup_trials=max(3, min(10, budget // 3)))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    settings = [([OFF] if rc.optional else []) + list(range(max(len(rc.thresholds), 1) * max(len(rc.actions), 1)))
                for rc in spec.adaptive.rules]
    seen: set[str] = set()
    asks = 0
    while len(seen) < budget and asks < 20 * budget:
        trial = study.ask()
        asks += 1
        c = Candidate(on.starts, on.pace, on.lead, on.first_where,
                      tuple(trial.suggest_categorical(f"rule.{rc.rule}", s) for rc, s in zip(spec.adaptive.rules, settings)))
        if not c.adaptive:   # every rule off: the static plan, evaluated already
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            continue
        vals = evaluate([c])[0]
        seen.add(c.key())
        study.tell(trial, float(np.mean([np.mean(v) for v in vals])))


def _helps(table: pd.DataFrame, static: pd.Series, adaptive: pd.Series, futs: list[dict]) -> pd.DataFrame:
    """Per future (search runs): the best adaptive plan's expected indicators met minus the best
    static plan's, largest first."""
    rows = [{"future": f["name"], "best_static": float(static[f"future.{f['name']}"]),
             "best_adaptive": float(adaptive[f"future.{f['name']}"])} for f in futs]
    df = pd.DataFrame(rows)
    df["difference"] = df.best_adaptive - df.best_static
    return df.sort_values("difference", ascending=False, kind="stable").reset_index(drop=True)


def _paired_by_future(adaptive, static, futs: list[dict]) -> pd.DataFrame:
    """Per future (confirmation runs): the paired difference adaptive - static, run by run, with
    its 95% normal interval, largest first."""
    a, s = np.asarray(adaptive, float), np.asarray(static, float)
    rows = []
    for j, f in enumerate(futs):
        d = a[j] - s[j]
        half = Z95 * (d.std(ddof=1) if d.size > 1 else 0.0) / math.sqrt(d.size)
        rows.append({"future": f["name"], "runs": int(d.size), "best_static": float(s[j].mean()),
                     "best_adaptive": float(a[j].mean()), "difference": float(d.mean()),
                     "ci_low": float(d.mean() - half), "ci_high": float(d.mean() + half)})
    return pd.DataFrame(rows).sort_values("difference", ascending=False, kind="stable").reset_index(drop=True)


def _versus_static(confirmed: pd.DataFrame, values: dict, picks: dict) -> pd.DataFrame:
    """The confirmation rows with each answer's paired difference from the best static plan."""
    from .confirm import _mean_interval

    base = np.asarray(values[picks["best_static"]], float)
    out = confirmed.copy()
    diffs = [_mean_interval(np.asarray(values[k], float) - base) for k in out.candidate]
    out["difference_vs_best_static"] = [d for d, _ in diffs]
    out["vs_static_ci_low"] = [d - h for d, h in diffs]
    out["vs_static_ci_high"] = [d + h for d, h in diffs]
    return out


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


def _table(spec: SearchSpec, evals: dict[str, list[list[float]]], futs: list[dict], road: Candidate,
           adaptive: SearchSpec | None = None) -> pd.DataFrame:
    """One row per candidate: expected indicators met (mean over futures of the mean over runs),
    a 95% interval, and the worst-case regret against the best candidate in each future (static
    and adaptive candidates together; with `adaptive`, columns `adaptive` and `rules`)."""
    keys = list(evals)
    per_future = np.array([[np.mean(v) for v in evals[k]] for k in keys])  # (cands, futures)
    best_in_future = per_future.max(0)
    rows = []
    for i, k in enumerate(keys):
        starts, pace, lead, fw, *_ = json.loads(k)
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
        if adaptive is not None:
            c = candidate_from_key(k)
            row.update(adaptive=c.adaptive, rules=describe_rules(adaptive, c))
        row.update({f"future.{f['name']}": float(per_future[i, j]) for j, f in enumerate(futs)})
        rows.append(row)
    return pd.DataFrame(rows)


def _write_answers(spec: SearchSpec, base: ScenarioSpec, table: pd.DataFrame, out: Path, extra=None) -> dict:
    import tomli_w

    files = {}
    picks = {"best_expected": table.sort_values(["expected_met", "max_regret"], ascending=[False, True]).iloc[0],
             "most_robust": table.sort_values(["max_regret", "expected_met"], ascending=[True, False]).iloc[0],
             **(extra or {})}
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
