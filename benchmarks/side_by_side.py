"""Two checkouts of equitysim timed side by side, in alternating rounds (one process each, the
world built and a replication run before timing), so that both see the same machine load:

    python benchmarks/side_by_side.py OLD_CHECKOUT NEW_CHECKOUT [--rounds 6] [--per-round 5] [--scale 1]

Prints the median seconds per full-scale roadmap replication of each, their ratio (new / old),
and the load average before and after. Used to compare an edition with an earlier one on this
machine (docs/performance.md) when an absolute target was set on another machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

WORKER = r"""
import json, sys, time
from pathlib import Path
root = Path(sys.argv[1]); scale = float(sys.argv[2])
from equitysim import load_scenario
from equitysim.ensemble import replication_rng
from equitysim.model import EquityModel, world_for
spec = load_scenario(root / "scenarios" / "roadmap.toml").model_copy(update={"scale": scale})
world = world_for(spec)
EquityModel(spec, rng=replication_rng(0, 10**6), world=world).run()
k = 0
print("ready", flush=True)
for line in sys.stdin:
    out = []
    for _ in range(int(line)):
        t = time.perf_counter()
        EquityModel(spec, rng=replication_rng(0, k), world=world).run()
        out.append(time.perf_counter() - t)
        k += 1
    print(json.dumps(out), flush=True)
"""


def start(checkout: str, scale: float) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(checkout))
    p = subprocess.Popen([sys.executable, "-c", WORKER, os.path.abspath(checkout), str(scale)], env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=checkout)
    assert p.stdout.readline().strip() == "ready"
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--per-round", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    load0 = os.getloadavg()
    procs = {"old": start(a.old, a.scale), "new": start(a.new, a.scale)}
    times = {"old": [], "new": []}
    for r in range(a.rounds):
        for name in (("old", "new") if r % 2 == 0 else ("new", "old")):
            p = procs[name]
            p.stdin.write(f"{a.per_round}\n")
            p.stdin.flush()
            times[name] += json.loads(p.stdout.readline())
    for p in procs.values():
        p.stdin.close()
        p.wait()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({"old": a.old, "new": a.new, "scale": a.scale, "runs_each": len(times["old"]),
                      "old_median_s": round(med["old"], 4), "new_median_s": round(med["new"], 4),
                      "ratio_new_over_old": round(med["new"] / med["old"], 3),
                      "load_before": [round(x, 2) for x in load0],
                      "load_after": [round(x, 2) for x in os.getloadavg()]}, indent=1))


if __name__ == "__main__":
    main()
