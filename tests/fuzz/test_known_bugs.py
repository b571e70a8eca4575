"""Minimal reproducers of crashes the fuzzers found, kept as regression tests now that they are fixed."""

from __future__ import annotations

import numpy as np
import pytest

import ncosolve
import ncosolve.benchmarks
from ncosolve.problems.network_generators import braess


def test_tour_file_with_garbage_token_is_refused(tmp_path):
    path = tmp_path / "bad.tour"
    path.write_text("TYPE : TOUR\nDIMENSION : 3\nTOUR_SECTION\n1\nabc\n3\n-1\nEOF\n")
    with pytest.raises(ncosolve.NcoError):
        ncosolve.read_solution(path)


@pytest.mark.parametrize("vehicles", [float("inf"), float("nan")])
def test_cvrp_non_finite_num_vehicles_is_refused(vehicles):
    with pytest.raises(ncosolve.InvalidInstance, match="num_vehicles"):
        ncosolve.CVRPInstance(coords=[[0.0, 0.0], [1.0, 1.0]], demands=[0, 1], capacity=2, num_vehicles=vehicles)


@pytest.mark.parametrize("num_nodes", [float("inf"), float("nan")])
def test_network_non_finite_num_nodes_is_refused(num_nodes):
    net = braess().network
    with pytest.raises(ncosolve.InvalidInstance, match="num_nodes"):
        ncosolve.Network(num_nodes=num_nodes, init=net.init, term=net.term, capacity=net.capacity,
                         free_flow_time=net.free_flow_time, demand=np.asarray(net.demand))


def test_vrp_depot_minus_inf_is_refused(tmp_path):
    text = (ncosolve.benchmarks.data_dir() / "cvrplib" / "A-n32-k5.vrp").read_text()
    head, _, tail = text.partition("DEPOT_SECTION")
    path = tmp_path / "A-n32-k5.vrp"
    path.write_text(head + "DEPOT_SECTION\n -inf\n -1\nEOF\n")
    with pytest.raises(ncosolve.NcoError):
        ncosolve.read_instance(path)


def test_scen_huge_coordinate_is_refused(tmp_path):
    (tmp_path / "m.map").write_text("type octile\nheight 2\nwidth 2\nmap\n..\n..\n")
    path = tmp_path / "m.scen"
    path.write_text("version 1\n0\tm.map\t2\t2\t0\t0\t99999999999999999999\t1\t1.0\n")
    with pytest.raises(ncosolve.NcoError):
        ncosolve.read_instance(path)
