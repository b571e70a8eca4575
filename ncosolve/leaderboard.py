"""The leaderboard: every method on every instance of a suite under one budget, checked by ``evaluate()``.

``run_leaderboard`` returns one row dict per (instance, method) job with at least the keys of ``ROW_KEYS``;
``summarise`` turns rows into one dict per (suite, budget, problem, method) — no mean ever mixes problem
kinds —; ``write_csv`` / ``write_json`` store them. A row keeps two verdicts apart: ``feasible`` (the method
returned a solution that ``evaluate`` accepts) and ``within_budget`` (it answered within ``allowed_runtime``).
Only a row with both *counts* (``counts(row)``) towards mean cost, gap and wins; one that raises, returns no or
an infeasible solution, overruns or is killed is recorded with the reason, never dropped, so a method cannot
look better by failing.

A row's ``maximise`` says which way its suite's objective goes (lifelong MAPF throughput is maximised): the
gap is always positive for a result worse than the reference, and a win is the highest value there.

Data flows one way: ``run_leaderboard`` plans the jobs, skips those already in the ``ResultStore``, hands the
rest to a runner (``ncosolve.runner``: local worker processes or Ray), turns each outcome into a row and
appends it to the store as it finishes. Each worker prepares a method before its first timed job
(``prepare_s`` on the row); the kill deadline never covers preparation.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable

from ncosolve.benchmarks import best_known, load_benchmark, maximises
from ncosolve.catalog import MethodSpec, get_method, methods as catalog_methods
from ncosolve.errors import UnknownMethod
from ncosolve.runner import Job, LocalRunner, Outcome, allowed_runtime, kill_after
from ncosolve.solve import check_time_limit
from ncosolve.store import ResultStore, job_key

__all__ = ["ROW_KEYS", "SUMMARY_KEYS", "allowed_runtime", "check_time_limit", "counts", "gap", "kill_after",
           "plan", "row_of", "run_leaderboard", "select_methods", "summarise", "write_csv", "write_json"]

ROW_KEYS = ("suite", "instance", "problem", "method", "time_limit", "seed", "cost", "best", "gap", "runtime_s",
            "prepare_s", "feasible", "within_budget", "reason", "maximise")
SUMMARY_KEYS = ("suite", "time_limit", "problem", "method", "runs", "feasible_runs", "feasible_pct",
                "counted_runs", "mean_cost", "mean_gap", "mean_runtime_s", "mean_prepare_s", "over_budget",
                "killed", "wins")


def gap(cost: float | None, best: float | None, maximise: bool = False) -> float | None:
    """Gap in percent of ``cost`` to the reference ``best``, positive when worse: over it for a minimised
    objective, under it for a maximised one (``maximise``); None when either is missing or not finite."""
    if cost is None or best is None or not math.isfinite(cost) or best == 0:
        return None
    return 100.0 * ((best - cost) if maximise else (cost - best)) / abs(best)


def within_budget(row: dict) -> bool:
    """Whether a row's method answered within its budget rule (rows stored before the field: not timed out)."""
    return bool(row.get("within_budget", not row.get("timed_out", False)))


def counts(row: dict) -> bool:
    """Whether a row counts towards means and wins: a feasible solution, within the budget."""
    return bool(row["feasible"]) and within_budget(row)


def select_methods(instances: list, names: Iterable[str] | None = None) -> list[MethodSpec]:
    """The methods to run: ``names`` (each must exist, be installed and solve some instance), else every
    installed method that solves at least one of the instances' problems."""
    problems = {inst.problem for inst in instances}
    if names is None:
        found = [m for m in catalog_methods(available_only=True) if problems & set(m.problems)]
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


def plan(suite: str, methods: Iterable[str] | None = None, time_limit: float = 2.0, seed: int = 0) -> list[Job]:
    """The jobs of a leaderboard run: each instance with each selected method that solves its problem.
    Raises NcoError for an unknown suite, an unknown / uninstalled method or a bad time limit."""
    check_time_limit(time_limit)
    instances = load_benchmark(suite)
    chosen = select_methods(instances, methods)
    return [Job(inst, m.name, float(time_limit), int(seed), suite=suite, spec=m)
            for inst in instances for m in chosen if inst.problem in m.problems]


