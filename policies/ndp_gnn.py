"""Graph network over a road network for network design: features, message passing, checkpoints.

Shared by the UE-flow surrogate (``ndp_surrogate``) and the RL link-selection policy (``ndp_rl``). A batch
holds many designs (or demands) of one network, so tensors are (B, links, F) and (B, nodes, F) and message
passing is a gather over link ends plus a scatter-add into nodes. Scales are per network (mean capacity,
mean free-flow time) so one model reads networks of any size and unit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

import ncosolve.errors
from ncosolve.policies.checkpoint import CheckpointError, read_checkpoint, read_config, write_checkpoint

FORMAT = "ncosolve-ndp-gnn/1"
SHIPPED_DIR = Path(ncosolve.errors.__file__).resolve().parent / "data" / "checkpoints" / "ndp"
NODE_FEATURES = 4  # demand produced, demand attracted (/ mean capacity), is a zone, no through traffic


@dataclass(frozen=True)
class GNNConfig:
    """Architecture of a network-design GNN and what it was trained for (stored in its checkpoint)."""

    kind: str              # "surrogate" (UE flow regression) or "policy" (candidate selection)
    edge_features: int     # input features per link
    hidden: int = 48       # embedding width
    layers: int = 5        # message-passing rounds
    trained_on: str = ""   # "synthetic" or a network name, so a mismatched checkpoint can be named


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    mods: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        mods += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*mods[:-1])


class LinkLayer(nn.Module):
    """One round: each link reads its two end nodes, each node averages its open in- and out-links."""

    def __init__(self, hidden: int):
        super().__init__()
        # The link update is an MLP of [link, tail node, head node]; its first layer is split so the node
        # parts are computed once per node, then gathered (nodes are far fewer than links).
        self.edge_self = nn.Linear(hidden, hidden)
        self.edge_tail = nn.Linear(hidden, hidden, bias=False)
        self.edge_head = nn.Linear(hidden, hidden, bias=False)
        self.edge_out = nn.Linear(hidden, hidden)
        self.node = mlp([3 * hidden, hidden, hidden])
        self.edge_norm = nn.LayerNorm(hidden)
        self.node_norm = nn.LayerNorm(hidden)

    def forward(self, nodes, links, graph: "Graph"):
        hidden = self.edge_self(links) + self.edge_tail(nodes)[:, graph.init] + self.edge_head(nodes)[:, graph.term]
        links = self.edge_norm(links + self.edge_out(torch.relu(hidden)))
        live = links * graph.open[..., None]
        zero = torch.zeros_like(nodes)
        into = zero.index_add(1, graph.term, live) / graph.deg_in[..., None]
        out = zero.index_add(1, graph.init, live) / graph.deg_out[..., None]
        nodes = self.node_norm(nodes + self.node(torch.cat([nodes, into, out], -1)))
        return nodes, links


@dataclass
class Graph:
    """Tensors of one network under a batch of designs: link ends, open mask (B, L), mean degrees (B, N)."""

    init: torch.Tensor
    term: torch.Tensor
    open: torch.Tensor
    deg_in: torch.Tensor
    deg_out: torch.Tensor

    @classmethod
    def build(cls, network, is_open: np.ndarray) -> "Graph":
        """The graph of ``network`` with the (B, L) bool ``is_open`` links usable."""
        init, term = torch.tensor(network.init), torch.tensor(network.term)
        opn = torch.as_tensor(np.asarray(is_open, dtype=np.float32))
        n = network.num_nodes
        zero = torch.zeros(opn.shape[0], n)
        return cls(init, term, opn, zero.index_add(1, term, opn).clamp(min=1.0),
                   zero.index_add(1, init, opn).clamp(min=1.0))


def node_features(network, demand: np.ndarray) -> np.ndarray:
    """(B, N, NODE_FEATURES) per-node inputs for (B, Z, Z) demands."""
    demand = np.asarray(demand, dtype=np.float64)
    b, z = demand.shape[0], network.num_zones
    scale = network.capacity.mean()
    out = np.zeros((b, network.num_nodes, NODE_FEATURES), dtype=np.float32)
    out[:, :z, 0] = demand.sum(2) / scale
    out[:, :z, 1] = demand.sum(1) / scale
    out[:, :z, 2] = 1.0
    out[:, :, 3] = network.no_through()
    return out


def static_link_features(network) -> np.ndarray:
    """(L, 3) design-independent link inputs: free-flow time and capacity over their network means, BPR b."""
    return np.stack([network.free_flow_time / network.free_flow_time.mean(),
                     network.capacity / network.capacity.mean(), network.b], axis=1).astype(np.float32)


class NetworkGNN(nn.Module):
    """Encoder: embeds node and link inputs, then ``layers`` rounds of ``LinkLayer``; returns both embeddings."""

    def __init__(self, cfg: GNNConfig):
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.node_in = mlp([NODE_FEATURES, h, h])
        self.link_in = mlp([cfg.edge_features, h, h])
        self.rounds = nn.ModuleList([LinkLayer(h) for _ in range(cfg.layers)])

    def forward(self, node_x: torch.Tensor, link_x: torch.Tensor, graph: Graph):
        nodes, links = self.node_in(node_x), self.link_in(link_x)
        for layer in self.rounds:
            nodes, links = layer(nodes, links, graph)
        return nodes, links


def save_model(model: nn.Module, cfg: GNNConfig, path, training: dict | None = None) -> Path:
    """Write ``model``'s weights with its config, ``training`` record and the ncosolve version (atomically)."""
    return write_checkpoint(path, FORMAT, asdict(cfg), model.state_dict(), training)


def read_model(path, kind: str) -> tuple[GNNConfig, dict, dict]:
    """(config, meta, state_dict) of a network-design checkpoint of ``kind``, or CheckpointError saying why not."""
    meta, state = read_checkpoint(path, FORMAT, "a network-design GNN")
    cfg = read_config(GNNConfig, meta, path)
    if cfg.kind != kind:
        raise CheckpointError(f"checkpoint {path}: a network-design {cfg.kind!r} model, expected a {kind!r} one")
    return cfg, meta, state
