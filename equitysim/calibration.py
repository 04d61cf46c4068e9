"""Calibration to history: history matching with Gaussian-process emulators (scikit-learn), run
through the experiments runner, ending in a posterior sample of the calibrated parameters.

Experiment layer: this module runs the core model (through `experiments.sweep`) and never changes
it. A calibration file (TOML, validated like an experiment file, one-line errors) names

* the parameters to calibrate; their priors are the registry's ranges and distributions (uniform,
  or triangular peaked at the default);
* the targets: a statistic of the no-action run (`validation.trace`: reforms, integration plans,
  discipline laws, superintendent exits, party changes, recessions, indices), the historical value
  (computed from a file in `data/history/`, the arithmetic beside it), its observation sd, a
  model-discrepancy sd, and whether it is held out of the fit;
* the waves (points per wave and the implausibility cutoff after it: the tolerance schedule), the
  replications per point, and the size of the posterior sample.

The method (history matching, Vernon, Goldstein & Bower 2010; Andrianakis et al. 2015):

1. wave 1 runs a Latin hypercube over the prior; each later wave runs points drawn from the prior
   and kept only where the emulators of all earlier waves find them not implausible;
2. after each wave one GP emulator per fitted target is trained on every point so far (inputs
   scaled to [0, 1] over the prior ranges; kernel constant x anisotropic RBF + white noise);
3. implausibility of x for target j: I_j(x) = |z_j - E[f_j(x)]| / sqrt(sd_j^2 + d_j^2 + V_em,j(x)),
   with E[f] the model's expected statistic (the emulator's mean over replications), V_em the
   emulator's variance of that mean, sd_j the sampling uncertainty of the historical figure as an
   estimate of the underlying rate (Poisson or binomial counting noise over the historical period,
   which is the chance part of history) and d_j the model discrepancy; x is not implausible when
   max_j I_j(x) < cutoff. The run-to-run variance of one ten-year run is not added: history's
   figures are rates over 9 to 75 years, whose chance part sd_j already is;
4. the posterior: a large prior sample, restricted to the final not-implausible region and
   weighted by exp(-sum_j I_j^2 / 2) (a Gaussian likelihood through the emulator), resampled to
   equal weights (systematic resampling, seeded);
5. the check: a posterior-predictive ensemble (one run per posterior draw) gives each target's
   5-95% interval, for the fitted and the held-out targets alike.

Every simulation is a chunk of an experiment in `OUT/wave-K` or `OUT/check` (the experiments
runner: parallel, resumable, identical on any number of workers); the emulators and samples are
seeded, so the same file and seed give the same posterior whatever `--jobs`. Rerunning the same
command resumes: finished chunks are read back, not rerun.
"""

from __future__ import annotations

import json
import subprocess
import time
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from . import params as _params
from .experiments import Design, Experiment, ExperimentError, make_design, parse_experiment, read_runs, sweep
from .experiments.store import atomic_write, package_versions
from .model import WORLD_PARAMS
from .scenario import load_scenario, read_toml, validate
from .schema import Strict

# The statistics `validation.trace` returns (what a target may name).
STATISTICS = ("sfr_per_year", "sfr_share_states", "rj_laws_per_year", "integration_starts_per_year",
              "restorative_starts_per_year", "superintendent_exit_3yr", "superintendent_ratio_minority",
              "seg_drift_pct_per_year", "seg_within_drift_pct_per_year", "suspension_ratio_change_pct",
              "recessions_per_year", "governor_changes_per_election")
POSTERIOR_FILE = "posterior.csv"
SUMMARY_FILE = "calibration.json"


class CalibrationError(ExperimentError):
    """A bad calibration file or results directory; str(err) is one line."""


def history_dir() -> Path:
    return Path(__file__).resolve().parent / "data" / "history"


