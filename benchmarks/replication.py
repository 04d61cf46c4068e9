"""Benchmark: wall time of one replication and of an ensemble (a script, not a test).

    python benchmarks/replication.py [--scale 1.0] [--runs 10] [--ensemble 500] [--jobs 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path

from equitysim import load_scenario
from equitysim.ensemble import replication_rng, run
from equitysim.model import EquityModel, world_for

ROOT = Path(__file__).resolve().parents[1]


def time_replications(spec, runs: int) -> list[float]:
    world = world_for(spec)
    EquityModel(spec, rng=replication_rng(0, 10**6), world=world).run()  # warm-up
    out = []
    for k in range(runs):
        t = time.perf_counter()
        EquityModel(spec, rng=replication_rng(0, k), world=world).run()
        out.append(time.perf_counter() - t)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "roadmap.toml"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--ensemble", type=int, default=500, help="replications in the ensemble timing (0 to skip)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    spec = load_scenario(a.scenario).model_copy(update={"scale": a.scale})
    t0 = time.perf_counter()
    world_for(spec)
    world_s = time.perf_counter() - t0
    times = time_replications(spec, a.runs)
    res = {
        "scenario": spec.name, "scale": a.scale, "world_build_s": round(world_s, 3),
        "replication_median_s": round(statistics.median(times), 4),
        "replication_p90_s": round(sorted(times)[int(0.9 * (len(times) - 1))], 4),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    if a.ensemble:
        t = time.perf_counter()
        run(spec, a.ensemble, seed=1, jobs=a.jobs)
        res[f"ensemble_{a.ensemble}_jobs{a.jobs}_s"] = round(time.perf_counter() - t, 2)
    res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(res) if a.json else "\n".join(f"{k:32s} {v}" for k, v in res.items()))


if __name__ == "__main__":
    main()
