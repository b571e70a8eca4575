"""Nearest neighbour, insertion and the numba 2-opt / Or-opt search: feasible, exact, local optima, budgets."""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np
import pytest
from numba import njit

import ncosolve
from ncosolve.baselines.constructive import edge, insertion_tour, kernel_inputs, nearest_neighbor_tour
from ncosolve.baselines.local_search import (between_routes, improve_routes, improve_tour, polish_routes, search_routes,
                                             search_tour)
from ncosolve.problems.distances import coord_distances

METHOD_OPTIONS = [("nearest-neighbor", {}), ("insertion", {"rule": "farthest"}), ("insertion", {"rule": "random"}),
                  ("insertion", {"rule": "cheapest"}), ("2opt", {})]


@pytest.fixture(scope="module", autouse=True)
def compiled():
    """Load (or compile) every kernel once, so the timing tests measure the search, not numba."""
    for problem in ("tsp", "cvrp", "cvrptw"):
        inst = ncosolve.generate(problem, 1, 12)[0]
        for method, options in METHOD_OPTIONS:
            ncosolve.solve(inst, method=method, **options)


@pytest.mark.parametrize("method,options", METHOD_OPTIONS)
def test_feasible_on_real_instances(method, options, eil51, a_n32_k5, c101):
    for inst in (eil51, a_n32_k5, c101):
        res = ncosolve.solve(inst, method=method, time_limit=5, **options)
        assert res.feasible, res.info
        assert res.cost == ncosolve.evaluate(inst, res.solution) >= ncosolve.best_known(inst)


@pytest.mark.parametrize("method,options", METHOD_OPTIONS)
@pytest.mark.parametrize("problem", ["tsp", "cvrp", "cvrptw"])
@pytest.mark.parametrize("distribution", ["uniform", "clustered"])
def test_feasible_on_generated_instances(method, options, problem, distribution):
    for inst in ncosolve.generate(problem, 2, 60, seed=5, distribution=distribution):
        res = ncosolve.solve(inst, method=method, time_limit=5, **options)
        assert res.feasible, res.info


def test_quality_on_eil51(eil51):
    # measured: nearest neighbour 513, farthest 448, random (seed 0) 464, cheapest 482, 2opt 438 (optimum 426)
    nn = ncosolve.solve(eil51, method="nearest-neighbor").cost
    far = ncosolve.solve(eil51, method="insertion").cost
    cheap = ncosolve.solve(eil51, method="insertion", rule="cheapest").cost
    opt = ncosolve.solve(eil51, method="2opt", time_limit=5)
    assert opt.info["start"] == "insertion" and opt.info["start_cost"] == far
    assert opt.info["local_optimum"] and opt.info["iterations"] > 0
    assert 426 <= opt.cost < far < cheap < nn
    assert opt.cost <= 1.03 * 426


def test_2opt_on_vrps_never_worse_than_its_start(a_n32_k5, c101):
    # measured: A-n32-k5 1145 (nearest neighbour) -> 875 (optimum 784); C101 1049.7 (insertion) -> 863.0
    # (optimum 827.3); within routes alone the same starts end at 1133 and 1049.7
    for inst in (a_n32_k5, c101):
        res = ncosolve.solve(inst, method="2opt", time_limit=5)
        assert res.feasible and res.info["local_optimum"] and res.info["between_routes"]
        assert res.info["start"] == ("nearest-neighbor" if inst.problem == "cvrp" else "insertion")
        start = ncosolve.solve(inst, method=res.info["start"])
        assert res.cost <= res.info["start_cost"] == start.cost
        assert res.cost < 0.95 * ncosolve.evaluate(inst, search_routes(inst, start.solution)[0])


