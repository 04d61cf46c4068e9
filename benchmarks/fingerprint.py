"""Fingerprints of model behaviour: a refactor that changes nothing leaves them identical.

    python benchmarks/fingerprint.py                       # 50 full-scale replications of each shipped scenario
    python benchmarks/fingerprint.py --replications 5 --scale 0.05 --json

A scenario's fingerprint is the SHA-256 of everything a replication records (indicators met and
their values, risk counts, year-10 and baseline metrics, the yearly trajectory of every metric,
each state's policy status at each year end), for replications 0..N-1 under one master seed.
`exact` hashes floats bit for bit (`float.hex`); `rounded` hashes them at 10 significant digits,
so that it survives a last-bit difference in a math library while any change of behaviour still
moves it (tests/test_fingerprint.py pins the rounded one on a small world).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from equitysim import load_scenario  # noqa: E402
from equitysim.ensemble import run  # noqa: E402


def _cell(x, rounded: bool) -> str:
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.10g}" if rounded else float(x).hex()
    if isinstance(x, (tuple, list)):
        return "(" + ",".join(_cell(v, rounded) for v in x) + ")"
    return str(x)


def frame_digest(df: pd.DataFrame | None, rounded: bool) -> str:
    """SHA-256 of a DataFrame's columns and cells, row by row, in its own order."""
    h = hashlib.sha256()
    if df is None:
        return h.hexdigest()
    h.update(("|".join(map(str, df.columns)) + "\n").encode())
    for row in df.itertuples(index=False):
        h.update(("|".join(_cell(v, rounded) for v in row) + "\n").encode())
    return h.hexdigest()


def scenario_fingerprint(spec, replications: int, seed: int, jobs: int = 1) -> dict[str, str]:
    """{'exact': ..., 'rounded': ...} for `replications` runs of `spec` under master `seed`."""
    res = run(spec, replications=replications, seed=seed, jobs=jobs, trajectories=True, states=True)
    # Milestones are an evaluation of the same state (added after the fingerprint was first
    # pinned): left out, so that the fingerprint stays comparable across that addition; the same
    # for the adaptation report (adaptive plans, issue 19; empty for a static scenario).
    runs = res.runs[[c for c in res.runs.columns if not c.startswith("milestone.")]]
    summary = {k: v for k, v in res.to_json().items() if k not in ("milestones", "adaptations")}
    out = {}
    for name, rounded in (("exact", False), ("rounded", True)):
        h = hashlib.sha256()
        for df in (runs, res.trajectories, res.states):
            h.update(frame_digest(df, rounded).encode())
        h.update(json.dumps(summary, sort_keys=True).encode())
        out[name] = h.hexdigest()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replications", type=int, default=50)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--scenarios", nargs="*", default=None, help="scenario files (default: scenarios/*.toml)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    files = [Path(f) for f in a.scenarios] if a.scenarios else sorted((ROOT / "scenarios").glob("*.toml"))
    out = {}
    for f in files:
        spec = load_scenario(f).model_copy(update={"scale": a.scale})
        out[f.stem] = scenario_fingerprint(spec, a.replications, a.seed, a.jobs)
        if not a.json:
            print(f"{f.stem:20s} exact {out[f.stem]['exact'][:16]}  rounded {out[f.stem]['rounded'][:16]}", flush=True)
    total = hashlib.sha256(json.dumps(out, sort_keys=True).encode()).hexdigest()
    meta = {"replications": a.replications, "scale": a.scale, "seed": a.seed}
    if a.json:
        print(json.dumps({**meta, "scenarios": out, "all": total}, indent=1))
    else:
        print(f"all scenarios: {total}  ({meta})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
