"""Heatmap-guided Monte Carlo tree search for large TSP (numba kernels, sparse candidate lists).

Importing this package registers the ``mcts``, ``mcts-knn`` and ``mcts-gnn`` methods and the ``tsp500-fu``,
``tsp1000-fu`` and ``tsp10000-fu`` benchmark suites.
"""

from __future__ import annotations

from ncosolve.search.heatmaps import knn_prior_table, make_heatmap
from ncosolve.search.mcts import MCTSParams, SearchResult, default_params, mcts_search
from ncosolve.search.parallel import solve_many, warm_up
from ncosolve.search import methods as _methods  # noqa: F401  (registers mcts, mcts-knn, mcts-gnn)
from ncosolve.search import suites as _suites  # noqa: F401  (registers the tsp*-fu suites)

__all__ = ["MCTSParams", "SearchResult", "default_params", "knn_prior_table", "make_heatmap", "mcts_search",
           "solve_many", "warm_up"]