def _key(job: Job) -> tuple:
    return job.suite, job.instance.name, job.method, float(job.time_limit), int(job.seed)


def row_of(job: Job, outcome: Outcome) -> dict:
    """A job's row: cost and gap of a feasible answer, the solution, both verdicts, and why it does not count."""
    maximise = maximises(job.suite)
    row = {"suite": job.suite, "instance": job.instance.name, "problem": job.instance.problem,
           "method": job.method, "time_limit": job.time_limit, "seed": job.seed, "cost": None,
           "best": best_known(job.instance, suite=job.suite), "gap": None, "runtime_s": outcome.runtime_s,
           "prepare_s": round(outcome.prepare_s, 4), "feasible": False, "within_budget": False, "reason": "",
           "maximise": maximise, "solution": None}
    if outcome.host is not None:
        row["host"] = outcome.host
    result = outcome.result
    if result is None:
        row["reason"] = outcome.error or "no result"
        if row["runtime_s"] is not None and not outcome.killed:
            row["within_budget"] = row["runtime_s"] <= allowed_runtime(job.time_limit)
        return row
    row["runtime_s"] = result.runtime_s
    row["within_budget"] = result.runtime_s <= allowed_runtime(job.time_limit)
    row["solution"] = result.to_dict()["solution"]
    reasons = []
    if result.feasible:
        row["feasible"] = True
        row["cost"], row["gap"] = result.cost, gap(result.cost, row["best"], maximise)
    else:
        reasons.append(result.info.get("infeasible_reason", "no feasible solution"))
    if not row["within_budget"]:
        reasons.append(f"over budget: ran {result.runtime_s:.2f} s, {allowed_runtime(job.time_limit):.2f} s "
                       f"allowed for a {job.time_limit:g} s limit")
    row["reason"] = "; ".join(reasons)
    return row


def run_leaderboard(suite: str, methods: Iterable[str] | None = None, time_limit: float = 2.0, seed: int = 0,
                    on_row: Callable[[dict, int, int], None] | None = None, *, runner=None,
                    store: ResultStore | None = None) -> list[dict]:
    """Solve every instance of ``suite`` with every selected method that supports its problem.

    Parameters
    ----------
    suite : a name from ``ncosolve.benchmarks.suites()``.
    methods : method names; None runs every installed method that solves one of the suite's problems.
    time_limit : the same wall-clock budget in seconds for every (instance, method) job.
    seed : seed passed to every method.
    on_row : called after each job run now as ``on_row(row, jobs_done, jobs_total)`` (progress display).
    runner : ``ncosolve.runner.LocalRunner`` (default: one worker) or ``RayRunner``.
    store : a ``ResultStore``: jobs already in it are not run again, new rows are appended as they finish.

    Returns
    -------
    One row dict per job, in plan order, keys ``ROW_KEYS`` (+ ``solution``).

    Raises
    ------
    NcoError for an unknown suite, an unknown / uninstalled method, or a bad time limit.
    """
    jobs = plan(suite, methods, time_limit, seed)
    done = store.done_keys(suite) if store is not None else set()
    todo = [job for job in jobs if _key(job) not in done]
    rows: dict[tuple, dict] = {}
    finished = 0

    def on_done(index: int, outcome: Outcome) -> None:
        nonlocal finished
        row = row_of(todo[index], outcome)
        rows[_key(todo[index])] = row
        finished += 1
        if store is not None:
            store.append(row)
        if on_row is not None:
            on_row(row, finished, len(todo))

    if todo:
        (runner or LocalRunner()).run(todo, on_done)
    if store is not None:  # what a later run would read back, for every job of the plan
        rows = {job_key(r): r for r in store.rows(suite)}
    return [rows[_key(job)] for job in jobs if _key(job) in rows]


