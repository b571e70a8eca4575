"""Heatmap-guided Monte Carlo tree search for large TSP (numba kernels, sparse candidate lists).

``ncosolve.search.mcts`` holds the search, ``ncosolve.search.heatmaps`` the heatmaps and ``ncosolve.search.methods``
the ``mcts``, ``mcts-knn`` and ``mcts-gnn`` methods; the TSP-500 / 1000 / 10000 suites are in
``ncosolve.suites.tsp_large``. The package imports nothing itself, so the shared kernels (``metric``,
``tour_ops``) load without the search.
"""
