"""Seeded asymmetric TSP instances (matrix variant) for training and testing the pair-aware policy."""

from __future__ import annotations

import numpy as np

from ncosolve.problems import TSPInstance


def generate_atsp(n: int, size: int, seed: int = 0) -> list[TSPInstance]:
    """``n`` ATSPs on ``size`` nodes: uniform [0, 1) arcs, closed under shortest paths (triangle inequality).

    This is the MatNet-style random-matrix distribution; the matrix is asymmetric and has no coordinates.
    """
    rng = np.random.RandomState(seed)
    out = []
    for k in range(n):
        d = rng.uniform(size=(size, size))
        np.fill_diagonal(d, 0.0)
        for via in range(size):
            d = np.minimum(d, d[:, via, None] + d[None, via, :])
        out.append(TSPInstance(dist=d, name=f"atsp{size}-{seed}-{k}"))
    return out
