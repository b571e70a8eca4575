"""ncosolve: learned and classical combinatorial-optimisation solvers behind one ``solve()``.

``import ncosolve`` is the whole API: instances, ``generate``, readers, ``evaluate``, ``solve``,
``methods``, shipped benchmarks, and the Gymnasium environments (registered on import). It imports no solver:
methods and suites are catalogue specs (``ncosolve.specs``) whose code is imported on first use.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ncosolve")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from ncosolve.errors import InfeasibleSolution, InvalidInstance, MissingDependency, NcoError, UnknownMethod
from ncosolve.problems import CVRPInstance, CVRPTWInstance, TSPInstance, evaluate
from ncosolve.problems.mapf import MAPFInstance, MAPFLifelongInstance
from ncosolve.problems.network import NDPInstance, Network
from ncosolve.generators import generate
from ncosolve.io import read_instance, read_solution, write_instance, write_solution
from ncosolve.catalog import MethodSpec, SuiteSpec, methods, register, register_suite
from ncosolve.result import Result
from ncosolve.solve import prepare, solve
from ncosolve.runner import solve_many
from ncosolve.benchmarks import best_known, load_benchmark
import ncosolve.envs  # noqa: E402,F401  (registers the Gymnasium environments)


def __getattr__(name: str):
    """``equilibrium`` and ``equilibrium_batch`` (``ncosolve.traffic``), imported on first use: they load JAX,
    which is about a third of the import time of ``import ncosolve``."""
    if name in ("equilibrium", "equilibrium_batch"):
        from ncosolve.traffic import solver

        return getattr(solver, name)
    raise AttributeError(f"module 'ncosolve' has no attribute {name!r}")


__all__ = [
    "CVRPInstance", "CVRPTWInstance", "InfeasibleSolution", "InvalidInstance", "MAPFInstance",
    "MAPFLifelongInstance", "MethodSpec", "MissingDependency", "NDPInstance", "NcoError", "Network", "Result",
    "SuiteSpec", "TSPInstance", "UnknownMethod", "best_known", "equilibrium", "equilibrium_batch", "evaluate",
    "generate", "load_benchmark", "methods", "prepare", "read_instance", "read_solution", "register",
    "register_suite", "solve", "solve_many", "write_instance", "write_solution", "__version__",
]