class Target(Strict):
    statistic: str
    value: float
    sd: float = Field(gt=0)                 # observation uncertainty of `value`
    discrepancy: float = Field(0.0, ge=0)   # model-discrepancy sd (what the model cannot represent)
    held_out: bool = False
    series: str = Field(min_length=1)       # the file in data/history/ the value comes from
    band: tuple[float, float] | None = None  # plausible band; default value +- 2 sd
    note: str = ""

    @field_validator("statistic")
    @classmethod
    def _known(cls, v):
        if v not in STATISTICS:
            raise ValueError(f"one of the traced statistics ({', '.join(STATISTICS)})")
        return v

    @field_validator("series")
    @classmethod
    def _exists(cls, v):
        if not (history_dir() / v).is_file():
            have = sorted(p.name for p in history_dir().glob("*.csv"))
            raise ValueError(f"a file in equitysim/data/history/ ({', '.join(have)})")
        return v

    @model_validator(mode="after")
    def _band(self):
        if self.band is not None and not (self.band[0] <= self.value <= self.band[1]):
            raise ValueError("@band|[low, high] around value")
        return self

    @property
    def low(self) -> float:
        return self.band[0] if self.band else self.value - 2 * self.sd

    @property
    def high(self) -> float:
        return self.band[1] if self.band else self.value + 2 * self.sd


class Wave(Strict):
    points: int = Field(ge=2, le=5000)
    cutoff: float = Field(gt=0, le=100)     # implausibility cutoff applied after this wave


class Emulator(Strict):
    restarts: int = Field(2, ge=0, le=20)   # optimizer restarts of each GP fit
    candidates: int = Field(20000, ge=100, le=1_000_000)  # prior draws screened per wave


class PosteriorSpec(Strict):
    size: int = Field(500, ge=10, le=20000)
    check_runs: int = Field(100, ge=10, le=20000)   # posterior-predictive runs (one per draw)
    # The registry parameters that were not calibrated: "prior" draws each from its registry prior
    # (history does not constrain them, so they keep their priors: effect sizes, political rates),
    # independently of the calibrated draws, into the shipped sample; "defaults" leaves them out
    # (every run then holds them at their defaults). Groups in `fixed_groups` (and the parameters
    # that rebuild the world) always stay at their defaults.
    others: Literal["prior", "defaults"] = "prior"
    fixed_groups: list[str] = ["world"]

    @field_validator("fixed_groups")
    @classmethod
    def _groups(cls, v):
        known = {p.group for p in _params.registry().values()}
        bad = [g for g in v if g not in known]
        if bad:
            raise ValueError(f"registry groups ({', '.join(sorted(known))}); unknown: {bad[0]}")
        return v


