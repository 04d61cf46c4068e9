"""Adaptive plans (roadmap, "Monitoring and Evaluation / Evaluation Timeline": progress reports
quarterly, outcome evaluation annual, comprehensive review every 3 years, strategic adjustment as
needed; the mitigations of its risk tables: "Fatigue: celebrate wins; pace reform", "Election
losses: diversify leadership; don't rely on individuals", "Inadequate resources: phase
implementation to match resources", "Unintended consequences: monitoring, adjustment"; the
practitioner's guide: "be willing to abandon a strategy that is not working").

A scenario's `[[adapt]]` rules are checked between quarters, after a quarter (and, at a year end,
the year's measurement) is done and before the next begins. A rule is due at its review points
(`check`: every quarter, after each year end, after years 3, 6, 9, or in the quarter a recession
starts or the federal administration turns hostile); it fires when its signpost is above (or
below) its threshold and its cool-down since it last fired has passed, and only if one of its
actions changes something. Signposts are evaluated for every due rule first, then the actions of
the rules that fire are applied in file order.

Actions edit the timetable (the scenario's sequence entries, in quarters: pause, resume, shift,
scale, move push between groups, switch to a named fallback sequencing) or a strategy knob
(pacing, coalition investment, funding diversification, technical assistance, legal design,
lock-in). An entry under way when it is edited is split at the current quarter, so the past is
kept as it was and the catalogue's delays already served are not served again. The edited
timetable is compiled by the plan compiler (cached per world on the timetable), and the model's
plan, row tables, strategy and pace are replaced; the milestones stay those of the plan as
written (the yardstick does not move with the plan).

Checking draws no random numbers, and nothing here is read by a mechanism before a rule fires: an
adaptive plan whose rules never fire runs exactly as the static plan (one seed, one result; the
common random numbers of every stream are untouched). Every signpost is a few numpy reductions.

Reads: (no registry parameter: every threshold, cool-down and action size is the scenario's data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .. import caches
from .. import indicators as _ind
from ..plan import compile_plan
from ..rows import RowTable
from ..scenario import REVIEW_QUARTERS, AdaptAction, AdaptRule, ScenarioSpec, Strategy
from . import adoption, funding, opposition

AS_WRITTEN = "as written"   # the branch of a future whose sequencing no rule has changed
QUARTERS = REVIEW_QUARTERS["yearly"]


@dataclass(frozen=True)
class Entry:
    """One timetable entry in quarters (what `plan.compile_plan` reads from a SequenceEntry)."""

    group: str
    start_q: int
    end_q: int | None
    where: str | tuple
    intensity: float
    targets: tuple
    served_q: int = 0   # quarters of catalogue delays already served (split or resumed entries)

    # the fields compile_plan reads
    @property
    def start_year(self) -> float:
        return self.start_q / QUARTERS

    @property
    def end_year(self) -> float | None:
        return None if self.end_q is None else self.end_q / QUARTERS

    @property
    def where_value(self):
        return list(self.where) if isinstance(self.where, tuple) else self.where

    def compiled(self):
        return _Compiled(self.group, self.start_year, self.end_year, self.where_value, self.intensity,
                         dict(self.targets), self.served_q)

    def unfinished(self, q: int) -> bool:
        return self.end_q is None or self.end_q > q

    def running(self, q: int) -> bool:
        return self.start_q < q and self.unfinished(q)

    def split(self, q: int) -> tuple["Entry", "Entry"]:
        """The part before quarter q and the part from q on (its delays served up to q)."""
        return (replace(self, end_q=q),
                replace(self, start_q=q, served_q=self.served_q + q - self.start_q))


@dataclass
class _Compiled:
    group: str
    start_year: float
    end_year: float | None
    where: object
    intensity: float
    targets: dict
    served_q: int


def entries_of(sequence, offset_q: int = 0) -> tuple[Entry, ...]:
    """SequenceEntry list -> timetable entries (years counted from quarter `offset_q`)."""
    out = []
    for e in sequence:
        s = offset_q + int(round(e.start_year * QUARTERS))
        end = None if e.end_year is None else offset_q + int(round(e.end_year * QUARTERS))
        where = tuple(e.where) if isinstance(e.where, list) else e.where
        out.append(Entry(e.group, s, end, where, float(e.intensity), tuple(sorted(e.targets.items()))))
    return tuple(out)


@dataclass
class Timetable:
    """The sequencing in force: entries, the entries a pause holds (by group) and the branch."""

    entries: tuple[Entry, ...]
    held: dict = field(default_factory=dict)   # group -> (quarter paused, entries held)
    branch: str = AS_WRITTEN

    @property
    def pathway(self) -> str:
        """The branch as a pathways chart shows it: the sequencing in force and any group paused."""
        return self.branch + "".join(f" + {g} paused" for g in sorted(self.held))


# ------------------------------------------------------------------ actions on the timetable
def _edit_group(entries, group, q, change):
    """Entries with `change(entry) -> entry | None` applied to the unfinished part of each entry
    of `group` (an entry under way is split at q first); None drops it."""
    out = []
    for e in entries:
        if e.group != group or not e.unfinished(q):
            out.append(e)
            continue
        if e.running(q):
            before, e = e.split(q)
            out.append(before)
        new = change(e)
        if new is not None:
            out.append(new)
    return tuple(out)


def pause(tt: Timetable, group: str, q: int) -> Timetable | None:
    if group in tt.held or not any(e.group == group and e.unfinished(q) for e in tt.entries):
        return None
    held = []
    entries = _edit_group(tt.entries, group, q, lambda e: held.append(e))
    return Timetable(entries, {**tt.held, group: (q, tuple(held))}, tt.branch)


def resume(tt: Timetable, group: str, q: int) -> Timetable | None:
    if group not in tt.held:
        return None
    paused_q, held = tt.held[group]
    back = []
    for e in held:
        if e.start_q >= q:          # held before it started and resumed before it was due
            back.append(e)
        else:                       # restarts now, for the length it had left
            end = None if e.end_q is None else e.end_q + (q - max(e.start_q, paused_q))
            back.append(replace(e, start_q=q, end_q=end))
    return Timetable(tt.entries + tuple(back), {k: v for k, v in tt.held.items() if k != group}, tt.branch)


def shift(tt: Timetable, group: str, years: float, q: int) -> Timetable | None:
    d = int(round(years * QUARTERS))
    out, changed = [], False
    for e in tt.entries:
        if e.group != group or not e.unfinished(q) or d == 0:
            out.append(e)
        elif e.running(q):
            if d > 0:               # under way: stops now and picks up d quarters later
                before, rest = e.split(q)
                out += [before, replace(rest, start_q=q + d, end_q=None if e.end_q is None else e.end_q + d)]
                changed = True
            else:
                out.append(e)       # cannot have started earlier than it did
        else:
            s = max(q, e.start_q + d)
            out.append(replace(e, start_q=s, end_q=None if e.end_q is None else e.end_q + (s - e.start_q)))
            changed |= s != e.start_q
    return Timetable(tuple(out), tt.held, tt.branch) if changed else None


def _intensity_limit() -> float:
    from ..scenario import SequenceEntry
    return next(m.le for m in SequenceEntry.model_fields["intensity"].metadata if hasattr(m, "le"))


def scale(tt: Timetable, group: str, factor: float, q: int) -> Timetable | None:
    top = _intensity_limit()
    if factor == 1 or not any(e.group == group and e.unfinished(q) for e in tt.entries):
        return None
    entries = _edit_group(tt.entries, group, q, lambda e: replace(e, intensity=min(e.intensity * factor, top)))
    return Timetable(entries, tt.held, tt.branch)


def move(tt: Timetable, group: str, to: str, share: float, q: int) -> Timetable | None:
    src = [e.intensity for e in tt.entries if e.group == group and e.unfinished(q)]
    if share == 0 or not src or not any(e.group == to and e.unfinished(q) for e in tt.entries):
        return None
    gain, top = share * float(np.mean(src)), _intensity_limit()
    entries = _edit_group(tt.entries, group, q, lambda e: replace(e, intensity=e.intensity * (1 - share)))
    entries = _edit_group(entries, to, q, lambda e: replace(e, intensity=min(e.intensity + gain, top)))
    return Timetable(entries, tt.held, tt.branch)


def switch(tt: Timetable, fallback, q: int) -> Timetable | None:
    """Everything under way stops now (future entries are dropped) and the fallback's entries start
    from q; a fallback entry starting now for a group that was under way carries on from it (the
    catalogue delays it had served are not served again)."""
    if tt.branch == fallback.name:
        return None
    served = {}
    for e in tt.entries:
        if e.running(q):
            served[e.group] = max(served.get(e.group, 0), e.served_q + q - e.start_q)
    kept = tuple(e.split(q)[0] if e.running(q) else e for e in tt.entries if not (e.unfinished(q) and e.start_q >= q))
    new = tuple(replace(e, served_q=served.get(e.group, 0)) if e.start_q == q else e
                for e in entries_of(fallback.sequence, q))
    return Timetable(kept + new, {}, fallback.name)


def apply_timetable(tt: Timetable, a: AdaptAction, spec: ScenarioSpec, q: int) -> Timetable | None:
    """The timetable after action `a` at quarter q (None: it changes nothing)."""
    if a.do == "pause":
        return pause(tt, a.group, q)
    if a.do == "resume":
        return resume(tt, a.group, q)
    if a.do == "shift":
        return shift(tt, a.group, a.years, q)
    if a.do == "scale":
        return scale(tt, a.group, a.factor, q)
    if a.do == "move":
        return move(tt, a.group, a.to, a.share, q)
    if a.do == "switch":
        return switch(tt, next(f for f in spec.fallbacks if f.name == a.fallback), q)
    raise ValueError(a.do)


def apply_knob(strategy: Strategy, a: AdaptAction) -> Strategy | None:
    """The strategy after a set/adjust action (None: it changes nothing). Adjusted knobs stay
    within the schema's range."""
    old = getattr(strategy, a.knob)
    if a.do == "set":
        new = a.value
    else:
        meta = Strategy.model_fields[a.knob].metadata
        lo = next(m.ge for m in meta if hasattr(m, "ge"))
        hi = next(m.le for m in meta if hasattr(m, "le"))
        new = min(max(old + a.by, lo), hi)
        new = next((b for b in (lo, hi) if np.isclose(new, b)), new)   # steps that land on a bound
        if np.isclose(new, old):
            return None
    return None if new == old else strategy.model_copy(update={a.knob: new})


