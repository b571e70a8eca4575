"""Generated benchmark suites: uniform TSP 50/100/500/1000 and CVRP 50/100, drawn as Kool et al.'s test sets.

Kool et al. (2019) draw their test sets with ``np.random.seed(1234)`` and 10,000 instances. A suite here is
the first ``count`` of those draws: for TSP, ``generate("tsp", count, size, seed=1234)`` gives exactly them
(coordinates are drawn in one C-ordered array, so a shorter set is a prefix); for CVRP the depots, customer
locations and demands are three separate arrays of all 10,000 instances, so the full set is drawn and cut.
TSP 500 / 1000 use the same recipe (Kool et al. have no such sets). Costs are EXACT_2D (unit square).

Counts are small on purpose (a leaderboard run is instances x methods x budget): 32 for TSP 50 / 100,
16 for the others. Each suite's per-instance reference is computed once by ``scripts/build_references.py``
with the strongest installed solver and stored, with how it was made, in ``data/references/<suite>.json``;
a suite whose file is missing still runs, with no gaps.
"""

from __future__ import annotations

import json
from functools import lru_cache

from ncosolve.benchmarks import add_references, data_dir, register_suite
from ncosolve.generators import generate

SEED = 1234
KOOL_TEST_COUNT = 10_000

# suite name: (problem, size: nodes for TSP / customers for CVRP, number of instances)
GENERATED = {
    "tsp50-uniform": ("tsp", 50, 32),
    "tsp100-uniform": ("tsp", 100, 32),
    "tsp500-uniform": ("tsp", 500, 16),
    "tsp1000-uniform": ("tsp", 1000, 16),
    "cvrp50-uniform": ("cvrp", 50, 16),
    "cvrp100-uniform": ("cvrp", 100, 16),
}


def reference_path(suite: str):
    """Where the stored references of a generated suite live (``data/references/<suite>.json``)."""
    return data_dir() / "references" / f"{suite}.json"


def load_reference_file(suite: str) -> dict | None:
    """The stored reference document of ``suite`` (values and how they were made), or None if not built."""
    path = reference_path(suite)
    if not path.exists():
        return None
    return json.loads(path.read_text())


@lru_cache(maxsize=None)
def generated_instances(suite: str) -> tuple:
    """The fixed instances of a generated suite, Kool-compatible (see the module docstring)."""
    problem, size, count = GENERATED[suite]
    if problem == "tsp":
        return tuple(generate("tsp", count, size, seed=SEED))
    return tuple(generate(problem, KOOL_TEST_COUNT, size, seed=SEED)[:count])


def _reference_text(suite: str, doc: dict | None) -> str:
    if doc is None:
        return f"none stored yet: python scripts/build_references.py --suite {suite}"
    return f"best of {doc['method']} in {doc['time_limit']:g} s per instance (stored, not proven optimal)"


for _suite, (_problem, _size, _count) in GENERATED.items():
    _doc = load_reference_file(_suite)
    if _doc is not None:
        add_references(_doc["values"])
    _what = "node" if _problem == "tsp" else "customer"
    register_suite(_suite, _problem, f"{_count} uniform {_size}-{_what} instances, Kool et al. draws "
                   f"(seed {SEED}), EXACT_2D", _reference_text(_suite, _doc))(
        lambda s=_suite: list(generated_instances(s)))
