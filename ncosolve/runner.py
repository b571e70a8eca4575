"""The one job runner: ``solve()`` jobs in worker processes (local, forkserver) or Ray actors, under the budget
contract.

A worker first *prepares* a job's method (imports, JIT compilation, checkpoint loading: ``ncosolve.prepare``)
and says so; only then does the job's clock start, so the kill deadline (``kill_after(T)``, well past the
allowed runtime) never covers preparation, which has its own generous limit (``PREPARE_LIMIT_S``). A worker
still busy at a deadline is killed with its whole process group (or its Ray actor), replaced, and the job
recorded as killed. Every job ends as an ``Outcome`` in job order: its ``Result``, or why there is none.

``LocalRunner`` and ``RayRunner`` share the driving loop (``_drive``); the leaderboard turns outcomes into rows
and ``solve_many`` into Results. Local workers start from a forkserver (no fork of a process whose threads —
JAX's, torch's — are running), so as with ``spawn``, a script that runs jobs must guard its entry point with
``if __name__ == "__main__":``, and a method it registers must be a module-level function.
"""

from __future__ import annotations

import collections
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_ready
from typing import Any, Callable, Iterable

from ncosolve.catalog import MethodSpec, add, get_method
from ncosolve.errors import MissingDependency, NcoError
from ncosolve.result import Result

PREPARE_LIMIT_S = 600.0  # a preparation (JIT compilation, imports) still running this long is a hang


def allowed_runtime(time_limit: float) -> float:
    """The most a method may run under ``time_limit`` seconds: 10 % over plus 0.5 s (the method contract)."""
    return 1.1 * time_limit + 0.5


def kill_after(time_limit: float) -> float:
    """When a worker still busy with a job is killed: well past ``allowed_runtime``, so only a hung method is."""
    return 2.0 * allowed_runtime(time_limit) + 5.0


@dataclass
class Job:
    """One ``solve(instance, method, time_limit, seed, **options)`` call; ``suite`` labels leaderboard jobs.

    ``spec`` travels with the job so that a worker knows methods registered at run time (plugins, scripts).
    """

    instance: Any
    method: str
    time_limit: float | None
    seed: int = 0
    options: dict = field(default_factory=dict)
    suite: str | None = None
    spec: MethodSpec | None = None


@dataclass
class Outcome:
    """How a job ended: its ``result``, or ``error`` (raised, killed, worker died); seconds it prepared and ran."""

    result: Result | None
    error: str | None = None
    prepare_s: float = 0.0
    runtime_s: float | None = None
    killed: bool = False
    host: str | None = None  # where it ran, for Ray jobs


def _limit_threads(threads: int) -> None:
    """Give a worker's numeric libraries ``threads`` threads, so parallel jobs do not steal each other's cores."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _adopt(job: Job) -> None:
    """Make the job's method known here (a plugin method registered in the driver only)."""
    if job.spec is None:
        return
    try:
        known = get_method(job.spec.name)
    except NcoError:
        known = None
    if known != job.spec:
        add(job.spec)


def prepare_job(job: Job) -> float:
    """Prepare a job's method in this process; seconds spent."""
    from ncosolve.solve import prepare

    _adopt(job)
    return prepare(job.instance, job.method, **job.options)


def run_job(job: Job, prepare_s: float = 0.0) -> Outcome:
    """Solve a prepared job in this process (a raising method is an outcome, not a crash)."""
    from ncosolve.solve import solve

    _adopt(job)
    start = time.perf_counter()
    try:
        result = solve(job.instance, method=job.method, time_limit=job.time_limit, seed=job.seed, **job.options)
    except Exception as exc:  # a crashing method is a result of the run, not a crash of the harness
        return Outcome(None, f"raised {type(exc).__name__}: {exc}", prepare_s, time.perf_counter() - start)
    return Outcome(result, None, prepare_s + result.info.get("prepare_s", 0.0), result.runtime_s)


def _job_limit(job: Job) -> float:
    """The kill deadline of a job's timed part (methods without a budget get the preparation limit)."""
    limit = job.time_limit
    if limit is None:
        limit = get_method(job.method).default_time_limit if job.spec is None else job.spec.default_time_limit
    return PREPARE_LIMIT_S if limit is None else kill_after(limit)


# ---- local workers ---------------------------------------------------------------------------------------------

def _worker_main(conn, threads: int, preload: tuple[str, ...]) -> None:
    """A local worker: for each job sent on ``conn``, prepare, say so, solve, send the outcome; return when the
    driver is gone (its pipe closes, or this process is re-parented)."""
    import importlib

    os.setpgrp()  # its own process group: a kill also takes the solvers' child processes (LKH, ...)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when workers stop
    _limit_threads(threads)
    for name in preload:
        importlib.import_module(name)
    parent = os.getppid()
    while True:
        try:
            if not conn.poll(1.0):
                if os.getppid() != parent:
                    return
                continue
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        index, job = message
        try:
            try:
                prepared = prepare_job(job)
            except Exception as exc:  # noqa: BLE001
                conn.send(("done", index, Outcome(None, f"prepare raised {type(exc).__name__}: {exc}")))
                continue
            conn.send(("prepared", index, prepared))
            conn.send(("done", index, run_job(job, prepared)))
        except (BrokenPipeError, OSError):
            return


