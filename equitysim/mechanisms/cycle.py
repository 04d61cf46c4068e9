"""The practitioner's cycle inside every district (the guide's "Core Workflow: diagnose, design,
implement, reflect", its "Variations for Different Constraints" and its four pitfalls).

Diagnose (guide, Step 1 "Diagnose the Specific Barriers": "What is the gap we are trying to
close? ... Pick one area to focus on first"; prerequisite "Data and Listening Infrastructure":
"You [must] know where the gaps are before you can close them"). Each district's own gap in
each program's domain is its baseline gap (discipline: Black-White suspension gap; course
access; within-district teacher-experience gap; within-district segregation where enrollment
is diverse) over its state's or the nation's level (the larger ratio), times what is left of it
(1 - the current cut). A district's focus is the eligible program with the largest
log own gap + support (the catalogue condition its community and staff meet:
`diagnosis_support_weight`) + spread x habit, where habit is a fixed Gumbel draw per district and
program and the spread is small with data and listening infrastructure (the prerequisites) and
large without ("guided by instinct, tradition, or political pressure"), and shrinks with
learning from honestly reported failures. The fit of a program (its own gap over the district's
largest) sets the fidelity it can reach ("one-size-fits-all program": `misfit_fidelity_share`).
Within the chosen area, the design reaches the real barrier behind the gap (the root cause: the
guide's bus schedule behind the tutoring attendance, "Surface-level fixes often miss the point")
when the barrier's hiddenness (a fixed uniform per district and program) is below the district's
chance of finding it: `root_cause_found_prepared` with data and listening infrastructure, else
`root_cause_found_unprepared`, its miss chance cut by learning. A program designed past the
root cause reaches `root_cause_miss_share` of its fidelity.
Diagnosis is redone every year end ("a repeating loop that should be revisited at least
annually").

Design (Step 2: "Evaluate each idea against ... feasibility (cost, time, expertise) ... pick two or
three high-leverage actions"; variations). The adoption hazard of each (district, program) is
multiplied by a design weight: the focus program `focus_adoption_mult`, the others
`off_focus_adoption_mult`, normalised so that they average one over the district's eligible
programs (the diagnosis moves adoption between programs, it does not add to it); under budget pressure cheaper programs are preferred ("Low-Budget
Settings: focus on changes that cost time and attention rather than money": (cost / mean
cost)^(-cost_aversion x tightness), normalised to average one over the district's eligible
programs at the tightness of its diagnosis); a time-constrained district (1 - burnout below
`time_short_threshold`; "Time-Constrained Settings: Pick one measurable goal ... interventions that
have been tested elsewhere") runs one program at most and prefers programs its regional peers
run; a program abandoned after reflection keeps `abandoned_adoption_keep`; no district starts
beyond `max_concurrent_programs` (extra starts of the same quarter are dropped in priority order).
A district with low buy-in ("Low Buy-In Environments: start with a pilot program that involves
volunteers ... Gather data to show impact, then share the results") starts as a pilot
(implementation.start_cells).

Implement (Step 3: "Set up a feedback loop so that frontline staff can report what is working ...
adjust the frequency or provide release time"; pitfall 2 "Ignoring Implementation Fidelity"). A
district's feedback loop (0-1) moves toward its listening (1 with the prerequisites, else
`feedback_unprepared_share`) over leadership attention; a new superintendent starts it again.
The fidelity target is multiplied by (1 + `feedback_fidelity_gain` x feedback), by the fit and,
for a design past the root cause, by `root_cause_miss_share`.
Staff leave at `staff_turnover_base` x (1 + `staff_turnover_burnout` x burnout) a year (less with
stipends), taking `staff_turnover_fidelity_loss` of their share of fidelity.

Reflect (Step 4: "Compare your metrics to the baseline. Did the gap narrow? ... Be honest about
failures. Then decide whether to refine, replace, or scale the approach. Celebrate wins
publicly"; pitfall 3 "Measuring the Wrong Things"; "What to Check When It Fails": "Be willing to
abandon a strategy that is not working"). Once a year every program that has reached schools for
`reflect_min_quarters` is judged on the district's own outcome change since the program started
(the change of its gap's cut, as a share of the program's full effect), measured with noise
`measure_noise_sd`, `wrong_measure_noise_mult` times larger where the district measures the wrong
thing (outcomes only). Measured at or above the win level (reflect_win_threshold x
reflect_win_scale) it is a public win (reflection.py); at `reflect_scale_signal` the district
scales it (next phase at once); below `reflect_fail_signal` after `reflect_patience_quarters` it
is refined once (`refine_fidelity_gain`; the district goes back to the diagnosis, "Gather new
data, especially qualitative data", and finds the root cause if its chance, after this year's
honest reports, now exceeds the barrier's hiddenness), then replaced (another candidate program fits the
district's gaps at least as well: the diagnosis missed the root cause) or abandoned (it was the
district's best option). A failure is reported honestly with `failure_report_prepared` (with the prerequisites)
or `failure_report_unprepared`; an honest one teaches (`failure_learning_gain`) and may fix the
measures (`failure_measure_fix`); a hidden one does not. Data work (plan, federal, state) fixes
measures at `measure_fix_rate`. With the strategy's `reflect_on_outcomes` off ("keep
everything") districts still announce wins but never scale, refine, replace or abandon.

Lens versus program (pitfall 1 "Treating Equity as a Program, Not a Lens": "When equity is seen as
an add-on, it gets cut first when budgets tighten. Instead, integrate equity into every existing
process"). A program district that measures well and wins `lens_win_years` years running moves
to the lens with `lens_move_prob` a year; a lens district under pressure (a recession, state
opposition of `lens_pressure_opposition`, burnout of `lens_pressure_burnout`) for
`lens_pressure_years` years drifts back with `lens_drift_prob`. The lens protects programs in
recessions (funding.py) and leadership changes (elections.py).

Burnout mitigations (pitfall 4 "Burnout and Turnover": "Rotate leadership of the initiative ...
stipends or release time"). The strategy's `leadership_rotation` cuts burnout growth by
`rotation_burnout_cut`; `release_time` adds `release_recovery` a year of recovery and cuts staff
turnover by `stipend_retention`; they cost `rotation_cost_musd` and `release_cost_musd` a year per
medium district running equity work, paid from the general program money (adoption.py).

Reads: diagnosis_noise_prepared, diagnosis_noise_unprepared, diagnosis_support_weight,
root_cause_found_prepared, root_cause_found_unprepared, root_cause_miss_share,
focus_adoption_mult, off_focus_adoption_mult, misfit_fidelity_share, cost_aversion,
max_concurrent_programs, time_short_threshold, tested_design_weight, low_buy_in_threshold,
feedback_adjustment, feedback_unprepared_share, feedback_fidelity_gain, staff_turnover_base,
staff_turnover_burnout, staff_turnover_fidelity_loss, measure_noise_sd, wrong_measure_noise_mult,
measure_fix_rate, failure_measure_fix, reflect_min_quarters, reflect_patience_quarters,
reflect_scale_signal, reflect_fail_signal, refine_fidelity_gain, abandoned_adoption_keep,
failure_report_prepared, failure_report_unprepared, failure_learning_gain, lens_win_years,
lens_move_prob, lens_pressure_opposition, lens_pressure_burnout, lens_pressure_years,
lens_drift_prob, rotation_burnout_cut, rotation_cost_musd, release_recovery, stipend_retention,
release_cost_musd, reflect_win_threshold, reflect_win_scale, data_quality_base,
attention_cost, restorative_suspension_cut, restorative_black_extra_cut, detracking_ap_gap_cut,
teacher_equity_gap_cut, controlled_choice_segregation_cut, interdistrict_segregation_cut,
suspension_ratio_black_white.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import caches
from ..numerics import DT, TINY, clip, hazard, nonzero
from ..world import BLACK, HISPANIC, WHITE

# The domain of each program's own gap (the catalogue's channels).
DOMAIN_OF_CHANNEL = {"suspension": 0, "ap_gap": 1, "teacher_gap": 2, "segregation": 3, "interdistrict": 3}
DOMAINS = ("discipline", "course_access", "teacher_experience", "integration")
DECISIONS = ("programs_scaled", "programs_refined", "programs_replaced", "programs_abandoned", "moved_to_lens")


@dataclass
class CycleArrays:
    """Per-district state of the cycle (n_d districts, n_k programs, program-major)."""

    habit: np.ndarray          # (n_k, n_d) fixed Gumbel draws: what the district would pick without data
    hidden: np.ndarray         # (n_k, n_d) fixed uniforms: how hidden the root cause of each gap is
    learning: np.ndarray       # (n_d,) 0-1 what honest failures have taught (cuts the habit's spread)
    wrong_measure: np.ndarray  # (n_d,) bool: outcomes only, no process measures (pitfall 3)
    feedback: np.ndarray       # (n_d,) 0-1 frontline-feedback loop
    focus: np.ndarray          # (n_d,) program the diagnosis points to (-1: none eligible)
    own: np.ndarray            # (n_k, n_d) each program's own gap at the last diagnosis
    largest: np.ndarray        # (n_d,) the district's largest own gap
    abandoned: np.ndarray      # (n_k, n_d) bool: dropped after reflection
    win_streak: np.ndarray     # (n_d,) consecutive years with a public win
    pressure_years: np.ndarray  # (n_d,) consecutive years under pressure
    staff_turnover: np.ndarray  # (n_d,) yearly staff turnover rate at the last quarter with programs
    strata: object = None      # FocusStrata: the adoption strata split by focus (set by diagnose)
    weight_scale: np.ndarray | None = None   # (n_d,) focus and cost normalisation (set by diagnose)
    spread: np.ndarray | None = None       # (n_d,) diagnosis spread the habit term was computed with
    habit_term: np.ndarray | None = None   # (n_k, n_d) spread x habit

    @classmethod
    def initial(cls, n_d: int, n_k: int, habit: np.ndarray, wrong_measure: np.ndarray,
                hidden: np.ndarray) -> "CycleArrays":
        return cls(habit=habit, hidden=hidden, learning=np.zeros(n_d), wrong_measure=wrong_measure, feedback=np.zeros(n_d),
                   focus=np.full(n_d, -1), own=np.zeros((n_k, n_d)), largest=np.zeros(n_d), abandoned=np.zeros((n_k, n_d), bool),

                   win_streak=np.zeros(n_d, int), pressure_years=np.zeros(n_d, int),
                   staff_turnover=np.zeros(n_d))


def initial_draws(m, g: np.random.Generator):
    """(habit, wrong_measure, hidden) drawn in a fixed order from the initial stream."""
    n_d, n_k = m.world.n_districts, len(m.programs)
    habit = g.gumbel(size=(n_k, n_d))
    wrong = g.random(n_d) >= m.par.data_quality_base
    hidden = g.random((n_k, n_d))
    return habit, wrong, hidden


# ---------------------------------------------------------------- world-fixed gaps
def baseline_gaps(m) -> np.ndarray:
    """(n_domains, n_d) each district's baseline gap in each domain over its state's or the
    nation's level (the larger ratio; 0 where it has no gap). Cached per world and parameters."""
    w, par = m.world, m.par
    key = ("gaps", par.suspension_ratio_black_white)
    store = caches.for_world(w, "cycle")
    if key in store:
        return store[key]
    d, n_d, n_s = w.s_district, w.n_districts, w.n_states
    e = w.s_share * w.s_enroll[:, None]
    white, black, mino = e[:, WHITE], e[:, BLACK], e[:, BLACK] + e[:, HISPANIC]
    by_d = lambda x: np.bincount(d, weights=x, minlength=n_d)  # noqa: E731
    W, B, M = by_d(white), by_d(black), by_d(mino)
    safe = lambda a, b: np.divide(a, b, out=np.zeros_like(a), where=b > 0)  # noqa: E731
    # discipline: Black-White suspension gap in units of the white rate (school noise as in the metric)
    disc = np.maximum(par.suspension_ratio_black_white * safe(by_d(black * w.s_susp_noise), B)
                      - safe(by_d(white * w.s_susp_noise), W), 0)
    # course access: the catalogue's gap is the same ratio everywhere (the nation's level)
    course = np.ones(n_d)
    # teacher experience: years less for minority students' schools than for white students'
    teach = np.maximum(safe(by_d(white * w.s_texp_dev), W) - safe(by_d(mino * w.s_texp_dev), M), 0)
    # integration: within-district dissimilarity of white and minority students
    integ = 0.5 * by_d(np.abs(np.divide(white, W[d], out=np.zeros_like(white), where=W[d] > 0)
                              - np.divide(mino, M[d], out=np.zeros_like(mino), where=M[d] > 0)))
    gaps = np.stack([disc, course, teach, integ])
    weight = M   # levels are means over minority students
    st = w.d_state
    state_level = np.stack([np.bincount(st, weights=g * weight, minlength=n_s) for g in gaps]) / \
        np.maximum(np.bincount(st, weights=weight, minlength=n_s), TINY)[None, :]
    nation = (gaps * weight).sum(1) / max(weight.sum(), TINY)
    rel = np.maximum(safe(gaps, np.broadcast_to(state_level[:, st], gaps.shape).copy()),
                     safe(gaps, np.broadcast_to(nation[:, None], gaps.shape).copy()))
    store[key] = rel
    return rel