class CalibrationSpec(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    method: Literal["history_matching"] = "history_matching"
    scenario: str = "no_action"
    scenarios_dir: str = "../scenarios"
    seed: int = Field(ge=0)
    scale: float = Field(0.1, gt=0, le=20)
    years: int = Field(10, ge=3, le=20)
    replications: int = Field(2, ge=1, le=1000)   # per design point
    chunk_size: int = Field(10, ge=1, le=100_000)
    parameters: list[str]
    targets: dict[str, Target]
    waves: list[Wave]
    emulator: Emulator = Emulator()
    posterior: PosteriorSpec = PosteriorSpec()

    @field_validator("parameters")
    @classmethod
    def _params(cls, v):
        if not v or len(set(v)) != len(v):
            raise ValueError("a non-empty list of distinct registry parameter names")
        reg = _params.registry()
        for k in v:
            if k not in reg:
                raise ValueError(f"registry parameter names (unknown: {k}; see `equitysim params`)")
            if k in WORLD_PARAMS:
                raise ValueError(f"parameters that do not rebuild the world ({k} is a world-synthesis parameter)")
        return v

    @field_validator("targets")
    @classmethod
    def _targets(cls, v):
        if not any(not t.held_out for t in v.values()):
            raise ValueError("at least one target that is not held out (nothing to fit)")
        return v

    @field_validator("waves")
    @classmethod
    def _waves(cls, v):
        if not v:
            raise ValueError("at least one wave")
        return v

    @property
    def fitted(self) -> dict[str, Target]:
        return {k: t for k, t in self.targets.items() if not t.held_out}

    @property
    def held_out(self) -> dict[str, Target]:
        return {k: t for k, t in self.targets.items() if t.held_out}


def load_calibration(path: str | Path) -> tuple[CalibrationSpec, Path]:
    p = Path(path)
    data = read_toml(p, "calibration", CalibrationError)
    return validate(CalibrationSpec, data, str(p), CalibrationError), p.parent


# --------------------------------------------------------------------------------- experiments
def _scenario(spec: CalibrationSpec, base: Path):
    entry = spec.scenario
    f = base / entry if (entry.endswith(".toml") or "/" in entry) else base / spec.scenarios_dir / f"{entry}.toml"
    if not f.is_file():
        raise CalibrationError(f"scenario: expected a scenario name in {base / spec.scenarios_dir} or a path, "
                               f"got {entry!r} ({f} does not exist)")
    return load_scenario(f)


def _experiment(spec: CalibrationSpec, scenario, design: pd.DataFrame, name: str, replications: int) -> Experiment:
    data = {"name": f"{spec.name}-{name}", "replications": replications, "seed": spec.seed, "scale": spec.scale,
            "years": spec.years, "chunk_size": spec.chunk_size, "outputs": {"history": True},
            "parameters": "defaults"}   # the design's values over the registry defaults
    exp = parse_experiment(data, f"<calibration {spec.name}: {name}>", scenarios=[scenario])
    design = design.reset_index(drop=True)
    design.index = pd.RangeIndex(len(design), name="point")
    return Experiment(exp.spec, exp.scenarios, design, exp.source)


def uncalibrated(spec: CalibrationSpec) -> list[str]:
    """The registry parameters the shipped sample draws from their priors (none with others =
    "defaults"): every parameter not calibrated, outside `fixed_groups`, not a world parameter."""
    if spec.posterior.others == "defaults":
        return []
    fixed = set(spec.posterior.fixed_groups)
    return [n for n, p in _params.registry().items()
            if n not in spec.parameters and p.group not in fixed and n not in WORLD_PARAMS]


def prior_sample(names: list[str], n: int, seed: int) -> pd.DataFrame:
    """n Latin-hypercube draws from the registry priors of `names` (uniform or triangular)."""
    return make_design(Design(method="lhs", samples=n, parameters=list(names), seed=seed), seed)


def _per_point(runs: pd.DataFrame, stats: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    cols = [f"hist.{s}" for s in stats]
    g = runs.groupby("point")[cols]
    mean, var = g.mean(), g.var(ddof=1)
    mean.columns = var.columns = stats
    return mean, var


# ------------------------------------------------------------------------------------- emulators
class Emulators:
    """One GP per fitted target over the unit cube of the prior ranges."""

    def __init__(self, spec: CalibrationSpec, X: pd.DataFrame, means: pd.DataFrame, run_var: pd.Series):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        reg = _params.registry()
        self.names = list(spec.parameters)
        self.lo = np.array([reg[n].low for n in self.names])
        self.hi = np.array([reg[n].high for n in self.names])
        self.targets = spec.fitted
        self.run_var = run_var
        self.gps, self.noise = {}, {}
        U = self._unit(X)
        for k, t in self.targets.items():
            y = means[t.statistic].to_numpy(float)
            kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.full(len(self.names), 0.5), (0.03, 30.0))
                      + WhiteKernel(0.1, (1e-8, 10.0)))
            gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=spec.emulator.restarts,
                                          random_state=spec.seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                warnings.simplefilter("ignore", UserWarning)
                gp.fit(U, y)
            self.gps[k] = gp
            ystd = float(gp._y_train_std) if np.ndim(gp._y_train_std) == 0 else float(np.ravel(gp._y_train_std)[0])
            self.noise[k] = float(gp.kernel_.k2.noise_level) * ystd ** 2

    def _unit(self, X: pd.DataFrame) -> np.ndarray:
        return (X[self.names].to_numpy(float) - self.lo) / (self.hi - self.lo)

    def predict(self, X: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        U = self._unit(X)
        out = {}
        for k, gp in self.gps.items():
            m, s = gp.predict(U, return_std=True)
            out[k] = (m, np.maximum(s ** 2 - self.noise[k], 0.0))
        return out

    def implausibility(self, X: pd.DataFrame) -> pd.DataFrame:
        pred = self.predict(X)
        cols = {}
        for k, t in self.targets.items():
            m, v_em = pred[k]
            denom = t.sd ** 2 + t.discrepancy ** 2 + v_em
            cols[k] = np.abs(t.value - m) / np.sqrt(denom)
        return pd.DataFrame(cols, index=X.index)


def _systematic_resample(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    w = weights / weights.sum()
    positions = (rng.random() + np.arange(n)) / n
    idx = np.searchsorted(np.cumsum(w), positions, side="right")
    return np.minimum(idx, len(w) - 1)


def _sweep(exp: Experiment, out: Path, jobs: int, backend: str, progress):
    """One wave (or the check) through the experiments runner, resuming what is on disk; a
    directory made by another calibration is refused in one line (nothing is overwritten)."""
    try:
        return sweep(exp, out, jobs=jobs, backend=backend, resume=True, progress=progress)
    except CalibrationError:
        raise
    except ExperimentError as e:
        msg = str(e).replace(": --resume: expected the experiment that made this directory",
                             ": --out: expected the calibration that made this directory")
        raise CalibrationError(msg + ("; choose another --out" if "--out" in msg else "")) from None


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# ------------------------------------------------------------------------------------ the run
def calibrate(path: str | Path, out: str | Path, *, jobs: int = 1, backend: str = "loky",
              command: str | None = None, progress=None) -> dict:
    """Run (or resume) the calibration in file `path` into directory `out`; returns the summary
    (also written to OUT/calibration.json) and writes OUT/posterior.csv."""
    spec, base = load_calibration(path)
    return calibrate_spec(spec, base, out, jobs=jobs, backend=backend, command=command, progress=progress,
                          source=str(path))


def calibrate_spec(spec: CalibrationSpec, base: Path, out: str | Path, *, jobs: int = 1, backend: str = "loky",
                   command: str | None = None, progress=None, source: str = "<calibration>") -> dict:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CalibrationError(f"{out}: --out: expected a directory, got a file")
    out.mkdir(parents=True, exist_ok=True)
    scenario = _scenario(spec, base)
    stats = sorted({t.statistic for t in spec.targets.values()})
    names = list(spec.parameters)
    t0 = time.perf_counter()
    X_all, M_all, V_all = [], [], []
    waves_done, runs_total, runs_now = [], 0, 0
    emu = None
    for k, wave in enumerate(spec.waves):
        if k == 0:
            design = prior_sample(names, wave.points, spec.seed)
            screened = None
        else:
            cand = prior_sample(names, spec.emulator.candidates, spec.seed + 1000 * k)
            imp = emu.implausibility(cand).max(axis=1)
            keep = imp < spec.waves[k - 1].cutoff
            screened = float(keep.mean())
            order = cand.index[keep.to_numpy()] if keep.sum() >= wave.points else imp.sort_values(kind="stable").index
            design = cand.loc[order[:wave.points]]
        exp = _experiment(spec, scenario, design, f"wave-{k + 1}", spec.replications)
        rep = _sweep(exp, out / f"wave-{k + 1}", jobs, backend, progress)
        runs_total += exp.n_runs
        runs_now += rep.runs_done
        runs = read_runs(out / f"wave-{k + 1}")
        mean, var = _per_point(runs, stats)
        X_all.append(exp.design.reset_index(drop=True))
        M_all.append(mean.reset_index(drop=True))
        V_all.append(var.reset_index(drop=True))
        X, M = pd.concat(X_all, ignore_index=True), pd.concat(M_all, ignore_index=True)
        run_var = pd.concat(V_all, ignore_index=True).mean() if spec.replications > 1 else M.var()
        emu = Emulators(spec, X, M, run_var)
        waves_done.append({"wave": k + 1, "points": wave.points, "runs": exp.n_runs, "cutoff": wave.cutoff,
                           "prior_share_screened_in": screened})
    # posterior: prior draws in the final not-implausible region, weighted by the emulated likelihood
    cand = prior_sample(names, spec.emulator.candidates, spec.seed + 999_983)
    I = emu.implausibility(cand)
    imax = I.max(axis=1).to_numpy()
    cutoff = spec.waves[-1].cutoff
    nroy = imax < cutoff
    nroy_share = float(nroy.mean())
    if not nroy.any():   # nothing consistent with history: keep the least implausible 1% and say so
        nroy = imax <= np.quantile(imax, 0.01)
    logw = np.where(nroy, -0.5 * (I.to_numpy() ** 2).sum(axis=1), -np.inf)
    w = np.exp(logw - logw[nroy].max())
    rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(0xCA1,)))
    idx = _systematic_resample(w, spec.posterior.size, rng)
    post = cand.iloc[idx].reset_index(drop=True)
    others = uncalibrated(spec)
    if others:   # parameters history does not constrain keep their priors (independent LHS draws)
        post = pd.concat([post, prior_sample(others, len(post), spec.seed + 7_919).reset_index(drop=True)], axis=1)
    post["max_implausibility"] = imax[idx]
    post["weight"] = 1.0 / len(post)
    ess = float(w.sum() ** 2 / (w ** 2).sum())
    # posterior-predictive check: one run per draw, evenly spaced through the resampled sample
    take = np.linspace(0, len(post) - 1, min(spec.posterior.check_runs, len(post))).round().astype(int)
    # (the whole shipped rows, prior-drawn columns included: the check is of what ships)
    check_exp = _experiment(spec, scenario, post.loc[take, names + others], "check", 1)
    rep = _sweep(check_exp, out / "check", jobs, backend, progress)
    runs_total += check_exp.n_runs
    runs_now += rep.runs_done
    check = read_runs(out / "check")
    prior_runs = read_runs(out / "wave-1")
    seconds = time.perf_counter() - t0
    summary = _summary(spec, post, check, prior_runs, waves_done, runs_total, runs_now, seconds, nroy_share,
                       ess, command, source)
    header = (f"# posterior sample of equitysim's parameters ({spec.name}; history matching of {len(names)}, "
              f"{runs_total} simulations; the other {len(others)} drawn from their registry priors); made by: {command or 'equitysim calibrate ' + source}; "
              f"commit {summary['commit']}\n")
    atomic_write(out / POSTERIOR_FILE, lambda p: p.write_text(header + post.to_csv(index=False, float_format="%.10g")))
    atomic_write(out / SUMMARY_FILE, lambda p: p.write_text(json.dumps(summary, indent=1, default=float)))
    return summary


