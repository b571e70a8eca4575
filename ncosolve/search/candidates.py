"""Sparse neighbour structures: each city's k nearest cities, its quadrant neighbours, never an n x n matrix.

Coordinates go through a k-d tree (``scipy.spatial.cKDTree``), O(n k) memory. GEO coordinates
(latitude / longitude) and explicit matrices are ranked row block by row block under the instance's
own distance, so memory stays O(block * n).

On clustered instances the k nearest cities of a city often all lie in its own cluster, so no candidate
edge leaves it and neither 2-opt nor the search can repair the order of the clusters. Quadrant neighbours
(the nearest ``q`` cities in each of the four quadrants around a city, as in LKH-3's quadrant candidate
sets) always include cities on every side; ``candidate_lists`` gives the union of both.

Neither catches the long edges that join clusters far apart. Alpha-nearness (Helsgaun 2000) does:
alpha(i, j) is how much longer the minimum spanning tree gets when it must contain edge (i, j), so every tree
edge, however long, has alpha 0. ``alpha_neighbours`` computes it exactly under the instance's own metric, in
O(n^2) time and O(n) memory.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.spatial import cKDTree

from ncosolve.search.metric import edge_length, kernel_metric

_BLOCK_ROWS = 256
# Quadrant neighbours are first looked for among this many nearest cities; a city with a quadrant still
# short of q cities then scans every city for that quadrant (O(n) for each such city).
_QUADRANT_POOL = 32


def nearest_neighbours(instance, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other cities of every city, nearest first: ``(index (n, k) int64, length (n, k))``.

    Lengths follow the instance's convention (``instance.distance``). ``k`` is capped at n - 1.
    """
    n = instance.n
    k = max(1, min(int(k), n - 1))
    rows = np.arange(n)
    if instance.coords is not None and instance.edge_weight_type != "GEO":
        _, idx = cKDTree(instance.coords).query(instance.coords, k=k + 1)
        idx = np.asarray(idx, dtype=np.int64).reshape(n, k + 1)
        # Drop each city itself; with duplicate points it may not come first, or not at all.
        keep_order = np.argsort(idx == rows[:, None], axis=1, kind="stable")[:, :k]
        idx = np.take_along_axis(idx, keep_order, axis=1)
    else:
        idx = np.empty((n, k), dtype=np.int64)
        for start in range(0, n, _BLOCK_ROWS):
            block = rows[start:start + _BLOCK_ROWS]
            d = np.array(instance.distance(block[:, None], rows[None, :]), dtype=np.float64)
            d[np.arange(len(block)), block] = np.inf
            part = np.argpartition(d, k - 1, axis=1)[:, :k]
            order = np.argsort(np.take_along_axis(d, part, axis=1), axis=1, kind="stable")
            idx[start:start + len(block)] = np.take_along_axis(part, order, axis=1)
    length = np.asarray(instance.distance(rows[:, None], idx), dtype=np.float64)
    # Stable re-sort by the convention's length (rounding may tie or, for GEO, reorder).
    order = np.argsort(length, axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(length, order, axis=1)


def reverse_slots(nbr: np.ndarray) -> np.ndarray:
    """For each (i, r) with j = nbr[i, r]: the column of i in j's list, or -1 when i is not among j's."""
    n, k = nbr.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    keys = rows * n + nbr.ravel()
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    wanted = nbr.ravel() * n + rows
    at = np.minimum(np.searchsorted(sorted_keys, wanted), len(keys) - 1)
    found = sorted_keys[at] == wanted
    col = order[at] % k
    return np.where(found, col, -1).reshape(n, k)


@njit(cache=True)
def _quadrant(dx: float, dy: float) -> int:
    """Quadrant 0..3 of the offset (dx, dy) (each half-axis in exactly one quadrant), -1 for (0, 0)."""
    if dx == 0.0 and dy == 0.0:
        return -1
    if dx > 0.0 and dy >= 0.0:
        return 0
    if dx <= 0.0 and dy > 0.0:
        return 1
    if dx < 0.0 and dy <= 0.0:
        return 2
    return 3


@njit(cache=True)
def _quadrant_kernel(pts: np.ndarray, pool: np.ndarray, q: int) -> np.ndarray:
    """(n, 4 q) quadrant neighbours, -1 where a quadrant holds fewer than q cities; slot quadrant * q + rank."""
    n = pts.shape[0]
    out = np.full((n, 4 * q), -1, dtype=np.int64)
    best = np.empty((4, q))
    count = np.zeros(4, dtype=np.int64)
    for i in range(n):
        count[:] = 0
        for c in pool[i]:  # nearest first: the first q met in a quadrant are its q nearest
            if c == i:
                continue
            h = _quadrant(pts[c, 0] - pts[i, 0], pts[c, 1] - pts[i, 1])
            if h >= 0 and count[h] < q:
                out[i, h * q + count[h]] = c
                count[h] += 1
        if count.min() >= q or pool.shape[1] >= n:
            continue
        for h in range(4):  # the pool was too short for some quadrant: scan every city for it
            if count[h] >= q:
                continue
            count[h] = 0
            for c in range(n):
                if c == i or _quadrant(pts[c, 0] - pts[i, 0], pts[c, 1] - pts[i, 1]) != h:
                    continue
                dx = pts[c, 0] - pts[i, 0]
                dy = pts[c, 1] - pts[i, 1]
                d = dx * dx + dy * dy
                at = count[h]
                if at == q:
                    if d >= best[h, q - 1]:
                        continue
                    at = q - 1
                else:
                    count[h] += 1
                while at > 0 and best[h, at - 1] > d:  # insertion into the sorted q best
                    best[h, at] = best[h, at - 1]
                    out[i, h * q + at] = out[i, h * q + at - 1]
                    at -= 1
                best[h, at] = d
                out[i, h * q + at] = c
    return out


def quadrant_neighbours(instance, q: int) -> np.ndarray:
    """The ``q`` nearest other cities in each of the four quadrants around every city: (n, 4 q) int64, slot
    ``h * q + r`` the r-th nearest in quadrant h (counter-clockwise from +x), -1 where quadrant h holds
    fewer than q cities. Cities at the same point belong to no quadrant. Instances without coordinates (explicit
    matrices) have no quadrants: every slot is -1. Nearness is the Euclidean distance of the coordinates
    (latitude / longitude for GEO, a close enough ranking for a candidate set)."""
    n = instance.n
    q = max(0, int(q))
    if q == 0 or instance.coords is None or n < 2:
        return np.full((n, 4 * q), -1, dtype=np.int64)
    pts = np.array(instance.coords, dtype=np.float64, order="C")
    k = min(_QUADRANT_POOL, n - 1)
    _, pool = cKDTree(pts).query(pts, k=k + 1)
    pool = np.ascontiguousarray(np.asarray(pool, dtype=np.int64).reshape(n, k + 1))  # each city itself is skipped
    return _quadrant_kernel(pts, pool, q)


@njit(cache=True)
def _alpha_kernel(pts: np.ndarray, mat: np.ndarray, mode: int, m: int) -> np.ndarray:
    """(n, m) cities of smallest alpha-nearness per city (ties by length); Prim's tree, then one O(n) pass per
    city: beta(i, j), the longest tree edge on the path from i to j, is known for j's tree parent first."""
    n = pts.shape[0] if mode != 6 else mat.shape[0]
    parent = np.full(n, -1, dtype=np.int64)
    up = np.full(n, np.inf)  # length of the edge to the tree parent
    order = np.empty(n, dtype=np.int64)  # the order Prim adds cities in: parents before children
    in_tree = np.zeros(n, dtype=np.bool_)
    up[0] = 0.0
    for t in range(n):
        u, low = -1, np.inf
        for v in range(n):
            if not in_tree[v] and (u < 0 or up[v] < low):
                u, low = v, up[v]
        in_tree[u] = True
        order[t] = u
        for v in range(n):
            if not in_tree[v]:
                d = edge_length(u, v, pts, mat, mode)
                if d < up[v]:
                    up[v], parent[v] = d, u
    out = np.full((n, m), -1, dtype=np.int64)
    best_a = np.empty(m)
    best_d = np.empty(m)
    beta = np.empty(n)
    mark = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        beta[i] = -np.inf
        mark[i] = i
        u = i
        while parent[u] >= 0:  # i's path to the root
            beta[parent[u]] = max(beta[u], up[u])
            mark[parent[u]] = i
            u = parent[u]
        count = 0
        for t in range(n):
            j = order[t]
            if mark[j] != i:
                beta[j] = max(beta[parent[j]], up[j])
            if j == i:
                continue
            d = edge_length(i, j, pts, mat, mode)
            a = d - beta[j]
            if count == m and (a > best_a[m - 1] or (a == best_a[m - 1] and d >= best_d[m - 1])):
                continue
            at = count if count < m else m - 1
            if count < m:
                count += 1
            while at > 0 and (best_a[at - 1] > a or (best_a[at - 1] == a and best_d[at - 1] > d)):
                best_a[at], best_d[at], out[i, at] = best_a[at - 1], best_d[at - 1], out[i, at - 1]
                at -= 1
            best_a[at], best_d[at], out[i, at] = a, d, j
    return out


def alpha_neighbours(instance, m: int) -> np.ndarray:
    """The ``m`` cities of smallest alpha-nearness to every city, nearest in alpha first (ties by length):
    (n, m) int64, m capped at n - 1. Exact under the instance's own metric (coordinates or a symmetric matrix),
    O(n^2) time (0.16 s at 2,400 cities, 0.7 s at 5,000 on the 2-core dev machine), O(n) memory besides the
    result."""
    n = instance.n
    m = max(0, min(int(m), n - 1))
    if m == 0:
        return np.full((n, 0), -1, dtype=np.int64)
    pts, mat, mode = kernel_metric(instance)
    return _alpha_kernel(pts, mat, mode, m)


def drop_known(base: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """A copy of ``extra`` (n, e) with -1 wherever its city already stands in the same row of ``base`` or earlier
    in its own row: what widening ``base`` by ``extra`` really adds."""
    extra = np.array(extra, dtype=np.int64)
    for r in range(extra.shape[1]):
        seen = np.concatenate([base, extra[:, :r]], axis=1)
        extra[:, r] = np.where((seen == extra[:, r:r + 1]).any(axis=1), -1, extra[:, r])
    return extra


def widen_lists(instance, nbr: np.ndarray, length: np.ndarray, extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The union of the lists ``nbr`` / ``length`` (``nearest_neighbours``) and the cities of ``extra`` (an (n, e)
    array padded with -1: quadrant or alpha neighbours), re-sorted nearest first; rows with fewer distinct cities
    are padded with index -1 and length inf at the end."""
    added = drop_known(nbr, extra)
    if not (added >= 0).any():
        return nbr, length
    rows = np.arange(instance.n)
    both = np.concatenate([nbr, added], axis=1)
    bad = both < 0
    d = np.asarray(instance.distance(rows[:, None], np.maximum(both, 0)), dtype=np.float64)
    d[bad] = np.inf
    key = np.argsort(d, axis=1, kind="stable")  # ties keep the k nearest's order; padding goes last
    idx = np.take_along_axis(np.where(bad, -1, both), key, axis=1)
    d = np.take_along_axis(d, key, axis=1)
    width = int((idx >= 0).sum(axis=1).max())
    return np.ascontiguousarray(idx[:, :width]), np.ascontiguousarray(d[:, :width])


def candidate_lists(instance, k: int, q: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The union of each city's ``k`` nearest and its ``q`` quadrant neighbours per quadrant, nearest first
    (``widen_lists``). With ``q = 0`` this is ``nearest_neighbours(instance, k)``.
    """
    return widen_lists(instance, *nearest_neighbours(instance, k), quadrant_neighbours(instance, q))
