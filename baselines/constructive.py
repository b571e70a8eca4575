"""Constructive heuristics: nearest neighbour and insertion (farthest, random, cheapest) for TSP, CVRP, CVRPTW.

TSP builders are numba kernels that measure edges on the fly by the instance's own convention
(``ncosolve.search.metric``), so a 10,000-node tour needs O(n) memory and a fraction of a second. VRP
builders are vectorised numpy over the open customers. All use directed distances, so asymmetric matrices
are handled. They ignore the time limit and serve as starts for local search (``2opt``).
"""

from __future__ import annotations


import numpy as np
from numba import njit

from ncosolve.errors import NcoError
from ncosolve.problems.vrp import LOAD_TOL, TIME_TOL
from ncosolve.search.metric import MODES, kernel_metric
from ncosolve.search.metric import edge_length as edge

RULES = ("farthest", "random", "cheapest")
_EXPLICIT = MODES["EXPLICIT"]


def kernel_inputs(instance) -> tuple[np.ndarray, np.ndarray, int]:
    """``(points, matrix, mode)`` for ``edge``: the given matrix (asymmetric too), else the coordinates,
    whose edges the kernels compute on the fly (faster than filling a dense matrix, measured up to n = 2000)."""
    if instance.edge_weight_type == "EXPLICIT":
        return np.zeros((1, 2)), np.array(instance.dist, dtype=np.float64, order="C"), _EXPLICIT  # writeable: one numba signature
    return kernel_metric(instance)


@njit(cache=True)
def _nearest_neighbour(n, start, pts, mat, mode):
    """Greedy tour from ``start``; the unvisited cities are kept compact, so step k scans n - k of them."""
    tour = np.empty(n, dtype=np.int64)
    left = np.arange(n)
    left[start], left[n - 1] = left[n - 1], left[start]
    m = n - 1
    cur = start
    tour[0] = start
    for k in range(1, n):
        best, at = np.inf, 0
        for t in range(m):
            d = edge(cur, left[t], pts, mat, mode)
            if d < best:
                best, at = d, t
        cur = left[at]
        tour[k] = cur
        m -= 1
        left[at] = left[m]
    return tour


@njit(cache=True)
def _best_edge(u, members, count, nxt, out_len, pts, mat, mode):
    """Cheapest insertion of ``u`` into the partial tour: (added length, city it goes after)."""
    best, after = np.inf, members[0]
    for s in range(count):
        i = members[s]
        added = edge(i, u, pts, mat, mode) + edge(u, nxt[i], pts, mat, mode) - out_len[i]
        if added < best:
            best, after = added, i
    return best, after


@njit(cache=True)
def _insertion(n, rule, order, pts, mat, mode):
    """Insertion tour. ``rule`` 0: farthest (the city farthest from the tour next), 1: ``order``'s sequence,
    2: cheapest (the city whose best insertion adds least). Each city goes where it adds least.

    Cheapest keeps each open city's best insertion; when that edge is broken the old cost stays as a lower
    bound (every other edge cost at least as much) and the city is rescanned only if it comes up as the
    minimum, so the choice is exact without rescanning every time.
    """
    nxt = np.empty(n, dtype=np.int64)  # the tour as a successor list
    out_len = np.empty(n, dtype=np.float64)  # length of edge (i, nxt[i])
    members = np.empty(n, dtype=np.int64)
    left = np.empty(n - 1, dtype=np.int64)
    first = order[0]
    nxt[first] = first
    out_len[first] = 0.0
    members[0] = first
    count = 1
    m = 0
    for t in range(n):
        if t != first:
            left[m] = t
            m += 1
    key = np.empty(n, dtype=np.float64)  # farthest: distance to the tour; cheapest: best insertion (bound)
    best_from = np.empty(n, dtype=np.int64)  # cheapest: the city after which that insertion goes
    stale = np.zeros(n, dtype=np.bool_)  # cheapest: key is only a lower bound
    for t in range(m):
        u = left[t]
        dfu, duf = edge(first, u, pts, mat, mode), edge(u, first, pts, mat, mode)
        key[u] = min(dfu, duf) if rule == 0 else dfu + duf
        best_from[u] = first
    for step in range(1, n):
        at = 0
        if rule == 1:
            while left[at] != order[step]:
                at += 1
        elif rule == 0:
            for t in range(1, m):
                if key[left[t]] > key[left[at]]:
                    at = t
        else:
            while True:
                at = 0
                for t in range(1, m):
                    if key[left[t]] < key[left[at]]:
                        at = t
                u = left[at]
                if not stale[u]:
                    break
                key[u], best_from[u] = _best_edge(u, members, count, nxt, out_len, pts, mat, mode)
                stale[u] = False
        k = left[at]
        m -= 1
        left[at] = left[m]
        if rule == 2:
            a = best_from[k]
        else:
            a = _best_edge(k, members, count, nxt, out_len, pts, mat, mode)[1]
        b = nxt[a]
        d_ak, d_kb = edge(a, k, pts, mat, mode), edge(k, b, pts, mat, mode)
        nxt[a], nxt[k] = k, b
        out_len[a], out_len[k] = d_ak, d_kb
        members[count] = k
        count += 1
        if rule == 0:
            for t in range(m):
                u = left[t]
                key[u] = min(key[u], edge(k, u, pts, mat, mode), edge(u, k, pts, mat, mode))
        elif rule == 2:
            for t in range(m):
                u = left[t]
                if best_from[u] == a and not stale[u]:
                    stale[u] = True  # its best edge (a, b) is gone
                via_a = edge(a, u, pts, mat, mode) + edge(u, k, pts, mat, mode) - d_ak
                via_k = edge(k, u, pts, mat, mode) + edge(u, b, pts, mat, mode) - d_kb
                if via_a < key[u]:
                    key[u], best_from[u], stale[u] = via_a, a, False
                if via_k < key[u]:
                    key[u], best_from[u], stale[u] = via_k, k, False
    tour = np.empty(n, dtype=np.int64)
    cur = 0
    for t in range(n):
        tour[t] = cur
        cur = nxt[cur]
    return tour


