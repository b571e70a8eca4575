"""Shared fixtures: shipped real instances, read once per session."""

from __future__ import annotations

import pytest

import ncosolve
from ncosolve.benchmarks import data_dir


@pytest.fixture(scope="session")
def eil51():
    return ncosolve.read_instance(data_dir() / "tsplib" / "eil51.tsp")


@pytest.fixture(scope="session")
def a_n32_k5():
    return ncosolve.read_instance(data_dir() / "cvrplib" / "A-n32-k5.vrp")


@pytest.fixture(scope="session")
def c101():
    return ncosolve.read_instance(data_dir() / "solomon" / "C101.vrp")
