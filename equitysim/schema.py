"""The base of every strict input model (scenario, experiment, sensitivity and search files):
unknown fields are an error, and a validated spec cannot be changed in place."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A pydantic model that forbids unknown fields and is frozen (copy with `model_copy`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