def test_polish_routes_moves_customers_between_routes_and_keeps_the_fleet(c101):
    # one customer per route: only moves between routes can improve it, and C101's fleet of 25 must hold
    routes = [[c] for c in range(1, 26)]
    crowded = dataclasses.replace(c101, demands=c101.demands[:26], coords=c101.coords[:26],
                                  time_windows=c101.time_windows[:26], service_times=c101.service_times[:26])
    polished, info = polish_routes(crowded, routes, 5.0, between_routes(crowded))
    assert info["between_routes"] and len(polished) < len(routes) <= crowded.num_vehicles
    assert sorted(c for r in polished for c in r) == list(range(1, 26))
    assert ncosolve.evaluate(crowded, polished) < 0.5 * ncosolve.evaluate(crowded, routes)
    over = [[c] for c in range(1, crowded.n)] + [[]]  # empty routes are dropped; the start fits the fleet
    assert polish_routes(crowded, over, 5.0, between_routes(crowded))[1]["between_routes"]
    assert polish_routes(crowded, routes, 5.0, None)[1]["between_routes"] is False


def _best_2opt_delta(d: np.ndarray, tour: np.ndarray) -> float:
    """Most negative change of any 2-opt move, by brute force."""
    nxt = np.roll(tour, -1)
    n, best = len(tour), 0.0
    for i in range(n - 2):
        j = np.arange(i + 2, n if i > 0 else n - 1)
        delta = d[tour[i], tour[j]] + d[nxt[i], nxt[j]] - d[tour[i], nxt[i]] - d[tour[j], nxt[j]]
        best = min(best, float(delta.min()))
    return best


def _best_or_opt_delta(d: np.ndarray, tour: np.ndarray, reverse: bool) -> float:
    """Most negative change of moving 1-3 consecutive cities elsewhere (reversed too if ``reverse``)."""
    n, best = len(tour), 0.0
    for s in range(1, 4):
        for i in range(n):
            seg = np.roll(tour, -i)[:s]
            rest = np.roll(tour, -i)[s:]
            p, q = rest[-1], rest[0]
            gain = d[p, seg[0]] + d[seg[-1], q] - d[p, q]
            u, v = rest[:-1], rest[1:]  # every edge left, except the closing (p, q)
            orders = (seg, seg[::-1]) if reverse else (seg,)
            for o in orders:
                internal = np.sum(d[o[:-1], o[1:]]) - np.sum(d[seg[:-1], seg[1:]])
                delta = d[u, o[0]] + d[o[-1], v] - d[u, v] - gain + internal
                best = min(best, float(delta.min()) if len(delta) else 0.0)
    return best


def test_improve_tour_reaches_a_2opt_and_or_opt_local_optimum():
    inst = ncosolve.generate("tsp", 1, 60, seed=4)[0]
    start = np.random.default_rng(0).permutation(60)
    tour = improve_tour(inst, start, neighbours=59)
    d = inst.distance_matrix()
    assert sorted(tour) == list(range(60))
    assert _best_2opt_delta(d, tour) > -1e-9
    assert _best_or_opt_delta(d, tour, reverse=True) > -1e-9
    assert ncosolve.evaluate(inst, tour) < ncosolve.evaluate(inst, start)


def test_2opt_method_never_worse_than_insertion_on_tsplib_rounding():
    for inst in ncosolve.load_benchmark("quick"):
        if inst.problem == "tsp":
            res = ncosolve.solve(inst, method="2opt", time_limit=5)
            assert res.feasible and res.cost <= res.info["start_cost"]


def test_asymmetric_instances_use_directed_costs():
    rng = np.random.default_rng(1)
    for _ in range(5):
        dist = rng.uniform(1, 100, (8, 8)) * (1 - np.eye(8))
        inst = ncosolve.TSPInstance(dist=dist)
        assert not inst.symmetric
        best = min(ncosolve.evaluate(inst, [0, *p]) for p in itertools.permutations(range(1, 8)))
        for method, options in METHOD_OPTIONS:
            res = ncosolve.solve(inst, method=method, **options)
            assert res.feasible and res.cost >= best - 1e-9
        start = rng.permutation(8)
        tour = improve_tour(inst, start, neighbours=7)
        assert ncosolve.evaluate(inst, tour) <= ncosolve.evaluate(inst, start)
        assert _best_or_opt_delta(dist, tour, reverse=False) > -1e-9  # forward Or-opt optimum, directed costs


