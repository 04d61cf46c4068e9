"""The strategist's question: which sequencing of the roadmap is best, and which is most robust.

    spec = load_search("experiments/sequencing_search.toml")   # decision space + futures
    result = search(spec, out="results/search", jobs=2)        # enumerate or optimise
    result.best_expected, result.most_robust, result.table     # answers

A *candidate* gives each block of action groups a start year, plus a pace, a leading level and
where state action starts. Every candidate is evaluated on the same *futures* (parameter draws
from the registry ranges and named stress futures) with the same run keys, so candidates are
compared on common random numbers. The best candidate maximises the expected number of
indicators met; the most robust minimises the worst-case regret across futures (regret = the best
evaluated candidate's value in that future minus this candidate's).

The search enumerates the space when it fits the evaluation budget; otherwise it uses Optuna's
TPE sampler (a well-kept optimiser that handles categorical choices natively, is seedable, and
supports ask/tell so evaluations can be batched and replayed on resume).

Each candidate is evaluated as one experiment of the experiments runner (`candidate_experiment`):
scenario f is the candidate under future f, run `replications` times with run keys (f, r), one
chunk per future. Its runs go to `OUT/runs/<candidate id>/`, an ordinary results directory
(`equitysim summarize` reads it), so a search resumes chunk by chunk after a crash; with no
`out`, they go to a temporary directory that is deleted afterwards.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import indicators as _ind
from . import params as _params
from .actions import WHERE, default_catalogue
from .experiments import (Experiment, ResultStore, _atomic_write, _check_same, parse_experiment, read_runs,
                          sweep_many)
from .scenario import Event, ScenarioError, ScenarioSpec, SequenceEntry, load_scenario, read_toml, validate

LEADS = ("all", "federal", "state", "local")
# Years by which each level starts after the leading one ("build on wins": the leader goes first).
LEAD_SHIFT = {
    "all": {"federal": 0, "state": 0, "local": 0, "support": 0},
    "federal": {"federal": 0, "state": 1, "local": 2, "support": 0},
    "state": {"federal": 2, "state": 0, "local": 1, "support": 0},
    "local": {"federal": 3, "state": 1, "local": 0, "support": 0},
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Block(_Strict):
    name: str
    groups: list[str] = Field(min_length=1)

    @field_validator("groups")
    @classmethod
    def _known(cls, v):
        known = default_catalogue().groups
        bad = [g for g in v if g not in known]
        if bad:
            raise ValueError(f"catalogue action groups (unknown: {', '.join(bad)})")
        return v


class StressFuture(_Strict):
    name: str
    events: list[Event] = Field(default_factory=list)
    parameters: dict[str, float] = Field(default_factory=dict)


class Futures(_Strict):
    draws: int = Field(6, ge=0, le=500)
    parameters: list[str] = Field(default_factory=lambda: ["recession_prob", "backlash_rate", "federal_flip_prob",
                                                            "implementation_failure_rate", "coalition_growth"])
    stress: list[StressFuture] = Field(default_factory=list)

    @field_validator("parameters")
    @classmethod
    def _known(cls, v):
        reg = _params.registry()
        bad = [p for p in v if p not in reg]
        if bad:
            raise ValueError(f"registry parameter names (unknown: {', '.join(bad)})")
        return v


class SearchSpec(_Strict):
    name: str
    base: str = Field(description="scenario file the candidates vary (path relative to the search file)")
    scale: float = Field(1.0, gt=0, le=20)
    seed: int = Field(0, ge=0)
    replications: int = Field(10, ge=1, le=10_000, description="runs per candidate and future")
    budget: int = Field(60, ge=1, le=100_000, description="candidates evaluated at most")
    confirm_replications: int = Field(0, ge=0, le=10_000, description=(
        "fresh runs per future re-evaluating the best, the most robust and the roadmap after the search "
        "(their own seed; 0: none), so the answers' estimates are not inflated by picking the best of many"))
    optimizer: Literal["auto", "enumerate", "tpe"] = "auto"
    blocks: list[Block] = Field(min_length=1)
    start_years: list[float] = Field(default_factory=lambda: [0.0, 2.0, 4.0], min_length=1)
    paces: list[float] = Field(default_factory=lambda: [0.5], min_length=1)
    leads: list[Literal["all", "federal", "state", "local"]] = Field(default_factory=lambda: ["all"], min_length=1)
    first_where: list[str] = Field(default_factory=lambda: ["default"], min_length=1)
    futures: Futures = Futures()

    @field_validator("start_years")
    @classmethod
    def _years(cls, v):
        if any(not (0 <= y <= 9) for y in v):
            raise ValueError("start years between 0 and 9")
        return v

    @field_validator("paces")
    @classmethod
    def _paces(cls, v):
        if any(not (0 <= x <= 1) for x in v):
            raise ValueError("paces between 0 and 1")
        return v

    @field_validator("first_where")
    @classmethod
    def _where(cls, v):
        bad = [w for w in v if w != "default" and w not in WHERE]
        if bad:
            raise ValueError(f"'default' or one of {', '.join(WHERE)} (unknown: {', '.join(bad)})")
        return v

    @model_validator(mode="after")
    def _disjoint(self):
        seen = {}
        for b in self.blocks:
            for g in b.groups:
                if g in seen:
                    raise ValueError(f"each group in one block only ({g} is in {seen[g]} and {b.name})")
                seen[g] = b.name
        return self

    @property
    def space_size(self) -> int:
        return len(self.start_years) ** len(self.blocks) * len(self.paces) * len(self.leads) * len(self.first_where)


def load_search(path: str | Path) -> tuple[SearchSpec, ScenarioSpec]:
    """Read a search file and its base scenario; one-line ScenarioError on any problem."""
    p = Path(path)
    spec = validate(SearchSpec, read_toml(p, "search"), str(p))
    base_path = (p.parent / spec.base) if not Path(spec.base).is_absolute() else Path(spec.base)
    if not base_path.exists():
        raise ScenarioError(f"{p}: base: expected an existing scenario file (not found: {base_path})")
    base = load_scenario(base_path).model_copy(update={"scale": spec.scale})
    return spec, base


# ---------------------------------------------------------------- candidates

@dataclass(frozen=True)
class Candidate:
    starts: tuple[float, ...]  # one per block
    pace: float
    lead: str
    first_where: str

    def key(self) -> str:
        return json.dumps([list(self.starts), self.pace, self.lead, self.first_where])

    def describe(self, spec: SearchSpec) -> dict:
        d = {f"start.{b.name}": s for b, s in zip(spec.blocks, self.starts)}
        d.update(pace=self.pace, lead=self.lead, first_where=self.first_where)
        return d


def _group_level(group: str) -> str:
    return next(a.level for a in default_catalogue().by_group(group))


def candidate_scenario(spec: SearchSpec, base: ScenarioSpec, c: Candidate, name: str) -> ScenarioSpec:
    """The scenario a candidate stands for: the base scenario with each block's groups moved to the
    block's start year (keeping their offsets within the block), the lead's shifts, the pace, and
    state action first in `first_where` states for its first two years."""
    block_of = {g: i for i, b in enumerate(spec.blocks) for g in b.groups}
    base_start = {}
    for e in base.sequence:
        if e.group in block_of:
            i = block_of[e.group]
            base_start[i] = min(base_start.get(i, 99.0), e.start_year)
    last = base.years - 0.25
    seq: list[SequenceEntry] = []
    for e in base.sequence:
        level = _group_level(e.group)
        shift = LEAD_SHIFT[c.lead][level]
        start, end = e.start_year, e.end_year
        if e.group in block_of:
            i = block_of[e.group]
            start = c.starts[i] + (e.start_year - base_start[i])
            end = None if e.end_year is None else c.starts[i] + (e.end_year - base_start[i])
        start = min(start + shift, last)
        end = None if end is None else min(max(end + shift, start + 1), base.years)
        if level == "state" and c.first_where != "default" and e.where == "default":
            split = start + 2 if end is None else min(start + 2, end)
            seq.append(e.model_copy(update={"start_year": start, "end_year": split, "where": c.first_where}))
            if end is None or split < end:
                seq.append(e.model_copy(update={"start_year": split, "end_year": end}))
        else:
            seq.append(e.model_copy(update={"start_year": start, "end_year": end}))
    strategy = base.strategy.model_copy(update={"pacing": c.pace})
    return base.model_copy(update={"name": name, "sequence": seq, "strategy": strategy,
                                   "description": f"Sequencing search candidate: {c.describe(spec)}"})


# ---------------------------------------------------------------- futures

def futures(spec: SearchSpec) -> list[dict]:
    """Parameter draws from the registry ranges (Latin hypercube, SALib) plus the named stress
    futures. Each future: {"name", "parameters", "events"}."""
    out = []
    if spec.futures.draws:
        from SALib.sample import latin

        reg = _params.registry()
        names = spec.futures.parameters
        problem = {"num_vars": len(names), "names": names, "bounds": [[reg[n].low, reg[n].high] for n in names]}
        X = latin.sample(problem, spec.futures.draws, seed=spec.seed)
        for i, row in enumerate(X):
            out.append({"name": f"draw {i}", "parameters": dict(zip(names, map(float, row))), "events": []})
    for s in spec.futures.stress:
        out.append({"name": s.name, "parameters": dict(s.parameters), "events": list(s.events)})
    if not out:
        out.append({"name": "central", "parameters": {}, "events": []})
    return out


def _apply_future(scn: ScenarioSpec, fut: dict) -> ScenarioSpec:
    return scn.model_copy(update={"parameters": {**scn.parameters, **fut["parameters"]},
                                  "events": list(scn.events) + list(fut["events"])})


# ---------------------------------------------------------------- evaluation (experiments runner)

SEARCH_MANIFEST = "search.json"
RUNS = "runs"
INDEX = "index.json"
CONFIRM = "confirm"   # confirmation runs of the answers, one experiment directory per candidate


def candidate_id(c: Candidate) -> str:
    """The name of a candidate's results directory under OUT/runs/: a short hash of its key."""
    return hashlib.sha256(c.key().encode()).hexdigest()[:16]


