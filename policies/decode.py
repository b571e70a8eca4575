"""Decoding strategies as data: greedy or sampled, single- or multi-start (POMO), with x8 dihedral augmentation."""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass

import numpy as np
import torch

from ncosolve.envs.routing_core import RouteState, to_solution
from ncosolve.policies.batch import RoutingBatch, dihedral, from_instances, transform, uses_coords
from ncosolve.policies.model import AttentionPolicy, Encoded, EncoderTimeout


@dataclass(frozen=True)
class Decoding:
    """How to decode: ``sample`` (else greedy), ``multistart`` (one trajectory per start node, else one),
    ``augment`` (1..8 dihedral copies; matrix instances always use 1), ``samples`` (rounds when sampling),
    ``max_starts`` (multi-start from at most this many evenly spaced start nodes; None: all)."""

    sample: bool = False
    multistart: bool = True
    augment: int = 8
    samples: int = 1
    max_starts: int | None = None


def rollout(policy: AttentionPolicy, batch: RoutingBatch, multistart: bool, sample: bool,
            enc: Encoded | None = None, generator: torch.Generator | None = None, max_starts: int | None = None,
            deadline: float | None = None):
    """Build solutions for every instance; returns lengths (B, P) float64, actions (B, P, T), log-probs (B, P).

    Multi-start fixes the first node (TSP: every node; CVRP, CVRPTW: every customer; at most ``max_starts`` evenly
    spaced ones), as POMO does; single-start lets the policy pick the first node too. Once ``deadline`` (a
    ``time.perf_counter()`` value) has passed, only the shortest partial trajectory per instance goes on, to the
    nearest feasible node at each step without the network, so a rollout started in time ends soon after it
    (one 783-node rollout of 200 starts took a minute with both cores busy); the outputs then have P = 1 and
    the log-probabilities of those steps count as 0.
    """
    enc = policy.encode(batch) if enc is None else enc
    b, n = batch.nodes.shape[:2]
    dev = batch.nodes.device
    if multistart:
        offset = int(batch.problem != "tsp")
        starts = n - offset
        nodes = torch.arange(starts, device=dev)
        if max_starts is not None and starts > max_starts:
            nodes = torch.linspace(0, starts - 1, max_starts, device=dev).round().long()
            starts = max_starts
        first = (nodes + offset).expand(b, starts)
    else:
        starts, first = 1, None
    state = RouteState.initial(batch, starts)
    actions = []
    logp = torch.zeros(b, starts, device=dev)
    if first is not None:
        state.step(first)
        actions.append(first)
    while not bool(state.done.all()):
        if deadline is not None and time.perf_counter() > deadline:
            return _finish_nearest(batch, state, actions, logp)
        lp = policy.logits(enc, batch, state, state.mask())
        if sample:
            action = sample_actions(lp, generator)
        else:
            action = lp.argmax(-1)
        chosen = lp.gather(2, action[..., None]).squeeze(-1)
        logp = logp + torch.where(state.done, 0.0, chosen)
        state.step(action)
        actions.append(action)
    return state.length, torch.stack(actions, -1), logp