# ------------------------------------------------------------------ signposts shared by both models
def indicator_progress(ind, now: dict, baseline: dict, year: int, scale_: float) -> float:
    """How far one success indicator is along a straight path from its baseline (year 0) to its
    target (its horizon year), at the end of `year`: achieved share / planned share (1 = on the
    path; past the horizon the planned share is 1)."""
    v = _ind.value(ind, now, baseline)
    if ind.rule == "reduced_by":
        base = 1.0 if ind.measure == "opportunity_gap_index" else baseline[ind.measure]
        target = (1 - ind.threshold) * base
        achieved = (base - v) / (base - target) if base != target else 1.0
    else:
        base = _ind.value(ind, baseline, baseline)
        target = ind.threshold_at(scale_)
        achieved = (v - base) / (target - base) if target > base else 1.0
    return float(achieved / min(year / ind.horizon_year, 1.0))


def indicator_signposts(rule: AdaptRule, history: list, baseline: dict, scale_: float) -> float:
    """The indicator and metric signposts, from the last year end's measurement (NaN before the
    first year end, so no such rule fires then)."""
    if not history:
        return math.nan
    now, year = history[-1], history[-1]["year"]
    if rule.signpost == "metric":
        base = baseline[rule.metric]
        return float(now[rule.metric] / base) if base else math.nan
    inds = _ind.indicators()
    if rule.signpost == "indicator_progress":
        return indicator_progress(next(i for i in inds if i.id == rule.indicator), now, baseline, year, scale_)
    return float(np.mean([indicator_progress(i, now, baseline, year, scale_) >= 1 for i in inds]))