def confirm_seed(spec: SearchSpec) -> int:
    """The confirmation runs' seed: derived from the search seed, so their streams are independent
    of the search's (a fresh sample), and the same for every candidate confirmed (paired runs)."""
    return int(np.random.SeedSequence([spec.seed, 0xC0FF1]).generate_state(1)[0])


def candidate_experiment(spec: SearchSpec, base: ScenarioSpec, c: Candidate, futs: list[dict],
                         replications: int | None = None, seed: int | None = None) -> Experiment:
    """A candidate as an experiment: scenario f is the candidate under future f (in futures order),
    one design point with no parameters, `spec.replications` runs each keyed by scenario, so future
    f replication r has run key (f, r) in every candidate (common random numbers across
    candidates), one chunk per future, and only whether each indicator is met kept."""
    scn = candidate_scenario(spec, base, c, "candidate")
    scenarios = [_apply_future(scn, f).model_copy(update={"name": f"future {i}: {f['name']}"})
                 for i, f in enumerate(futs)]
    data = {"name": f"{spec.name} candidate {candidate_id(c)}",
            "description": f"sequencing search candidate {c.key()}",
            "replications": replications or spec.replications, "seed": spec.seed if seed is None else seed,
            "scale": base.scale, "chunk_size": replications or spec.replications, "key_by": "scenario",
            "outputs": {"values": False, "risks": False, "metrics": False, "trajectories": False}}
    return parse_experiment(data, f"sequencing search '{spec.name}'", scenarios=scenarios)


