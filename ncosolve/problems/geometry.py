"""What every routing instance shares: points or a matrix, and one way to measure an edge."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ncosolve.errors import InvalidInstance
from ncosolve.problems import distances
from ncosolve.problems._validate import check_distance_matrix, float_array


def init_geometry(inst, coords, dist, edge_weight_type) -> None:
    """Validate and freeze ``coords``/``dist``/``edge_weight_type`` on a frozen dataclass."""
    if coords is None and dist is None:
        raise InvalidInstance("coords / dist: give coordinates (n, 2) or a distance matrix (n, n)")
    if coords is not None:
        coords = float_array(coords, "coords", (None, 2))
    if dist is not None:
        dist = float_array(dist, "dist", (None, None))
        check_distance_matrix(dist)
        if coords is not None and len(coords) != len(dist):
            raise InvalidInstance(f"coords has {len(coords)} rows but dist is {dist.shape}")
    n = len(coords) if coords is not None else len(dist)
    if n == 0:
        raise InvalidInstance("coords / dist: the instance has no nodes")
    if edge_weight_type is None:
        edge_weight_type = "EXPLICIT" if dist is not None else "EXACT_2D"
    if edge_weight_type not in distances.EDGE_WEIGHT_TYPES:
        raise InvalidInstance(f"edge_weight_type: {edge_weight_type!r} is not one of {distances.EDGE_WEIGHT_TYPES}")
    if edge_weight_type == "EXPLICIT" and dist is None:
        raise InvalidInstance("edge_weight_type: EXPLICIT needs a distance matrix 'dist'")
    if edge_weight_type != "EXPLICIT" and dist is not None:
        raise InvalidInstance(f"edge_weight_type: {edge_weight_type} computes distances from coords; omit 'dist'")
    object.__setattr__(inst, "coords", coords)
    object.__setattr__(inst, "dist", dist)
    object.__setattr__(inst, "edge_weight_type", edge_weight_type)


class Geometry:
    """Mixin: ``n``, ``distance(i, j)`` and a cached dense ``distance_matrix()``."""

    coords: np.ndarray | None
    dist: np.ndarray | None
    edge_weight_type: str

    @property
    def n(self) -> int:
        """Number of nodes (depot included for VRPs)."""
        return len(self.coords) if self.coords is not None else len(self.dist)

    @property
    def symmetric(self) -> bool:
        """Whether d(i, j) == d(j, i) for all pairs."""
        return self.dist is None or bool(np.array_equal(self.dist, self.dist.T))

    def distance(self, i, j) -> np.ndarray:
        """Edge lengths from nodes ``i`` to nodes ``j`` (broadcast index arrays), by the instance's convention."""
        i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
        if self.dist is not None:
            return self.dist[i, j]
        return distances.coord_distances(self.coords, i, j, self.edge_weight_type)

    def distance_matrix(self) -> np.ndarray:
        """Dense (n, n) matrix of edge lengths; computed once. O(n^2) memory."""
        return self._matrix

    @cached_property
    def _matrix(self) -> np.ndarray:
        m = self.dist if self.dist is not None else distances.full_matrix(self.coords, self.edge_weight_type)
        m = np.asarray(m, dtype=np.float64)
        m.setflags(write=False)
        return m

    def edges_length(self, i, j) -> float:
        """Summed length of the edges ``i[k] -> j[k]``, exact in the convention's unit (no float drift)."""
        edges = self.distance(i, j)
        unit = distances.integer_unit(self.edge_weight_type)
        if unit is None:
            return float(np.sum(edges))
        return float(np.sum(np.rint(edges * unit).astype(np.int64))) / unit

    def path_length(self, nodes) -> float:
        """Length of the closed walk through ``nodes`` (back to the first)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        if len(nodes) < 2:
            return 0.0
        return self.edges_length(nodes, np.roll(nodes, -1))
