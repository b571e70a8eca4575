"""The registered ``solve()`` methods of the search: ``mcts`` (softdist heatmap, or any by ``heatmap=``),
``mcts-knn`` (knn-prior) and ``mcts-gnn`` (the shipped GNN heatmap)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ncosolve.problems import TSPInstance
from ncosolve.search.mcts import default_params, mcts_search


def _run(instance, heatmap: str, time_limit: float, seed: int, max_actions: int | None, **overrides):
    """Search with the size defaults overridden by the options the caller gave (None = default)."""
    params = replace(default_params(instance.n), **{k: v for k, v in overrides.items() if v is not None})
    result = mcts_search(instance, heatmap=heatmap, time_limit=time_limit, seed=seed, params=params,
                         max_actions=max_actions)
    info = {"heatmap": heatmap, "length": result.length, "actions": result.actions,
            "improvements": result.improvements, "restarts": result.restarts,
            "setup_s": round(result.setup_seconds, 4), "search_s": round(result.search_seconds, 4),
            "params": dict(vars(params)), **result.info}
    return np.asarray(result.tour, dtype=np.int64), info


def warm_up(*heatmaps: str) -> None:
    """Load (or, the first time ever, compile) the search kernels of each heatmap (default: softdist and
    knn-prior) on a 30-node instance, so that later budgets are search time; "gnn" also loads torch and the
    shipped GNN. Once per heatmap and process."""
    for heatmap in heatmaps or ("softdist", "knn-prior"):
        if heatmap not in _WARM:
            coords = np.random.RandomState(0).uniform(size=(30, 2))
            mcts_search(TSPInstance(coords=coords), heatmap=heatmap, time_limit=60.0, seed=0, max_actions=200)
            _WARM.add(heatmap)


_WARM: set = set()


def prepare_mcts(instance, heatmap: str = "softdist") -> None:
    """Load (or, the first time ever, compile) the search kernels of ``heatmap`` before the clock starts."""
    warm_up(heatmap)


def prepare_mcts_knn(instance) -> None:
    """``prepare_mcts`` for the knn-prior heatmap."""
    warm_up("knn-prior")


def prepare_mcts_gnn(instance) -> None:
    """``prepare_mcts`` for the GNN heatmap: also imports torch and loads the shipped model."""
    warm_up("gnn")


def mcts_softdist(instance, time_limit: float, seed: int = 0, heatmap: str = "softdist", alpha: float | None = None,
                  beta: float | None = None, restart_factor: float | None = None, max_depth: int | None = None,
                  candidates: int | None = None, candidate_rule: str | None = None, neighbours: int | None = None,
                  tau: float | None = None, restart: str | None = None, kick_window: int | None = None,
                  max_actions: int | None = None):
    """MCTS guided by the softdist heatmap, or ``heatmap`` ("knn-prior", "gnn", "all-zero"); see
    ``ncosolve.search.mcts`` (options override size defaults)."""
    return _run(instance, heatmap, time_limit, seed, max_actions, alpha=alpha, beta=beta,
                restart_factor=restart_factor, max_depth=max_depth, candidates=candidates,
                candidate_rule=candidate_rule, neighbours=neighbours, tau=tau, restart=restart,
                kick_window=kick_window)


def mcts_knn(instance, time_limit: float, seed: int = 0, alpha: float | None = None, beta: float | None = None,
             restart_factor: float | None = None, max_depth: int | None = None, candidates: int | None = None,
             candidate_rule: str | None = None, neighbours: int | None = None, restart: str | None = None,
             kick_window: int | None = None, max_actions: int | None = None):
    """MCTS guided by the shipped knn-prior heatmap; see ``ncosolve.search.mcts``."""
    return _run(instance, "knn-prior", time_limit, seed, max_actions, alpha=alpha, beta=beta,
                restart_factor=restart_factor, max_depth=max_depth, candidates=candidates,
                candidate_rule=candidate_rule, neighbours=neighbours, restart=restart, kick_window=kick_window)


def mcts_gnn(instance, time_limit: float, seed: int = 0, alpha: float | None = None, beta: float | None = None,
             restart_factor: float | None = None, max_depth: int | None = None, candidates: int | None = None,
             candidate_rule: str | None = None, neighbours: int | None = None, restart: str | None = None,
             kick_window: int | None = None, max_actions: int | None = None):
    """MCTS guided by the shipped GNN heatmap (``ncosolve.policies.tsp_gnn``); see ``ncosolve.search.mcts``."""
    return _run(instance, "gnn", time_limit, seed, max_actions, alpha=alpha, beta=beta,
                restart_factor=restart_factor, max_depth=max_depth, candidates=candidates,
                candidate_rule=candidate_rule, neighbours=neighbours, restart=restart, kick_window=kick_window)
