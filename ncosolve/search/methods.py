"""The registered ``solve()`` methods of the search: ``mcts`` (softdist heatmap, or any by ``heatmap=``),
``mcts-knn`` (knn-prior) and ``mcts-gnn`` (the shipped GNN heatmap)."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from ncosolve.problems import TSPInstance
from ncosolve.errors import UnknownMethod
from ncosolve.search.mcts import MCTSParams, default_params, mcts_search


def _run(instance, heatmap: str, time_limit: float, seed: int, max_actions: int | None, **overrides):
    """Search with the size defaults overridden by the options the caller gave (None = default)."""
    unknown = sorted(set(overrides) - {f.name for f in fields(MCTSParams)})
    if unknown:
        raise UnknownMethod(f"mcts: unknown option(s) {', '.join(unknown)}; the options are "
                            f"{', '.join(f.name for f in fields(MCTSParams))}, heatmap (mcts) and max_actions")
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


def mcts_softdist(instance, time_limit: float, seed: int = 0, heatmap: str = "softdist",
                  max_actions: int | None = None, **params):
    """MCTS guided by the softdist heatmap, or ``heatmap`` ("knn-prior", "gnn", "all-zero"); ``params`` are
    ``MCTSParams`` fields (alpha, beta, restart_factor, max_depth, candidates, quadrant, alpha_nearness, ...;
    see ``ncosolve.search.mcts``) that override the size defaults."""
    return _run(instance, heatmap, time_limit, seed, max_actions, **params)


def mcts_knn(instance, time_limit: float, seed: int = 0, max_actions: int | None = None, **params):
    """MCTS guided by the shipped knn-prior heatmap; ``params`` as for ``mcts_softdist``."""
    return _run(instance, "knn-prior", time_limit, seed, max_actions, **params)


def mcts_gnn(instance, time_limit: float, seed: int = 0, max_actions: int | None = None, **params):
    """MCTS guided by the shipped GNN heatmap (``ncosolve.policies.tsp_gnn``); ``params`` as for
    ``mcts_softdist``."""
    return _run(instance, "gnn", time_limit, seed, max_actions, **params)
