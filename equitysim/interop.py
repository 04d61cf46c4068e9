"""equitysim in the exploratory-modelling ecosystem: an EMA Workbench `Model` and a SALib `ProblemSpec`
built from the parameter registry.

    from ema_workbench import perform_experiments
    from equitysim.interop import ema_model

    model = ema_model("scenarios/roadmap.toml", replications=20, scale=0.1)
    experiments, outcomes = perform_experiments(model, scenarios=50)

Each EMA experiment is one ensemble (`equitysim.ensemble.run`) of the scenario with the experiment's
parameter values applied (`ScenarioSpec.with_parameters`), always under the same master seed: common
random numbers across experiments, so two experiments differ only by their parameter values and
the same experiment always gives the same outcomes. Outcomes (all `ScalarOutcome`, names are Python
identifiers as EMA Workbench 3.0 requires):

- `p_met_<indicator id>`: the share of replications meeting the indicator (`summary().p_met`),
- `expected_met`: the expected number of indicators met (`expected_met()`),
- `metric_<name>`: the mean of each metric at the end of the run, year 10 (`metrics()`).

EMA Workbench is an optional extra (`pip install 'equitysim[ema]'`) imported only when
`ema_model` is called; SALib is a core dependency. See docs/interop.md.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from pathlib import Path

from . import params as _params

# Units of registry parameters that the model reads as whole numbers (it rounds them, or compares a
# quarter counter with them): EMA Workbench samples these as IntegerParameter, the rest as real.
# ("students", the reference enrollment of a medium district, is a divisor, so it stays real.)
INTEGER_UNITS = ("quarters", "districts")

_MISSING_EMA = ("equitysim.interop.ema_model needs EMA Workbench 3.0: "
                "pip install 'equitysim[ema]' (or: pip install 'ema_workbench>=3.0')")


class InteropError(ValueError):
    """A bad argument to `ema_model` or `salib_problem_spec`; str(err) is one line."""


def is_integer(p: _params.Param) -> bool:
    """Whether a registry parameter takes whole-number values (its unit is quarters or a count)."""
    return p.unit in INTEGER_UNITS


def default_parameters(scenario=None) -> list[str]:
    """The registry parameters the default experiment design varies (`design_parameters` with no
    names): all but the world-synthesis ones, the structural constants (group `structural`) and those
    `scenario` fixes in its `[parameters]`."""
    from .experiments.spec import Design, design_parameters

    return list(design_parameters(Design(method="lhs", samples=1), [scenario] if scenario is not None else []))


def parameter_ranges(parameters: Iterable[str] | Mapping[str, tuple[float, float]] | None = None,
                     scenario=None) -> dict[str, tuple[float, float]]:
    """{name: (low, high)}: the registry ranges of `parameters` (a list of names), or the given
    ranges (a table name -> (low, high) within the registry's), or the default design's parameters.
    Raises InteropError naming the first bad name or range."""
    reg = _params.registry()
    if parameters is None:
        return {n: (reg[n].low, reg[n].high) for n in default_parameters(scenario)}
    if isinstance(parameters, str):
        parameters = [x.strip() for x in parameters.split(",") if x.strip()]
    names = list(parameters)
    if not names:
        raise InteropError("parameters: expected at least one registry parameter name")
    unknown = [n for n in names if n not in reg]
    if unknown:
        raise InteropError(f"parameters: expected registry parameter names (unknown: {', '.join(unknown)}; "
                           f"see `equitysim params`)")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InteropError(f"parameters: expected each parameter once (repeated: {', '.join(dup)})")
    if not isinstance(parameters, Mapping):
        return {n: (reg[n].low, reg[n].high) for n in names}
    out = {}
    for n, bounds in parameters.items():
        p = reg[n]
        try:
            lo, hi = (float(x) for x in bounds)
        except (TypeError, ValueError):
            raise InteropError(f"parameters.{n}: expected a (low, high) pair of numbers, got {bounds!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise InteropError(f"parameters.{n}: expected (low, high) with low < high, got ({lo:g}, {hi:g})")
        if lo < p.low or hi > p.high:
            raise InteropError(f"parameters.{n}: expected a range within the registry's [{p.low:g}, {p.high:g}], "
                               f"got ({lo:g}, {hi:g})")
        out[n] = (lo, hi)
    return out


def outcome_names() -> list[str]:
    """The names of every outcome `ema_model` can report, in order."""
    from . import indicators as _ind

    return ([f"p_met_{i.id}" for i in _ind.indicators()] + ["expected_met"]
            + [f"metric_{k}" for k in _ind.TRAJECTORY_METRICS])


def ensemble_outcomes(result) -> dict[str, float]:
    """Every `outcome_names()` value of an `EnsembleResult`."""
    out = {f"p_met_{r.id}": float(r.p_met) for r in result.summary().itertuples()}
    out["expected_met"] = result.expected_met()
    out.update({f"metric_{k}": v for k, v in result.metrics().items()})
    return out


class EnsembleFunction:
    """The callable an EMA `Model` runs: keyword parameter values in, outcomes out. A module-level
    class (not a closure) so that EMA's MultiprocessingEvaluator can pickle it."""

    def __init__(self, spec, replications: int, seed: int, outcomes: list[str], integers: Iterable[str] = (),
                 jobs: int = 1):
        self.spec = spec
        self.replications = int(replications)
        self.seed = int(seed)
        self.outcomes = list(outcomes)
        self.integers = frozenset(integers)
        self.jobs = int(jobs)

    def scenario(self, **values) -> object:
        """The scenario with these parameter values applied (integer parameters rounded)."""
        reg = _params.registry()
        unknown = [k for k in values if k not in reg]
        if unknown:
            raise InteropError(f"expected registry parameter names (unknown: {', '.join(unknown)})")
        return self.spec.with_parameters(**{k: float(round(v)) if k in self.integers else float(v)
                                            for k, v in values.items()})

    def __call__(self, **values) -> dict[str, float]:
        from .ensemble import run

        result = run(self.scenario(**values), replications=self.replications, seed=self.seed, jobs=self.jobs)
        every = ensemble_outcomes(result)
        return {k: every[k] for k in self.outcomes}


def _identifier(text: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in text)
    return out if out.isidentifier() else f"m_{out}"


def ema_model(scenario, outcomes: Iterable | None = None, replications: int = 50, scale: float | None = None,
              seed: int = 1, parameters: Iterable[str] | Mapping[str, tuple[float, float]] | None = None,
              name: str | None = None, jobs: int = 1):
    """An EMA Workbench 3.0 `Model` whose function runs an ensemble of `scenario`.

    scenario: a ScenarioSpec or the path of a scenario file. outcomes: outcome names (see
    `outcome_names()`; EMA `ScalarOutcome`s with those names are kept as given, e.g. with
    kind=MAXIMIZE), default all. replications: runs per experiment. scale: world scale (default: the
    scenario's). seed: the master seed every experiment uses (common random numbers). parameters: the
    uncertainties, as registry names (registry ranges) or {name: (low, high)} within the registry's;
    default the default experiment design's (`default_parameters`). Parameters whose unit is quarters
    or a count are IntegerParameter, the rest RealParameter. jobs: worker processes per ensemble
    (keep 1 under EMA's MultiprocessingEvaluator). Bad arguments raise InteropError (one line).
    """
    try:
        from ema_workbench import IntegerParameter, Model, RealParameter, ScalarOutcome
    except ImportError:
        raise ImportError(_MISSING_EMA) from None
    from .scenario import ScenarioSpec, load_scenario

    if isinstance(scenario, (str, Path)):
        spec = load_scenario(scenario)
    elif isinstance(scenario, ScenarioSpec):
        spec = scenario
    else:
        raise InteropError(f"scenario: expected a ScenarioSpec or a scenario file path, got {type(scenario).__name__}")
    if scale is not None:
        if isinstance(scale, bool) or not (isinstance(scale, numbers.Real) and 0 < scale <= 20):
            raise InteropError(f"scale: expected a number in (0, 20], got {scale!r}")
        spec = spec.model_copy(update={"scale": float(scale)})
    if isinstance(replications, bool) or not (isinstance(replications, numbers.Integral) and replications >= 1):
        raise InteropError(f"replications: expected an integer >= 1, got {replications!r}")
    if isinstance(seed, bool) or not (isinstance(seed, numbers.Integral) and seed >= 0):
        raise InteropError(f"seed: expected an integer >= 0, got {seed!r}")

    known = outcome_names()
    chosen: list = list(known) if outcomes is None else list(outcomes)
    if not chosen:
        raise InteropError("outcomes: expected at least one outcome name")
    wanted = [o.name if isinstance(o, ScalarOutcome) else o for o in chosen]
    bad = [str(o) for o in wanted if o not in known]
    if bad:
        raise InteropError(f"outcomes: expected names from equitysim.interop.outcome_names() "
                           f"(unknown: {', '.join(bad)})")

    reg = _params.registry()
    ranges = parameter_ranges(parameters, spec)
    uncertainties, integers = [], []
    for n, (lo, hi) in ranges.items():
        if is_integer(reg[n]):
            ilo, ihi = math.ceil(lo), math.floor(hi)
            if ilo >= ihi:
                raise InteropError(f"parameters.{n}: expected a range holding two whole numbers, got ({lo:g}, {hi:g})")
            uncertainties.append(IntegerParameter(n, ilo, ihi))
            integers.append(n)
        else:
            uncertainties.append(RealParameter(n, lo, hi))

    fn = EnsembleFunction(spec, replications, seed, wanted, integers, jobs)
    model = Model(_identifier(name or f"equitysim_{spec.name}"), function=fn)
    model.uncertainties = uncertainties
    model.outcomes = [o if isinstance(o, ScalarOutcome) else ScalarOutcome(o) for o in chosen]
    return model


def salib_problem_spec(names: Iterable[str] | str | None = None):
    """A SALib `ProblemSpec` over registry parameters with their distributions (uniform, or
    triangular peaked at the default: `params.salib_problem`). names: a list (or comma-separated
    string) of registry names; default the default experiment design's parameters. Unknown names
    raise InteropError (one line)."""
    from SALib import ProblemSpec

    return ProblemSpec(salib_problem_dict(names))


def salib_problem_dict(names: Iterable[str] | str | None = None) -> dict:
    """The plain dict behind `salib_problem_spec` (what `equitysim params --salib` prints as JSON)."""
    return _params.salib_problem(list(parameter_ranges(names)))
