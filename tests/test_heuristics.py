"""Constructive heuristics and the numba 2-opt / Or-opt local search: feasible, local optima, budgets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import ncosolve
from ncosolve.baselines.local_search import candidate_lists, improve_routes, improve_tour


@pytest.fixture(scope="module", autouse=True)
def compiled():
    """Compile (or load from cache) the kernels once, so timing tests measure the search, not numba."""
    improve_tour(ncosolve.generate("tsp", 1, 30)[0], np.arange(30))


@pytest.mark.parametrize("method", ["nearest-neighbor", "insertion", "2opt"])
def test_methods_feasible_on_real_instances(method, eil51, a_n32_k5, c101):
    for inst in (eil51, a_n32_k5, c101):
        if inst.problem not in ncosolve.registry.get_method(method).problems:
            continue
        res = ncosolve.solve(inst, method=method, time_limit=5)
        assert res.feasible, res.info
        assert res.cost >= ncosolve.best_known(inst)


def test_quality_on_eil51(eil51):
    # measured: nearest neighbour 511, farthest insertion 464, 2opt 442 (optimum 426)
    nn = ncosolve.solve(eil51, method="nearest-neighbor").cost
    ins = ncosolve.solve(eil51, method="insertion").cost
    opt = ncosolve.solve(eil51, method="2opt", time_limit=5)
    assert opt.cost <= ins <= nn
    assert opt.cost <= 1.05 * 426
    assert opt.info["start_cost"] == ins


def _best_2opt_delta(inst, tour):
    d = inst.distance_matrix()
    t = np.asarray(tour)
    nxt = np.roll(t, -1)
    n = len(t)
    best = 0.0
    for i in range(n - 1):
        j = np.arange(i + 2, n if i > 0 else n - 1)
        delta = d[t[i], t[j]] + d[nxt[i], nxt[j]] - d[t[i], nxt[i]] - d[t[j], nxt[j]]
        best = min(best, float(delta.min()) if len(delta) else 0.0)
    return best


def test_result_is_a_2opt_local_optimum_with_full_candidate_lists():
    inst = ncosolve.generate("tsp", 1, 60, seed=4)[0]
    start = np.random.default_rng(0).permutation(60)
    tour = improve_tour(inst, start, neighbours=59)
    assert _best_2opt_delta(inst, tour) > -1e-9
    assert ncosolve.evaluate(inst, tour) < ncosolve.evaluate(inst, start)


def test_asymmetric_instances_use_directed_costs_and_never_worsen():
    rng = np.random.default_rng(1)
    for trial in range(5):
        inst = ncosolve.TSPInstance(dist=rng.integers(1, 100, (8, 8)) * (1 - np.eye(8)))
        assert not inst.symmetric
        best = min(ncosolve.evaluate(inst, [0, *p]) for p in itertools.permutations(range(1, 8)))
        for method in ("nearest-neighbor", "insertion", "2opt"):
            res = ncosolve.solve(inst, method=method)
            assert res.feasible and res.cost >= best
        start = rng.permutation(8)
        assert ncosolve.evaluate(inst, improve_tour(inst, start)) <= ncosolve.evaluate(inst, start)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("problem", ["tsp", "cvrp", "cvrptw"])
def test_tiny_instances(n, problem):
    inst = ncosolve.generate(problem, 1, n, seed=n)[0]
    for method in ncosolve.methods(problem):
        if method.name in ("nearest-neighbor", "insertion", "2opt"):
            assert ncosolve.solve(inst, method=method.name, time_limit=2).feasible


def test_random_insertion_depends_on_seed():
    inst = ncosolve.generate("tsp", 1, 80, seed=2)[0]
    a = ncosolve.solve(inst, method="insertion", rule="random", seed=1).solution
    b = ncosolve.solve(inst, method="insertion", rule="random", seed=2).solution
    c = ncosolve.solve(inst, method="insertion", rule="random", seed=1).solution
    assert list(a) == list(c) and list(a) != list(b)
    with pytest.raises(ncosolve.NcoError, match="rule"):
        ncosolve.solve(inst, method="insertion", rule="cheapest")


def test_improve_routes_keeps_customers_and_does_not_worsen(a_n32_k5):
    routes = ncosolve.solve(a_n32_k5, method="nearest-neighbor").solution
    better = improve_routes(a_n32_k5, routes)
    assert sorted(map(sorted, better)) == sorted(map(sorted, routes))
    assert ncosolve.evaluate(a_n32_k5, better) <= ncosolve.evaluate(a_n32_k5, routes)


def test_candidate_lists_exclude_self_even_with_duplicate_points():
    coords = np.array([[0, 0], [0, 0], [1, 1], [2, 2], [0, 0]], dtype=float)
    nb = candidate_lists(ncosolve.TSPInstance(coords=coords), k=3)
    assert nb.shape == (5, 3)
    assert all(i not in nb[i] for i in range(5))


def test_10000_nodes_within_budget_without_dense_matrix():
    inst = ncosolve.generate("tsp", 1, 10000, seed=0)[0]
    res = ncosolve.solve(inst, method="2opt", time_limit=3)
    assert res.feasible and res.runtime_s <= 1.1 * 3 + 0.5
    assert res.cost < res.info["start_cost"]
    assert "_matrix" not in vars(inst)  # the dense distance matrix was never built