def nearest_neighbor_tour(instance, start: int = 0) -> np.ndarray:
    """Greedy tour: from ``start`` always go to the closest unvisited node (directed distances)."""
    return _nearest_neighbour(instance.n, start, *kernel_inputs(instance))


def insertion_tour(instance, rule: str = "farthest", seed: int = 0) -> np.ndarray:
    """Insertion tour starting at node 0 (random rule: at a random node, then random order); see ``_insertion``."""
    _check_rule(rule)
    n = instance.n
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(n) if rule == "random" else np.zeros(n, dtype=np.int64)
    return _insertion(n, RULES.index(rule), order.astype(np.int64), *kernel_inputs(instance))


def _check_rule(rule: str) -> None:
    if rule not in RULES:
        raise NcoError(f"insertion: rule must be one of {', '.join(map(repr, RULES))}, got {rule!r}")


def _time_feasible(instance, t_now: float, cur: int, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``cand`` a vehicle at ``cur`` at time ``t_now`` can serve and still return; their start times."""
    tw, service = instance.time_windows, instance.service_times
    start = np.maximum(t_now + instance.distance(cur, cand), tw[cand, 0])
    back = start + service[cand] + instance.distance(cand, 0)
    ok = (start <= tw[cand, 1] + TIME_TOL) & (back <= tw[0, 1] + TIME_TOL)
    return ok, start


def nearest_neighbor_routes(instance) -> list[list[int]]:
    """Greedy routes: go to the closest customer that fits (capacity, and time windows for CVRPTW).

    A route closes when nothing fits; routes beyond ``num_vehicles`` are still built, so the solution is
    complete and ``evaluate`` names the fleet overrun.
    """
    timed = instance.problem == "cvrptw"
    left = np.ones(instance.n, dtype=bool)
    left[0] = False
    routes: list[list[int]] = []
    while left.any():
        route, cur, load = [], 0, 0.0
        t = float(instance.time_windows[0, 0]) if timed else 0.0
        while True:
            cand = np.flatnonzero(left)
            cand = cand[instance.demands[cand] + load <= instance.capacity + LOAD_TOL]
            if len(cand) == 0:
                break
            dist = instance.distance(cur, cand)
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


def _schedule(instance, walk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a walk 0, c1..cL, 0: departure time from each of positions 0..L, and the latest service start at
    positions 1..L+1 that keeps the rest of the walk on time (Solomon's push-forward bounds)."""
    tw, service = instance.time_windows, instance.service_times
    leg = instance.distance(walk[:-1], walk[1:])
    depart = np.empty(len(walk) - 1)
    depart[0] = tw[0, 0]
    for k in range(1, len(walk) - 1):
        depart[k] = max(depart[k - 1] + leg[k - 1], tw[walk[k], 0]) + service[walk[k]]
    latest = np.empty(len(walk) - 1)
    latest[-1] = tw[0, 1]
    for k in range(len(walk) - 2, 0, -1):
        latest[k - 1] = min(tw[walk[k], 1], latest[k] - leg[k] - service[walk[k]])
    return depart, latest


def _best_insertions(instance, route: list[int], load: float, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least added distance of inserting each of ``cand`` into ``route`` where capacity (and time windows)
    allow, and at which position; inf where no position is feasible."""
    walk = np.asarray([0, *route, 0], dtype=np.int64)
    a, b = walk[:-1], walk[1:]
    to_c = instance.distance(a[None, :], cand[:, None])
    from_c = instance.distance(cand[:, None], b[None, :])
    added = to_c + from_c - instance.distance(a, b)[None, :]
    ok = np.broadcast_to((instance.demands[cand] + load <= instance.capacity + LOAD_TOL)[:, None], added.shape)
    if instance.problem == "cvrptw":
        tw, service = instance.time_windows, instance.service_times
        depart, latest = _schedule(instance, walk)
        start = np.maximum(depart[None, :] + to_c, tw[cand, 0][:, None])
        next_start = np.maximum(start + service[cand][:, None] + from_c, tw[b, 0][None, :])
        ok = ok & (start <= tw[cand, 1][:, None] + TIME_TOL) & (next_start <= latest[None, :] + TIME_TOL)
    added = np.where(ok, added, np.inf)
    pos = np.argmin(added, axis=1)
    return added[np.arange(len(cand)), pos], pos


def insertion_routes(instance, rule: str = "farthest", seed: int = 0) -> list[list[int]]:
    """Insertion routes: customers in ``rule`` order (farthest from the depot first, random, or the globally
    cheapest insertion next), each at its cheapest capacity- and time-window-feasible position.

    A customer that fits nowhere opens a route, while the fleet (``num_vehicles``) allows; otherwise it waits
    until everything that fits has been placed, and the leftovers then open routes beyond the fleet, so the
    solution is complete and ``evaluate`` names the overrun.
    """
    _check_rule(rule)
    n = instance.n
    open_ = np.zeros(n, dtype=bool)
    open_[1:] = True
    waiting = np.zeros(n, dtype=bool)
    fleet = instance.num_vehicles or n
    routes: list[list[int]] = []
    loads: list[float] = []
    cost = np.full((n, 4), np.inf)  # cost[c, r]: cheapest feasible insertion of c into route r, at pos[c, r]
    pos = np.zeros((n, 4), dtype=np.int64)
    every = np.arange(n)
    far = np.minimum(instance.distance(0, every), instance.distance(every, 0))  # from the depot
    rank = np.zeros(n)
    rank[1:] = np.random.default_rng(seed).permutation(n - 1)  # the random rule's order

    def refresh(r: int) -> None:
        cand = np.flatnonzero(open_)
        if len(cand):
            cost[cand, r], pos[cand, r] = _best_insertions(instance, routes[r], loads[r], cand)

    while open_.any():
        ready = open_ & ~waiting
        if not ready.any():  # the fleet is full and these fit nowhere: build routes beyond it
            fleet, waiting[:] = n, False
            continue
        if rule == "cheapest":
            cand = np.flatnonzero(ready)
            flat = int(np.argmin(cost[cand, :len(routes)])) if routes else 0
            c, r = int(cand[flat // max(len(routes), 1)]), flat % max(len(routes), 1)
            if not routes or not np.isfinite(cost[c, r]):
                c = int(cand[np.argmax(far[cand])])  # seed a new route with the farthest customer
        else:
            c = int(np.argmax(np.where(ready, far, -np.inf)) if rule == "farthest" else np.argmin(np.where(ready, rank, np.inf)))
            r = int(np.argmin(cost[c, :len(routes)])) if routes else 0
        if routes and np.isfinite(cost[c, r]):
            routes[r].insert(int(pos[c, r]), c)
            loads[r] += float(instance.demands[c])
        elif len(routes) < fleet:
            r = len(routes)
            routes.append([c])
            loads.append(float(instance.demands[c]))
            if r == cost.shape[1]:
                cost = np.hstack([cost, np.full_like(cost, np.inf)])
                pos = np.hstack([pos, np.zeros_like(pos)])
        else:
            waiting[open_ if rule == "cheapest" else c] = True
            continue
        open_[c] = False
        refresh(r)
    return routes


def nearest_neighbor(instance, time_limit=None, seed: int = 0):
    """Nearest neighbour from node 0 (TSP) or route by route from the depot (VRPs); deterministic."""
    if instance.problem == "tsp":
        return nearest_neighbor_tour(instance), {}
    routes = nearest_neighbor_routes(instance)
    return routes, {"routes": len(routes)}


def insertion(instance, time_limit=None, seed: int = 0, rule: str = "farthest"):
    """Insertion construction; ``rule`` picks which node goes in next, ``seed`` drives the random rule."""
    _check_rule(rule)
    if instance.problem == "tsp":
        return insertion_tour(instance, rule, seed), {"rule": rule}
    routes = insertion_routes(instance, rule, seed)
    return routes, {"rule": rule, "routes": len(routes)}


def prepare_constructive(instance) -> None:
    """Compile (or load from numba's disk cache) the construction kernels on a tiny instance of the same problem,
    so no budget pays for it (``solve`` runs this before the clock)."""
    from ncosolve.generators import kind, shrink

    if kind(instance) not in _PREPARED:
        _prepare_on(shrink(instance))
        _PREPARED.add(kind(instance))


_PREPARED: set = set()


def _prepare_on(tiny) -> None:
    nearest_neighbor(tiny)
    for rule in RULES:
        insertion(tiny, rule=rule)