def _interval(x: np.ndarray) -> dict:
    x = np.asarray(x, float)
    return {"mean": float(x.mean()), "p05": float(np.quantile(x, 0.05)), "p50": float(np.quantile(x, 0.5)),
            "p95": float(np.quantile(x, 0.95))}


def _summary(spec, post, check, prior_runs, waves, runs_total, runs_now, seconds, nroy_share, ess, command,
             source) -> dict:
    reg = _params.registry()
    params = {}
    for n in spec.parameters:
        p = reg[n]
        prior = prior_sample([n], 4000, spec.seed)[n].to_numpy()
        params[n] = {"default": p.default, "low": p.low, "high": p.high, "dist": p.dist,
                     "prior": _interval(prior), "posterior": _interval(post[n].to_numpy()),
                     # how much history narrowed it: posterior 90% width / prior 90% width
                     "width_ratio": float((np.quantile(post[n], .95) - np.quantile(post[n], .05))
                                          / (np.quantile(prior, .95) - np.quantile(prior, .05)))}
    targets = {}
    for k, t in spec.targets.items():
        col = f"hist.{t.statistic}"
        pp = _interval(check[col].to_numpy())
        pr = _interval(prior_runs[col].to_numpy())
        targets[k] = {"statistic": t.statistic, "series": t.series, "held_out": t.held_out, "history": t.value,
                      "sd": t.sd, "discrepancy": t.discrepancy, "band": [t.low, t.high], "prior_predictive": pr,
                      "posterior_predictive": pp,
                      "mean_in_band": bool(t.low <= pp["mean"] <= t.high),
                      "history_in_90pct_interval": bool(pp["p05"] <= t.value <= pp["p95"]),
                      "note": t.note}
    return {"name": spec.name, "method": spec.method, "source": source, "command": command,
            "commit": _commit(), "versions": package_versions(), "seed": spec.seed, "scale": spec.scale,
            "years": spec.years, "replications_per_point": spec.replications, "waves": waves,
            "simulations": runs_total, "simulations_run_now": runs_now, "seconds": round(seconds, 2),
            "final_cutoff": spec.waves[-1].cutoff, "prior_share_not_implausible": nroy_share,
            "effective_sample_size": ess, "posterior_size": len(post), "check_runs": int(len(check)),
            "parameters": params, "targets": targets}


