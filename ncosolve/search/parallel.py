"""Solve many instances at once, one process per core, each job through ``ncosolve.solve``."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np


def warm_up(gnn: bool = False) -> None:
    """Load (or, the first time ever, compile) every search kernel, so that later budgets are search time.

    ``gnn`` also imports torch and loads the shipped GNN heatmap model (``mcts-gnn``).
    """
    from ncosolve.problems import TSPInstance
    from ncosolve.search.mcts import mcts_search

    coords = np.random.RandomState(0).uniform(size=(30, 2))
    for heatmap in ("softdist", "knn-prior") + (("gnn",) if gnn else ()):  # each heatmap has kernels of its own
        mcts_search(TSPInstance(coords=coords), heatmap=heatmap, time_limit=60.0, seed=0, max_actions=200)


def _init_worker(method: str, heatmap: str | None = None) -> None:
    if method.startswith("mcts"):
        warm_up(gnn=method == "mcts-gnn" or heatmap == "gnn")


def _solve_one(job):
    import ncosolve
    import ncosolve.search  # noqa: F401  (registers the search methods in a fresh worker)

    instance, method, time_limit, seed, options = job
    return ncosolve.solve(instance, method=method, time_limit=time_limit, seed=seed, **options)


def solve_many(instances, method: str = "mcts", time_limit: float | None = None, seed: int = 0,
               processes: int | None = None, **options) -> list:
    """``ncosolve.solve`` on every instance over ``processes`` worker processes; Results in input order.

    Workers are spawned fresh and warmed up (kernels loaded) before any budget starts. ``processes``
    None or 1 solves in this process, one instance after another.
    """
    jobs = [(inst, method, time_limit, seed, options) for inst in instances]
    if processes is None or processes <= 1:
        _init_worker(method, options.get("heatmap"))
        return [_solve_one(job) for job in jobs]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context, initializer=_init_worker,
                             initargs=(method, options.get("heatmap"))) as pool:
        return list(pool.map(_solve_one, jobs))
