"""The sweep: run every chunk of an experiment not yet on disk, on a backend, writing each as it
finishes; several experiments can share one pool of workers (`sweep_many`).

A chunk is `chunk_size` consecutive runs of `Experiment.runs()`; `_run_chunk` runs one in a
worker (one row per run: met, and if kept values, risks, metrics and trajectories).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..ensemble import run_replication
from .backends import check_backend, execute
from .spec import Experiment, ExperimentError, Outputs, load_experiment
from .store import FORMAT, MANIFEST, ResultStore, check_same, package_versions


def _chunk_task(exp: Experiment, c: int) -> dict:
    runs = exp.chunk(c)
    points = sorted({p for _, p, _ in runs})
    return {"chunk": c, "seed": exp.spec.seed, "runs": runs, "scenarios": exp.scenarios,
            "points": {p: {k: float(v) for k, v in exp.design.loc[p].items()} for p in points},
            "outputs": exp.spec.outputs, "key_by": exp.spec.run_key,
            "parameters": None if exp.spec.parameters == "defaults" else exp.parameter_source()}


def _run_chunk(task: dict) -> tuple[int | tuple[int, int], pd.DataFrame, pd.DataFrame | None]:
    """Run one chunk (in a worker): the task's chunk id, its runs table and, if asked, its
    trajectories table. The world comes from the per-process cache, so it is built once per
    worker, not per run."""
    out: Outputs = task["outputs"]
    rows, traj = [], []
    for si, p, r in task["runs"]:
        values = task["points"][p]
        spec = task["scenarios"][si]
        first = {"scenario": si, "replication": 0}.get(task["key_by"], p)  # else "point"
        source = task.get("parameters")
        if source is not None:   # the run's posterior draw, then the design's values over it
            spec = source.apply(spec, task["seed"], r)   # by replication only: paired everywhere
        if values:
            spec = spec.with_parameters(**values)
        row = {"scenario": spec.name, "point": p, "replication": r}
        if source is not None and source.table is not None:   # which posterior row the run drew
            row["parameter_row"] = source.index(task["seed"], r)
        row.update({f"param.{k}": v for k, v in values.items()})
        if out.history:   # the calibration's statistics (a traced run, not an indicator run)
            from ..validation import trace
            row.update({f"hist.{k}": float(v) for k, v in trace(spec, task["seed"], (first, r)).items()})
            rows.append(row)
            continue
        rec = run_replication(spec, task["seed"], (first, r), trajectories=out.trajectories)
        for k, v in rec.items():
            kind = k.split(".", 1)[0]
            if kind in ("met", "adapt", "adapt_fires") or (kind == "value" and out.values) or (
                    kind == "risk" and out.risks) or (kind in ("metric", "baseline") and out.metrics):
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
        elif c in ("point", "replication", "year", "parameter_row") or c.startswith("risk."):
            types[c] = "int64"
        elif c.startswith("met."):
            types[c] = "bool"
        else:
            types[c] = "float64"
    return df.astype(types)


@dataclass
class SweepReport:
    """What a sweep did in one results directory: runs in the experiment, on disk before, run now;
    chunks written; wall-clock seconds; backend and number of workers."""

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
        results = execute(_run_chunk, tasks, backend, jobs, address)
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
        check_same(exp, m, store.out)
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
            "versions": package_versions(),
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

