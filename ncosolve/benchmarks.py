"""Benchmark suites and their reference values: the public face of the catalog's suites.

``load_benchmark(name)`` gives a suite's instances, ``best_known(instance)`` the optimum or best-known value of
an instance of a suite (bound to its data: ``ncosolve.references``). The suites themselves are specs in
``ncosolve.specs`` with loaders in ``ncosolve.suites``; plugins add theirs with ``register_suite``.
"""

from __future__ import annotations

from ncosolve.catalog import SuiteSpec, get_suite, register_suite, suites
from ncosolve.references import (best_known, data_dir, load_reference_file, reference_path, reference_text,
                                 stored_values)
from ncosolve.suites.network import DATA_ENV, external_data_dir

__all__ = ["DATA_ENV", "SuiteSpec", "best_known", "data_dir", "external_data_dir", "get_suite", "instance_size",
           "load_benchmark", "load_reference_file", "maximises", "reference_path", "reference_text",
           "register_suite", "stored_values", "suites"]


def maximises(suite: str) -> bool:
    """Whether suite ``suite`` maximises its objective (False for unknown suites: costs are minimised)."""
    try:
        return get_suite(suite).maximise
    except Exception:  # noqa: BLE001  (an unknown suite: rows stored by a plugin no longer loaded)
        return False


def instance_size(instance) -> tuple[int, str]:
    """The size that matters most, with its unit: nodes (routing), agents (MAPF), candidates (network design)."""
    if hasattr(instance, "num_agents"):
        return instance.num_agents, "agents"
    if hasattr(instance, "num_candidates"):
        return instance.num_candidates, "candidates"
    return instance.n, "nodes"


def load_benchmark(name: str) -> list:
    """The instances of suite ``name`` (``ncosolve benchmarks`` lists the names)."""
    return get_suite(name).load()
