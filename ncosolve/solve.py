"""``solve()``: run a registered method on an instance and check its answer with ``evaluate()``."""

from __future__ import annotations

import inspect
import math
import time

from ncosolve.errors import InfeasibleSolution, NcoError, UnknownMethod
from ncosolve.problems import evaluate
from ncosolve.registry import get_method, methods
from ncosolve.result import Result


def auto_method(instance) -> str:
    """The strongest installed method for the instance's problem."""
    problem = getattr(instance, "problem", None)
    candidates = [m for m in methods(problem, available_only=True) if m.strength > 0]
    if not candidates:
        raise UnknownMethod(f"no installed method solves {problem!r} instances")
    return max(candidates, key=lambda m: (m.strength, m.name)).name


def solve(instance, method: str = "auto", time_limit: float | None = None, seed: int = 0, **options) -> Result:
    """Solve ``instance`` with ``method`` within ``time_limit`` seconds; the cost is re-checked by ``evaluate``.

    Parameters
    ----------
    instance : an ncosolve instance (``TSPInstance``, ``CVRPInstance``, ...).
    method : a name from ``ncosolve.methods()``, or ``"auto"`` for the strongest installed one.
    time_limit : wall-clock budget in seconds; None uses the method's default.
    seed : seed of every random choice the method makes.
    options : method-specific keyword options.

    Returns
    -------
    Result, with ``feasible=False`` and ``cost=inf`` when the method found no feasible solution. Its
    ``runtime_s`` is the budgeted search; a method's one-time preparation (imports, JIT compilation for this
    instance's shapes) runs before the clock and is reported as ``info["prepare_s"]``.
    """
    problem = getattr(instance, "problem", None)
    if problem is None:
        raise NcoError(f"solve: {type(instance).__name__} is not an ncosolve instance")
    name = auto_method(instance) if method == "auto" else method
    spec = get_method(name)
    if problem not in spec.problems:
        raise UnknownMethod(f"method {name!r} does not solve {problem!r} (it solves {', '.join(spec.problems)})")
    spec.check_available()
    if time_limit is None:
        time_limit = spec.default_time_limit
    elif not (time_limit > 0 and math.isfinite(time_limit)):
        raise NcoError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    try:
        inspect.signature(spec.fn).bind(instance, time_limit=time_limit, seed=seed, **options)
    except TypeError as exc:
        raise UnknownMethod(f"method {name!r}: bad option ({exc})") from None
    prepared = time.perf_counter()
    if spec.prepare is not None:
        spec.prepare(instance)
    start = time.perf_counter()
    solution, info = spec.fn(instance, time_limit=time_limit, seed=seed, **options)
    runtime = time.perf_counter() - start
    info = {"seed": seed, "time_limit": time_limit, **info}
    if start - prepared > 0.01:
        info["prepare_s"] = round(start - prepared, 3)
    if solution is None:
        info.setdefault("infeasible_reason", "the method found no solution")
        return Result(None, math.inf, False, runtime, name, info)
    try:
        cost = evaluate(instance, solution)
        feasible = True
    except InfeasibleSolution as exc:
        cost, feasible = math.inf, False
        info["infeasible_reason"] = str(exc)
    return Result(solution, cost, feasible, runtime, name, info)