def crossed(rule: AdaptRule, value: float) -> bool:
    """The rule's threshold test (NaN never crosses; no signpost always does)."""
    if rule.signpost is None:
        return True
    return value > rule.above if rule.above is not None else value < rule.below


# ------------------------------------------------------------------ the checks, for either model
class Adaptation:
    """The rules of one run: when each is due, its cool-down, the timetable and strategy in
    force, and the log of fires [(quarter, rule, pathway after: branch and paused groups)]. `check(model, signpost, install)`
    runs between quarters; `signpost(rule)` reads the model, `install(timetable, strategy)` puts an
    edited plan into it (the fast model's `install` below; the reference model has its own)."""

    def __init__(self, spec: ScenarioSpec, counts: dict, supportive: bool):
        self.spec = spec
        self.rules = spec.adapt
        self.timetable = Timetable(entries_of(spec.sequence))
        self.strategy = spec.strategy
        self.last = [None] * len(self.rules)
        self.fires = [0] * len(self.rules)
        self.log: list[tuple[int, str, str]] = []
        self.counts_by_quarter = [dict(counts)]   # risk counters at the start of each quarter
        self.supportive = supportive

    def risk_in_window(self, rule: AdaptRule, counts: dict) -> float:
        back = int(round(rule.window_years * QUARTERS))
        past = self.counts_by_quarter[max(len(self.counts_by_quarter) - 1 - back, 0)]
        return float(counts[rule.risk] - past[rule.risk])

    def check(self, q: int, counts: dict, supportive: bool, signpost, install) -> None:
        """Between quarters (q: the quarter about to start)."""
        events = {"recession_starts": counts["recessions"] > self.counts_by_quarter[-1]["recessions"],
                  "federal_turns_hostile": self.supportive and not supportive}
        self.counts_by_quarter.append(dict(counts))
        self.supportive = supportive
        firing = []
        for i, r in enumerate(self.rules):
            period = r.period_quarters
            due = (q % period == 0) if period else events[r.check]
            if not due or (r.max_fires is not None and self.fires[i] >= r.max_fires):
                continue
            if self.last[i] is not None and q - self.last[i] < r.cooldown_years * QUARTERS:
                continue
            value = self.risk_in_window(r, counts) if r.signpost == "risk_count" else (
                signpost(r) if r.signpost is not None else math.nan)
            if crossed(r, value):
                firing.append(i)
        changed = False
        for i in firing:
            r, did = self.rules[i], False
            for a in r.actions:
                if a.do in ("set", "adjust"):
                    new = apply_knob(self.strategy, a)
                    if new is not None:
                        self.strategy, did = new, True
                else:
                    new = apply_timetable(self.timetable, a, self.spec, q)
                    if new is not None:
                        self.timetable, did = new, True
            if did:
                self.last[i] = q
                self.fires[i] += 1
                self.log.append((q, r.name, self.timetable.pathway))
                changed = True
        if changed:
            install(self.timetable, self.strategy)

    def first_years(self) -> dict[str, float]:
        """Rule name -> year in which it first fired (quarters / 4, the fire taking effect from that
        quarter; NaN: never)."""
        out = {r.name: math.nan for r in self.rules}
        for q, name, _ in self.log:
            if math.isnan(out[name]):
                out[name] = q / QUARTERS
        return out

    def switches(self) -> list[tuple[float, str]]:
        """[(year, pathway)] each time the pathway (the sequencing in force, or a group paused or
        resumed) changed."""
        out, branch = [], AS_WRITTEN
        for q, _, b in self.log:
            if b != branch:
                out.append((q / QUARTERS, b))
                branch = b
        return out


