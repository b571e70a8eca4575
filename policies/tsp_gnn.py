"""Anisotropic edge-gated GNN heatmap for the large-TSP search (``mcts-gnn``), on the sparse k-NN graph.

The model follows the gated graph ConvNet of Joshi et al. (2019) as used by DIMES (Qiu et al. 2022):
node and edge embeddings, per-edge sigmoid gates that weight the messages a city receives from its
neighbours, layer norm and residual connections. It never builds an n x n structure: the graph is
each city's k nearest neighbours (``ncosolve.search.candidates.nearest_neighbours``), held as (n, k)
tensors, so memory is O(n k h) for hidden size h. Its output is one logit per (city, r-th nearest)
edge; a row softmax turns it into the (n, k) heatmap ``ncosolve.search.mcts`` consumes, aligned with
the same neighbour lists. The same network with ``output = "penalties"`` gives one value per city instead:
LKH's node penalties (``gnn_penalties``, for ``lkh-gnn``), trained on LKH's ascent penalties and on the
1-tree bound they give.

Features are translation and scale invariant (lengths divided by the instance's mean nearest-neighbour
distance), so a model trained on 100-500-city instances applies to 10,000 cities. Training
(``scripts/train_tsp_gnn.py``): cross-entropy between each row's softmax and the tour edges of
near-optimal (LKH-3) tours, and/or DIMES-style REINFORCE on tours sampled from the heatmap.
Checkpoints hold ``state_dict`` + JSON config + ncosolve version, loaded with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

import ncosolve.errors
from ncosolve.policies.checkpoint import CheckpointError, load_weights, read_checkpoint, read_config, write_checkpoint
from ncosolve.policies.torch_threads import torch_threads

FORMAT = "ncosolve-tsp-gnn/1"
SHIPPED = Path(ncosolve.errors.__file__).resolve().parent / "data" / "checkpoints" / "tsp_gnn" / "tsp_gnn.pt"
SHIPPED_PENALTIES = SHIPPED.with_name("tsp_gnn_penalties.pt")
OUTPUTS = ("edges", "penalties")
NODE_FEATURES = 2
EDGE_FEATURES = 5
# Coordinates the edge features may read directly (others, e.g. GEO or explicit matrices, give 0 offsets).
PLANAR = ("EXACT_2D", "EUC_2D", "CEIL_2D", "ATT", "TRUNC1_2D")


@dataclass(frozen=True)
class GNNConfig:
    """Architecture; stored in the checkpoint.

    hidden : width of node and edge embeddings.
    layers : gated message-passing layers.
    neighbours : k of the k-NN graph it was trained on (inference may use another k).
    output : "edges" (one logit per k-NN edge, the heatmap) or "penalties" (one value per city: LKH's node
        penalty pi divided by the mean nearest-neighbour length, NeuroLKH's second head).
    """

    hidden: int = 32
    layers: int = 6
    neighbours: int = 10
    output: str = "edges"

    def __post_init__(self):
        if self.output not in OUTPUTS:
            raise TypeError(f"output must be one of {OUTPUTS}, got {self.output!r}")


class GatedLayer(nn.Module):
    """One anisotropic edge-gated layer: edges e_ij <- A h_i + B h_j + C e_ij, nodes gather sigma(e_ij) * V h_j."""

    def __init__(self, hidden: int):
        super().__init__()
        self.node_self, self.node_msg = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.edge_src, self.edge_dst, self.edge_self = (nn.Linear(hidden, hidden), nn.Linear(hidden, hidden),
                                                        nn.Linear(hidden, hidden))
        self.node_norm, self.edge_norm = nn.LayerNorm(hidden), nn.LayerNorm(hidden)

    def forward(self, h: torch.Tensor, e: torch.Tensor, nbr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """h (B, n, H), e (B, n, k, H), nbr (B, n, k) -> updated (h, e)."""
        h_nbr = _gather_rows(h, nbr)  # (B, n, k, H): embedding of each edge's far end
        e_new = self.edge_src(h).unsqueeze(2) + self.edge_dst(h_nbr) + self.edge_self(e)
        gate = torch.sigmoid(e_new)
        msg = (gate * self.node_msg(h_nbr)).sum(2) / (gate.sum(2) + 1e-6)
        h = h + torch.relu(self.node_norm(self.node_self(h) + msg))
        e = e + torch.relu(self.edge_norm(e_new))
        return h, e


class TSPGNN(nn.Module):
    """Edge-gated GNN: (node features, edge features, neighbour lists) -> one logit per k-NN edge, or one
    value per city (``cfg.output``)."""

    def __init__(self, cfg: GNNConfig):
        super().__init__()
        self.cfg = cfg
        self.node_in = nn.Linear(NODE_FEATURES, cfg.hidden)
        self.edge_in = nn.Linear(EDGE_FEATURES, cfg.hidden)
        self.layers = nn.ModuleList(GatedLayer(cfg.hidden) for _ in range(cfg.layers))
        self.head = nn.Sequential(nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, 1))

    def forward(self, node_x: torch.Tensor, edge_x: torch.Tensor, nbr: torch.Tensor) -> torch.Tensor:
        """node_x (B, n, 2), edge_x (B, n, k, 5), nbr (B, n, k) int64 -> logits (B, n, k) or values (B, n)."""
        h, e = self.node_in(node_x), self.edge_in(edge_x)
        for layer in self.layers:
            h, e = layer(h, e, nbr)
        return self.head(e if self.cfg.output == "edges" else h).squeeze(-1)


def _gather_rows(h: torch.Tensor, nbr: torch.Tensor) -> torch.Tensor:
    """h[b, nbr[b, i, r]] for every (b, i, r): (B, n, H) x (B, n, k) -> (B, n, k, H)."""
    b, n, k = nbr.shape
    flat = torch.gather(h, 1, nbr.reshape(b, n * k, 1).expand(-1, -1, h.shape[-1]))
    return flat.reshape(b, n, k, h.shape[-1])


def graph_features(coords: np.ndarray | None, nbr: np.ndarray, nbr_len: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale-free features of one k-NN graph: node (n, 2) and edge (n, k, 5) float32 arrays.

    Node: nearest and mean k-nearest length. Edge: length, x and y offsets (0 without planar
    coordinates), rank / k, and whether the edge is mutual (i is also among j's k nearest). Lengths
    are divided by the mean nearest-neighbour length.
    """
    from ncosolve.search.candidates import reverse_slots

    n, k = nbr.shape
    scale = length_scale(nbr_len)
    length = nbr_len / scale
    node = np.stack([length[:, 0], length.mean(axis=1)], axis=1)
    offset = (coords[nbr] - coords[:, None, :]) / scale if coords is not None else np.zeros((n, k, 2))
    rank = np.broadcast_to(np.arange(k) / k, (n, k))
    mutual = (reverse_slots(nbr) >= 0).astype(np.float64)
    edge = np.concatenate([length[..., None], offset, rank[..., None], mutual[..., None]], axis=2)
    return node.astype(np.float32), edge.astype(np.float32)


def planar_coords(instance) -> np.ndarray | None:
    """The instance's coordinates when its lengths are planar, else None (the edge offsets are then 0)."""
    if instance.coords is None or instance.edge_weight_type not in PLANAR:
        return None
    return np.asarray(instance.coords, dtype=np.float64)


def heat_logits(model: TSPGNN, coords: np.ndarray | None, nbr: np.ndarray, nbr_len: np.ndarray) -> torch.Tensor:
    """The model's (n, k) logits (or (n,) penalties) on one instance's k-NN graph (no gradient)."""
    node, edge = graph_features(coords, nbr, nbr_len)
    with torch.no_grad():
        return model(torch.from_numpy(node)[None], torch.from_numpy(edge)[None],
                     torch.from_numpy(np.array(nbr, dtype=np.int64))[None])[0]


def gnn_heatmap(instance, nbr: np.ndarray, nbr_len: np.ndarray, checkpoint=None) -> np.ndarray:
    """The (n, k) heatmap on ``instance``'s neighbour lists: row softmax of the GNN's logits, float64.

    ``checkpoint`` None uses the shipped model. Runs torch on one thread (restoring the caller's setting).
    """
    logits = _predict(instance, nbr, nbr_len, checkpoint, "edges")
    return np.ascontiguousarray(torch.softmax(logits.double(), dim=1).numpy())


def gnn_penalties(instance, nbr: np.ndarray, nbr_len: np.ndarray, checkpoint=None) -> np.ndarray:
    """Per-city node penalties pi (float64, in the instance's length units) predicted on its k-NN graph.

    They stand in for LKH's subgradient ascent: LKH searches on d_ij + pi_i + pi_j. ``checkpoint`` None uses
    the shipped penalty model. Runs torch on one thread (restoring the caller's setting).
    """
    values = _predict(instance, nbr, nbr_len, checkpoint, "penalties")
    return values.double().numpy() * length_scale(nbr_len)


def _predict(instance, nbr: np.ndarray, nbr_len: np.ndarray, checkpoint, output: str) -> torch.Tensor:
    """The raw ``output`` of the model at ``checkpoint`` (None: the shipped one) on one instance, on one torch
    thread; CheckpointError if that model predicts something else."""
    model = load_shipped(output) if checkpoint is None else load_gnn(checkpoint)[0]
    if model.cfg.output != output:
        raise CheckpointError(f"checkpoint {checkpoint}: predicts {model.cfg.output}, not {output}")
    with torch_threads(1):
        return heat_logits(model, planar_coords(instance), nbr, nbr_len)


def length_scale(nbr_len: np.ndarray) -> float:
    """The unit of the GNN's features and penalties: the mean positive nearest-neighbour length (1 if none)."""
    positive = nbr_len[:, 0][nbr_len[:, 0] > 0]
    return float(np.mean(positive)) if len(positive) else 1.0


def tour_edge_targets(tour: np.ndarray, nbr: np.ndarray) -> np.ndarray:
    """(n, k) 0/1: whether edge (i, nbr[i, r]) is in ``tour`` (a permutation, closed)."""
    n = len(tour)
    succ, pred = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    succ[tour] = np.roll(tour, -1)
    pred[tour] = np.roll(tour, 1)
    return ((nbr == succ[:, None]) | (nbr == pred[:, None])).astype(np.float32)


def supervised_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over cities with a tour edge in their lists of -sum_r y_r log softmax(logits)_r / sum_r y_r."""
    logp = torch.log_softmax(logits, dim=-1)
    count = targets.sum(-1)
    rows = count > 0
    return (-(targets * logp).sum(-1)[rows] / count[rows]).mean()


def sample_tours(logits: torch.Tensor, nbr: torch.Tensor, coords: torch.Tensor, samples: int,
                 gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DIMES-style rollouts: ``samples`` tours built city by city from one instance's heatmap.

    From city c the next city is drawn among c's unvisited k nearest with probability softmax(logits[c])
    restricted to them; when all k are visited the tour jumps to the nearest unvisited city (a step
    without log-probability). Returns tours (S, n), their log-probabilities (S,) (differentiable in
    ``logits`` (n, k)) and Euclidean lengths (S,). For training-size instances: the jump reads an n x n matrix.
    """
    n = logits.shape[0]
    rows = torch.arange(samples)
    dist = torch.cdist(coords, coords)
    visited = torch.zeros(samples, n, dtype=torch.bool)
    cur = torch.randint(n, (samples,), generator=gen)
    visited[rows, cur] = True
    steps, logp = [cur], torch.zeros(samples, dtype=logits.dtype)
    for _ in range(n - 1):
        cand = nbr[cur]
        blocked = visited.gather(1, cand)
        free = ~blocked.all(1)
        lp = torch.log_softmax(logits[cur].masked_fill(blocked, -1e9), dim=1)
        pick = torch.multinomial(lp.detach().exp(), 1, generator=gen).squeeze(1)
        nearest = dist[cur].masked_fill(visited, float("inf")).argmin(1)
        nxt = torch.where(free, cand[rows, pick], nearest)
        logp = logp + torch.where(free, lp[rows, pick], torch.zeros_like(logp))
        visited[rows, nxt] = True
        steps.append(nxt)
        cur = nxt
    tours = torch.stack(steps, dim=1)
    xy = coords[tours]
    return tours, logp, (xy - xy.roll(-1, dims=1)).norm(dim=2).sum(1)


def reinforce_loss(logp: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """REINFORCE with the samples' mean length as baseline, scaled by it: mean((L - mean L) / mean L * log p)."""
    advantage = (lengths - lengths.mean()) / lengths.mean()
    return (advantage.detach() * logp).mean()


def save_gnn(model: TSPGNN, path, training: dict | None = None) -> Path:
    """Write ``model`` to ``path`` with its config, the ncosolve version and ``training`` (budget) as JSON."""
    return write_checkpoint(path, FORMAT, asdict(model.cfg), model.state_dict(), training)


def load_gnn(path) -> tuple[TSPGNN, dict]:
    """The model stored at ``path`` (eval mode) and its meta; CheckpointError for a missing, corrupt,
    unsafe or foreign file."""
    meta, state = read_checkpoint(path, FORMAT, "a TSP GNN checkpoint")
    cfg = read_config(GNNConfig, meta, path)
    return load_weights(TSPGNN(cfg), state, path), meta


@lru_cache(maxsize=2)
def load_shipped(output: str = "edges") -> TSPGNN:
    """The shipped heatmap model, or with ``output`` "penalties" the shipped penalty model (once per process)."""
    return load_gnn(SHIPPED if output == "edges" else SHIPPED_PENALTIES)[0]