def _open_search_dir(root: Path, spec: SearchSpec) -> Path:
    """Create or check `root/search.json` (the search spec's digest); returns `root/runs`. A
    directory made by another spec is refused with one line."""
    root.mkdir(parents=True, exist_ok=True)
    manifest = root / SEARCH_MANIFEST
    # confirmation runs live in their own directories, so adding them later keeps the search's runs
    digest = hashlib.sha256(spec.model_dump_json(exclude={"confirm_replications"}).encode()).hexdigest()
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text())
        except (OSError, ValueError) as e:
            raise ScenarioError(f"{manifest}: (file): expected the JSON file `equitysim sequence` writes "
                                f"({e.__class__.__name__})") from None
        if not isinstance(old, dict) or old.get("spec_sha256") != digest:
            name = old.get("name") if isinstance(old, dict) else None
            raise ScenarioError(f"{root}: (resume): expected a directory made by the same search "
                                f"spec; this one was made by '{name}' with different settings")
    else:
        text = json.dumps({"name": spec.name, "spec_sha256": digest,
                           "spec": json.loads(spec.model_dump_json())}, indent=1)
        _atomic_write(manifest, lambda p: p.write_text(text))
    runs = root / RUNS
    runs.mkdir(exist_ok=True)
    return runs


def _record(runs: Path, cands: list[Candidate]) -> None:
    """Add candidates to `runs/index.json` (candidate key -> directory), written atomically."""
    path = runs / INDEX
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError):
        index = {}  # only a guide for people: rebuilt from the candidates being run
    if not isinstance(index, dict):
        index = {}
    new = {c.key(): candidate_id(c) for c in cands if index.get(c.key()) != candidate_id(c)}
    if new:
        text = json.dumps({**index, **new}, indent=1)
        _atomic_write(path, lambda p: p.write_text(text))


