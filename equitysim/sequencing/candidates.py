"""Candidates (a start year per block, a pace, a leading level, where state action starts), the
scenario each stands for, the futures they are evaluated on, and each candidate as an experiment
of the experiments runner."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass

from .. import params as _params
from ..actions import default_catalogue
from ..experiments import Experiment, parse_experiment
from ..scenario import ScenarioSpec, SequenceEntry
from .spec import LEAD_SHIFT, SearchSpec


OFF = -1   # an adaptive candidate's setting of a rule it leaves out


@dataclass(frozen=True)
class Candidate:
    """One sequencing: a start year per block (years from the start), a pace (0-1), the level
    that leads and where state action starts."""

    starts: tuple[float, ...]  # one per block
    pace: float
    lead: str
    first_where: str
    adapt: tuple[int, ...] = ()   # adaptive candidates: a setting per searched rule, -1 = off (rule_setting)

    def __post_init__(self):
        if self.adapt and all(c == OFF for c in self.adapt):
            object.__setattr__(self, "adapt", ())   # every rule off: the static candidate itself

    @property
    def adaptive(self) -> bool:
        return bool(self.adapt)

    def static(self) -> "Candidate":
        return Candidate(self.starts, self.pace, self.lead, self.first_where)

    def key(self) -> str:
        k = [list(self.starts), self.pace, self.lead, self.first_where]
        return json.dumps(k + [list(self.adapt)] if self.adapt else k)

    def describe(self, spec: SearchSpec) -> dict:
        d = {f"start.{b.name}": s for b, s in zip(spec.blocks, self.starts)}
        d.update(pace=self.pace, lead=self.lead, first_where=self.first_where)
        if spec.adaptive is not None:
            d["rules"] = describe_rules(spec, self)
        return d


def rule_setting(spec: SearchSpec, i: int, c: int) -> tuple[int, int] | None:
    """Setting c of searched rule i: None (off, c = OFF) or (threshold index, action-list index);
    index -1 means the rule's own."""
    rc = spec.adaptive.rules[i]
    if c == OFF:
        return None
    n_a = max(len(rc.actions), 1)
    t, a = divmod(c, n_a)
    return (t if rc.thresholds else -1, a if rc.actions else -1)


def adapted_rules(spec: SearchSpec, base: ScenarioSpec, c: Candidate) -> list:
    """The [[adapt]] rules an adaptive candidate switches on, with its thresholds and actions."""
    if not c.adapt:
        return []
    out = []
    for i, (rule, ch) in enumerate(zip(base.adapt, c.adapt)):
        s = rule_setting(spec, i, ch)
        if s is None:
            continue
        rc, upd = spec.adaptive.rules[i], {}
        if s[0] >= 0:
            upd["above" if rule.above is not None else "below"] = rc.thresholds[s[0]]
        if s[1] >= 0:
            upd["actions"] = rc.actions[s[1]]
        out.append(rule.model_copy(update=upd))
    return out


def describe_rules(spec: SearchSpec, c: Candidate) -> str:
    """'rule (threshold x; actions k)' for each rule an adaptive candidate switches on ('none')."""
    if not c.adapt:
        return "none"
    parts = []
    for i, ch in enumerate(c.adapt):
        s = rule_setting(spec, i, ch)
        if s is None:
            continue
        rc = spec.adaptive.rules[i]
        bits = [f"threshold {rc.thresholds[s[0]]:g}"] if s[0] >= 0 else []
        if s[1] >= 0:
            bits.append("actions: " + ", ".join(_action_words(a) for a in rc.actions[s[1]]))
        parts.append(rc.rule + (f" ({'; '.join(bits)})" if bits else ""))
    return "; ".join(parts)


def _action_words(a) -> str:
    d = a.model_dump(exclude_none=True)
    return d.pop("do") + " " + " ".join(f"{k}={v}" for k, v in d.items())


def _group_level(group: str) -> str:
    return next(a.level for a in default_catalogue().by_group(group))


def candidate_scenario(spec: SearchSpec, base: ScenarioSpec, c: Candidate, name: str) -> ScenarioSpec:
    """The scenario a candidate stands for: the base scenario with each block's groups moved to the
    block's start year (keeping their offsets within the block), the lead's shifts, the pace, and
    state action first in `first_where` states for its first two years."""
    block_of = {g: i for i, b in enumerate(spec.blocks) for g in b.groups}
    base_start = {}
    for e in base.sequence:
        if e.group in block_of:
            i = block_of[e.group]
            base_start[i] = min(base_start.get(i, 99.0), e.start_year)
    last = base.years - 0.25
    seq: list[SequenceEntry] = []
    for e in base.sequence:
        level = _group_level(e.group)
        shift = LEAD_SHIFT[c.lead][level]
        start, end = e.start_year, e.end_year
        if e.group in block_of:
            i = block_of[e.group]
            start = c.starts[i] + (e.start_year - base_start[i])
            end = None if e.end_year is None else c.starts[i] + (e.end_year - base_start[i])
        start = min(start + shift, last)
        end = None if end is None else min(max(end + shift, start + 1), base.years)
        if level == "state" and c.first_where != "default" and e.where == "default":
            split = start + 2 if end is None else min(start + 2, end)
            seq.append(e.model_copy(update={"start_year": start, "end_year": split, "where": c.first_where}))
            if end is None or split < end:
                seq.append(e.model_copy(update={"start_year": split, "end_year": end}))
        else:
            seq.append(e.model_copy(update={"start_year": start, "end_year": end}))
    strategy = base.strategy.model_copy(update={"pacing": c.pace})
    rules = adapted_rules(spec, base, c)
    return base.model_copy(update={"name": name, "sequence": seq, "strategy": strategy,
                                   "adapt": rules, "fallbacks": list(base.fallbacks) if rules else [],
                                   "description": f"Sequencing search candidate: {c.describe(spec)}"})