def read_summary(out: str | Path) -> dict:
    p = Path(out) / SUMMARY_FILE
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise CalibrationError(f"{out}: {SUMMARY_FILE}: expected a directory made by `equitysim calibrate`") from None


def markdown_tables(summary: dict) -> str:
    """The fit, held-out and parameter tables of docs/calibration.md."""
    f = lambda x: f"{x:.3g}"  # noqa: E731
    lines = ["| target | series | history | band | prior predictive 5-95% | posterior predictive mean (5-95%) | "
             "mean in band | history in 90% interval |", "|---|---|---|---|---|---|---|---|"]
    for k, t in summary["targets"].items():
        pp, pr = t["posterior_predictive"], t["prior_predictive"]
        lines.append(f"| {k}{' (**held out**)' if t['held_out'] else ''} | `{t['series']}` | {f(t['history'])} | "
                     f"{f(t['band'][0])} to {f(t['band'][1])} | {f(pr['p05'])} to {f(pr['p95'])} | "
                     f"{f(pp['mean'])} ({f(pp['p05'])} to {f(pp['p95'])}) | {'yes' if t['mean_in_band'] else '**no**'} | "
                     f"{'yes' if t['history_in_90pct_interval'] else '**no**'} |")
    lines += ["", "| parameter | default | prior (range, dist) | prior 5-95% | posterior mean (5-95%) | "
              "posterior / prior 90% width |", "|---|---|---|---|---|---|"]
    for n, p in summary["parameters"].items():
        po, pr = p["posterior"], p["prior"]
        lines.append(f"| `{n}` | {f(p['default'])} | {f(p['low'])}-{f(p['high'])} {p['dist']} | "
                     f"{f(pr['p05'])} to {f(pr['p95'])} | {f(po['mean'])} ({f(po['p05'])} to {f(po['p95'])}) | "
                     f"{p['width_ratio']:.2f} |")
    return "\n".join(lines)


__all__ = ["CalibrationError", "CalibrationSpec", "STATISTICS", "calibrate", "calibrate_spec", "load_calibration",
           "markdown_tables", "prior_sample", "read_summary"]