def _evaluate(spec: SearchSpec, base: ScenarioSpec, cands: list[Candidate], futs: list[dict], runs: Path,
              jobs: int, replications: int | None = None,
              seed: int | None = None) -> tuple[dict[str, list[list[float]]], int]:
    """Each candidate's indicators met per future and run ({key: [[count per run] per future]}),
    running whatever its directory lacks (all candidates' chunks share the workers), and how many
    candidates had runs to do."""
    exps = {c: candidate_experiment(spec, base, c, futs, replications, seed) for c in cands}
    todo = []
    for c in cands:
        store = ResultStore(runs / candidate_id(c))
        if store.exists():
            m = store.manifest()
            if len(store.done_chunks()) == m.get("chunks"):
                _check_same(exps[c], m, store.out)  # finished: read back, if it is this candidate's
                continue
        todo.append(c)
    if todo:
        _record(runs, todo)
        sweep_many([(exps[c], runs / candidate_id(c)) for c in todo], jobs=jobs, resume=True)
    return {c.key(): _met_counts(runs / candidate_id(c), exps[c]) for c in cands}, len(todo)


def _met_counts(out: Path, exp: Experiment) -> list[list[float]]:
    """Per scenario (= future) in order, per replication: the number of indicators met."""
    df = read_runs(out)
    met = [k for k in df.columns if k.startswith("met.")]
    counts = df[met].sum(axis=1).astype(float)
    values = [counts[df["scenario"] == name].tolist() for name in exp.names]
    if any(len(v) != exp.spec.replications for v in values):
        raise ScenarioError(f"{out}: runs: expected {exp.spec.replications} runs per future (was a chunk file "
                            f"edited by hand?)")
    return values


# ---------------------------------------------------------------- the search

@dataclass
class SearchResult:
    spec: SearchSpec
    table: pd.DataFrame           # one row per evaluated candidate (roadmap included)
    futures: list[dict]
    best_expected: pd.Series
    most_robust: pd.Series
    roadmap: pd.Series
    files: dict[str, str]
    confirmed: pd.DataFrame | None = None   # fresh runs of the answers and the roadmap (see _confirm)
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


def _all_candidates(spec: SearchSpec):
    for starts in itertools.product(spec.start_years, repeat=len(spec.blocks)):
        for pace, lead, fw in itertools.product(spec.paces, spec.leads, spec.first_where):
            yield Candidate(tuple(starts), pace, lead, fw)


def _roadmap_candidate(spec: SearchSpec, base: ScenarioSpec) -> Candidate:
    """The base scenario expressed in the decision space where possible (its own block starts)."""
    starts = []
    for b in spec.blocks:
        ys = [e.start_year for e in base.sequence if e.group in b.groups]
        starts.append(min(ys) if ys else spec.start_years[0])
    return Candidate(tuple(starts), base.strategy.pacing, "all", "default")


