"""What would it take? The least-cost change to a scenario that makes an indicator likely.

    spec = load_scenario("scenarios/roadmap.toml")
    answer = what_it_takes(spec, "funding_reform_10_states", probability=0.5, out="results/wit", jobs=2)
    answer.sentences(); answer.to_json(); answer.scenario       # the changed plan, a ScenarioSpec

The question a strategist asks of an indicator the plan misses ("0.00 everywhere" teaches
nothing). The answer changes only what a campaign controls, on the action groups that act on the
indicator (its `acts_through` list in data/indicators.toml):

- effort: each responsible group pushed harder (intensity 1, 1.5, 2, 3 or 5); effort above 1 is
  advocacy the campaign pays for (`advocacy_cost_musd_per_effort`, plan.py);
- start: each responsible group started 0, 1 or 2 years earlier (never before year 1);
- where: each responsible state or local group taken to every state;
- funds: the local and philanthropic money of the program families the groups draw on
  (`local_integration_funds_musd`, `local_general_funds_musd`) times 1, 1.5, 2 or 3;
- budget: the strategy's budget multiplier (every budget: campaign, federal, states, districts)
  times 1, 1.25, 1.5, 2 or 3.

The cost of a setting is its planned spending a year (costs.planned_costs on the full-size US,
mean over the scenario's years) plus the extra money the funds and budget levers commit. The
search (Optuna's TPE sampler, seeded, with the constraint P(met) >= the asked probability) looks
for the cheapest setting that meets the constraint; every setting is evaluated through the
experiments runner on the same run keys (common random numbers), its runs in
OUT/runs/<setting id>/, so a search resumes where it stopped (the sampler replays its history).
The cheapest setting that met the constraint is then simplified (its changes undone one at a
time while the constraint still holds on the search's runs, so the answer keeps only the changes
that matter) and confirmed on fresh runs (another seed); when none met it, the setting with the
highest P(met), simplified the same way, is confirmed and the answer says the target was not
reached within the levers' bounds, and what limited it.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from . import indicators as _ind
from .actions import default_catalogue
from .experiments import ResultStore, parse_experiment, read_runs, sweep_many
from .experiments.store import atomic_write
from .scenario import ScenarioError, ScenarioSpec

EFFORTS = (1.0, 1.5, 2.0, 3.0, 5.0)
EARLIER = (0.0, 1.0, 2.0)
FUNDS = (1.0, 1.5, 2.0, 3.0)
BUDGETS = (1.0, 1.25, 1.5, 2.0, 3.0)
LEVERS = ("effort", "start", "where", "funds", "budget")
FUND_PARAMS = {"integration": "local_integration_funds_musd", "general": "local_general_funds_musd"}
BUDGET_PARAMS = ("campaign_budget_musd", "federal_budget_musd", "local_integration_funds_musd",
                 "local_general_funds_musd")
MANIFEST = "what_it_takes.json"


@dataclass(frozen=True)
class Setting:
    """One setting of the levers: per responsible group (effort, years earlier, everywhere), the
    funds multiplier per program family and the budget multiplier."""

    effort: tuple[float, ...]
    earlier: tuple[float, ...]
    everywhere: tuple[bool, ...]
    funds: tuple[float, ...]     # one per family in `families`
    budget: float

    def key(self) -> str:
        return json.dumps([list(self.effort), list(self.earlier), list(self.everywhere), list(self.funds), self.budget])

    def id(self) -> str:
        return hashlib.sha256(self.key().encode()).hexdigest()[:16]


def responsible_groups(indicator: _ind.Indicator, spec: ScenarioSpec) -> list[str]:
    """The indicator's `acts_through` groups that the scenario schedules (in its order)."""
    scheduled = [e.group for e in spec.sequence]
    return [g for g in dict.fromkeys(scheduled) if g in indicator.acts_through]


def families(groups: list[str]) -> list[str]:
    """The program families (integration, general) the groups' local actions draw on."""
    cat = default_catalogue()
    fams = {cat.programs[a.policy].family for g in groups for a in cat.by_group(g) if a.level == "local"}
    return [f for f in FUND_PARAMS if f in fams]


