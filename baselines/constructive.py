"""Constructive heuristics: nearest neighbour and farthest / random insertion, for TSP, CVRP and CVRPTW.

They ignore the time limit (they run in O(n^2) vectorised steps) and serve as starts for local search.
"""

from __future__ import annotations

import numpy as np

from ncosolve.errors import NcoError
from ncosolve.registry import register

_TIME_EPS = 1e-6


def _row(instance, i: int, nodes: np.ndarray) -> np.ndarray:
    """Distances from node ``i`` to ``nodes`` (directed), computed on the fly: no n x n matrix."""
    return instance.distance(np.full(len(nodes), i), nodes)


def _col(instance, nodes: np.ndarray, j: int) -> np.ndarray:
    return instance.distance(nodes, np.full(len(nodes), j))


def nearest_neighbor_tour(instance, start: int = 0) -> np.ndarray:
    """Greedy tour: from ``start`` always go to the closest unvisited node."""
    n = instance.n
    tour = np.empty(n, dtype=np.int64)
    left = np.ones(n, dtype=bool)
    cur = start
    for k in range(n):
        tour[k] = cur
        left[cur] = False
        if k == n - 1:
            break
        cand = np.flatnonzero(left)
        cur = int(cand[np.argmin(_row(instance, cur, cand))])
    return tour


def _time_feasible(instance, t_now: float, cur: int, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``cand`` a vehicle at ``cur`` at time ``t_now`` can serve and still return; their start times."""
    tw, service = instance.time_windows, instance.service_times
    start = np.maximum(t_now + _row(instance, cur, cand), tw[cand, 0])
    back = start + service[cand] + _col(instance, cand, 0)
    ok = (start <= tw[cand, 1] + _TIME_EPS) & (back <= tw[0, 1] + _TIME_EPS)
    return ok, start


def nearest_neighbor_routes(instance) -> list[list[int]]:
    """Greedy routes: go to the closest customer that fits (capacity, and time windows for CVRPTW)."""
    timed = instance.problem == "cvrptw"
    left = np.ones(instance.n, dtype=bool)
    left[0] = False
    routes: list[list[int]] = []
    while left.any():
        route, cur, load = [], 0, 0.0
        t = float(instance.time_windows[0, 0]) if timed else 0.0
        while True:
            cand = np.flatnonzero(left)
            cand = cand[instance.demands[cand] + load <= instance.capacity + 1e-9]
            if len(cand) == 0:
                break
            dist = _row(instance, cur, cand)
            if timed:
                ok, start = _time_feasible(instance, t, cur, cand)
                if not ok.any():
                    break
                cand, dist, start = cand[ok], dist[ok], start[ok]
            k = int(np.argmin(dist))
            cur = int(cand[k])
            if timed:
                t = float(start[k] + instance.service_times[cur])
            route.append(cur)
            load += float(instance.demands[cur])
            left[cur] = False
        routes.append(route)
    return routes


def insertion_tour(instance, rule: str = "farthest", seed: int = 0) -> np.ndarray:
    """Insertion tour: add nodes in ``rule`` order (farthest from the tour, or random), each where it costs least."""
    n = instance.n
    if n <= 3:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    tour = [0]
    left = np.ones(n, dtype=bool)
    left[0] = False
    # distance of each node to its closest tour node (symmetrised for the farthest rule)
    near = np.minimum(_row(instance, 0, np.arange(n)), _col(instance, np.arange(n), 0))
    order = rng.permutation(np.arange(1, n)) if rule == "random" else None
    for step in range(n - 1):
        if rule == "farthest":
            k = int(np.argmax(np.where(left, near, -np.inf)))
        else:
            k = int(order[step])
        t = np.asarray(tour)
        nxt = np.roll(t, -1)
        added = _col(instance, t, k) + _row(instance, k, nxt) - instance.distance(t, nxt)
        pos = int(np.argmin(added))
        tour.insert(pos + 1, k)
        left[k] = False
        if rule == "farthest":
            all_nodes = np.arange(n)
            near = np.minimum(near, np.minimum(_row(instance, k, all_nodes), _col(instance, all_nodes, k)))
    return np.asarray(tour, dtype=np.int64)


def _route_schedule_ok(instance, route: list[int]) -> bool:
    tw, service = instance.time_windows, instance.service_times
    t, prev = float(tw[0, 0]), 0
    for c in route:
        t = max(t + float(instance.distance(prev, c)), float(tw[c, 0]))
        if t > tw[c, 1] + _TIME_EPS:
            return False
        t += float(service[c])
        prev = c
    return t + float(instance.distance(prev, 0)) <= tw[0, 1] + _TIME_EPS


def insertion_routes(instance, rule: str = "farthest", seed: int = 0) -> list[list[int]]:
    """Insert customers (farthest from the depot first, or random order) where they add least distance.

    Only capacity-feasible (and, for CVRPTW, schedule-feasible) positions are used; a customer that fits
    nowhere opens a new route.
    """
    customers = np.arange(1, instance.n)
    if rule == "random":
        order = np.random.default_rng(seed).permutation(customers)
    else:
        order = customers[np.argsort(-_row(instance, 0, customers), kind="stable")]
    timed = instance.problem == "cvrptw"
    routes: list[list[int]] = []
    loads: list[float] = []
    for c in map(int, order):
        best = (np.inf, -1, -1)
        for r, route in enumerate(routes):
            if loads[r] + instance.demands[c] > instance.capacity + 1e-9:
                continue
            walk = np.asarray([0, *route, 0])
            added = _col(instance, walk[:-1], c) + _row(instance, c, walk[1:]) - instance.distance(walk[:-1], walk[1:])
            for pos in np.argsort(added, kind="stable"):
                if added[pos] >= best[0]:
                    break
                if not timed or _route_schedule_ok(instance, route[:pos] + [c] + route[pos:]):
                    best = (float(added[pos]), r, int(pos))
                    break
        if best[1] < 0:
            routes.append([c])
            loads.append(float(instance.demands[c]))
        else:
            routes[best[1]].insert(best[2], c)
            loads[best[1]] += float(instance.demands[c])
    return routes


@register("nearest-neighbor", ("tsp", "cvrp", "cvrptw"), "Nearest-neighbour construction (capacity and time-window aware)",
          strength=1)
def nearest_neighbor(instance, time_limit=None, seed: int = 0):
    """Nearest neighbour from node 0 (TSP) or route by route from the depot (VRPs)."""
    if instance.problem == "tsp":
        return nearest_neighbor_tour(instance), {}
    return nearest_neighbor_routes(instance), {}


@register("insertion", ("tsp", "cvrp", "cvrptw"), "Farthest or random insertion (option rule='farthest'|'random')",
          strength=5)
def insertion(instance, time_limit=None, seed: int = 0, rule: str = "farthest"):
    """Insertion construction; ``rule`` picks the insertion order, ``seed`` drives the random rule."""
    if rule not in ("farthest", "random"):
        raise NcoError(f"insertion: rule must be 'farthest' or 'random', got {rule!r}")
    if instance.problem == "tsp":
        return insertion_tour(instance, rule, seed), {"rule": rule}
    return insertion_routes(instance, rule, seed), {"rule": rule}
