"""Problem definitions: instances, solutions, feasibility and the one place each objective is computed."""

from __future__ import annotations

from ncosolve.errors import NcoError
from ncosolve.problems.tsp import TSPInstance
from ncosolve.problems.vrp import CVRPInstance, CVRPTWInstance

# the one place that says which function computes each problem's objective ("module:function", imported on use)
_EVALUATORS = {
    "tsp": "ncosolve.problems.tsp:evaluate_tsp",
    "cvrp": "ncosolve.problems.vrp:evaluate_cvrp",
    "cvrptw": "ncosolve.problems.vrp:evaluate_cvrptw",
    "mapf": "ncosolve.problems.mapf:evaluate_mapf",
    "mapf-lifelong": "ncosolve.problems.mapf:evaluate_mapf_lifelong",
    "ndp": "ncosolve.problems.network:evaluate_ndp",
}


# what compiles an evaluator's kernels (JAX, numba) for an instance: ``solve`` runs it before the clock, so that the
# check of the answer never pays compilation inside a budget or a leaderboard worker's kill deadline
_EVALUATOR_PREPARES = {
    "mapf-lifelong": "ncosolve.problems.mapf:prepare_lifelong_evaluation",
    "ndp": "ncosolve.problems.network:prepare_equilibrium",
}


def prepare_evaluation(instance) -> None:
    """Compile what ``evaluate`` will need for ``instance`` (nothing for most problems)."""
    entry = _EVALUATOR_PREPARES.get(getattr(instance, "problem", None))
    if entry is not None:
        from ncosolve.catalog import resolve

        resolve(entry)(instance)


def register_problem(problem: str, evaluator) -> None:
    """Make ``evaluate`` handle instances whose ``problem`` attribute is ``problem`` (plugins)."""
    _EVALUATORS[problem] = evaluator


def evaluate(instance, solution) -> float:
    """Objective of ``solution`` on ``instance``; raises InfeasibleSolution saying which constraint breaks."""
    problem = getattr(instance, "problem", None)
    if problem not in _EVALUATORS:
        raise NcoError(f"evaluate: {type(instance).__name__} is not an ncosolve instance")
    from ncosolve.catalog import resolve

    return resolve(_EVALUATORS[problem])(instance, solution)


__all__ = ["TSPInstance", "CVRPInstance", "CVRPTWInstance", "evaluate", "prepare_evaluation", "register_problem"]
