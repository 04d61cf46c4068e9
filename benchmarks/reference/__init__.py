"""A per-agent Mesa implementation of the equitysim rules: the correctness oracle and the
baseline of the benchmark suite (see model.py). Not part of the package."""

from .model import ReferenceModel, plain_measure, run_reference

__all__ = ["ReferenceModel", "plain_measure", "run_reference"]
