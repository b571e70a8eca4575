"""Shared fixtures: shipped real instances, read once per session."""

from __future__ import annotations

import pytest

import ncosolve
from ncosolve.benchmarks import data_dir
from ncosolve import catalog


@pytest.fixture(scope="session")
def eil51():
    return ncosolve.read_instance(data_dir() / "tsplib" / "eil51.tsp")


@pytest.fixture(scope="session")
def a_n32_k5():
    return ncosolve.read_instance(data_dir() / "cvrplib" / "A-n32-k5.vrp")


@pytest.fixture(scope="session")
def c101():
    return ncosolve.read_instance(data_dir() / "solomon" / "C101.vrp")


@pytest.fixture
def toy_methods():
    """Register throwaway methods for one test, and remove them after. Methods that run in leaderboard workers
    must be module-level functions (a job's spec is pickled to the worker by reference)."""
    added = []

    def add(name, fn, problems=("tsp",), **kw):
        ncosolve.register(name, problems, "test method", **kw)(fn)
        added.append(name)

    yield add
    for name in added:
        catalog.remove(name)
