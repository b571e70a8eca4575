"""Generators are seeded, bit-compatible with Kool et al. for uniform data, and produce valid instances."""

from __future__ import annotations

import numpy as np
import pytest

import ncosolve
from ncosolve.generators import cvrp_capacity


def test_uniform_tsp_matches_kool_draws():
    insts = ncosolve.generate("tsp", 4, 20, seed=1234)
    np.random.seed(1234)
    ref = np.random.uniform(size=(4, 20, 2))
    for inst, pts in zip(insts, ref):
        np.testing.assert_array_equal(inst.coords, pts)


def test_uniform_cvrp_matches_kool_draws():
    insts = ncosolve.generate("cvrp", 3, 50, seed=1234)
    np.random.seed(1234)
    depot = np.random.uniform(size=(3, 2))
    locs = np.random.uniform(size=(3, 50, 2))
    demand = np.random.randint(1, 10, size=(3, 50))
    for k, inst in enumerate(insts):
        np.testing.assert_array_equal(inst.coords[0], depot[k])
        np.testing.assert_array_equal(inst.coords[1:], locs[k])
        np.testing.assert_array_equal(inst.demands[1:], demand[k])
        assert inst.capacity == 40 and inst.demands[0] == 0


@pytest.mark.parametrize("size, cap", [(10, 20), (20, 30), (50, 40), (100, 50), (200, 70), (500, 100),
                                       (1000, 150), (60, 40)])
def test_capacities(size, cap):
    assert cvrp_capacity(size) == cap


@pytest.mark.parametrize("problem", ["tsp", "cvrp", "cvrptw"])
@pytest.mark.parametrize("distribution", ["uniform", "clustered", "mixed"])
def test_every_generator_is_seeded_and_valid(problem, distribution):
    a = ncosolve.generate(problem, 2, 40, seed=7, distribution=distribution)
    b = ncosolve.generate(problem, 2, 40, seed=7, distribution=distribution)
    c = ncosolve.generate(problem, 2, 40, seed=8, distribution=distribution)
    np.testing.assert_array_equal(a[1].coords, b[1].coords)
    assert not np.array_equal(a[1].coords, c[1].coords)
    assert np.all((a[0].coords >= 0) & (a[0].coords <= 1))
    assert a[0].problem == problem


def test_clustered_points_are_more_concentrated_than_uniform():
    def mean_nn(inst):
        d = inst.distance_matrix() + np.eye(inst.n) * 9
        return d.min(axis=1).mean()
    uni = np.mean([mean_nn(i) for i in ncosolve.generate("tsp", 5, 200, seed=1)])
    clu = np.mean([mean_nn(i) for i in ncosolve.generate("tsp", 5, 200, seed=1, distribution="clustered")])
    assert clu < 0.7 * uni


def test_generated_cvrptw_customers_are_each_servable():
    # The constructor refuses unservable customers, so building 20 instances is itself the check.
    insts = ncosolve.generate("cvrptw", 20, 50, seed=3)
    for inst in insts:
        singletons = [[c] for c in range(1, inst.n)]
        assert ncosolve.evaluate(inst, singletons) > 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(problem="knapsack", n=1, size=5), "problem"),
    (dict(problem="tsp", n=0, size=5), "n >= 1"),
    (dict(problem="tsp", n=1, size=5, distribution="gaussian"), "distribution"),
])
def test_bad_generator_arguments(kwargs, message):
    with pytest.raises(ncosolve.InvalidInstance, match=message):
        ncosolve.generate(**kwargs)
