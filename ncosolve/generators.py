"""Seeded instance generators. ``uniform`` is bit-compatible with the Kool et al. (2019) test sets."""

from __future__ import annotations

import numpy as np

from ncosolve.errors import InvalidInstance
from ncosolve.problems import CVRPInstance, CVRPTWInstance, TSPInstance

DISTRIBUTIONS = ("uniform", "clustered", "mixed")

# Kool et al. capacities by number of customers; other sizes take the nearest listed one.
CVRP_CAPACITY = {10: 20, 20: 30, 50: 40, 100: 50, 200: 70, 500: 100, 1000: 150}

# CVRPTW generator constants (unit square, travel time = distance).
TW_HORIZON = 3.0
TW_SERVICE = 0.1


def cvrp_capacity(size: int) -> int:
    """Vehicle capacity for a CVRP with ``size`` customers (Kool et al. table, nearest size elsewhere)."""
    return CVRP_CAPACITY[min(CVRP_CAPACITY, key=lambda s: (abs(s - size), s))]


def _points(rng: np.random.RandomState, count: int, size: int, distribution: str) -> np.ndarray:
    """(count, size, 2) points in the unit square."""
    if distribution == "uniform":
        return rng.uniform(size=(count, size, 2))
    if distribution == "clustered":
        return _clustered(rng, count, size)
    if distribution == "mixed":
        half = size // 2
        pts = np.concatenate([rng.uniform(size=(count, size - half, 2)), _clustered(rng, count, half)], axis=1)
        for p in pts:  # interleave so that neither kind sits at fixed indices
            rng.shuffle(p)
        return pts
    raise InvalidInstance(f"distribution: {distribution!r} is not one of {DISTRIBUTIONS}")


def _clustered(rng: np.random.RandomState, count: int, size: int) -> np.ndarray:
    """Gaussian clusters (3 to 7 centres, sd 0.05) clipped to the unit square."""
    out = np.empty((count, size, 2))
    for k in range(count):
        centres = rng.uniform(0.1, 0.9, size=(rng.randint(3, 8), 2))
        which = rng.randint(len(centres), size=size)
        out[k] = np.clip(centres[which] + rng.normal(scale=0.05, size=(size, 2)), 0.0, 1.0)
    return out


def generate(problem: str, n: int, size: int, seed: int = 0, distribution: str = "uniform") -> list:
    """``n`` seeded instances of ``problem`` ("tsp", "cvrp", "cvrptw") with ``size`` nodes (customers for VRPs).

    Uniform TSP/CVRP draw exactly as Kool et al.: ``np.random.seed(seed)``, then for TSP
    ``uniform(size=(n, size, 2))``; for CVRP depot, then locations, then demands ``randint(1, 10)``.
    """
    if n < 1 or size < 1:
        raise InvalidInstance(f"generate: need n >= 1 instances of size >= 1, got n={n}, size={size}")
    rng = np.random.RandomState(seed)
    if problem == "tsp":
        pts = _points(rng, n, size, distribution)
        return [TSPInstance(coords=p, name=f"tsp{size}-{distribution}-{seed}-{k}") for k, p in enumerate(pts)]
    if problem not in ("cvrp", "cvrptw"):
        raise InvalidInstance(f"generate: problem {problem!r} is not one of tsp, cvrp, cvrptw")
    depots = rng.uniform(size=(n, 2))
    locs = _points(rng, n, size, distribution)
    demands = rng.randint(1, 10, size=(n, size))
    capacity = cvrp_capacity(size)
    out = []
    for k in range(n):
        coords = np.vstack([depots[k], locs[k]])
        dem = np.concatenate([[0], demands[k]])
        name = f"{problem}{size}-{distribution}-{seed}-{k}"
        if problem == "cvrp":
            out.append(CVRPInstance(coords=coords, demands=dem, capacity=capacity, name=name))
        else:
            out.append(_with_time_windows(rng, coords, dem, capacity, name))
    return out


def _with_time_windows(rng, coords, demands, capacity, name) -> CVRPTWInstance:
    """Windows a dedicated vehicle can always meet: centred on a reachable time, 5-25% of the horizon wide."""
    d0 = np.linalg.norm(coords - coords[0], axis=1)
    latest = TW_HORIZON - d0 - TW_SERVICE  # latest service start that still returns in time
    centre = rng.uniform(d0, latest)
    half = rng.uniform(0.05, 0.25, size=len(coords)) * TW_HORIZON / 2
    tw = np.column_stack([np.maximum(0.0, centre - half), np.minimum(latest, centre + half)])
    tw[0] = (0.0, TW_HORIZON)
    service = np.full(len(coords), TW_SERVICE)
    service[0] = 0.0
    return CVRPTWInstance(coords=coords, demands=demands, capacity=capacity, time_windows=tw,
                          service_times=service, name=name)


def shrink(instance, k: int = 6):
    """A copy of a routing instance cut to its first ``k`` nodes (depot first), same kind and edge-weight type:
    what a method's ``prepare`` solves to compile its kernels for exactly the types the real instance will use."""
    import dataclasses

    n = instance.n
    if n <= k:
        return instance
    cut = {}
    for f in dataclasses.fields(instance):
        value = getattr(instance, f.name)
        if isinstance(value, np.ndarray) and value.ndim and value.shape[0] == n:
            index = tuple(slice(0, k) if size == n else slice(None) for size in value.shape)
            cut[f.name] = value[index]
    return dataclasses.replace(instance, name=f"{instance.name}-first{k}", **cut)


def kind(instance) -> tuple:
    """What decides which compiled kernels an instance needs: problem, planar or matrix, edge-weight type."""
    return instance.problem, instance.coords is not None, instance.edge_weight_type