def sample_actions(lp: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One action per row of the log-probabilities ``lp`` (B, P, N), by inverting the CDF at a uniform draw:
    one random number per row, where ``torch.multinomial`` drew N (a fifth of a TSP100 training step)."""
    cdf = lp.exp().cumsum(-1)
    u = torch.rand(cdf.shape[:-1] + (1,), generator=generator, device=cdf.device, dtype=cdf.dtype)
    action = torch.searchsorted(cdf, u * cdf[..., -1:], right=True)  # skips zero-probability (masked) nodes
    return torch.where(action < cdf.shape[-1], action, lp.argmax(-1, keepdim=True)).squeeze(-1)  # u * total rounded up


def _finish_nearest(batch: RoutingBatch, state: RouteState, actions: list, logp: torch.Tensor):
    """``rollout``'s outputs after the deadline: the shortest partial trajectory of each instance, completed by
    always taking the closest feasible node; lengths (B, 1), actions (B, 1, T), log-probs (B, 1)."""
    rows, keep = torch.arange(len(state.length))[:, None], state.length.argmin(1)[:, None]  # (B, 1) each
    state = state.select(rows, keep)
    actions = [a[rows, keep] for a in actions]
    while not bool(state.done.all()):
        action = state.travel_from_last().masked_fill(~state.mask(), float("inf")).argmin(-1)
        state.step(action)
        actions.append(action)
    return state.length, torch.stack(actions, -1), logp[rows, keep]


ROLLOUT_CELLS = 100_000  # batch rows x N^2 per rollout: past this the step tensors spill the cache (TSP100: ~10 rows)


@torch.no_grad()
def decode(policy: AttentionPolicy, instances, how: Decoding = Decoding(), seed: int = 0,
           chunk: int | None = None, deadline: float | None = None, cutoff: float | None = None):
    """Best solution per instance under ``how``; returns (solutions, lengths) in input order (``decode_pool``
    with one candidate kept; an instance with none has solution None and length inf)."""
    pools = decode_pool(policy, instances, how, seed, chunk, deadline, cutoff, keep=1)
    return [p[0][1] if p else None for p in pools], np.array([p[0][0] if p else np.inf for p in pools])


@torch.no_grad()
def decode_pool(policy: AttentionPolicy, instances, how: Decoding = Decoding(), seed: int = 0,
                chunk: int | None = None, deadline: float | None = None, cutoff: float | None = None,
                keep: int = 1) -> list[list[tuple[float, list]]]:
    """The ``keep`` best distinct solutions per instance under ``how``, as (length, solution) lists, best first
    (a local search can then start from several, as ``attention+2opt`` does).

    Instances are grouped by size (and by whether they have coordinates) and decoded ``chunk`` at a time, all
    augmented copies in one batch; by default as many as keep (instances x copies) x N^2 near ``ROLLOUT_CELLS``
    (a decoder step is memory-bound: on TSP100, 8 rows ran 222 ms per x8-augmented instance, 256 rows 323 ms). A VRP
    with a fleet cap (``num_vehicles``) ranks candidates within the cap first (the core's mask keeps the last
    vehicle out until nothing more fits, so few go over); only when none fits is a solution over the fleet
    kept, which ``evaluate`` then reports as such.
    With a ``deadline`` (a ``time.perf_counter()`` value) copies are encoded and run one at a time, round-robin
    over the sampling rounds, and stop once it has passed (after at least one). Past ``cutoff`` (another such
    value, normally after ``deadline``) a rollout finishes its trajectories without the network (``rollout``),
    and an encoding that would end past it is not started or given up (``AttentionPolicy.encode``): the
    instances of that chunk then keep what earlier copies found, possibly nothing (an empty list).
    """
    policy.eval()
    generator = torch.Generator().manual_seed(seed)
    fleets = [getattr(inst, "num_vehicles", None) for inst in instances]
    pools: list[list[tuple[bool, float, list]]] = [[] for _ in instances]
    groups_of: dict[tuple[int, bool], list[int]] = {}  # by size, and whether dihedral copies apply
    for i, inst in enumerate(instances):
        groups_of.setdefault((inst.n, uses_coords(inst)), []).append(i)
    rounds = how.samples if how.sample else 1
    for (n, coords), idx in groups_of.items():
        per_chunk = chunk or max(1, ROLLOUT_CELLS // (n * n * (how.augment if coords else 1)))
        for lo in range(0, len(idx), per_chunk):
            part = idx[lo:lo + per_chunk]
            base = from_instances([instances[i] for i in part])
            copies = how.augment if base.has_coords else 1
            groups = [dihedral(base, copies)] if deadline is None else [transform(base, k) for k in range(copies)]
            encoded: list[Encoded | None] = [None] * len(groups)
            for step in range(rounds * len(groups)):
                if step and deadline is not None and time.perf_counter() > deadline:
                    break
                g = step % len(groups)
                if encoded[g] is None:
                    try:
                        encoded[g] = policy.encode(groups[g], cutoff)
                    except EncoderTimeout:
                        break
                length, actions, _ = rollout(policy, groups[g], how.multistart, how.sample, encoded[g], generator,
                                             how.max_starts, cutoff)
                _fold(base.problem, part, length, actions, pools, [fleets[i] for i in part], keep)
    return [[(length, solution) for _, length, solution in pool] for pool in pools]


def route_counts(actions: torch.Tensor) -> torch.Tensor:
    """Routes per CVRP / CVRPTW trajectory (..., T): customers followed by the depot or by the end."""
    ends = torch.cat([actions[..., 1:] == 0, torch.ones_like(actions[..., :1], dtype=torch.bool)], -1)
    return ((actions != 0) & ends).sum(-1)


def _fold(problem, part, length, actions, pools, fleets, keep: int) -> None:
    """Fold one rollout over (copies x instances, starts) into each instance's pool of its ``keep`` best
    distinct solutions, ranked by (over the fleet cap, length): a candidate within the cap beats any over it.
    Candidates of equal length count as one (a tour and its reversal, or the same tour from two starts)."""
    copies = length.shape[0] // len(part)
    length = length.view(copies, len(part), -1).permute(1, 0, 2).reshape(len(part), -1)
    actions = actions.view(copies, len(part), *actions.shape[1:]).permute(1, 0, 2, 3)
    actions = actions.reshape(len(part), -1, actions.shape[-1])
    over = torch.zeros(length.shape, dtype=torch.bool)
    if problem != "tsp" and any(f is not None for f in fleets):
        cap = torch.tensor([f if f is not None else actions.shape[-1] for f in fleets])
        over = route_counts(actions) > cap[:, None]
    order = torch.where(over, length + length.max() + 1.0, length).argsort(1)
    for row, i in enumerate(part):
        pool = pools[i]
        seen = {round(entry[1], 9) for entry in pool}
        for j in order[row].tolist():
            rank = (bool(over[row, j]), float(length[row, j]))
            if len(pool) >= keep and rank >= pool[-1][:2]:
                break
            if round(rank[1], 9) in seen:
                continue
            seen.add(round(rank[1], 9))
            bisect.insort(pool, (*rank, to_solution(problem, actions[row, j].numpy())), key=lambda entry: entry[:2])
            del pool[keep:]
