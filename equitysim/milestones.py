"""The roadmap's milestones: the catalogue's per-action targets (its expansion tables:
controlled choice in 50 districts, restorative practices in 500, discipline mandates in 25
states, ...), evaluated beside the twelve success indicators.

A milestone is one state or local row the scenario switches on: its policy in `target` of the
states it applies to, or its program running in `target` districts (regions, for programs whose
unit is a region) of those states, by the end of the row's planned horizon (its start plus the
catalogue's `plan_years`, or 2, 3 or 5 years by roadmap phase). Evaluation only: measured at a
year end from the model's state, never read by a mechanism.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

QUARTERS = 4


@dataclass(frozen=True)
class Milestone:
    id: str              # the catalogue action id (with "@<start year>" if the scenario repeats it)
    level: str           # "state" or "local"
    index: int           # policy or program index
    state_mask: np.ndarray
    target: float        # states, or districts / regions (scaled with the world)
    year: int            # roadmap year at whose end it is judged
    unit: str            # "state", "district" or "region"


def milestones_of(plan, catalogue, years: int) -> list[Milestone]:
    """One milestone per state or local row of a compiled plan."""
    out, seen = [], {}
    programs = list(catalogue.programs.values())
    for level, rows in (("state", plan.state_rows), ("local", plan.local_rows)):
        for r in rows:
            year = min(max(1, math.ceil(r.pace_end_q / QUARTERS)), years)
            base = r.action.id
            seen[base] = seen.get(base, 0) + 1
            mid = base if seen[base] == 1 else f"{base}@{r.start_q / QUARTERS:g}"
            unit = "state" if level == "state" else programs[r.index].unit
            out.append(Milestone(mid, level, r.index, np.asarray(r.mask, bool), float(r.target), year, unit))
    return out


def value_now(model, ms: Milestone) -> float:
    """How far the model's current state has got toward a milestone (same unit as its target)."""
    w = model.world
    if ms.level == "state":
        return float(np.count_nonzero(model.state_arrays.policy_on[:, ms.index] & ms.state_mask))
    running = model.district_arrays.running[ms.index] & ms.state_mask[w.d_state]
    if ms.unit == "region":
        return float(len(np.unique(w.d_region[running])))
    return float(np.count_nonzero(running))
