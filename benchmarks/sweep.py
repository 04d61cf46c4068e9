"""Benchmark: wall time, runs/second and peak memory of `equitysim sweep` (a script, not a test).

    python benchmarks/sweep.py EXPERIMENT [--jobs 2] [--backend loky] [--out DIR] [--json]

Runs `python -m equitysim sweep EXPERIMENT --out DIR --jobs N` in a subprocess and samples, every
0.2 s, the resident memory of that process and of all its descendants (the loky, dask or ray
workers): it reports the driver's peak, the largest single process's peak and the peak of their sum,
and the CPU seconds all of them used (per run: the sweep's overhead, whatever else loads the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import psutil


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiment")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--backend", default="loky")
    ap.add_argument("--out", default=None, help="results directory (default: a temporary one, removed after)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="equitysim-bench-")
    if a.out is None:
        os.rmdir(out)
    cmd = [sys.executable, "-m", "equitysim", "sweep", a.experiment, "--out", out, "--jobs", str(a.jobs),
           "--backend", a.backend, "--quiet"]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = psutil.Popen(cmd)
    driver = total = largest = 0
    cpu = {}  # pid -> last seen user + system CPU seconds (workers' time is lost when they exit unseen)
    while proc.poll() is None:
        try:
            procs = [proc] + proc.children(recursive=True)
            rss = []
            for p in procs:
                try:
                    rss.append(p.memory_info().rss)
                    t = p.cpu_times()
                    cpu[p.pid] = t.user + t.system
                except psutil.Error:
                    rss.append(0)
            driver = max(driver, rss[0])
            total = max(total, sum(rss))
            largest = max(largest, max(rss))
        except psutil.Error:
            pass
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    from equitysim.experiments import status

    st = status(out)
    res = {
        "experiment": a.experiment, "backend": a.backend, "jobs": a.jobs, "returncode": proc.returncode,
        "runs": st["runs"], "wall_s": round(wall, 1), "runs_per_s": round(st["runs"] / wall, 3),
        "peak_rss_driver_mb": round(driver / 2**20), "peak_rss_largest_process_mb": round(largest / 2**20),
        "peak_rss_all_processes_mb": round(total / 2**20),
        "cpu_s_all_processes": round(sum(cpu.values()), 1),
        "cpu_s_per_run": round(sum(cpu.values()) / max(1, st["runs"]), 3),
        "load_average_at_start": round(load, 2),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    if a.out is None:
        shutil.rmtree(out, ignore_errors=True)
    print(json.dumps(res) if a.json else "\n".join(f"{k:30s} {v}" for k, v in res.items()))


if __name__ == "__main__":
    main()
