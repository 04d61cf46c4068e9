"""The strategist's question: which sequencing of the roadmap is best, and which is most robust.

    spec = load_search("experiments/sequencing_search.toml")   # decision space + futures
    result = search(spec, out="results/search", jobs=2)        # enumerate or optimise
    result.best_expected, result.most_robust, result.table     # answers

A *candidate* gives each block of action groups a start year, plus a pace, a leading level and
where state action starts. Every candidate is evaluated on the same *futures* (parameter draws
from the registry ranges and named stress futures) with the same run keys, so candidates are
compared on common random numbers. The best candidate maximises the expected number of
indicators met; the most robust minimises the worst-case regret across futures (regret = the best
evaluated candidate's value in that future minus this candidate's).

The search enumerates the space when it fits the evaluation budget; otherwise it uses Optuna's
TPE sampler (a well-kept optimiser that handles categorical choices natively, is seedable, and
supports ask/tell so evaluations can be batched and replayed on resume).

Each candidate is evaluated as one experiment of the experiments runner (`candidate_experiment`):
scenario f is the candidate under future f, run `replications` times with run keys (f, r), one
chunk per future. Its runs go to `OUT/runs/<candidate id>/`, an ordinary results directory
(`equitysim summarize` reads it), so a search resumes chunk by chunk after a crash; with no
`out`, they go to a temporary directory that is deleted afterwards.

The package: `spec` (the search file), `candidates` (candidates, futures, a candidate as an
experiment), `evaluation` (running candidates, the search directory), `confirm` (fresh runs of
the answers), `runner` (the search itself: enumeration or TPE, the table, the answers). Sentences are
`narrative.describe_difference`'s, the chart `plots.tradeoff_chart`.
"""

from ..narrative import describe_difference
from .candidates import Candidate, apply_future, candidate_experiment, candidate_id, candidate_scenario, futures
from .confirm import confirm_seed
from .runner import SearchResult, search
from .spec import LEAD_SHIFT, LEADS, Block, Futures, SearchSpec, StressFuture, load_search

__all__ = ["LEADS", "LEAD_SHIFT", "Block", "Candidate", "Futures", "SearchResult", "SearchSpec", "StressFuture",
           "apply_future", "candidate_experiment", "candidate_id", "candidate_scenario", "confirm_seed",
           "describe_difference", "futures", "load_search", "search"]
