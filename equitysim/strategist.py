"""The strategist's page without its widgets: compose a plan from a base scenario, run many
futures of it paired with the base, and say what changed.

- `scenario_files`, `scenario_file`: the page's scenarios are the *.toml files of one directory,
  chosen by name from that list; no path typed or sent by a browser is ever opened.
- `draft_from`, `compose`: a draft (the base's sequence and strategy as plain values the page
  edits) becomes a `ScenarioSpec` through the loader's own validator (`scenario.parse_scenario`),
  so a composed plan passes the same schema as a file, with the same one-line messages.
- `scenario_toml`: the composed plan as a scenario file (`equitysim validate` accepts it, and
  `equitysim run FILE -n N --seed S` reproduces the page's numbers).
- `RunGuard`: at most one ensemble at a time per server, at most one Run waiting, a cap on
  futures; the rest are refused with a message.
- `run_paired`: the base's futures (cached per server) and the plan's, through
  `equitysim.ensemble.run`, with the same seed (common random numbers); `paired_differences`,
  `risk_table`, `plan_cost_by_level` and `sentences` read the two results.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd

from . import indicators as _ind
from .actions import WHERE, default_catalogue
from .scenario import ScenarioError, ScenarioSpec, Strategy, load_scenario, parse_scenario

DEFAULT_FUTURES = 100
DEFAULT_SEED = 1
JOBS = 2
SCALES = ("1.0", "0.25", "0.1", "0.05")
SOURCE = "strategist page"   # how validation messages name a composed plan


class PageInputError(ValueError):
    """Bad input on the page; str(err) is one line naming the field and what was expected."""


class Busy(RuntimeError):
    """Another ensemble is running on this server (and one Run already waits for it)."""


# ---------------------------------------------------------------------------- scenario files
def scenario_dir() -> Path:
    """$EQUITYSIM_SCENARIOS, else the repository's scenarios/ (beside the package), else ./scenarios."""
    env = os.environ.get("EQUITYSIM_SCENARIOS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[1] / "scenarios"
    return here if here.is_dir() else Path.cwd() / "scenarios"


@cache
def scenario_files(directory: str | None = None) -> dict[str, Path]:
    """Name (file stem) -> file, for the *.toml files directly inside the scenarios directory."""
    d = Path(directory) if directory else scenario_dir()
    files = {p.stem: p for p in sorted(d.glob("*.toml")) if p.is_file()}
    if not files:
        raise FileNotFoundError(f"{d}: expected scenario files (*.toml); set EQUITYSIM_SCENARIOS")
    return files


def scenario_file(name, directory: str | None = None) -> Path:
    """The file of the scenario called `name`, which must be one of the listed names: a path
    ("../../etc/passwd", "/etc/passwd", "roadmap.toml") is not a name and is refused. A listed
    file that resolves outside the directory (a symbolic link) is refused too."""
    files = scenario_files(directory)
    if not isinstance(name, str) or name not in files:
        shown = name if isinstance(name, str) else type(name).__name__
        raise PageInputError(f"base scenario: expected one of {', '.join(files)}, got {shown!r}")
    path = files[name]
    root = (Path(directory) if directory else scenario_dir()).resolve()
    if path.resolve().parent != root:
        raise PageInputError(f"base scenario: expected a file inside {root}, got {name!r} (it links elsewhere)")
    return path


def base_spec(name, directory: str | None = None) -> ScenarioSpec:
    return load_scenario(scenario_file(name, directory))


# ---------------------------------------------------------------------------- composing a plan
def draft_from(spec: ScenarioSpec) -> dict:
    """What the page edits, as plain values: the plan's name, its strategy knobs and its
    sequence (group, start_year, end_year or None, intensity, where; targets carried as is)."""
    return {
        "name": f"{spec.name}_edited",
        "strategy": spec.strategy.model_dump(),
        "sequence": [{"group": e.group, "start_year": e.start_year, "end_year": e.end_year,
                      "intensity": e.intensity, "where": e.where, "targets": dict(e.targets)}
                     for e in spec.sequence],
    }


def compose(base: ScenarioSpec, draft: dict, scale: float | None = None) -> ScenarioSpec:
    """The base with the draft's name, strategy and sequence (and the page's world scale),
    validated by the scenario files' own schema; ScenarioError with one line otherwise
    ('strategist page: sequence.3 (state_funding_bills): end_year: expected ...')."""
    data = base.model_dump(mode="json", exclude_none=True)
    data["name"] = draft.get("name", "")
    data["description"] = describe_changes(base, draft)
    data["strategy"] = {k: v for k, v in draft.get("strategy", {}).items() if v is not None}
    seq = []
    for e in draft.get("sequence", []):
        entry = {k: v for k, v in e.items() if v is not None and not (k == "targets" and not v)}
        seq.append(entry)
    data["sequence"] = seq
    if scale is not None:
        data["scale"] = scale
    try:
        return parse_scenario(data, SOURCE)
    except ScenarioError as err:
        raise ScenarioError(_name_entry(str(err), seq)) from None


def _name_entry(message: str, seq: list[dict]) -> str:
    """'sequence.3.end_year' -> 'sequence.3 (group).end_year', so the message names the bar."""
    m = re.match(rf"^{SOURCE}: sequence\.(\d+)", message)
    if not m or int(m.group(1)) >= len(seq):
        return message
    return message[:m.end()] + f" ({seq[int(m.group(1))].get('group', '?')})" + message[m.end():]


def describe_changes(base: ScenarioSpec, draft: dict) -> str:
    """One line: what the draft changes from the base (the saved file's description)."""
    changes = []
    default = Strategy().model_dump()
    for k, v in draft.get("strategy", {}).items():
        old = getattr(base.strategy, k, default.get(k))
        if v != old:
            changes.append(f"{k} {old} -> {v}")
    before = {e.group: e for e in base.sequence}
    now = {e["group"]: e for e in draft.get("sequence", [])}
    for g, e in now.items():
        b = before.get(g)
        if b is None:
            changes.append(f"{g} added")
            continue
        for k in ("start_year", "end_year", "intensity", "where"):
            if e.get(k) != getattr(b, k):
                changes.append(f"{g} {k} {getattr(b, k)} -> {e.get(k)}")
    changes += [f"{g} removed" for g in before if g not in now]
    text = f"Composed on the strategist's page from {base.name}"
    return text + (": " + "; ".join(changes) + "." if changes else " (no changes).")


def scenario_toml(spec: ScenarioSpec, command: str | None = None) -> str:
    """`spec` as a scenario file that loads back to the same `ScenarioSpec`, laid out like the
    shipped ones (top-level fields, [strategy], then one [[sequence]] table per bar), with a
    comment saying how it was made and the command that reproduces the page's numbers."""
    import tomli_w

    parts = ["# Saved from equitysim's strategist page.\n"]
    if command:
        parts.append(f"# The page's numbers: {command}\n")
    parts.append("# Years are counted from the start of the campaign (0 = start of year 1).\n\n")
    parts.append(tomli_w.dumps({"name": spec.name, "description": spec.description, "years": spec.years,
                                "scale": spec.scale, "world_seed": spec.world_seed}))
    parts.append("\n[strategy]\n" + tomli_w.dumps(spec.strategy.model_dump(mode="json", exclude_none=True)))
    if spec.parameters:
        parts.append("\n[parameters]\n" + tomli_w.dumps(dict(spec.parameters)))
    if spec.uncertainty:
        parts.append("\n[uncertainty]\n" + tomli_w.dumps({k: list(v) for k, v in spec.uncertainty.items()}))
    for ev in spec.events:
        parts.append("\n[[events]]\n" + tomli_w.dumps(ev.model_dump(mode="json")))
    for e in spec.sequence:
        entry = {"group": e.group, "start_year": e.start_year,
                 **e.model_dump(mode="json", exclude_none=True, exclude_defaults=True,
                                exclude={"group", "start_year", "targets"})}
        text = tomli_w.dumps(entry)
        if e.targets:  # an inline table: a [targets] header here would mean a top-level table
            text += "targets = { " + ", ".join(tomli_w.dumps({k: v}).strip() for k, v in e.targets.items()) + " }\n"
        parts.append("\n[[sequence]]\n" + text)
    return "".join(parts)


def saved_name(spec: ScenarioSpec) -> str:
    """A file name for the download: the plan's name with anything but letters, digits, '-' and
    '_' replaced."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in spec.name).strip("_") or "plan"
    return f"{safe[:60]}.toml"


def where_choices() -> tuple[str, ...]:
    return ("default", *WHERE)


def group_label(group: str) -> str:
    return default_catalogue().groups.get(group, group)


# ---------------------------------------------------------------------------- one run at a time
class RunGuard:
    """At most one ensemble at a time on this server, at most `max_waiting` callers waiting for
    it, and at most `max_futures` futures per ensemble. `claim` refuses the rest at once with a
    `Busy` (one line saying what is running), so Runs never pile up."""

    def __init__(self, max_futures: int = 1000, max_waiting: int = 1):
        self.max_futures = max_futures
        self.max_waiting = max_waiting
        self._cond = threading.Condition()
        self._running: str | None = None
        self._waiting = 0
        self.done = 0     # futures finished by the holder (for a waiter's message)
        self.total = 0

    def check_futures(self, futures) -> int:
        if isinstance(futures, bool) or not isinstance(futures, int) or not 1 <= futures <= self.max_futures:
            raise PageInputError(f"futures: expected a whole number from 1 to {self.max_futures}, got {futures!r}")
        return futures

    @property
    def running(self) -> str | None:
        return self._running

    def describe(self) -> str:
        return f"{self._running} ({self.done} of {self.total} futures done)" if self._running else "nothing"

    @contextmanager
    def claim(self, futures: int, what: str, wait: float = 0.0):
        """Hold the server's one ensemble slot while the block runs. If it is taken, wait up to
        `wait` seconds when no one else is waiting; otherwise raise Busy."""
        self.check_futures(futures)
        with self._cond:
            if self._running is not None:
                if wait <= 0 or self._waiting >= self.max_waiting:
                    raise Busy(f"Another run is in progress on this server: {self.describe()}. "
                               "This one was not started; press Run again when it has finished.")
                self._waiting += 1
                try:
                    deadline = time.monotonic() + wait
                    while self._running is not None:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise Busy(f"Waited {wait:g} s for the run in progress ({self.describe()}); "
                                       "this one was not started.")
                        self._cond.wait(left)
                finally:
                    self._waiting -= 1
            self._running, self.done, self.total = what, 0, futures
        try:
            yield self
        finally:
            with self._cond:
                self._running = None
                self._cond.notify_all()


def _max_futures() -> int:
    try:
        return max(1, int(os.environ.get("EQUITYSIM_APP_MAX_FUTURES", "1000")))
    except ValueError:
        return 1000


GUARD = RunGuard(_max_futures())


# ---------------------------------------------------------------------------- running
_BASE_CACHE: OrderedDict = OrderedDict()
_CACHE_LOCK = threading.Lock()
BASE_CACHE_SIZE = 6


def _key(spec: ScenarioSpec, futures: int, seed: int) -> tuple:
    from .resultsets import spec_hash

    return spec_hash(spec), futures, seed


def cached_base(spec: ScenarioSpec, futures: int, seed: int):
    with _CACHE_LOCK:
        return _BASE_CACHE.get(_key(spec, futures, seed))


def _remember(spec, futures, seed, result):
    with _CACHE_LOCK:
        _BASE_CACHE[_key(spec, futures, seed)] = result
        while len(_BASE_CACHE) > BASE_CACHE_SIZE:
            _BASE_CACHE.popitem(last=False)


def run_futures(spec: ScenarioSpec, futures: int, seed: int, progress: Callable[[int], None] | None = None,
                jobs: int = JOBS):
    """`futures` replications of `spec` through the CLI's ensemble code (`equitysim run`, which
    draws each future's parameters from the shipped posterior, as here)."""
    from .ensemble import run
    from .posterior import shipped

    return run(spec, replications=futures, seed=seed, jobs=jobs, progress=progress, parameters=shipped())


def prepare_base(base: ScenarioSpec, futures: int, seed: int, guard: RunGuard = GUARD,
                 progress: Callable[[str, int, int], None] | None = None, jobs: int = JOBS):
    """Run the base's futures now if the server is free (cached; a later Run reuses them).
    Returns the result, or None when another run holds the server (nothing is queued)."""
    hit = cached_base(base, futures, seed)
    if hit is not None:
        return hit
    try:
        with guard.claim(futures, f"{futures} futures of {base.name} (base)"):
            return _run_base(base, futures, seed, guard, progress, jobs)
    except Busy:
        return None


def _run_base(base, futures, seed, guard, progress, jobs):
    hit = cached_base(base, futures, seed)
    if hit is not None:
        return hit
    result = run_futures(base, futures, seed, _ticker(guard, progress, f"base scenario {base.name}", futures), jobs)
    _remember(base, futures, seed, result)
    return result


def _ticker(guard: RunGuard, progress, label: str, futures: int) -> Callable[[int], None]:
    """A progress callback for `ensemble.run`: counts finished futures into the guard (what the
    page's bar reads) and reports them as (label, done, total)."""
    done = [0]

    def tick(n):
        done[0] += n
        guard.done = done[0]
        if progress:
            progress(label, done[0], futures)

    return tick


@dataclass
class Outcome:
    """A Run's answer: the plan's and the base's futures (same seed, same keys) and timings."""

    plan: ScenarioSpec
    base: ScenarioSpec
    plan_result: object
    base_result: object
    futures: int
    seed: int
    seconds: float
    base_was_cached: bool
    waited: float = 0.0
    extra: dict = field(default_factory=dict)


def run_paired(plan: ScenarioSpec, base: ScenarioSpec, futures: int, seed: int, guard: RunGuard = GUARD,
               progress: Callable[[str, int, int], None] | None = None, wait: float = 600.0,
               jobs: int = JOBS) -> Outcome:
    """The plan's futures and the base's (cached per server), paired by seed and key."""
    t0 = time.perf_counter()
    if plan.scale != base.scale:
        raise PageInputError(f"scale: expected the plan and the base at one world scale, got {plan.scale} and {base.scale}")
    with guard.claim(futures, f"{futures} futures of {plan.name}", wait=wait):
        waited = time.perf_counter() - t0
        cached = cached_base(base, futures, seed) is not None
        base_result = _run_base(base, futures, seed, guard, progress, jobs)
        guard.done, guard.total = 0, futures
        plan_result = run_futures(plan, futures, seed, _ticker(guard, progress, f"your plan {plan.name}", futures), jobs)
    return Outcome(plan, base, plan_result, base_result, futures, seed, time.perf_counter() - t0, cached, waited)


# ---------------------------------------------------------------------------- reading the answer
def paired_differences(plan_result, base_result) -> pd.DataFrame:
    """Per indicator: P(met) under the plan and the base over the same futures, their paired
    difference and its 95% Newcombe interval (`experiments.statistics.compare` on the two runs
    tables, keyed by replication)."""
    from .experiments.statistics import compare

    frames = []
    for label, r in (("plan", plan_result), ("base", base_result)):
        df = r.runs[["key", *[c for c in r.runs if c.startswith("met.")]]].copy()
        df.insert(0, "scenario", label)
        df["point"] = 0
        df["replication"] = df.pop("key")
        frames.append(df)
    out = compare(pd.concat(frames, ignore_index=True), baseline="base")
    inds = {i.id: i for i in _ind.indicators()}
    out.insert(1, "label", [inds[i].label for i in out["indicator"]])
    out.insert(2, "horizon_year", [inds[i].horizon_year for i in out["indicator"]])
    return out.drop(columns=["scenario"])


def risk_table(plan_result, base_result) -> pd.DataFrame:
    """Mean risk events per future under the plan and the base."""
    p, b = plan_result.risks(), base_result.risks()
    return pd.DataFrame([{"risk": k.replace("_", " "), "plan": p[k], "base": b[k]} for k in p])


LEVELS = ("federal", "state", "local", "support")


def plan_cost_by_level(spec: ScenarioSpec) -> dict[str, dict[str, float]]:
    """Planned cost of the plan by level, in $M a year, from the compiled plan and the
    catalogue's `cost_musd`: federal actions at their national cost while their group is on;
    state rows at the per-state cost times the states they aim for (at most those they apply
    to); local rows at the per-district cost times the districts they aim for (scaled with the
    world); support actions (organizing, coalition, data, messaging) at their national cost.
    A row counts from its first possible quarter to its end, before any risk: the plan as
    scheduled, not what the simulated futures spend. Returns level -> {"mean": mean over the
    horizon, "peak": the highest year}.

    Small on purpose: an `equitysim cost` command can replace it."""
    import numpy as np

    from .model import world_for
    from .plan import compile_plan

    cat = default_catalogue()
    plan = compile_plan(spec, cat, world_for(spec))
    n_q = plan.n_q
    q = np.arange(n_q)
    by = {lv: np.zeros(n_q) for lv in LEVELS}
    for i, a in enumerate(cat.federal_actions):
        by["federal"] += a.cost_musd * ((plan.fed_start[i] <= q) & (q < plan.fed_end[i]))
    for rows, level in ((plan.state_rows, "state"), (plan.local_rows, "local")):
        for r in rows:
            count = min(r.target, float(np.count_nonzero(r.mask))) if level == "state" else r.target
            by[level] += r.action.cost_musd * count * ((r.start_q <= q) & (q < r.end_q))
    by["support"] += plan.cost_by_quarter[:n_q]
    out = {}
    for lv, arr in by.items():
        yearly = arr[: spec.years * 4].reshape(spec.years, 4).mean(1)
        out[lv] = {"mean": float(yearly.mean()), "peak": float(yearly.max())}
    return out


def sentences(outcome: Outcome, diffs: pd.DataFrame | None = None, k: int = 3) -> list[str]:
    """Two or three sentences: the headline comparison (`narrative.headlines` on the two
    results) and the indicator whose chance the plan changes most beyond noise (paired)."""
    from .narrative import capitalize, headlines, indicator_body, scenario_phrase

    labels = result_labels(outcome)
    out = headlines({labels[0]: outcome.plan_result, labels[1]: outcome.base_result}, k=2)[:2]
    d = paired_differences(outcome.plan_result, outcome.base_result) if diffs is None else diffs
    real = d[(d.ci_low > 0) | (d.ci_high < 0)]
    n = outcome.futures
    inds = {i.id: i for i in _ind.indicators()}
    if len(real):
        row = real.loc[real["diff"].abs().idxmax()]
        verb = "raises" if row["diff"] > 0 else "lowers"
        out.append(f"Paired future by future with {scenario_phrase(outcome.base.name)} ({n} futures, the same "
                   f"seeds), the plan {verb} the chance that {indicator_body(inds[row.indicator], outcome.plan.scale)} "
                   f"by {abs(row['diff']) * 100:.0f} percentage points (95% interval {row.ci_low * 100:+.0f} to "
                   f"{row.ci_high * 100:+.0f}).")
    else:
        out.append(capitalize(f"in {n} paired futures no indicator's chance differs from {scenario_phrase(outcome.base.name)} "
                              "beyond simulation noise (every 95% interval includes zero)."))
    return out[:k]


def result_labels(outcome: Outcome) -> tuple[str, str]:
    """Names for the plan and the base in charts and sentences (told apart if equal)."""
    plan, base = outcome.plan.name, outcome.base.name
    return (plan if plan != base else f"{plan} (edited)"), base


def reproduce_command(spec: ScenarioSpec, futures: int, seed: int, jobs: int = JOBS) -> str:
    return f"equitysim run {saved_name(spec)} -n {futures} --seed {seed} --jobs {jobs} --json"
