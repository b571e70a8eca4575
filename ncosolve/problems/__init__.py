"""Problem definitions: instances, solutions, feasibility and the one place each objective is computed."""

from __future__ import annotations

from ncosolve.errors import NcoError
from ncosolve.problems.tsp import TSPInstance, evaluate_tsp
from ncosolve.problems.vrp import CVRPInstance, CVRPTWInstance, evaluate_cvrp, evaluate_cvrptw

_EVALUATORS = {"tsp": evaluate_tsp, "cvrp": evaluate_cvrp, "cvrptw": evaluate_cvrptw}


def register_problem(problem: str, evaluator) -> None:
    """Make ``evaluate`` handle instances whose ``problem`` attribute is ``problem``."""
    _EVALUATORS[problem] = evaluator


def evaluate(instance, solution) -> float:
    """Objective of ``solution`` on ``instance``; raises InfeasibleSolution saying which constraint breaks."""
    problem = getattr(instance, "problem", None)
    if problem not in _EVALUATORS:
        raise NcoError(f"evaluate: {type(instance).__name__} is not an ncosolve instance")
    return _EVALUATORS[problem](instance, solution)


__all__ = ["TSPInstance", "CVRPInstance", "CVRPTWInstance", "evaluate", "register_problem"]
