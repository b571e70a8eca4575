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

from ncosolve.envs.routing_core import RouteState
from ncosolve.policies.batch import RoutingBatch, node_features

LAYER_COST = 1.5  # an encoder layer costs at most about this many step-bias MLPs (measured 0.6-1.3 at N = 783)


class EncoderTimeout(Exception):
    """``encode`` stopped: its next layer would end past the deadline it was given."""


@dataclass(frozen=True)
class PolicyConfig:
    """Architecture and the task a policy was trained for (kept in every checkpoint as JSON)."""

    problem: str = "tsp"  # "tsp", "cvrp" or "cvrptw"
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

    def forward(self, h: torch.Tensor, pair: torch.Tensor, copies: int = 1) -> torch.Tensor:
        """h (B, N, d), pair (B, N, N, 2) -> (B, N, d); with ``copies`` > 1 the rows are that many copy-major
        copies of the same distances, so the pair biases are computed once and broadcast."""
        b, n, d = h.shape
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, self.dk).permute(2, 0, 3, 1, 4)
        bias = self.bias(pair[:b // copies]).permute(0, 3, 1, 2)  # (B / copies, H, N, N)
        scores = (q @ k.transpose(-1, -2) / math.sqrt(self.dk)).view(copies, b // copies, self.heads, n, n) + bias
        scores = scores.view(b, self.heads, n, n)
        att = scores.softmax(-1)  # (B, H, N, N)
        nodes = (att @ v).transpose(1, 2).reshape(b, n, d)
        edges = torch.einsum("bhij,bijc->bihc", att, pair).reshape(b, n, 2 * self.heads)
        h = self.norm1(h + self.out(nodes) + self.edge_value(edges))
        return self.norm2(h + self.ff(h))


class Encoded:
    """Per-instance tensors the decoder reuses at every step (computed once per batch), laid out so that a step
    reads whole contiguous rows: ``step_bias`` (B / copies, H + 1, N, N) is the decoder bias from the current
    node i (third axis) to candidate j, per glimpse head and for the pointer, shared by a batch's dihedral
    copies (row b reads row b % (B / copies))."""

    def __init__(self, h, first_q, last_q, glimpse_k, glimpse_v, pointer_k, graph, step_bias):
        self.h = h  # (B, N, d)
        self.first_q, self.last_q = first_q, last_q  # (B, N, d): each node's share of the query as first / last
        self.glimpse_k, self.glimpse_v = glimpse_k, glimpse_v  # (B, H, dk, N) and (B, H, N, dk)
        self.pointer_k = pointer_k  # (B, d, N): pointer keys with the glimpse output map folded in, / sqrt(d)
        self.graph = graph  # (B, d)
        self.step_bias = step_bias


class AttentionPolicy(nn.Module):
    """Encoder (pair-aware self-attention) and autoregressive decoder (pair-aware glimpse + pointer)."""

    def __init__(self, cfg: PolicyConfig):
        super().__init__()
        if cfg.problem not in ("tsp", "cvrp", "cvrptw"):
            raise ValueError(f"PolicyConfig.problem must be 'tsp', 'cvrp' or 'cvrptw', got {cfg.problem!r}")
        d = cfg.embed_dim
        self.cfg = cfg
        self.timed = cfg.problem == "cvrptw"
        self.embed = nn.Linear(node_features(cfg.problem), d)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.layers))
        self.project = nn.Linear(d, 3 * d, bias=False)  # glimpse keys, glimpse values, pointer keys
        # [first or zeros, last, remaining load] and, with time windows, the vehicle's clock
        self.context = nn.Linear(2 * d + 1 + self.timed, d, bias=False)
        self.graph = nn.Linear(d, d, bias=False)
        self.start = nn.Parameter(torch.zeros(2 * d))  # TSP placeholder for (first, last) before the first move
        self.step_bias = PairBias(cfg.bias_hidden, cfg.heads + 1)  # glimpse heads + pointer
        self.glimpse_out = nn.Linear(d, d, bias=False)
        if self.timed:  # per-step bias from each candidate's wait and slack, per glimpse head and the pointer
            self.time_bias = nn.Linear(2, cfg.heads + 1)

    def encode(self, batch: RoutingBatch, deadline: float | None = None) -> Encoded:
        """Node embeddings and the decoder's precomputed keys/values.

        With a ``deadline`` (a ``time.perf_counter()`` value), EncoderTimeout as soon as the next layer is
        predicted to end past it: each layer is costed from the last one timed (the first from the O(N^2)
        step-bias MLP), so a large instance under a small budget is given up on early, not finished late.
        """
        pair = torch.stack([batch.dist, batch.dist.transpose(1, 2)], dim=-1)
        tick = time.perf_counter()
        step_bias = self.step_bias(pair[:len(pair) // batch.copies])  # the copies share their distances
        layer_s = LAYER_COST * (time.perf_counter() - tick)
        h = self.embed(batch.nodes)
        for layer in self.layers:
            tick = time.perf_counter()
            if deadline is not None and tick + layer_s > deadline:
                raise EncoderTimeout
            h = layer(h, pair, batch.copies)
            layer_s = time.perf_counter() - tick
        b, n, d = h.shape
        heads = self.cfg.heads
        gk, gv, lk = self.project(h).chunk(3, dim=-1)
        gk = gk.reshape(b, n, heads, d // heads).permute(0, 2, 3, 1).contiguous()
        gv = gv.reshape(b, n, heads, d // heads).transpose(1, 2).contiguous()
        pk = ((lk @ self.glimpse_out.weight).transpose(1, 2) / math.sqrt(d)).contiguous()
        w = self.context.weight  # (d, 2d + 1 [+ 1]) over [first, last, remaining load (, clock)]
        return Encoded(h, h @ w[:, :d].T, h @ w[:, d:2 * d].T, gk, gv, pk, self.graph(h.mean(1)),
                       step_bias.permute(0, 3, 1, 2).contiguous())

    def logits(self, enc: Encoded, batch: RoutingBatch, state: RouteState, mask: torch.Tensor) -> torch.Tensor:
        """Masked log-probabilities (B, P, N) of the next node for every trajectory of ``state``.

        Every per-step read is a row gather (``index_select``) and the mask enters once, as an additive
        -inf term on the biases: the decoder step is memory-bound, so each pass over (B, H, P, N) counts.
        """
        first, last = state.first, state.last
        b, p = last.shape
        n, d = enc.h.shape[1:]
        heads, dk = self.cfg.heads, d // self.cfg.heads
        dev = last.device
        rows = (torch.arange(b, device=dev)[:, None] * n).expand(b, p)
        gather = lambda x, idx: x.reshape(b * n, d).index_select(0, (rows + idx.clamp(min=0)).reshape(-1))  # noqa
        w = self.context.weight
        if batch.problem == "tsp":
            query = (gather(enc.first_q, first) + gather(enc.last_q, last)).view(b, p, d)
            if bool((last < 0).any()):
                query = torch.where((last < 0)[..., None], self.start @ w[:, :2 * d].T, query)
        else:
            load = (state.left / batch.capacity[:, None]).float()[..., None]
            query = gather(enc.last_q, last).view(b, p, d) + load * w[:, 2 * d]
            if self.timed:
                clock = (state.time / batch.scale[:, None]).float()[..., None]
                query = query + clock * w[:, 2 * d + 1]
        query = query + enc.graph[:, None, :]
        # bias rows ((b, k), last[b, p]) for k over the H glimpse heads and the pointer: (B, H + 1, P, N)
        shared = torch.arange(b, device=dev) % len(enc.step_bias)  # dihedral copies share one bias table
        slots = (shared[:, None] * (heads + 1) + torch.arange(heads + 1, device=dev))[..., None] * n
        slots = slots + last.clamp(min=0)[:, None]
        bias = enc.step_bias.reshape(-1, n).index_select(0, slots.view(-1)).view(b, heads + 1, p, n)
        if bool((last < 0).any()):
            bias = bias * (last >= 0)[:, None, :, None]
        if self.timed:
            bias = bias + self._time_bias(batch, state)
        blocked = torch.zeros(mask.shape, device=dev).masked_fill_(~mask, float("-inf"))[:, None]  # (B, 1, P, N)
        # split, not slicing: its backward concatenates the two gradients instead of zero-filling (B, H + 1, P, N)
        # once per slice, which took a fifth of a training step on CPU
        glimpse_bias, pointer_bias = bias.split([heads, 1], dim=1)
        q = (query / math.sqrt(dk)).view(b, p, heads, dk).transpose(1, 2).reshape(b * heads, p, dk)
        scores = torch.bmm(q, enc.glimpse_k.view(b * heads, dk, n)).view(b, heads, p, n)
        scores = scores.add_(glimpse_bias).add_(blocked)  # in place: baddbmm took 3x as long on CPU
        glimpse = torch.bmm(scores.view(b * heads, p, n).softmax(-1), enc.glimpse_v.view(b * heads, n, dk))
        glimpse = glimpse.view(b, heads, p, dk).transpose(1, 2).reshape(b, p, d)
        ptr = torch.bmm(glimpse, enc.pointer_k)  # (B, P, N)
        return (self.cfg.clip * torch.tanh(ptr) + pointer_bias[:, 0] + blocked[:, 0]).log_softmax(-1)

    def _time_bias(self, batch: RoutingBatch, state: RouteState) -> torch.Tensor:
        """(B, H + 1, P, N) bias from each candidate's wait before its window opens and the slack left to its
        due time if driven to next, on the distances' scale."""
        scale = batch.scale[:, None, None]
        arrive = (state.time[..., None] + state.travel_from_last()) / scale
        ready, due = batch.windows[:, None, :, 0] / scale, batch.windows[:, None, :, 1] / scale
        start = torch.maximum(arrive, ready)
        pair = torch.stack([start - arrive, due - start], -1).float()  # (B, P, N, 2)
        return self.time_bias(pair).permute(0, 3, 1, 2)


@torch.no_grad()
def transfer_weights(target: AttentionPolicy, source: AttentionPolicy) -> list[str]:
    """Start ``target`` from ``source`` trained on another routing problem (e.g. CVRPTW from CVRP): equal-shaped
    tensors are copied, input layers that gained columns (time features, the clock) keep the source's columns
    and zeros for the new ones, so the transferred policy starts out acting as the source does; returns the
    names left at their fresh initialisation."""
    own = source.state_dict()
    fresh = []
    for name, tensor in target.state_dict().items():
        if name not in own:
            fresh.append(name)
        elif own[name].shape == tensor.shape:
            tensor.copy_(own[name])
        elif own[name].dim() == 2 and own[name].shape[0] == tensor.shape[0] and own[name].shape[1] < tensor.shape[1]:
            tensor.zero_()
            tensor[:, :own[name].shape[1]] = own[name]
        else:
            raise ValueError(f"transfer_weights: {name} is {tuple(own[name].shape)} in the source, "
                             f"{tuple(tensor.shape)} here")
    return fresh
