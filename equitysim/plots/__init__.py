"""Charts for people who do not read tables (matplotlib, no pyplot state).

Every function takes a result set (anything `resultsets.load_results` accepts: an
EnsembleResult, a dict scenario -> EnsembleResult, or a results path) and returns a
`matplotlib.figure.Figure` whose title states the finding, not the variable:

- `indicator_chart`: P(met) of every indicator with 95% intervals, by horizon and scenario,
  against the "unlikely / toss-up / likely" lines;
- `trajectory_chart`: median and 50%/90% bands of the roadmap metrics over the ten years;
- `state_map`: a US tile-grid map (one square per state) of the share of futures in which each
  state has a policy in force by a chosen year;
- `diffusion_network`: how a policy spreads across bordering states (networkx);
- `status_map` and `history_chart`: one simulated future (the interactive page);
- `plot_indices`: sensitivity indices; `tradeoff_chart`: the sequencing search;
- `pathways_chart` and `adaptations_chart`: adaptive plans (which branch futures take, when
  each rule fires).

The titles' sentences come from `equitysim.narrative`. Modules: `style` (palette, sizes, tile
grid, output), `results` (indicators, trajectories, one future's metrics), `maps` (state maps,
diffusion), `analysis` (sensitivity, sequencing).

Colours are Okabe-Ito (categorical) and single-hue or viridis ramps (sequential), all safe for
colour-blind readers; fonts are sized for a slide.
"""

from .adaptive import adaptations_chart, pathways_chart
from .analysis import plot_indices, tradeoff_chart
from .maps import MAP_POLICIES, diffusion_graph, diffusion_network, state_map, status_map
from .results import DEFAULT_METRICS, history_chart, indicator_chart, trajectory_chart
from .style import MARKERS, OKABE_ITO, STATUS_COLOURS, STYLE, draw_tiles, save, tile_grid, to_data_uri

KINDS = {"indicators": indicator_chart, "trajectories": trajectory_chart, "map": state_map,
         "network": diffusion_network, "pathways": pathways_chart, "adaptations": adaptations_chart}

__all__ = ["adaptations_chart", "pathways_chart", "DEFAULT_METRICS", "KINDS", "MAP_POLICIES", "MARKERS", "OKABE_ITO", "STATUS_COLOURS", "STYLE",
           "diffusion_graph", "diffusion_network", "draw_tiles", "history_chart", "indicator_chart",
           "plot_indices", "save", "state_map", "status_map", "tile_grid", "to_data_uri", "tradeoff_chart",
           "trajectory_chart"]
