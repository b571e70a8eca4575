"""Instances validate their data; evaluate() computes published optima and names broken constraints."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ncosolve
from ncosolve import CVRPInstance, CVRPTWInstance, InfeasibleSolution, InvalidInstance, TSPInstance, evaluate
from ncosolve.benchmarks import data_dir


def test_eil51_optimal_tour_has_length_426(eil51):
    # The optimal tour published with TSPLIB (eil51.opt.tour), 1-based.
    opt = [1, 22, 8, 26, 31, 28, 3, 36, 35, 20, 2, 29, 21, 16, 50, 34, 30, 9, 49, 10, 39, 33, 45, 15, 44, 42,
           40, 19, 41, 13, 25, 14, 24, 43, 7, 23, 48, 6, 27, 51, 46, 12, 47, 18, 4, 17, 37, 5, 38, 11, 32]
    assert evaluate(eil51, np.array(opt) - 1) == 426


def test_a_n32_k5_published_routes_cost_784(a_n32_k5):
    sol = ncosolve.read_solution(data_dir() / "cvrplib" / "A-n32-k5.sol")
    assert evaluate(a_n32_k5, sol["routes"]) == 784 == sol["cost"]


def test_c101_published_routes_cost_827_3(c101):
    sol = ncosolve.read_solution(data_dir() / "solomon" / "C101.sol")
    assert evaluate(c101, sol["routes"]) == pytest.approx(827.3, abs=1e-9)
    assert c101.edge_weight_type == "TRUNC1_2D"


# Defects in the CVRPLIB files themselves (the stated cost stays a valid reference value).
SOLUTION_FILE_DEFECTS = {
    "B-n50-k8": "customer 2 visited 2 times",  # the .sol repeats customer 2 and omits customer 3
    "B-n57-k7": 1155.0,  # the .sol's routes measure 1155, its "Cost" line says 1153
}


@pytest.mark.parametrize("folder", ["cvrplib", "solomon"])
def test_every_shipped_best_known_solution_evaluates_to_its_stated_cost(folder):
    for sol_path in sorted((data_dir() / folder).glob("*.sol")):
        inst = ncosolve.read_instance(sol_path.with_suffix(".vrp"))
        sol = ncosolve.read_solution(sol_path)
        defect = SOLUTION_FILE_DEFECTS.get(inst.name)
        if isinstance(defect, str):
            with pytest.raises(InfeasibleSolution, match=defect):
                evaluate(inst, sol["routes"])
        else:
            expected = sol["cost"] if defect is None else defect
            assert evaluate(inst, sol["routes"]) == pytest.approx(expected, abs=1e-6), sol_path.name


@pytest.mark.parametrize("tour, reason", [
    ([0, 1, 2, 2], "visited 2 times"),
    ([0, 1, 2], "never visited"),
    ([0, 1, 2, 7], "out of range"),
    ([[0, 1], [2, 3]], "1-D"),
    (["a", "b", "c", "d"], "integer"),
])
def test_bad_tours_are_infeasible_with_reason(tour, reason):
    inst = TSPInstance(coords=np.random.default_rng(0).uniform(size=(4, 2)))
    with pytest.raises(InfeasibleSolution, match=reason):
        evaluate(inst, tour)


def test_cvrp_infeasibility_reasons(a_n32_k5):
    sol = ncosolve.read_solution(data_dir() / "cvrplib" / "A-n32-k5.sol")["routes"]
    with pytest.raises(InfeasibleSolution, match="capacity exceeded at route 0"):
        evaluate(a_n32_k5, [sol[0] + sol[1]] + sol[2:])
    with pytest.raises(InfeasibleSolution, match="never visited"):
        evaluate(a_n32_k5, sol[1:])
    with pytest.raises(InfeasibleSolution, match="visited 2 times"):
        evaluate(a_n32_k5, sol + [[sol[0][0]]])
    with pytest.raises(InfeasibleSolution, match="contains the depot"):
        evaluate(a_n32_k5, [[0] + sol[0]] + sol[1:])
    with pytest.raises(InfeasibleSolution, match="out of range"):
        evaluate(a_n32_k5, sol + [[99]])


def test_cvrptw_time_window_and_fleet_violations(c101):
    sol = ncosolve.read_solution(data_dir() / "solomon" / "C101.sol")["routes"]
    with pytest.raises(InfeasibleSolution, match="time window missed at route 0"):
        evaluate(c101, [list(reversed(sol[0]))] + sol[1:])
    one_per_customer = [[c] for c in range(1, c101.n)]  # 100 routes for a fleet of 25
    with pytest.raises(InfeasibleSolution, match="fleet has 25 vehicles"):
        evaluate(c101, one_per_customer)


def test_asymmetric_tsp_cost_follows_direction():
    dist = np.array([[0, 1, 10], [10, 0, 1], [1, 10, 0]], dtype=float)
    inst = TSPInstance(dist=dist)
    assert not inst.symmetric
    assert evaluate(inst, [0, 1, 2]) == 3
    assert evaluate(inst, [0, 2, 1]) == 30


def test_float_instance_costs_are_plain_euclidean():
    inst = TSPInstance(coords=[[0, 0], [3, 0], [3, 4]])
    assert evaluate(inst, [0, 1, 2]) == pytest.approx(12.0)
    assert evaluate(TSPInstance(coords=[[0.5, 0.5]]), [0]) == 0


@pytest.mark.parametrize("kwargs, field", [
    (dict(coords=[[0, 0], [np.nan, 1]]), "NaN"),
    (dict(coords=[[0, 0, 0], [1, 1, 1]]), "coords: expected shape"),
    (dict(coords=np.zeros((0, 2))), "no nodes"),
    (dict(), "give coordinates"),
    (dict(dist=[[0, 1], [1, 0], [2, 2]]), "dist"),
    (dict(dist=[[0, -1], [1, 0]]), "negative"),
    (dict(dist=[[1, 1], [1, 0]]), "diagonal"),
    (dict(coords=[[0, 0], [1, 1]], edge_weight_type="MANHATTAN"), "edge_weight_type"),
])
def test_tsp_constructor_rejects_bad_data(kwargs, field):
    with pytest.raises(InvalidInstance, match=field):
        TSPInstance(**kwargs)


@pytest.mark.parametrize("kwargs, field", [
    (dict(demands=[0, 5, 20], capacity=10), "node 2 demands 20 > capacity 10"),
    (dict(demands=[0, -1, 2], capacity=10), "negative demand"),
    (dict(demands=[3, 1, 2], capacity=10), "depot"),
    (dict(demands=[0, 1], capacity=10), "demands: expected shape"),
    (dict(demands=[0, 1, 2], capacity=0), "capacity"),
    (dict(demands=[0, 1, 2], capacity=10, num_vehicles=0), "num_vehicles"),
])
def test_cvrp_constructor_rejects_bad_data(kwargs, field):
    with pytest.raises(InvalidInstance, match=field):
        CVRPInstance(coords=[[0, 0], [1, 0], [0, 1]], **kwargs)
    assert issubclass(InvalidInstance, ValueError) and issubclass(InvalidInstance, ncosolve.NcoError)


def test_cvrptw_rejects_unservable_customer_and_bad_windows():
    coords = [[0, 0], [10, 0]]
    with pytest.raises(InvalidInstance, match="customer 1 cannot be served"):
        CVRPTWInstance(coords=coords, demands=[0, 1], capacity=5, time_windows=[[0, 100], [0, 5]])
    with pytest.raises(InvalidInstance, match="ready > due"):
        CVRPTWInstance(coords=coords, demands=[0, 1], capacity=5, time_windows=[[0, 100], [50, 20]])


def test_instances_are_read_only(eil51):
    with pytest.raises(ValueError):
        eil51.coords[0, 0] = 5.0
    with pytest.raises(AttributeError):
        eil51.name = "x"


def test_geo_and_att_match_the_tsplib_reference_formulas():
    # Scalar transcriptions of TSPLIB95's reference code, checked against the vectorised versions.
    def geo(a, b):
        def rad(x):
            deg = int(x)
            return 3.141592 * (deg + 5.0 * (x - deg) / 3.0) / 180.0
        la, lo, lb, lob = rad(a[0]), rad(a[1]), rad(b[0]), rad(b[1])
        q1, q2, q3 = math.cos(lo - lob), math.cos(la - lb), math.cos(la + lb)
        return int(6378.388 * math.acos(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3)) + 1.0)

    def att(a, b):
        r = math.sqrt(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) / 10.0)
        t = int(r + 0.5)
        return t + 1 if t < r else t

    pts = np.random.default_rng(3).uniform(-80, 80, size=(12, 2))
    g = TSPInstance(coords=pts, edge_weight_type="GEO").distance_matrix()
    a = TSPInstance(coords=np.abs(pts) * 100, edge_weight_type="ATT").distance_matrix()
    for i in range(12):
        for j in range(12):
            if i != j:
                assert g[i, j] == geo(pts[i], pts[j])
                assert a[i, j] == att(np.abs(pts[i]) * 100, np.abs(pts[j]) * 100)


def test_evaluate_rejects_non_instances():
    with pytest.raises(ncosolve.NcoError, match="not an ncosolve instance"):
        evaluate("eil51", [0, 1])