def search(spec: SearchSpec, base: ScenarioSpec, out: str | Path | None = None, jobs: int = 1,
           progress=None) -> SearchResult:
    """Run the search, each candidate's runs in `out/runs/<candidate id>/` (resuming whatever is
    there) or, with no `out`, in a temporary directory. `progress(n)`: n more candidates run."""
    futs = futures(spec)
    with ExitStack() as stack:
        root = Path(out) if out else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="equitysim-")))
        runs = _open_search_dir(root, spec)
        evals: dict[str, list[list[float]]] = {}  # the candidates asked for, in order

        def evaluate(cands: list[Candidate]) -> list[list[list[float]]]:
            new = [c for c in dict.fromkeys(cands) if c.key() not in evals]
            if new:
                values, ran = _evaluate(spec, base, new, futs, runs, jobs)
                evals.update(values)
                if progress and ran:
                    progress(ran)
            return [evals[c.key()] for c in cands]

        road = _roadmap_candidate(spec, base)
        method = spec.optimizer
        if method == "auto":
            method = "enumerate" if spec.space_size <= spec.budget else "tpe"
        if method == "enumerate":
            cands = list(_all_candidates(spec))[: spec.budget]
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
            confirmed, per_indicator = _confirm(spec, base, picks, futs, root, jobs, progress)
    files = {}
    if out:
        files = _write_answers(spec, base, table, Path(out))
        _plot(table, Path(out) / "tradeoff.png")
        if confirmed is not None:
            confirmed.to_csv(Path(out) / "confirmed.csv", index=False)
            per_indicator.to_csv(Path(out) / "confirmed_indicators.csv")
    return SearchResult(spec, table, futs, best, robust, roadmap, files, confirmed, per_indicator)


def _candidate(key: str) -> Candidate:
    starts, pace, lead, fw = json.loads(key)
    return Candidate(tuple(starts), pace, lead, fw)


