"""Global sensitivity analysis (SALib) and scenario discovery (PRIM), with words.

The chain follows SALib's ProblemSpec: define -> sample -> evaluate -> analyze.

    problem = problem_from_registry(["recession_prob", "backlash_rate", ...])
    X = sample(problem, "sobol", n=256, seed=1)
    Y = ...                              # one column per output, from the experiments runner
    idx = analyze(problem, "sobol", X, Y, outputs, seed=1)
    summary_sentences(idx, "sobol")      # "Recession probability explains about 41% (35-47%) ..."

The sentences are `equitysim.narrative`'s, the charts `equitysim.plots`'.

Sampling and indices are SALib's (Sobol/Saltelli, Morris, eFAST); scenario discovery uses the
`prim` package (Project Platypus' PRIM, the patient rule induction method of Friedman & Fisher
1999, which EMA Workbench also implements): it handles integer and real parameters alike and gives
the peeling trajectory (coverage vs density) that scenario discovery reports.
"""

from __future__ import annotations

import json
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from . import params as _params
from .narrative import describe_box, output_labels, summary_sentences
from .plots import plot_indices
from .schema import Strict

METHODS = ("sobol", "morris", "fast")


# ---------------------------------------------------------------- define
def problem_from_registry(names: list[str], bounds: dict[str, tuple[float, float]] | None = None) -> dict:
    """A SALib problem over registry parameters (ranges from the registry unless overridden)."""
    reg = _params.registry()
    bad = [n for n in names if n not in reg]
    if bad:
        raise KeyError(f"not in the parameter registry: {', '.join(bad)}")
    return _params.salib_problem(names, bounds)


# ---------------------------------------------------------------- sample
def sample(problem: dict, method: str, n: int, seed: int, levels: int = 4) -> np.ndarray:
    """Design points (rows) for `method`: Saltelli/Sobol' (n base samples -> n(2D+2) rows),
    Morris (n trajectories -> n(D+1) rows) or eFAST (n samples per parameter)."""
    if method == "sobol":
        from SALib.sample import sobol
        return sobol.sample(problem, n, calc_second_order=True, seed=seed)
    if method == "morris":
        from SALib.sample import morris
        return morris.sample(problem, n, num_levels=levels, seed=seed)
    if method == "fast":
        from SALib.sample import fast_sampler
        return fast_sampler.sample(problem, max(n, 65), seed=seed)
    raise ValueError(f"method must be one of {METHODS}")


