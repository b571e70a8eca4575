"""The leaderboard: every method on every instance of a suite under one budget, checked by ``evaluate()``.

``run_leaderboard`` returns one row dict per (instance, method) job with at least the keys of ``ROW_KEYS``;
``summarise`` turns rows into one dict per method; ``write_csv`` / ``write_json`` store them. A method that
raises, returns no or an infeasible solution, or overruns its budget is recorded with ``feasible=False`` and
the reason, never dropped, so a method cannot look better by failing.

A row's ``maximise`` says which way its suite's objective goes (lifelong MAPF throughput is maximised): the
gap is always positive for a result worse than the reference, and a win is the highest value there.

Every job runs in a worker process (``workers`` of them at once), so a crash, a hang or a method's
threads cannot touch the harness or the other jobs: a worker still busy ``kill_after(T)`` seconds after it
got a job is killed with its whole process group and the job recorded as timed out. With a
``ResultStore`` each finished row is appended to it at once, and jobs already stored are skipped.
"""

from __future__ import annotations

import collections
import csv
import datetime
import importlib
import json
import math
import multiprocessing as mp
import os
import platform
import signal
import sys
import time
from importlib import metadata
from multiprocessing.connection import wait as wait_ready
from pathlib import Path
from typing import Callable, Iterable

from ncosolve.benchmarks import best_known, load_benchmark, maximises
from ncosolve.errors import NcoError, UnknownMethod
from ncosolve.registry import Method, get_method, methods as registered_methods
from ncosolve.solve import solve
from ncosolve.store import ResultStore, job_key
import ncosolve.suites_generated  # noqa: F401  (registers the generated suites)

ROW_KEYS = ("suite", "instance", "problem", "method", "time_limit", "seed", "cost", "best", "gap", "runtime_s",
            "feasible", "timed_out", "reason", "maximise")
SUMMARY_KEYS = ("method", "runs", "feasible_runs", "feasible_pct", "mean_cost", "mean_gap", "mean_runtime_s",
                "timeouts", "wins")


def allowed_runtime(time_limit: float) -> float:
    """The most a method may run under ``time_limit`` seconds: 10 % over plus 0.5 s (the method contract)."""
    return 1.1 * time_limit + 0.5


def kill_after(time_limit: float) -> float:
    """When a worker still busy with a job is killed: well past ``allowed_runtime``, so only a hung method is."""
    return 2.0 * allowed_runtime(time_limit) + 5.0


def gap(cost: float | None, best: float | None, maximise: bool = False) -> float | None:
    """Gap in percent of ``cost`` to the reference ``best``, positive when worse: over it for a minimised
    objective, under it for a maximised one (``maximise``); None when either is missing or not finite."""
    if cost is None or best is None or not math.isfinite(cost) or best == 0:
        return None
    return 100.0 * ((best - cost) if maximise else (cost - best)) / abs(best)


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


def _over_budget(runtime_s: float, time_limit: float) -> str:
    return (f"over budget: ran {runtime_s:.2f} s, {allowed_runtime(time_limit):.2f} s allowed "
            f"for a {time_limit:g} s limit")


def new_row(suite: str, instance, method: str, time_limit: float, seed: int) -> dict:
    """The row of a job before it runs: nothing found yet, reference value and objective sense filled in."""
    return {"suite": suite, "instance": instance.name, "problem": instance.problem, "method": method,
            "time_limit": time_limit, "seed": seed, "cost": None, "best": best_known(instance), "gap": None,
            "runtime_s": None, "feasible": False, "timed_out": False, "reason": "", "maximise": maximises(suite),
            "solution": None}


def run_one(suite: str, instance, method: str, time_limit: float, seed: int) -> dict:
    """One job, in this process: solve, then record cost, gap, the solution, and why it does not count."""
    row = new_row(suite, instance, method, time_limit, seed)
    start = time.perf_counter()
    try:
        result = solve(instance, method=method, time_limit=time_limit, seed=seed)
    except Exception as exc:  # a crashing method is a result of the benchmark, not a crash of the harness
        row["runtime_s"] = time.perf_counter() - start
        row["timed_out"] = row["runtime_s"] > allowed_runtime(time_limit)
        row["reason"] = f"raised {type(exc).__name__}: {exc}"
        return row
    row["runtime_s"] = result.runtime_s
    row["timed_out"] = result.runtime_s > allowed_runtime(time_limit)
    row["solution"] = result.to_dict()["solution"]
    if not result.feasible:
        row["reason"] = result.info.get("infeasible_reason", "no feasible solution")
        return row
    row["cost"], row["gap"] = result.cost, gap(result.cost, row["best"], row["maximise"])
    if row["timed_out"]:
        row["reason"] = _over_budget(result.runtime_s, time_limit)
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


