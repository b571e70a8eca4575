"""``solve()``: run a catalogued method on an instance and check its answer with ``evaluate()``."""

from __future__ import annotations

import inspect
import math
import time

from ncosolve.catalog import MethodSpec, get_method, methods
from ncosolve.errors import InfeasibleSolution, NcoError, UnknownMethod
from ncosolve.problems import evaluate, prepare_evaluation
from ncosolve.result import Result


def auto_method(instance) -> str:
    """The strongest installed method for the instance's problem."""
    problem = getattr(instance, "problem", None)
    candidates = [m for m in methods(problem, available_only=True) if m.strength > 0]
    if not candidates:
        raise UnknownMethod(f"no installed method solves {problem!r} instances")
    return max(candidates, key=lambda m: (m.strength, m.name)).name


def check_time_limit(time_limit) -> None:
    """Raise NcoError unless ``time_limit`` is a positive, finite number of seconds."""
    try:
        ok = math.isfinite(time_limit) and time_limit > 0
    except TypeError:
        ok = False
    if not ok:
        raise NcoError(f"time_limit must be a positive number of seconds, got {time_limit!r}")


def _spec_for(instance, method: str) -> MethodSpec:
    problem = getattr(instance, "problem", None)
    if problem is None:
        raise NcoError(f"solve: {type(instance).__name__} is not an ncosolve instance")
    spec = get_method(auto_method(instance) if method == "auto" else method)
    if problem not in spec.problems:
        raise UnknownMethod(f"method {spec.name!r} does not solve {problem!r} (it solves {', '.join(spec.problems)})")
    spec.check_available()
    return spec


def prepare(instance, method: str = "auto", **options) -> float:
    """Do ``method``'s one-time work for ``instance`` now: import its module, then its ``prepare`` (JIT
    compilation, checkpoint loading), given those ``options`` its prepare takes, and what ``evaluate`` compiles for
    the instance (network design's equilibrium solver). Seconds spent.

    ``solve`` calls this before starting its clock; calling it first (a warm-up, a worker's first job) makes
    the later ``solve``'s own preparation near zero.
    """
    start = time.perf_counter()
    spec = _spec_for(instance, method)
    spec.fn  # noqa: B018  (imports the method's module)
    fn = spec.prepare_fn
    if fn is not None:
        accepted = inspect.signature(fn).parameters
        fn(instance, **{k: v for k, v in options.items() if k in accepted})
    prepare_evaluation(instance)
    return time.perf_counter() - start


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
    ``runtime_s`` is the budgeted search; the method's one-time preparation (importing its module, JIT
    compilation, checkpoint loading: ``prepare``) runs before the clock and is reported as ``info["prepare_s"]``.
    """
    spec = _spec_for(instance, method)
    if time_limit is None:
        time_limit = spec.default_time_limit
    else:
        check_time_limit(time_limit)
    imported = time.perf_counter()
    fn = spec.fn  # importing the method's module is preparation too
    try:
        inspect.signature(fn).bind(instance, time_limit=time_limit, seed=seed, **options)
    except TypeError as exc:
        raise UnknownMethod(f"method {spec.name!r}: bad option ({exc})") from None
    prepare_s = time.perf_counter() - imported + prepare(instance, spec.name, **options)
    start = time.perf_counter()
    solution, info = fn(instance, time_limit=time_limit, seed=seed, **options)
    runtime = time.perf_counter() - start
    info = {"seed": seed, "time_limit": time_limit, **info, "prepare_s": round(prepare_s, 4)}
    if solution is None:
        info.setdefault("infeasible_reason", "the method found no solution")
        return Result(None, math.inf, False, runtime, spec.name, info)
    try:
        cost = evaluate(instance, solution)
        feasible = True
    except InfeasibleSolution as exc:
        cost, feasible = math.inf, False
        info["infeasible_reason"] = str(exc)
    return Result(solution, cost, feasible, runtime, spec.name, info)
