"""Instances as model tensors: normalised node features and pair distances, plus exact costs for the reward."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

NODE_FEATURES = 6  # x, y, demand / capacity, is_depot, mean distance out, mean distance in


@dataclass(frozen=True)
class RoutingBatch:
    """B same-size instances of one problem ("tsp" or "cvrp"); shapes in comments.

    ``dist`` is what the model sees (scaled so the instance spans about one unit); ``cost`` holds the
    instance's own edge lengths (``distance_matrix()``, float64) so rewards match ``evaluate``.
    """

    problem: str
    nodes: torch.Tensor  # (B, N, NODE_FEATURES) float32
    dist: torch.Tensor  # (B, N, N) float32, scaled
    cost: torch.Tensor  # (B, N, N) float64, the instance's convention
    demand: torch.Tensor  # (B, N) float64, raw demands (zeros for TSP)
    capacity: torch.Tensor  # (B,) float64 (ones for TSP)
    has_coords: bool
    copies: int = 1  # dihedral copies stacked copy-major: row b shares its distances with row b % (B / copies)

    @property
    def size(self) -> int:
        """Number of nodes N (depot included for CVRP)."""
        return self.nodes.shape[1]

    def to(self, device) -> "RoutingBatch":
        """The same batch on ``device``."""
        return replace(self, nodes=self.nodes.to(device), dist=self.dist.to(device), cost=self.cost.to(device),
                       demand=self.demand.to(device), capacity=self.capacity.to(device))


def uses_coords(inst) -> bool:
    """Whether the policy sees the instance's coordinates (planar conventions); else only its matrix."""
    return inst.coords is not None and inst.edge_weight_type not in ("GEO", "EXPLICIT")


def _scaled(inst) -> tuple[np.ndarray | None, np.ndarray, float]:
    """Coordinates moved to the unit square (aspect kept), the instance's matrix, and the divisor that puts
    its distances on the same scale as those coordinates (ATT's /sqrt(10) or rounding included)."""
    matrix = inst.distance_matrix()
    if uses_coords(inst):
        xy = inst.coords - inst.coords.min(axis=0)
        scale = float(xy.max()) or 1.0
        euclid = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
        ratio = float(matrix.sum() / euclid.sum()) if euclid.sum() > 0 else 1.0
        return xy / scale, matrix, scale * ratio
    return None, matrix, float(matrix.max()) or 1.0


def from_instances(instances, device="cpu") -> RoutingBatch:
    """Stack same-size TSP or CVRP instances (Euclidean or matrix) into one batch."""
    problem = instances[0].problem
    if problem not in ("tsp", "cvrp"):
        raise ValueError(f"attention policies solve tsp and cvrp, not {problem!r}")
    if any(inst.problem != problem or inst.n != instances[0].n for inst in instances):
        raise ValueError("from_instances: all instances must share problem and size")
    n = instances[0].n
    nodes = np.zeros((len(instances), n, NODE_FEATURES), dtype=np.float32)
    dist = np.empty((len(instances), n, n), dtype=np.float32)
    cost = np.empty((len(instances), n, n), dtype=np.float64)
    demand = np.zeros((len(instances), n), dtype=np.float64)
    capacity = np.ones(len(instances), dtype=np.float64)
    has_coords = True
    for b, inst in enumerate(instances):
        xy, matrix, scale = _scaled(inst)
        cost[b] = matrix
        dist[b] = matrix / scale
        if xy is None:
            has_coords = False
        else:
            nodes[b, :, :2] = xy
        if problem == "cvrp":
            demand[b], capacity[b] = inst.demands, inst.capacity
            nodes[b, 0, 3] = 1.0
        nodes[b, :, 2] = demand[b] / capacity[b]
        nodes[b, :, 4] = dist[b].mean(axis=1)
        nodes[b, :, 5] = dist[b].mean(axis=0)
    t = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
    return RoutingBatch(problem, t(nodes), t(dist), t(cost), t(demand), t(capacity), has_coords)


def transform(batch: RoutingBatch, k: int) -> RoutingBatch:
    """The batch under the k-th (0..7) symmetry of the unit square; k = 0 is the identity.

    Distances are unchanged by these maps, so only the coordinate features move.
    """
    x, y = batch.nodes[..., 0], batch.nodes[..., 1]
    maps = [(x, y), (y, x), (1 - x, y), (y, 1 - x), (x, 1 - y), (1 - y, x), (1 - x, 1 - y), (1 - y, 1 - x)]
    nodes = batch.nodes.clone()
    nodes[..., 0], nodes[..., 1] = maps[k]
    return replace(batch, nodes=nodes)


def dihedral(batch: RoutingBatch, copies: int = 8) -> RoutingBatch:
    """The batch repeated ``copies`` (1..8) times, copy k under ``transform(batch, k)``, copy-major rows."""
    if not 1 <= copies <= 8:
        raise ValueError(f"dihedral: copies must be 1..8, got {copies}")
    rep = lambda a: a.repeat(copies, *([1] * (a.dim() - 1)))  # noqa: E731
    return replace(batch, nodes=torch.cat([transform(batch, k).nodes for k in range(copies)]), dist=rep(batch.dist),
                   cost=rep(batch.cost), demand=rep(batch.demand), capacity=rep(batch.capacity),
                   copies=batch.copies * copies)