def _limit_threads(threads: int) -> None:
    """Give a worker's numeric libraries ``threads`` threads, so parallel jobs do not steal each other's cores."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _worker_main(conn, threads: int, preload: tuple[str, ...], driver: int) -> None:
    """A worker process: run the jobs sent on ``conn`` one at a time and send back their rows; return when the
    driver (pid ``driver``) is gone. Forked workers hold copies of the driver's pipe ends, so its death need not
    close their pipes: they also look for it."""
    os.setpgrp()  # its own process group: a kill also takes the solvers' child processes (LKH, ...)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when workers stop
    for name in preload:
        importlib.import_module(name)
    _limit_threads(threads)
    while True:
        try:
            if not conn.poll(1.0):
                if os.getppid() != driver:  # killed (even kill -9): this worker was left behind
                    return
                continue
            job = conn.recv()
        except (EOFError, OSError):  # the driver is gone
            return
        if job is None:
            return
        row = run_one(*job)
        try:
            conn.send(row)
        except (BrokenPipeError, OSError):
            return


class _Worker:
    """One worker process and the job it is on (job tuple, start time), if any."""

    def __init__(self, ctx, threads: int, preload: tuple[str, ...]):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, threads, preload, os.getpid()), daemon=True)
        self.proc.start()
        child.close()  # so the driver sees EOF when the worker dies
        self.job, self.index, self.started = None, -1, 0.0

    def give(self, index: int, job: tuple) -> None:
        self.job, self.index, self.started = job, index, time.perf_counter()
        self.conn.send(job)

    def kill(self) -> None:
        """Kill the worker and everything it started."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):  # not yet in its own group, or already gone
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.proc.join(2)
        if self.proc.is_alive():
            self.kill()


def _lost_row(job: tuple, runtime_s: float, reason: str, timed_out: bool) -> dict:
    """The row of a job whose worker was killed or died: no solution, recorded with the reason."""
    row = new_row(*job)
    row.update(runtime_s=runtime_s, timed_out=timed_out, reason=reason)
    return row


def _start_method() -> str:
    """``fork`` where there is one (cheap, workers inherit registered methods), else ``spawn``."""
    return "fork" if "fork" in mp.get_all_start_methods() else "spawn"


