"""Where each replication's parameters come from: the shipped posterior (`data/posterior.csv`, made
by `equitysim calibrate experiments/calibration.toml`), the registry defaults, or a user's own
calibration (a directory holding `posterior.csv`, or the file itself).

Replications come in blocks of `BLOCK` consecutive keys that share one parameter draw (a nested
design: parameters between blocks, chance within them, so the law of total variance splits each
indicator's variance into what comes from parameters and what from chance; `variance_split`).
Block b = key // BLOCK under master `seed` draws row j of the posterior from its own stream,
`SeedSequence([seed, PARAMETER_STREAM], spawn_key=(b,))`: it depends on the seed and the key only,
never on the scenario, so replication r sees the same parameter draw in every scenario and
comparisons stay paired; and it is separate from the model's own streams, so drawing parameters
changes no other random number. A scenario that fixes a parameter in its `[parameters]` keeps its
value (the scenario says so on purpose); the other calibrated parameters come from the draw, and
parameters that were not calibrated stay at their registry defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from . import params as _params
from .scenario import ScenarioError, ScenarioSpec

PARAMETER_STREAM = 0x9A7A5  # second entropy word of the parameter-draw streams
BLOCK = 5                   # consecutive replications sharing one parameter draw
FILE = "posterior.csv"
CHOICES = ("posterior", "defaults")


class ParametersError(ScenarioError):
    """A bad --parameters value or posterior file (one line)."""


@dataclass(frozen=True, eq=False)
class ParameterSource:
    """A table of parameter sets (one row each) with weights, or none (registry defaults)."""

    label: str                       # "posterior", "defaults" or the path given
    table: pd.DataFrame | None = None
    weights: np.ndarray | None = None

    @property
    def names(self) -> list[str]:
        return [] if self.table is None else list(self.table.columns)

    def index(self, seed: int, key) -> int | None:
        """Row of the table replication `key` draws (None for defaults)."""
        if self.table is None:
            return None
        key = (int(key),) if isinstance(key, (int, np.integer)) else tuple(int(k) for k in key)
        key = key[:-1] + (key[-1] // BLOCK,)
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), PARAMETER_STREAM], spawn_key=key))
        return int(rng.choice(len(self.table), p=self.weights))

    def draw(self, seed: int, key) -> dict[str, float]:
        j = self.index(seed, key)
        return {} if j is None else {k: float(v) for k, v in self.table.iloc[j].items()}

    def digest(self) -> str:
        """A hash of the table and weights (what a sweep's identity records)."""
        import hashlib
        if self.table is None:
            return "defaults"
        payload = self.table.round(12).to_csv(index=False) + ",".join(f"{w:.12g}" for w in self.weights)
        return hashlib.sha256(payload.encode()).hexdigest()

    def apply(self, spec: ScenarioSpec, seed: int, key) -> ScenarioSpec:
        """`spec` with replication `key`'s draw set (parameters the scenario fixes keep its value)."""
        values = {k: v for k, v in self.draw(seed, key).items() if k not in spec.parameters}
        return spec.with_parameters(**values) if values else spec


DEFAULTS = ParameterSource("defaults")


def shipped_path() -> Path:
    return Path(__file__).resolve().parent / "data" / FILE


def read_table(path: Path, label: str) -> ParameterSource:
    """A posterior file: registry parameter columns, optional `weight` (normalised) and
    `max_implausibility` (ignored); `#` lines are comments (the command and commit that made it)."""
    try:
        df = pd.read_csv(path, comment="#")
    except FileNotFoundError:
        raise ParametersError(f"{path}: (file): expected a posterior sample ({FILE} made by `equitysim calibrate`)") from None
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise ParametersError(f"{path}: (file): expected a CSV posterior sample ({e.__class__.__name__})") from None
    reg = _params.registry()
    extra = {"weight", "max_implausibility"}
    unknown = [c for c in df.columns if c not in reg and c not in extra]
    if unknown:
        raise ParametersError(f"{path}: {unknown[0]}: expected registry parameter columns (and weight), "
                              f"got an unknown column")
    names = [c for c in df.columns if c in reg]
    if not names or df.empty:
        raise ParametersError(f"{path}: (file): expected at least one parameter column and one row")
    values = df[names].apply(pd.to_numeric, errors="coerce")
    for n in names:
        p = reg[n]
        col = values[n]
        if col.isna().any() or (col < p.low).any() or (col > p.high).any():
            raise ParametersError(f"{path}: {n}: expected numbers within the registry's range "
                                  f"[{p.low:g}, {p.high:g}]")
    if "weight" in df:
        w = pd.to_numeric(df["weight"], errors="coerce").to_numpy(float)
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ParametersError(f"{path}: weight: expected non-negative numbers with a positive sum")
    else:
        w = np.ones(len(df))
    return ParameterSource(label, values.reset_index(drop=True), w / w.sum())


@cache
def shipped() -> ParameterSource:
    return read_table(shipped_path(), "posterior")


def load(value: str | Path | None) -> ParameterSource:
    """`--parameters`: "posterior" (the shipped sample; the default), "defaults" (the registry's
    values, no draw) or a calibration directory / posterior CSV file."""
    if value is None or str(value) == "posterior":
        return shipped()
    if str(value) == "defaults":
        return DEFAULTS
    p = Path(value)
    if p.is_dir():
        if not (p / FILE).is_file():
            raise ParametersError(f"--parameters: expected 'posterior', 'defaults' or a calibration directory "
                                  f"holding {FILE}, got {str(value)!r} (no {FILE} in it)")
        return read_table(p / FILE, str(value))
    if p.is_file():
        return read_table(p, str(value))
    raise ParametersError(f"--parameters: expected 'posterior', 'defaults' or a calibration directory holding "
                          f"{FILE}, got {str(value)!r}")


def variance_split(met: np.ndarray, keys: np.ndarray) -> float:
    """Share (0-1) of the variance of an indicator's "met" (0/1 per replication) that comes from
    the parameters rather than chance, by the law of total variance over the nested design: one-way
    ANOVA over the complete blocks of BLOCK replications sharing a draw; Var(E[met | theta]) is the
    between-block variance of block means less the within-block variance / BLOCK (at least 0).
    NaN with fewer than two complete blocks; 0 when "met" does not vary."""
    met = np.asarray(met, float)
    block = np.asarray(keys) // BLOCK
    ids, counts = np.unique(block, return_counts=True)
    full = ids[counts == BLOCK]
    if len(full) < 2:
        return float("nan")
    x = np.stack([met[block == b] for b in full])          # (blocks, BLOCK)
    within = float(x.var(axis=1, ddof=1).mean())
    between = float(x.mean(axis=1).var(ddof=1))
    v_par = max(between - within / BLOCK, 0.0)
    total = v_par + within
    return 0.0 if total <= 0 else v_par / total


def design_effect(diff: np.ndarray, clusters: np.ndarray) -> float:
    """Kish's design effect of a mean of paired differences whose runs come in clusters (the
    replications of a block share a posterior parameter draw, so they are not independent pairs):
    the variance of the mean from the cluster means over the variance if the runs were independent,
    at least 1 (never narrows an interval); 1 with fewer than two clusters or no variation."""
    diff = np.asarray(diff, float)
    n = len(diff)
    ids, inv = np.unique(clusters, return_inverse=True)
    if len(ids) < 2 or n < 2 or diff.var(ddof=1) == 0:
        return 1.0
    sums = np.bincount(inv, weights=diff - diff.mean())
    # cluster-robust variance of the mean (sum of squared cluster totals, small-sample factor)
    var_cluster = (sums ** 2).sum() / n ** 2 * len(ids) / (len(ids) - 1)
    return max(1.0, var_cluster / (diff.var(ddof=1) / n))


def blocked_interval(met: np.ndarray, keys: np.ndarray) -> tuple[float, float, float]:
    """P(met) with a 95% Wilson interval at Kish's effective sample size n / deff, deff being the
    design effect of the blocks of BLOCK replications that share a parameter draw (their runs are
    not independent); returns (low, high, deff). Exact 0 and 1 at k = 0 and k = n, as Wilson's."""
    from .indicators import wilson_interval

    met = np.asarray(met, float)
    n, k = len(met), int(met.sum())
    deff = design_effect(met, np.asarray(keys) // BLOCK)
    if deff <= 1.0 or k in (0, n):
        return (*wilson_interval(k, n), 1.0)
    n_eff = n / deff
    lo, hi = wilson_interval(k / n * n_eff, n_eff)
    return lo, hi, deff
