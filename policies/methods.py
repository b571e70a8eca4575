"""solve() methods backed by the attention policy: ``attention``, ``attention-sample``, ``attention+2opt``."""

from __future__ import annotations

import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import torch

from ncosolve.baselines.constructive import nearest_neighbor_routes, nearest_neighbor_tour
from ncosolve.baselines.local_search import improve_routes, improve_tour, prepare_local_search
from ncosolve.policies.batch import uses_coords
from ncosolve.policies.checkpoint import find_checkpoint, load_policy
from ncosolve.policies.decode import Decoding, decode
from ncosolve.registry import register

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


@contextmanager
def _torch_threads(threads: int):
    """Run torch with ``threads`` intra-op threads, restoring the caller's setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run(instance, how: Decoding, seed: int, checkpoint, deadline: float, cutoff: float, threads: int = 1):
    """Decode one instance (single-threaded by default: one small instance gains nothing from more): no new
    copy or sampling round after ``deadline``, and no network step after ``cutoff`` (``decode``)."""
    policy, info = _policy(instance, checkpoint)
    with torch.inference_mode(), _torch_threads(threads):
        solutions, lengths = decode(policy, [instance], how, seed=seed, deadline=deadline, cutoff=cutoff)
    info.update({"multistart": how.multistart, "augment": how.augment if uses_coords(instance) else 1,
                 "decode": "sampling" if how.sample else "greedy", "policy_cost": float(lengths[0])})
    if solutions[0] is None:  # the encoder could not finish within the budget: build without the network
        info["fallback"] = "nearest neighbour (the encoder would have overrun the time limit)"
        if instance.problem == "tsp":
            return [int(v) for v in nearest_neighbor_tour(instance)], info
        return nearest_neighbor_routes(instance), info
    return solutions[0], info


@register("attention", ("tsp", "cvrp"), "Pair-aware attention policy (POMO-style), greedy multi-start + x8 "
          "augmentation; shipped checkpoint of the nearest size", default_time_limit=10.0, strength=2)
def attention_solve(instance, time_limit: float, seed: int = 0, checkpoint: str | None = None, augment: int = 8,
                    multistart: bool = True, max_starts: int = MAX_STARTS, threads: int = 1):
    """Greedy decoding from every start node (and ``augment`` dihedral copies, while time remains); the best."""
    start = time.perf_counter()
    return _run(instance, Decoding(multistart=multistart, augment=augment, max_starts=max_starts), seed,
                checkpoint, start + 0.7 * time_limit, start + 0.9 * time_limit, threads)


@register("attention-sample", ("tsp", "cvrp"), "Pair-aware attention policy, multi-start sampling until the "
          "time limit", default_time_limit=10.0, strength=2)
def attention_sample_solve(instance, time_limit: float, seed: int = 0, checkpoint: str | None = None,
                           augment: int = 8, rounds: int = 1000, max_starts: int = MAX_STARTS, threads: int = 1):
    """Sampled multi-start decoding, up to ``rounds`` rounds per copy or ~70% of the time limit; the best."""
    start = time.perf_counter()
    how = Decoding(sample=True, augment=augment, samples=rounds, max_starts=max_starts)
    return _run(instance, how, seed, checkpoint, start + 0.7 * time_limit, start + 0.9 * time_limit, threads)


@register("attention+2opt", ("tsp", "cvrp"), "Pair-aware attention policy (greedy multi-start + x8 "
          "augmentation), then the numba 2-opt / Or-opt local search until the time limit",
          default_time_limit=10.0, strength=3, prepare=prepare_local_search)
def attention_2opt_solve(instance, time_limit: float, seed: int = 0, checkpoint: str | None = None,
                         augment: int = 8, threads: int = 1):
    """``attention``'s solution polished by ``improve_tour`` (TSP) or ``improve_routes`` (CVRP, in-route)."""
    start = time.perf_counter()
    solution, info = _run(instance, Decoding(augment=augment, max_starts=MAX_STARTS), seed, checkpoint,
                          start + 0.4 * time_limit, start + 0.6 * time_limit, threads)
    left = max(0.0, 0.9 * time_limit - (time.perf_counter() - start))
    if instance.problem == "tsp":
        return [int(v) for v in improve_tour(instance, solution, left, seed)], info
    return improve_routes(instance, solution, left), info
