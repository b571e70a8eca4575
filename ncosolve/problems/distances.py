"""Edge lengths under each benchmark's own convention; the one place distances are computed.

Conventions (``edge_weight_type``):

- ``EXACT_2D``: float Euclidean distance (generated instances, the NCO literature).
- ``EUC_2D``: Euclidean rounded to the nearest integer (TSPLIB and CVRPLIB ``nint``).
- ``CEIL_2D``: Euclidean rounded up.
- ``ATT``: TSPLIB pseudo-Euclidean distance (att48, att532).
- ``GEO``: TSPLIB geographical distance in km on the idealised sphere.
- ``TRUNC1_2D``: Euclidean truncated to one decimal (Solomon VRPTW convention).
- ``EXPLICIT``: a given distance matrix, used as is.
"""

from __future__ import annotations

import numpy as np

from ncosolve.errors import InvalidInstance

COORD_TYPES = ("EXACT_2D", "EUC_2D", "CEIL_2D", "ATT", "GEO", "TRUNC1_2D")
EDGE_WEIGHT_TYPES = COORD_TYPES + ("EXPLICIT",)

# Distances under these conventions are whole multiples of 1/unit, so sums are exact in that unit.
_UNIT = {"EUC_2D": 1, "CEIL_2D": 1, "ATT": 1, "GEO": 1, "TRUNC1_2D": 10}


def integer_unit(edge_weight_type: str) -> int | None:
    """How many units make one distance step (1 for nint, 10 for one decimal); None if continuous."""
    return _UNIT.get(edge_weight_type)


def _geo_radians(x: np.ndarray) -> np.ndarray:
    """TSPLIB's DDD.MM degrees-and-minutes to radians, with its fixed PI = 3.141592."""
    deg = np.trunc(x)
    minutes = x - deg
    return 3.141592 * (deg + 5.0 * minutes / 3.0) / 180.0


def coord_distances(coords: np.ndarray, i: np.ndarray, j: np.ndarray, edge_weight_type: str) -> np.ndarray:
    """Distances between ``coords[i]`` and ``coords[j]`` (broadcast index arrays) under a convention."""
    a, b = coords[i], coords[j]
    if edge_weight_type == "GEO":
        lat_a, lon_a = _geo_radians(a[..., 0]), _geo_radians(a[..., 1])
        lat_b, lon_b = _geo_radians(b[..., 0]), _geo_radians(b[..., 1])
        q1 = np.cos(lon_a - lon_b)
        q2 = np.cos(lat_a - lat_b)
        q3 = np.cos(lat_a + lat_b)
        arg = np.clip(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3), -1.0, 1.0)
        d = np.trunc(6378.388 * np.arccos(arg) + 1.0)
        return np.where(np.asarray(i) == np.asarray(j), 0.0, d)
    diff = a - b
    sq = np.einsum("...k,...k->...", diff, diff)
    if edge_weight_type == "ATT":
        r = np.sqrt(sq / 10.0)
        t = np.floor(r + 0.5)
        return np.where(t < r, t + 1.0, t)
    d = np.sqrt(sq)
    if edge_weight_type == "EXACT_2D":
        return d
    if edge_weight_type == "EUC_2D":
        return np.floor(d + 0.5)
    if edge_weight_type == "CEIL_2D":
        return np.ceil(d)
    if edge_weight_type == "TRUNC1_2D":
        return np.floor(d * 10.0 + 1e-9) / 10.0
    raise InvalidInstance(f"edge_weight_type {edge_weight_type!r} is not one of {EDGE_WEIGHT_TYPES}")


def full_matrix(coords: np.ndarray, edge_weight_type: str) -> np.ndarray:
    """The dense (n, n) distance matrix of a coordinate instance; O(n^2) memory, use for small n."""
    n = len(coords)
    idx = np.arange(n)
    return coord_distances(coords, idx[:, None], idx[None, :], edge_weight_type)
