"""The catalogue's district programs as arrays: implementation phases, coverage, pilots.

Static for a run (it depends only on the catalogue and the strategy's `pilot_first`).
"""

from __future__ import annotations

import numpy as np


class ProgramTable:
    """Per program k: phase lengths (quarters) and coverage (share of schools reached) by phase,
    the final and pilot phases, visibility, whether a race-conscious design is possible, and
    the phase a new start begins in."""

    def __init__(self, programs, pilot_first: bool):
        n_k = len(programs)
        self.ids = [pr.id for pr in programs]
        self.index = {pr.id: k for k, pr in enumerate(programs)}
        self.controlled_choice, self.interdistrict_magnet, self.restorative, self.teacher_assignment, self.detracking = (
            self.index[k] for k in ("controlled_choice", "interdistrict_magnet", "restorative",
                                    "teacher_assignment", "detracking"))
        n_ph = max(len(pr.phase_names) for pr in programs)
        self.n_phases = n_ph
        quarters = np.zeros((n_k, n_ph), int)
        coverage = np.ones((n_k, n_ph))
        for k, pr in enumerate(programs):
            quarters[k, :len(pr.phase_quarters)] = pr.phase_quarters
            coverage[k, :len(pr.phase_coverage)] = pr.phase_coverage
        self.phase_quarters, self.phase_coverage = quarters, coverage
        self.phase_quarters_flat, self.phase_coverage_flat = quarters.ravel(), coverage.ravel()
        self.final_phase = np.array([len(pr.phase_names) - 1 for pr in programs])
        self.pilot_phase = np.array([pr.pilot_phase for pr in programs])
        self.visible = np.array([pr.visible for pr in programs])
        self.race_conscious_possible = np.array([pr.race_conscious_possible for pr in programs])
        # Pilots first: start in planning; otherwise skip to the first phase after the pilot.
        if pilot_first:
            self.start_phase = np.zeros(n_k, np.int64)
        else:
            self.start_phase = np.array([pr.pilot_phase + 1 if len(pr.phase_names) > pr.pilot_phase + 2 else 0
                                         for pr in programs], np.int64)

    def coverage_of(self, program: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """Share of a district's schools reached by `program` in `phase` (elementwise)."""
        return self.phase_coverage_flat[program * self.n_phases + phase]

    def quarters_of(self, program: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """Length in quarters of `phase` of `program` (elementwise)."""
        return self.phase_quarters_flat[program * self.n_phases + phase]
