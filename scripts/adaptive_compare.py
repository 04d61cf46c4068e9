"""The adaptive roadmap against the static roadmap, paired run by run, in the central future and
the three stress futures (the figures of docs/adaptive.md).

    /work/main/.venv/bin/python scripts/adaptive_compare.py --replications 100 --scale 1.0 --seed 1 --jobs 2

Both scenarios run with the same master seed and run keys (common random numbers), so run k of
the roadmap and run k of the adaptive roadmap face the same draws until a rule fires: the paired
difference of indicators met removes most of the noise. Writes docs/adaptive_compare.json, the
pathways and adaptations charts (PNG and SVG) of the central and recession futures, and prints the
markdown tables of docs/adaptive.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from equitysim import load_scenario  # noqa: E402
from equitysim import plots as P  # noqa: E402
from equitysim.ensemble import run  # noqa: E402
from equitysim.indicators import Z95  # noqa: E402
from equitysim.scenario import Event  # noqa: E402

# The stress futures of experiments/adaptive_search.toml (and sequencing_search.toml).
FUTURES = {
    "central": ([], {}),
    "recession in year 3": ([Event(kind="recession", year=2.0)], {}),
    "hostile federal administration from year 5": ([Event(kind="hostile_federal", year=4.0)], {}),
    "adverse court ruling in year 4": ([Event(kind="court_ruling", year=3.0)], {"court_strike_prob_within_law": 0.3}),
}


def met_counts(res) -> np.ndarray:
    return res.runs[[c for c in res.runs if c.startswith("met.")]].sum(axis=1).to_numpy(float)


def paired(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    d = a - b
    half = Z95 * d.std(ddof=1) / math.sqrt(len(d))
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replications", type=int, default=100)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    a = ap.parse_args(argv)
    static = load_scenario(ROOT / "scenarios" / "roadmap.toml").model_copy(update={"scale": a.scale})
    adaptive = load_scenario(ROOT / "scenarios" / "roadmap_adaptive.toml").model_copy(update={"scale": a.scale})
    out, t0 = {}, time.perf_counter()
    for name, (events, params) in FUTURES.items():
        s = static.model_copy(update={"events": events}).with_parameters(**params)
        d = adaptive.model_copy(update={"events": events}).with_parameters(**params)
        rs = run(s, a.replications, seed=a.seed, jobs=a.jobs)
        rd = run(d, a.replications, seed=a.seed, jobs=a.jobs)
        ms, md = met_counts(rs), met_counts(rd)
        diff, lo, hi = paired(md, ms)
        p_s, p_d = rs.summary().set_index("id").p_met, rd.summary().set_index("id").p_met
        moved = (p_d - p_s).sort_values()
        out[name] = {"static": float(ms.mean()), "adaptive": float(md.mean()), "difference": diff, "ci_low": lo,
                     "ci_high": hi, "runs_better": int((md > ms).sum()), "runs_worse": int((md < ms).sum()),
                     "adaptations": rd.adaptations(),
                     "indicator_change": {k: round(float(v), 4) for k, v in moved.items() if abs(v) > 0}}
        if name in ("central", "recession in year 3"):
            stem = "adaptive_" + ("central" if name == "central" else "recession")
            for kind, f in (("pathways", P.pathways_chart), ("adaptations", P.adaptations_chart)):
                fig = f({"roadmap_adaptive": rd})
                for ext in ("png", "svg"):
                    P.save(fig, a.out / f"{stem}_{kind}.{ext}")
    seconds = time.perf_counter() - t0
    meta = {"command": " ".join(["scripts/adaptive_compare.py"] + (argv if argv is not None else sys.argv[1:])),
            "replications": a.replications, "scale": a.scale, "seed": a.seed, "jobs": a.jobs, "seconds": seconds}
    (a.out / "adaptive_compare.json").write_text(json.dumps({"meta": meta, "futures": out}, indent=1))
    print("| future | static roadmap | adaptive roadmap | paired difference (95% CI) | runs better / worse |")
    print("|---|---|---|---|---|")
    for name, r in out.items():
        print(f"| {name} | {r['static']:.2f} | {r['adaptive']:.2f} | {r['difference']:+.2f} "
              f"({r['ci_low']:+.2f} to {r['ci_high']:+.2f}) | {r['runs_better']} / {r['runs_worse']} |")
    print()
    rules = [x["rule"] for x in next(iter(out.values()))["adaptations"]]
    print("| rule | " + " | ".join(out) + " |")
    print("|---|" + "---|" * len(out))
    for i, rule in enumerate(rules):
        cells = []
        for r in out.values():
            x = r["adaptations"][i]
            cells.append(f"{x['fired_share']:.0%}" + ("" if x["mean_first_year"] is None else f", year {x['mean_first_year']:.1f}"))
        print(f"| {rule} | " + " | ".join(cells) + " |")
    print()
    for name, r in out.items():
        print(f"- {name}: " + ", ".join(f"{k} {v:+.2f}" for k, v in r["indicator_change"].items()))
    print(f"\n{seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