def apply(spec: ScenarioSpec, groups: list[str], fams: list[str], s: Setting, name: str | None = None) -> ScenarioSpec:
    """The scenario with setting `s` applied to `groups` and `fams`."""
    cat = default_catalogue()
    at = {g: i for i, g in enumerate(groups)}
    seq = []
    for e in spec.sequence:
        i = at.get(e.group)
        if i is None:
            seq.append(e)
            continue
        upd = {"intensity": min(5.0, e.intensity * s.effort[i])}
        if s.earlier[i]:
            shift = min(s.earlier[i], e.start_year)
            upd["start_year"] = e.start_year - shift
            if e.end_year is not None:
                upd["end_year"] = e.end_year - shift
        if s.everywhere[i] and any(a.level in ("state", "local") for a in cat.by_group(e.group)):
            upd["where"] = "all"
        seq.append(e.model_copy(update=upd))
    par = dict(spec.parameters)
    values = spec.param_values()
    for f, mult in zip(fams, s.funds):
        if mult != 1:
            par[FUND_PARAMS[f]] = values[FUND_PARAMS[f]] * mult
    strategy = spec.strategy.model_copy(update={"budget_multiplier": min(5.0, spec.strategy.budget_multiplier * s.budget)})
    return spec.model_copy(update={"sequence": seq, "parameters": par, "strategy": strategy,
                                   "name": name or spec.name})


def yearly_cost(spec: ScenarioSpec, base: ScenarioSpec) -> dict:
    """$M a year (mean over the years) by level for the full-size US: planned spending of `spec`
    (federal, states, districts, campaign) and the extra money its funds and budget levers commit
    over `base`."""
    from .costs import planned_costs

    full = spec.model_copy(update={"scale": 1.0})
    c = planned_costs(full)
    mean = lambda xs: float(sum(xs) / len(xs))  # noqa: E731
    out = {"federal": mean(c["federal_musd"]), "states": mean(c["states_musd"]),
           "districts": mean(c["districts_musd"]), "campaign": mean(c["support_musd"])}
    v, v0 = spec.param_values(), base.param_values()
    extra_funds = sum(v[p] - v0[p] for p in FUND_PARAMS.values())
    mult = spec.strategy.budget_multiplier / base.strategy.budget_multiplier
    committed = {"federal": v["federal_budget_musd"], "states": 51 * v["state_budget_musd"],
                 "districts": v["local_integration_funds_musd"] + v["local_general_funds_musd"],
                 "campaign": v["campaign_budget_musd"]}
    for level, amount in committed.items():
        out[level] += (mult - 1) * amount
    out["districts"] += extra_funds * mult
    out["total"] = sum(out[k] for k in ("federal", "states", "districts", "campaign"))
    return out


@dataclass
class Answer:
    """What it takes for one indicator: the setting, the changed scenario, its confirmed P(met)."""

    indicator: _ind.Indicator
    probability: float
    reached: bool
    setting: Setting
    scenario: ScenarioSpec
    base: ScenarioSpec
    p_met: float
    ci_low: float
    ci_high: float
    base_p_met: float
    cost: dict
    base_cost: dict
    changes: list[str]
    evaluated: int
    limits: list[str] = field(default_factory=list)
    value: float = float("nan")        # mean measured value of the indicator, confirmation runs
    base_value: float = float("nan")   # the same for the plan as written
    scenario_file: str | None = None

    def to_json(self) -> dict:
        extra = {k: round(self.cost[k] - self.base_cost[k], 3) for k in ("federal", "states", "districts")}
        extra["campaign"] = round(self.cost["campaign"] - self.base_cost["campaign"], 3)
        return {"indicator": self.indicator.id, "probability": self.probability, "reached": self.reached,
                "p_met": self.p_met, "ci_low": self.ci_low, "ci_high": self.ci_high, "base_p_met": self.base_p_met,
                "changes": self.changes,
                "cost_musd_per_year": {k: round(self.cost[k], 3) for k in ("federal", "states", "districts")},
                "campaign_musd_per_year": round(self.cost["campaign"], 3),
                "extra_cost_musd_per_year": extra, "evaluated": self.evaluated, "limits": self.limits,
                "value": self.value, "base_value": self.base_value,
                "threshold": self.indicator.threshold_at(self.scenario.scale), "rule": self.indicator.rule,
                "scenario_file": self.scenario_file}

    def sentences(self) -> list[str]:
        ind, pct = self.indicator, f"{self.probability:.0%}"
        interval = f"{self.p_met:.2f} (95% interval {self.ci_low:.2f}-{self.ci_high:.2f})"
        head = (f"To give \"{ind.phrase}\" at least a {pct} chance: " if self.reached else
                f"No setting of the levers within their bounds gives \"{ind.phrase}\" a {pct} chance "
                f"({self.evaluated} settings tried); the best found: ")
        body = "; ".join(self.changes) if self.changes else "no change (the plan already does it)"
        out = [head + body + ".",
               f"P(met) {interval} on fresh runs, against {self.base_p_met:.2f} for {self.base.name} as written.",
               f"Planned cost: ${self.cost['total']:,.0f}M a year on average (federal ${self.cost['federal']:,.0f}M, "
               f"states ${self.cost['states']:,.0f}M, districts ${self.cost['districts']:,.0f}M, campaign "
               f"${self.cost['campaign']:,.0f}M), {self.cost['total'] - self.base_cost['total']:+,.0f}M a year "
               f"against the plan as written."]
        if not self.reached:
            out.append(f"Its measure ({ind.measure}, {ind.rule.replace('_', ' ')} "
                       f"{ind.threshold_at(self.scenario.scale):g} at scale {self.scenario.scale:g}) averages "
                       f"{self.value:.4g} on the fresh runs, against {self.base_value:.4g} for the plan as written.")
        return out + self.limits