class _LocalWorker:
    """One worker process, and the job it is on."""

    def __init__(self, ctx, threads: int, preload: tuple[str, ...]):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, threads, preload), daemon=True)
        self.proc.start()
        child.close()  # so the driver sees EOF when the worker dies
        self.index, self.job, self.deadline, self.prepared_s, self.started = -1, None, 0.0, 0.0, 0.0

    def give(self, index: int, job: Job) -> None:
        self.index, self.job, self.prepared, self.prepared_s = index, job, False, 0.0
        self.started = time.perf_counter()
        self.deadline = self.started + PREPARE_LIMIT_S
        self.conn.send((index, job))

    def handles(self) -> list:
        return [self.conn, self.proc.sentinel]

    def receive(self) -> tuple:
        try:
            if self.conn.poll():
                return self.conn.recv()
        except (EOFError, OSError):
            pass
        if self.proc.is_alive():
            return ("none",)
        self.proc.join(2)  # its pipe can close before it is reaped: wait for the exit code
        return ("died", f"worker died (exit code {self.proc.exitcode})")

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
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


class LocalRunner:
    """Jobs in ``workers`` local worker processes (forkserver), ``threads`` numeric threads each (default: the
    CPU count divided by the workers); ``preload``: modules each worker imports first (plugins)."""

    def __init__(self, workers: int = 1, threads: int | None = None, preload: Iterable[str] = ()):
        if workers < 1:
            raise NcoError(f"jobs: need at least 1 worker, got {workers}")
        self.workers, self.preload = workers, tuple(preload)
        self.threads = threads or max(1, (os.cpu_count() or 1) // workers)

    def run(self, jobs: list[Job], on_done: Callable[[int, Outcome], None] | None = None) -> list[Outcome]:
        """Run ``jobs``; the outcomes in job order. ``on_done(index, outcome)`` as each finishes."""
        import multiprocessing as mp

        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        ctx = mp.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(["ncosolve"])
        make = lambda: _LocalWorker(ctx, self.threads, self.preload)  # noqa: E731

        def wait(busy: list, timeout: float) -> list:
            ready = set(wait_ready([h for w in busy for h in w.handles()], timeout=timeout))
            return [w for w in busy if ready & set(w.handles())]

        return _drive(jobs, self.workers, make, wait, on_done)


# ---- Ray actors ------------------------------------------------------------------------------------------------

LOCAL = "local"  # RayRunner("local"): start a Ray instance on this machine for the run, and stop it after


def _ray():
    try:
        import ray
    except ImportError:
        raise MissingDependency("--ray needs ray: pip install 'ncosolve[ray]'") from None
    return ray


class _RayActor:
    """The Ray side of a worker: prepare, then run, one job at a time (no retries: a job that dies is a result)."""

    def __init__(self, preload: tuple[str, ...]):
        import importlib

        _limit_threads(1)
        for name in preload:
            importlib.import_module(name)

    def prepare(self, job: Job) -> float:
        return prepare_job(job)

    def run(self, job: Job, prepared: float) -> Outcome:
        import platform

        outcome = run_job(job, prepared)
        outcome.host = platform.node()
        return outcome


class _RayWorker:
    """A Ray actor and the job it is on, driven like a local worker."""

    def __init__(self, ray, actor_cls, preload: tuple[str, ...]):
        self.ray, self.actor = ray, actor_cls.remote(preload)
        self.index, self.job, self.ref, self.phase = -1, None, None, ""
        self.deadline, self.prepared_s, self.started = 0.0, 0.0, 0.0

    def give(self, index: int, job: Job) -> None:
        self.index, self.job, self.prepared, self.prepared_s, self.phase = index, job, False, 0.0, "prepare"
        self.started = time.perf_counter()
        self.deadline = self.started + PREPARE_LIMIT_S
        self.ref = self.actor.prepare.remote(job)

    def receive(self) -> tuple:
        try:
            value = self.ray.get(self.ref)
        except Exception as exc:  # noqa: BLE001  (the actor or the call died)
            if self.phase == "prepare" and not isinstance(exc, self.ray.exceptions.RayActorError):
                return ("done", self.index, Outcome(None, f"prepare raised {exc}"))
            return ("died", f"worker died ({type(exc).__name__})")
        if self.phase == "prepare":
            self.phase, self.ref = "run", self.actor.run.remote(self.job, value)
            return ("prepared", self.index, value)
        return ("done", self.index, value)

    def kill(self) -> None:
        self.ray.kill(self.actor, no_restart=True)

    def stop(self) -> None:
        self.kill()


class RayRunner:
    """Jobs as calls on Ray actors, one per cluster CPU (at most one per job); ``address`` as for ``ray.init``
    (``"auto"``, ``"ray://head:10001"``), ``"local"`` to start Ray here for the run. Every node needs ncosolve
    and the ``preload`` modules installed."""

    def __init__(self, address: str | None = LOCAL, preload: Iterable[str] = ()):
        self.address, self.preload = address, tuple(preload)

    def run(self, jobs: list[Job], on_done: Callable[[int, Outcome], None] | None = None) -> list[Outcome]:
        ray = _ray()
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=None if self.address == LOCAL else self.address, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        try:
            actor_cls = ray.remote(num_cpus=1, max_restarts=0)(_RayActor)
            slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
            make = lambda: _RayWorker(ray, actor_cls, self.preload)  # noqa: E731

            def wait(busy: list, timeout: float) -> list:
                ready, _ = ray.wait([w.ref for w in busy], num_returns=1, timeout=timeout)
                return [w for w in busy if w.ref in ready]

            return _drive(jobs, slots, make, wait, on_done)
        finally:
            if started_here:
                ray.shutdown()


# ---- the shared loop -------------------------------------------------------------------------------------------

def _drive(jobs: list[Job], slots: int, make: Callable, wait: Callable,
           on_done: Callable[[int, Outcome], None] | None) -> list[Outcome]:
    """Give jobs to at most ``slots`` workers made by ``make()``; ``wait(busy, timeout)`` returns the workers with
    news. Deadlines: ``PREPARE_LIMIT_S`` until a worker says it prepared, then ``_job_limit``."""
    pending = collections.deque(enumerate(jobs))
    outcomes: list[Outcome | None] = [None] * len(jobs)
    pool = [make() for _ in range(min(slots, len(jobs)))]

    def finish(k: int, outcome: Outcome, replace: bool = False) -> None:
        w = pool[k]
        outcomes[w.index] = outcome
        index, w.job = w.index, None
        if replace:
            w.kill()
            pool[k] = make()
        if on_done is not None:
            on_done(index, outcome)

    try:
        while pending or any(w.job is not None for w in pool):
            for w in pool:
                if w.job is None and pending:
                    w.give(*pending.popleft())
            busy = [w for w in pool if w.job is not None]
            timeout = max(0.0, min(w.deadline for w in busy) - time.perf_counter())
            ready = wait(busy, min(timeout, 1.0))
            for k, w in enumerate(pool):
                if w.job is None:
                    continue
                if w in ready:
                    message = w.receive()
                    if message[0] == "prepared":
                        w.prepared, w.prepared_s = True, message[2]
                        w.started = time.perf_counter()
                        w.deadline = w.started + _job_limit(w.job)
                        message = w.receive() if w in wait([w], 0) else ("none",)
                    if message[0] == "done":
                        finish(k, message[2])
                    elif message[0] == "died":
                        elapsed = time.perf_counter() - w.started
                        finish(k, Outcome(None, message[1], w.prepared_s, elapsed), replace=True)
                    continue
                now = time.perf_counter()
                if now > w.deadline:
                    elapsed = now - w.started
                    what = "no answer" if w.prepared else "still preparing"
                    finish(k, Outcome(None, f"killed: {what} after {elapsed:.1f} s", w.prepared_s, elapsed,
                                      killed=True), replace=True)
    finally:
        for w in pool:
            if w.job is None:
                w.stop()
            else:
                w.kill()
    return outcomes


def solve_many(instances: Iterable, method: str = "auto", time_limit: float | None = None, seed: int = 0,
               processes: int | None = None, **options) -> list[Result]:
    """``ncosolve.solve`` on every instance, over ``processes`` worker processes; Results in input order.

    Each worker prepares the method (``ncosolve.prepare``) before any budget starts. ``processes`` None or 1
    solves in this process, one instance after another. A job that raises or is killed comes back as an
    infeasible Result with the reason in ``info["infeasible_reason"]``.
    """
    from ncosolve.solve import auto_method, solve

    instances = list(instances)
    if processes is None or processes <= 1:
        return [solve(inst, method=method, time_limit=time_limit, seed=seed, **options) for inst in instances]
    names = [auto_method(inst) if method == "auto" else method for inst in instances]
    jobs = [Job(inst, name, time_limit, seed, options, spec=get_method(name)) for inst, name in zip(instances, names)]
    out = []
    for job, outcome in zip(jobs, LocalRunner(processes, threads=1).run(jobs)):
        if outcome.result is None:
            runtime = math.inf if outcome.runtime_s is None else outcome.runtime_s
            outcome.result = Result(None, math.inf, False, runtime, job.method, {"infeasible_reason": outcome.error})
        outcome.result.info["prepare_s"] = round(outcome.prepare_s, 4)  # the worker's preparation and solve's own
        out.append(outcome.result)
    return out
