"""Readers detect formats and apply each benchmark's convention; writers round-trip; bad files fail clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ncosolve
from ncosolve import InvalidInstance, evaluate
from ncosolve.benchmarks import data_dir

TEST_DATA = Path(__file__).parent / "data"


def test_reader_conventions(eil51, a_n32_k5, c101):
    assert (eil51.n, eil51.edge_weight_type) == (51, "EUC_2D")
    assert (a_n32_k5.n, a_n32_k5.capacity, a_n32_k5.problem) == (32, 100, "cvrp")
    assert a_n32_k5.num_vehicles is None  # CVRPLIB: unlimited fleet; k5 in the name is the optimum's count
    assert (c101.problem, c101.num_vehicles, c101.capacity) == ("cvrptw", 25, 200)
    assert c101.service_times[0] == 0 and np.all(c101.service_times[1:] == 90)
    assert tuple(c101.time_windows[0]) == (0, 1236)


@pytest.mark.parametrize("fname, matrix", [
    ("tiny_upper_row.tsp", [[0, 3, 4, 2, 7], [3, 0, 4, 6, 3], [4, 4, 0, 5, 8], [2, 6, 5, 0, 6], [7, 3, 8, 6, 0]]),
    ("tiny_lower_diag.tsp", [[0, 2, 9, 10], [2, 0, 6, 4], [9, 6, 0, 8], [10, 4, 8, 0]]),
    ("tiny_full.atsp", [[0, 1, 10, 10], [10, 0, 1, 10], [10, 10, 0, 1], [1, 10, 10, 0]]),
])
def test_explicit_matrix_formats(fname, matrix):
    inst = ncosolve.read_instance(TEST_DATA / fname)
    assert inst.edge_weight_type == "EXPLICIT"
    np.testing.assert_array_equal(inst.distance_matrix(), matrix)


def test_geo_and_att_files():
    geo = ncosolve.read_instance(TEST_DATA / "geo3.tsp")
    att = ncosolve.read_instance(TEST_DATA / "att3.tsp")
    assert geo.edge_weight_type == "GEO" and att.edge_weight_type == "ATT"
    assert geo.distance_matrix()[0, 1] > 0 and att.distance_matrix()[0, 1] > 0


@pytest.mark.parametrize("fname, message", [
    ("bad_dimension.tsp", "DIMENSION is 4 but 3"),
    ("demand_over_capacity.vrp", "demands 11 > capacity 10"),
    ("garbage.txt", "unrecognised instance format"),
    ("truncated.vrp", "malformed"),
    ("does_not_exist.tsp", "no such file"),
])
def test_bad_files_raise_invalid_instance(fname, message):
    with pytest.raises(InvalidInstance, match=message):
        ncosolve.read_instance(TEST_DATA / fname)


@pytest.mark.parametrize("relpath", ["tsplib/eil51.tsp", "cvrplib/A-n32-k5.vrp", "solomon/C101.vrp",
                                     "cvrplib/X-n101-k25.vrp"])
def test_instance_round_trip(tmp_path, relpath):
    inst = ncosolve.read_instance(data_dir() / relpath)
    out = tmp_path / ("copy" + (data_dir() / relpath).suffix)
    ncosolve.write_instance(inst, out)
    back = ncosolve.read_instance(out)
    assert (back.problem, back.n, back.edge_weight_type) == (inst.problem, inst.n, inst.edge_weight_type)
    np.testing.assert_array_equal(back.distance_matrix(), inst.distance_matrix())
    if inst.problem != "tsp":
        np.testing.assert_array_equal(back.demands, inst.demands)
        assert back.capacity == inst.capacity and back.num_vehicles == inst.num_vehicles
    if inst.problem == "cvrptw":
        np.testing.assert_array_equal(back.time_windows, inst.time_windows)
        np.testing.assert_array_equal(back.service_times, inst.service_times)


def test_generated_and_matrix_instances_round_trip(tmp_path):
    for inst in (ncosolve.generate("tsp", 1, 30, seed=5)[0],
                 ncosolve.TSPInstance(dist=np.random.default_rng(1).integers(1, 50, (6, 6)) * (1 - np.eye(6))),
                 ncosolve.generate("cvrp", 1, 20, seed=5)[0], ncosolve.generate("cvrptw", 1, 20, seed=5)[0]):
        path = tmp_path / f"{inst.problem}.txt"
        ncosolve.write_instance(inst, path)
        back = ncosolve.read_instance(path)
        assert back.edge_weight_type == inst.edge_weight_type
        np.testing.assert_allclose(back.distance_matrix(), inst.distance_matrix(), rtol=1e-12)


def test_solution_round_trip(tmp_path, eil51, a_n32_k5):
    tour = np.random.default_rng(0).permutation(51)
    ncosolve.write_solution(tmp_path / "t.tour", tour, cost=evaluate(eil51, tour))
    assert ncosolve.read_solution(tmp_path / "t.tour")["tour"] == tour.tolist()
    routes = ncosolve.read_solution(data_dir() / "cvrplib" / "A-n32-k5.sol")["routes"]
    ncosolve.write_solution(tmp_path / "a.sol", routes, cost=784)
    back = ncosolve.read_solution(tmp_path / "a.sol")
    assert back["routes"] == routes and back["cost"] == 784
    assert evaluate(a_n32_k5, back["routes"]) == 784


def test_solomon_text_format(tmp_path, c101):
    # Solomon's original layout, written out from the VRPLIB copy of C101.
    lines = ["C101", "", "VEHICLE", "NUMBER     CAPACITY", "  25         200", "", "CUSTOMER",
             "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME", ""]
    for i in range(c101.n):
        x, y = c101.coords[i]
        lines.append(f"{i:5d} {x:8.0f} {y:8.0f} {c101.demands[i]:8.0f} {c101.time_windows[i, 0]:8.0f}"
                     f" {c101.time_windows[i, 1]:8.0f} {c101.service_times[i]:8.0f}")
    path = tmp_path / "c101.txt"
    path.write_text("\n".join(lines) + "\n")
    inst = ncosolve.read_instance(path)
    assert inst.problem == "cvrptw" and inst.edge_weight_type == "TRUNC1_2D"
    routes = ncosolve.read_solution(data_dir() / "solomon" / "C101.sol")["routes"]
    assert evaluate(inst, routes) == pytest.approx(827.3, abs=1e-9)