def _reference_nearest_neighbour(d: np.ndarray) -> list[int]:
    tour, left = [0], set(range(1, len(d)))
    while left:
        nxt = min(left, key=lambda j: d[tour[-1], j])
        tour.append(nxt)
        left.remove(nxt)
    return tour


def _reference_cheapest_insertion(d: np.ndarray) -> list[int]:
    tour, left = [0], set(range(1, len(d)))
    while left:
        cost, u, at = min((d[tour[k], u] + d[u, tour[(k + 1) % len(tour)]] - d[tour[k], tour[(k + 1) % len(tour)]],
                           u, k) for u in left for k in range(len(tour)))
        tour.insert(at + 1, u)
        left.remove(u)
    return tour


@pytest.mark.parametrize("symmetric", [True, False])
def test_kernels_match_plain_python_references(symmetric):
    rng = np.random.default_rng(7)
    d = rng.uniform(1, 100, (30, 30))
    d = (d + d.T if symmetric else d) * (1 - np.eye(30))
    inst = ncosolve.TSPInstance(dist=d)
    assert list(nearest_neighbor_tour(inst)) == _reference_nearest_neighbour(d)
    # the lazily rescanned cheapest insertion makes exactly the textbook choices
    assert list(insertion_tour(inst, "cheapest")) == _reference_cheapest_insertion(d)


@njit
def _edges(i, j, pts, mat, mode):
    out = np.empty(len(i))
    for k in range(len(i)):
        out[k] = edge(i[k], j[k], pts, mat, mode)
    return out


@pytest.mark.parametrize("ewt", ["EXACT_2D", "EUC_2D", "CEIL_2D", "ATT", "GEO", "TRUNC1_2D"])
def test_kernel_edges_agree_with_the_evaluator(ewt):
    rng = np.random.default_rng(3)
    coords = rng.uniform(0, 90 if ewt == "GEO" else 1000, (200, 2))
    inst = ncosolve.TSPInstance(coords=coords, edge_weight_type=ewt)
    i, j = rng.integers(0, 200, 5000), rng.integers(0, 200, 5000)
    assert np.array_equal(_edges(i, j, *kernel_inputs(inst)), coord_distances(coords, i, j, ewt))


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("problem", ["tsp", "cvrp", "cvrptw"])
def test_tiny_instances(n, problem):
    inst = ncosolve.generate(problem, 1, n, seed=n)[0]
    for method, options in METHOD_OPTIONS:
        assert ncosolve.solve(inst, method=method, time_limit=2, **options).feasible


def test_improve_tour_on_three_asymmetric_nodes_takes_the_shorter_direction():
    inst = ncosolve.TSPInstance(dist=np.array([[0, 1, 10], [10, 0, 1], [1, 10, 0]]))
    assert ncosolve.evaluate(inst, improve_tour(inst, [0, 2, 1])) == 3
    assert list(improve_tour(ncosolve.TSPInstance(coords=[[0.0, 0.0]]), [0])) == [0]
    assert list(improve_tour(ncosolve.TSPInstance(coords=[[0.0, 0.0], [1.0, 1.0]]), [1, 0])) == [1, 0]


def test_insertion_rules():
    inst = ncosolve.generate("tsp", 1, 80, seed=2)[0]
    a = ncosolve.solve(inst, method="insertion", rule="random", seed=1).solution
    b = ncosolve.solve(inst, method="insertion", rule="random", seed=2).solution
    c = ncosolve.solve(inst, method="insertion", rule="random", seed=1).solution
    assert list(a) == list(c) and list(a) != list(b)
    with pytest.raises(ncosolve.NcoError, match="rule"):
        ncosolve.solve(inst, method="insertion", rule="nearest")


def test_vrp_construction_respects_the_fleet(c101):
    # C101 needs 10 vehicles; farthest insertion uses 11
    assert ncosolve.solve(dataclasses.replace(c101, num_vehicles=11), method="insertion").feasible
    small = dataclasses.replace(c101, num_vehicles=9)
    for method, options in METHOD_OPTIONS:
        res = ncosolve.solve(small, method=method, **options)
        assert not res.feasible
        assert "fleet has 9 vehicles" in res.info["infeasible_reason"]
        served = sorted(c for route in res.solution for c in route)
        assert served == list(range(1, c101.n))  # complete: only the fleet is overrun


