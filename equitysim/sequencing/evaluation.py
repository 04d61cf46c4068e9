"""Evaluating candidates through the experiments runner: each candidate's runs in its own
results directory under OUT/runs/ (resumable chunk by chunk), the search directory's manifest,
and the number of indicators met per future and run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..experiments import Experiment, ResultStore, read_runs, sweep_many
from ..experiments.store import atomic_write, check_same
from ..scenario import ScenarioError, ScenarioSpec
from .candidates import Candidate, candidate_experiment, candidate_id
from .spec import SearchSpec

SEARCH_MANIFEST = "search.json"
RUNS = "runs"
INDEX = "index.json"
CONFIRM = "confirm"   # confirmation runs of the answers, one experiment directory per candidate


def open_search_dir(root: Path, spec: SearchSpec) -> Path:
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
        atomic_write(manifest, lambda p: p.write_text(text))
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
        atomic_write(path, lambda p: p.write_text(text))


def evaluate_candidates(spec: SearchSpec, base: ScenarioSpec, cands: list[Candidate], futs: list[dict],
                        runs: Path, jobs: int, replications: int | None = None,
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
                check_same(exps[c], m, store.out)  # finished: read back, if it is this candidate's
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
