"""Every instance constructor fed random arrays and scalars either builds or raises ``NcoError``.

A built routing instance must also answer ``evaluate`` on a trivial solution with a number or an ``NcoError``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ncosolve
from ncosolve.problems.network_generators import braess
from ncosolve.problems.distances import EDGE_WEIGHT_TYPES

from fuzzing import outcome

FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64), st.sampled_from([0.0, -1.0, 1e9, 1e308]),
                   st.integers(-3, 12).map(float))
SCALARS = st.one_of(FLOATS, st.integers(-10**20, 10**20))  # numbers of any size; type misuse is out of scope


def arrays(max_dims: int = 2, max_side: int = 6, elements=FLOATS):
    """Arrays of random shape (0-``max_dims`` dimensions, sides 0-``max_side``) and random values."""
    return hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side),
                      elements=elements)


def small_ints(max_dims: int = 2, max_side: int = 6):
    return arrays(max_dims, max_side, st.integers(-3, 10).map(float))


def ewt():
    return st.one_of(st.none(), st.sampled_from(EDGE_WEIGHT_TYPES), st.text(max_size=4))


def _evaluate_trivial(inst) -> None:
    """evaluate() on the identity tour / one route per customer: a number or an NcoError, nothing else."""
    solution = list(range(inst.n)) if inst.problem == "tsp" else [[k] for k in range(1, inst.n)]
    ncosolve.evaluate(inst, solution)


@settings(settings.get_profile("fuzz-short"))
@given(coords=st.one_of(st.none(), arrays()), dist=st.one_of(st.none(), arrays()), kind=ewt())
def test_tsp_instance(coords, dist, kind):
    def build():
        _evaluate_trivial(ncosolve.TSPInstance(coords=coords, dist=dist, edge_weight_type=kind))
    outcome(build)


@settings(settings.get_profile("fuzz-short"))
@given(coords=st.one_of(st.none(), arrays()), dist=st.one_of(st.none(), arrays()), demands=arrays(1),
       capacity=SCALARS, vehicles=SCALARS, kind=ewt())
def test_cvrp_instance(coords, dist, demands, capacity, vehicles, kind):
    def build():
        _evaluate_trivial(ncosolve.CVRPInstance(coords=coords, dist=dist, demands=demands, capacity=capacity,
                                                num_vehicles=vehicles, edge_weight_type=kind))
    outcome(build)


@settings(settings.get_profile("fuzz-short"))
@given(coords=arrays(), demands=arrays(1), capacity=SCALARS, tw=arrays(), service=st.one_of(st.none(), arrays(1)),
       vehicles=SCALARS)
def test_cvrptw_instance(coords, demands, capacity, tw, service, vehicles):
    def build():
        _evaluate_trivial(ncosolve.CVRPTWInstance(coords=coords, demands=demands, capacity=capacity, time_windows=tw,
                                                  service_times=service, num_vehicles=vehicles))
    outcome(build)


@settings(settings.get_profile("fuzz-short"))
@given(grid=arrays(3, 6, st.sampled_from([0.0, 1.0, 2.0, -1.0, np.nan])), starts=small_ints(), goals=small_ints())
def test_mapf_instance(grid, starts, goals):
    outcome(lambda: ncosolve.MAPFInstance(grid, starts, goals))


@settings(settings.get_profile("fuzz-short"))
@given(num_nodes=SCALARS, init=small_ints(2), term=small_ints(2), capacity=arrays(1), fft=arrays(1),
       demand=arrays(), b=st.one_of(st.none(), arrays(1)), power=st.one_of(st.none(), arrays(1)),
       first_thru=st.one_of(st.integers(-2, 8), FLOATS))
def test_network(num_nodes, init, term, capacity, fft, demand, b, power, first_thru):
    outcome(lambda: ncosolve.Network(num_nodes=num_nodes, init=init, term=term, capacity=capacity,
                                     free_flow_time=fft, demand=demand, b=b, power=power, first_thru_node=first_thru))


@settings(settings.get_profile("fuzz-short"))
@given(variant=st.sampled_from(["dndp", "ndp-la", "ndp-ls", "bogus"]), links=small_ints(2), cost=arrays(1),
       budget=SCALARS, lanes=st.one_of(st.none(), small_ints(1)), tol=SCALARS)
def test_ndp_instance(variant, links, cost, budget, lanes, tol):
    network = braess().network
    outcome(lambda: ncosolve.NDPInstance(network=network, variant=variant, candidate_links=links, candidate_cost=cost,
                                         budget=budget, lanes=lanes, ue_tol=tol))


@pytest.mark.slow
@settings(settings.get_profile("fuzz-long"))
@given(coords=st.one_of(st.none(), arrays(2, 12)), dist=st.one_of(st.none(), arrays(2, 12)), demands=arrays(1, 12),
       capacity=SCALARS, vehicles=SCALARS, kind=ewt())
def test_cvrp_instance_long(coords, dist, demands, capacity, vehicles, kind):
    def build():
        _evaluate_trivial(ncosolve.CVRPInstance(coords=coords, dist=dist, demands=demands, capacity=capacity,
                                                num_vehicles=vehicles, edge_weight_type=kind))
    outcome(build)
