"""What the federal actions and state policies in force add up to, per effect channel.

The catalogue gives each action effects on named channels ("suspension", "funds:integration",
"hazard:<policy>", "lock:state", ...). Summing them is one matrix product, recomputed only when
the set of actions in force changes (the cache is keyed on that set).
"""

from __future__ import annotations

import numpy as np

FUNDING_POLICIES = ("weighted_funding", "adequacy_standard", "property_tax_reform")


class FederalChannels:
    """Channel sizes of the federal actions in force (a scalar per channel)."""

    def __init__(self, actions, policies: list[str], programs):
        self._effects: dict[str, np.ndarray] = {}
        for i, a in enumerate(actions):
            for e in a.effects:
                self._effects.setdefault(e.channel, np.zeros(len(actions)))[i] += e.size
        self.names = list(self._effects)
        z = np.zeros(len(actions))
        fe = self._effects
        cols = ([fe[c] for c in self.names] + [fe.get(f"hazard:{x}", z) for x in policies]
                + [fe.get(f"hazard:{pr.id}", z) for pr in programs])
        self._all = np.stack(cols, 1)
        self._n_policies = len(policies)
        self._key = None

    def effect_of(self, channel: str) -> np.ndarray:
        """(n_a,) each action's size on `channel` (zeros if none has it)."""
        return self._effects.get(channel, np.zeros(self._all.shape[0]))

    def update(self, action_on: np.ndarray) -> None:
        """Recompute the channels if the actions in force changed."""
        key = action_on.tobytes()
        if key != self._key:
            v = action_on @ self._all
            c = len(self.names)
            self._channel = dict(zip(self.names, v[:c].tolist()))
            self.policy_hazard = v[c:c + self._n_policies]     # (n_p,) 'hazard:<policy>' boosts
            self.program_hazard = v[c + self._n_policies:]      # (n_k,) 'hazard:<program>' boosts
            self._key = key

    def channel(self, name: str) -> float:
        """Size of channel `name` of the actions in force (0 if none has it)."""
        return self._channel.get(name, 0.0)


class StateChannels:
    """Channel sizes of each state's policies in force ((n_s,) per channel), the
    'hazard:' boosts, and the locks that protect policies from repeal."""

    def __init__(self, actions, policies: list[str], programs, n_states: int):
        n_p = len(policies)
        index = {p: j for j, p in enumerate(policies)}
        self.policy_cost = np.zeros(n_p)
        self.policy_backlash = np.zeros(n_p)
        effects: dict[str, np.ndarray] = {}
        for a in actions:
            if a.level != "state":
                continue
            j = index[a.policy]
            self.policy_cost[j] = max(self.policy_cost[j], a.cost_musd)
            self.policy_backlash[j] = max(self.policy_backlash[j], a.backlash)
            for e in a.effects:
                arr = effects.setdefault(e.channel, np.zeros(n_p))
                arr[j] = max(arr[j], e.size)
        self.names = list(effects)
        z = np.zeros(n_p)
        cols = ([effects[c] for c in self.names] + [effects.get(f"hazard:{x}", z) for x in policies]
                + [effects.get(f"hazard:{pr.id}", z) for pr in programs]
                + [effects.get("lock:state", z), effects.get("lock:funding", z)])
        self._all = np.stack(cols, 1)
        self._n_policies, self._n_programs = n_p, len(programs)
        self._funding_policies = np.isin(policies, FUNDING_POLICIES)
        self.locked = np.zeros((n_states, n_p), bool)
        self._key = None

    def update(self, policy_on: np.ndarray, lock_in: bool) -> None:
        """Recompute channels, boosts and locks if the policies in force changed."""
        key = policy_on.tobytes()
        if key != self._key:
            v = policy_on @ self._all
            c, n_p = len(self.names), self._n_policies
            self.channels = dict(zip(self.names, v[:, :c].T))
            self.policy_hazard = v[:, c:c + n_p]                       # (n_s, n_p)
            self.program_hazard = v[:, c + n_p:c + n_p + self._n_programs]   # (n_s, n_k)
            locks = self.locked
            locks[:] = False
            if lock_in:
                locks |= (v[:, -2] >= 1)[:, None]
                locks |= (v[:, -1] > 0)[:, None] & self._funding_policies[None, :]
            self._key = key
