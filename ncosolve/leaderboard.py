"""The leaderboard: every method on every instance of a suite under one budget, checked by ``evaluate()``.

``run_leaderboard`` returns one row dict per (instance, method) job with at least the keys of ``ROW_KEYS``;
``summarise`` turns rows into one dict per method; ``write_csv`` / ``write_json`` store them. A method that
raises, returns no or an infeasible solution, or overruns its budget is recorded with ``feasible=False`` and
the reason, never dropped, so a method cannot look better by failing.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable

from ncosolve.benchmarks import best_known, load_benchmark
from ncosolve.errors import NcoError, UnknownMethod
from ncosolve.registry import Method, get_method, methods as registered_methods
from ncosolve.solve import solve

ROW_KEYS = ("suite", "instance", "problem", "method", "time_limit", "seed", "cost", "best", "gap", "runtime_s",
            "feasible", "reason")
SUMMARY_KEYS = ("method", "runs", "feasible_runs", "feasible_pct", "mean_gap", "mean_runtime_s", "wins")


def allowed_runtime(time_limit: float) -> float:
    """The most a method may run under ``time_limit`` seconds: 10 % over plus 0.5 s (the method contract)."""
    return 1.1 * time_limit + 0.5


def gap(cost: float | None, best: float | None) -> float | None:
    """Gap in percent of ``cost`` over the reference ``best``; None when either is missing or not finite."""
    if cost is None or best is None or not math.isfinite(cost) or best == 0:
        return None
    return 100.0 * (cost - best) / best


def select_methods(instances: list, names: Iterable[str] | None = None) -> list[Method]:
    """The methods to run: ``names`` (each must exist, be installed and solve some instance), else every
    installed method that solves at least one of the instances' problems."""
    problems = {inst.problem for inst in instances}
    if names is None:
        found = [m for m in registered_methods(available_only=True) if problems & set(m.problems)]
        if not found:
            raise UnknownMethod(f"no installed method solves {', '.join(sorted(problems))}")
        return found
    chosen = []
    for name in dict.fromkeys(names):
        spec = get_method(name)
        spec.check_available()
        if not problems & set(spec.problems):
            raise UnknownMethod(f"method {name!r} solves {', '.join(spec.problems)}, "
                                f"but the instances are {', '.join(sorted(problems))}")
        chosen.append(spec)
    return chosen


def _run_one(suite: str, instance, method: str, time_limit: float, seed: int) -> dict:
    """One job: solve, then record cost, gap and why it does not count when it does not."""
    best = best_known(instance)
    row = {"suite": suite, "instance": instance.name, "problem": instance.problem, "method": method,
           "time_limit": time_limit, "seed": seed, "cost": None, "best": best, "gap": None,
           "runtime_s": None, "feasible": False, "reason": ""}
    start = time.perf_counter()
    try:
        result = solve(instance, method=method, time_limit=time_limit, seed=seed)
    except Exception as exc:  # a crashing method is a result of the benchmark, not a crash of the harness
        row["runtime_s"] = time.perf_counter() - start
        row["reason"] = f"raised {type(exc).__name__}: {exc}"
        return row
    row["runtime_s"] = result.runtime_s
    if not result.feasible:
        row["reason"] = result.info.get("infeasible_reason", "no feasible solution")
        return row
    row["cost"], row["gap"] = result.cost, gap(result.cost, best)
    if result.runtime_s > allowed_runtime(time_limit):
        row["reason"] = (f"over budget: ran {result.runtime_s:.2f} s, {allowed_runtime(time_limit):.2f} s allowed "
                         f"for a {time_limit:g} s limit")
        return row
    row["feasible"] = True
    return row


def check_time_limit(time_limit: float) -> None:
    """Raise NcoError unless ``time_limit`` is a positive, finite number of seconds."""
    try:
        ok = math.isfinite(time_limit) and time_limit > 0
    except TypeError:
        ok = False
    if not ok:
        raise NcoError(f"time_limit must be a positive number of seconds, got {time_limit!r}")