def _describe(base: ScenarioSpec, groups: list[str], fams: list[str], s: Setting) -> list[str]:
    v = base.param_values()
    adv = v["advocacy_cost_musd_per_effort"]
    out = []
    for i, g in enumerate(groups):
        name = g.replace("_", " ")
        if s.effort[i] != 1:
            out.append(f"push {name} at {s.effort[i]:g}x effort (advocacy ${adv * (s.effort[i] - 1):,.0f}M a year)")
        if s.earlier[i]:
            start = min(e.start_year for e in base.sequence if e.group == g)
            new = max(0.0, start - s.earlier[i])
            if new != start:
                out.append(f"start {name} in year {new + 1:g} instead of year {start + 1:g}")
        if s.everywhere[i]:
            out.append(f"take {name} to every state")
    for f, mult in zip(fams, s.funds):
        if mult != 1:
            p = FUND_PARAMS[f]
            out.append(f"raise local and philanthropic money for {f} programs {mult:g}x "
                       f"(+${v[p] * (mult - 1):,.0f}M a year)")
    if s.budget != 1:
        out.append(f"raise every budget (campaign, federal, states, districts) {s.budget:g}x")
    return out


def _limits(best: Setting, levers: tuple[str, ...], groups: list[str]) -> list[str]:
    """Which levers the best setting has at their bounds (what a wider bound might buy)."""
    at = []
    if "effort" in levers:
        at += [f"{g.replace('_', ' ')} effort is at its bound ({EFFORTS[-1]:g}x)" for g, e in zip(groups, best.effort)
               if e == EFFORTS[-1]]
    if "funds" in levers and best.funds and max(best.funds) == FUNDS[-1]:
        at.append(f"program money is at its bound ({FUNDS[-1]:g}x)")
    if "budget" in levers and best.budget == BUDGETS[-1]:
        at.append(f"the budget multiplier is at its bound ({BUDGETS[-1]:g}x)")
    if not at:
        return ["No lever is at its bound in the best setting found: what limits it is in the model's "
                "mechanisms (eligibility, money that binds elsewhere, opposition), not in the levers' ranges."]
    return ["At their bounds in the best setting found: " + "; ".join(at) + "."]


def _simplify(best: Setting, needed: float, results: dict, evaluate) -> Setting:
    """Undo the best setting's changes one at a time (effort, start, reach per group, then money)
    while P(met) stays >= `needed` on the search's runs: the answer keeps only changes that matter."""
    def variants(s: Setting):
        for i in range(len(s.effort)):
            if s.effort[i] != 1:
                yield Setting(s.effort[:i] + (1.0,) + s.effort[i + 1:], s.earlier, s.everywhere, s.funds, s.budget)
            if s.earlier[i]:
                yield Setting(s.effort, s.earlier[:i] + (0.0,) + s.earlier[i + 1:], s.everywhere, s.funds, s.budget)
            if s.everywhere[i]:
                yield Setting(s.effort, s.earlier, s.everywhere[:i] + (False,) + s.everywhere[i + 1:], s.funds, s.budget)
        for j in range(len(s.funds)):
            if s.funds[j] != 1:
                yield Setting(s.effort, s.earlier, s.everywhere, s.funds[:j] + (1.0,) + s.funds[j + 1:], s.budget)
        if s.budget != 1:
            yield Setting(s.effort, s.earlier, s.everywhere, s.funds, 1.0)

    improved = True
    while improved:
        improved = False
        for v in variants(best):
            evaluate([v])
            if results[v.key()][1] >= needed:
                best, improved = v, True
                break
    return best


