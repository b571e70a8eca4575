"""Sparse neighbour structures: each city's k nearest cities, never an n x n matrix.

Coordinates go through a k-d tree (``scipy.spatial.cKDTree``), O(n k) memory. GEO coordinates
(latitude / longitude) and explicit matrices are ranked row block by row block under the instance's
own distance, so memory stays O(block * n).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

_BLOCK_ROWS = 256


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