def plan(suite: str, methods: Iterable[str] | None = None) -> list[tuple]:
    """The (instance, method name) jobs of a leaderboard run: each instance with each selected method that
    solves its problem. Raises NcoError for an unknown suite or an unknown / uninstalled method."""
    instances = load_benchmark(suite)
    chosen = select_methods(instances, methods)
    return [(inst, m.name) for inst in instances for m in chosen if inst.problem in m.problems]


def run_jobs(suite: str, jobs: list[tuple], time_limit: float, seed: int = 0,
             on_row: Callable[[dict, int, int], None] | None = None) -> list[dict]:
    """Run ``plan``'s jobs one after the other; ``on_row(row, jobs_done, jobs_total)`` after each."""
    check_time_limit(time_limit)
    rows = []
    for inst, name in jobs:
        rows.append(_run_one(suite, inst, name, time_limit, seed))
        if on_row is not None:
            on_row(rows[-1], len(rows), len(jobs))
    return rows


def run_leaderboard(suite: str, methods: Iterable[str] | None = None, time_limit: float = 2.0, seed: int = 0,
                    on_row: Callable[[dict, int, int], None] | None = None) -> list[dict]:
    """Solve every instance of ``suite`` with every selected method that supports its problem.

    Parameters
    ----------
    suite : a name from ``ncosolve.benchmarks.suites()``.
    methods : method names; None runs every installed method that solves one of the suite's problems.
    time_limit : the same wall-clock budget in seconds for every (instance, method) job.
    seed : seed passed to every method.
    on_row : called after each job as ``on_row(row, jobs_done, jobs_total)`` (progress display).

    Returns
    -------
    One row dict per job, keys ``ROW_KEYS``; ``cost`` and ``gap`` are None unless the method returned a
    feasible solution, and ``feasible`` is False (with ``reason``) when the job does not count.

    Raises
    ------
    NcoError for an unknown suite, an unknown / uninstalled method, or a bad time limit.
    """
    return run_jobs(suite, plan(suite, methods), time_limit, seed, on_row)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(rows: list[dict]) -> list[dict]:
    """Per method: runs, feasible runs and %, mean gap (feasible runs with a reference), mean time, wins.

    A win is an instance where the method's feasible cost is the lowest of all methods (ties all win).
    """
    best_cost: dict[tuple, float] = {}
    for r in rows:
        if r["feasible"]:
            key = (r["suite"], r["instance"])
            best_cost[key] = min(best_cost.get(key, math.inf), r["cost"])
    out = []
    for name in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == name]
        ok = [r for r in mine if r["feasible"]]
        out.append({
            "method": name,
            "runs": len(mine),
            "feasible_runs": len(ok),
            "feasible_pct": 100.0 * len(ok) / len(mine),
            "mean_gap": _mean([r["gap"] for r in ok if r["gap"] is not None]),
            "mean_runtime_s": _mean([r["runtime_s"] for r in mine]),
            "wins": sum(r["cost"] <= best_cost[(r["suite"], r["instance"])] for r in ok),
        })
    return out


def environment() -> dict:
    """What a result depends on besides the code: versions, interpreter, machine, date (UTC)."""
    versions = {}
    for dist in ("ncosolve", "numpy", "ortools", "pyvrp", "elkai", "torch"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {"versions": versions, "python": sys.version.split()[0], "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def write_csv(rows: list[dict], path: str | os.PathLike) -> None:
    """Write rows as CSV with the ``ROW_KEYS`` columns (None as an empty cell)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=ROW_KEYS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: ("" if r.get(k) is None else r.get(k)) for k in ROW_KEYS} for r in rows)


def write_json(rows: list[dict], path: str | os.PathLike, **header) -> None:
    """Write ``header`` fields (suite, budget...), the environment, the rows and their summary as one JSON."""
    doc = {**header, "environment": environment(), "rows": rows, "summary": summarise(rows)}
    Path(path).write_text(json.dumps(doc, indent=1) + "\n")
