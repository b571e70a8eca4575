"""2-opt and Or-opt local search compiled with numba, on k-nearest candidate lists (no n x n matrix needed).

Distances come from a dense matrix for small or explicit instances, else from coordinates inside the
kernel with the instance's rounding convention, so a 10,000-node TSP needs O(n k) memory. numba
compiles the kernels on first use (a few seconds, cached on disk afterwards).
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit
from scipy.spatial import cKDTree

from ncosolve.errors import NcoError
from ncosolve.problems import TSPInstance, evaluate
from ncosolve.registry import register

DENSE_MAX_N = 2000
NEIGHBOURS = 10
_CHUNK_MOVES = 2000
_EPS = 1e-9
_KINDS = {"EXACT_2D": 0, "EUC_2D": 1, "CEIL_2D": 2, "TRUNC1_2D": 3, "ATT": 4}


@njit(cache=True, inline="always")
def _dist(i, j, coords, mat, kind):
    if kind < 0:
        return mat[i, j]
    dx = coords[i, 0] - coords[j, 0]
    dy = coords[i, 1] - coords[j, 1]
    if kind == 4:
        r = np.sqrt((dx * dx + dy * dy) / 10.0)
        t = np.floor(r + 0.5)
        return t + 1.0 if t < r else t
    d = np.sqrt(dx * dx + dy * dy)
    if kind == 1:
        return np.floor(d + 0.5)
    if kind == 2:
        return np.ceil(d)
    if kind == 3:
        return np.floor(d * 10.0 + 1e-9) / 10.0
    return d


@njit(cache=True)
def _reverse(tour, pos, i, j):
    """Reverse tour positions i..j (cyclic, forward); reverses the shorter side, valid for symmetric costs."""
    n = len(tour)
    length = (j - i) % n + 1
    if 2 * length > n:
        i, j = (j + 1) % n, (i - 1) % n
        length = n - length
    for _ in range(length // 2):
        a, b = tour[i], tour[j]
        tour[i], pos[b] = b, i
        tour[j], pos[a] = a, j
        i = (i + 1) % n
        j = (j - 1) % n


@njit(cache=True)
def _move_segment(tour, pos, s_pos, seg_len, c, reverse):
    """Move the segment of ``seg_len`` cities starting at position ``s_pos`` to just after city ``c``."""
    n = len(tour)
    seg = np.empty(seg_len, dtype=tour.dtype)
    for k in range(seg_len):
        seg[k] = tour[(s_pos + k) % n]
    if reverse:
        seg = seg[::-1].copy()
    out = np.empty(n, dtype=tour.dtype)
    m = 0
    p = (s_pos + seg_len) % n
    for _ in range(n - seg_len):
        city = tour[p]
        out[m] = city
        m += 1
        if city == c:
            for k in range(seg_len):
                out[m] = seg[k]
                m += 1
        p = (p + 1) % n
    for k in range(n):
        tour[k] = out[k]
        pos[out[k]] = k


@njit(cache=True)
def _local_search(tour, pos, neigh, order, coords, mat, kind, symmetric, max_moves):
    """Apply improving 2-opt (symmetric only) and Or-opt moves until none is left or ``max_moves`` applied.

    Returns (moves applied, whether a local optimum was reached).
    """
    n = len(tour)
    moves = 0
    improved = True
    while improved:
        improved = False
        for a in order:
            # 2-opt: replace (a, succ a), (c, succ c) by (a, c), (succ a, succ c); same with predecessors
            if symmetric:
                for direction in range(2):
                    pa = pos[a]
                    b = tour[(pa + 1) % n] if direction == 0 else tour[(pa - 1) % n]
                    d_ab = _dist(a, b, coords, mat, kind)
                    for c in neigh[a]:
                        d_ac = _dist(a, c, coords, mat, kind)
                        if d_ac >= d_ab - _EPS:
                            break
                        pc = pos[c]
                        d = tour[(pc + 1) % n] if direction == 0 else tour[(pc - 1) % n]
                        if d == a or c == b:
                            continue
                        delta = d_ac + _dist(b, d, coords, mat, kind) - d_ab - _dist(c, d, coords, mat, kind)
                        if delta < -_EPS:
                            if direction == 0:
                                _reverse(tour, pos, (pa + 1) % n, pc)
                            else:
                                _reverse(tour, pos, pa, (pc - 1) % n)
                            moves += 1
                            improved = True
                            break
                    if moves >= max_moves:
                        return moves, False
            # Or-opt: move the segment of 1-3 cities starting at a next to one of a's neighbours
            for seg_len in range(1, 4):
                if seg_len + 2 > n:
                    break
                ps = pos[a]
                e = tour[(ps + seg_len - 1) % n]
                p = tour[(ps - 1) % n]
                q = tour[(ps + seg_len) % n]
                removed = _dist(p, a, coords, mat, kind) + _dist(e, q, coords, mat, kind) - _dist(p, q, coords, mat, kind)
                done = False
                for c in neigh[a]:
                    off = (pos[c] - ps) % n
                    if off < seg_len:
                        continue  # c inside the segment
                    for reverse in range(2 if symmetric else 1):
                        # forward: c a..e succ(c); reversed: pred(c) e..a c
                        if reverse == 0:
                            d = tour[(pos[c] + 1) % n]
                            if c == p:
                                continue
                            added = _dist(c, a, coords, mat, kind) + _dist(e, d, coords, mat, kind) - _dist(c, d, coords, mat, kind)
                            after = c
                        else:
                            d = tour[(pos[c] - 1) % n]
                            if c == q:
                                continue
                            added = _dist(d, e, coords, mat, kind) + _dist(a, c, coords, mat, kind) - _dist(d, c, coords, mat, kind)
                            after = d
                        if (pos[after] - ps) % n < seg_len:
                            continue
                        if added - removed < -_EPS:
                            _move_segment(tour, pos, ps, seg_len, after, reverse == 1)
                            moves += 1
                            improved = True
                            done = True
                            break
                    if done:
                        break
                if done:
                    break
            if moves >= max_moves:
                return moves, False
    return moves, True


def _kernel_inputs(instance):
    """(coords, matrix, kind) for the kernel: a dense matrix when small or non-coordinate, else coordinates."""
    kind = _KINDS.get(instance.edge_weight_type)
    if instance.coords is not None and kind is not None and instance.n > DENSE_MAX_N:
        return np.ascontiguousarray(instance.coords), np.zeros((1, 1)), kind
    return np.zeros((1, 2)), np.ascontiguousarray(instance.distance_matrix()), -1


def candidate_lists(instance, k: int = NEIGHBOURS) -> np.ndarray:
    """(n, k) nearest neighbours of each node, closest first (by coordinates, or by the matrix both ways)."""
    n = instance.n
    k = min(k, n - 1)
    if k <= 0:
        return np.zeros((n, 0), dtype=np.int64)
    if instance.coords is not None and instance.edge_weight_type in _KINDS:
        _, idx = cKDTree(instance.coords).query(instance.coords, k=k + 1)
        idx = np.asarray(idx, dtype=np.int64)
        # duplicate points can put a node's own index anywhere in its list: drop it, keep k others
        out = np.empty((n, k), dtype=np.int64)
        for i in range(n):
            row = idx[i][idx[i] != i]
            out[i] = row[:k]
        return out
    m = instance.distance_matrix()
    sym = np.minimum(m, m.T) + np.diag(np.full(n, np.inf))
    part = np.argpartition(sym, k - 1, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(sym, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1).astype(np.int64)


def improve_tour(instance, tour, time_limit: float | None = None, seed: int = 0, neighbours: int = NEIGHBOURS):
    """2-opt + Or-opt from ``tour`` until a local optimum or ``time_limit`` seconds; never worse than the start.

    Asymmetric instances get Or-opt moves only (2-opt would reverse a segment and change its cost).
    """
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    tour = np.array(tour, dtype=np.int64)
    n = len(tour)
    if n < 4:
        return tour
    pos = np.empty(n, dtype=np.int64)
    pos[tour] = np.arange(n)
    neigh = candidate_lists(instance, neighbours)
    coords, mat, kind = _kernel_inputs(instance)
    order = np.random.default_rng(seed).permutation(n).astype(np.int64)
    while True:
        _, optimal = _local_search(tour, pos, neigh, order, coords, mat, kind, instance.symmetric, _CHUNK_MOVES)
        if optimal or (deadline is not None and time.perf_counter() >= deadline):
            return tour


def improve_routes(instance, routes, time_limit: float | None = None, seed: int = 0) -> list[list[int]]:
    """Intra-route 2-opt + Or-opt on each CVRP route (capacity is unaffected by reordering a route)."""
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    out = []
    for route in routes:
        nodes = np.asarray([0, *route], dtype=np.int64)
        left = None if deadline is None else max(0.0, deadline - time.perf_counter())
        if len(nodes) < 4 or left == 0.0:
            out.append(list(route))
            continue
        sub = TSPInstance(dist=instance.distance(nodes[:, None], nodes[None, :]))
        walk = improve_tour(sub, np.arange(len(nodes)), left, seed)
        walk = np.roll(walk, -int(np.flatnonzero(walk == 0)[0]))
        out.append(nodes[walk[1:]].tolist())
    return out


@register("2opt", ("tsp", "cvrp"), "Insertion start + numba 2-opt / Or-opt local search (intra-route for CVRP)",
          default_time_limit=10.0, strength=10)
def two_opt(instance, time_limit: float | None, seed: int = 0, start: str = "auto"):
    """Construct, then improve until a local optimum or the budget runs out.

    ``start``: 'insertion' (farthest), 'nearest-neighbor', or 'auto' (insertion up to DENSE_MAX_N nodes,
    nearest neighbour above, where insertion's O(n^2) Python steps would eat the budget).
    """
    from ncosolve.baselines import constructive

    t0 = time.perf_counter()
    if start == "auto":
        start = "insertion" if instance.n <= DENSE_MAX_N else "nearest-neighbor"
    builders = {"insertion": (constructive.insertion_tour, constructive.insertion_routes),
                "nearest-neighbor": (constructive.nearest_neighbor_tour, constructive.nearest_neighbor_routes)}
    if start not in builders:
        raise NcoError(f"2opt: start must be 'auto' or one of {sorted(builders)}, got {start!r}")
    build_tour, build_routes = builders[start]
    if instance.problem == "tsp":
        first, improve = build_tour(instance), improve_tour
    else:
        first, improve = build_routes(instance), improve_routes
    left = None if time_limit is None else max(0.0, time_limit - (time.perf_counter() - t0))
    return improve(instance, first, left, seed), {"start": start, "start_cost": evaluate(instance, first)}