# ------------------------------------------------------------------ the fast model's side
def attach(m) -> Adaptation | None:
    """The run's Adaptation (None for a static plan)."""
    if not m.spec.adapt:
        return None
    return Adaptation(m.spec, m.counts, bool(m.federal_arrays.supportive))


def signpost(m, rule: AdaptRule) -> float:
    """The rule's signpost now, in the fast model."""
    k = rule.signpost
    if k in ("indicator_progress", "indicators_on_track", "metric"):
        return indicator_signposts(rule, m.history, m.baseline, m.world.scale)
    if k == "opposition":
        return opposition.national(m)
    if k == "support_funding_share":
        return funding.support_funding_share(m)
    if k == "capital":
        return float(m.state_arrays.capital.mean())
    if k == "burnout":
        on = np.bincount(m.cells.district[~m.cells.dead], minlength=m.world.n_districts) > 0
        return float(m.district_arrays.burnout[on].mean()) if on.any() else 0.0
    if k == "buy_in":
        return float(m.district_arrays.buy_in.mean())
    if k == "coalition_breadth":
        return float(m.coalition_arrays.breadth[-1])
    if k == "in_recession":
        return float(m.federal_arrays.in_recession)
    if k == "federal_hostile":
        return float(not m.federal_arrays.supportive)
    raise ValueError(k)


def install(m, tt: Timetable, strategy: Strategy) -> None:
    """Put an edited timetable and strategy into the fast model: the compiled plan and row tables
    (cached per world on the timetable), the strategy the mechanisms read, the pace."""
    plans = caches.for_world(m.world, "adaptive_plan")
    key = (m.spec.years, tt.entries, tuple(sorted(m.p.items())))   # the compiler reads parameters too
    if key not in plans:
        plan = compile_plan(m.spec, m.catalogue, m.world, [e.compiled() for e in tt.entries])
        caches.remember(plans, key, (plan,
                        RowTable.build(plan.state_rows, m.n_quarters, m.n_states, m.policy_index, m.world.d_state),
                        RowTable.build(plan.local_rows, m.n_quarters, m.n_states, m.policy_index, m.world.d_state,
                                       m.fixed.eligible_by_program)), caches.ADAPTIVE_PLANS_KEPT)
    m.plan, m.rows_state, m.rows_local = plans[key]
    if strategy is not m.spec.strategy:
        m.spec = m.spec.model_copy(update={"strategy": strategy})
        m.pace = adoption.strategy_pace(m.par, strategy.pacing)


def between_quarters(m) -> None:
    """The rules' checks before quarter m.quarter starts."""
    m.adaptation.check(m.quarter, m.counts, bool(m.federal_arrays.supportive),
                       lambda r: signpost(m, r), lambda tt, st: install(m, tt, st))