def _experiment(spec: ScenarioSpec, replications: int, seed: int, label: str):
    data = {"name": f"what it takes: {label}", "description": "what-it-takes setting",
            "replications": replications, "seed": seed, "scale": spec.scale, "chunk_size": replications,
            "key_by": "replication",
            "parameters": "defaults",   # levers are searched at the registry's values (docs/what_it_takes.md)
            "outputs": {"values": True, "risks": False, "metrics": False, "trajectories": False}}
    return parse_experiment(data, f"what-it-takes '{label}'", scenarios=[spec])


def _p_met(out: Path, indicator: str) -> tuple[int, int, float]:
    """Runs meeting the indicator, runs, and the mean of its measured value."""
    df = read_runs(out)
    return int(df[f"met.{indicator}"].sum()), len(df), float(df[f"value.{indicator}"].mean())


def _closeness(ind: _ind.Indicator, value: float) -> float:
    """Larger is closer to the target (the measure falls for `reduced_by`, rises otherwise)."""
    return -value if ind.rule == "reduced_by" else value


def _open(root: Path, identity: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    path = root / MANIFEST
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            old = None
        if not isinstance(old, dict) or old.get("sha256") != digest:
            raise ScenarioError(f"{root}: --out: expected a directory made by the same what-it-takes question "
                                f"(scenario, indicator, probability, levers, scale, replications, seed); "
                                f"this one was made by another")
    else:
        text = json.dumps({"sha256": digest, **identity}, indent=1)
        atomic_write(path, lambda p: p.write_text(text))
    (root / "runs").mkdir(exist_ok=True)
    return root / "runs"


def what_it_takes(spec: ScenarioSpec, indicator: str, probability: float = 0.5, levers=LEVERS,
                  trials: int = 40, replications: int = 20, confirm_replications: int = 100, seed: int = 1,
                  out: str | Path | None = None, jobs: int = 1, progress=None) -> Answer:
    """The least-cost setting of `levers` that reaches P(`indicator` met) >= `probability` on
    `spec` (at `spec.scale`), searched over `trials` settings of `replications` runs each, and
    confirmed on `confirm_replications` fresh runs. `progress(n)`: n more settings evaluated."""
    import optuna

    ind = {i.id: i for i in _ind.indicators()}.get(indicator)
    if ind is None:
        raise ScenarioError(f"--indicator: expected one of {sorted(i.id for i in _ind.indicators())} or 'all', "
                            f"got {indicator!r}")
    levers = tuple(levers)
    bad = [x for x in levers if x not in LEVERS]
    if bad:
        raise ScenarioError(f"--levers: expected some of {', '.join(LEVERS)}, got {', '.join(bad)}")
    groups = responsible_groups(ind, spec)
    fams = families(groups) if "funds" in levers else []
    identity = {"scenario": json.loads(spec.model_dump_json()), "indicator": indicator, "probability": probability,
                "levers": list(levers), "trials": trials, "replications": replications, "seed": seed,
                "confirm_replications": confirm_replications}
    with ExitStack() as stack:
        root = Path(out) if out else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="equitysim-")))
        runs = _open(root, identity)
        results: dict[str, tuple[Setting, float]] = {}

        def evaluate(batch: list[Setting]) -> None:
            todo = [s for s in dict.fromkeys(batch) if s.key() not in results]
            exps = {s: _experiment(apply(spec, groups, fams, s), replications, seed, s.id()) for s in todo}
            pending = [(exps[s], runs / s.id()) for s in todo
                       if not (ResultStore(runs / s.id()).exists()
                               and len(ResultStore(runs / s.id()).done_chunks()) == 1)]
            if pending:
                sweep_many(pending, jobs=jobs, resume=True)
            for s in todo:
                k, n, v = _p_met(runs / s.id(), indicator)
                results[s.key()] = (s, k / n, v)
            if progress:
                progress(len(todo))

        n_g, n_f = len(groups), len(fams)
        plain = Setting((1.0,) * n_g, (0.0,) * n_g, (False,) * n_g, (1.0,) * n_f, 1.0)
        evaluate([plain])
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(4, trials // 4))
        study = optuna.create_study(direction="minimize", sampler=sampler)
        base_total = yearly_cost(spec, spec)["total"]
        asks = 0
        k0 = round(results[plain.key()][1] * replications)
        if _ind.wilson_interval(k0, replications)[0] >= probability:
            asks = 10 * trials   # the plan as written surely does it already: nothing to search
        while len(results) < trials + 1 and asks < 10 * trials:
            t = study.ask()
            asks += 1
            pick = lambda name, choices, on: t.suggest_categorical(name, choices) if on else choices[0]  # noqa: E731
            s = Setting(tuple(pick(f"effort.{g}", EFFORTS, "effort" in levers) for g in groups),
                        tuple(pick(f"earlier.{g}", EARLIER, "start" in levers) for g in groups),
                        tuple(pick(f"where.{g}", (False, True), "where" in levers) for g in groups),
                        tuple(pick(f"funds.{f}", FUNDS, True) for f in fams),
                        pick("budget", BUDGETS, "budget" in levers))
            batch_start = len(results)
            evaluate([s])
            p = results[s.key()][1]
            cost = yearly_cost(apply(spec, groups, fams, s), spec)["total"]
            t.set_constraint("p_met", probability - p)   # feasible when P(met) >= probability
            # infeasible settings are ranked by how far they fall short (cost breaks ties)
            study.tell(t, (cost - base_total) + (0.0 if p >= probability else 1e6 * (probability - p)))
            if len(results) == batch_start:   # a setting already seen: ask again
                continue
        feasible = [(s, p) for s, p, _ in results.values() if p >= probability]
        if feasible:
            best = min(feasible, key=lambda sp: (yearly_cost(apply(spec, groups, fams, sp[0]), spec)["total"], -sp[1]))[0]
            # the simplified answer first; if fresh runs do not confirm it (a setting chosen on few
            # runs can be lucky), the unsimplified one; the first confirmed, else the better of the two
            picks = list(dict.fromkeys([_simplify(best, probability, results, evaluate), best]))
        else:
            # none reaches it: the setting that comes closest (P(met), then the measured value)
            best = max(results.values(), key=lambda r: (r[1], _closeness(ind, r[2])))[0]
            picks = [best]
        confirm_seed = seed + 1_000_003
        name = f"{spec.name}_what_it_takes_{indicator}"
        sweep_many([(_experiment(spec, confirm_replications, confirm_seed, "confirm base"), root / "confirm" / "base")],
                   jobs=jobs, resume=True)
        kb, nb, vb = _p_met(root / "confirm" / "base", indicator)
        tried = []
        for s in picks:
            where = root / "confirm" / s.id()
            sweep_many([(_experiment(apply(spec, groups, fams, s, name), confirm_replications, confirm_seed,
                                     f"confirm {s.id()}"), where)], jobs=jobs, resume=True)
            tried.append((s, *_p_met(where, indicator)))
            if tried[-1][1] / tried[-1][2] >= probability:
                break
        confirmed = [t for t in tried if t[1] / t[2] >= probability]
        best, k, n, v = confirmed[0] if confirmed else max(tried, key=lambda t: t[1] / t[2])
        answer_spec = apply(spec, groups, fams, best, name)
    lo, hi = _ind.wilson_interval(k, n)
    p_met = k / n
    reached = p_met >= probability
    answer = Answer(ind, probability, reached, best, answer_spec, spec, p_met, lo, hi, kb / nb,
                    yearly_cost(answer_spec, spec), yearly_cost(spec, spec), _describe(spec, groups, fams, best),
                    len(results), [] if reached else _limits(best, levers, groups), value=v, base_value=vb)
    if out:
        from .strategist import scenario_toml

        path = Path(out) / f"{indicator}.toml"
        command = (f"equitysim run {path} -n {confirm_replications} --seed {confirm_seed} "
                   f"(scale {spec.scale:g}, as searched)")
        text = scenario_toml(answer_spec.model_copy(update={"description": "; ".join(answer.changes) or "no change"}),
                             command)
        text = text.replace("# Saved from equitysim's strategist page.",
                            f"# Found by `equitysim what-it-takes` for {indicator} (P >= {probability:g}).")
        text = text.replace("# The page's numbers: ", "# Confirmed on fresh runs, as: ")
        path.write_text(text)
        answer.scenario_file = str(path)
        (Path(out) / f"{indicator}.json").write_text(json.dumps(answer.to_json(), indent=1))
    return answer
