"""The numba kernels of the MAPF evaluator and planners (imported on first use: numba costs a second to import)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def bfs_many(nbr: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """(len(sources), cells) int32 breadth-first distances over the neighbour table from each source; -1 unreached."""
    n = nbr.shape[0]
    out = np.full((len(sources), n), -1, dtype=np.int32)
    queue = np.empty(n, dtype=np.int32)
    for a in range(len(sources)):
        d = out[a]
        d[sources[a]] = 0
        queue[0] = sources[a]
        head, tail = 0, 1
        while head < tail:
            u = queue[head]
            head += 1
            for k in range(1, 5):
                v = nbr[u, k]
                if v >= 0 and d[v] < 0:
                    d[v] = d[u] + 1
                    queue[tail] = v
                    tail += 1
    return out


@numba.njit(cache=True)
def count_reached(ids: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """Per agent, how many of its stream goals its cell ids reach in order."""
    n, t1 = ids.shape
    out = np.zeros(n, dtype=np.int64)
    for a in range(n):
        k = 0
        for t in range(t1):
            while k < goals.shape[1] and ids[a, t] == goals[a, k]:
                k += 1
        out[a] = k
    return out