def run_jobs(suite: str, jobs: list[tuple], time_limit: float, seed: int = 0,
             on_row: Callable[[dict, int, int], None] | None = None, *, workers: int = 1,
             store: ResultStore | None = None, preload: Iterable[str] = (), kill_after_s: float | None = None,
             threads: int | None = None) -> list[dict]:
    """Run ``plan``'s jobs in ``workers`` worker processes; the rows in job order.

    Parameters
    ----------
    suite, jobs, time_limit, seed : the suite name, its (instance, method) jobs, the budget and the seed.
    on_row : called as ``on_row(row, jobs_done, jobs_total)`` after each job, in the order jobs finish.
    workers : how many jobs run at once, each in its own process.
    store : if given, each row is appended to it as soon as its job finishes.
    preload : modules a worker imports first (plugins registering methods; needed where workers are spawned).
    kill_after_s : kill a worker still busy this long after it got its job (default ``kill_after(T)``).
    threads : threads per worker for numeric libraries (default: the CPU count divided by ``workers``).
    """
    check_time_limit(time_limit)
    if workers < 1:
        raise NcoError(f"jobs: need at least 1 worker, got {workers}")
    limit = kill_after(time_limit) if kill_after_s is None else kill_after_s
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    ctx = mp.get_context(_start_method())
    pending = collections.deque((i, (suite, inst, name, time_limit, seed)) for i, (inst, name) in enumerate(jobs))
    rows: list[dict | None] = [None] * len(jobs)
    done = 0

    def finish(index: int, row: dict) -> None:
        nonlocal done
        rows[index] = row
        done += 1
        if store is not None:
            store.append(row)
        if on_row is not None:
            on_row(row, done, len(jobs))

    pool = [_Worker(ctx, threads, tuple(preload)) for _ in range(min(workers, len(jobs)))]
    try:
        while pending or any(w.job is not None for w in pool):
            for w in pool:
                if w.job is None and pending:
                    w.give(*pending.popleft())
            busy = [w for w in pool if w.job is not None]
            now = time.perf_counter()
            timeout = max(0.0, min(w.started + limit - now for w in busy))
            ready = wait_ready([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=min(timeout, 1.0))
            for k, w in enumerate(pool):
                if w.job is None:
                    continue
                elapsed = time.perf_counter() - w.started
                if w.conn in ready or w.proc.sentinel in ready:
                    try:
                        row = w.conn.recv()
                    except (EOFError, OSError):
                        w.proc.join(2)  # its pipe can close before it is reaped: wait for the exit code
                        row = _lost_row(w.job, elapsed, f"worker died (exit code {w.proc.exitcode})",
                                        elapsed > allowed_runtime(time_limit))
                        w.kill()
                        pool[k] = _Worker(ctx, threads, tuple(preload))
                    w.job = None
                    finish(w.index, row)
                elif elapsed > limit:
                    row = _lost_row(w.job, elapsed, f"killed: no answer after {elapsed:.1f} s "
                                    f"({allowed_runtime(time_limit):.2f} s allowed)", True)
                    w.kill()
                    pool[k] = _Worker(ctx, threads, tuple(preload))
                    w.job = None
                    finish(w.index, row)
    finally:
        for w in pool:
            if w.job is None:
                w.stop()
            else:
                w.kill()
    return rows


def run_leaderboard(suite: str, methods: Iterable[str] | None = None, time_limit: float = 2.0, seed: int = 0,
                    on_row: Callable[[dict, int, int], None] | None = None, *, workers: int = 1,
                    store: ResultStore | None = None, preload: Iterable[str] = ()) -> list[dict]:
    """Solve every instance of ``suite`` with every selected method that supports its problem.

    Parameters
    ----------
    suite : a name from ``ncosolve.benchmarks.suites()``.
    methods : method names; None runs every installed method that solves one of the suite's problems.
    time_limit : the same wall-clock budget in seconds for every (instance, method) job.
    seed : seed passed to every method.
    on_row : called after each job run now as ``on_row(row, jobs_done, jobs_total)`` (progress display).
    workers : jobs run at once, each in its own worker process.
    store : a ``ResultStore``: jobs already in it are not run again, new rows are appended as they finish.
    preload : modules each worker imports first (e.g. plugins that register methods).

    Returns
    -------
    One row dict per job, in plan order, keys ``ROW_KEYS`` (+ ``solution``); ``cost`` and ``gap`` are None
    unless the method returned a feasible solution, and ``feasible`` is False (with ``reason``) when the job
    does not count.

    Raises
    ------
    NcoError for an unknown suite, an unknown / uninstalled method, or a bad time limit.
    """
    jobs = plan(suite, methods)
    if store is None:
        return run_jobs(suite, jobs, time_limit, seed, on_row, workers=workers, preload=preload)
    stored, todo = pending_jobs(store, suite, jobs, time_limit, seed)
    run_jobs(suite, todo, time_limit, seed, on_row, workers=workers, store=store, preload=preload)
    return stored_rows(store, suite, jobs, time_limit, seed)


def pending_jobs(store: ResultStore, suite: str, jobs: list[tuple], time_limit: float,
                 seed: int) -> tuple[int, list[tuple]]:
    """How many of ``jobs`` the store already holds, and the others (to run)."""
    done = store.done_keys(suite)
    todo = [(inst, name) for inst, name in jobs
            if (suite, inst.name, name, float(time_limit), int(seed)) not in done]
    return len(jobs) - len(todo), todo


def stored_rows(store: ResultStore, suite: str, jobs: list[tuple], time_limit: float, seed: int) -> list[dict]:
    """The stored rows of ``jobs`` (at this budget and seed), in job order; jobs not stored are left out."""
    by_key = {job_key(r): r for r in store.rows(suite)}
    keys = [(suite, inst.name, name, float(time_limit), int(seed)) for inst, name in jobs]
    return [by_key[k] for k in keys if k in by_key]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(rows: list[dict]) -> list[dict]:
    """Per method: runs, feasible runs and %, mean cost and gap (feasible runs), mean time, timeouts, wins.

    A win is an instance where the method's feasible cost is the best of all methods (ties all win): the
    lowest, or the highest for rows whose ``maximise`` is set (rows stored without it are minimised). Mean
    cost and gap are over each method's own feasible runs (with a reference, for the gap), so compare them
    only beside ``feasible_pct``; failed runs' time counts in the mean time.
    """
    def contest(r: dict) -> tuple:  # the rows that compete for one win: same instance, budget and seed
        return r["suite"], r["instance"], r["time_limit"], r["seed"]

    def score(r: dict) -> float:  # lower is better
        return -r["cost"] if r.get("maximise") else r["cost"]

    best_score: dict[tuple, float] = {}
    for r in rows:
        if r["feasible"]:
            best_score[contest(r)] = min(best_score.get(contest(r), math.inf), score(r))
    out = []
    for name in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == name]
        ok = [r for r in mine if r["feasible"]]
        out.append({
            "method": name,
            "runs": len(mine),
            "feasible_runs": len(ok),
            "feasible_pct": 100.0 * len(ok) / len(mine),
            "mean_cost": _mean([r["cost"] for r in ok]),
            "mean_gap": _mean([r["gap"] for r in ok if r["gap"] is not None]),
            "mean_runtime_s": _mean([r["runtime_s"] for r in mine]),
            "timeouts": sum(bool(r.get("timed_out")) for r in mine),
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