def base_size(problem: dict, method: str, rows: int) -> int:
    """N (base samples or trajectories) from the number of design rows."""
    d = problem["num_vars"]
    return {"sobol": rows // (2 * d + 2), "morris": rows // (d + 1), "fast": rows // d}[method]


# ---------------------------------------------------------------- analyze
def analyze(problem: dict, method: str, X: np.ndarray, Y: pd.DataFrame, seed: int = 0,
            num_resamples: int = 500) -> pd.DataFrame:
    """Indices for every output column of Y, with SALib's bootstrap confidence intervals (95%).

    Rows: output, parameter, and S1, S1_conf, ST, ST_conf (Sobol, eFAST) or mu_star, mu_star_conf,
    sigma (Morris). Outputs that do not vary get zeros (nothing to apportion)."""
    rows = []
    for out in Y.columns:
        y = Y[out].to_numpy(float)
        if np.nanstd(y) == 0:
            for p in problem["names"]:
                rows.append({"output": out, "parameter": p, "S1": 0.0, "S1_conf": 0.0, "ST": 0.0, "ST_conf": 0.0,
                             "mu_star": 0.0, "mu_star_conf": 0.0, "sigma": 0.0, "constant": True})
            continue
        if method == "sobol":
            from SALib.analyze import sobol
            r = sobol.analyze(problem, y, calc_second_order=True, num_resamples=num_resamples, seed=seed)
            for i, p in enumerate(problem["names"]):
                rows.append({"output": out, "parameter": p, "S1": r["S1"][i], "S1_conf": r["S1_conf"][i],
                             "ST": r["ST"][i], "ST_conf": r["ST_conf"][i]})
        elif method == "morris":
            from SALib.analyze import morris
            r = morris.analyze(problem, X, y, num_resamples=num_resamples, seed=seed)
            for i, p in enumerate(problem["names"]):
                rows.append({"output": out, "parameter": p, "mu_star": r["mu_star"][i],
                             "mu_star_conf": r["mu_star_conf"][i], "sigma": r["sigma"][i]})
        elif method == "fast":
            import warnings

            from SALib.analyze import fast
            with warnings.catch_warnings():
                # SALib warns that eFAST bootstrap intervals are indicative only; docs/sensitivity.md says so.
                warnings.simplefilter("ignore", UserWarning)
                r = fast.analyze(problem, y, num_resamples=num_resamples, seed=seed)
            for i, p in enumerate(problem["names"]):
                rows.append({"output": out, "parameter": p, "S1": r["S1"][i], "S1_conf": r["S1_conf"][i],
                             "ST": r["ST"][i], "ST_conf": r["ST_conf"][i]})
        else:
            raise ValueError(method)
    df = pd.DataFrame(rows)
    if "constant" not in df:
        df["constant"] = False
    df["constant"] = df["constant"].fillna(False).astype(bool)
    return df


def second_order(problem: dict, Y: pd.Series, seed: int = 0) -> pd.DataFrame:
    """Sobol' second-order indices S2 (pairs) for one output."""
    from SALib.analyze import sobol

    r = sobol.analyze(problem, Y.to_numpy(float), calc_second_order=True, seed=seed)
    names = problem["names"]
    rows = [{"parameter_i": names[i], "parameter_j": names[j], "S2": r["S2"][i, j], "S2_conf": r["S2_conf"][i, j]}
            for i in range(len(names)) for j in range(i + 1, len(names))]
    return pd.DataFrame(rows)


def half_design(problem: dict, method: str, X: np.ndarray, Y: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """The first half of a design (N/2 base samples or trajectories), for a convergence check."""
    d = problem["num_vars"]
    block = {"sobol": 2 * d + 2, "morris": d + 1}.get(method)
    if block is None:  # eFAST samples are per parameter; halving the sample count is not a sub-design
        raise ValueError("convergence by halving is defined for sobol and morris designs")
    n = len(X) // block
    rows = (n // 2) * block
    return X[:rows], Y.iloc[:rows]


def convergence(problem: dict, method: str, X: np.ndarray, Y: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Indices at N and at N/2 side by side; `disagree` flags differences larger than the two
    confidence half-widths together (the estimate has not settled)."""
    full = analyze(problem, method, X, Y, seed)
    Xh, Yh = half_design(problem, method, X, Y)
    half = analyze(problem, method, Xh, Yh, seed)
    key = ["ST", "ST_conf"] if method != "morris" else ["mu_star", "mu_star_conf"]
    m = full.merge(half, on=["output", "parameter"], suffixes=("", "_half"))
    val, conf = key
    m["disagree"] = (m[val] - m[f"{val}_half"]).abs() > (m[conf].fillna(0) + m[f"{conf}_half"].fillna(0))
    return m[["output", "parameter", val, conf, f"{val}_half", f"{conf}_half", "disagree"]]


# ---------------------------------------------------------------- scenario discovery
def discover(X: pd.DataFrame, failed: np.ndarray, threshold: float = 0.5, peel_alpha: float = 0.05,
             min_mass: float = 0.05, min_coverage: float = 0.5) -> dict:
    """PRIM on futures where a plan fails: a box of parameter space where failure is dense, its
    coverage and density, and the peeling trajectory.

    X: one row per future (parameters); failed: 1 where the indicator was missed. The box reported
    is the densest one on the peeling trajectory that still covers `min_coverage` of all failures,
    with restrictions that are not significant (PRIM's quasi-p-value > 0.05) dropped."""
    import prim

    y = np.asarray(failed, float)
    if y.sum() == 0 or y.sum() == len(y):
        return {"box": {}, "coverage": float(y.mean() > 0), "density": float(y.mean()), "mass": 1.0,
                "trajectory": pd.DataFrame(), "base_rate": float(y.mean())}
    p = prim.Prim(X.reset_index(drop=True), y, threshold=threshold, threshold_type=">",
                  peel_alpha=peel_alpha, mass_min=min_mass)
    box = p.find_box()
    t = box.peeling_trajectory
    ok = t.index[t.coverage >= min_coverage]
    if len(ok):
        box.select(int(ok[-1]))
    for name, r in box.limits.iterrows():
        if r["qp values"] > 0.05:
            box.drop_restriction(name)
    lim = box.limits
    full = {c: (float(X[c].min()), float(X[c].max())) for c in X.columns}
    restricted = {c: (float(r["min"]), float(r["max"])) for c, r in lim.iterrows()
                  if (r["min"], r["max"]) != full.get(c)}
    traj = box.peeling_trajectory[["coverage", "density", "mass", "res dim"]].reset_index(drop=True)
    return {"box": restricted, "coverage": float(box.coverage), "density": float(box.density),
            "mass": float(box.mass), "trajectory": traj, "base_rate": float(y.mean()), "full_ranges": full}


# ---------------------------------------------------------------- the experiment (define -> sample -> evaluate)
# A sensitivity file names one scenario, the method, the parameters and the sample size; it is
# run as an experiment (equitysim.experiments: chunked, parallel, resumable Parquet store) whose
# design is the SALib sample, then analysed here.


class SensitivitySpec(Strict):
    """A sensitivity file: one scenario, the method, the parameters and the sample size."""

    name: str = Field(min_length=1)
    description: str = ""
    method: Literal["sobol", "morris", "fast"]
    scenario: str = "roadmap"
    scenarios_dir: str = "../scenarios"
    parameters: list[str] | dict[str, tuple[float, float]]
    samples: int = Field(ge=2, le=100_000, description="Sobol: base sample N; Morris: trajectories; eFAST: per parameter")
    levels: int = Field(4, ge=2, le=20, description="Morris grid levels")
    replications: int = Field(4, ge=1, le=10_000, description="runs per design point")
    seed: int = Field(0, ge=0)
    scale: float = Field(0.1, gt=0, le=20)
    chunk_size: int = Field(20, ge=1, le=100_000)
    indicators: Literal["all"] | list[str] = "all"
    continuous: bool = True


def load_sensitivity(path) -> tuple[SensitivitySpec, object]:
    """A sensitivity file and the experiment that evaluates it (one-line errors)."""
    from pathlib import Path

    from .experiments import ExperimentError, parse_experiment
    from .scenario import read_toml, validate

    p = Path(path)
    data = read_toml(p, "sensitivity", ExperimentError)
    spec = validate(SensitivitySpec, data, str(p), ExperimentError)
    from .indicators import indicators

    ids = [i.id for i in indicators()]
    if spec.indicators != "all":
        bad = [i for i in spec.indicators if i not in ids]
        if bad:
            raise ExperimentError(f"{p}: indicators: expected indicator ids (unknown: {', '.join(bad)})")
    design = {"method": "salib", "sampler": spec.method, "samples": spec.samples,
              "parameters": spec.parameters if isinstance(spec.parameters, list) else
              {k: list(v) for k, v in spec.parameters.items()}, "seed": spec.seed}
    if spec.method == "morris":
        design["options"] = {"num_levels": spec.levels}
    exp_data = {"name": spec.name, "description": spec.description, "scenarios": [spec.scenario],
                "scenarios_dir": spec.scenarios_dir, "replications": spec.replications, "seed": spec.seed,
                "scale": spec.scale, "chunk_size": spec.chunk_size, "design": design,
                "crn_across_points": True,
                # the design varies the parameters itself; the rest stay at their defaults, so each
                # output is a function of the sampled inputs (what Sobol and Morris assume)
                "parameters": "defaults",
                "outputs": {"values": spec.continuous, "risks": False, "metrics": False, "trajectories": False}}
    exp = parse_experiment(exp_data, str(p), base_dir=p.parent)
    return spec, exp


def outputs_by_point(runs: pd.DataFrame, indicators: list[str] | str = "all", continuous: bool = True) -> pd.DataFrame:
    """Per design point: P(met) of each indicator (share of its replications) and, optionally, the
    mean of the continuous measure behind it. Rows in design-point order."""
    ids = [c[4:] for c in runs if c.startswith("met.")]
    if indicators != "all":
        ids = [i for i in ids if i in indicators]
    cols = {f"p_met.{i}": runs[f"met.{i}"].astype(float) for i in ids}
    if continuous:
        cols.update({f"value.{i}": runs[f"value.{i}"] for i in ids if f"value.{i}" in runs})
    df = pd.DataFrame(cols)
    df["point"] = runs["point"].to_numpy()
    return df.groupby("point").mean().sort_index()



class SensitivityResult:
    """Indices, convergence check and sentences of one sensitivity experiment."""

    def __init__(self, spec: SensitivitySpec, problem: dict, X: np.ndarray, Y: pd.DataFrame, seed: int):
        self.spec, self.problem, self.X, self.Y = spec, problem, X, Y
        self.indices = analyze(problem, spec.method, X, Y, seed)
        self.convergence = convergence(problem, spec.method, X, Y, seed) if spec.method != "fast" else None
        self.summary = summary_sentences(self.indices, spec.method, output_labels())

    def to_json(self) -> dict:
        keep = (["output", "parameter", "mu_star", "mu_star_conf", "sigma"] if self.spec.method == "morris"
                else ["output", "parameter", "S1", "S1_conf", "ST", "ST_conf"])
        out = {"method": self.spec.method, "n": int(base_size(self.problem, self.spec.method, len(self.X))),
               "indices": json.loads(self.indices[keep].to_json(orient="records")), "summary": self.summary}
        if self.convergence is not None:
            out["converged"] = not bool(self.convergence.disagree.any())
            out["not_converged"] = json.loads(self.convergence[self.convergence.disagree][["output", "parameter"]]
                                              .to_json(orient="records"))
        return out


def run_sensitivity(path, out, jobs: int = 1, backend: str = "loky", address: str | None = None,
                    resume: bool = False, on_start=None, progress=None) -> SensitivityResult:
    """Sample, evaluate through the experiments runner (results under out/runs), analyse, and write
    indices.csv, convergence.csv, summary.json and the plots under `out`."""
    from pathlib import Path

    from .experiments import read_runs, sweep

    spec, exp = load_sensitivity(path)
    out = Path(out)
    sweep(exp, out / "runs", jobs=jobs, backend=backend, address=address, resume=resume,
          on_start=on_start, progress=progress)
    runs = read_runs(out / "runs")
    Y = outputs_by_point(runs, spec.indicators, spec.continuous)
    X = exp.design.to_numpy(float)
    problem = problem_from_registry(list(exp.design.columns),
                                    None if isinstance(spec.parameters, list) else dict(spec.parameters))
    res = SensitivityResult(spec, problem, X, Y, spec.seed)
    res.indices.to_csv(out / "indices.csv", index=False)
    if res.convergence is not None:
        res.convergence.to_csv(out / "convergence.csv", index=False)
    (out / "summary.json").write_text(json.dumps(res.to_json(), indent=1))
    for kind in ("p_met", "value"):
        part = res.indices[res.indices.output.str.startswith(f"{kind}.") & ~res.indices.constant]
        if len(part):
            plot_indices(part, spec.method, str(out / f"{spec.method}_{kind}"), output_labels())
    return res


def discover_from_results(results, scenario: str, indicator: str) -> dict:
    """Scenario discovery on an experiment's runs: where in the sampled parameter space does
    `scenario` miss `indicator`?"""
    from .experiments import ExperimentError, read_runs
    from .indicators import indicators

    runs = read_runs(results) if not isinstance(results, pd.DataFrame) else results
    if scenario not in set(runs["scenario"]):
        raise ExperimentError(f"{results}: --scenario: expected one of {', '.join(sorted(set(runs['scenario'])))}")
    if f"met.{indicator}" not in runs:
        raise ExperimentError(f"{results}: --indicator: expected an indicator id (unknown: {indicator})")
    params = [c for c in runs if c.startswith("param.")]
    if not params:
        raise ExperimentError(f"{results}: design: expected results of an experiment that varies parameters "
                              f"(this one has no design)")
    r = runs[runs.scenario == scenario]
    X = r[params].rename(columns=lambda c: c[6:]).reset_index(drop=True)
    failed = (~r[f"met.{indicator}"].astype(bool)).to_numpy(float)
    found = discover(X, failed)
    phrase = next(i.phrase for i in indicators() if i.id == indicator)
    found["sentence"] = describe_box(found, f"the {scenario.replace('_', ' ')} plan", f"its target that {phrase}")
    return found
