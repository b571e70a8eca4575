"""Shipped suites load offline with reference values for every instance."""

from __future__ import annotations

import pytest

import ncosolve
from ncosolve.benchmarks import reference_text, suites


def test_every_suite_loads_with_references():
    for suite in suites():
        if suite.problem not in ("tsp", "cvrp", "cvrptw", "routing"):
            continue
        insts = ncosolve.load_benchmark(suite.name)
        assert insts, suite.name
        missing = [i.name for i in insts if ncosolve.best_known(i, suite=suite.name) is None]
        if reference_text(suite).startswith("none stored yet"):  # a generated suite whose references are not built
            assert len(missing) == len(insts), suite.name
        else:
            assert not missing, f"{suite.name}: no reference for {missing[:5]}"


def test_suite_contents():
    assert len(ncosolve.load_benchmark("tsplib")) == 51
    assert all(i.n <= 200 for i in ncosolve.load_benchmark("tsplib-200"))
    assert {i.name[0] for i in ncosolve.load_benchmark("cvrplib-A")} == {"A"}
    assert [i.name for i in ncosolve.load_benchmark("solomon-C1")][:2] == ["C101", "C102"]
    assert ncosolve.best_known("eil51") == 426 and ncosolve.best_known("C101") == pytest.approx(827.3)


def test_unknown_benchmark():
    with pytest.raises(ncosolve.NcoError, match="unknown benchmark"):
        ncosolve.load_benchmark("tsplib-9000")
