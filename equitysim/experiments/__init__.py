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

The package, by concern:

- `spec`: the schema (`ExperimentSpec`, `Design`, `Outputs`), the design and `Experiment`;
- `backends`: where chunks run (loky, dask, ray);
- `store`: the results directory (`ResultStore`), resume checks, `read_runs`, `status`;
- `runner`: one chunk in a worker, `sweep` and `sweep_many`;
- `statistics`: `summarize`, `compare`, Wilson and Newcombe intervals, replications needed.
"""

from .backends import BACKENDS, check_backend
from .runner import SweepReport, sweep, sweep_many
from .spec import (Design, Experiment, ExperimentError, ExperimentSpec, Outputs, design_parameters, load_experiment,
                   make_design, parse_experiment)
from .statistics import compare, paired_difference_interval, replications_needed, summarize, wilson_half_width
from .store import ResultStore, read_runs, read_trajectories, status

__all__ = ["BACKENDS", "Design", "Experiment", "ExperimentError", "ExperimentSpec", "Outputs", "ResultStore",
           "SweepReport", "check_backend", "compare", "design_parameters", "load_experiment", "make_design",
           "paired_difference_interval", "parse_experiment", "read_runs", "read_trajectories",
           "replications_needed", "status", "summarize", "sweep", "sweep_many", "wilson_half_width"]
