"""2-opt and Or-opt local search compiled with numba, on tours (TSP) and inside routes (CVRP, CVRPTW).

Tours: moves come from k-nearest candidate lists (``ncosolve.search.candidates``) with a queue of active
cities (don't-look bits); the kernel is ``ncosolve.search.tour_ops.local_search``, the same one the MCTS
restarts run (here with a full Or-opt neighbourhood over the lists, no gain-criterion pruning). Edges are computed on the fly from coordinates by the instance's own convention
(or read from a given matrix), so a 10,000-node TSP needs O(n k) memory. Asymmetric matrices get Or-opt moves without reversal only, whose delta is exact (2-opt reverses a
segment, which changes its length there). Routes: every 2-opt and Or-opt move inside each route, with
asymmetric costs exact through prefix sums and, for CVRPTW, only moves that keep every time window; between
routes, PyVRP's relocate / swap / 2-opt* descent where PyVRP is installed (``polish_routes``).

numba cannot read the clock, so kernels run in bounded chunks and the deadline is checked in Python between
them. Kernels compile on first use (seconds) and are cached on disk (``cache=True``): that compilation
counts toward the first call's runtime in a fresh cache, so time-critical callers warm up once.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from ncosolve.baselines import constructive
from ncosolve.baselines.constructive import edge, kernel_inputs
from ncosolve.errors import InfeasibleSolution, NcoError
from ncosolve.generators import kind, shrink
from ncosolve.problems import TSPInstance, evaluate
from ncosolve.problems.vrp import TIME_TOL
from ncosolve.search.candidates import nearest_neighbours
from ncosolve.search.tour_ops import local_search

NEIGHBOURS = 10  # candidate-list length for tours
# ``2opt`` starts from farthest insertion up to this size and from nearest neighbour above, where 2-opt from
# nearest neighbour ends up ~1.5% shorter (measured on uniform instances of 500 and 2000 nodes).
INSERTION_MAX_N = 1000
# The vectorised VRP insertion takes about this many seconds per n^2 with both cores busy (X-n979-k58: 1.8 s):
# 'auto' starts VRPs from nearest neighbour when insertion would take over a quarter of the time limit.
VRP_INSERTION_S_PER_N2 = 2e-6
_EPS = 1e-9
_CHUNK_WORK = 2_000_000  # about this many move evaluations (or swaps) per kernel call between clock checks


_NO_WEIGHTS = np.zeros((1, 1))  # no W / Q reinforcement (beta = 0) in the baseline
_NO_CAND = np.zeros((1, 1), dtype=np.int64)


def _tour_candidates(instance, k: int) -> np.ndarray:
    """Each city's k nearest others; asymmetric matrices are ranked by min(d(i, j), d(j, i))."""
    if not instance.symmetric:
        instance = TSPInstance(dist=np.minimum(instance.dist, instance.dist.T))
    return nearest_neighbours(instance, k)[0]


