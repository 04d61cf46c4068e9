"""equitysim: an agent-based simulation of an education-equity implementation roadmap.

The short chain, in the spirit of SALib's ProblemSpec:

    import equitysim as es
    spec = es.load_scenario("scenarios/roadmap.toml")      # load a scenario
    result = es.run(spec, replications=200, seed=1)         # run replications
    result.summary()                                        # P(indicator met) with 95% intervals
"""

from .scenario import ScenarioError, ScenarioSpec, load_scenario, parse_scenario

__version__ = "0.1.0"

__all__ = ["ScenarioError", "ScenarioSpec", "load_scenario", "parse_scenario", "run", "__version__"]


def __getattr__(name):
    # Lazy so that `import equitysim` stays light for the CLI's error paths.
    if name == "run":
        from .ensemble import run
        return run
    if name == "EquityModel":
        from .model import EquityModel
        return EquityModel
    raise AttributeError(name)
