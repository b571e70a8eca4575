"""Generated suites: the instances are Kool et al.'s test-set draws, and the stored references are whole and good."""

from __future__ import annotations

import numpy as np
import pytest

import ncosolve
from ncosolve import suites_generated as gen
from ncosolve.benchmarks import best_known, suites


def test_tsp_instances_are_the_first_of_kools_test_set():
    instances = ncosolve.load_benchmark("tsp50-uniform")
    assert len(instances) == 32 and all(i.n == 50 and i.edge_weight_type == "EXACT_2D" for i in instances)
    rng = np.random.RandomState(1234)
    kool = rng.uniform(size=(10_000, 50, 2))
    for k in (0, 31):
        assert np.array_equal(instances[k].coords, kool[k])
    assert instances[0].name == "tsp50-uniform-1234-0"


def test_cvrp_instances_are_the_first_of_kools_test_set():
    instances = ncosolve.load_benchmark("cvrp50-uniform")
    rng = np.random.RandomState(1234)
    depots, locs = rng.uniform(size=(10_000, 2)), rng.uniform(size=(10_000, 50, 2))
    demands = rng.randint(1, 10, size=(10_000, 50))
    assert len(instances) == 16
    for k in (0, 15):
        inst = instances[k]
        assert np.array_equal(inst.coords[0], depots[k]) and np.array_equal(inst.coords[1:], locs[k])
        assert np.array_equal(inst.demands[1:], demands[k]) and inst.capacity == 40


@pytest.mark.parametrize("suite", ["tsp50-uniform", "tsp100-uniform", "cvrp50-uniform", "cvrp100-uniform"])
def test_stored_references_cover_every_instance_and_say_how_they_were_made(suite):
    doc = gen.load_reference_file(suite)
    problem, size, count = gen.GENERATED[suite]
    assert doc["suite"] == suite and doc["count"] == count and doc["problem"] == problem
    assert doc["method"] == ("lkh" if problem == "tsp" else "pyvrp") and doc["time_limit"] > 0 and doc["date"]
    names = [i.name for i in ncosolve.load_benchmark(suite)]
    assert sorted(doc["values"]) == sorted(names)
    assert all(best_known(n) == doc["values"][n] for n in names)
    assert doc["mean"] == pytest.approx(np.mean(list(doc["values"].values())))
    described = next(s for s in suites() if s.name == suite)
    assert f"best of {doc['method']}" in described.reference


def test_references_are_no_worse_than_a_quick_solver():
    instances = ncosolve.load_benchmark("tsp50-uniform")[:3] + ncosolve.load_benchmark("cvrp50-uniform")[:2]
    for inst in instances:
        quick = ncosolve.solve(inst, method="2opt", time_limit=0.3)
        assert quick.feasible and best_known(inst) <= quick.cost + 1e-9
    # TSP 50 references from LKH-3 sit near the published mean optimal tour length of uniform TSP 50 (5.69)
    assert 5.5 < gen.load_reference_file("tsp50-uniform")["mean"] < 5.9


def test_a_suite_without_references_runs_without_gaps():
    if gen.load_reference_file("tsp1000-uniform") is not None:
        pytest.skip("tsp1000-uniform references have been built")
    suite = next(s for s in suites() if s.name == "tsp1000-uniform")
    assert "python scripts/build_references.py --suite tsp1000-uniform" in suite.reference
    inst = ncosolve.load_benchmark("tsp1000-uniform")[0]
    assert inst.n == 1000 and best_known(inst) is None