def pending(store: ResultStore, suite: str, methods: Iterable[str] | None, time_limit: float,
            seed: int) -> tuple[int, int]:
    """(jobs planned, jobs the store already holds) of a run: what a re-run would skip."""
    jobs = plan(suite, methods, time_limit, seed)
    done = store.done_keys(suite)
    return len(jobs), sum(_key(job) in done for job in jobs)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(rows: list[dict]) -> list[dict]:
    """Per (suite, budget, problem, method): runs, feasible runs and %, counted runs, mean cost and gap and wins
    (over counted runs), mean time and preparation, runs over budget, runs killed.

    A win is an instance where the method's counted cost is the best of all methods (ties all win): the
    lowest, or the highest for rows whose ``maximise`` is set. Means are over each method's own counted runs
    (with a reference, for the gap), so compare them only beside ``feasible_pct``; failed runs' time counts in
    the mean time.
    """
    def contest(r: dict) -> tuple:  # the rows that compete for one win: same instance, budget and seed
        return r["suite"], r["instance"], r["time_limit"], r["seed"]

    def score(r: dict) -> float:  # lower is better
        return -r["cost"] if r.get("maximise") else r["cost"]

    best_score: dict[tuple, float] = {}
    for r in rows:
        if counts(r):
            best_score[contest(r)] = min(best_score.get(contest(r), math.inf), score(r))
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["suite"], float(r["time_limit"]), r["problem"], r["method"]), []).append(r)
    out = []
    for (suite, time_limit, problem, name), mine in groups.items():
        ok = [r for r in mine if counts(r)]
        out.append({
            "suite": suite, "time_limit": time_limit, "problem": problem, "method": name,
            "runs": len(mine),
            "feasible_runs": sum(bool(r["feasible"]) for r in mine),
            "feasible_pct": 100.0 * sum(bool(r["feasible"]) for r in mine) / len(mine),
            "counted_runs": len(ok),
            "mean_cost": _mean([r["cost"] for r in ok]),
            "mean_gap": _mean([r["gap"] for r in ok if r["gap"] is not None]),
            "mean_runtime_s": _mean([r["runtime_s"] for r in mine if r["runtime_s"] is not None]),
            "mean_prepare_s": _mean([r.get("prepare_s") or 0.0 for r in mine]),
            "over_budget": sum(not within_budget(r) for r in mine),
            "killed": sum(str(r.get("reason", "")).startswith("killed") for r in mine),
            "wins": sum(score(r) <= best_score[contest(r)] for r in ok),
        })
    return out


VERSIONED = ("ncosolve", "numpy", "scipy", "numba", "ortools", "pyvrp", "elkai", "torch", "jax", "vrplib", "ray")


def _cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpus() -> list[str]:
    """Names of the CUDA GPUs torch sees (only asked when torch is already imported: no import cost)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def environment() -> dict:
    """What a result depends on besides the code: versions, interpreter, machine (CPU, GPUs), date (UTC)."""
    versions = {}
    for dist in VERSIONED:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {"versions": versions, "python": sys.version.split()[0], "platform": platform.platform(),
            "host": platform.node(), "processor": _cpu_model(), "cpu_count": os.cpu_count(), "gpus": _gpus(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def write_csv(rows: list[dict], path: str | os.PathLike) -> None:
    """Write rows as CSV with the ``ROW_KEYS`` columns (None as an empty cell)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=ROW_KEYS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: ("" if r.get(k) is None else r.get(k)) for k in ROW_KEYS} for r in rows)


def write_json(rows: list[dict], path: str | os.PathLike, **header) -> None:
    """Write ``header`` fields (suite, budget...), the environment, the rows and their summary as one JSON."""
    plain = [{k: v for k, v in r.items() if k != "solution"} for r in rows]  # solutions stay in the store
    doc = {**header, "environment": environment(), "rows": plain, "summary": summarise(rows)}
    Path(path).write_text(json.dumps(doc, indent=1) + "\n")
