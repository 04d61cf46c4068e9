"""The plan's state and local rows as arrays, for one matrix operation per quarter.

Row r pushes state policy (state rows) or district program (local rows) `index[r]` in the states
of `state_mask[r]`, between its start and end quarters, toward `target[r]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# `where` values decided during a run (the other `where` values are static state masks)
WHERE_CODES = {"broad_coalition": 1, "local_successes": 2}
# state policies whose adoption litigation pressure speeds up
LITIGATED = ("weighted_funding", "funding_bill", "adequacy_standard")


@dataclass
class RowTable:
    index: np.ndarray          # (n_rows,) policy or program pushed
    state_mask: np.ndarray     # (n_rows, n_s) static state mask
    where: np.ndarray          # (n_rows,) 0 static, 1 broad_coalition, 2 local_successes
    target: np.ndarray         # (n_rows,) states or districts the row aims for (scaled)
    pace_end: np.ndarray       # (n_rows,) quarter by which the target is planned
    intensity: np.ndarray      # (n_rows,) push strength (multiplier)
    phase1: np.ndarray         # (n_rows,) bool: a phase-1 action ("achievable victory")
    cost: np.ndarray           # (n_rows,) $M a year
    backlash: np.ndarray       # (n_rows,) how contested the pushed action is (0-1)
    district_mask: np.ndarray  # (n_rows, n_d) the static state mask, per district
    requires: np.ndarray       # (n_rows, n_p) bool: policies that must be in force
    requires_f: np.ndarray     # the same as floats (for a matrix product)
    litigated: np.ndarray      # (n_rows,) bool: pushed harder under litigation
    conditions: list           # per row: district eligibility conditions (local rows)
    by_quarter: list           # per quarter: indices of the rows active then
    district_mask_eligible: np.ndarray | None = None   # local rows: district_mask & program eligibility

    def active_at(self, q: int) -> np.ndarray:
        """Indices of the rows active in quarter q."""
        return self.by_quarter[min(q, len(self.by_quarter) - 1)]

    @classmethod
    def build(cls, rows, n_q: int, n_s: int, policy_index: dict, d_state: np.ndarray,
              eligible_by_program: np.ndarray | None = None) -> "RowTable":
        """The table of a plan's rows (Plan.state_rows or Plan.local_rows) over n_q quarters."""
        n = len(rows)
        n_p = len(policy_index)
        req = np.zeros((n, n_p), bool)
        for r, row in enumerate(rows):
            for name in row.action.requires:
                req[r, policy_index[name]] = True
        start = np.array([row.start_q for row in rows], int)
        end = np.array([row.end_q for row in rows], int)
        mask = np.array([row.mask for row in rows], bool).reshape(n, n_s)
        index = np.array([row.index for row in rows], int)
        table = cls(
            index=index,
            state_mask=mask,
            district_mask=np.array([mask[r, d_state] if row.districts is None else row.districts
                                    for r, row in enumerate(rows)], bool).reshape(n, d_state.size),
            where=np.array([WHERE_CODES.get(row.where, 0) for row in rows], int),
            target=np.array([row.target for row in rows], float),
            pace_end=np.array([row.pace_end_q for row in rows], int),
            intensity=np.array([row.intensity for row in rows], float),
            phase1=np.array([row.action.phase == 1 for row in rows], bool),
            cost=np.array([row.action.cost_musd for row in rows], float),
            backlash=np.array([row.action.backlash for row in rows], float),
            requires=req,
            requires_f=req.astype(float),
            litigated=np.array([row.action.policy in LITIGATED for row in rows], bool),
            conditions=[tuple(row.action.eligibility) for row in rows],
            by_quarter=[np.flatnonzero((start <= q) & (q < end)) for q in range(n_q + 1)],
        )
        if eligible_by_program is not None:
            table.district_mask_eligible = table.district_mask & eligible_by_program[index]
        return table