def _confirm(spec: SearchSpec, base: ScenarioSpec, picks: dict[str, str], futs: list[dict], root: Path,
             jobs: int, progress=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fresh runs of the picked candidates (`confirm_replications` per future, seed `confirm_seed`,
    in `root/confirm/<candidate id>/`, resumable like the search's): an estimate of each answer
    that was not used to choose it, and its difference from the roadmap, run for run (same futures
    and run keys, so the pairing removes most of the noise). Also each answer's share of runs
    meeting each indicator (rows: indicator ids), which says where a difference comes from."""
    runs = root / CONFIRM
    runs.mkdir(exist_ok=True)
    cands = [_candidate(k) for k in dict.fromkeys(picks.values())]
    values, ran = _evaluate(spec, base, cands, futs, runs, jobs, spec.confirm_replications, confirm_seed(spec))
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
        df = read_runs(runs / candidate_id(_candidate(key)))
        met = [c for c in df.columns if c.startswith("met.")]
        rates[label] = df[met].astype(float).mean().rename(lambda c: c[4:])
    return pd.DataFrame(rows), pd.DataFrame(rates).rename_axis("indicator")


def _mean_interval(x: np.ndarray) -> tuple[float, float]:
    """Mean over futures of the mean over runs of x (futures, runs), and the half-width of its 95%
    normal interval over runs (the same approximation as the search table's)."""
    flat = x.ravel()
    sd = flat.std(ddof=1) if flat.size > 1 else 0.0
    return float(x.mean(1).mean()), 1.959964 * sd / math.sqrt(flat.size)


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
        half = 1.959964 * sd / math.sqrt(len(runs))
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
        scn = candidate_scenario(spec, base, _candidate(row.candidate), f"{spec.name}_{label}")
        data = json.loads(scn.model_dump_json(exclude_none=True))
        data.pop("scale", None)  # the file runs at whatever scale the user asks for
        path = out / f"{label}.toml"
        path.write_text(f"# {label.replace('_', ' ')} sequencing found by `equitysim sequence` ({spec.name})\n"
                        + tomli_w.dumps(data))
        files[label] = str(path)
    table.to_csv(out / "candidates.csv", index=False)
    return files


def _plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter(table.max_regret, table.expected_met, s=18, color="#0072B2", alpha=0.6, label="candidates")
    r = table[table.is_roadmap]
    ax.scatter(r.max_regret, r.expected_met, s=80, color="#D55E00", marker="D", label="roadmap as written")
    best = table.sort_values("expected_met", ascending=False).iloc[0]
    rob = table.sort_values("max_regret").iloc[0]
    ax.scatter([best.max_regret], [best.expected_met], s=90, facecolors="none", edgecolors="#009E73", linewidths=2,
               label="best expected")
    ax.scatter([rob.max_regret], [rob.expected_met], s=90, marker="s", facecolors="none", edgecolors="#CC79A7",
               linewidths=2, label="most robust")
    ax.set_xlabel("worst-case regret across futures (indicators; further left is safer)")
    ax.set_ylabel("expected indicators met (of 12; higher is better)")
    road = r.iloc[0] if len(r) else None
    if road is not None and road.candidate == best.candidate == rob.candidate:
        title = f"The roadmap as written is both the best and the most robust of {len(table)} sequencings"
    elif road is not None and best.expected_met > road.expected_met:
        title = (f"The best sequencing meets {best.expected_met - road.expected_met:.1f} more indicators "
                 f"than the roadmap on average")
    else:
        title = f"{len(table)} sequencings: expected value against worst-case regret"
    ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def describe_difference(res: SearchResult) -> list[str]:
    """Plain sentences: how the best and the most robust sequencings differ from the roadmap."""
    spec = res.spec
    out = []
    road = res.roadmap
    for label, row in (("The sequencing with the highest expected value", res.best_expected),
                       ("The most robust sequencing", res.most_robust)):
        if row is res.most_robust and row.candidate == res.best_expected.candidate:
            out.append("The most robust sequencing (the smallest worst-case regret across futures) is the same one.")
            continue
        diffs = []
        for b in spec.blocks:
            a, r = row[f"start.{b.name}"], road[f"start.{b.name}"]
            if a != r:
                diffs.append(f"starts {b.name.replace('_', ' ')} in year {a + 1:g} instead of year {r + 1:g}")
        if row.pace != road.pace:
            diffs.append(f"paces reform at {row.pace:g} instead of {road.pace:g}")
        if row.lead != road.lead:
            diffs.append(f"lets the {row.lead} level lead" if row.lead != "all" else "moves all levels at once")
        if row.first_where != road.first_where:
            diffs.append(f"starts state action in {row.first_where.replace('_', ' ')} states")
        what = "; ".join(diffs) if diffs else "is the roadmap as written"
        out.append(f"{label} {what}. It meets {row.expected_met:.2f} of 12 indicators on average "
                   f"({row.ci_low:.2f}-{row.ci_high:.2f}) against the roadmap's {road.expected_met:.2f} "
                   f"({road.ci_low:.2f}-{road.ci_high:.2f}); its worst-case regret is {row.max_regret:.2f} "
                   f"against the roadmap's {road.max_regret:.2f}.")
    c = res.confirmed
    if c is not None:
        r = c.set_index("answer")
        n = res.spec.confirm_replications
        for label, name in (("best_expected", "highest expected value"), ("most_robust", "most robust")):
            if label == "most_robust" and r.loc[label, "candidate"] == r.loc["best_expected", "candidate"]:
                continue
            x, road_c = r.loc[label], r.loc["roadmap"]
            if x.candidate == road_c.candidate:
                continue
            noise = x.diff_ci_low <= 0 <= x.diff_ci_high
            why = ""
            if res.confirmed_indicators is not None:
                d = (res.confirmed_indicators[label] - res.confirmed_indicators["roadmap"]).sort_values()
                phrase = {i.id: i.phrase or i.label for i in _ind.indicators()}
                parts = [f'"{phrase.get(k, k)}" ({100 * v:+.0f} percentage points)'
                         for k, v in d[::-1].items() if v >= 0.02][:2]
                lost = [f'"{phrase.get(k, k)}" ({100 * v:+.0f})' for k, v in d.items() if v <= -0.02][:1]
                if parts and not noise:
                    why = " The gain comes mostly from indicators met more often: " + " and ".join(parts)
                    why += (f"; it meets {lost[0]} less often." if lost else ".")
            out.append(
                f"Re-run on {n} fresh runs per future (runs not used to choose it), the sequencing with the {name} "
                f"meets {x.expected_met:.2f} ({x.ci_low:.2f}-{x.ci_high:.2f}) against the roadmap's "
                f"{road_c.expected_met:.2f} ({road_c.ci_low:.2f}-{road_c.ci_high:.2f}): a difference of "
                f"{x.difference_vs_roadmap:+.2f} indicators (95% interval {x.diff_ci_low:+.2f} to {x.diff_ci_high:+.2f}, "
                f"paired run by run)" + (", within simulation noise." if noise else ".") + why)
    return out
