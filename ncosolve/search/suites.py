"""The uniform TSP-500 / 1000 / 10000 test sets of the heatmap + MCTS literature, as benchmark suites.

Only the mean optimal (Concorde) or best-known (LKH-3) tour length of each set is published, not
per-instance optima (``data/tsp_large/README.md``). So every instance of a set is given the set's
reference mean as its reference: the per-instance "gap" is then relative to the mean and means little
on its own (it can be negative), but its average over the whole set equals the gap of the mean length,
which is exactly the figure the literature reports.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ncosolve.benchmarks import add_references, data_dir, register_suite
from ncosolve.problems import TSPInstance

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
    file, _, _, _ = SETS[suite]
    with np.load(data_dir() / "tsp_large" / file) as data:
        coords = data["coords"]
    return tuple(TSPInstance(coords=c, name=instance_name(suite, k)) for k, c in enumerate(coords))


def reference_mean(suite: str) -> float:
    """The published reference mean tour length of a suite."""
    return SETS[suite][2]


for _suite, (_file, _count, _mean, _what) in SETS.items():
    register_suite(_suite, "tsp", f"{_count} uniform {_suite.split('-')[0][3:]}-city instances (Fu et al. 2021), "
                   "EXACT_2D", f"mean of {_what} ({_mean}), given to every instance: average the gaps")(
        lambda s=_suite: list(_load(s)))
    add_references({instance_name(_suite, k): _mean for k in range(_count)})