def program_domains(m) -> np.ndarray:
    """(n_k,) the domain index of each program."""
    return np.array([DOMAIN_OF_CHANNEL[pr.channel] for pr in m.programs])


def full_effect(m) -> np.ndarray:
    """(n_k,) the cut each program makes in its own gap at full coverage and fidelity."""
    par = m.par
    size = {"suspension": par.restorative_suspension_cut + par.restorative_black_extra_cut,
            "ap_gap": par.detracking_ap_gap_cut, "teacher_gap": par.teacher_equity_gap_cut,
            "segregation": par.controlled_choice_segregation_cut, "interdistrict": par.interdistrict_segregation_cut}
    return np.array([size[pr.channel] for pr in m.programs])


def cuts_at(m, k: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The cut now in program k[i]'s gap in district d[i] (elementwise; as `current_cuts`)."""
    out = np.zeros(len(d))
    if not len(d):
        return out
    w, O = m.world, m.outcome_arrays
    st = w.d_state
    for kk in np.unique(k):
        i = nonzero(k == kk)
        di = d[i]
        ch = m.programs[kk].channel
        if ch == "suspension":
            out[i] = O.suspension_state_black[st[di]] + O.suspension_district_black[di]
        elif ch == "ap_gap":
            out[i] = O.ap_state[st[di]] + O.ap_district[di]
        elif ch == "teacher_gap":
            out[i] = O.teacher_state[st[di]] + O.teacher_district[di]
        elif ch == "segregation":
            out[i] = O.segregation_cut[di]
        else:
            out[i] = O.region_mixing[w.d_region[di]]
    return out


def current_cuts(m) -> np.ndarray:
    """(n_k, n_d) the cut now in each program's gap in each district (state and district parts)."""
    w, O = m.world, m.outcome_arrays
    st = w.d_state
    by_channel = {"suspension": O.suspension_state_black[st] + O.suspension_district_black,
                  "ap_gap": O.ap_cut(st), "teacher_gap": O.teacher_cut(st),
                  "segregation": O.segregation_cut, "interdistrict": O.region_mixing[w.d_region]}
    return np.stack([by_channel[pr.channel] for pr in m.programs])


def support_conditions(m) -> np.ndarray:
    """(n_k, n_d) bool: the district's community and staff support the program (every
    eligibility condition of the catalogue's local rows for it)."""
    from .adoption import eligibility_condition
    names = m.cache.get("support_names")
    if names is None:
        names = m.cache["support_names"] = [sorted({c for a in m.catalogue.actions if a.level == "local" and a.policy == pr.id
                                                    for c in a.eligibility}) for pr in m.programs]
    out = np.ones((len(m.programs), m.world.n_districts), bool)
    conds = {}
    for k, cs in enumerate(names):
        for c in cs:
            if c not in conds:
                conds[c] = eligibility_condition(m, c)
            out[k] &= conds[c]
    return out


# ---------------------------------------------------------------- diagnose
def diagnose(m) -> None:
    """Every district's focus (the largest of own gap x exp(support x weight) x exp(spread x
    habit), i.e. of the log score) and its own gaps and largest one (for each program's fit)."""
    par, dist, cyc = m.par, m.district_arrays, m.cycle
    gaps = m.cache.get("cycle_gaps")
    if gaps is None:   # baseline own gaps, zero where the program cannot run
        gaps = m.cache["cycle_gaps"] = np.where(m.fixed.eligible_by_program, baseline_gaps(m)[program_domains(m)], 0.0)
    cyc.own = own = gaps * (1 - np.minimum(current_cuts(m), 1))
    spread = np.where(dist.prerequisites, par.diagnosis_noise_prepared, par.diagnosis_noise_unprepared) * (1 - cyc.learning)
    if cyc.spread is None or (spread != cyc.spread).any():   # exp(spread x habit), kept while the spread stays
        cyc.spread, cyc.habit_term = spread, np.exp(spread * cyc.habit)
    support = support_conditions(m)
    lift = np.exp(par.diagnosis_support_weight) - 1
    n_d = m.world.n_districts
    best, focus, largest = np.zeros(n_d), np.full(n_d, -1), np.zeros(n_d)
    for k in range(len(own)):   # a loop over the five programs, not over districts
        score = own[k] * cyc.habit_term[k] * (1 + lift * support[k]) * ~cyc.abandoned[k]
        better = score > best
        focus[better] = k
        np.maximum(best, score, out=best)
        np.maximum(largest, own[k], out=largest)
    cyc.focus, cyc.largest = focus, largest
    cyc.weight_scale = focus_norm(m) / cost_norm(m)
    cyc.strata = FocusStrata(m)


def tightness(m) -> np.ndarray:
    """(n_d,) budget pressure (0-1): 1 - this quarter's budget factor of capacity (0 before the
    first quarter)."""
    cap = m.quarter_capacity
    if cap.log_factor is None:
        return np.zeros(m.world.n_districts)
    return clip(1 - np.exp(cap.log_budget + cap.log_factor), 0, 1)


def cost_slope(m) -> np.ndarray:
    """(n_k,) -cost_aversion x log(cost / geometric-mean cost) of each program (cached per run)."""
    slope = m.cache.get("cost_slope")
    if slope is None:
        slope = m.cache["cost_slope"] = -m.par.cost_aversion * np.log(np.maximum(m.fixed.base_cost / cost_reference(m), TINY))
    return slope


def cost_norm(m) -> np.ndarray:
    """(n_d,) the mean cost preference over each district's eligible programs at the budget
    pressure of the diagnosis (so that the preference moves adoption toward cheap programs
    without adding to it)."""
    elig = m.fixed.eligible_by_program
    pref = np.exp(np.multiply.outer(cost_slope(m), tightness(m))) * elig
    return np.maximum(pref.sum(0), TINY) / np.maximum(elig.sum(0), 1)


def root_cause_found(m, k: np.ndarray, d: np.ndarray) -> np.ndarray:
    """bool: district d[i]'s design of program k[i] reaches the root cause of its gap now (the
    barrier's hiddenness below the chance of finding it, whose miss part learning cuts)."""
    par, cyc = m.par, m.cycle
    miss = 1 - np.where(m.district_arrays.prerequisites[d], par.root_cause_found_prepared, par.root_cause_found_unprepared)
    return cyc.hidden[k, d] < 1 - miss * (1 - cyc.learning[d])


def fit_of(m, k: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Fit (0-1) of program k[i] to district d[i]'s gaps at its last diagnosis: its own gap over
    the district's largest (1 where the district has no gap)."""
    cyc = m.cycle
    big = cyc.largest[d]
    return np.divide(cyc.own[k, d], big, out=np.ones(len(d)), where=big > 0)


# ---------------------------------------------------------------- design
def cost_reference(m) -> float:
    """Geometric mean of the catalogue's district program costs ($M a year)."""
    return float(np.exp(np.log(np.maximum(m.fixed.base_cost, TINY)).mean()))


def time_short(m) -> np.ndarray:
    """(n_d,) bool: time-constrained districts (1 - burnout below the threshold)."""
    return (1 - m.quarter_capacity.burnout) < m.par.time_short_threshold


def concurrency_cap(m) -> np.ndarray:
    """(n_d,) most programs each district runs at once this quarter."""
    return np.where(time_short(m), 1, int(m.par.max_concurrent_programs))


class FocusStrata:
    """The adoption strata of `Fixed` (program, similar size multiplier) each split into the
    districts whose diagnosis points to the program and the others, so that the thinning bound
    of each part follows its own design weight (adoption.py). Rebuilt at every diagnosis. Has the
    attributes of `Fixed` that adoption's sampling reads, and `focus` (bool per stratum)."""

    def __init__(self, m):
        F, focus = m.fixed, m.cycle.focus
        pools, prog, size, fam, on_focus = [], [], [], [], []
        for i, pool in enumerate(F.strata_pool):
            k = F.stratum_program[i]
            on = focus[pool] == k
            for part, flag in ((pool[on], True), (pool[~on], False)):
                if len(part):
                    pools.append(part)
                    prog.append(k)
                    size.append(F.stratum_size[i])
                    fam.append(F.stratum_family[i])
                    on_focus.append(flag)
        self.strata_pool = pools
        self.stratum_program = np.array(prog, int)
        self.stratum_size = np.array(size)
        self.stratum_family = np.array(fam, int)
        self.stratum_focus = np.array(on_focus, bool)
        self.stratum_n = np.array([len(p) for p in pools], int)
        self.size_cost, self.base_cost, self.family = F.size_cost, F.base_cost, F.family
        scale = m.cycle.weight_scale
        self.scale_max = np.array([scale[p].max() for p in pools]) if pools else np.zeros(0)


def focus_norm(m) -> np.ndarray:
    """(n_d,) what makes the focus weights of a district average one over its eligible programs:
    n / (focus_adoption_mult + off_focus_adoption_mult x (n - 1)) for n eligible programs (the
    diagnosis moves a district's adoption between programs; it does not add to it)."""
    norm = m.cache.get("focus_norm")
    if norm is None:
        par = m.par
        n = np.maximum(m.fixed.eligible_by_program.sum(0), 1)
        norm = m.cache["focus_norm"] = n / (par.focus_adoption_mult + par.off_focus_adoption_mult * (n - 1))
    return norm


class DesignWeight:
    """This quarter's design weight of the adoption hazards, evaluated only where adoption needs
    it (`at`: the focus program or not, programs abandoned after reflection, x the cost preference
    under this quarter's budget pressure x tested designs where time is short x the cap) and an upper bound
    per focus stratum (`bound`, for thinning). `peers`: (n_k, n_r) share of each region's
    districts running each program."""

    def __init__(self, m, peers: np.ndarray):
        par, cyc, cap = m.par, m.cycle, m.quarter_capacity
        n_d = m.world.n_districts
        self.par, self.n_d, self.n_r, self.region = par, n_d, m.world.n_regions, m.world.d_region
        self.tight = tightness(m)
        self.cost_slope = cost_slope(m)
        self.short = time_short(m)
        n_run = np.bincount(m.cells.district, minlength=n_d)
        self.open = n_run < np.where(self.short, 1, int(par.max_concurrent_programs))
        self.peers = peers.ravel()
        self.tested_max = 1 + par.tested_design_weight * (peers.max(1) if self.short.any() else np.zeros(len(peers)))
        self.focus, self.abandoned = cyc.focus, cyc.abandoned.ravel()
        self.scale = cyc.weight_scale

    def at(self, cd: np.ndarray, ck: np.ndarray) -> np.ndarray:
        """Design weight of program ck[i] in district cd[i]."""
        par = self.par
        wt = np.where(ck == self.focus[cd], par.focus_adoption_mult, par.off_focus_adoption_mult) * self.scale[cd]
        wt = np.where(self.abandoned[ck * self.n_d + cd], wt * par.abandoned_adoption_keep, wt)
        wt = wt * np.exp(self.cost_slope[ck] * self.tight[cd])
        short = self.short[cd]
        if short.any():
            wt = wt * (1 + self.par.tested_design_weight * self.peers[ck * self.n_r + self.region[cd]] * short)
        return wt * self.open[cd]

    def bound(self, S: FocusStrata) -> np.ndarray:
        """(n_strata,) an upper bound of the weight in each focus stratum of `S`."""
        par = self.par
        if not self.open.any():
            return np.zeros(len(S.stratum_program))
        lo, hi = float(self.tight.min()), float(self.tight.max())
        cost = np.exp(np.maximum(self.cost_slope * lo, self.cost_slope * hi))
        k = S.stratum_program
        mult = np.where(S.stratum_focus, par.focus_adoption_mult, par.off_focus_adoption_mult)
        return mult * S.scale_max * max(1.0, par.abandoned_adoption_keep) * cost[k] * self.tested_max[k]


def design_weights(m, peers: np.ndarray) -> np.ndarray:
    """(n_k, n_d) every design weight this quarter, densely (for inspection and tests; adoption
    evaluates `DesignWeight.at` on its candidates only)."""
    n_k, n_d = len(m.programs), m.world.n_districts
    return DesignWeight(m, peers).at(np.tile(np.arange(n_d), n_k), np.repeat(np.arange(n_k), n_d)).reshape(n_k, n_d)


def keep_within_cap(m, d: np.ndarray, k: np.ndarray):
    """Drop the starts (in priority order) that would take a district beyond its cap."""
    if not len(d):
        return d, k
    room = concurrency_cap(m)[d] - np.bincount(m.cells.district, minlength=m.world.n_districts)[d]
    if (room >= 1).all() and len(set(d.tolist())) == len(d):
        return d, k   # every start fits (the usual case)
    o = np.argsort(d, kind="stable")
    ds = d[o]
    first = np.r_[True, ds[1:] != ds[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(ds)), 0))
    rank = np.empty(len(d), np.int64)
    rank[o] = np.arange(len(ds)) - start
    keep = rank < room
    return d[keep], k[keep]


def mitigation_cost(m) -> float:
    """$M a year the strategy's burnout mitigations cost this quarter (districts running equity
    work), paid from the general program money."""
    par, strat = m.par, m.spec.strategy
    per = strat.leadership_rotation * par.rotation_cost_musd + strat.release_time * par.release_cost_musd
    if per <= 0 or not len(m.cells):
        return 0.0
    running = np.bincount(m.cells.district, minlength=m.world.n_districts) > 0
    return float(per * m.fixed.size_cost[running].sum())


def account_spending(m) -> None:
    """Add this quarter's district program and mitigation spending ($M) to the run's total."""
    F, cells = m.fixed, m.cells
    live = ~cells.dead
    programs = float((F.size_cost[cells.district[live]] * F.base_cost[cells.program[live]]).sum())
    m.cycle_stats["spend_musd"] += (programs + mitigation_cost(m)) * DT


# ---------------------------------------------------------------- implement
def feedback_and_turnover(m) -> tuple[np.ndarray, np.ndarray]:
    """Move the feedback loop one quarter and set staff turnover; returns (fidelity multiplier of
    each active cell's target, quarterly share of its fidelity staff turnover takes)."""
    par, dist, cyc, cells = m.par, m.district_arrays, m.cycle, m.cells
    n_d = m.world.n_districts
    n_active = np.bincount(cells.district, minlength=n_d)
    attention = 1 + par.attention_cost * np.maximum(n_active - 1, 0)
    target = np.where(dist.prerequisites, 1.0, par.feedback_unprepared_share) / attention * (n_active > 0)
    cyc.feedback += (target - cyc.feedback) * par.feedback_adjustment
    d = cells.district
    mult = (1 + par.feedback_fidelity_gain * cyc.feedback[d]) * (
        par.misfit_fidelity_share + (1 - par.misfit_fidelity_share) * fit_of(m, cells.program, d)) * np.where(
        cells.root, 1.0, par.root_cause_miss_share)
    rate = staff_turnover(m, d)
    cyc.staff_turnover[d] = rate   # districts running programs (read at the year end)
    loss = par.staff_turnover_fidelity_loss * hazard(rate)
    return mult, loss


def staff_turnover(m, d: np.ndarray) -> np.ndarray:
    """Yearly staff turnover of districts `d` now (burnout, stipends)."""
    par = m.par
    return (par.staff_turnover_base * (1 + par.staff_turnover_burnout * m.district_arrays.burnout[d])
            * (1 - par.stipend_retention * m.spec.strategy.release_time))


def burnout_terms(m) -> tuple[float, float]:
    """(multiplier of burnout growth, extra recovery a year) from the strategy's mitigations."""
    par, strat = m.par, m.spec.strategy
    return 1 - par.rotation_burnout_cut * strat.leadership_rotation, par.release_recovery * strat.release_time


# ---------------------------------------------------------------- reflect
def reflect_programs(m, g: np.random.Generator, data_support: np.ndarray) -> np.ndarray:
    """Judge every program on the district's own outcome change; scale, refine, replace or
    abandon; report failures. Returns (n_d,) bool: districts with a public win this year.
    Draws (fixed counts): a normal, two uniforms per active program, a uniform per district."""
    par, dist, cyc, cells, table = m.par, m.district_arrays, m.cycle, m.cells, m.program_table
    n_d, n = m.world.n_districts, len(cells)
    noise = g.standard_normal(n)
    u_report, u_fix = g.random(n), g.random(n)
    u_data = g.random(n_d)
    d, k = cells.district, cells.program
    signal = (current_cuts(m)[k, d] - cells.start_cut) / full_effect(m)[k]
    sd = par.measure_noise_sd * np.where(cyc.wrong_measure[d], par.wrong_measure_noise_mult, 1.0)
    measured = signal + sd * noise
    judged = cells.quarters_reached >= par.reflect_min_quarters
    win_cell = judged & (measured >= par.reflect_win_threshold * par.reflect_win_scale)
    win = np.zeros(n_d, bool)
    win[d[win_cell]] = True
    if m.spec.strategy.reflect_on_outcomes and n:
        scale = nonzero(judged & (measured >= par.reflect_scale_signal) & (cells.phase < table.final_phase[k]))
        cells.quarters_in_phase[scale] = table.quarters_of(k[scale], cells.phase[scale])
        m.cycle_counts["programs_scaled"] += len(scale)
        low = judged & ((m.quarter - cells.start_quarter) >= par.reflect_patience_quarters) & (measured < par.reflect_fail_signal)
        refine = nonzero(low & (cells.refined == 0))
        drop = nonzero(low & (cells.refined > 0))
        cells.fidelity[refine] = np.minimum(cells.fidelity[refine] + par.refine_fidelity_gain, 1)
        cells.refined[refine] = 1
        m.cycle_counts["programs_refined"] += len(refine)
        failed = np.r_[refine, drop]
        report = np.where(dist.prerequisites[d[failed]], par.failure_report_prepared, par.failure_report_unprepared)
        honest = failed[u_report[failed] < report]
        times = np.bincount(d[honest], minlength=n_d)
        cyc.learning = 1 - (1 - cyc.learning) * (1 - par.failure_learning_gain) ** times
        cyc.wrong_measure[d[honest[u_fix[honest] < par.failure_measure_fix]]] = False
        # the refined design goes back to the diagnosis with what this year's reports taught
        cells.root[refine] |= root_cause_found(m, k[refine], d[refine])
        if len(drop):
            dd, kd = d[drop], k[drop]
            cyc.abandoned[kd, dd] = True
            # replaced when another candidate fits its gaps at least as well (the diagnosis missed
            # the root cause), abandoned when it was the district's best option
            cand = m.fixed.eligible_by_program[:, dd] & ~cyc.abandoned[:, dd] & ~dist.running[:, dd]
            others = (cand & (cyc.own[:, dd] >= cyc.own[kd, dd][None, :]) & (cyc.own[:, dd] > 0)).any(0)
            m.cycle_counts["programs_replaced"] += int(others.sum())
            m.cycle_counts["programs_abandoned"] += int((~others).sum())
            m.end_cells(drop[others], "replaced")
            m.end_cells(drop[~others], "abandoned")
    # data work fixes what districts measure
    cyc.wrong_measure &= ~(u_data < 1 - np.exp(-par.measure_fix_rate * data_support))
    return win


def lens_transitions(m, g: np.random.Generator, win: np.ndarray) -> None:
    """Sustained wins of a district that measures well move equity into its core processes;
    sustained pressure moves a lens district back. Two uniforms per district."""
    par, dist, cyc = m.par, m.district_arrays, m.cycle
    n_d = m.world.n_districts
    u_move, u_drift = g.random(n_d), g.random(n_d)
    cyc.win_streak = np.where(win, cyc.win_streak + 1, 0)
    pressure = (m.in_recession | (m.state_arrays.opposition[m.world.d_state] >= par.lens_pressure_opposition)
                | (dist.burnout >= par.lens_pressure_burnout))
    cyc.pressure_years = np.where(pressure, cyc.pressure_years + 1, 0)
    lens = dist.equity_as_lens
    move = ~lens & ~cyc.wrong_measure & (cyc.win_streak >= par.lens_win_years) & (u_move < par.lens_move_prob)
    drift = lens & (cyc.pressure_years >= par.lens_pressure_years) & (u_drift < par.lens_drift_prob)
    m.cycle_counts["moved_to_lens"] += int(move.sum())
    dist.equity_as_lens = (lens | move) & ~drift


def record_year(m) -> None:
    """Year-end sums for the per-replication means (fidelity of active programs, burnout and
    staff turnover of districts running programs)."""
    cells, st = m.cells, m.cycle_stats
    if not len(cells):
        return
    running = np.bincount(cells.district, minlength=m.world.n_districts) > 0
    st["years"] += 1
    st["fidelity"] += float(cells.fidelity.mean())
    st["burnout"] += float(m.district_arrays.burnout[running].mean())
    st["staff_turnover"] += float(m.cycle.staff_turnover[running].mean())   # as of the last quarter


def summary(m) -> dict[str, float]:
    """What districts did over the run: decision counts and mean fidelity, burnout, staff
    turnover (NaN when no program ever ran at a year end)."""
    st = m.cycle_stats
    out = {k: float(m.cycle_counts[k]) for k in DECISIONS}
    out["spend_musd"] = st["spend_musd"]
    out["superintendent_turnover"] = (m.counts["superintendent_changes"] / st["reform_years"]) if st["reform_years"] else float("nan")
    n = st["years"]
    for k, name in (("fidelity", "mean_fidelity"), ("burnout", "mean_burnout"), ("staff_turnover", "mean_staff_turnover")):
        out[name] = st[k] / n if n else float("nan")
    return out
