"""Generated benchmark suites: uniform TSP 50/100/500/1000 and CVRP 50/100, drawn as Kool et al.'s test sets;
lifelong MAPF on shipped maps; network design on synthetic cities and Braess.

Kool et al. (2019) draw their test sets with ``np.random.seed(1234)`` and 10,000 instances. A suite here is
the first ``count`` of those draws: for TSP, ``generate("tsp", count, size, seed=1234)`` gives exactly them
(coordinates are drawn in one C-ordered array, so a shorter set is a prefix); for CVRP the depots, customer
locations and demands are three separate arrays of all 10,000 instances, so the full set is drawn and cut.
TSP 500 / 1000 use the same recipe (Kool et al. have no such sets). Costs are EXACT_2D (unit square).

Counts are small on purpose (a leaderboard run is instances x methods x budget): 32 for TSP 50 / 100,
16 for the others. Each suite's per-instance reference is computed once by ``scripts/build_references.py``
with the strongest installed solver and stored, with how it was made, in ``data/references/<suite>.json``;
a suite whose file is missing still runs, with no gaps.

``mapf-lifelong`` (throughput, maximised) and ``ndp-synthetic`` (total travel time at user equilibrium) are
small on purpose too: a leaderboard run at a 1 s budget takes seconds per method.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from ncosolve.benchmarks import (data_dir, load_reference_file, reference_path, register_suite,
                                 stored_reference_text, use_reference_file)
from ncosolve.generators import generate

__all__ = ["GENERATED", "SEED", "KOOL_TEST_COUNT", "generated_instances", "load_reference_file", "reference_path"]

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
    _doc = use_reference_file(_suite)
    _what = "node" if _problem == "tsp" else "customer"
    register_suite(_suite, _problem, f"{_count} uniform {_size}-{_what} instances, Kool et al. draws "
                   f"(seed {SEED}), EXACT_2D", _reference_text(_suite, _doc))(
        lambda s=_suite: list(generated_instances(s)))


# mapf-lifelong: (shipped map, agents, horizon); starts and goal streams drawn with seed 0
MAPF_LIFELONG = (("random-32-32-10.map", 16, 64), ("room-32-32-4.map", 12, 64), ("warehouse-10-20-10-2-1.map", 16, 64))


@lru_cache(maxsize=None)
def _mapf_lifelong() -> tuple:
    from ncosolve.io.movingai import read_map
    from ncosolve.mapf_generators import generate_mapf_lifelong

    out = []
    for file, agents, horizon in MAPF_LIFELONG:
        grid = read_map(data_dir() / "movingai" / file)
        inst = generate_mapf_lifelong(agents=agents, horizon=horizon, seed=0, grid=grid)
        out.append(replace(inst, name=f"{file[:-4]}-lifelong-a{agents}-h{horizon}"))
    return tuple(out)


register_suite(
    "mapf-lifelong", "mapf-lifelong",
    "3 lifelong MAPF instances on shipped MovingAI maps (random-32-32-10, room-32-32-4 and "
    "warehouse-10-20-10-2-1; 16 / 12 / 16 agents, horizon 64, starts and goal streams drawn with seed 0); "
    "objective: throughput, goals reached per timestep (higher is better)",
    stored_reference_text("mapf-lifelong", use_reference_file("mapf-lifelong")), maximise=True)(
    lambda: list(_mapf_lifelong()))


@lru_cache(maxsize=None)
def _ndp_synthetic() -> tuple:
    from ncosolve.ndp_generators import (braess, dndp_instance, grid_city, lane_addition_instance,
                                         lane_swap_instance, ring_radial_city)

    trips = 2500.0  # trips per zone: congested (volume / capacity around 1-2 on the busiest links)
    return (braess(),
            dndp_instance(grid_city(4, 4, seed=0, trips_per_zone=trips)[0], 10, seed=0),
            dndp_instance(ring_radial_city(2, 6, seed=3, trips_per_zone=trips)[0], 8, seed=3),
            lane_swap_instance(*ring_radial_city(2, 6, seed=1, trips_per_zone=trips), max_pairs=6, seed=1),
            lane_addition_instance(*grid_city(3, 3, seed=2, trips_per_zone=trips), budget_ratio=0.3))


register_suite(
    "ndp-synthetic", "ndp",
    "5 network design instances on shipped networks: Braess (1 candidate: the shortcut), DNDP on a 4x4 grid "
    "city (10 new streets) and a 2-ring 6-spoke city (8), lane swaps on a ring city (12), lane additions on a 3x3 "
    "grid (24); objective: total travel time at user equilibrium",
    stored_reference_text("ndp-synthetic", use_reference_file("ndp-synthetic")))(lambda: list(_ndp_synthetic()))
