"""The benchmark suite (a script, not a test): how fast one replication runs, how that compares
with the plain per-agent Mesa reference of the same rules, how it scales, and what an ensemble
costs in time and memory.

    python benchmarks/run.py                 # everything, printed
    python benchmarks/run.py --json          # one JSON object (keys below)
    python benchmarks/run.py --quick         # fewer repetitions, for a smoke run
    python benchmarks/run.py --oracle 200    # the 200-replication fast-vs-reference comparison

JSON keys: replication_median_s, replication_p90_s (one full-scale roadmap replication, 40
quarters, all 99,000 schools, one core, after warm-up), reference_ratio (reference time / fast
time, side by side at reference_scale), reference_scale, speedup_2_workers (200-replication
ensemble on 1 vs 2 workers), scaling (median seconds at scales 0.1, 1, 3 and 10), peak_rss_mb
(largest process of the full-scale 200-replication ensemble on 2 workers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from equitysim import load_scenario  # noqa: E402
from equitysim.ensemble import replication_rng, run  # noqa: E402
from equitysim.model import EquityModel, world_for  # noqa: E402

SCENARIO = ROOT / "scenarios" / "roadmap.toml"


def spec_at(scale: float):
    return load_scenario(SCENARIO).model_copy(update={"scale": scale})


def time_replications(spec, runs: int, warmup: int = 1) -> list[float]:
    """Wall seconds of `runs` replications (model construction included, world built before)."""
    world = world_for(spec)
    for k in range(warmup):
        EquityModel(spec, rng=replication_rng(0, 10**6 + k), world=world).run()
    out = []
    for k in range(runs):
        t = time.perf_counter()
        EquityModel(spec, rng=replication_rng(0, k), world=world).run()
        out.append(time.perf_counter() - t)
    return out


def p90(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]


def reference_ratio(scale: float, runs: int) -> dict:
    """Reference and fast model, alternately, on the same world and seeds."""
    from benchmarks.reference import ReferenceModel

    spec = spec_at(scale)
    world = world_for(spec)
    EquityModel(spec, rng=1, world=world).run()
    ref, fast = [], []
    for k in range(runs):
        t = time.perf_counter()
        ReferenceModel(spec, k, world).run()
        ref.append(time.perf_counter() - t)
        t = time.perf_counter()
        EquityModel(spec, rng=replication_rng(0, k), world=world).run()
        fast.append(time.perf_counter() - t)
    return {"reference_s": statistics.median(ref), "fast_s": statistics.median(fast),
            "ratio": statistics.median(ref) / statistics.median(fast)}


def ensemble(replications: int, jobs: int) -> dict:
    """A full-scale ensemble in a fresh process: wall seconds and peak RSS (MB) of the largest
    process (the parent or a worker)."""
    code = ("import json, resource, sys, time; sys.path.insert(0, %r)\n"
            "from benchmarks.run import spec_at\n"
            "from equitysim.ensemble import run\n"
            "from joblib.externals.loky import get_reusable_executor\n"
            "spec = spec_at(1.0)\n"
            "t = time.perf_counter(); run(spec, %d, seed=1, jobs=%d); s = time.perf_counter() - t\n"
            "get_reusable_executor().shutdown(wait=True)\n"
            "r = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "print(json.dumps({'seconds': s, 'peak_rss_mb': r / 1024}))\n") % (str(ROOT), replications, jobs)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def oracle(replications: int, jobs: int) -> None:
    """Fast model vs reference, `replications` each at scale 0.05, roadmap and stress scenarios."""
    import pandas as pd
    from joblib import Parallel, delayed

    from benchmarks.reference import run_reference
    from benchmarks.reference.compare import compare
    from tests.test_oracle import roadmap, stress

    pd.set_option("display.width", 160)
    for make in (roadmap, stress):
        spec = make()
        t = time.perf_counter()
        fast = run(spec, replications, seed=11, jobs=jobs).runs
        ref = pd.DataFrame(Parallel(n_jobs=jobs)(delayed(run_reference)(spec, 12 * 100_000 + k) for k in range(replications)))
        res = compare(fast, ref)
        print(f"\n{make.__name__}: {replications} replications each, {time.perf_counter() - t:.0f} s, "
              f"{int(res['reject'].sum())} of {len(res)} tests reject at family-wise 1% (Bonferroni)")
        print(res.to_string(index=False, float_format=lambda x: f"{x:.4g}"))


def chart(scaling: list[dict], path: str) -> None:
    """Median seconds per replication against world scale, with the line of proportional cost."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["scale"] for r in scaling]
    y = [r["median_s"] for r in scaling]
    i1 = x.index(1.0) if 1.0 in x else len(x) // 2
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.loglog(x, y, "o-", label="measured (median of runs)")
    ax.loglog(x, [y[i1] * s / x[i1] for s in x], "--", color="grey", label="proportional to scale (from scale 1)")
    for s, t in zip(x, y):
        ax.annotate(f"{t:.3g} s", (s, t), textcoords="offset points", xytext=(6, -12), fontsize=8)
    ax.set_xlabel("world scale (1 = the US: 13,400 districts, 99,000 schools)")
    ax.set_ylabel("seconds per 10-year replication")
    ax.set_title("One replication of the roadmap: time vs world size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20, help="timed full-scale replications")
    ap.add_argument("--reference-scale", type=float, default=0.25)
    ap.add_argument("--reference-runs", type=int, default=3)
    ap.add_argument("--ensemble", type=int, default=200)
    ap.add_argument("--scales", default="0.1,1,3,10")
    ap.add_argument("--quick", action="store_true", help="5 runs, 1 reference run, a 40-replication ensemble")
    ap.add_argument("--oracle", type=int, default=0, metavar="N", help="only run the N-replication oracle comparison")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--chart", metavar="PNG", help="also draw time vs scale (log-log) to this file")
    a = ap.parse_args()
    if a.oracle:
        oracle(a.oracle, a.jobs)
        return
    if a.quick:
        a.runs, a.reference_runs, a.ensemble = 5, 1, 40
    log = (lambda *x: None) if a.json else (lambda *x: print(*x, flush=True))
    spec = spec_at(1.0)
    t = time.perf_counter()
    world_for(spec)
    log(f"world (scale 1): built in {time.perf_counter() - t:.2f} s")
    times = time_replications(spec, a.runs)
    log(f"replication (scale 1): median {statistics.median(times):.3f} s, p90 {p90(times):.3f} s over {a.runs}")
    ref = reference_ratio(a.reference_scale, a.reference_runs)
    log(f"reference at scale {a.reference_scale}: {ref['reference_s']:.2f} s vs {ref['fast_s']:.4f} s, "
        f"ratio {ref['ratio']:.0f}x")
    scaling = []
    for s in (float(x) for x in a.scales.split(",")):
        ts = time_replications(spec_at(s), 3 if s > 3 else 5)
        scaling.append({"scale": s, "median_s": round(statistics.median(ts), 4)})
        log(f"scale {s:g}: median {statistics.median(ts):.3f} s")
    one = ensemble(a.ensemble, 1)
    two = ensemble(a.ensemble, a.jobs)
    log(f"ensemble of {a.ensemble}: {one['seconds']:.1f} s on 1 worker, {two['seconds']:.1f} s on {a.jobs}: "
        f"speed-up {one['seconds'] / two['seconds']:.2f}, peak RSS {two['peak_rss_mb']:.0f} MB")
    res = {
        "replication_median_s": round(statistics.median(times), 4),
        "replication_p90_s": round(p90(times), 4),
        "reference_ratio": round(ref["ratio"], 1),
        "reference_scale": a.reference_scale,
        "speedup_2_workers": round(one["seconds"] / two["seconds"], 3),
        "scaling": scaling,
        "peak_rss_mb": round(max(one["peak_rss_mb"], two["peak_rss_mb"]), 1),
    }
    if a.chart:
        chart(scaling, a.chart)
    if a.json:
        print(json.dumps(res))
    else:
        log(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, peak RSS of this process "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
