"""solve() methods backed by the attention policy: ``attention``, ``attention-sample``, ``attention+2opt``."""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

import torch

from ncosolve.baselines.constructive import nearest_neighbor_routes, nearest_neighbor_tour
from ncosolve.baselines.local_search import (between_routes, cost_or_inf, improve_tour, polish_routes,
                                             prepare_local_search)
from ncosolve.generators import shrink
from ncosolve.policies.batch import uses_coords
from ncosolve.policies.checkpoint import find_checkpoint, load_policy
from ncosolve.policies.decode import Decoding, decode_pool
from ncosolve.policies.torch_threads import torch_threads

MAX_STARTS = 200  # multi-start from at most this many nodes, so large instances stay within the budget



@lru_cache(maxsize=8)
def _cached_policy(path: str, problem: str):
    return load_policy(path, problem)


def _policy(instance, checkpoint):
    """The policy for ``instance`` (given checkpoint path or the nearest shipped one) and its info."""
    path = Path(checkpoint) if checkpoint is not None else find_checkpoint(instance)
    policy, meta = _cached_policy(str(path.resolve()), instance.problem)
    cfg = meta["config"]
    return policy, {"checkpoint": path.name, "trained_on": f"{cfg['problem']}{cfg['size']} {cfg['variant']}"}


def _run(instance, how: Decoding, seed: int, checkpoint, deadline: float, cutoff: float, threads: int = 1,
         keep: int = 1):
    """The ``keep`` best distinct solutions of one instance, as (cost, solution) best first, and the info.

    Single-threaded by default (one small instance gains nothing from more): no new copy or sampling round
    after ``deadline``, and no network step after ``cutoff`` (``decode_pool``).
    """
    policy, info = _policy(instance, checkpoint)
    with torch.inference_mode(), torch_threads(threads):
        pool = decode_pool(policy, [instance], how, seed=seed, deadline=deadline, cutoff=cutoff, keep=keep)[0]
    info.update({"multistart": how.multistart, "augment": how.augment if uses_coords(instance) else 1,
                 "decode": "sampling" if how.sample else "greedy"})
    if not pool:  # the encoder could not finish within the budget: build without the network
        info["fallback"] = "nearest neighbour (the encoder would have overrun the time limit)"
        built = ([int(v) for v in nearest_neighbor_tour(instance)] if instance.problem == "tsp"
                 else nearest_neighbor_routes(instance))
        return [(cost_or_inf(instance, built), built)], info
    info["policy_cost"] = pool[0][0]
    return pool, info


def prepare_attention(instance, checkpoint: str | None = None) -> None:
    """Import torch, load the checkpoint ``instance`` will use, and decode the instance cut to a few nodes with it
    (first-call allocations): one-time costs outside the budget."""
    policy, _ = _policy(instance, checkpoint)
    with torch.inference_mode(), torch_threads(1):
        decode_pool(policy, [shrink(instance)], Decoding(augment=1), seed=0)


def prepare_attention_2opt(instance, checkpoint: str | None = None) -> None:
    """``prepare_attention`` and the local-search kernels (``prepare_local_search``)."""
    prepare_attention(instance, checkpoint)
    prepare_local_search(instance)


def attention_solve(instance, time_limit: float, seed: int = 0, checkpoint: str | None = None, augment: int = 8,
                    multistart: bool = True, max_starts: int = MAX_STARTS, threads: int = 1):
    """Greedy decoding from every start node (and ``augment`` dihedral copies, while time remains); the best."""
    start = time.perf_counter()
    pool, info = _run(instance, Decoding(multistart=multistart, augment=augment, max_starts=max_starts), seed,
                      checkpoint, start + 0.7 * time_limit, start + 0.9 * time_limit, threads)
    return pool[0][1], info


def attention_sample_solve(instance, time_limit: float, seed: int = 0, checkpoint: str | None = None,
                           augment: int = 8, rounds: int = 1000, max_starts: int = MAX_STARTS, threads: int = 1):
    """Sampled multi-start decoding, up to ``rounds`` rounds per copy or ~70% of the time limit; the best."""
    start = time.perf_counter()
    how = Decoding(sample=True, augment=augment, samples=rounds, max_starts=max_starts)
    pool, info = _run(instance, how, seed, checkpoint, start + 0.7 * time_limit, start + 0.9 * time_limit, threads)
    return pool[0][1], info


def attention_2opt_solve(instance, time_limit: float, seed: int = 0, checkpoint: str | None = None,
                         augment: int = 8, threads: int = 1, candidates: int = 128):
    """``attention``'s ``candidates`` best distinct solutions, each polished by ``improve_tour`` (TSP) or
    ``polish_routes`` (CVRP, CVRPTW: relocate / swap / 2-opt* between routes where PyVRP is installed, then
    2-opt / Or-opt within them), best first, while time remains; the best polished one.

    Different multi-start trajectories fall into different local optima, so polishing several beats polishing
    only the best (the time a single polish leaves is otherwise unused)."""
    start = time.perf_counter()
    pool, info = _run(instance, Decoding(augment=augment, max_starts=MAX_STARTS), seed, checkpoint,
                      start + 0.4 * time_limit, start + 0.6 * time_limit, threads, keep=candidates)
    end = start + 0.9 * time_limit
    between = None if instance.problem == "tsp" else between_routes(instance, seed)
    info["between_routes"] = between is not None
    best = None
    for rank, (_, solution) in enumerate(pool):
        left = end - time.perf_counter()
        if rank and left <= 0:
            break
        if instance.problem == "tsp":
            polished = [int(v) for v in improve_tour(instance, solution, max(0.0, left), seed)]
        else:
            polished = polish_routes(instance, solution, max(0.0, left), between)[0]
        cost = cost_or_inf(instance, polished)
        if best is None or cost < best[0]:
            best = (cost, polished, rank)
        info["polished"] = rank + 1
    info["best_from_rank"] = best[2]
    return best[1], info
