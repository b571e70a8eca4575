"""Edge lengths inside compiled kernels, under the instance's own convention (no dense matrix).

``evaluate()`` is the judge of a tour's cost; these kernels must agree with
``ncosolve.problems.distances.coord_distances`` edge by edge (tested), so that the search optimises
exactly what is scored: EXACT_2D floats for generated instances, TSPLIB ``nint`` for EUC_2D, and so on.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ncosolve.errors import NcoError

# Codes for the conventions the kernels compute; EXPLICIT reads the given matrix.
MODES = {"EXACT_2D": 0, "EUC_2D": 1, "CEIL_2D": 2, "ATT": 3, "TRUNC1_2D": 4, "GEO": 5, "EXPLICIT": 6}


def _geo_radians(x: np.ndarray) -> np.ndarray:
    """TSPLIB's DDD.MM degrees-and-minutes to radians (same arithmetic as ``problems.distances``)."""
    deg = np.trunc(x)
    return 3.141592 * (deg + 5.0 * (x - deg) / 3.0) / 180.0


def kernel_metric(instance) -> tuple[np.ndarray, np.ndarray, int]:
    """``(points, matrix, mode)`` for ``edge_length``: coordinates (radians for GEO) or the explicit matrix.

    Raises NcoError for asymmetric matrices: the 2-opt / k-opt moves assume d(i, j) = d(j, i).
    """
    ewt = instance.edge_weight_type
    if ewt == "EXPLICIT":
        if not instance.symmetric:
            raise NcoError("mcts: the instance is asymmetric; the k-opt search needs d(i, j) == d(j, i)")
        return np.zeros((1, 2)), np.array(instance.dist, dtype=np.float64, order="C"), MODES[ewt]
    # copies are always writeable: a read-only array (as instances hold, unless unpickled) would make numba
    # compile a second signature of every kernel, inside some later call's time budget
    pts = np.array(instance.coords, dtype=np.float64, order="C")
    if ewt == "GEO":
        pts = np.ascontiguousarray(_geo_radians(pts))
    return pts, np.zeros((1, 1)), MODES[ewt]


@njit(cache=True)
def _geo_length(i: int, j: int, pts: np.ndarray) -> float:
    """TSPLIB GEO distance between points given in radians (kept out of line: its trigonometry blocks inlining)."""
    if i == j:
        return 0.0
    q1 = math.cos(pts[i, 1] - pts[j, 1])
    q2 = math.cos(pts[i, 0] - pts[j, 0])
    q3 = math.cos(pts[i, 0] + pts[j, 0])
    arg = 0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3)
    arg = min(1.0, max(-1.0, arg))
    return math.floor(6378.388 * math.acos(arg) + 1.0)


@njit(inline="always")
def edge_length(i: int, j: int, pts: np.ndarray, mat: np.ndarray, mode: int) -> float:
    """Length of edge (i, j) by convention ``mode`` (see ``MODES``); inlined into the calling kernels."""
    if mode == 6:
        return mat[i, j]
    if mode == 5:
        return _geo_length(i, j, pts)
    dx = pts[i, 0] - pts[j, 0]
    dy = pts[i, 1] - pts[j, 1]
    sq = dx * dx + dy * dy
    if mode == 3:
        r = math.sqrt(sq / 10.0)
        t = math.floor(r + 0.5)
        return t + 1.0 if t < r else t
    d = math.sqrt(sq)
    if mode == 0:
        return d
    if mode == 1:
        return math.floor(d + 0.5)
    if mode == 2:
        return math.ceil(d)
    return math.floor(d * 10.0 + 1e-9) / 10.0


@njit(cache=True)
def tour_length(tour: np.ndarray, pts: np.ndarray, mat: np.ndarray, mode: int) -> float:
    """Length of the closed tour (float sum; ``evaluate`` gives the exact figure)."""
    n = tour.shape[0]
    total = 0.0
    for k in range(n):
        total += edge_length(tour[k], tour[(k + 1) % n], pts, mat, mode)
    return total
