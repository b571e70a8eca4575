"""References are bound to (suite, instance) and to the instance's data: a name alone never borrows a value."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

import ncosolve
from ncosolve import catalog, references
from ncosolve.benchmarks import best_known, data_dir, load_benchmark


def test_a_generated_instance_that_shares_a_suite_name_gets_no_reference():
    drawn = ncosolve.generate("cvrp", n=1, size=50, seed=1234)[0]
    suite_first = load_benchmark("cvrp50-uniform")[0]
    assert drawn.name == suite_first.name  # same name, different data (the suite cuts 10,000 draws)
    assert best_known(drawn) is None and best_known(drawn, suite="cvrp50-uniform") is None
    assert best_known(suite_first) == pytest.approx(json.loads(
        (data_dir() / "references" / "cvrp50-uniform.json").read_text())["values"][suite_first.name])


def test_identical_data_gets_the_reference_and_edited_data_does_not():
    drawn = ncosolve.generate("tsp", n=1, size=50, seed=1234)[0]  # TSP draws are a prefix: the same instance
    assert references.fingerprint(drawn) == references.fingerprint(load_benchmark("tsp50-uniform")[0])
    assert best_known(drawn) == best_known(load_benchmark("tsp50-uniform")[0]) is not None
    eil51 = ncosolve.read_instance(data_dir() / "tsplib" / "eil51.tsp")
    assert best_known(eil51) == 426
    moved = replace(eil51, coords=eil51.coords + np.eye(51, 2))  # one city moved: another instance, same name
    assert moved.name == "eil51" and best_known(moved) is None
    assert best_known(replace(eil51, name="my-copy")) is None  # a reference is keyed by name too


def test_lookups_by_name_and_suite():
    assert best_known("eil51") == 426 and best_known("C101") == pytest.approx(827.3)
    assert best_known("tsplib:eil51") == 426 and best_known("no-such-instance") is None
    with pytest.raises(ncosolve.NcoError, match="unknown benchmark"):
        best_known("no-such-suite:eil51")


def test_a_plugin_suite_without_references_has_no_gaps_except_for_shipped_data():
    fresh = ncosolve.generate("tsp", n=2, size=20, seed=99)
    eil51 = ncosolve.read_instance(data_dir() / "tsplib" / "eil51.tsp")
    ncosolve.register_suite("test-noref", "tsp", "two fresh draws and eil51", "none")(lambda: [*fresh, eil51])
    try:
        assert [best_known(i, suite="test-noref") for i in fresh] == [None, None]
        assert best_known(eil51, suite="test-noref") == 426  # the shipped instance's own data and name
    finally:
        catalog.remove("test-noref")


@pytest.mark.parametrize("suite", sorted(json.loads((data_dir() / "references" / references.FINGERPRINTS)
                                                    .read_text())))
def test_stored_fingerprints_are_those_of_the_loaded_suites(suite):
    stored = json.loads((data_dir() / "references" / references.FINGERPRINTS).read_text())[suite]
    loaded = {inst.name: references.fingerprint(inst) for inst in load_benchmark(suite)}
    assert loaded == stored, "rebuild: python scripts/build_references.py --fingerprints"
