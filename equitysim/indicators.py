"""The roadmap's success indicators: definitions from data/indicators.toml (the catalogue; its
length is the count every sentence uses), judged on the metric snapshots a run records at the end
of years 2, 5 and 10; and the Wilson score interval of a P(met)."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

HORIZONS = (2, 5, 10)
Z95 = 1.959964  # standard normal quantile of a two-sided 95% interval
TRAJECTORY_METRICS = (
    "dissimilarity", "dissimilarity_within_district", "exposure_minority_to_white", "spending_gap",
    "adequacy_gap", "teacher_experience_gap", "suspension_ratio_black_white", "suspension_gap_pp",
    "ap_gap", "achievement_gap", "graduation_gap_pp",
)
# Resource access (students in districts below adequacy), teacher experience and course access.
# The spending gap between high- and low-minority schools is reported but not used here: its
# baseline is near zero nationally (state formulas are roughly flat on average), so a ratio to it
# is unstable.
OPPORTUNITY_PARTS = ("adequacy_gap", "teacher_experience_gap", "ap_gap")


@dataclass(frozen=True)
class Indicator:
    id: str
    label: str
    target: str
    horizon_year: int
    measure: str
    rule: str
    threshold: float
    operational: str
    phrase: str = ""   # plain words: "10 states enact funding reform by year 5"
    scales_with_world: bool = False
    acts_through: tuple[str, ...] = ()   # action groups that act on it (what_it_takes.py's levers)

    def threshold_at(self, scale: float = 1.0) -> float:
        if self.scales_with_world:
            return max(1.0, math.ceil(self.threshold * scale))
        return self.threshold


@cache
def indicators() -> tuple[Indicator, ...]:
    raw = tomllib.loads(resources.files("equitysim").joinpath("data/indicators.toml").read_text())
    return tuple(Indicator(id=k, **{**v, "acts_through": tuple(v.get("acts_through", ()))}) for k, v in raw.items())


def opportunity_gap_index(now: dict, baseline: dict) -> float:
    """Mean of the adequacy, teacher-experience and AP gaps, each as a share of its baseline
    (1 = unchanged, 0 = closed). Unitless."""
    parts = [now[k] / baseline[k] for k in OPPORTUNITY_PARTS if baseline[k] > 0]
    return float(np.mean(parts)) if parts else math.nan


def value(ind: Indicator, now: dict, baseline: dict) -> float:
    if ind.measure == "opportunity_gap_index":
        return opportunity_gap_index(now, baseline)
    return float(now[ind.measure])


def is_met(ind: Indicator, now: dict, baseline: dict, scale: float = 1.0) -> bool:
    """Whether one indicator is met, given the snapshot at its horizon and the baseline."""
    v = value(ind, now, baseline)
    if ind.rule in ("at_least", "all_states", "yes"):
        return v >= ind.threshold_at(scale)
    if ind.rule == "reduced_by":
        base = 1.0 if ind.measure == "opportunity_gap_index" else baseline[ind.measure]
        return v <= (1 - ind.threshold) * base
    raise ValueError(f"unknown rule {ind.rule}")


def evaluate(snapshots: dict[int, dict], baseline: dict, scale: float = 1.0) -> dict[str, bool]:
    """Every indicator for one run; an indicator whose horizon was not reached is False."""
    return {i.id: bool(i.horizon_year in snapshots and is_met(i, snapshots[i.horizon_year], baseline, scale))
            for i in indicators()}


def markdown() -> str:
    """docs/indicators.md: each indicator, its horizon and how its target is made operational."""
    from .narrative import count_word

    lines = ["# Success indicators", "",
             "Generated from `equitysim/data/indicators.toml` (`python -c \"import equitysim.indicators as i; "
             "print(i.markdown(), end='')\" > docs/indicators.md`); do not edit by hand.", "",
             f"The roadmap's {count_word(len(indicators()))} success indicators, judged at the end of years "
             "2, 5 and 10 of each "
             "replication. P(met) is the share of replications in which the rule holds.", "",
             "| id | roadmap target | year | measure | rule | how the target is made operational |",
             "|---|---|---|---|---|---|"]
    for i in indicators():
        rule = {"at_least": f">= {i.threshold:g}", "all_states": f"all {i.threshold:g} states",
                "yes": "yes", "reduced_by": f"<= {1 - i.threshold:g} x baseline"}[i.rule]
        scaled = " (x world scale)" if i.scales_with_world else ""
        lines.append(f"| `{i.id}` | {i.label}: {i.target} | {i.horizon_year} | `{i.measure}` | {rule}{scaled} | "
                     f"{i.operational} |")
    return "\n".join(lines) + "\n"


def wilson_score(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Centre and half-width of the Wilson score interval at observed proportion p (0-1) with n
    trials (n > 0); z = 1.96 gives the 95% interval. Unitless, like p."""
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return centre, half


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95% Wilson score interval (lower, upper; shares 0-1) for a binomial proportion k/n; (0, 1)
    when n = 0. The package's one Wilson formula (`wilson_score`)."""
    if n == 0:
        return (0.0, 1.0)
    centre, half = wilson_score(k / n, n, z)
    # at k = 0 and k = n the bound is exactly 0 or 1 (rounding would put it just inside)
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return (low, high)
