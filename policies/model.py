"""Pair-aware attention policy: a POMO-style encoder-decoder whose attention scores carry learned edge biases.

Every attention score between nodes i and j gets a per-head bias ``MLP(d_ij, d_ji)``, and every attention
output also mixes in the attended edges' features, so the same weights read Euclidean instances (where
coordinates help) and matrix instances such as the asymmetric TSP (where only distances exist).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ncosolve.policies.batch import NODE_FEATURES, RoutingBatch

LAYER_COST = 1.5  # an encoder layer costs at most about this many step-bias MLPs (measured 0.6-1.3 at N = 783)


class EncoderTimeout(Exception):
    """``encode`` stopped: its next layer would end past the deadline it was given."""


@dataclass(frozen=True)
class PolicyConfig:
    """Architecture and the task a policy was trained for (kept in every checkpoint as JSON)."""

    problem: str = "tsp"  # "tsp" or "cvrp"
    variant: str = "euclidean"  # "euclidean" (coordinates) or "matrix" (distances only, e.g. ATSP)
    size: int = 50  # training size: nodes for TSP, customers for CVRP
    embed_dim: int = 128
    heads: int = 8
    layers: int = 3
    ff_dim: int = 512
    bias_hidden: int = 16
    clip: float = 10.0

    def to_dict(self) -> dict:
        """Plain JSON-able dict."""
        return asdict(self)


class PairBias(nn.Module):
    """Per-head additive attention bias from the pair features (d_ij, d_ji)."""

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, heads))

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        """(..., 2) -> (..., heads)."""
        return self.net(pair)


class EncoderLayer(nn.Module):
    """Multi-head self-attention with pair biases and edge-feature values, then a feed-forward block."""

    def __init__(self, cfg: PolicyConfig):
        super().__init__()
        d, h = cfg.embed_dim, cfg.heads
        self.heads, self.dk = h, d // h
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.bias = PairBias(cfg.bias_hidden, h)
        self.edge_value = nn.Linear(2 * h, d, bias=False)
        self.out = nn.Linear(d, d)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, cfg.ff_dim), nn.ReLU(), nn.Linear(cfg.ff_dim, d))

    def forward(self, h: torch.Tensor, pair: torch.Tensor) -> torch.Tensor:
        """h (B, N, d), pair (B, N, N, 2) -> (B, N, d)."""
        b, n, d = h.shape
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, self.dk).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.dk) + self.bias(pair).permute(0, 3, 1, 2)
        att = scores.softmax(-1)  # (B, H, N, N)
        nodes = (att @ v).transpose(1, 2).reshape(b, n, d)
        edges = torch.einsum("bhij,bijc->bihc", att, pair).reshape(b, n, 2 * self.heads)
        h = self.norm1(h + self.out(nodes) + self.edge_value(edges))
        return self.norm2(h + self.ff(h))


class Encoded:
    """Per-instance tensors the decoder reuses at every step (computed once per batch)."""

    def __init__(self, h, glimpse_k, glimpse_v, logit_k, graph, step_bias):
        self.h, self.glimpse_k, self.glimpse_v, self.logit_k = h, glimpse_k, glimpse_v, logit_k
        self.graph = graph  # (B, d)
        self.step_bias = step_bias  # (B, N, N, H + 1): decoder bias from the current node i to candidate j


class AttentionPolicy(nn.Module):
    """Encoder (pair-aware self-attention) and autoregressive decoder (pair-aware glimpse + pointer)."""

    def __init__(self, cfg: PolicyConfig):
        super().__init__()
        if cfg.problem not in ("tsp", "cvrp"):
            raise ValueError(f"PolicyConfig.problem must be 'tsp' or 'cvrp', got {cfg.problem!r}")
        d = cfg.embed_dim
        self.cfg = cfg
        self.embed = nn.Linear(NODE_FEATURES, d)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.layers))
        self.project = nn.Linear(d, 3 * d, bias=False)  # glimpse keys, glimpse values, pointer keys
        self.context = nn.Linear(2 * d + 1, d, bias=False)  # [first or zeros, last, remaining load]
        self.graph = nn.Linear(d, d, bias=False)
        self.start = nn.Parameter(torch.zeros(2 * d))  # TSP placeholder for (first, last) before the first move
        self.step_bias = PairBias(cfg.bias_hidden, cfg.heads + 1)  # glimpse heads + pointer
        self.glimpse_out = nn.Linear(d, d, bias=False)

    def encode(self, batch: RoutingBatch, deadline: float | None = None) -> Encoded:
        """Node embeddings and the decoder's precomputed keys/values.

        With a ``deadline`` (a ``time.perf_counter()`` value), EncoderTimeout as soon as the next layer is
        predicted to end past it: each layer is costed from the last one timed (the first from the O(N^2)
        step-bias MLP), so a large instance under a small budget is given up on early, not finished late.
        """
        pair = torch.stack([batch.dist, batch.dist.transpose(1, 2)], dim=-1)
        tick = time.perf_counter()
        step_bias = self.step_bias(pair)
        layer_s = LAYER_COST * (time.perf_counter() - tick)
        h = self.embed(batch.nodes)
        for layer in self.layers:
            tick = time.perf_counter()
            if deadline is not None and tick + layer_s > deadline:
                raise EncoderTimeout
            h = layer(h, pair)
            layer_s = time.perf_counter() - tick
        gk, gv, lk = self.project(h).chunk(3, dim=-1)
        return Encoded(h, gk, gv, lk, self.graph(h.mean(1)), step_bias)

    def logits(self, enc: Encoded, batch: RoutingBatch, first, last, left, mask) -> torch.Tensor:
        """Masked log-probabilities (B, P, N) of the next node for every trajectory."""
        b, p = last.shape
        n, d = enc.h.shape[1:]
        heads, dk = self.cfg.heads, d // self.cfg.heads
        gather = lambda idx: torch.gather(enc.h, 1, idx.clamp(min=0)[..., None].expand(b, p, d))  # noqa: E731
        if batch.problem == "tsp":
            pair_nodes = torch.cat([gather(first), gather(last)], -1)
            pair_nodes = torch.where((last < 0)[..., None], self.start.expand(b, p, 2 * d), pair_nodes)
            load = torch.zeros(b, p, 1, device=last.device)
        else:
            pair_nodes = torch.cat([torch.zeros(b, p, d, device=last.device), gather(last)], -1)
            load = (left / batch.capacity[:, None]).float()[..., None]
        query = self.context(torch.cat([pair_nodes, load], -1)) + enc.graph[:, None, :]
        idx = last.clamp(min=0)[..., None, None].expand(b, p, n, heads + 1)
        bias = torch.gather(enc.step_bias, 1, idx)  # (B, P, N, H + 1)
        bias = torch.where((last < 0)[..., None, None], 0.0, bias)
        q = query.view(b, p, heads, dk).transpose(1, 2)  # (B, H, P, dk)
        k = enc.glimpse_k.view(b, n, heads, dk).transpose(1, 2)
        v = enc.glimpse_v.view(b, n, heads, dk).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(dk) + bias[..., :heads].permute(0, 3, 1, 2)
        scores = scores.masked_fill(~mask[:, None], float("-inf"))
        glimpse = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, p, d)
        ptr = self.glimpse_out(glimpse) @ enc.logit_k.transpose(1, 2) / math.sqrt(d)  # (B, P, N)
        ptr = self.cfg.clip * torch.tanh(ptr) + bias[..., heads]
        return ptr.masked_fill(~mask, float("-inf")).log_softmax(-1)
