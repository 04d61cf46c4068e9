"""Summaries of the synthesised baseline world (what `equitysim world` prints)."""

from __future__ import annotations

import numpy as np

from . import metrics as M
from .world import BLACK, HISPANIC, WHITE, build_world


def world_summary(scale: float = 1.0, seed: int = 2027) -> dict:
    """Counts, per-state spending and the calibration targets of the baseline world."""
    from . import params as P

    w = build_world(scale, seed)
    p = P.defaults()
    e = w.s_enroll_by_group
    white, minority = e[:, WHITE], e[:, BLACK] + e[:, HISPANIC]
    d = M.dissimilarity_by_group(white, minority, w.s_district, w.n_districts)
    multi = w.d_nschools >= 2
    st = w.states
    students = np.bincount(w.d_state, weights=w.d_enroll, minlength=w.n_states)
    return {
        "states": int(w.n_states),
        "districts": int(w.n_districts),
        "schools": int(w.n_schools),
        "students": int(round(w.d_enroll.sum())),
        "per_pupil_by_state": {c: float(v) for c, v in st["per_pupil_current_expenditure"].items()},
        "dissimilarity_median": float(np.median(d[multi])),
        "dissimilarity_national": M.dissimilarity(white, minority),
        "suspension_ratio_black_white": float(p["suspension_ratio_black_white"]),
        "source_year": w.meta["source_year"],
        "by_state": {c: {"per_pupil": float(st.loc[c, "per_pupil_current_expenditure"]),
                         "districts": int((w.d_state == i).sum()),
                         "schools": int(w.d_nschools[w.d_state == i].sum()),
                         "students": int(round(students[i]))} for i, c in enumerate(st.index)},
    }
