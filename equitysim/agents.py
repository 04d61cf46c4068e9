"""The Mesa agents a user inspects: the federal government, the states, the coalitions, the
districts and the schools.

Their state lives in the typed arrays of `arrays.py` and their rules in `mechanisms/`, applied
to all of them at once by `EquityModel.step`; each agent here is a view of its row. District
and School objects are created only when someone asks for one (`model.district(i)`), so a model
of 99,000 schools does not build 99,000 Python objects.
"""

from __future__ import annotations

import mesa
import numpy as np

from .mechanisms import coalitions
from .numerics import nonzero


class LazyAgents:
    """A sequence of District or School views, each created on first access."""

    def __init__(self, model, cls, n):
        self._model, self._cls, self._n, self._made = model, cls, n, {}

    def __len__(self):
        return self._n

    def __getitem__(self, i):
        i = range(self._n)[i]
        if i not in self._made:
            self._made[i] = self._cls(self._model, i)
        return self._made[i]


class RowValue:
    """A float attribute read from row `index` of one of the model's arrays, e.g.
    `breadth = RowValue("coalition_arrays", "breadth")`."""

    def __init__(self, container: str, name: str, kind=float):
        self.container, self.name, self.kind = container, name, kind

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return self.kind(getattr(getattr(obj.model, self.container), self.name)[obj.index])


class RowView(mesa.Agent):
    """A Mesa agent that is a view of row `index` of its level's arrays."""

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index


class FederalGovernment(mesa.Agent):
    """The federal government: the roadmap's federal actions in force and whether the
    administration supports the roadmap (mechanisms: elections, adoption)."""

    @property
    def supportive(self) -> bool:
        return self.model.federal_arrays.supportive

    @property
    def actions(self) -> list[str]:
        """Ids of the federal actions in force."""
        on = self.model.federal_arrays.action_on
        return [a.id for a, x in zip(self.model.catalogue.federal_actions, on) if x]


class Coalition(RowView):
    """An advocacy coalition (one per state, the last one national): breadth, strength and the
    roadmap's phase (mechanism: coalitions)."""

    breadth = RowValue("coalition_arrays", "breadth")
    strength = RowValue("coalition_arrays", "strength")

    @property
    def phase(self) -> str:
        return coalitions.phase_of(self.breadth, self.model.par)


class State(RowView):
    """A state: political climate, the policies in force (mechanisms: elections, adoption,
    backlash, funding)."""

    def __init__(self, model, index):
        super().__init__(model, index)
        self.code = model.state_codes[index]

    @property
    def policies(self) -> list[str]:
        pol = self.model.catalogue.state_policies
        return [pol[j] for j in nonzero(self.model.state_arrays.policy_on[self.index])]

    climate = RowValue("state_arrays", "climate")
    governor_flipped = RowValue("state_arrays", "governor_flipped", bool)


class District(RowView):
    """A school district (a view of row `index` of the district arrays): capacity under the
    guide's three constraints, its programs and their implementation phases."""

    @property
    def state(self) -> str:
        return self.model.world.states.index[self.model.world.d_state[self.index]]

    @property
    def enrollment(self) -> float:
        return float(self.model.world.d_enroll[self.index])

    @property
    def capacity(self) -> float:
        return float(self.model.quarter_capacity.at(np.array([self.index]))[0])

    burnout = RowValue("district_arrays", "burnout")
    buy_in = RowValue("district_arrays", "buy_in")

    @property
    def programs(self) -> dict[str, str]:
        """Program id -> current implementation phase, for the programs running here."""
        m, i = self.model, self.index
        return {k: prog.phase_names[m.phase[i, j]] for j, (k, prog) in enumerate(m.catalogue.programs.items())
                if m.active[i, j]}


class School(RowView):
    """A school (a view of row `index` of the school arrays): its students by group, spending
    and teachers now (mechanism: outcomes)."""

    @property
    def district(self) -> int:
        return int(self.model.world.s_district[self.index])

    @property
    def enrollment_by_group(self) -> dict[str, float]:
        from .world import GROUPS
        e = self.model.school_enrollment()[self.index]
        return dict(zip(GROUPS, map(float, e)))

    @property
    def per_pupil_spending(self) -> float:
        return float(self.model.school_spending()[self.index])

    @property
    def teacher_experience(self) -> float:
        return float(self.model.school_teacher_experience()[self.index])
