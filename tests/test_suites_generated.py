"""Generated suites: the instances are Kool et al.'s test-set draws, and the stored references are whole and good."""

from __future__ import annotations

import numpy as np
import pytest

import ncosolve
import ncosolve.suites.routing as gen
from ncosolve import catalog
from ncosolve import leaderboard as lb
from ncosolve.benchmarks import best_known, load_reference_file, reference_text, suites


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
    doc = load_reference_file(suite)
    problem, size, count = gen.GENERATED[suite]
    assert doc["suite"] == suite and doc["count"] == count and doc["problem"] == problem
    assert doc["method"] == ("lkh" if problem == "tsp" else "pyvrp") and doc["time_limit"] > 0 and doc["date"]
    names = [i.name for i in ncosolve.load_benchmark(suite)]
    assert sorted(doc["values"]) == sorted(names)
    assert all(best_known(i) == doc["values"][i.name] for i in ncosolve.load_benchmark(suite))
    assert doc["mean"] == pytest.approx(np.mean(list(doc["values"].values())))
    described = next(s for s in suites() if s.name == suite)
    assert f"best of {doc['method']}" in reference_text(described)


def test_references_are_no_worse_than_a_quick_solver():
    instances = ncosolve.load_benchmark("tsp50-uniform")[:3] + ncosolve.load_benchmark("cvrp50-uniform")[:2]
    for inst in instances:
        quick = ncosolve.solve(inst, method="2opt", time_limit=0.3)
        assert quick.feasible and best_known(inst) <= quick.cost + 1e-9
    # TSP 50 references from LKH-3 sit near the published mean optimal tour length of uniform TSP 50 (5.69)
    assert 5.5 < load_reference_file("tsp50-uniform")["mean"] < 5.9


def test_a_suite_without_references_runs_without_gaps():
    fresh = ncosolve.generate("tsp", n=2, size=12, seed=7)
    ncosolve.register_suite("test-unreferenced", "tsp", "two fresh draws", "none")(lambda: list(fresh))
    try:
        spec = catalog.get_suite("test-unreferenced")
        assert reference_text(spec) == "none" and spec.reference_values() == {}
        rows = lb.run_leaderboard("test-unreferenced", ["insertion"], time_limit=1)
    finally:
        catalog.remove("test-unreferenced")
    assert len(rows) == 2 and all(lb.counts(r) and r["best"] is None and r["gap"] is None for r in rows)
    assert all(r["cost"] == pytest.approx(ncosolve.evaluate(i, r["solution"])) for i, r in zip(fresh, rows))