def search_tour(instance, tour, time_limit: float | None = None, seed: int = 0,
                neighbours: int = NEIGHBOURS) -> tuple[np.ndarray, dict]:
    """``improve_tour`` plus what it did: ``{"iterations": moves applied, "local_optimum": bool}``."""
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    tour = np.array(tour, dtype=np.int64)
    n = len(tour)
    if n < 3:
        return tour, {"iterations": 0, "local_optimum": True}
    pos = np.empty(n, dtype=np.int64)
    pos[tour] = np.arange(n)
    nbr = _tour_candidates(instance, neighbours)
    pts, mat, mode = kernel_inputs(instance)
    queue = np.random.default_rng(seed).permutation(n).astype(np.int64)
    active = np.ones(n, dtype=np.bool_)
    state = np.array([0, n], dtype=np.int64)
    max_moves = max(50, _CHUNK_WORK // n)  # a move costs up to n / 2 swaps
    moves = 0
    while True:
        done, optimal, _ = local_search(tour, pos, nbr, queue, active, state, pts, mat, mode, instance.symmetric,
                                        True, False, _EPS, max_moves, 0.0, _NO_WEIGHTS, _NO_WEIGHTS, _NO_CAND, 0.0)
        moves += done
        if optimal or (deadline is not None and time.perf_counter() >= deadline):
            return tour, {"iterations": moves, "local_optimum": bool(optimal)}


def improve_tour(instance, tour, time_limit: float | None = None, seed: int = 0,
                 neighbours: int = NEIGHBOURS) -> np.ndarray:
    """2-opt + Or-opt from ``tour`` until a local optimum (over ``neighbours``-nearest candidate lists) or
    ``time_limit`` seconds; never worse than the start. ``seed`` orders the first sweep.

    Returns the improved tour (a new array). Asymmetric instances get Or-opt moves only.
    """
    return search_tour(instance, tour, time_limit, seed, neighbours)[0]


@njit(cache=True)
def _on_time(walk, pts, mat, mode, ready, due, service):
    """Whether the walk 0, c1..cL, 0 meets every time window (the evaluator's rule and tolerance)."""
    t = ready[0]
    for k in range(1, walk.shape[0]):
        c = walk[k]
        t = t + edge(walk[k - 1], c, pts, mat, mode)
        if k == walk.shape[0] - 1:
            return t <= due[0] + TIME_TOL
        t = max(t, ready[c])
        if t > due[c] + TIME_TOL:
            return False
        t += service[c]
    return True


@njit(cache=True)
def _route_search(walk, pts, mat, mode, timed, ready, due, service, max_evals):
    """First-improvement 2-opt and Or-opt (segments of 1-3, either way round) inside the walk 0, c1..cL, 0,
    in place. Stops at a local optimum (returns True) or once ``max_evals`` candidate moves were scored."""
    m = walk.shape[0]
    last = m - 2
    fwd = np.zeros(m)  # fwd[k]: length of walk[0..k] forwards; bwd[k]: the same edges walked backwards
    bwd = np.zeros(m)
    cand = np.empty(m, dtype=walk.dtype)
    moves, evals = 0, 0
    while True:
        for k in range(1, m):
            fwd[k] = fwd[k - 1] + edge(walk[k - 1], walk[k], pts, mat, mode)
            bwd[k] = bwd[k - 1] + edge(walk[k], walk[k - 1], pts, mat, mode)
        found = False
        for i in range(1, last):  # 2-opt: reverse walk[i..j]
            for j in range(i + 1, last + 1):
                evals += 1
                delta = (edge(walk[i - 1], walk[j], pts, mat, mode)
                         + edge(walk[i], walk[j + 1], pts, mat, mode)
                         - edge(walk[i - 1], walk[i], pts, mat, mode)
                         - edge(walk[j], walk[j + 1], pts, mat, mode)
                         + (bwd[j] - bwd[i]) - (fwd[j] - fwd[i]))
                if delta < -_EPS:
                    cand[:] = walk
                    cand[i:j + 1] = walk[i:j + 1][::-1]
                    if not timed or _on_time(cand, pts, mat, mode, ready, due, service):
                        found = True
                        break
            if found:
                break
        for s in range(1, 4):  # Or-opt: move walk[i..i+s-1] between walk[k] and walk[k+1]
            if found:
                break
            for i in range(1, last - s + 2):
                if found:
                    break
                e = i + s - 1
                removed = (edge(walk[i - 1], walk[i], pts, mat, mode)
                           + edge(walk[e], walk[e + 1], pts, mat, mode)
                           - edge(walk[i - 1], walk[e + 1], pts, mat, mode))
                turned = (bwd[e] - bwd[i]) - (fwd[e] - fwd[i])  # the segment's change in length when reversed
                for k in range(0, last + 1):
                    if i - 1 <= k <= e:
                        continue
                    for rev in range(2 if s > 1 else 1):
                        evals += 1
                        x, y = (walk[e], walk[i]) if rev else (walk[i], walk[e])
                        delta = (edge(walk[k], x, pts, mat, mode) + edge(y, walk[k + 1], pts, mat, mode)
                                 - edge(walk[k], walk[k + 1], pts, mat, mode) - removed
                                 + (turned if rev else 0.0))
                        if delta < -_EPS:
                            at = 0
                            for t in range(m):
                                if i <= t <= e:
                                    continue
                                cand[at] = walk[t]
                                at += 1
                                if t == k:
                                    for r in range(s):
                                        cand[at] = walk[e - r] if rev else walk[i + r]
                                        at += 1
                            if not timed or _on_time(cand, pts, mat, mode, ready, due, service):
                                found = True
                                break
                    if found:
                        break
        if not found:
            return moves, True
        walk[:] = cand
        moves += 1
        if evals >= max_evals:
            return moves, False


def search_routes(instance, routes, time_limit: float | None = None) -> tuple[list[list[int]], dict]:
    """``improve_routes`` plus what it did: ``{"iterations": moves applied, "local_optimum": bool}``."""
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    pts, mat, mode = kernel_inputs(instance)
    timed = instance.problem == "cvrptw"
    if timed:
        ready, due = instance.time_windows[:, 0].copy(), instance.time_windows[:, 1].copy()
        service = instance.service_times
    else:
        ready = due = service = np.zeros(instance.n)
    out, moves, optimal = [], 0, True
    for route in routes:
        walk = np.asarray([0, *route, 0], dtype=np.int64)
        done = len(route) < 2
        while not done and (deadline is None or time.perf_counter() < deadline):
            applied, done = _route_search(walk, pts, mat, mode, timed, ready, due, service, _CHUNK_WORK)
            moves += applied
        optimal = optimal and done
        out.append(walk[1:-1].tolist())
    return out, {"iterations": moves, "local_optimum": optimal}


def between_routes(instance, seed: int = 0):
    """The between-route descent for ``instance`` (``pyvrp_solver.BetweenRoutes``: relocate, swap, 2-opt*), or
    None where PyVRP is not installed (the ``pyvrp`` extra); build once, call on many solutions."""
    try:
        from ncosolve.baselines.pyvrp_solver import BetweenRoutes
    except ImportError:
        return None
    return BetweenRoutes(instance, seed)


def cost_or_inf(instance, solution) -> float:
    """``evaluate``'s cost, or inf for a solution it refuses (over the fleet cap, a broken window)."""
    try:
        return evaluate(instance, solution)
    except InfeasibleSolution:
        return float("inf")


def polish_routes(instance, routes, time_limit: float | None = None, between=None) -> tuple[list[list[int]], dict]:
    """``between`` (from ``between_routes``; None: skipped) moves customers between routes to a local optimum,
    then ``search_routes`` reorders each route; never worse than ``routes`` by ``evaluate``.

    The between-route step works on PyVRP's integer-scaled data, so its result is kept only when ``evaluate``
    finds it feasible and no longer. Info: ``search_routes``'s, and ``between_routes`` (whether that step ran
    and was kept)."""
    start = time.perf_counter()
    deadline = None if time_limit is None else start + time_limit
    kept = False
    if between is not None:
        moved = between(routes, deadline)
        if moved is not None and cost_or_inf(instance, moved) <= cost_or_inf(instance, routes):
            routes, kept = moved, True
    left = None if deadline is None else max(0.0, deadline - time.perf_counter())
    out, info = search_routes(instance, routes, left)
    return out, {**info, "between_routes": kept}


def improve_routes(instance, routes, time_limit: float | None = None) -> list[list[int]]:
    """Intra-route 2-opt + Or-opt on each CVRP / CVRPTW route until a local optimum or ``time_limit`` seconds.

    Reordering a route keeps its load, so capacity holds; for CVRPTW only moves that keep every time window
    are made. Never worse than the input; routes the budget did not reach come back unchanged.
    """
    return search_routes(instance, routes, time_limit)[0]


def prepare_local_search(instance) -> None:
    """Compile (or load from numba's disk cache) the search kernels on the instance cut to a few nodes (same
    kind and edge-weight type), so no time limit pays for compilation (``solve`` runs this before the clock)."""
    if kind(instance) in _PREPARED:
        return
    tiny = shrink(instance)
    if instance.problem == "tsp":
        improve_tour(tiny, list(range(tiny.n)), 1.0)
    else:
        improve_routes(tiny, [[c] for c in range(1, tiny.n)], 1.0)  # singleton routes: feasible for any instance
        improve_routes(tiny, [list(range(1, tiny.n))], 1.0)  # one route, so the route kernels run
        between = between_routes(tiny)  # imports PyVRP (a second or so, once)
        if between is not None:
            between([[c] for c in range(1, tiny.n)])
    _PREPARED.add(kind(instance))


_PREPARED: set = set()


def prepare_two_opt(instance) -> None:
    """``prepare_local_search`` and the construction kernels of the start (``constructive.prepare_constructive``)."""
    constructive.prepare_constructive(instance)
    prepare_local_search(instance)


def two_opt(instance, time_limit: float | None, seed: int = 0, start: str = "auto"):
    """Construct, then improve until a local optimum or the budget runs out.

    ``start``: 'insertion' (farthest), 'nearest-neighbor', or 'auto' (insertion up to ``INSERTION_MAX_N``
    nodes, nearest neighbour above, and for VRPs also where insertion would not fit a quarter of the budget;
    always nearest neighbour for a CVRP polished between routes: farthest insertion fills its routes to capacity,
    which leaves relocations no room, and the descent from nearest neighbour ended shorter on 11 of 12
    generated CVRP100s, seed 7). VRPs are polished by ``polish_routes``. Info: ``start``, ``start_cost`` (None
    when the start is infeasible), ``iterations`` (moves applied), ``local_optimum`` (within routes),
    ``between_routes``. Kernel compilation happens before the clock (``prepare_local_search``).
    """
    t0 = time.perf_counter()
    between = None if instance.problem == "tsp" else between_routes(instance, seed)
    if start == "auto":
        slow = (instance.problem != "tsp" and time_limit is not None
                and VRP_INSERTION_S_PER_N2 * instance.n ** 2 > 0.25 * time_limit)
        packed = instance.problem == "cvrp" and between is not None
        start = "insertion" if instance.n <= INSERTION_MAX_N and not slow and not packed else "nearest-neighbor"
    builders = {"insertion": (constructive.insertion_tour, constructive.insertion_routes),
                "nearest-neighbor": (constructive.nearest_neighbor_tour, constructive.nearest_neighbor_routes)}
    if start not in builders:
        raise NcoError(f"2opt: start must be 'auto' or one of {sorted(builders)}, got {start!r}")
    build_tour, build_routes = builders[start]
    first = build_tour(instance) if instance.problem == "tsp" else build_routes(instance)
    left = None if time_limit is None else max(0.0, time_limit - (time.perf_counter() - t0))
    if instance.problem == "tsp":
        best, stats = search_tour(instance, first, left, seed)
    else:
        best, stats = polish_routes(instance, first, left, between)
    try:
        start_cost = evaluate(instance, first)
    except InfeasibleSolution:
        start_cost = None
    return best, {"start": start, "start_cost": start_cost, **stats}
