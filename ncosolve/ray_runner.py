"""Leaderboard jobs on a Ray cluster: the same jobs, rows and store as ``leaderboard.run_jobs``, one Ray task each.

Each task runs ``leaderboard.run_one`` on whichever node Ray picks (one CPU per task, no retries: a job that
dies is a result) and records that node's host name. The driver keeps at most as many tasks in flight as the
cluster has CPUs, appends each finished row to the store itself (so the store stays local and
single-writer), and force-cancels a task still running ``kill_after(T)`` after it was sent, recording it as
timed out; the workers import ncosolve and its methods first (``warm_up``), so that clock does not include
their start.
Every node needs ncosolve (and the modules in ``preload``) installed.
"""

from __future__ import annotations

import importlib
import platform
import time
from typing import Callable, Iterable

from ncosolve.errors import MissingDependency
from ncosolve.leaderboard import allowed_runtime, check_time_limit, kill_after, new_row, run_one
from ncosolve.store import ResultStore

LOCAL = "local"  # --ray local: start a Ray instance on this machine for the run, and stop it after


def _ray():
    try:
        import ray
    except ImportError:
        raise MissingDependency("--ray needs ray: pip install 'ncosolve[ray]'") from None
    return ray


def ray_job(suite: str, instance, method: str, time_limit: float, seed: int, preload: tuple[str, ...]) -> dict:
    """One job in a Ray worker: import ncosolve and the plugins (they register methods), run it, say where."""
    warm_up(preload)  # microseconds on a worker that warm_up already ran on
    row = run_one(suite, instance, method, time_limit, seed)
    row["host"] = platform.node()
    return row


def warm_up(preload: tuple[str, ...]) -> int:
    """Import ncosolve and the plugins in a Ray worker, and load the deferred (torch) methods, before any job's
    clock starts; the worker's pid."""
    import os

    import ncosolve

    for name in preload:
        importlib.import_module(name)
    ncosolve.methods()  # the first method lookup imports torch: 1.7 s idle, over 3 s on a loaded machine
    return os.getpid()


def run_jobs_ray(address: str | None, suite: str, jobs: list[tuple], time_limit: float, seed: int = 0,
                 on_row: Callable[[dict, int, int], None] | None = None, *, store: ResultStore | None = None,
                 preload: Iterable[str] = (), kill_after_s: float | None = None) -> list[dict]:
    """Run ``plan``'s jobs as Ray tasks; the rows in job order (as ``leaderboard.run_jobs``).

    Parameters
    ----------
    address : a Ray address (``"auto"``, ``"ray://head:10001"``, ``"host:6379"``); ``"local"`` starts a Ray
        instance here for this call; ignored when Ray is already initialised in this process.
    suite, jobs, time_limit, seed, on_row, store, preload, kill_after_s : as for ``leaderboard.run_jobs``.
    """
    check_time_limit(time_limit)
    ray = _ray()
    limit = kill_after(time_limit) if kill_after_s is None else kill_after_s
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=None if address == LOCAL else address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(ray_job)
        slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        # start the workers and their imports (seconds on a busy machine) before the first job's clock starts
        ray.get([ray.remote(num_cpus=1)(warm_up).remote(tuple(preload)) for _ in range(min(slots, len(jobs)))])
        pending = list(enumerate(jobs))[::-1]
        running: dict = {}  # ref -> (index, job tuple, sent at)
        rows: list[dict | None] = [None] * len(jobs)
        done = 0
        while pending or running:
            while pending and len(running) < slots:
                index, (inst, name) = pending.pop()
                job = (suite, inst, name, time_limit, seed)
                running[task.remote(*job, tuple(preload))] = (index, job, time.perf_counter())
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            finished = []
            for ref in ready:
                index, job, sent = running.pop(ref)
                try:
                    row = ray.get(ref)
                except Exception as exc:  # the worker died: a result of the job, as in local runs
                    elapsed = time.perf_counter() - sent
                    row = {**new_row(*job), "runtime_s": elapsed, "timed_out": elapsed > allowed_runtime(time_limit),
                           "reason": f"worker died ({type(exc).__name__})"}
                finished.append((index, row))
            for ref, (index, job, sent) in list(running.items()):
                elapsed = time.perf_counter() - sent
                if elapsed > limit:
                    ray.cancel(ref, force=True)
                    del running[ref]
                    finished.append((index, {**new_row(*job), "runtime_s": elapsed, "timed_out": True,
                                             "reason": f"killed: no answer after {elapsed:.1f} s "
                                                       f"({allowed_runtime(time_limit):.2f} s allowed)"}))
            for index, row in finished:
                rows[index] = row
                done += 1
                if store is not None:
                    store.append(row)
                if on_row is not None:
                    on_row(row, done, len(jobs))
        return rows
    finally:
        if started_here:
            ray.shutdown()
