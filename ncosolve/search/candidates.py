"""Sparse neighbour structures: each city's k nearest cities, its quadrant neighbours, never an n x n matrix.

Coordinates go through a k-d tree (``scipy.spatial.cKDTree``), O(n k) memory. GEO coordinates
(latitude / longitude) and explicit matrices are ranked row block by row block under the instance's
own distance, so memory stays O(block * n).

On clustered instances the k nearest cities of a city often all lie in its own cluster, so no candidate
edge leaves it and neither 2-opt nor the search can repair the order of the clusters. Quadrant neighbours
(the nearest ``q`` cities in each of the four quadrants around a city, as in LKH-3's quadrant candidate
sets) always include cities on every side; ``candidate_lists`` gives the union of both.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.spatial import cKDTree

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


def candidate_lists(instance, k: int, q: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The union of each city's ``k`` nearest and its ``q`` quadrant neighbours per quadrant, nearest first:
    ``(index (n, w), length (n, w))`` with w <= k + 4 q; rows with fewer distinct cities are
    padded with index -1 and length inf at the end. With ``q = 0`` this is ``nearest_neighbours(instance, k)``.
    """
    nbr, length = nearest_neighbours(instance, k)
    quad = quadrant_neighbours(instance, q)
    if quad.shape[1] == 0 or not (quad >= 0).any():
        return nbr, length
    n = instance.n
    rows = np.arange(n)
    known = (quad[:, :, None] == nbr[:, None, :]).any(axis=2)  # already among the k nearest
    quad = np.where(known, -1, quad)
    both = np.concatenate([nbr, quad], axis=1)
    bad = both < 0
    d = np.asarray(instance.distance(rows[:, None], np.maximum(both, 0)), dtype=np.float64)
    d[bad] = np.inf
    key = np.argsort(d, axis=1, kind="stable")  # ties keep the k nearest's order; padding goes last
    idx = np.take_along_axis(np.where(bad, -1, both), key, axis=1)
    d = np.take_along_axis(d, key, axis=1)
    width = int((idx >= 0).sum(axis=1).max())
    return np.ascontiguousarray(idx[:, :width]), np.ascontiguousarray(d[:, :width])
