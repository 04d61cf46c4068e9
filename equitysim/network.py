"""The federal-state-local network (networkx).

Node kinds: "federal" (1), "state" (51), "region" (groups of neighbouring districts), "district",
"school", "coalition" (one per state, one national). Edge kinds:
- "governs": federal -> state -> district -> school (governance);
- "borders": state <-> state (policy diffusion between neighbours);
- "region": district -> region (peers for imitation and interdistrict programs);
- "works_in": coalition -> the jurisdiction it organises in.

The model's vectorised rules read the same structure as arrays (`World.adjacency`, `d_region`,
`d_state`); this module is the one place that builds the graph, and the state border graph here
is what `World.adjacency` is computed from.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd


def state_border_graph(states: pd.DataFrame) -> nx.Graph:
    """States as nodes (USPS codes), land borders as edges, from the `neighbors` column."""
    g = nx.Graph()
    g.add_nodes_from(states.index)
    for code, nb in states["neighbors"].fillna("").items():
        g.add_edges_from((code, n) for n in str(nb).split(";") if n)
    return g


def adjacency_matrix(states: pd.DataFrame) -> np.ndarray:
    """0/1 border matrix in the order of `states` (used for diffusion)."""
    return nx.to_numpy_array(state_border_graph(states), nodelist=list(states.index), dtype=np.int8)


def build_network(world, schools: bool = True) -> nx.DiGraph:
    """The whole multi-level network for one world (about 114,000 nodes at full scale with
    schools; pass schools=False for a lighter graph)."""
    g = nx.DiGraph()
    st = world.states
    codes = list(st.index)
    g.add_node("federal", kind="federal")
    g.add_node("coalition:national", kind="coalition", scope="national")
    g.add_edge("coalition:national", "federal", kind="works_in")
    for c in codes:
        g.add_node(c, kind="state", favorable=bool(st.loc[c, "favorable"]))
        g.add_edge("federal", c, kind="governs")
        g.add_node(f"coalition:{c}", kind="coalition", scope="state")
        g.add_edge(f"coalition:{c}", c, kind="works_in")
        g.add_edge("coalition:national", f"coalition:{c}", kind="works_in")
    for a, b in state_border_graph(st).edges:
        g.add_edge(a, b, kind="borders")
        g.add_edge(b, a, kind="borders")
    for r in range(world.n_regions):
        g.add_node(f"region:{r}", kind="region", state=codes[world.r_state[r]])
    d_nodes = [f"district:{i}" for i in range(world.n_districts)]
    g.add_nodes_from((n, {"kind": "district", "enrollment": float(e)}) for n, e in zip(d_nodes, world.d_enroll))
    g.add_edges_from((codes[s], n, {"kind": "governs"}) for s, n in zip(world.d_state, d_nodes))
    g.add_edges_from((n, f"region:{r}", {"kind": "region"}) for n, r in zip(d_nodes, world.d_region))
    if schools:
        g.add_nodes_from((f"school:{j}", {"kind": "school"}) for j in range(world.n_schools))
        g.add_edges_from((d_nodes[d], f"school:{j}", {"kind": "governs"}) for j, d in enumerate(world.s_district))
    return g


def peers(g: nx.DiGraph, district: int) -> list[str]:
    """The districts sharing a region with `district` (its imitation peers)."""
    node = f"district:{district}"
    region = next(v for v in g.successors(node) if g.nodes[v]["kind"] == "region")
    return [u for u in g.predecessors(region) if u != node]
