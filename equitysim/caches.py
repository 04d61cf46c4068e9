"""Caches of what depends only on a world (and on the arguments that key each entry).

A World is immutable; what is derived from it (fixed sums, compiled plans, the baseline metrics)
is kept here per world object, in a dict keyed on everything the derived value depends on, and
dropped when the world is garbage-collected. Nothing is attached to the World itself.
"""

from __future__ import annotations

import weakref

_BY_WORLD: dict[int, dict] = {}


def for_world(world, name: str) -> dict:
    """The cache `name` of `world` (a dict the caller keys on what the value depends on)."""
    key = id(world)
    if key not in _BY_WORLD:
        _BY_WORLD[key] = {}
        weakref.finalize(world, _BY_WORLD.pop, key, None)
    return _BY_WORLD[key].setdefault(name, {})


def clear() -> None:
    """Forget every cached value (tests use it to build from scratch)."""
    _BY_WORLD.clear()


# Compiled plans of the timetables adaptive plans rewrite during runs (mechanisms/adaptation.py):
# many runs share a rewrite (a review at the same year end), so they are kept, but at most this
# many per world (oldest dropped first), as each holds per-district row masks. Memory, not behaviour.
ADAPTIVE_PLANS_KEPT = 64


def remember(cache: dict, key, value, keep: int) -> None:
    """cache[key] = value, dropping the oldest entries beyond `keep` (dicts keep insertion order)."""
    cache[key] = value
    while len(cache) > keep:
        cache.pop(next(iter(cache)))
