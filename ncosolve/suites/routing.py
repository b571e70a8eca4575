"""Routing suites: TSPLIB, CVRPLIB, Solomon (shipped files with their optima / best-known values), the ``quick``
smoke suite, and the generated Kool et al.-compatible uniform suites.

Kool et al. (2019) draw their test sets with ``np.random.seed(1234)`` and 10,000 instances. A generated suite is
the first ``count`` of those draws: for TSP, ``generate("tsp", count, size, seed=1234)`` gives exactly them
(coordinates are drawn in one C-ordered array, so a shorter set is a prefix); for CVRP the depots, customer
locations and demands are three separate arrays of all 10,000 instances, so the full set is drawn and cut.
TSP 500 / 1000 use the same recipe (Kool et al. have no such sets). Costs are EXACT_2D (unit square). Counts
are small on purpose (a leaderboard run is instances x methods x budget); each suite's per-instance reference
is computed once by ``scripts/build_references.py`` and stored in ``data/references/<suite>.json``.
"""

from __future__ import annotations

import csv
from functools import lru_cache

from ncosolve.generators import generate
from ncosolve.io.readers import read_instance, read_solution
from ncosolve.references import data_dir

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

QUICK = ("eil51", "berlin52", "st70", "A-n32-k5", "A-n33-k5", "P-n16-k8", "C101", "R201")


@lru_cache(maxsize=None)
def _read_folder(folder: str, suffix: str) -> tuple:
    return tuple(read_instance(f) for f in sorted((data_dir() / folder).glob(f"*{suffix}")))


def tsplib(max_n: int | None = None) -> list:
    """The shipped TSPLIB instances of at most ``max_n`` nodes (all for None)."""
    return [i for i in _read_folder("tsplib", ".tsp") if max_n is None or i.n <= max_n]


def cvrplib(prefix: str) -> list:
    """The shipped CVRPLIB instances of set ``prefix`` (A, B, P, X)."""
    return [i for i in _read_folder("cvrplib", ".vrp") if i.name.startswith(prefix + "-")]


def solomon(prefix: str = "") -> list:
    """The shipped Solomon instances of class ``prefix`` (C1, C2, R2, RC1; all for "")."""
    return [i for i in _read_folder("solomon", ".vrp") if i.name.startswith(prefix)
            and (not prefix or i.name[len(prefix)].isdigit())]


def quick() -> list:
    """The 8 instances of the ``quick`` smoke suite."""
    everything = {i.name: i for i in tsplib(200) + cvrplib("A") + cvrplib("P") + solomon()}
    return [everything[name] for name in QUICK]


@lru_cache(maxsize=None)
def _file_references() -> dict[str, float]:
    out = {}
    with open(data_dir() / "tsplib" / "optimal.csv") as f:
        for row in csv.DictReader(f):
            out[row["name"]] = float(row["optimal"])
    for folder in ("cvrplib", "solomon"):
        for sol in sorted((data_dir() / folder).glob("*.sol")):
            cost = read_solution(sol)["cost"]
            if cost is not None:
                out[sol.stem] = float(cost)
    return out


def file_references(*_args) -> dict[str, float]:
    """The optima / best-known values shipped with the TSPLIB, CVRPLIB and Solomon files, by instance name."""
    return _file_references()


@lru_cache(maxsize=None)
def _generated(suite: str) -> tuple:
    problem, size, count = GENERATED[suite]
    if problem == "tsp":
        return tuple(generate("tsp", count, size, seed=SEED))
    return tuple(generate(problem, KOOL_TEST_COUNT, size, seed=SEED)[:count])


def generated(suite: str) -> list:
    """The fixed instances of a generated suite, Kool-compatible (see the module docstring)."""
    return list(_generated(suite))
