"""ncosolve: learned and classical combinatorial-optimisation solvers behind one ``solve()``.

``import ncosolve`` is the whole API: instances, ``generate``, readers, ``evaluate``, ``solve``,
``methods``, shipped benchmarks, and the Gymnasium environments (registered on import).
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
from ncosolve import registry as _registry
from ncosolve.registry import methods, register
from ncosolve.result import Result
from ncosolve.solve import solve
from ncosolve.benchmarks import best_known, load_benchmark
import ncosolve.search  # noqa: E402,F401  (registers mcts methods and the large TSP suites)
import ncosolve.suites_generated  # noqa: E402,F401  (registers the generated Kool-style suites)

import ncosolve.baselines  # noqa: E402,F401  (registers the classical methods)
import ncosolve.envs  # noqa: E402,F401  (registers the Gymnasium environments)
# the learned methods import torch: registered on the first method lookup (ncosolve.registry.defer)
for _module in ("ncosolve.policies.methods", "ncosolve.policies.rl4co_pomo", "ncosolve.policies.ndp_rl",
                "ncosolve.policies.ndp_surrogate", "ncosolve.policies.mapf_methods"):
    _registry.defer(_module)
del _module


def __getattr__(name: str):
    """``equilibrium`` and ``equilibrium_batch`` (``ncosolve.traffic``), imported on first use: they load JAX,
    which is about a third of the import time of ``import ncosolve``."""
    if name in ("equilibrium", "equilibrium_batch"):
        from ncosolve.traffic import solver

        return getattr(solver, name)
    raise AttributeError(f"module 'ncosolve' has no attribute {name!r}")


__all__ = [
    "CVRPInstance", "CVRPTWInstance", "InfeasibleSolution", "InvalidInstance", "MAPFInstance",
    "MAPFLifelongInstance", "MissingDependency", "NDPInstance", "NcoError", "Network", "Result",
    "TSPInstance", "UnknownMethod", "best_known", "equilibrium", "equilibrium_batch", "evaluate", "generate",
    "load_benchmark", "methods", "read_instance", "read_solution", "register", "solve", "write_instance",
    "write_solution", "__version__",
]
