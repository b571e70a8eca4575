"""The uniform TSP-500 / 1000 / 10000 test sets of the heatmap + MCTS literature (Fu et al. 2021).

Only the mean optimal (Concorde) or best-known (LKH-3) tour length of each set is published, not per-instance
optima (``data/tsp_large/README.md``). So every instance of a set is given the set's reference mean as its
reference: the per-instance "gap" is then relative to the mean and means little on its own (it can be
negative), but its average over the whole set equals the gap of the mean length, which is exactly the figure
the literature reports.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ncosolve.problems import TSPInstance
from ncosolve.references import data_dir

# suite name: (file, instances, reference mean tour length, what the reference is)
SETS = {
    "tsp500-fu": ("tsp500_fu.npz", 128, 16.5458, "Concorde optima"),
    "tsp1000-fu": ("tsp1000_fu.npz", 128, 23.1182, "Concorde optima"),
    "tsp10000-fu": ("tsp10000_fu.npz", 16, 71.7778, "LKH-3 tours"),
}


def instance_name(suite: str, k: int) -> str:
    """Name of the k-th instance of a suite, e.g. ``tsp500-fu-007``."""
    return f"{suite}-{k:03d}"


@lru_cache(maxsize=None)
def _load(suite: str) -> tuple:
    with np.load(data_dir() / "tsp_large" / SETS[suite][0]) as data:
        coords = data["coords"]
    return tuple(TSPInstance(coords=c, name=instance_name(suite, k)) for k, c in enumerate(coords))


def load(suite: str) -> list:
    """The instances of a set."""
    return list(_load(suite))


def reference_mean(suite: str) -> float:
    """The published reference mean tour length of a set."""
    return SETS[suite][2]


def references(suite: str) -> dict[str, float]:
    """Every instance of a set gets the set's reference mean."""
    return {instance_name(suite, k): SETS[suite][2] for k in range(SETS[suite][1])}
