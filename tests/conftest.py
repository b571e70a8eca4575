"""Shared fixtures: shipped real instances, read once per session."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

import ncosolve
from ncosolve.benchmarks import data_dir
from ncosolve import catalog


def pytest_configure(config):
    """JAX's compiled programs go to a folder of this test session (its CLI and worker processes inherit it), not
    to the user's cache."""
    os.environ["NCOSOLVE_JAX_CACHE"] = config._ncosolve_jax_cache = tempfile.mkdtemp(prefix="ncosolve-jax-")


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "_ncosolve_jax_cache", ""), ignore_errors=True)


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


@pytest.fixture(scope="session")
def repo_script():
    """Load a script of the repository (``"benchmarks/tsp_mcts_peer.py"``) as a module, once per session; it is
    registered in ``sys.modules`` because dataclasses look their module up while the script executes."""
    root, loaded = Path(__file__).resolve().parents[1], {}

    def load(relative: str):
        if relative not in loaded:
            spec = importlib.util.spec_from_file_location(Path(relative).stem + "_script", root / relative)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            loaded[relative] = module
        return loaded[relative]

    return load