def futures(spec: SearchSpec) -> list[dict]:
    """Parameter draws from the registry ranges (Latin hypercube, SALib) plus the named stress
    futures. Each future: {"name", "parameters", "events"}."""
    out = []
    if spec.futures.draws:
        from SALib.sample import latin

        reg = _params.registry()
        names = spec.futures.parameters
        problem = {"num_vars": len(names), "names": names, "bounds": [[reg[n].low, reg[n].high] for n in names]}
        X = latin.sample(problem, spec.futures.draws, seed=spec.seed)
        for i, row in enumerate(X):
            out.append({"name": f"draw {i}", "parameters": dict(zip(names, map(float, row))), "events": []})
    for s in spec.futures.stress:
        out.append({"name": s.name, "parameters": dict(s.parameters), "events": list(s.events)})
    if not out:
        out.append({"name": "central", "parameters": {}, "events": []})
    return out


def apply_future(scn: ScenarioSpec, fut: dict) -> ScenarioSpec:
    """The scenario under a future: its parameters override, its events are added."""
    return scn.model_copy(update={"parameters": {**scn.parameters, **fut["parameters"]},
                                  "events": list(scn.events) + list(fut["events"])})


def candidate_id(c: Candidate) -> str:
    """The name of a candidate's results directory under OUT/runs/: a short hash of its key."""
    return hashlib.sha256(c.key().encode()).hexdigest()[:16]


def candidate_experiment(spec: SearchSpec, base: ScenarioSpec, c: Candidate, futs: list[dict],
                         replications: int | None = None, seed: int | None = None) -> Experiment:
    """A candidate as an experiment: scenario f is the candidate under future f (in futures order),
    one design point with no parameters, `spec.replications` runs each keyed by scenario, so future
    f replication r has run key (f, r) in every candidate (common random numbers across
    candidates), one chunk per future, and only whether each indicator is met kept."""
    scn = candidate_scenario(spec, base, c, "candidate")
    scenarios = [apply_future(scn, f).model_copy(update={"name": f"future {i}: {f['name']}"})
                 for i, f in enumerate(futs)]
    data = {"name": f"{spec.name} candidate {candidate_id(c)}",
            "description": f"sequencing search candidate {c.key()}",
            "replications": replications or spec.replications, "seed": spec.seed if seed is None else seed,
            "scale": base.scale, "chunk_size": replications or spec.replications, "key_by": "scenario",
            "parameters": "defaults",   # the search compares plans at the registry's values (docs/sequencing.md)
            "outputs": {"values": False, "risks": False, "metrics": False, "trajectories": False}}
    return parse_experiment(data, f"sequencing search '{spec.name}'", scenarios=scenarios)


def candidate_from_key(key: str) -> Candidate:
    """The candidate whose `Candidate.key()` is `key`."""
    starts, pace, lead, fw, *adapt = json.loads(key)
    return Candidate(tuple(starts), pace, lead, fw, tuple(adapt[0]) if adapt else ())


def all_candidates(spec: SearchSpec):
    """Every candidate of the decision space, in a fixed order (blocks' start years first)."""
    for starts in itertools.product(spec.start_years, repeat=len(spec.blocks)):
        for pace, lead, fw in itertools.product(spec.paces, spec.leads, spec.first_where):
            yield Candidate(tuple(starts), pace, lead, fw)


def all_adaptive(spec: SearchSpec, base: ScenarioSpec, on: Candidate):
    """Every adaptive candidate on top of the static candidate `on` (settings of the first rule
    vary slowest), the all-off one left out."""
    settings = [([OFF] if rc.optional else []) + list(range(max(len(rc.thresholds), 1) * max(len(rc.actions), 1)))
                for rc in spec.adaptive.rules]
    for choice in itertools.product(*settings):
        c = Candidate(on.starts, on.pace, on.lead, on.first_where, tuple(choice))
        if c.adaptive:
            yield c


def roadmap_candidate(spec: SearchSpec, base: ScenarioSpec) -> Candidate:
    """The base scenario expressed in the decision space where possible (its own block starts)."""
    starts = []
    for b in spec.blocks:
        ys = [e.start_year for e in base.sequence if e.group in b.groups]
        starts.append(min(ys) if ys else spec.start_years[0])
    return Candidate(tuple(starts), base.strategy.pacing, "all", "default")