def test_improve_routes_keeps_routes_and_reaches_intra_route_optima(a_n32_k5, c101):
    for inst in (a_n32_k5, c101):
        routes = ncosolve.solve(inst, method="nearest-neighbor").solution
        better, info = search_routes(inst, routes)
        assert info["local_optimum"]
        assert [sorted(r) for r in better] == [sorted(r) for r in routes]
        assert ncosolve.evaluate(inst, better) <= ncosolve.evaluate(inst, routes)
        if inst.problem == "cvrp":  # without time windows every improving move is allowed
            d = inst.distance_matrix()
            for route in better:
                walk = np.asarray([0, *route])
                if len(walk) > 3:
                    assert _best_2opt_delta(d, walk) > -1e-9


def test_time_windows_bind_the_route_search():
    # depot (0, 0), A (10, 0), B (0, 10), C (10, 10): A B C costs 48.2, A C B 40, but B closes at 25
    coords = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=float)
    loose = ncosolve.CVRPTWInstance(coords=coords, demands=[0, 1, 1, 1], capacity=5, edge_weight_type="TRUNC1_2D",
                                    time_windows=[[0, 100], [0, 10.5], [0, 100], [0, 100]])
    tight = dataclasses.replace(loose, time_windows=np.array([[0, 100], [0, 10.5], [0, 25], [0, 100]]))
    assert ncosolve.evaluate(tight, [[1, 2, 3]]) == pytest.approx(48.2)
    assert improve_routes(tight, [[1, 2, 3]]) == [[1, 2, 3]]
    assert ncosolve.evaluate(loose, improve_routes(loose, [[1, 2, 3]])) == pytest.approx(40.0)
    # asymmetric costs: the kernel's reversal uses the directed lengths
    asym = ncosolve.CVRPInstance(dist=np.array([[0, 1, 9, 9], [9, 0, 1, 9], [9, 9, 0, 1], [1, 9, 9, 0]]),
                                 demands=[0, 1, 1, 1], capacity=3)
    assert ncosolve.evaluate(asym, improve_routes(asym, [[3, 2, 1]])) == 4


def test_10000_nodes_within_the_budget_without_a_dense_matrix():
    inst = ncosolve.generate("tsp", 1, 10000, seed=0)[0]
    res = ncosolve.solve(inst, method="2opt", time_limit=3)
    assert res.info["start"] == "nearest-neighbor"
    assert res.feasible and res.runtime_s <= 1.1 * 3 + 0.5
    assert res.cost < 0.9 * res.info["start_cost"]
    assert "_matrix" not in vars(inst)  # the dense distance matrix was never built
    cut = ncosolve.solve(inst, method="2opt", time_limit=0.05)  # stopped by the clock, not by an optimum
    assert cut.feasible and not cut.info["local_optimum"] and cut.runtime_s <= 1.1 * 0.05 + 0.5
    assert cut.cost < cut.info["start_cost"]


def test_search_tour_stops_at_its_deadline():
    inst = ncosolve.generate("tsp", 1, 10000, seed=1)[0]
    start = np.random.default_rng(0).permutation(10000)  # a random tour: far from any local optimum
    began = time.perf_counter()
    tour, info = search_tour(inst, start, time_limit=0.1)
    assert time.perf_counter() - began <= 1.1 * 0.1 + 0.5
    assert not info["local_optimum"] and info["iterations"] > 0
    assert ncosolve.evaluate(inst, tour) < ncosolve.evaluate(inst, start)


def test_one_tour_local_search_kernel_is_shared_with_the_mcts():
    from ncosolve.baselines import local_search as baseline
    from ncosolve.search import mcts, tour_ops

    assert baseline.local_search is tour_ops.local_search and mcts.local_search is tour_ops.local_search
    assert not hasattr(tour_ops, "two_opt") and not hasattr(baseline, "_improve_city")
