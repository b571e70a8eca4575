"""The travelling salesman problem: Euclidean (coordinates) or matrix (asymmetric / road distances)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ncosolve.errors import InfeasibleSolution
from ncosolve.problems.geometry import Geometry, init_geometry


@dataclass(frozen=True, eq=False)
class TSPInstance(Geometry):
    """A TSP: ``coords`` (n, 2) or a distance matrix ``dist`` (n, n), possibly asymmetric.

    ``edge_weight_type`` fixes how edges are measured (see ``ncosolve.problems.distances``):
    ``EXACT_2D`` by default for coordinates, ``EXPLICIT`` for a matrix, ``EUC_2D`` etc. for TSPLIB files.
    """

    coords: np.ndarray | None = None
    dist: np.ndarray | None = None
    name: str | None = None
    edge_weight_type: str | None = None

    problem = "tsp"

    def __post_init__(self) -> None:
        init_geometry(self, self.coords, self.dist, self.edge_weight_type)

    def __repr__(self) -> str:
        return f"TSPInstance(name={self.name!r}, n={self.n}, edge_weight_type={self.edge_weight_type!r})"


def check_tour(n: int, tour) -> np.ndarray:
    """The tour as an int array, or InfeasibleSolution saying which node is missing, repeated or unknown."""
    try:
        arr = np.asarray(tour)
        if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
    except (TypeError, ValueError):
        raise InfeasibleSolution("tour: not a sequence of node indices") from None
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise InfeasibleSolution(f"tour: expected a 1-D sequence of integer node indices, got {arr.dtype} {arr.shape}")
    bad = arr[(arr < 0) | (arr >= n)]
    if len(bad):
        raise InfeasibleSolution(f"tour: node {int(bad[0])} is out of range 0..{n - 1}")
    counts = np.bincount(arr, minlength=n)
    if np.any(counts > 1):
        node = int(np.argmax(counts > 1))
        raise InfeasibleSolution(f"tour: node {node} visited {int(counts[node])} times")
    if np.any(counts == 0):
        missing = np.flatnonzero(counts == 0)
        raise InfeasibleSolution(f"tour: {len(missing)} node(s) never visited, first {int(missing[0])}")
    return arr.astype(np.int64)


def evaluate_tsp(instance: TSPInstance, tour) -> float:
    """Length of the closed tour (a permutation of 0..n-1), in the instance's rounding convention."""
    return instance.path_length(check_tour(instance.n, tour))
