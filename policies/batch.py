"""Instances as model tensors: normalised node features and pair distances, beside the routing core's exact
tensors (``RoutingTensors``) that the dynamics and rewards use."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from ncosolve.envs.routing_core import RoutingTensors, routing_tensors

BASE_FEATURES = 6  # x, y, demand / capacity, is_depot, mean distance out, mean distance in
TIME_FEATURES = 3  # CVRPTW: ready, due and service time, on the distances' scale


def node_features(problem: str) -> int:
    """Node feature width the model embeds for ``problem``."""
    return BASE_FEATURES + (TIME_FEATURES if problem == "cvrptw" else 0)


@dataclass(frozen=True)
class RoutingBatch(RoutingTensors):
    """``RoutingTensors`` plus what the model sees; shapes in comments.

    ``dist`` is scaled so the instance spans about one unit, and ``scale`` is the divisor, so the model reads
    times (CVRPTW) on the same scale as distances: ``time / scale``.
    """

    nodes: torch.Tensor  # (B, N, node_features(problem)) float32
    dist: torch.Tensor  # (B, N, N) float32, scaled
    scale: torch.Tensor  # (B,) float64
    has_coords: bool
    copies: int = 1  # dihedral copies stacked copy-major: row b shares its distances with row b % (B / copies)

    def to(self, device) -> "RoutingBatch":
        """The same batch on ``device``."""
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self)
                                if isinstance(getattr(self, f.name), torch.Tensor)})


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
    """Stack same-size TSP, CVRP or CVRPTW instances (Euclidean or matrix) into one batch."""
    core = routing_tensors(instances)
    problem, (b, n) = core.problem, core.demand.shape
    nodes = np.zeros((b, n, node_features(problem)), dtype=np.float32)
    dist = np.empty((b, n, n), dtype=np.float32)
    scales = np.empty(b)
    has_coords = True
    for k, inst in enumerate(instances):
        xy, matrix, scale = _scaled(inst)
        scales[k] = scale
        dist[k] = matrix / scale
        if xy is None:
            has_coords = False
        else:
            nodes[k, :, :2] = xy
        if problem != "tsp":
            nodes[k, :, 2] = inst.demands / inst.capacity
            nodes[k, 0, 3] = 1.0
        nodes[k, :, 4] = dist[k].mean(axis=1)
        nodes[k, :, 5] = dist[k].mean(axis=0)
        if problem == "cvrptw":
            nodes[k, :, 6:8] = inst.time_windows / scale
            nodes[k, :, 8] = inst.service_times / scale
    t = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
    fields_ = {name: value.to(device) for name, value in core.core_fields().items() if name != "problem"}
    return RoutingBatch(problem, **fields_, nodes=t(nodes), dist=t(dist), scale=t(scales), has_coords=has_coords)


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
    repeated = {f.name: rep(getattr(batch, f.name)) for f in fields(batch)
                if isinstance(getattr(batch, f.name), torch.Tensor) and f.name != "nodes"}
    return replace(batch, nodes=torch.cat([transform(batch, k).nodes for k in range(copies)]), **repeated,
                   copies=batch.copies * copies)
